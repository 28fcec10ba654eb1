"""A generic in-memory inverted index over :class:`~polyvec.types.SparseVector`.

Backends whose engine cannot search sparse vectors (Chroma) keep the truth in the
engine and this index as a cache of it: ``search`` scores every document that shares
at least one term with the query by sparse dot product, with numpy only (no scipy)::

    >>> from polyvec import SparseVector
    >>> from polyvec.sparse.index import SparseIndex
    >>> index = SparseIndex()
    >>> index.upsert(["a", 7], [SparseVector((1, 5), (1.0, 2.0)), SparseVector((5,), (0.5,))])
    >>> index.search(SparseVector((5,), (1.0,)), k=2)
    [('a', 2.0), (7, 0.5)]
    >>> index.search(SparseVector((5,), (1.0,)), k=2, allowed_ids={7})
    [(7, 0.5)]

Layout: postings live in a term-major CSR block (``terms`` sorted and unique,
``offsets`` into ``slots``/``values``) plus a small unsorted delta block that new
writes append to; the delta is merged into the CSR block when it grows past an eighth
of it. A document is a *slot*; replacing or deleting a document retires its slot (its
postings are dropped at the next merge), so writes never rewrite the CSR block.

Ties are broken by insertion order (the older slot first), so results are
deterministic. ``to_bytes``/``from_bytes`` (and ``save``/``load``, atomic on disk)
serialise the index with ``numpy.savez`` (no pickle); ids keep their type
(``"7"`` and ``7`` are two documents).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from polyvec.errors import InputError, InvalidVectorError
from polyvec.types import DocId, SparseVector

__all__ = ["SparseIndex"]

_FORMAT = 1
_I32 = np.int32
_U32 = np.uint32
_F32 = np.float32


def _empty(dtype: Any) -> npt.NDArray[Any]:
    return np.zeros(0, dtype=dtype)


def _tag(doc_id: DocId) -> list[Any]:
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise InputError(f"document ids are str or int, got {type(doc_id).__name__}")
    return ["i" if isinstance(doc_id, int) else "s", doc_id]


def _untag(item: Sequence[Any]) -> DocId:
    kind, value = item
    return int(value) if kind == "i" else str(value)


class SparseIndex:
    """An inverted index over sparse vectors: ``upsert``, ``delete``, ``search``.

    Thread-safe (one lock); ``search`` returns ``[(id, score), ...]`` best first,
    only documents that share a term with the query.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._ids: list[DocId | None] = []  # slot -> id (None: retired)
        self._slot: dict[DocId, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._terms = _empty(_U32)  # CSR block: sorted unique term ids
        self._offsets = np.zeros(1, dtype=np.int64)
        self._p_slots = _empty(_I32)
        self._p_values = _empty(_F32)
        self._d_terms: list[npt.NDArray[Any]] = []  # delta block, appended per write
        self._d_slots: list[npt.NDArray[Any]] = []
        self._d_values: list[npt.NDArray[Any]] = []
        self._d_size = 0

    # -- writes -----------------------------------------------------------------------
    def upsert(self, ids: Sequence[DocId], vectors: Sequence[SparseVector]) -> None:
        """Insert or replace the vectors of ``ids`` (one vector per id; a later
        duplicate id in the same call wins)."""
        if len(ids) != len(vectors):
            raise InputError(f"upsert got {len(ids)} ids but {len(vectors)} vectors")
        if not ids:
            return
        for vector in vectors:
            if not isinstance(vector, SparseVector):
                raise InvalidVectorError(
                    f"SparseIndex stores polyvec SparseVectors, got {type(vector).__name__}"
                )
            if vector.indices and vector.indices[-1] >= 2**32:
                raise InvalidVectorError("sparse indices must be below 2**32")
        for doc_id in ids:
            _tag(doc_id)
        with self._lock:
            self._retire(ids)  # every id already indexed gives up its old slot
            first = len(self._ids)
            new_ids: list[DocId | None] = list(ids)
            alive = np.ones(len(ids), dtype=bool)
            for offset, doc_id in enumerate(ids):
                earlier = self._slot.get(doc_id)
                if earlier is not None:  # the same id twice in this call: the last wins
                    alive[earlier - first] = False
                    new_ids[earlier - first] = None
                self._slot[doc_id] = first + offset
            self._ids.extend(new_ids)
            self._alive = np.concatenate([self._alive, alive])
            lengths = np.fromiter((len(v) for v in vectors), dtype=np.int64, count=len(vectors))
            total = int(lengths.sum())
            if total:
                terms = np.fromiter(
                    (i for v in vectors for i in v.indices), dtype=_U32, count=total
                )
                values = np.fromiter(
                    (x for v in vectors for x in v.values), dtype=_F32, count=total
                )
                slots = np.repeat(np.arange(first, first + len(ids), dtype=_I32), lengths)
                self._d_terms.append(terms)
                self._d_slots.append(slots)
                self._d_values.append(values)
                self._d_size += total

    def delete(self, ids: Iterable[DocId]) -> None:
        """Forget these ids (unknown ids are ignored)."""
        with self._lock:
            self._retire(list(ids))
            retired = len(self._ids) - len(self._slot)
            if retired > 1024 and retired > len(self._slot):
                self._compact()

    def clear(self) -> None:
        """Forget every document."""
        with self._lock:
            self._reset()

    def _retire(self, ids: Sequence[DocId]) -> None:
        for doc_id in ids:
            slot = self._slot.pop(doc_id, None)
            if slot is not None:
                self._ids[slot] = None
                self._alive[slot] = False

    # -- reads ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot

    def ids(self) -> list[DocId]:
        """Every indexed id, oldest first."""
        with self._lock:
            return [i for i in self._ids if i is not None]

    def search(
        self,
        query: SparseVector,
        k: int | None = None,
        allowed_ids: Collection[DocId] | None = None,
    ) -> list[tuple[DocId, float]]:
        """The top ``k`` (``None``: all) documents by dot product with ``query``, among
        those sharing a term with it and, when given, among ``allowed_ids``."""
        if k is not None and k <= 0:
            return []
        if not isinstance(query, SparseVector):
            raise InvalidVectorError(
                f"a sparse query must be a polyvec SparseVector, got {type(query).__name__}"
            )
        if not len(query):
            return []
        q_terms = np.asarray(query.indices, dtype=np.int64)
        q_values = np.asarray(query.values, dtype=np.float64)
        with self._lock:
            if self._d_size > max(4096, self._p_slots.size // 8):
                self._merge()
            n = len(self._ids)
            scores = np.zeros(n, dtype=np.float64)
            touched = np.zeros(n, dtype=bool)
            self._score_csr(q_terms, q_values, scores, touched)
            self._score_delta(q_terms, q_values, scores, touched)
            mask = touched & self._alive
            if allowed_ids is not None:
                allowed = np.zeros(n, dtype=bool)
                slots = [self._slot[i] for i in allowed_ids if i in self._slot]
                allowed[np.asarray(slots, dtype=np.int64)] = True
                mask &= allowed
            found = np.flatnonzero(mask)
            found_scores = scores[found]
            if k is not None and k < found.size:
                # keep everything tied with the k-th best, then order exactly
                kth = np.partition(-found_scores, k - 1)[k - 1]
                keep = -found_scores <= kth
                found, found_scores = found[keep], found_scores[keep]
            order = np.lexsort((found, -found_scores))
            if k is not None:
                order = order[:k]
            ids = self._ids
            return [(ids[int(s)], float(v)) for s, v in zip(found[order], found_scores[order])]  # type: ignore[misc]

    def _score_csr(
        self,
        q_terms: npt.NDArray[np.int64],
        q_values: npt.NDArray[np.float64],
        scores: npt.NDArray[np.float64],
        touched: npt.NDArray[np.bool_],
    ) -> None:
        if not self._terms.size:
            return
        pos = np.searchsorted(self._terms, q_terms)
        pos_c = np.minimum(pos, self._terms.size - 1)
        hit = self._terms[pos_c] == q_terms
        if not hit.any():
            return
        pos, weights = pos_c[hit], q_values[hit]
        starts, ends = self._offsets[pos], self._offsets[pos + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return
        # every posting position of the matched terms, without a Python loop
        run_starts = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = run_starts + np.arange(total)
        slots = self._p_slots[positions]
        contrib = self._p_values[positions].astype(np.float64) * np.repeat(weights, lengths)
        scores += np.bincount(slots, weights=contrib, minlength=scores.size)
        touched[slots] = True

    def _score_delta(
        self,
        q_terms: npt.NDArray[np.int64],
        q_values: npt.NDArray[np.float64],
        scores: npt.NDArray[np.float64],
        touched: npt.NDArray[np.bool_],
    ) -> None:
        if not self._d_size:
            return
        if len(self._d_terms) > 1:
            self._d_terms = [np.concatenate(self._d_terms)]
            self._d_slots = [np.concatenate(self._d_slots)]
            self._d_values = [np.concatenate(self._d_values)]
        terms, slots, values = self._d_terms[0], self._d_slots[0], self._d_values[0]
        pos = np.searchsorted(q_terms, terms)
        pos_c = np.minimum(pos, q_terms.size - 1)
        hit = q_terms[pos_c] == terms
        if not hit.any():
            return
        contrib = values[hit].astype(np.float64) * q_values[pos_c[hit]]
        scores += np.bincount(slots[hit], weights=contrib, minlength=scores.size)
        touched[slots[hit]] = True

    # -- maintenance ------------------------------------------------------------------
    def _postings(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
        """All live postings as (terms, slots, values), CSR block and delta together."""
        counts = np.diff(self._offsets)
        terms = [np.repeat(self._terms, counts), *self._d_terms]
        slots = [self._p_slots, *self._d_slots]
        values = [self._p_values, *self._d_values]
        t, s, v = np.concatenate(terms), np.concatenate(slots), np.concatenate(values)
        live = self._alive[s] if s.size else np.zeros(0, dtype=bool)
        return t[live].astype(_U32), s[live].astype(_I32), v[live].astype(_F32)

    def _build(self, terms: npt.NDArray[Any], slots: npt.NDArray[Any], values: Any) -> None:
        order = np.lexsort((slots, terms))
        terms, slots, values = terms[order], slots[order], values[order]
        unique, counts = np.unique(terms, return_counts=True)
        self._terms = unique.astype(_U32)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._p_slots = slots.astype(_I32)
        self._p_values = values.astype(_F32)
        self._d_terms, self._d_slots, self._d_values, self._d_size = [], [], [], 0

    def _merge(self) -> None:
        self._build(*self._postings())

    def _compact(self) -> None:
        """Renumber slots densely, dropping retired ones."""
        terms, slots, values = self._postings()
        live = np.flatnonzero(self._alive)
        remap = np.full(len(self._ids), -1, dtype=np.int64)
        remap[live] = np.arange(live.size)
        self._ids = [self._ids[int(s)] for s in live]
        self._slot = {doc_id: i for i, doc_id in enumerate(self._ids)}  # type: ignore[misc]
        self._alive = np.ones(live.size, dtype=bool)
        self._build(terms, remap[slots], values)

    # -- serialisation ----------------------------------------------------------------
    def to_bytes(self, meta: Mapping[str, Any] | None = None) -> bytes:
        """The index (and an optional JSON-able ``meta`` dict) as bytes."""
        with self._lock:
            self._compact()
            header = {
                "format": _FORMAT,
                "ids": [_tag(i) for i in self._ids if i is not None],
                "meta": dict(meta or {}),
            }
            buffer = io.BytesIO()
            np.savez(
                buffer,
                header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
                terms=self._terms,
                offsets=self._offsets,
                slots=self._p_slots,
                values=self._p_values,
            )
            return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[SparseIndex, dict[str, Any]]:
        """Rebuild an index written by :meth:`to_bytes`; returns ``(index, meta)``."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes().decode("utf-8"))
            if header.get("format") != _FORMAT:
                raise InputError(
                    f"sparse index format {header.get('format')!r} is not {_FORMAT}: rebuild it"
                )
            index = cls()
            index._ids = [_untag(item) for item in header["ids"]]
            index._slot = {doc_id: i for i, doc_id in enumerate(index._ids)}  # type: ignore[misc]
            index._alive = np.ones(len(index._ids), dtype=bool)
            index._terms = arrays["terms"].astype(_U32)
            index._offsets = arrays["offsets"].astype(np.int64)
            index._p_slots = arrays["slots"].astype(_I32)
            index._p_values = arrays["values"].astype(_F32)
        return index, dict(header.get("meta") or {})

    def save(self, path: str | os.PathLike[str], meta: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``path`` atomically (a temporary file, then rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = self.to_bytes(meta)
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[SparseIndex, dict[str, Any]]:
        """Read an index written by :meth:`save`; returns ``(index, meta)``."""
        return cls.from_bytes(Path(path).read_bytes())

    def __repr__(self) -> str:
        nnz = int(self._p_slots.size) + self._d_size
        return f"<SparseIndex docs={len(self._slot)} postings={nnz}>"

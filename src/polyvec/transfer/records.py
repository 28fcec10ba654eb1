"""Documents as portable JSON records, and order-independent digests of collections.

A record is one JSON object per document; it keeps the id's type (``5`` vs ``"5"``),
the text, the metadata, the dense vector (float32 values, written so that they read
back bit for bit) and the sparse vector::

    >>> import numpy as np
    >>> from polyvec import Document
    >>> doc = Document(7, "hi", {"lang": "en"}, dense=np.array([0.5, 1.0]))
    >>> rec = to_record(doc)
    >>> rec["id"], rec["dense"]
    (7, [0.5, 1.0])
    >>> from_record(rec) == doc
    True

:class:`Digest` sums a SHA-256 per document modulo 2**256, so it does not depend on the
order in which a backend returns documents. ``content`` covers id, text, metadata and
the sparse vector (values rounded to float32, the precision every engine stores);
``dense`` covers the exact float32 bytes of the dense vectors. Some engines change
dense vectors in their last bits (Qdrant normalises cosine vectors, Chroma round-trips
through another precision), so copies compare dense vectors with a tolerance
(:func:`dense_close`) and report whether they are also bit-identical.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyvec.errors import InputError
from polyvec.types import DocId, Document, SparseVector

__all__ = [
    "Digest",
    "canonical_json",
    "dense_close",
    "doc_key",
    "from_record",
    "record_line",
    "sparse_f32",
    "to_record",
]

_MOD = 2**256


def doc_key(doc_id: DocId) -> tuple[str, DocId]:
    """A hashable key that keeps ``5`` and ``"5"`` apart."""
    return ("i" if isinstance(doc_id, int) else "s", doc_id)


def _dumps(value: Any, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{where} cannot be written as JSON ({exc}): store metadata as str, int, float, "
            "bool, None, lists and dicts (dates as ISO-8601 strings)"
        ) from exc


def to_record(doc: Document) -> dict[str, Any]:
    """The JSON-able record of ``doc`` (vectors included when it carries them)."""
    record: dict[str, Any] = {"id": doc.id, "text": doc.text, "metadata": dict(doc.metadata)}
    if doc.dense is not None:
        record["dense"] = doc.dense.astype(np.float32).tolist()
    if doc.sparse is not None:
        record["sparse"] = {"indices": list(doc.sparse.indices), "values": list(doc.sparse.values)}
    return record


def record_line(doc: Document) -> str:
    """One JSONL line (with ``\\n``) for ``doc``; ``InputError`` if it is not JSON-able."""
    return (
        json.dumps(
            _checked(to_record(doc), f"document {doc.id!r}"), ensure_ascii=False, allow_nan=False
        )
        + "\n"
    )


def _checked(record: dict[str, Any], where: str) -> dict[str, Any]:
    _dumps(record.get("metadata"), where)
    return record


def from_record(record: Mapping[str, Any], where: str = "record") -> Document:
    """The :class:`Document` a record describes; ``InputError`` names what is wrong."""
    if not isinstance(record, Mapping) or "id" not in record:
        raise InputError(f"{where} is not a document record: it needs at least an 'id'")
    try:
        sparse = record.get("sparse")
        return Document(
            record["id"],
            record.get("text", ""),
            record.get("metadata") or {},
            dense=None if record.get("dense") is None else np.asarray(record["dense"], np.float32),
            sparse=None
            if sparse is None
            else SparseVector(
                tuple(int(i) for i in sparse["indices"]),
                tuple(float(v) for v in sparse["values"]),
            ),
        )
    except (KeyError, TypeError) as exc:
        raise InputError(f"{where} is malformed ({exc!r}): see docs/data-safety.md") from exc


def canonical_json(value: Any) -> str:
    """Sorted-key JSON, the form compared and hashed (``1`` and ``1.0`` differ)."""
    return _dumps(value, "metadata")


def sparse_f32(doc: Document) -> list[list[Any]] | None:
    """The sparse vector with values rounded to float32 (what engines store)."""
    if doc.sparse is None:
        return None
    return [list(doc.sparse.indices), np.asarray(doc.sparse.values, np.float32).tolist()]


def _content_bytes(doc: Document) -> bytes:
    sparse = sparse_f32(doc)
    kind, value = doc_key(doc.id)
    payload = [kind, value, doc.text, dict(doc.metadata), sparse]
    return _dumps(payload, f"document {doc.id!r}").encode()


def _dense_bytes(doc: Document) -> bytes:
    kind, value = doc_key(doc.id)
    head = f"{kind}:{value!s}:".encode()
    if doc.dense is None:
        return head
    return head + np.ascontiguousarray(doc.dense, dtype="<f4").tobytes()


def _h(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


@dataclass
class Digest:
    """An order-independent digest of a set of documents; add batches with :meth:`update`."""

    count: int = 0
    _content: int = field(default=0, repr=False)
    _dense: int = field(default=0, repr=False)

    def update(self, docs: Iterable[Document]) -> None:
        for doc in docs:
            self.count += 1
            self._content = (self._content + _h(_content_bytes(doc))) % _MOD
            self._dense = (self._dense + _h(_dense_bytes(doc))) % _MOD

    @property
    def content(self) -> str:
        """Hex digest of ids, texts, metadata and sparse vectors."""
        return f"{self._content:064x}"

    @property
    def dense(self) -> str:
        """Hex digest of the exact dense vectors."""
        return f"{self._dense:064x}"

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "content": self.content, "dense": self.dense}


def dense_close(
    a: np.ndarray | None, b: np.ndarray | None, *, cosine: bool, tolerance: float
) -> tuple[bool, float]:
    """Whether two dense vectors are equal within ``tolerance`` (largest absolute
    difference, after normalising both for cosine collections), and that difference."""
    if a is None or b is None:
        return (a is None and b is None), (0.0 if a is None and b is None else math.inf)
    if a.shape != b.shape:
        return False, math.inf
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    if cosine:
        nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
        x = x / nx if nx else x
        y = y / ny if ny else y
    diff = float(np.max(np.abs(x - y))) if x.size else 0.0
    return diff <= tolerance, diff

"""What both Qdrant backends share: ids, the payload layout, validation, and the whole
:class:`~polyvec.backends.base.Backend` contract written once over a few engine calls.

Point ids: a user id becomes a deterministic UUIDv5 of a type-tagged form
(``"str:7"`` / ``"int:7"``), so ``"7"`` and ``7`` are two documents; the original id is
kept in the payload and returned exactly.

Payload layout (the one langchain-qdrant uses, plus the id)::

    {"page_content": "<text>", "metadata": {...user metadata...}, "doc_id": <id>}

A collection also keeps polyvec's spec and state beside it (collection metadata on
qdrant-client, a JSON file on qdrant-edge), never as a point.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from polyvec.backends.base import (
    Backend,
    CollectionSpec,
    ranked_hits,
    require_ids_or_filter,
    state_json,
)
from polyvec.backends.ids import ID_NAMESPACE
from polyvec.backends.ids import id_uuid as point_id
from polyvec.backends.qdrant.filters import DATES_KEY, NUMBERS_KEY, field_path, iso_utc
from polyvec.backends.values import (
    EXACT_FLOAT_INT,
    date_shadow,
    number_shadow,
    plain_metadata,
    utc_from_us,
)
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
    PolyvecError,
    WriteError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import DBSF, RRF, Fusion, fuse
from polyvec.types import DocId, Document, Hit, Leg, ScoreKind, SparseVector, as_dense

__all__ = [
    "ID_NAMESPACE",
    "LANGCHAIN_LAYOUT",
    "Layout",
    "NativeFusion",
    "PointData",
    "QdrantBase",
    "Rec",
    "direct_point_id",
    "point_id",
]

_I64 = 2**63
SHADOW_VERSION = 1
"""Version of the payload shadows (``pv_dates``, ``pv_numbers``) a collection's points
carry; a collection marked with less is backfilled when it is opened."""


def _qdrant_date(when: int) -> str:
    """A shadow instant in the one form Qdrant's date parsers all read alike."""
    return iso_utc(utc_from_us(when))


PointData = tuple[str, list[float], SparseVector | None, dict[str, Any]]
"""What is written for one document: point id, dense vector, sparse vector, payload."""


@dataclass(frozen=True)
class Layout:
    """Where things live in a point: vector names and payload keys. The defaults
    are polyvec's; :data:`LANGCHAIN_LAYOUT` is langchain-qdrant's (its unnamed dense
    vector, and ids used as point ids: ``direct_ids``)."""

    dense: str = "dense"
    sparse: str = "sparse"
    content_key: str = "page_content"
    metadata_key: str = "metadata"
    id_key: str = "doc_id"
    direct_ids: bool = False
    """A UUID or unsigned-integer id (or its decimal string) is the point id itself, as
    langchain-qdrant writes them; any other id still becomes polyvec's UUIDv5."""
    dates_key: str | None = DATES_KEY
    """The payload key of the date shadow (:mod:`polyvec.backends.qdrant.filters`):
    ``None`` in layouts of other libraries, whose points have none."""
    numbers_key: str | None = NUMBERS_KEY
    """The payload key of the number shadow (``None``: as for ``dates_key``)."""
    foreign_sparse: bool = True
    """Whether a sparse vector named ``sparse`` in a collection polyvec did not create is
    polyvec's BM25 (langchain-qdrant's ``langchain-sparse`` holds another model's)."""


LANGCHAIN_LAYOUT = Layout(
    dense="",
    sparse="langchain-sparse",
    direct_ids=True,
    dates_key=None,
    numbers_key=None,
    foreign_sparse=False,
)
"""langchain-qdrant's layout: its collections open for reading and writing (dense; their
own sparse vectors come from another model, so BM25 search needs ``polyvec migrate``)."""


def direct_point_id(doc_id: DocId) -> str | None:
    """The point id langchain-qdrant would use for ``doc_id``, or ``None`` when it is
    neither a UUID nor an unsigned 64-bit integer.

    >>> direct_point_id("A1B2C3D4E5F60718293A4B5C6D7E8F90"), direct_point_id(7), direct_point_id("x")
    ('a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90', '7', None)
    """
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        return str(doc_id) if 0 <= doc_id < 2**64 else None
    if isinstance(doc_id, str):
        if doc_id.isdigit() and doc_id == str(int(doc_id)) and int(doc_id) < 2**64:
            return doc_id
        try:
            return str(uuid.UUID(doc_id))
        except ValueError:
            return None
    return None


@dataclass
class Rec:
    """One point as an engine returned it, engine-neutral."""

    point_id: str
    payload: Mapping[str, Any]
    dense: Sequence[float] | None = None
    sparse: tuple[Sequence[int], Sequence[float]] | None = None
    score: float = 0.0


@dataclass(frozen=True)
class NativeFusion:
    """A fusion Qdrant computes exactly: ``method`` ``"rrf"`` (with Qdrant's ``k``)
    or ``"dbsf"``; polyvec's score is Qdrant's times ``scale``."""

    method: str
    qdrant_k: int | None
    scale: float


def native_fusion(fusion: Fusion, distance: str) -> NativeFusion | None:
    """How Qdrant computes ``fusion`` exactly, or ``None`` where it cannot.

    Qdrant's RRF scores ``1 / (rank / w + k_q - 1)``: with equal weights ``w`` that is
    polyvec's ``w / (k + rank)`` for ``k_q = k + 1`` (``k`` an integer); unequal weights
    have no exact equivalent. Qdrant's DBSF has no weights (equal ones only scale the
    result) and normalises Euclid distances as if larger were better, so ``l2`` with
    DBSF is fused client-side.
    """
    weights = fusion.weights if isinstance(fusion, (RRF, DBSF)) else None
    if weights is not None and len(weights) != 2:
        raise ConfigurationError(
            f"hybrid search fuses two lists (dense, sparse) but {type(fusion).__name__} has "
            f"{len(weights)} weights: pass two weights, or weights=None"
        )
    if weights is not None and weights[0] != weights[1]:
        return None
    scale = weights[0] if weights is not None else 1.0
    if isinstance(fusion, RRF):
        if fusion.k != int(fusion.k) or fusion.k > 2**31:
            return None
        return NativeFusion("rrf", int(fusion.k) + 1, scale)
    if isinstance(fusion, DBSF) and distance != "l2":
        return NativeFusion("dbsf", None, scale)
    return None


def spec_to_json(spec: CollectionSpec) -> str:
    try:
        return json.dumps(
            {
                "name": spec.name,
                "dimension": spec.dimension,
                "distance": spec.distance,
                "sparse": spec.sparse,
                "options": plain_metadata(dict(spec.options), "CollectionSpec.options"),
            }
        )
    except InputError as exc:
        raise ConfigurationError(f"{exc}: collection options must be plain JSON") from exc


def spec_from_json(text: str) -> CollectionSpec:
    raw = json.loads(text)
    return CollectionSpec(
        raw["name"], int(raw["dimension"]), raw["distance"], bool(raw["sparse"]), raw["options"]
    )


def _engine_id(point: str) -> str | int:
    """A point id as Qdrant takes it back: polyvec writes UUIDs; points written by
    others may have unsigned integer ids."""
    return int(point) if point.isdigit() else point


class QdrantBase(Backend):
    """The contract over a handful of engine calls (the ``_e_*`` methods).

    Every call holds ``self._guard`` (a lock for in-process engines, which are not
    thread-safe; nothing for a server), so one backend can be shared across threads.
    """

    engine_name: ClassVar[str] = "qdrant"

    def __init__(
        self, *, layout: Layout, batch_size: int, progress: bool, thread_lock: bool
    ) -> None:
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be positive, got {batch_size!r}")
        self.layout = layout
        # with the number shadow, equality is exact at any size and ranges take bounds
        # strictly inside ±2**53, so any 64-bit int compares exactly; without it, ints
        # beyond ±2**53 would compare as float64
        self.max_exact_int = 2**63 - 1 if layout.numbers_key is not None else EXACT_FLOAT_INT
        self.batch_size = batch_size
        self.progress = progress
        self._guard: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if thread_lock else contextlib.nullcontext()
        )
        self._specs: dict[str, CollectionSpec] = {}
        self._checked: set[str] = set()  # collections whose shadows are validated

    # -- engine calls, implemented per engine ---------------------------------------------
    @abstractmethod
    def _e_create(self, spec: CollectionSpec, spec_json: str) -> None: ...
    @abstractmethod
    def _e_spec(self, name: str) -> CollectionSpec | None: ...
    @abstractmethod
    def _e_list(self) -> list[str]: ...
    @abstractmethod
    def _e_drop(self, name: str) -> None: ...
    @abstractmethod
    def _e_upsert(self, name: str, points: list[PointData]) -> None: ...
    @abstractmethod
    def _e_retrieve(self, name: str, ids: Sequence[str | int], with_vectors: bool) -> list[Rec]: ...
    @abstractmethod
    def _e_delete(self, name: str, ids: list[str] | None, native_filter: Any) -> None: ...
    @abstractmethod
    def _e_count(self, name: str, native_filter: Any) -> int: ...
    @abstractmethod
    def _e_scroll(
        self, name: str, native_filter: Any, limit: int, offset: Any, with_vectors: bool
    ) -> tuple[list[Rec], Any]: ...
    @abstractmethod
    def _e_search(
        self,
        name: str,
        using: str,
        query: Any,
        limit: int,
        native_filter: Any,
        payload: bool = True,
    ) -> list[Rec]:
        """``query`` is a dense list of floats or a :class:`SparseVector`; with
        ``payload=False`` the records carry point ids and scores only."""

    @abstractmethod
    def _e_fused(
        self,
        name: str,
        dense: list[float],
        sparse: SparseVector,
        fusion: NativeFusion,
        k: int,
        candidates: int,
        native_filter: Any,
    ) -> list[Rec]: ...
    @abstractmethod
    def _e_filter(self, filter: Filter | None) -> Any: ...
    @abstractmethod
    def _e_only_ids(self, native_filter: Any, ids: Sequence[str | int]) -> Any:
        """``native_filter`` narrowed to the points ``ids``."""

    @abstractmethod
    def _e_shadow_mark(self, name: str) -> int:
        """The shadow version every point of ``name`` carries (0: none recorded)."""

    @abstractmethod
    def _e_set_shadow_mark(self, name: str, version: int) -> None: ...
    @abstractmethod
    def _e_read_state(self, name: str) -> str | None: ...
    @abstractmethod
    def _e_write_state(self, name: str, state_json: str) -> None: ...

    # -- collections ------------------------------------------------------------------
    def create_collection(self, spec: CollectionSpec) -> None:
        with self._guard:
            existing = self.get_spec(spec.name)
            if existing is None:
                self._e_create(spec, spec_to_json(spec))
                if self._shadowed_layout:
                    self._e_set_shadow_mark(spec.name, SHADOW_VERSION)
                self._checked.add(spec.name)
                self._specs[spec.name] = spec
                return
        existing.require_compatible(spec)

    def get_spec(self, name: str) -> CollectionSpec | None:
        with self._guard:
            spec = self._specs.get(name)
            if spec is None:
                spec = self._e_spec(name)
                if spec is not None:
                    self._specs[name] = spec
            return spec

    def list_collections(self) -> list[str]:
        with self._guard:
            return sorted(self._e_list())

    def drop_collection(self, name: str) -> None:
        with self._guard:
            self._specs.pop(name, None)
            self._checked.discard(name)
            self._e_drop(name)

    def _require(self, name: str) -> CollectionSpec:
        spec = self.get_spec(name)
        if spec is None:
            raise CollectionNotFoundError(name, self.engine_name)
        if name not in self._checked:
            self._ensure_shadows(name)
        return spec

    @property
    def _shadowed_layout(self) -> bool:
        return self.layout.dates_key is not None or self.layout.numbers_key is not None

    def _ensure_shadows(self, name: str) -> None:
        """Validate derived state on open: points written before this version of the
        shadows (or by a crashed backfill) get them now. The mark is written after the
        last point, so a crash in between only repeats the (idempotent) rewrite."""
        with self._guard:
            if name in self._checked:
                return
            if self._shadowed_layout and self._e_shadow_mark(name) < SHADOW_VERSION:
                offset: Any = None
                while True:
                    recs, offset = self._e_scroll(name, None, self.batch_size, offset, True)
                    points: list[PointData] = []
                    for rec in recs:
                        payload = dict(rec.payload)
                        meta = payload.get(self.layout.metadata_key)
                        payload.update(self._shadows(meta if isinstance(meta, Mapping) else {}))
                        sparse = None
                        if rec.sparse is not None:
                            sparse = SparseVector.from_dict(dict(zip(rec.sparse[0], rec.sparse[1])))
                        points.append((rec.point_id, list(rec.dense or []), sparse, payload))
                    if points:
                        self._e_upsert(name, points)
                    if offset is None or not recs:
                        break
                self._e_set_shadow_mark(name, SHADOW_VERSION)
            self._checked.add(name)

    def _shadows(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        """The shadow payload keys for plain metadata (none in a layout without them)."""
        lay = self.layout
        out: dict[str, Any] = {}
        if lay.dates_key is not None and (dates := date_shadow(meta, _qdrant_date)) is not None:
            out[lay.dates_key] = dates
        if lay.numbers_key is not None and (numbers := number_shadow(meta)) is not None:
            out[lay.numbers_key] = numbers
        return out

    # -- data -------------------------------------------------------------------------
    def _index_targets(self, name: str, schema: str, backend: str) -> list[tuple[str, str]]:
        """The payload indexes serving filters on metadata field ``name``: a
        ``datetime`` index goes on the date shadow (what date filters compare); a
        number index stays on the field (ranges) and gains a ``keyword`` one on the
        number shadow (what equality compares)."""
        lay = self.layout
        if schema == "datetime" and lay.dates_key is not None:
            return [(field_path(name, lay.dates_key, backend), schema)]
        out = [(field_path(name, lay.metadata_key, backend), schema)]
        if schema in ("integer", "float") and lay.numbers_key is not None:
            out.append((field_path(name, lay.numbers_key, backend), "keyword"))
        return out

    def _pid(self, doc_id: DocId) -> str:
        """The point id of ``doc_id`` in this backend's layout."""
        if self.layout.direct_ids:
            direct = direct_point_id(doc_id)
            if direct is not None:
                return direct
        return point_id(doc_id)

    def _payload(self, doc: Document) -> dict[str, Any]:
        lay = self.layout
        ident: Any = doc.id
        payload: dict[str, Any] = {}
        if isinstance(doc.id, int) and not -_I64 <= doc.id < _I64:
            ident, payload[lay.id_key + "_type"] = str(doc.id), "int"
        payload[lay.id_key] = ident
        payload[lay.content_key] = doc.text
        meta = plain_metadata(
            dict(doc.metadata),
            f"document {doc.id!r} metadata",
            max_int=self.max_exact_int,
            engine=self.engine_name,
        )
        payload[lay.metadata_key] = meta
        payload.update(self._shadows(meta))
        return payload

    def _document(self, rec: Rec, with_vectors: bool) -> Document:
        lay = self.layout
        payload = rec.payload
        raw = payload.get(lay.id_key)
        ident: DocId
        if isinstance(raw, (str, int)) and not isinstance(raw, bool):
            ident = int(raw) if payload.get(lay.id_key + "_type") == "int" else raw
        else:  # a point polyvec did not write (e.g. langchain-qdrant): its point id
            ident = rec.point_id
        text = payload.get(lay.content_key)
        meta = payload.get(lay.metadata_key)
        doc = Document(
            ident, text if isinstance(text, str) else "", meta if isinstance(meta, Mapping) else {}
        )
        if with_vectors:
            dense = np.asarray(rec.dense, dtype=np.float32) if rec.dense is not None else None
            sparse = (
                SparseVector.from_dict(dict(zip(rec.sparse[0], rec.sparse[1])))
                if rec.sparse is not None
                else None
            )
            doc = doc.with_vectors(dense, sparse)
        return doc

    def _check_vector(self, spec: CollectionSpec, vector: Any, where: str) -> list[float]:
        arr = as_dense(vector, where=where)
        if arr.shape[0] != spec.dimension:
            raise DimensionMismatchError(spec.dimension, int(arr.shape[0]), where)
        return list(arr.tolist())

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        """Write ``documents`` in batches of ``batch_size`` (a tqdm bar when the
        backend was made with ``progress=True``). Everything is validated before the
        first write; a failed batch raises ``WriteError`` naming what was written."""
        self.check_documents(documents)
        spec = self._require(collection)
        points: list[PointData] = []
        doc_ids: list[DocId] = []
        for doc in documents:
            if doc.dense is None:
                raise InvalidVectorError(
                    f"document {doc.id!r} has no dense vector: embed it first "
                    "(Collection.add does) or pass Document(..., dense=vector)"
                )
            vec = self._check_vector(spec, doc.dense, f"document {doc.id!r}")
            if doc.sparse is not None and not spec.sparse:
                raise ConfigurationError(
                    f"collection {collection!r} was created without sparse vectors "
                    f"(sparse=False) but document {doc.id!r} has one: drop the sparse vector, "
                    "or create the collection with sparse=True"
                )
            if doc.sparse is not None and doc.sparse.indices and doc.sparse.indices[-1] >= 2**32:
                raise InvalidVectorError(f"document {doc.id!r}: sparse indices must be < 2**32")
            points.append((self._pid(doc.id), vec, doc.sparse, self._payload(doc)))
            doc_ids.append(doc.id)
        written: list[DocId] = []
        bar = tqdm(
            total=len(points), desc=f"upsert {collection}", unit="doc", disable=not self.progress
        )
        with bar:
            for start in range(0, len(points), self.batch_size):
                batch = points[start : start + self.batch_size]
                try:
                    with self._guard:
                        self._e_upsert(collection, batch)
                except PolyvecError as exc:
                    if not written and isinstance(exc, CollectionNotFoundError):
                        raise
                    raise WriteError(
                        f"upserting into {collection!r} failed: {exc}",
                        written=written,
                        failed=doc_ids[start:],
                    ) from exc
                written.extend(doc_ids[start : start + len(batch)])
                bar.update(len(batch))

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        self._require(collection)
        if not ids:
            return []
        wanted = [self._pid(i) for i in ids]
        with self._guard:
            recs = self._e_retrieve(collection, list(dict.fromkeys(wanted)), with_vectors)
        found = {rec.point_id: self._document(rec, with_vectors) for rec in recs}
        return [found[p] for p in wanted if p in found]

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        require_ids_or_filter(ids, filter)
        self._require(collection)
        native = self._e_filter(filter) if filter is not None else None
        with self._guard:
            if ids is not None:
                if ids:
                    self._e_delete(collection, [self._pid(i) for i in ids], None)
            else:
                self._e_delete(collection, None, native)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        self._require(collection)
        native = self._e_filter(filter)
        with self._guard:
            return self._e_count(collection, native)

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        self._require(collection)
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be positive, got {batch_size!r}")
        native = self._e_filter(filter)
        return self._scroll(collection, native, batch_size, with_vectors)

    def _scroll(
        self, collection: str, native: Any, batch_size: int, with_vectors: bool
    ) -> Iterator[list[Document]]:
        offset: Any = None
        while True:
            with self._guard:
                recs, offset = self._e_scroll(collection, native, batch_size, offset, with_vectors)
            if recs:
                yield [self._document(r, with_vectors) for r in recs]
            if offset is None or not recs:
                return

    # -- search -----------------------------------------------------------------------
    def _hits(self, recs: list[Rec], kind: ScoreKind, leg: Any, content: bool = True) -> list[Hit]:
        """Ranked hits (``l2``: negated distances); without ``content`` each document is
        only its point id (records searched without payload)."""
        sign = -1.0 if kind == "l2" else 1.0
        docs = [self._document(r, False) if content else Document(r.point_id) for r in recs]
        return ranked_hits([(d, sign * r.score) for d, r in zip(docs, recs)], kind, leg)

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance (``l2``: negated Euclidean distance)."""
        spec = self._require(collection)
        query = self._check_vector(spec, vector, "query vector")
        if k <= 0:
            return []
        native = self._e_filter(filter)
        with self._guard:
            recs = self._e_search(collection, self.layout.dense, query, k, native)
        return self._hits(recs, spec.distance, "dense")

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product, the engine applying IDF (``kind="bm25"``)."""
        spec = self._require(collection)
        self._check_sparse(spec, vector)
        if k <= 0 or not len(vector):
            return []
        native = self._e_filter(filter)
        with self._guard:
            recs = self._e_search(collection, self.layout.sparse, vector, k, native)
        return self._hits(recs, "bm25", "sparse")

    def _check_sparse(self, spec: CollectionSpec, vector: SparseVector) -> None:
        if not isinstance(vector, SparseVector):
            raise InvalidVectorError(
                f"a sparse query must be a polyvec SparseVector, got {type(vector).__name__}"
            )
        if not spec.sparse:
            raise ConfigurationError(
                f"collection {spec.name!r} has no sparse vectors (created with sparse=False): "
                "search it densely, or re-create it with sparse=True"
            )
        if vector.indices and vector.indices[-1] >= 2**32:
            raise InvalidVectorError("Qdrant sparse indices must be below 2**32")

    def native_fusion(self, collection: str, fusion: Fusion) -> bool:
        """Whether :meth:`search_hybrid` fuses ``fusion`` inside the engine (else it
        runs both legs and fuses them with :func:`polyvec.fusion.fuse`)."""
        return native_fusion(fusion, self._require(collection).distance) is not None

    def search_hybrid(
        self,
        collection: str,
        dense: np.ndarray,
        sparse: SparseVector,
        k: int,
        *,
        fusion: Fusion,
        candidates: int,
        filter: Filter | None = None,
    ) -> list[Hit]:
        """Dense and sparse top-``candidates``, fused in one engine call (Qdrant
        ``query_points`` with two ``Prefetch`` and RRF or DBSF). Where Qdrant cannot
        compute ``fusion`` exactly (unequal weights, a fractional RRF ``k``, DBSF over
        ``l2``, Convex) both legs run and polyvec fuses them: same results, two calls."""
        spec = self._require(collection)
        query = self._check_vector(spec, dense, "query vector")
        self._check_sparse(spec, sparse)
        how = native_fusion(fusion, spec.distance)
        if k <= 0 or candidates <= 0:
            return []
        native = self._e_filter(filter)
        if how is None or not len(sparse):
            return self._fused_here(collection, spec, query, sparse, fusion, k, candidates, native)
        with self._guard:
            recs = self._e_fused(collection, query, sparse, how, k, candidates, native)
            legs = self._leg_scores(collection, spec, query, sparse, recs, native)
        kind: ScoreKind = "rrf" if how.method == "rrf" else "dbsf"
        for rec in recs:
            rec.score *= how.scale
        return [  # _hits keeps the order of recs
            replace(hit, scores={**legs[rec.point_id], kind: hit.score})
            for rec, hit in zip(recs, self._hits(recs, kind, "hybrid"), strict=True)
        ]

    def _leg_scores(
        self,
        collection: str,
        spec: CollectionSpec,
        dense: list[float],
        sparse: SparseVector,
        recs: list[Rec],
        native_filter: Any,
    ) -> dict[str, dict[str, float]]:
        """Each fused hit's dense and BM25 scores, by point id: Qdrant returns only the
        fused score, so both legs are searched again, narrowed to the fused points (a
        scan of ``k`` points each). A point sharing no term with the query has no BM25
        score."""
        if not recs:
            return {}
        ids = [_engine_id(rec.point_id) for rec in recs]
        narrowed = self._e_only_ids(native_filter, ids)
        out: dict[str, dict[str, float]] = {rec.point_id: {} for rec in recs}
        legs: list[tuple[str, Any, ScoreKind, Leg]] = [
            (self.layout.dense, dense, spec.distance, "dense"),
            (self.layout.sparse, sparse, "bm25", "sparse"),
        ]
        for using, query, kind, leg in legs:
            found = self._e_search(collection, using, query, len(ids), narrowed, False)
            for hit in self._hits(found, kind, leg, content=False):  # l2: negated there
                out[str(hit.id)][kind] = hit.score
        return out

    def _fused_here(
        self,
        collection: str,
        spec: CollectionSpec,
        dense: list[float],
        sparse: SparseVector,
        fusion: Fusion,
        k: int,
        candidates: int,
        native_filter: Any,
    ) -> list[Hit]:
        """Both legs fused by :func:`polyvec.fusion.fuse`, for what Qdrant cannot fuse.

        The legs come back without payloads (point ids and scores: reading and converting
        the payloads of every candidate costs more than both searches), and only the
        fused top ``k`` are read, in one retrieve; the result is ``fuse`` over
        :meth:`search_dense` and :meth:`search_sparse`. A point deleted by another
        client between the searches and the read is left out: it no longer exists."""
        lay = self.layout
        with self._guard:  # no write of this process between the searches and the read
            dense_recs = self._e_search(
                collection, lay.dense, dense, candidates, native_filter, False
            )
            sparse_recs = (
                self._e_search(collection, lay.sparse, sparse, candidates, native_filter, False)
                if len(sparse)
                else []
            )
            legs = [
                self._hits(dense_recs, spec.distance, "dense", content=False),
                self._hits(sparse_recs, "bm25", "sparse", content=False),
            ]
            fused = fuse(legs, fusion, k)
            wanted = [_engine_id(str(h.id)) for h in fused]
            recs = self._e_retrieve(collection, wanted, False) if wanted else []
        found = {rec.point_id: rec for rec in recs}
        return [
            replace(h, document=self._document(found[str(h.id)], False))
            for h in fused
            if str(h.id) in found
        ]

    # -- polyvec's state --------------------------------------------------------------
    def load_state(self, collection: str) -> dict[str, Any] | None:
        self._require(collection)
        with self._guard:
            text = self._e_read_state(collection)
        return None if text is None else dict(json.loads(text))

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        self._require(collection)
        text = state_json(state)
        with self._guard:
            self._e_write_state(collection, text)

"""The contract every backend implements, and what it declares it can do.

A backend only stores and searches: it never embeds, tokenizes or fuses on its own
initiative. polyvec's :class:`~polyvec.collection.Collection` and
:class:`~polyvec.retriever.Retriever` do the rest over this interface.

Rules every backend follows (the conformance suite checks them):

* ids round-trip exactly (``"7"`` stays a str, ``7`` stays an int);
* hits are returned best first with **higher-is-better** scores of the declared kind
  (``l2`` scores are negated distances);
* a filter is translated completely or raises ``UnsupportedFilterError``; a condition
  is never dropped or widened;
* a failed write raises ``WriteError`` saying which ids were and were not written.

Async twins (``a``-prefixed) run the sync method in a worker thread by default, so
the logic is written once; a backend with a native async client may override them.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from polyvec.backends.store_lock import StoreLock
from polyvec.backends.values import EXACT_FLOAT_INT, check_document
from polyvec.errors import ConfigurationError, InputError
from polyvec.facets import DEFAULT_SCAN_LIMIT, Facets, scan_facet
from polyvec.filters.ast import Filter, Op
from polyvec.filters.rewrite import REWRITTEN
from polyvec.fusion import Fusion
from polyvec.stats import EngineStats
from polyvec.types import DocId, Document, Hit, SparseVector

__all__ = [
    "ALL_FILTER_OPERATORS",
    "REWRITTEN_FILTER_OPERATORS",
    "Backend",
    "Capabilities",
    "CollectionSpec",
    "Distance",
    "FeatureSupport",
    "FilterSupport",
    "ranked_hits",
    "require_ids_or_filter",
    "state_json",
]

Distance = Literal["cosine", "dot", "l2"]

ALL_FILTER_OPERATORS = frozenset({op.value for op in Op} | {"and", "or", "not"})
"""Every operator of the filter language (comparisons and ``and``/``or``/``not``)."""

REWRITTEN_FILTER_OPERATORS = frozenset(op.value for op in REWRITTEN)
"""Operators a backend may run through :func:`polyvec.filters.rewrite.rewrite`."""

FilterSupport = Literal["native", "rewritten", "restricted", "unsupported"]
"""How a backend runs one filter operator (see :meth:`Capabilities.filter_support`)."""

FeatureSupport = Literal["native", "emulated", "unsupported"]
"""How a backend provides one feature (see :meth:`Capabilities.feature_support`)."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend does natively (server-side). Everything else polyvec emulates
    client-side, or refuses with a clear error."""

    backend: str
    sparse: bool = False
    """Stores sparse vectors and searches them (BM25 leg runs in the engine)."""
    native_idf: bool = False
    """The engine computes IDF itself (query-side BM25 weights are then all 1)."""
    hybrid_fusions: frozenset[str] = frozenset()
    """Fusion methods :meth:`Backend.search_hybrid` takes in one backend call: subset of
    {"rrf", "dbsf", "convex"}. The engine fuses them, or the backend fuses its own two
    searches where that is cheaper than the Retriever's (see the backend's ``notes``);
    either way the result is :func:`polyvec.fusion.fuse` over the two legs."""
    mmr: bool = False
    filter_operators: frozenset[str] = ALL_FILTER_OPERATORS
    """Filter operators the backend runs exactly; any other raises
    ``UnsupportedFilterError``."""
    filter_rewritten: frozenset[str] = frozenset()
    """Operators of ``filter_operators`` run as the equivalent tree of other operators
    (:mod:`polyvec.filters.rewrite`) rather than with a primitive of their own."""
    filter_restrictions: tuple[tuple[str, str], ...] = ()
    """``(operator, when it is refused)``: operators of ``filter_operators`` that raise
    ``UnsupportedFilterError`` in the cases described (never answer wrongly)."""
    delete_by_filter: bool = True
    native_async: bool = False
    distances: frozenset[str] = frozenset({"cosine", "dot", "l2"})
    notes: tuple[str, ...] = ()
    emulated: frozenset[str] = frozenset()
    """Features the backend provides client-side, exactly, where the engine has none
    (e.g. ``{"sparse"}``: sparse search over vectors stored in the engine)."""
    native_features: frozenset[str] = frozenset()
    """Features of :data:`polyvec.backends.features.FEATURES` the engine provides itself
    (a feature in neither this set nor ``emulated`` is refused with
    ``UnsupportedFeatureError``); see :meth:`feature_support`."""
    feature_notes: tuple[tuple[str, str], ...] = ()
    """``(feature, note)``: how or when a feature is limited on this backend (shown as a
    footnote of the generated feature table)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "sparse": self.sparse,
            "native_idf": self.native_idf,
            "hybrid_fusions": sorted(self.hybrid_fusions),
            "mmr": self.mmr,
            "filter_operators": sorted(self.filter_operators),
            "filter_rewritten": sorted(self.filter_rewritten),
            "filter_restrictions": dict(self.filter_restrictions),
            "delete_by_filter": self.delete_by_filter,
            "native_async": self.native_async,
            "distances": sorted(self.distances),
            "notes": list(self.notes),
            "emulated": sorted(self.emulated),
            "native_features": sorted(self.native_features),
            "feature_notes": dict(self.feature_notes),
        }

    def feature_support(self, feature: str) -> FeatureSupport:
        """``"native"``, ``"emulated"`` (client-side, exact) or ``"unsupported"`` for one
        feature of :data:`polyvec.backends.features.FEATURES`.

        >>> Capabilities("x", native_features=frozenset({"named_vectors"})).feature_support(
        ...     "named_vectors")
        'native'
        """
        from polyvec.backends.features import FEATURES

        if feature not in FEATURES:
            raise ConfigurationError(
                f"unknown feature {feature!r}; known: {', '.join(sorted(FEATURES))}"
            )
        if feature in self.native_features:
            return "native"
        if feature in self.emulated:
            return "emulated"
        return "unsupported"

    def filter_support(self, operator: str) -> FilterSupport:
        """``"native"``, ``"rewritten"``, ``"restricted"`` (native, refused in the cases
        ``filter_restrictions`` names) or ``"unsupported"`` for one operator.

        >>> Capabilities("x", filter_operators=frozenset({"eq"})).filter_support("gt")
        'unsupported'
        """
        if operator not in self.filter_operators:
            return "unsupported"
        if operator in self.filter_rewritten:
            return "rewritten"
        if operator in dict(self.filter_restrictions):
            return "restricted"
        return "native"


@dataclass(frozen=True)
class CollectionSpec:
    """How a collection is laid out. ``options`` holds backend-specific settings
    (HNSW parameters, quantization, payload indexes …) passed through unchanged."""

    name: str
    dimension: int
    distance: Distance = "cosine"
    sparse: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigurationError(f"collection name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.dimension, int) or self.dimension <= 0:
            raise ConfigurationError(f"dimension must be a positive int, got {self.dimension!r}")
        if self.distance not in ("cosine", "dot", "l2"):
            raise ConfigurationError(
                f"distance must be 'cosine', 'dot' or 'l2', got {self.distance!r}"
            )

    def require_compatible(self, requested: CollectionSpec, *, sparse: bool = True) -> None:
        """Raise ``ConfigurationError`` unless a collection with this (existing) spec can
        serve ``requested``: same dimension and distance, and sparse vectors when
        ``requested`` wants them (``sparse=False`` for a backend that adds them later)."""
        if (self.dimension, self.distance) == (requested.dimension, requested.distance) and not (
            sparse and requested.sparse and not self.sparse
        ):
            return
        raise ConfigurationError(
            f"collection {self.name!r} exists with dimension={self.dimension}, "
            f"distance={self.distance!r}, sparse={self.sparse}, not "
            f"dimension={requested.dimension}, distance={requested.distance!r}, "
            f"sparse={requested.sparse}: use another collection name, or drop this one first"
        )


class Backend(ABC):
    """Abstract base of all backends. Subclasses set ``capabilities`` and ``scheme``."""

    capabilities: ClassVar[Capabilities]
    schemes: ClassVar[tuple[str, ...]] = ()
    engine_name: ClassVar[str] = "this engine"
    _store_lock: StoreLock | None = None
    """An embedded store's lock on its files (:mod:`polyvec.backends.store_lock`)."""
    max_exact_int: int | None = EXACT_FLOAT_INT
    """Metadata ints beyond ±this are refused at write, where the engine would not store
    or compare them exactly (``None``: it compares every int exactly)."""

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a user of this backend instance should know before relying on it (e.g.
        that an engine mode is for tiny tests only); ``polyvec info`` prints them."""
        return ()

    # -- collections -------------------------------------------------------------------
    @abstractmethod
    def create_collection(self, spec: CollectionSpec) -> None:
        """Create the collection; if it exists with the same spec, do nothing, and if it
        exists with another dimension or distance, raise ``ConfigurationError``."""

    @abstractmethod
    def get_spec(self, name: str) -> CollectionSpec | None:
        """The spec of an existing collection, or ``None`` if there is none."""

    @abstractmethod
    def list_collections(self) -> list[str]: ...

    @abstractmethod
    def drop_collection(self, name: str) -> None: ...

    # -- data --------------------------------------------------------------------------
    def check_documents(self, documents: Sequence[Document]) -> None:
        """Raise ``InputError`` for the first document this engine cannot store exactly;
        :meth:`polyvec.Collection.add` calls it for the whole input before the first
        write, so bad input never half-writes a batch."""
        for doc in documents:
            check_document(doc, max_int=self.max_exact_int, engine=self.engine_name)

    @abstractmethod
    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        """Insert or replace ``documents`` (all carry ``dense``; ``sparse`` when the
        collection has sparse vectors). All-or-nothing per call where the engine allows;
        otherwise raise ``WriteError`` naming what was written."""

    @abstractmethod
    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        """The documents with these ids that exist, in the order of ``ids``."""

    @abstractmethod
    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        """Delete by ids, or by filter (exactly one of them)."""

    @abstractmethod
    def count(self, collection: str, filter: Filter | None = None) -> int: ...

    @abstractmethod
    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every document (matching ``filter``), in batches."""

    # -- search ------------------------------------------------------------------------
    @abstractmethod
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance; ``Hit.kind`` is that distance."""

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``). Backends without native
        sparse search leave this unimplemented and declare ``sparse=False``."""
        raise NotImplementedError(f"{type(self).__name__} has no native sparse search")

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
        """Dense and sparse top-``candidates`` fused by the engine in one call, for the
        fusion methods listed in ``capabilities.hybrid_fusions``. Dense is list 0 and
        sparse list 1 for weights and for ``Convex.alpha``."""
        raise NotImplementedError(f"{type(self).__name__} cannot fuse natively")

    # -- polyvec's own per-collection state (e.g. BM25 corpus statistics) -------------
    @abstractmethod
    def load_state(self, collection: str) -> dict[str, Any] | None:
        """The JSON-able state saved with ``save_state``, or ``None``."""

    @abstractmethod
    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        """Persist polyvec's state beside the collection (never counted as a document)."""

    def write_section(self, collection: str) -> AbstractContextManager[bool]:
        """Where polyvec reads a collection's state, writes documents and saves the
        state again. Yields ``True`` when the section is exclusive across processes and
        threads (no other writer of this collection is inside one at the same time;
        re-entrant in one thread), so the saved BM25 statistics stay exact under
        concurrent writers: an embedded store (one process holds its ``_store_lock``;
        its threads take turns), or an engine with a lock of its own (pgvector
        overrides this). Otherwise ``False``: writers are not kept apart, and
        :class:`~polyvec.collection.Collection` detects the interleaving instead
        (docs/data-safety.md)."""
        if self._store_lock is None:
            return nullcontext(False)
        return self._store_lock.section(collection)

    def facet(
        self,
        collection: str,
        field: str,
        *,
        filter: Filter | None = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        """Documents per value of ``field`` among those matching ``filter``, with the
        semantics of :mod:`polyvec.facets`. The default reads the matching documents
        (``ScanLimitError`` beyond ``scan_limit``); a backend whose engine counts
        overrides it and lists ``"facet"`` in ``capabilities.native_features``."""
        return scan_facet(
            self, collection, field, filter=filter, limit=limit, scan_limit=scan_limit
        )

    def collection_stats(self, collection: str) -> EngineStats:
        """What the engine reports about ``collection`` (vectors, index state, sizes);
        the default reports only the document count."""
        return EngineStats(vectors=self.count(collection))

    def optimize(self, collection: str) -> bool:
        """Bring the engine's indexes up to date now (blocking), where the engine does not
        do it in the background (qdrant-edge). True if anything changed; the default has
        nothing to do."""
        return False

    def close(self) -> None:
        """Release connections and files. Idempotent."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- async twins: one implementation, run off the event loop ----------------------
    async def aupsert(self, collection: str, documents: Sequence[Document]) -> None:
        await asyncio.to_thread(self.upsert, collection, documents)

    async def aget(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        return await asyncio.to_thread(self.get, collection, ids, with_vectors=with_vectors)

    async def adelete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        await asyncio.to_thread(self.delete, collection, ids=ids, filter=filter)

    async def acount(self, collection: str, filter: Filter | None = None) -> int:
        return await asyncio.to_thread(self.count, collection, filter)

    async def asearch_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return await asyncio.to_thread(self.search_dense, collection, vector, k, filter)

    async def asearch_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return await asyncio.to_thread(self.search_sparse, collection, vector, k, filter)

    async def asearch_hybrid(
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
        return await asyncio.to_thread(
            lambda: self.search_hybrid(
                collection, dense, sparse, k, fusion=fusion, candidates=candidates, filter=filter
            )
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def ranked_hits(scored: Sequence[tuple[Document, float]], kind: Any, leg: Any) -> list[Hit]:
    """Build a backend's result list from ``(document, score)`` pairs, best first,
    recording the leg and the 1-based rank of each in its provenance."""
    from polyvec.types import Source

    return [
        Hit(doc, float(score), kind, sources=(Source(leg, rank, float(score), kind),))
        for rank, (doc, score) in enumerate(scored, start=1)
    ]


def require_ids_or_filter(ids: Sequence[DocId] | None, filter: Filter | None) -> None:
    """Raise ``ConfigurationError`` unless exactly one of ``ids`` and ``filter`` is given
    (what :meth:`Backend.delete` takes)."""
    if (ids is None) == (filter is None):
        raise ConfigurationError("delete() takes ids=... or filter=..., exactly one of them")


def state_json(state: Mapping[str, Any]) -> str:
    """polyvec's collection state as JSON text (``InputError`` if it is not JSON).

    >>> state_json({"n_docs": 3})
    '{"n_docs": 3}'
    """
    try:
        return json.dumps(dict(state))
    except (TypeError, ValueError) as exc:
        raise InputError(f"polyvec state must be JSON: {exc}") from exc

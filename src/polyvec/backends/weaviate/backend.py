"""``WeaviateBackend``: polyvec over ``weaviate-client`` v4 (a Weaviate server or
Weaviate Cloud), with bring-your-own vectors::

    from polyvec.backends.weaviate import WeaviateBackend
    backend = WeaviateBackend.from_url("weaviate://localhost:8080")

URL: ``weaviate://HOST[:HTTP_PORT][?grpc_port=50051&grpc_host=H&secure=false&prefix=P]``
(defaults in :mod:`.connection`). The API key comes from ``WEAVIATE_API_KEY`` (or
``api_key=``), never from the URL, and never appears in ``repr`` or errors.

Each polyvec collection is one Weaviate collection (``Polyvec_<name>``, see
:func:`.schema.class_name`) with one named vector ``dense`` (``self_provided``, HNSW,
the collection's distance) and the properties of :mod:`.schema`; its spec is the
collection's description, its BM25 statistics live in ``PolyvecState``.

What runs where (also in ``capabilities``): dense search, filters, counts and deletes
by filter run in Weaviate. Weaviate cannot search polyvec's sparse vectors, so
:meth:`WeaviateBackend.search_sparse` is exact polyvec BM25 computed client-side over
the stored sparse vectors; Weaviate's own keyword search is :meth:`search_bm25` and its
native hybrid (its BM25 + the dense vector, fused with ``alpha``) is
:meth:`search_hybrid_text`. Needs a Weaviate server with the ``Not`` filter operator
(1.33 or later). Details: docs/backends/weaviate.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Backend,
    Capabilities,
    CollectionSpec,
    ranked_hits,
    require_ids_or_filter,
    state_json,
)
from polyvec.backends.weaviate.connection import (
    Calls,
    collection_config,
    connect,
    parse_url,
    weaviate_property,
)
from polyvec.backends.weaviate.filters import WeaviateFilter, to_weaviate_filter
from polyvec.backends.weaviate.native import NativeSearch
from polyvec.backends.weaviate.schema import (
    FACET_TYPES,
    FIXED_PROPERTIES,
    class_name,
    collection_name,
    document_from,
    object_id,
    object_properties,
)
from polyvec.backends.weaviate.sparse_cache import SparseCache
from polyvec.backends.weaviate.state import StateStore
from polyvec.errors import (
    BackendError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InvalidVectorError,
    MissingDependencyError,
    PolyvecError,
    WriteError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import Fusion, fuse
from polyvec.types import DocId, Document, Hit, SparseVector, as_dense

try:
    from weaviate.classes.data import DataObject
    from weaviate.classes.query import Filter as WFilter
    from weaviate.classes.query import MetadataQuery
    from weaviate.exceptions import WeaviateBaseError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("weaviate-client", "weaviate", "the Weaviate backend") from exc

__all__ = ["WeaviateBackend", "parse_url"]

_DOC_PROPS = ["pv_doc"]
_SPARSE_PROPS = ["pv_doc", "pv_sparse_i", "pv_sparse_v"]
_NO_UUID = "00000000-0000-0000-0000-000000000000"  # no object has it: Not(it) = all
_QUERY_MAX = 10_000  # Weaviate's default QUERY_MAXIMUM_RESULTS (offset + limit)


class _Known(set[str]):
    """Property names; remembers whether a lookup missed."""

    missed = False

    def __contains__(self, name: object) -> bool:
        found = super().__contains__(name)
        self.missed = self.missed or not found
        return found


class WeaviateBackend(NativeSearch, Backend):
    """polyvec over a Weaviate server. Give ``http_host`` (and ports) or ``client``
    (your own connected ``weaviate.WeaviateClient``).

    ``prefix`` names polyvec's Weaviate collections (``Polyvec_<name>``); ``batch_size``
    bounds the objects per ``insert_many``.
    """

    schemes: ClassVar[tuple[str, ...]] = ("weaviate",)
    engine_name: ClassVar[str] = "weaviate"
    max_exact_int: int | None = None  # facets: range_float and exact text
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="weaviate",
        sparse=False,
        native_idf=False,
        hybrid_fusions=frozenset(),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS - {"text_match"},
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot", "l2"}),
        emulated=frozenset({"facet"}),
        notes=(
            "dense search, filters (typed metadata projection, Not operator: Weaviate 1.33+), "
            "count and delete by filter run in Weaviate",
            "search_sparse is emulated: exact polyvec BM25 computed client-side over the "
            "sparse vectors stored in Weaviate (an in-memory index per collection, rebuilt "
            "when the object count changes behind this backend's back)",
            "hybrid RRF/DBSF/Convex are fused client-side; Weaviate's native hybrid fuses "
            "Weaviate's own BM25 over the text (its tokenizer, IDF, k1/b) with the dense "
            "vector: WeaviateBackend.search_hybrid_text, and search_bm25 for its BM25 alone",
            "ids: UUIDv5 of the typed id, the original id kept in the object",
            "scroll with a filter pages with offsets: at most Weaviate's "
            "QUERY_MAXIMUM_RESULTS (10000 by default) matches",
        ),
    )

    def __init__(
        self,
        http_host: str | None = None,
        *,
        http_port: int = 8080,
        http_secure: bool = False,
        grpc_host: str | None = None,
        grpc_port: int = 50051,
        grpc_secure: bool | None = None,
        api_key: str | None = None,
        client: Any = None,
        prefix: str = "Polyvec",
        batch_size: int = 100,
        timeout: float | None = None,
        skip_init_checks: bool = False,
    ) -> None:
        if (http_host is None) == (client is None):
            raise ConfigurationError("give WeaviateBackend one of http_host= or client=")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ConfigurationError(f"batch_size must be positive, got {batch_size!r}")
        class_name(prefix, "x")  # validates the prefix
        self.prefix = prefix
        self.batch_size = batch_size
        self._specs: dict[str, CollectionSpec] = {}
        self._props: dict[str, set[str]] = {}
        self._sparse = SparseCache()
        self._lock = threading.RLock()
        self._closed = False
        if client is not None:
            self._secret: str | None = None
            self.calls = Calls("weaviate (client given)", None)
            self.client = client
        else:
            assert http_host is not None
            self._secret = api_key or os.environ.get("WEAVIATE_API_KEY") or None
            url = f"{'https' if http_secure else 'http'}://{http_host}:{http_port}"
            self.calls = Calls(url, self._secret)
            self.client = connect(
                self.calls,
                http_host=http_host,
                http_port=http_port,
                http_secure=http_secure,
                grpc_host=grpc_host,
                grpc_port=grpc_port,
                grpc_secure=grpc_secure,
                timeout=timeout,
                skip_init_checks=skip_init_checks,
            )
        self.display_url = self.calls.display_url
        self.state = StateStore(self.client, self.calls, prefix)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> WeaviateBackend:
        """Connect to the server a ``weaviate://`` URL names; ``options`` override it."""
        return cls(**{**parse_url(url), **options})

    def __repr__(self) -> str:
        key = " api_key=***" if self._secret else ""
        return f"<WeaviateBackend {self.display_url} prefix={self.prefix!r}{key}>"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.client.close()

    # -- collections ------------------------------------------------------------------
    def _handle(self, name: str) -> Any:
        return self.client.collections.use(class_name(self.prefix, name))

    def create_collection(self, spec: CollectionSpec) -> None:
        existing = self.get_spec(spec.name)
        if existing is not None:
            existing.require_compatible(spec, sparse=False)
            return
        unknown = sorted(set(spec.options) - {"hnsw"})
        if unknown:
            raise ConfigurationError(
                f"unknown Weaviate collection option(s) {unknown}; known: hnsw"
            )
        hnsw = dict(spec.options.get("hnsw") or {})
        body = json.dumps(
            {
                "polyvec": 1,
                "dimension": spec.dimension,
                "distance": spec.distance,
                "sparse": spec.sparse,
                "options": dict(spec.options),
            }
        )
        config = collection_config(spec.distance, hnsw, FIXED_PROPERTIES)
        name = class_name(self.prefix, spec.name)
        self.calls("create", self.client.collections.create, name=name, description=body, **config)
        self._specs[spec.name] = spec
        self._props[spec.name] = set(FIXED_PROPERTIES)

    def get_spec(self, name: str) -> CollectionSpec | None:
        if name in self._specs:
            return self._specs[name]
        cls = class_name(self.prefix, name)
        if not self.calls("exists", self.client.collections.exists, name=cls):
            return None
        config = self.calls("get config", self._handle(name).config.get)
        try:
            raw = json.loads(config.description or "")
            spec = CollectionSpec(
                name, int(raw["dimension"]), raw["distance"], bool(raw["sparse"]), raw["options"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"Weaviate collection {cls!r} was not created by polyvec (its description "
                "holds no polyvec spec): use another collection name"
            ) from exc
        self._specs[name] = spec
        self._props[name] = {p.name for p in config.properties}
        return spec

    def list_collections(self) -> list[str]:
        found = self.calls("list", self.client.collections.list_all, simple=True)
        names = (collection_name(self.prefix, str(cls)) for cls in found)
        return sorted(n for n in names if n is not None)

    def drop_collection(self, name: str) -> None:
        self._sparse.forget(name)
        with self._lock:
            self._specs.pop(name, None)
            self._props.pop(name, None)
        cls = class_name(self.prefix, name)
        self.calls("delete collection", self.client.collections.delete, name=cls)
        self.state.delete(cls)

    def _require(self, name: str) -> CollectionSpec:
        spec = self.get_spec(name)
        if spec is None:
            raise CollectionNotFoundError(name, "weaviate")
        return spec

    def _ensure_properties(self, name: str, needed: set[str]) -> None:
        with self._lock:
            known = self._props.setdefault(name, set(FIXED_PROPERTIES))
            for prop in sorted(needed - known):
                kind = FACET_TYPES[prop.rsplit("_", 1)[1]]
                self.calls(
                    "add property",
                    self._handle(name).config.add_property,
                    prop=weaviate_property(prop, kind),
                )
                known.add(prop)

    def _filter(self, name: str, filter: Filter | None) -> WeaviateFilter:
        """The Weaviate filter; a property this backend has not seen is looked up again
        (another writer may have added it) before it counts as absent everywhere."""
        known = _Known(self._props.get(name, FIXED_PROPERTIES))
        native = to_weaviate_filter(filter, known=known)
        if known.missed:
            config = self.calls("get config", self._handle(name).config.get)
            with self._lock:
                self._props[name] = {p.name for p in config.properties}
            native = to_weaviate_filter(filter, known=self._props[name])
        return native

    def _objects(self, collection: str, op: str, native: WeaviateFilter, **kw: Any) -> list[Any]:
        """Objects from one query method (``near_vector``, ``bm25``, ``hybrid``)."""
        method = getattr(self._handle(collection).query, op)
        filters = None if native is True else native
        result = self.calls(op, method, filters=filters, return_properties=_DOC_PROPS, **kw)
        return list(result.objects)

    # -- data -------------------------------------------------------------------------
    def _dense(self, spec: CollectionSpec, vector: Any, where: str) -> list[float]:
        arr = as_dense(vector, where=where)
        if arr.shape[0] != spec.dimension:
            raise DimensionMismatchError(spec.dimension, int(arr.shape[0]), where)
        return [float(x) for x in arr.tolist()]

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        """Write ``documents`` with ``insert_many`` in batches (objects with the same
        UUID are replaced); a failed batch raises ``WriteError`` naming what was written."""
        self.check_documents(documents)
        spec = self._require(collection)
        objects: list[Any] = []
        needed: set[str] = set()
        for doc in documents:
            if doc.dense is None:
                raise InvalidVectorError(f"document {doc.id!r} has no dense vector: embed it first")
            props = object_properties(doc)
            needed.update(props)
            objects.append(
                DataObject(
                    properties=props,
                    uuid=object_id(doc.id),
                    vector={"dense": self._dense(spec, doc.dense, f"document {doc.id!r}")},
                )
            )
        self._ensure_properties(collection, needed)
        ids = [doc.id for doc in documents]
        written: list[DocId] = []
        handle = self._handle(collection)
        for start in range(0, len(objects), self.batch_size):
            batch = objects[start : start + self.batch_size]
            try:
                result = self.calls("insert", handle.data.insert_many, objects=batch)
            except PolyvecError as exc:
                raise WriteError(
                    f"writing to {collection!r} failed: {exc}", written=written, failed=ids[start:]
                ) from exc
            bad = sorted(getattr(result, "errors", None) or {})
            if bad:
                ok = [ids[start + i] for i in range(len(batch)) if i not in set(bad)]
                first = result.errors[bad[0]]
                raise WriteError(
                    f"Weaviate refused {len(bad)} object(s) of {collection!r}: "
                    f"{getattr(first, 'message', first)}",
                    written=[*written, *ok],
                    failed=[ids[start + i] for i in bad] + ids[start + len(batch) :],
                )
            written.extend(ids[start : start + len(batch)])
        self._sparse.update(collection, documents)

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        self._require(collection)
        wanted = [object_id(i) for i in ids]
        found: dict[str, Any] = {}
        handle = self._handle(collection)
        unique = list(dict.fromkeys(wanted))
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            result = self.calls(
                "fetch",
                handle.query.fetch_objects_by_ids,
                ids=chunk,
                limit=len(chunk),
                include_vector=["dense"] if with_vectors else False,
                return_properties=_SPARSE_PROPS if with_vectors else _DOC_PROPS,
            )
            found.update({str(o.uuid): o for o in result.objects})
        return [document_from(found[u], with_vectors) for u in wanted if u in found]

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        require_ids_or_filter(ids, filter)
        self._require(collection)
        handle = self._handle(collection)
        if ids is not None:
            uuids = list(dict.fromkeys(object_id(i) for i in ids))
            for start in range(0, len(uuids), 1000):
                where = WFilter.by_id().contains_any(uuids[start : start + 1000])
                self.calls("delete", handle.data.delete_many, where=where)
            self._sparse.delete(collection, ids)
            return
        native = self._filter(collection, filter)
        if native is False:
            return
        where = WFilter.not_(WFilter.by_id().equal(_NO_UUID)) if native is True else native
        while self.calls("delete", handle.data.delete_many, where=where).matches:
            pass  # each call deletes up to QUERY_MAXIMUM_RESULTS objects
        self._sparse.forget(collection)  # rebuilt on the next sparse search

    def count(self, collection: str, filter: Filter | None = None) -> int:
        self._require(collection)
        native = self._filter(collection, filter)
        if native is False:
            return 0
        result = self.calls(
            "aggregate",
            self._handle(collection).aggregate.over_all,
            total_count=True,
            filters=None if native is True else native,
        )
        return int(result.total_count or 0)

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every document (matching ``filter``): the cursor iterator without a filter,
        ``fetch_objects`` pages with one (up to ``QUERY_MAXIMUM_RESULTS`` matches)."""
        self._require(collection)
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be positive, got {batch_size!r}")
        native = self._filter(collection, filter)
        return self._scroll(collection, native, batch_size, with_vectors)

    def _scroll(
        self, collection: str, native: WeaviateFilter, size: int, with_vectors: bool
    ) -> Iterator[list[Document]]:
        if native is False:
            return
        handle = self._handle(collection)
        props = _SPARSE_PROPS if with_vectors else _DOC_PROPS
        vec: Any = ["dense"] if with_vectors else False
        if native is True:
            batch: list[Document] = []
            objects = handle.iterator(include_vector=bool(with_vectors), return_properties=props)
            try:
                for obj in objects:
                    batch.append(document_from(obj, with_vectors))
                    if len(batch) >= size:
                        yield batch
                        batch = []
            except (WeaviateBaseError, OSError) as exc:
                raise self.calls.translate(exc, collection, "iterate") from exc
            if batch:
                yield batch
            return
        offset = 0
        while True:
            if offset + size > _QUERY_MAX:
                size = _QUERY_MAX - offset
                if size <= 0:
                    raise BackendError(
                        f"more than {_QUERY_MAX} objects of {collection!r} match the filter: "
                        "Weaviate pages filtered results with offsets up to "
                        "QUERY_MAXIMUM_RESULTS; raise it on the server, or narrow the filter"
                    )
            result = self.calls(
                "fetch",
                handle.query.fetch_objects,
                filters=native,
                limit=size,
                offset=offset,
                include_vector=vec,
                return_properties=props,
            )
            if result.objects:
                yield [document_from(o, with_vectors) for o in result.objects]
            if len(result.objects) < size:
                return
            offset += size

    # -- search -----------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance; Weaviate's distance becomes the score
        (cosine: ``1 - d``, dot: ``-d``, l2: ``-sqrt(d)``)."""
        spec = self._require(collection)
        query = self._dense(spec, vector, "query vector")
        native = self._filter(collection, filter)
        if k <= 0 or native is False:
            return []
        found = self._objects(
            collection,
            "near_vector",
            native,
            near_vector=query,
            target_vector="dense",
            limit=k,
            return_metadata=MetadataQuery(distance=True),
        )
        scored = []
        for obj in found:
            d = float(obj.metadata.distance or 0.0)
            score = {"cosine": 1.0 - d, "dot": -d, "l2": -float(np.sqrt(max(d, 0.0)))}
            scored.append((document_from(obj, False), score[spec.distance]))
        return ranked_hits(scored, spec.distance, "dense")

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``), **emulated**: computed
        client-side over the sparse vectors stored in Weaviate; the filter runs in
        Weaviate (the matching ids bound the candidates)."""
        spec = self._require(collection)
        if not isinstance(vector, SparseVector):
            raise InvalidVectorError("a sparse query must be a polyvec SparseVector")
        if not spec.sparse:
            raise ConfigurationError(f"collection {collection!r} has no sparse vectors")
        native = self._filter(collection, filter)
        if k <= 0 or not len(vector) or native is False:
            return []
        allowed: set[DocId] | None = None
        if native is not True:
            allowed = {d.id for b in self._scroll(collection, native, 1000, False) for d in b}
        load = lambda: self._scroll(collection, True, 1000, True)  # noqa: E731
        index = self._sparse.index(collection, self.count(collection), load)
        top = index.search(vector, k, allowed_ids=allowed)
        docs = {(type(d.id), d.id): d for d in self.get(collection, [i for i, _ in top])}
        scored = [(docs[(type(i), i)], s) for i, s in top if (type(i), i) in docs]
        return ranked_hits(scored, "bm25", "sparse")

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
        """Dense and (emulated) sparse top-``candidates``, fused client-side."""
        legs = [
            self.search_dense(collection, dense, candidates, filter),
            self.search_sparse(collection, sparse, candidates, filter),
        ]
        return fuse(legs, fusion, k)

    # -- polyvec's state --------------------------------------------------------------
    def load_state(self, collection: str) -> dict[str, Any] | None:
        """The state saved with :meth:`save_state` (objects of ``<prefix>State``)."""
        self._require(collection)
        return self.state.load(class_name(self.prefix, collection))

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        """Save polyvec's state as objects of ``<prefix>State`` (never documents)."""
        self._require(collection)
        text = state_json(state)
        self.state.save(class_name(self.prefix, collection), text)

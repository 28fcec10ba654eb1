"""``PineconeBackend``: polyvec over the official ``pinecone`` SDK (data plane of one
serverless index)::

    from polyvec.backends.pinecone import PineconeBackend
    backend = PineconeBackend.from_url("pinecone://my-index-abc123.svc.aped-4627.pinecone.io")

URL (``from_url``; ``polyvec.connect`` takes the same)::

    pinecone://INDEX_HOST[:PORT][?prefix=P&namespace.COLL=NS&tls=false&timeout=30&batch_size=100]

``INDEX_HOST`` is the index's data-plane host (Pinecone console, or
``pc.describe_index(name).host``); loopback hosts default to plain HTTP (Pinecone Local,
test stand-ins), others to HTTPS. The API key comes from ``PINECONE_API_KEY`` (or
``api_key=``), never from the URL, and never appears in ``repr`` or errors.

**Collections are namespaces** of the one index: collection ``docs`` lives in namespace
``P + "docs"`` (``prefix=P``, default none; names are percent-encoded outside printable
ASCII), or in the namespace you map it to (``namespace.docs=legacy`` in the URL,
``namespaces={"docs": "legacy"}`` in Python; ``""`` is the default namespace). All
collections therefore share the index's dimension and metric. polyvec's own records
(each collection's spec and its BM25 statistics) live in the namespace ``__polyvec__``.

**Metric.** Sparse vectors need a ``dotproduct`` index. Collections with
``distance="dot"`` store vectors as given; ``distance="cosine"`` ones store them
L2-normalised (dot product = cosine). A ``cosine`` index serves cosine collections
without sparse vectors; ``l2`` needs a ``euclidean`` index and is not supported.

Storage, filters, ids and what is native: docs/backends/pinecone.md.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

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
from polyvec.backends.pinecone.client import META_NAMESPACE, IndexCalls, IndexInfo
from polyvec.backends.pinecone.codec import (
    build_record,
    check_sparse,
    decode_id,
    decode_metadata,
    dense_values,
    encode_id,
    encode_name,
    request_batches,
)
from polyvec.backends.pinecone.filters import to_pinecone_filter
from polyvec.backends.pinecone.url import is_loopback, parse_url
from polyvec.backends.values import plain_metadata
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
    InputError,
    InvalidVectorError,
    MissingDependencyError,
    PolyvecError,
    WriteError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import Fusion, fuse
from polyvec.types import DocId, Document, Hit, ScoreKind, SparseVector

try:
    from pinecone import Index
    from pinecone.errors.exceptions import PineconeError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("pinecone", "pinecone", "the Pinecone backend") from exc

__all__ = ["META_NAMESPACE", "PineconeBackend", "parse_url"]


_DEFAULT_NS = "__default__"
_MAX_TOP_K = 10_000
_MAX_TOP_K_WITH_METADATA = 1_000


class PineconeBackend(Backend):
    """polyvec over one Pinecone index. Give ``host`` (the data-plane URL) or ``index``
    (your own ``pinecone.Index``).

    ``prefix``/``namespaces`` choose each collection's namespace (module docstring);
    ``batch_size`` bounds the vectors per upsert request (also kept under 2 MB);
    ``metric`` overrides the metric the index reports (``"dotproduct"`` or
    ``"cosine"``) for servers that do not report one.
    """

    schemes: ClassVar[tuple[str, ...]] = ("pinecone",)
    engine_name: ClassVar[str] = "pinecone"
    max_exact_int: int | None = None  # facets: range_float and exact text
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="pinecone",
        sparse=True,
        native_idf=False,
        hybrid_fusions=frozenset(),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS - {"text_match"},
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot"}),
        emulated=frozenset({"facet"}),
        notes=(
            "dense and sparse vectors share one record in a dotproduct index; cosine "
            "collections store L2-normalised vectors (get(with_vectors=True) returns them)",
            "search_sparse is a Pinecone sparse-dense query with a zero dense vector "
            "(records scoring exactly 0 are dropped)",
            "hybrid RRF/DBSF/Convex are fused client-side (the retriever runs both legs); "
            "Pinecone's own single-query hybrid, alpha * dense + (1 - alpha) * sparse dot "
            "products without normalisation, is PineconeBackend.search_sparse_dense",
            "no engine IDF: polyvec keeps the BM25 statistics, saved as records in the "
            "__polyvec__ namespace",
            "filters run exactly on a typed projection of the metadata (keys P#s, P#n, "
            "P#min ...); fields containing '#' and range bounds beyond ±2**53 are refused",
            "count and scroll with a filter use fetch_by_metadata (serverless indexes)",
            "Pinecone is eventually consistent: a write can take seconds to be searchable",
        ),
    )

    def __init__(
        self,
        host: str | None = None,
        *,
        index: Any = None,
        api_key: str | None = None,
        prefix: str = "",
        namespaces: Mapping[str, str] | None = None,
        batch_size: int = 100,
        timeout: float = 30.0,
        metric: str | None = None,
    ) -> None:
        if (host is None) == (index is None):
            raise ConfigurationError("give PineconeBackend one of host= or index=")
        if not isinstance(batch_size, int) or not 0 < batch_size <= 1000:
            raise ConfigurationError(f"batch_size must be within 1..1000, got {batch_size!r}")
        if metric not in (None, "dotproduct", "cosine"):
            raise ConfigurationError(f"metric must be 'dotproduct' or 'cosine', got {metric!r}")
        if not isinstance(prefix, str) or not (prefix.isascii() and prefix.isprintable()):
            raise ConfigurationError(f"prefix must be printable ASCII, got {prefix!r}")
        self.prefix = prefix
        self.namespaces = dict(namespaces or {})
        self.batch_size = batch_size
        self._metric_override = metric
        self._secret: str | None = None
        self._closed = False
        self._info_cache: IndexInfo | None = None
        self._specs: dict[str, CollectionSpec] = {}
        if index is not None:
            self.index = index
            self.display_url = f"pinecone (index given: {getattr(index, 'host', '?')})"
            self.calls = IndexCalls(index, self.display_url, None)
            return
        assert host is not None
        parts = urlsplit(host if "://" in host else f"https://{host}")
        self.display_url = f"{parts.scheme}://{parts.netloc}"
        self._secret = api_key or os.environ.get("PINECONE_API_KEY") or None
        key = self._secret
        if key is None and is_loopback(parts.hostname):
            key = "pclocal"  # Pinecone Local and stand-ins take any key
        if key is None:
            raise ConfigurationError(
                "no Pinecone API key: set PINECONE_API_KEY or pass api_key=..."
            )
        try:
            self.index = Index(host=host, api_key=key, timeout=timeout)
        except PineconeError as exc:
            why = IndexCalls(None, self.display_url, self._secret).redact(exc)
            raise ConfigurationError(
                f"cannot use {self.display_url!r} as a Pinecone index host: {why}"
            ) from exc
        self.calls = IndexCalls(self.index, self.display_url, self._secret)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PineconeBackend:
        """Open the backend a ``pinecone://`` URL names; keyword ``options`` override it."""
        return cls(**{**parse_url(url), **options})

    def __repr__(self) -> str:
        key = " api_key=***" if self._secret else ""
        prefix = f" prefix={self.prefix!r}" if self.prefix else ""
        return f"<PineconeBackend {self.display_url}{prefix}{key}>"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.index.close()

    # -- the index --------------------------------------------------------------------
    def info(self) -> IndexInfo:
        """The index's dimension and metric (read once)."""
        if self._info_cache is None:
            self._info_cache = self.calls.info(self._metric_override)
        return self._info_cache

    def _unit(self) -> list[float]:
        dim = self.info().dimension or 1
        return [1.0] + [0.0] * (dim - 1)

    def namespace(self, collection: str) -> str:
        """The namespace a collection lives in (``""``: the default namespace)."""
        ns = self.namespaces.get(collection)
        if ns is None:
            ns = self.prefix + encode_name(collection)
        if ns == _DEFAULT_NS:
            ns = ""
        if ns == META_NAMESPACE or len(ns) > 450 or not ns.isascii():
            raise ConfigurationError(
                f"collection {collection!r} maps to the namespace {ns[:60]!r}, which is "
                f"reserved, too long or not ASCII: choose another name or namespace"
            )
        return ns

    # -- collections ------------------------------------------------------------------
    def _check_spec(self, spec: CollectionSpec) -> None:
        if spec.options:
            raise ConfigurationError(
                f"Pinecone collections take no options (got {sorted(spec.options)}): index "
                "settings (pods, replicas, read capacity) belong to the index itself"
            )
        info = self.info()
        if info.dimension is not None and info.dimension != spec.dimension:
            raise ConfigurationError(
                f"the Pinecone index has dimension {info.dimension} but collection "
                f"{spec.name!r} needs {spec.dimension}: every collection (namespace) of an "
                "index shares its dimension; use another index for this embedding model"
            )
        if spec.distance == "l2" or info.metric not in ("dotproduct", "cosine"):
            raise ConfigurationError(
                f"collection {spec.name!r} wants distance {spec.distance!r} on a "
                f"{info.metric!r} index: polyvec supports cosine and dot on a dotproduct "
                "index (cosine also on a cosine index); create the index with "
                "metric='dotproduct'"
            )
        if info.metric == "cosine" and (spec.sparse or spec.distance != "cosine"):
            raise ConfigurationError(
                f"collection {spec.name!r} ({spec.distance}, sparse={spec.sparse}) needs a "
                "dotproduct index: Pinecone keeps sparse vectors only in dotproduct indexes"
            )

    def create_collection(self, spec: CollectionSpec) -> None:
        existing = self.get_spec(spec.name)
        if existing is None:
            self._check_spec(spec)
            body = json.dumps(
                {
                    "name": spec.name,
                    "dimension": spec.dimension,
                    "distance": spec.distance,
                    "sparse": spec.sparse,
                    "options": plain_metadata(dict(spec.options), "CollectionSpec.options"),
                }
            )
            spec_id = f"spec:{self.namespace(spec.name)}"
            self.calls.meta_upsert([(spec_id, {"#spec": body})], self._unit())
            self._specs[spec.name] = spec
            return
        existing.require_compatible(spec)

    def get_spec(self, name: str) -> CollectionSpec | None:
        if name in self._specs:
            return self._specs[name]
        rid = f"spec:{self.namespace(name)}"
        raw = self.calls.meta_fetch([rid]).get(rid, {}).get("#spec")
        if not isinstance(raw, str):
            return None
        data = json.loads(raw)
        spec = CollectionSpec(
            name, int(data["dimension"]), data["distance"], bool(data["sparse"]), data["options"]
        )
        self._specs[name] = spec
        return spec

    def list_collections(self) -> list[str]:
        head = f"spec:{self.prefix}"
        found: set[str] = set()
        for rid in self.calls.list_ids(META_NAMESPACE, head):
            name = unquote(rid[len(head) :])
            if name not in self.namespaces:
                found.add(name)
        mapped = {f"spec:{self.namespace(n)}": n for n in self.namespaces}
        if mapped:
            found.update(mapped[rid] for rid in self.calls.meta_fetch(list(mapped)))
        return sorted(found)

    def drop_collection(self, name: str) -> None:
        ns = self.namespace(name)
        self._specs.pop(name, None)
        if ns:
            self.calls.call_or_none("delete_namespace", self.index.delete_namespace, name=ns)
        else:
            self.calls.call_or_none("delete", self.index.delete, delete_all=True, namespace="")
        self.calls.forget(ns)

    def _require(self, name: str) -> CollectionSpec:
        spec = self.get_spec(name)
        if spec is None:
            raise CollectionNotFoundError(name, "pinecone")
        return spec

    # -- data -------------------------------------------------------------------------
    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        """Write ``documents`` in batches; everything is validated before the first
        request, and a failed batch raises ``WriteError`` naming what was written."""
        self.check_documents(documents)
        spec = self._require(collection)
        ns = self.namespace(collection)
        records = [build_record(spec, doc) for doc in documents]
        ids = [doc.id for doc in documents]
        written: list[DocId] = []
        for start, stop in request_batches(records, self.batch_size):
            batch = records[start:stop]
            try:
                self.calls.call("upsert", self.index.upsert, vectors=batch, namespace=ns)
            except PolyvecError as exc:
                raise WriteError(
                    f"upserting into {collection!r} failed: {exc}",
                    written=written,
                    failed=ids[start:],
                ) from exc
            written.extend(ids[start:stop])

    def _document(self, vector_id: str, vec: Any, with_vectors: bool) -> Document:
        text, meta = decode_metadata(getattr(vec, "metadata", None))
        doc = Document(decode_id(vector_id), text, meta)
        if with_vectors:
            values = getattr(vec, "values", None)
            sv = getattr(vec, "sparse_values", None)
            dense = np.asarray(values, dtype=np.float32) if values else None
            sparse = (
                SparseVector.from_dict(dict(zip(sv.indices, sv.values))) if sv is not None else None
            )
            doc = doc.with_vectors(dense, sparse)
        return doc

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        self._require(collection)
        if not ids:
            return []
        wanted = [encode_id(i) for i in ids]
        found = self.calls.fetch(self.namespace(collection), wanted)
        return [self._document(rid, found[rid], with_vectors) for rid in wanted if rid in found]

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        require_ids_or_filter(ids, filter)
        self._require(collection)
        ns = self.namespace(collection)
        if ids is not None:
            raw = list(dict.fromkeys(encode_id(i) for i in ids))
            self.calls.delete_ids(ns, raw)
            return
        native = to_pinecone_filter(filter)
        if native is None:
            self.calls.call_or_none("delete", self.index.delete, delete_all=True, namespace=ns)
        else:
            self.calls.call_or_none("delete", self.index.delete, filter=native, namespace=ns)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        self._require(collection)
        ns = self.namespace(collection)
        native = to_pinecone_filter(filter)
        if native is None:
            return self.calls.vector_count(ns)
        return sum(len(page) for page in self.calls.by_metadata(ns, native, 1000))

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every document (matching ``filter``) in batches: ``list`` + ``fetch``, or
        ``fetch_by_metadata`` with a filter."""
        self._require(collection)
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be positive, got {batch_size!r}")
        native = to_pinecone_filter(filter)
        return self._scroll(self.namespace(collection), native, batch_size, with_vectors)

    def _scroll(
        self, ns: str, native: dict[str, Any] | None, batch_size: int, with_vectors: bool
    ) -> Iterator[list[Document]]:
        if native is not None:
            for page in self.calls.by_metadata(ns, native, min(batch_size, 1000)):
                yield [self._document(rid, vec, with_vectors) for rid, vec in page.items()]
            return
        pending: list[str] = []
        for rid in self.calls.list_ids(ns, None, min(batch_size, 100)):
            pending.append(rid)
            if len(pending) >= batch_size:
                yield self._documents(ns, pending, with_vectors)
                pending = []
        if pending:
            yield self._documents(ns, pending, with_vectors)

    def _documents(self, ns: str, raw_ids: list[str], with_vectors: bool) -> list[Document]:
        found = self.calls.fetch(ns, raw_ids)
        return [self._document(r, found[r], with_vectors) for r in raw_ids if r in found]

    # -- search -----------------------------------------------------------------------
    def _query(
        self,
        collection: str,
        k: int,
        dense: list[float],
        sparse: SparseVector | None,
        filter: Filter | None,
    ) -> list[tuple[Document, float]]:
        if k > _MAX_TOP_K:
            raise InputError(f"Pinecone returns at most {_MAX_TOP_K} matches per query, not {k}")
        native = to_pinecone_filter(filter)
        if native is not None and native.get("#none") is not None:
            return []  # a filter nothing matches
        ns = self.namespace(collection)
        with_meta = k <= _MAX_TOP_K_WITH_METADATA
        sv = (
            {"indices": list(sparse.indices), "values": list(sparse.values)}
            if sparse is not None
            else None
        )
        resp = self.calls.call_or_none(
            "query",
            self.index.query,
            top_k=k,
            vector=dense,
            sparse_vector=sv,
            namespace=ns,
            filter=native,
            include_metadata=with_meta,
        )
        matches = list(resp.matches) if resp is not None else []
        if with_meta:
            return [(self._document(m.id, m, False), float(m.score)) for m in matches]
        found = self.calls.fetch(ns, [m.id for m in matches])  # over 1000: metadata in a 2nd step
        return [
            (self._document(m.id, found[m.id], False), float(m.score))
            for m in matches
            if m.id in found
        ]

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance (``cosine`` or ``dot``)."""
        spec = self._require(collection)
        query = dense_values(spec, vector, "query vector")
        if k <= 0:
            return []
        kind: ScoreKind = "cosine" if spec.distance == "cosine" else "dot"
        return ranked_hits(self._query(collection, k, query, None, filter), kind, "dense")

    def _sparse_query(self, spec: CollectionSpec, vector: SparseVector) -> None:
        if not isinstance(vector, SparseVector):
            raise InvalidVectorError(
                f"a sparse query must be a polyvec SparseVector, got {type(vector).__name__}"
            )
        if not spec.sparse:
            raise ConfigurationError(
                f"collection {spec.name!r} has no sparse vectors (created with sparse=False)"
            )
        check_sparse(vector, "the sparse query")

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``): a sparse-dense query whose
        dense part is zero. Records that share no term with the query (score 0) are
        left out, as in an engine with a sparse index."""
        spec = self._require(collection)
        self._sparse_query(spec, vector)
        if k <= 0 or not len(vector):
            return []
        zero = [0.0] * spec.dimension
        scored = [(d, s) for d, s in self._query(collection, k, zero, vector, filter) if s != 0]
        return ranked_hits(scored, "bm25", "sparse")

    def search_sparse_dense(
        self,
        collection: str,
        dense: np.ndarray,
        sparse: SparseVector,
        k: int,
        *,
        alpha: float = 0.5,
        filter: Filter | None = None,
    ) -> list[Hit]:
        """Pinecone's native hybrid: one query scoring
        ``alpha * dense·q + (1 - alpha) * sparse·q`` (``kind="dot"``, leg ``hybrid``).

        The dense part is a cosine for cosine collections. Unlike polyvec's
        :class:`~polyvec.fusion.Convex`, the two parts are not min-max normalised, so
        ``alpha`` weighs raw scores (BM25 scores are usually far above 1).
        """
        spec = self._require(collection)
        if not 0.0 <= alpha <= 1.0:
            raise ConfigurationError(f"alpha must be within [0, 1], got {alpha!r}")
        query = [alpha * x for x in dense_values(spec, dense, "query vector")]
        self._sparse_query(spec, sparse)
        if k <= 0:
            return []
        scaled = (
            SparseVector(sparse.indices, tuple((1.0 - alpha) * v for v in sparse.values))
            if len(sparse) and alpha < 1.0
            else None
        )
        return ranked_hits(self._query(collection, k, query, scaled, filter), "dot", "hybrid")

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
        """Dense and sparse top-``candidates`` fused client-side with ``fusion`` (two
        Pinecone queries): Pinecone has no rank fusion of its own. For Pinecone's
        single-query weighting use :meth:`search_sparse_dense`."""
        legs = [
            self.search_dense(collection, dense, candidates, filter),
            self.search_sparse(collection, sparse, candidates, filter),
        ]
        return fuse(legs, fusion, k)

    # -- polyvec's state --------------------------------------------------------------
    def load_state(self, collection: str) -> dict[str, Any] | None:
        """The state saved with :meth:`save_state` (records in ``__polyvec__``)."""
        self._require(collection)
        return self.calls.load_state(self.namespace(collection), collection)

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        """Save polyvec's state as records in ``__polyvec__`` (never documents): new
        chunks, then the head pointing at them, then the old chunks are deleted."""
        self._require(collection)
        text = state_json(state)
        self.calls.save_state(self.namespace(collection), text, self._unit())

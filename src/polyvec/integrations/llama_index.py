"""LlamaIndex adapters: polyvec's retrieval core behind LlamaIndex's interfaces.

Types in, types out: searching, filtering, fusion, MMR, rerank and multi-query are
polyvec's own (:class:`~polyvec.collection.Collection`, :class:`~polyvec.retriever.Retriever`).

* :class:`PolyvecVectorStore` — a ``BasePydanticVectorStore`` over any polyvec backend:
  query modes DEFAULT (dense), SPARSE and TEXT_SEARCH (BM25), HYBRID (``alpha`` →
  ``Convex(alpha)``, else the store's fusion, DBSF by default) and MMR
  (``mmr_threshold`` is MMR's λ); every ``FilterOperator`` translated (:func:`metadata_filters_to_ast`); nodes' text, metadata
  and relationships round-trip. Works in ``VectorStoreIndex.from_vector_store``;
* :class:`PolyvecRetriever` — a LlamaIndex ``BaseRetriever`` exposing the whole pipeline;
* :class:`PolyvecRerankPostprocessor` — cross-encoder rerank as a node postprocessor;
* :class:`LlamaIndexQueryGenerator` — any LlamaIndex ``LLM`` as the multi-query generator;
* :class:`LlamaIndexEmbedder` / :class:`PolyvecEmbedding` — embeddings, both ways.

Usage::

    from llama_index.core import VectorStoreIndex
    from polyvec.embeddings import default_embedder
    from polyvec.integrations.llama_index import PolyvecEmbedding, PolyvecVectorStore

    store = PolyvecVectorStore.from_url("qdrant+memory://", collection="docs")
    index = VectorStoreIndex.from_vector_store(
        store, embed_model=PolyvecEmbedding(default_embedder()))
    engine = index.as_query_engine(llm=llm, vector_store_query_mode="hybrid", alpha=0.6)

Nodes are stored as polyvec documents (id = node id, text = node content, metadata =
node metadata, a dotted key such as ``file.name`` stored as the nested field
``file`` → ``name`` so that a filter on ``file.name`` finds it); the rest of the node (relationships, templates, excluded keys …) goes
into two reserved metadata keys, :data:`NODE_KEY` and :data:`REF_DOC_KEY`, which never
appear in the metadata handed back to you. Requires ``pip install 'polyvec[llamaindex]'``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from polyvec.errors import MissingDependencyError

try:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.schema import (
        BaseNode,
        ImageNode,
        IndexNode,
        MetadataMode,
        Node,
        NodeWithScore,
        QueryBundle,
        TextNode,
    )
    from llama_index.core.schema import (
        Document as LIDocument,
    )
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
        VectorStoreQueryResult,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "llama-index-core", "llamaindex", "the LlamaIndex integration"
    ) from exc

from polyvec.collection import Collection
from polyvec.embeddings import Embedder
from polyvec.errors import ConfigurationError, EmptyQueryError, InputError
from polyvec.filters import F, Filter, matches
from polyvec.filters.from_llama_index import from_llama_index as metadata_filters_to_ast
from polyvec.filters.parse import FilterLike, parse_filter
from polyvec.fusion import Convex
from polyvec.grouping import merged_document
from polyvec.integrations._common import (
    LLAMA_NODE_KEY,
    LLAMA_REF_DOC_KEY,
    combine_filters,
    search_among,
    split_config_options,
    visible_metadata,
)
from polyvec.integrations._dotted_keys import fold, unfold
from polyvec.integrations._llama_index_extras import (
    LlamaIndexEmbedder,
    LlamaIndexQueryGenerator,
    PolyvecEmbedding,
    PolyvecRerankPostprocessor,
    as_query_generator,
)
from polyvec.integrations._scores import unit_scores
from polyvec.integrations._trace_events import llama_index_report, llama_index_wants_trace
from polyvec.retriever import MMRConfig, Retriever, RetrieverConfig
from polyvec.types import Document, Hit, as_dense

__all__ = [
    "NODE_KEY",
    "REF_DOC_KEY",
    "LlamaIndexEmbedder",
    "LlamaIndexQueryGenerator",
    "PolyvecEmbedding",
    "PolyvecRerankPostprocessor",
    "PolyvecRetriever",
    "PolyvecVectorStore",
    "as_query_generator",
    "document_to_node",
    "metadata_filters_to_ast",
    "node_to_document",
]

NODE_KEY = LLAMA_NODE_KEY
"""Reserved metadata key: the node's JSON without its id, text, metadata and embedding."""

REF_DOC_KEY = LLAMA_REF_DOC_KEY
"""Reserved metadata key: the node's ``ref_doc_id`` (so ``delete(ref_doc_id)`` is a filter)."""

_NODE_CLASSES: dict[str, type[BaseNode]] = {
    cls.class_name(): cls for cls in (TextNode, LIDocument, ImageNode, IndexNode, Node)
}
_OWN_FIELDS = ("id_", "embedding", "metadata", "text", "class_name")
_DOTTED = "polyvec_dotted_keys"
"""Key in :data:`NODE_KEY`'s JSON: the node's dotted metadata keys, stored nested."""


# -- nodes <-> polyvec documents ----------------------------------------------------------
def node_to_document(node: BaseNode) -> Document:
    """A LlamaIndex node as a polyvec document (its embedding, if any, becomes ``dense``)."""
    metadata = dict(node.metadata)
    clash = {NODE_KEY, REF_DOC_KEY} & metadata.keys()
    if clash:
        raise InputError(
            f"node {node.node_id!r} has the metadata key(s) {sorted(clash)}, which polyvec "
            "reserves for LlamaIndex node data: rename them"
        )
    data = node.model_dump(mode="json")
    for key in _OWN_FIELDS:
        data.pop(key, None)
    # a dotted key is stored nested, so that a filter on it (a nested path) finds it
    metadata, dotted = fold(metadata, where=f"node {node.node_id!r}")
    if dotted:
        data[_DOTTED] = dotted
    metadata[NODE_KEY] = json.dumps({"class_name": node.class_name(), **data})
    if node.ref_doc_id is not None:
        metadata[REF_DOC_KEY] = node.ref_doc_id
    text = node.get_content(metadata_mode=MetadataMode.NONE)
    dense = None if node.embedding is None else as_dense(node.embedding, where=node.node_id)
    return Document(node.node_id, text, metadata, dense=dense)


def document_to_node(doc: Document) -> BaseNode:
    """A polyvec document as the LlamaIndex node it was stored from; a document not
    stored through LlamaIndex becomes a ``TextNode`` (id ``str(doc.id)``)."""
    metadata = dict(doc.metadata)
    raw = metadata.pop(NODE_KEY, None)
    metadata.pop(REF_DOC_KEY, None)
    if not isinstance(raw, str):
        return TextNode(id_=str(doc.id), text=doc.text, metadata=metadata)
    data = json.loads(raw)
    metadata = unfold(metadata, data.pop(_DOTTED, ()))
    cls = _NODE_CLASSES.get(data.pop("class_name", ""), TextNode)
    node = cls.from_dict({**data, "id_": str(doc.id), "metadata": metadata})
    node.set_content(doc.text)
    return node


def _result(hits: Sequence[Hit], unit: dict[str, Any] | None = None) -> VectorStoreQueryResult:
    """``unit``: the distance and fusion to put scores on [0, 1] with (else raw)."""
    scores = [float(h.score) for h in hits] if unit is None else unit_scores(hits, **unit)
    return VectorStoreQueryResult(
        nodes=[document_to_node(h.document) for h in hits], similarities=scores,
        ids=[str(h.id) for h in hits],
    )  # fmt: skip


def _as_filter(filters: MetadataFilters | FilterLike) -> Filter | None:
    if isinstance(filters, MetadataFilters):
        return metadata_filters_to_ast(filters)
    return parse_filter(filters)


# -- the vector store ---------------------------------------------------------------------
class PolyvecVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over a polyvec :class:`~polyvec.collection.Collection`.

    ``options`` are :class:`~polyvec.retriever.RetrieverConfig` fields applied to every
    query (e.g. ``fusion=RRF(k=20)``, ``reranker=...``, ``multi_query=llm``); the query's
    mode, ``similarity_top_k``, ``alpha`` and ``mmr_threshold`` decide the rest. A query
    with ``query_embedding`` uses it for the dense leg (LlamaIndex embeds the query with
    the index's embed model); polyvec embeds multi-query variants itself. The same
    options may also be passed per query through ``vector_store_kwargs``, and two more:
    ``filter`` (a polyvec filter, ANDed with the query's ``filters``: the way to filter
    booleans, which LlamaIndex's ``MetadataFilter`` cannot hold) and ``normalize_scores``.

    Scores: raw and higher is better by default (a cosine similarity in DEFAULT mode, a
    fused DBSF/RRF/convex score in HYBRID — unbounded, e.g. 1.4 —, a BM25 score in
    SPARSE). ``normalize_scores=True`` (here or per query) puts every score on [0, 1]
    (:func:`polyvec.integrations._scores.unit_score`), for ``similarity_cutoff``.

    >>> PolyvecVectorStore.class_name()
    'PolyvecVectorStore'
    """

    stores_text: bool = True
    flat_metadata: bool = False

    _collection: Collection = PrivateAttr()
    _config: RetrieverConfig = PrivateAttr()
    _normalize: bool = PrivateAttr(default=False)

    def __init__(
        self, collection: Collection, *, normalize_scores: bool = False, **options: Any
    ) -> None:
        if not isinstance(collection, Collection):
            raise TypeError(
                f"PolyvecVectorStore wraps a polyvec Collection, got {type(collection).__name__}: "
                "use PolyvecVectorStore.from_url(...) to open one"
            )
        config, rest = split_config_options(options)
        if "multi_query" in config:
            config["multi_query"] = as_query_generator(config["multi_query"])
        super().__init__(**rest)
        self._collection = collection
        self._config = RetrieverConfig(**config)
        self._normalize = bool(normalize_scores)

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        collection: str = "llama_index",
        embed_model: BaseEmbedding | Embedder | None = None,
        options: dict[str, Any] | None = None,
        **connect_options: Any,
    ) -> PolyvecVectorStore:
        """Open (or create) ``collection`` at ``url`` (see :func:`polyvec.connect`).
        ``embed_model`` is a LlamaIndex ``BaseEmbedding`` or a polyvec embedder (default:
        the offline MiniLM); ``options`` are the per-query defaults (see the class)."""
        import polyvec

        if isinstance(embed_model, PolyvecEmbedding):
            embedder: Embedder | None = embed_model.embedder
        elif isinstance(embed_model, BaseEmbedding):
            embedder = LlamaIndexEmbedder(embed_model)
        else:
            embedder = embed_model
        coll = polyvec.connect(url, collection=collection, embedder=embedder, **connect_options)
        return cls(coll, **(options or {}))

    @classmethod
    def class_name(cls) -> str:
        return "PolyvecVectorStore"

    def __repr__(self) -> str:
        return f"PolyvecVectorStore(collection={self._collection!r}, config={self._config!r})"

    @property
    def client(self) -> Collection:
        """The polyvec collection (LlamaIndex's name for the underlying client)."""
        return self._collection

    @property
    def collection(self) -> Collection:
        return self._collection

    # -- writes ----------------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert ``nodes`` (embedded by the collection's embedder where they carry no
        embedding); returns their ids."""
        docs = [node_to_document(n) for n in nodes]
        self._collection.add(docs, **add_kwargs)
        return [str(d.id) for d in docs]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node whose ``ref_doc_id`` (source document) is ``ref_doc_id``."""
        if delete_kwargs:
            raise TypeError(f"delete() got unexpected options {sorted(delete_kwargs)}")
        self._collection.delete(filter=F(REF_DOC_KEY) == ref_doc_id)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id, by filter, or (both given) those ids that match the filter."""
        if delete_kwargs:
            raise TypeError(f"delete_nodes() got unexpected options {sorted(delete_kwargs)}")
        if node_ids is None and filters is None:
            raise InputError("delete_nodes() takes node_ids, filters or both; use clear() for all")
        if node_ids is not None and filters is None:
            if node_ids:
                self._collection.delete(list(node_ids))
            return
        if node_ids is None:
            filt = metadata_filters_to_ast(filters)
            if filt is None:
                self.clear()
            else:
                self._collection.delete(filter=filt)
            return
        ids = [n.node_id for n in self.get_nodes(node_ids, filters)]
        if ids:
            self._collection.delete(ids)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    def clear(self) -> None:
        """Delete every node in the collection."""
        ids = [d.id for batch in self._collection.scroll() for d in batch]
        if ids:
            self._collection.delete(ids)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    # -- reads -----------------------------------------------------------------------------
    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        limit: int | None = None,
    ) -> list[BaseNode]:
        """Nodes by id (in the order given), by filter, or both; neither: every node.
        ``limit``: at most that many (the first ones of that order)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InputError(f"get_nodes: limit must be an int, got {limit!r}")
        if limit is not None and limit <= 0:
            return []
        filt = metadata_filters_to_ast(filters)
        if node_ids is not None:
            docs = self._collection.get(list(node_ids))
            if filt is not None:  # polyvec's reference evaluator: the backends' own semantics
                docs = [d for d in docs if matches(filt, _user_metadata(d))]
        else:
            docs = []
            for batch in self._collection.scroll(filter=filt):
                docs.extend(batch)
                if limit is not None and len(docs) >= limit:
                    break
        return [document_to_node(d) for d in docs[:limit]]

    async def aget_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        limit: int | None = None,
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters, limit)

    # -- query -----------------------------------------------------------------------------
    def _plan(
        self, query: VectorStoreQuery, kwargs: dict[str, Any]
    ) -> tuple[Retriever, Filter | None]:
        """The polyvec retriever and filter for one LlamaIndex query."""
        own_filter = kwargs.pop("filter", None)
        kwargs.pop("normalize_scores", None)
        mmr_k = kwargs.pop("mmr_prefetch_k", None)
        mmr_factor = kwargs.pop("mmr_prefetch_factor", None)
        mmr_lambda = kwargs.pop("mmr_threshold", query.mmr_threshold)
        options, rest = split_config_options(kwargs)
        if rest:
            raise TypeError(f"PolyvecVectorStore.query() got unexpected options {sorted(rest)}")
        if "multi_query" in options:
            options["multi_query"] = as_query_generator(options["multi_query"])
        k = query.similarity_top_k
        mode = VectorStoreQueryMode(query.mode)
        if mode == VectorStoreQueryMode.DEFAULT:
            options.setdefault("mode", "dense")
        elif mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
            options["mode"] = "sparse"
            k = query.sparse_top_k or k
        elif mode == VectorStoreQueryMode.HYBRID:
            options["mode"] = "hybrid"
            if query.alpha is not None:
                options["fusion"] = Convex(alpha=query.alpha)
            if query.sparse_top_k is not None:  # LlamaIndex's leg depths, as its stores do
                options.setdefault("candidates", query.similarity_top_k)
                options["sparse_candidates"] = query.sparse_top_k
            k = query.hybrid_top_k or k
        elif mode == VectorStoreQueryMode.MMR:
            options["mode"] = "dense"
            fetch_k = mmr_k or (int(mmr_factor * k) if mmr_factor else max(50, 4 * k))
            lam = 0.5 if mmr_lambda is None else float(mmr_lambda)
            options["mmr"] = MMRConfig(lambda_mult=lam, fetch_k=max(fetch_k, k))
        else:
            raise ConfigurationError(
                f"query mode {mode.value!r} is not supported by polyvec: use default, sparse, "
                "text_search, hybrid or mmr"
            )
        config = replace(self._config, k=k, **options)
        doc_filter = F(REF_DOC_KEY).is_in(query.doc_ids) if query.doc_ids else None
        filt = combine_filters(metadata_filters_to_ast(query.filters), doc_filter, own_filter)
        return Retriever(self._collection, config), filt

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Run ``query`` through polyvec's pipeline (see the class for the modes)."""
        retriever, filt = self._plan(query, dict(kwargs))
        return self._result(self._hits(retriever, query, filt), retriever, kwargs)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        retriever, filt = self._plan(query, dict(kwargs))
        text = query.query_str
        if query.node_ids or not text or not text.strip():
            hits = await asyncio.to_thread(self._hits, retriever, query, filt)
        else:
            hits = await retriever.asearch(
                text, filter=filt, vector=query.query_embedding,
                trace=llama_index_wants_trace() or None,
            )  # fmt: skip
            llama_index_report(hits)
        return self._result(hits, retriever, kwargs)

    def _result(
        self, hits: list[Hit], retriever: Retriever, kwargs: dict[str, Any]
    ) -> VectorStoreQueryResult:
        if not kwargs.get("normalize_scores", self._normalize):
            return _result(hits)
        unit = {"distance": self._collection.spec.distance, "fusion": retriever.config.fusion}
        return _result(hits, unit)

    def _hits(
        self, retriever: Retriever, query: VectorStoreQuery, filt: Filter | None
    ) -> list[Hit]:
        cfg = retriever.config
        text = query.query_str
        if query.node_ids:
            return self._among(query, cfg, filt)
        if not text or not text.strip():
            if query.query_embedding is None or cfg.mode != "dense":
                raise EmptyQueryError(
                    "this query has no query_str: only the default (dense) and MMR modes can "
                    "run on query_embedding alone; pass the query text"
                )
            return retriever.search_vector(query.query_embedding, filter=filt)
        hits = retriever.search(
            text, filter=filt, vector=query.query_embedding, trace=llama_index_wants_trace() or None
        )
        llama_index_report(hits)
        return hits

    def _among(
        self, query: VectorStoreQuery, cfg: RetrieverConfig, filt: Filter | None
    ) -> list[Hit]:
        """A search restricted to ``query.node_ids``, in any mode: each leg scores the
        nodes as the unrestricted search would, hybrid legs fused as it fuses them."""
        return search_among(self._collection, query.node_ids or [], cfg, filt,
                            text=query.query_str, vector=query.query_embedding)  # fmt: skip


def _user_metadata(doc: Document) -> dict[str, Any]:
    return visible_metadata(doc.metadata)


# -- the whole pipeline as a retriever ----------------------------------------------------
class PolyvecRetriever(BaseRetriever):
    """polyvec's whole retrieval pipeline as a LlamaIndex ``BaseRetriever``.

    ``config`` (a :class:`~polyvec.retriever.RetrieverConfig`) or its fields as keywords
    (``mode``, ``k``, ``fusion``, ``mmr``, ``reranker``, ``multi_query`` — a LlamaIndex
    LLM works —, ``n_variants`` …); ``filters`` are LlamaIndex ``MetadataFilters`` or a
    polyvec filter. Nodes come back as stored, scored by the pipeline's final score::

        retriever = PolyvecRetriever(store.collection, k=5, mode="hybrid", multi_query=llm)
        RetrieverQueryEngine.from_args(retriever, llm=llm)
    """

    def __init__(
        self,
        collection: Collection,
        config: RetrieverConfig | None = None,
        *,
        filters: MetadataFilters | FilterLike = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        **options: Any,
    ) -> None:
        config_options, rest = split_config_options(options)
        if rest:
            raise TypeError(f"PolyvecRetriever() got unexpected options {sorted(rest)}")
        if "multi_query" in config_options:
            config_options["multi_query"] = as_query_generator(config_options["multi_query"])
        self.collection = collection
        self.config = replace(config or RetrieverConfig(), **config_options)
        self.filter = _as_filter(filters)
        self.retriever = Retriever(collection, self.config)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def __repr__(self) -> str:
        return (
            f"PolyvecRetriever(collection={self.collection.name!r}, config={self.config!r}, "
            f"filter={self.filter!r})"
        )

    @staticmethod
    def _scored(hits: Sequence[Hit]) -> list[NodeWithScore]:
        # with group_by: one node per group, its top chunks merged in document order
        return [
            NodeWithScore(node=document_to_node(merged_document(h)), score=h.score) for h in hits
        ]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.retriever.search(
            query_bundle.query_str,
            filter=self.filter,
            vector=query_bundle.embedding,
            trace=llama_index_wants_trace() or None,
        )
        llama_index_report(hits)
        return self._scored(hits)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self.retriever.asearch(
            query_bundle.query_str,
            filter=self.filter,
            vector=query_bundle.embedding,
            trace=llama_index_wants_trace() or None,
        )
        llama_index_report(hits)
        return self._scored(hits)

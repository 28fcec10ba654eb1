"""LangChain adapters: polyvec's retrieval core behind LangChain's interfaces.

Types in, types out: every search, filter, fusion, MMR, rerank and multi-query step is
polyvec's own (:class:`~polyvec.collection.Collection`, :class:`~polyvec.retriever.Retriever`);
these classes only convert LangChain's types. Metadata round-trips unchanged: nothing is
added to it (scores go into metadata only if you ask, with ``score_key=``).

* :class:`PolyvecVectorStore` — a LangChain ``VectorStore`` over any polyvec backend, with
  ``search_type="hybrid"`` besides similarity, mmr and similarity_score_threshold;
* :class:`PolyvecRetriever` — a ``BaseRetriever`` exposing the whole pipeline (mode, fusion,
  filter, MMR, rerank, multi-query); works in LCEL chains;
* :class:`LangChainEmbedder` — any LangChain ``Embeddings`` as a polyvec embedder, and
  :class:`PolyvecEmbeddings` the other way round;
* :class:`LangChainQueryGenerator` — any LangChain chat model or LLM as polyvec's
  multi-query variant generator;
* :class:`PolyvecRerankCompressor` — polyvec's cross-encoder reranker as a LangChain
  document compressor (for ``ContextualCompressionRetriever``);
* :class:`PolyvecTranslator` — LangChain's self-query ``StructuredQuery`` to polyvec's
  filter AST, so ``SelfQueryRetriever`` works on every backend.

Usage::

    from polyvec.integrations.langchain import PolyvecVectorStore, PolyvecRetriever

    store = PolyvecVectorStore.from_url("qdrant+memory://", embedding=my_embeddings)
    store.add_documents(docs)
    store.as_retriever(search_type="hybrid", search_kwargs={"k": 5})

    retriever = PolyvecRetriever(collection=store.collection, k=5, mode="hybrid",
                                 reranker=CrossEncoderReranker(), multi_query=chat_model)
    chain = retriever | format_docs | prompt | llm

Requires ``pip install 'polyvec[langchain]'``.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from polyvec.errors import DimensionMismatchError, InputError, MissingDependencyError

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document as LCDocument
    from langchain_core.embeddings import Embeddings
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
    from pydantic import ConfigDict, Field
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "langchain-core", "langchain", "the LangChain integration"
    ) from exc

from polyvec.collection import Collection
from polyvec.embeddings import Embedder
from polyvec.filters.from_langchain import PolyvecTranslator, structured_query_to_filter
from polyvec.filters.parse import FilterLike, parse_filter
from polyvec.grouping import merged_document
from polyvec.integrations._common import check_k, combine_filters, split_config_options
from polyvec.integrations._langchain_extras import (
    LangChainEmbedder,
    LangChainQueryGenerator,
    PolyvecEmbeddings,
    PolyvecRerankCompressor,
    as_query_generator,
)
from polyvec.integrations._trace_events import (
    alangchain_report,
    langchain_report,
    langchain_wants_trace,
)
from polyvec.retriever import MMRConfig, Retriever, RetrieverConfig
from polyvec.types import DocId, Document, Hit, as_dense

__all__ = [
    "LangChainEmbedder",
    "LangChainQueryGenerator",
    "PolyvecEmbeddings",
    "PolyvecRerankCompressor",
    "PolyvecRetriever",
    "PolyvecTranslator",
    "PolyvecVectorStore",
    "PolyvecVectorStoreRetriever",
    "as_query_generator",
    "structured_query_to_filter",
]


# -- conversions --------------------------------------------------------------------------
def _to_lc(doc: Document, score: float | None = None, score_key: str | None = None) -> LCDocument:
    metadata = dict(doc.metadata)
    if score_key is not None and score is not None:
        metadata[score_key] = score
    return LCDocument(page_content=doc.text, metadata=metadata, id=str(doc.id))


def _hits_to_lc(hits: Sequence[Hit], score_key: str | None = None) -> list[LCDocument]:
    # with group_by: one Document per group, its top chunks merged in document order
    return [_to_lc(merged_document(h), h.score, score_key) for h in hits]


def _with_scores(hits: Sequence[Hit]) -> list[tuple[LCDocument, float]]:
    return [(_to_lc(merged_document(h)), float(h.score)) for h in hits]


# -- the vector store ---------------------------------------------------------------------
class PolyvecVectorStore(VectorStore):
    """A LangChain ``VectorStore`` over a polyvec :class:`~polyvec.collection.Collection`.

    Any backend polyvec speaks to; the collection's embedder embeds documents and queries
    (wrap LangChain embeddings with :class:`LangChainEmbedder`, or use :meth:`from_url`).
    Ids are strings (generated with ``uuid4`` where none is given); metadata is stored and
    returned unchanged. Filters are polyvec filters: a dict such as
    ``{"page": {"$gte": 3}}`` or a built one (``F("page") >= 3``).

    ``similarity_search*`` are dense (vector) searches with raw, higher-is-better scores
    (cosine similarity for a cosine collection); :meth:`hybrid_search` runs polyvec's
    dense + BM25 pipeline; ``as_retriever(search_type="hybrid")`` exposes it to chains::

        store = PolyvecVectorStore.from_texts(["a", "b"], embeddings, url="qdrant+memory://")
        store.similarity_search("a", k=1, filter={"lang": "en"})
        store.as_retriever(search_type="mmr", search_kwargs={"k": 4, "lambda_mult": 0.3})
    """

    def __init__(self, collection: Collection) -> None:
        if not isinstance(collection, Collection):
            raise TypeError(
                f"PolyvecVectorStore wraps a polyvec Collection, got {type(collection).__name__}: "
                "use PolyvecVectorStore.from_url(...) to open one"
            )
        self.collection = collection

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        collection: str = "langchain",
        embedding: Embeddings | Embedder | None = None,
        **connect_options: Any,
    ) -> PolyvecVectorStore:
        """Open (or create) ``collection`` on the backend ``url`` names (see
        :func:`polyvec.connect`); ``embedding`` is LangChain ``Embeddings`` or a polyvec
        embedder (default: polyvec's offline MiniLM)."""
        import polyvec

        embedder = LangChainEmbedder(embedding) if isinstance(embedding, Embeddings) else embedding
        return cls(
            polyvec.connect(url, collection=collection, embedder=embedder, **connect_options)
        )

    def __repr__(self) -> str:
        return f"PolyvecVectorStore(collection={self.collection!r})"

    @property
    def embeddings(self) -> Embeddings:
        embedder = self.collection.embedder
        if isinstance(embedder, LangChainEmbedder):
            return embedder.embeddings
        return PolyvecEmbeddings(embedder)

    # -- writes ----------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; re-adding an id replaces that document.
        ``kwargs`` (``batch_size``, ``progress``) go to :meth:`Collection.add`."""
        items = list(texts)
        metas = list(metadatas) if metadatas is not None else [{} for _ in items]
        given = list(ids) if ids is not None else [None] * len(items)
        if not len(items) == len(metas) == len(given):
            raise InputError(
                f"add_texts got {len(items)} texts, {len(metas)} metadatas and {len(given)} "
                "ids: pass one of each per text"
            )
        id_list = [str(i) if i is not None else str(uuid.uuid4()) for i in given]
        docs = [Document(i, t, dict(m or {})) for i, t, m in zip(id_list, items, metas)]
        self.collection.add(docs, **kwargs)
        return id_list

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        items = list(texts)
        return await asyncio.to_thread(lambda: self.add_texts(items, metadatas, ids=ids, **kwargs))

    def delete(
        self, ids: list[str] | None = None, *, filter: FilterLike = None, **kwargs: Any
    ) -> bool:
        """Delete by ids, or by ``filter=``; with neither, delete every document (as
        LangChain's contract says). Missing ids are not an error."""
        if kwargs:
            raise TypeError(f"delete() got unexpected options {sorted(kwargs)}")
        if ids is not None:
            if ids:
                self.collection.delete(list(ids))
        elif parse_filter(filter) is not None:
            self.collection.delete(filter=filter)
        else:
            every: list[DocId] = [d.id for batch in self.collection.scroll() for d in batch]
            if every:
                self.collection.delete(every)
        return True

    async def adelete(
        self, ids: list[str] | None = None, *, filter: FilterLike = None, **kwargs: Any
    ) -> bool:
        return await asyncio.to_thread(lambda: self.delete(ids, filter=filter, **kwargs))

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        """The documents with these ids that exist, in the order given."""
        return [_to_lc(d) for d in self.collection.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        return [_to_lc(d) for d in await self.collection.aget(list(ids))]

    # -- searches: one plan, run sync or async ---------------------------------------------
    def _retriever(self, k: int, **options: Any) -> Retriever:
        check_k(k, type(self).__name__)
        return self.collection.retriever(RetrieverConfig(k=k, **options))

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
    ) -> list[tuple[LCDocument, float]]:
        """Dense search: ``(document, score)`` pairs, best first; the score is the raw
        similarity (cosine for a cosine collection), higher is better."""
        retr = self._retriever(k, mode="dense", score_threshold=score_threshold)
        return _with_scores(retr.search(query, filter=filter))

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
    ) -> list[tuple[LCDocument, float]]:
        retr = self._retriever(k, mode="dense", score_threshold=score_threshold)
        return _with_scores(await retr.asearch(query, filter=filter))

    def similarity_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        pairs = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in pairs]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        """Dense search with a query vector you embedded yourself."""
        if kwargs:
            raise TypeError(
                f"similarity_search_by_vector() got unexpected options {sorted(kwargs)}"
            )
        vector = as_dense(embedding, where="query vector")
        if vector.shape[0] != self.collection.dimension:
            raise DimensionMismatchError(self.collection.dimension, vector.shape[0], "query vector")
        coll = self.collection
        hits = coll.backend.search_dense(
            coll.name,
            vector,
            check_k(k, "similarity_search_by_vector"),
            coll.prepare_filter(filter),
        )
        return _hits_to_lc(hits)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        """Dense search diversified by polyvec's MMR (``lambda_mult=1``: relevance only,
        ``0``: maximal diversity — LangChain's meaning) over ``fetch_k`` candidates."""
        retr = self._mmr_retriever(k, fetch_k, lambda_mult, kwargs)
        return _hits_to_lc(retr.search(query, filter=filter))

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        retr = self._mmr_retriever(k, fetch_k, lambda_mult, kwargs)
        return _hits_to_lc(await retr.asearch(query, filter=filter))

    def _mmr_retriever(
        self, k: int, fetch_k: int, lambda_mult: float, extra: dict[str, Any]
    ) -> Retriever:
        if extra:
            raise TypeError(
                f"max_marginal_relevance_search() got unexpected options {sorted(extra)}"
            )
        mmr = MMRConfig(lambda_mult=lambda_mult, fetch_k=max(fetch_k, k))
        return self._retriever(k, mode="dense", mmr=mmr, candidates=max(fetch_k, k))

    def hybrid_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **options: Any
    ) -> list[LCDocument]:
        """polyvec's hybrid pipeline (dense + BM25, fused with ``DBSF()`` unless
        ``fusion=`` says otherwise); ``options`` are
        :class:`~polyvec.retriever.RetrieverConfig` fields (``fusion``, ``mmr``,
        ``reranker``, ``multi_query``, ``candidates`` …)."""
        return _hits_to_lc(self._hybrid_retriever(k, options).search(query, filter=filter))

    async def ahybrid_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **options: Any
    ) -> list[LCDocument]:
        return _hits_to_lc(await self._hybrid_retriever(k, options).asearch(query, filter=filter))

    def _hybrid_retriever(self, k: int, options: dict[str, Any]) -> Retriever:
        config, rest = split_config_options(options)
        if rest:
            raise TypeError(f"hybrid_search() got unexpected options {sorted(rest)}")
        config.setdefault("mode", "hybrid")
        if "multi_query" in config:
            config["multi_query"] = as_query_generator(config["multi_query"])
        return self._retriever(k, **config)

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[LCDocument]:
        """``search_type`` is ``similarity``, ``similarity_score_threshold``, ``mmr`` or
        ``hybrid``."""
        if search_type == "hybrid":
            return self.hybrid_search(query, **kwargs)
        return super().search(query, search_type, **kwargs)

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[LCDocument]:
        if search_type == "hybrid":
            return await self.ahybrid_search(query, **kwargs)
        return await super().asearch(query, search_type, **kwargs)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """LangChain's [0, 1] relevance: a cosine score as it is, negatives as 0 (so a
        positive threshold means what polyvec's ``score_threshold`` means), L2 as
        ``1 - d/√2`` (at least 0), a dot product as it is (unbounded: normalise vectors)."""
        distance = self.collection.spec.distance
        if distance == "l2":
            return lambda score: max(0.0, 1.0 + score / math.sqrt(2))  # score is -distance
        if distance == "cosine":
            return lambda score: min(1.0, max(0.0, score))
        return lambda score: score

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        url: str | None = None,
        collection: str = "langchain",
        **connect_options: Any,
    ) -> PolyvecVectorStore:
        """Open ``collection`` at ``url`` (see :meth:`from_url`) and add ``texts``."""
        store = cls.from_url(url, collection=collection, embedding=embedding, **connect_options)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def as_retriever(self, **kwargs: Any) -> PolyvecVectorStoreRetriever:
        """LangChain's vector store retriever, plus ``search_type="hybrid"``::

        store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "fusion": RRF(k=20)})
        """
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return PolyvecVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)


class PolyvecVectorStoreRetriever(VectorStoreRetriever):
    """``VectorStoreRetriever`` that also allows ``search_type="hybrid"``."""

    allowed_search_types: ClassVar[Sequence[str]] = (  # type: ignore[misc]
        "similarity",
        "similarity_score_threshold",
        "mmr",
        "hybrid",
    )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[LCDocument]:
        if self.search_type == "hybrid":
            return self.vectorstore.search(query, "hybrid", **(self.search_kwargs | kwargs))
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[LCDocument]:
        if self.search_type == "hybrid":
            return await self.vectorstore.asearch(query, "hybrid", **(self.search_kwargs | kwargs))
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)


# -- the whole pipeline as a retriever ----------------------------------------------------
class PolyvecRetriever(BaseRetriever):
    """polyvec's whole retrieval pipeline as a LangChain ``BaseRetriever``.

    Give the collection and either a :class:`~polyvec.retriever.RetrieverConfig`
    (``config=``) or its fields as keywords (``mode``, ``k``, ``fusion``, ``mmr``,
    ``reranker``, ``multi_query``, ``n_variants`` …); ``multi_query`` may be a LangChain
    chat model or LLM. ``filter`` applies to every search, combined (AND) with one given
    per call. ``score_key`` copies each hit's score into that metadata key (off by
    default: metadata round-trips unchanged)::

        retriever = PolyvecRetriever(collection=coll, k=5, mode="hybrid",
                                     reranker=CrossEncoderReranker(), filter={"lang": "en"})
        retriever.invoke("how do I reset my password", k=3)
        chain = retriever | format_docs | prompt | llm
    """

    collection: Collection
    config: RetrieverConfig = Field(default_factory=RetrieverConfig)
    filter: Any = None
    score_key: str | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def __init__(self, **data: Any) -> None:
        options, rest = split_config_options(data)
        if "multi_query" in options:
            options["multi_query"] = as_query_generator(options["multi_query"])
        if options:
            rest["config"] = replace(rest.get("config") or RetrieverConfig(), **options)
        if rest.get("filter") is not None:
            rest["filter"] = parse_filter(rest["filter"])
        super().__init__(**rest)

    @property
    def retriever(self) -> Retriever:
        """The polyvec :class:`~polyvec.retriever.Retriever` this runs."""
        return Retriever(self.collection, self.config)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: FilterLike = None,
    ) -> list[LCDocument]:
        hits = self.retriever.search(
            query,
            k=k,
            filter=combine_filters(self.filter, filter),
            trace=langchain_wants_trace(run_manager) or None,
        )
        langchain_report(run_manager, hits)
        return _hits_to_lc(hits, self.score_key)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: FilterLike = None,
    ) -> list[LCDocument]:
        hits = await self.retriever.asearch(
            query,
            k=k,
            filter=combine_filters(self.filter, filter),
            trace=langchain_wants_trace(run_manager) or None,
        )
        await alangchain_report(run_manager, hits)
        return _hits_to_lc(hits, self.score_key)

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
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from polyvec.errors import ConfigurationError, InputError, MissingDependencyError

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
from polyvec.filters import matches
from polyvec.filters.from_langchain import PolyvecTranslator, structured_query_to_filter
from polyvec.filters.parse import FilterLike, parse_filter
from polyvec.fusion import Fusion
from polyvec.integrations._common import (
    PRIVATE_KEYS,
    combine_filters,
    split_config_options,
    visible_metadata,
)
from polyvec.integrations._langchain_extras import (
    LangChainEmbedder,
    LangChainQueryGenerator,
    PolyvecEmbeddings,
    PolyvecRerankCompressor,
    as_query_generator,
)
from polyvec.integrations._langchain_peers import open_collection, peer_mode, read_peer_options
from polyvec.integrations._langchain_search import SearchMethods, hits_to_lc, to_lc
from polyvec.integrations._scores import relevance_function
from polyvec.integrations._trace_events import (
    alangchain_report,
    langchain_report,
    langchain_wants_trace,
)
from polyvec.retriever import Retriever, RetrieverConfig
from polyvec.types import DocId, Document, as_dense

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


# -- the vector store ---------------------------------------------------------------------
class PolyvecVectorStore(SearchMethods, VectorStore):
    """A LangChain ``VectorStore`` over a polyvec :class:`~polyvec.collection.Collection`.

    Any backend polyvec speaks to; the collection's embedder embeds documents and queries
    (wrap LangChain embeddings with :class:`LangChainEmbedder`, or use :meth:`from_url`).
    Ids are strings (generated with ``uuid4`` where none is given); metadata is stored and
    returned unchanged. Filters are polyvec filters: a dict such as
    ``{"page": {"$gte": 3}}`` or a built one (``F("page") >= 3``).

    ``retrieval_mode`` is the mode of the by-text similarity searches (and of
    ``as_retriever()``): ``"dense"`` (default), ``"sparse"`` (BM25) or ``"hybrid"``
    (dense + BM25 fused with ``fusion``, DBSF by default) — langchain-qdrant's
    ``RetrievalMode`` values are taken too. MMR and by-vector searches are dense.
    Scores are raw and higher is better; ``relevance_score_fn`` picks how LangChain's
    [0, 1] relevance is made from them: a function of the raw score, or a peer's name
    (``"polyvec"``, ``"langchain-qdrant"``, ``"langchain-postgres"``,
    ``"langchain-chroma"``; table in docs/integrations/langchain.md).

    Made from a collection, or from the constructor keywords of the peer stores
    (``collection_name``, ``embeddings``, ``connection``, ``distance`` …, see
    :mod:`polyvec.integrations._langchain_peers`)::

        store = PolyvecVectorStore.from_texts(["a", "b"], embeddings, url="qdrant+memory://")
        store = PolyvecVectorStore(collection_name="docs", embeddings=embeddings,
                                   connection="postgresql+psycopg://app@db/rag",
                                   retrieval_mode="hybrid")
        store.similarity_search("a", k=1, filter={"lang": "en"})
        store.as_retriever(search_type="mmr", search_kwargs={"k": 4, "lambda_mult": 0.3})
    """

    def __init__(
        self,
        collection: Collection | None = None,
        *,
        retrieval_mode: Any = "dense",
        relevance_score_fn: str | Callable[[float], float] | None = None,
        fusion: Fusion | None = None,
        **peer_options: Any,
    ) -> None:
        if collection is None:
            peer = read_peer_options(peer_options)
            given = peer.embedding
            embedder = LangChainEmbedder(given) if isinstance(given, Embeddings) else given
            collection = open_collection(peer, embedder)
            retrieval_mode = peer.retrieval_mode or retrieval_mode
            relevance_score_fn = peer.relevance_score_fn or relevance_score_fn
        elif peer_options:
            raise ConfigurationError(
                f"PolyvecVectorStore got a collection and {sorted(peer_options)}: open the "
                "collection with those (polyvec.connect(...)), or pass them without collection"
            )
        if not isinstance(collection, Collection):
            raise TypeError(
                f"PolyvecVectorStore wraps a polyvec Collection, got {type(collection).__name__}: "
                "use PolyvecVectorStore.from_url(...) to open one"
            )
        self.collection = collection
        self.retrieval_mode = peer_mode(retrieval_mode)  # type: ignore[assignment]
        self.search_options: dict[str, Any] = {} if fusion is None else {"fusion": fusion}
        self.relevance_score_fn = relevance_score_fn
        relevance_function(relevance_score_fn, collection.spec.distance)  # checked now

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        collection: str = "langchain",
        embedding: Embeddings | Embedder | None = None,
        **options: Any,
    ) -> PolyvecVectorStore:
        """Open (or create) ``collection`` on the backend ``url`` names (see
        :func:`polyvec.connect`); ``embedding`` is LangChain ``Embeddings`` or a polyvec
        embedder (default: polyvec's offline MiniLM). ``options``: the store's
        (``retrieval_mode``, ``relevance_score_fn``, ``fusion``), peer spellings, and
        :func:`polyvec.connect`'s."""
        return cls(url=url, collection_name=_name(collection, options), embedding=embedding,
                   **options)  # fmt: skip

    @classmethod
    def from_existing_collection(cls, collection_name: str, **options: Any) -> PolyvecVectorStore:
        """langchain-qdrant's name for opening a store without adding texts."""
        return cls(collection_name=collection_name, **options)

    @classmethod
    def from_existing_index(cls, embedding: Any, **options: Any) -> PolyvecVectorStore:
        """PGVector's name for opening a store without adding texts."""
        return cls(embedding=embedding, **options)

    def __repr__(self) -> str:
        mode = "" if self.retrieval_mode == "dense" else f", retrieval_mode={self.retrieval_mode!r}"
        return f"PolyvecVectorStore(collection={self.collection!r}{mode})"

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
        ids: Sequence[str | int] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; re-adding an id replaces that document.
        ``kwargs`` (``batch_size``, ``progress``) go to :meth:`Collection.add`."""
        return self._add(list(texts), None, metadatas, ids, kwargs)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        ids: Sequence[str | int] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        items = list(texts)
        return await asyncio.to_thread(lambda: self.add_texts(items, metadatas, ids, **kwargs))

    def add_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: list[dict[str, Any]] | None = None,
        ids: Sequence[str | int] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Upsert ``texts`` with the vectors you embedded yourself (nothing is embedded;
        BM25 vectors and statistics are made as for :meth:`add_texts`)."""
        return self._add(list(texts), list(embeddings), metadatas, ids, kwargs)

    async def aadd_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: list[dict[str, Any]] | None = None,
        ids: Sequence[str | int] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        items = list(texts)
        return await asyncio.to_thread(
            lambda: self.add_embeddings(items, embeddings, metadatas, ids, **kwargs)
        )

    def _add(
        self,
        items: list[str],
        vectors: list[Sequence[float]] | None,
        metadatas: list[dict[str, Any]] | None,
        ids: Sequence[str | int] | None,
        kwargs: dict[str, Any],
    ) -> list[str]:
        metas = list(metadatas) if metadatas is not None else [{} for _ in items]
        given = list(ids) if ids is not None else [None] * len(items)
        vecs: list[Any] = vectors if vectors is not None else [None] * len(items)
        if not len(items) == len(metas) == len(given) == len(vecs):
            raise InputError(
                f"got {len(items)} texts, {len(metas)} metadatas, {len(given)} ids"
                + ("" if vectors is None else f" and {len(vecs)} embeddings")
                + ": pass one of each per text"
            )
        id_list = [str(i) if i is not None else str(uuid.uuid4()) for i in given]
        docs = [
            Document(i, t, _own_metadata(m, i), dense=None if v is None else as_dense(v, where=i))
            for i, t, m, v in zip(id_list, items, metas, vecs)
        ]
        self.collection.add(docs, **kwargs)
        return id_list

    def update_document(self, document_id: str, document: LCDocument) -> None:
        """Replace the stored document ``document_id`` (see :meth:`update_documents`)."""
        self.update_documents([document_id], [document])

    def update_documents(self, ids: Sequence[str], documents: Sequence[LCDocument]) -> None:
        """Replace stored documents: text, metadata and vectors. Every id must exist
        (``InputError`` naming the missing ones, before anything is written; add new
        documents with ``add_documents``)."""
        ids = list(ids)
        if len(ids) != len(documents):
            raise InputError(f"update_documents got {len(ids)} ids for {len(documents)} documents")
        found = {str(d.id) for d in self.collection.get(ids)}
        missing = [i for i in ids if str(i) not in found]
        if missing:
            raise InputError(
                f"update_documents: no stored document has the id(s) {missing[:5]!r}: add "
                "them with add_documents"
            )
        self.add_texts(
            [d.page_content for d in documents], [dict(d.metadata) for d in documents], ids
        )

    async def aupdate_documents(self, ids: Sequence[str], documents: Sequence[LCDocument]) -> None:
        await asyncio.to_thread(self.update_documents, ids, documents)

    def delete(
        self, ids: Sequence[str] | None = None, *, filter: FilterLike = None, **kwargs: Any
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
        self, ids: Sequence[str] | None = None, *, filter: FilterLike = None, **kwargs: Any
    ) -> bool:
        return await asyncio.to_thread(lambda: self.delete(ids, filter=filter, **kwargs))

    def delete_collection(self) -> None:
        """Drop the whole collection (documents and polyvec's state); :meth:`reset_collection`
        makes it again, empty. Until then every call raises ``CollectionNotFoundError``."""
        self.collection.drop()

    async def adelete_collection(self) -> None:
        await asyncio.to_thread(self.delete_collection)

    def reset_collection(self) -> None:
        """Drop the collection and make it again, empty, with the same settings."""
        old = self.collection
        old.drop()
        self.collection = Collection(
            old.backend, old.name, embedder=old.embedder, bm25=old.bm25,
            distance=old.spec.distance, options=old.spec.options, schema=old.schema,
        )  # fmt: skip

    # -- reads -----------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        """The documents with these ids that exist, in the order given."""
        return [to_lc(d) for d in self.collection.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        return [to_lc(d) for d in await self.collection.aget(list(ids))]

    def get(
        self,
        ids: str | Sequence[str] | None = None,
        where: FilterLike = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Stored documents as langchain-chroma's ``get`` returns them: a dict of parallel
        lists ``ids``, ``documents``, ``metadatas`` (and ``embeddings`` when ``include``
        names it). ``where`` is a polyvec filter (Chroma's ``where`` dicts are polyvec
        dicts too); ``ids`` and ``where`` together keep the ids that match. Order: ``ids``
        as given, else the engine's scroll order; ``offset``/``limit`` page through it."""
        if where_document is not None:
            raise ConfigurationError(
                "where_document is not supported: polyvec filters metadata; search the text "
                "with similarity_search or hybrid_search, or filter a metadata field with "
                "text_match ({'field': {'$text_match': 'word'}})"
            )
        wanted = set(include) if include is not None else {"documents", "metadatas"}
        unknown = wanted - {"documents", "metadatas", "embeddings"}
        if unknown:
            raise ConfigurationError(
                f"include={sorted(unknown)!r}: polyvec returns documents, metadatas, embeddings"
            )
        vectors = "embeddings" in wanted
        coll = self.collection
        filt = coll.prepare_filter(where)
        if ids is not None:
            docs = coll.get([ids] if isinstance(ids, str) else list(ids), with_vectors=vectors)
            if filt is not None:
                docs = [d for d in docs if matches(filt, d.metadata)]
        else:
            docs = [d for b in coll.scroll(filter=filt, with_vectors=vectors) for d in b]
        start = offset or 0
        docs = docs[start : None if limit is None else start + limit]
        out: dict[str, Any] = {"ids": [str(d.id) for d in docs]}
        out["documents"] = [d.text for d in docs] if "documents" in wanted else None
        out["metadatas"] = (
            [visible_metadata(d.metadata) for d in docs] if "metadatas" in wanted else None
        )
        out["embeddings"] = [d.dense.tolist() for d in docs] if vectors else None  # type: ignore[union-attr]
        return out

    # -- searches (SearchMethods) and the search types -------------------------------------
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
        """LangChain's [0, 1] relevance from polyvec's raw score: ``relevance_score_fn``
        (default ``"polyvec"``: a cosine score as it is, negatives as 0, so a positive
        threshold means what polyvec's ``score_threshold`` means; L2 as ``1 - d/√2``).
        In hybrid or sparse mode the scores are fused or BM25 scores: pass a function."""
        if self.retrieval_mode != "dense" and not callable(self.relevance_score_fn):
            raise ConfigurationError(
                f"relevance scores in {self.retrieval_mode} mode: the scores are "
                f"{'fused' if self.retrieval_mode == 'hybrid' else 'BM25'} scores, not "
                "similarities; pass relevance_score_fn=<a function of the score>, or use "
                "similarity_search_with_score with score_threshold="
            )
        return relevance_function(self.relevance_score_fn, self.collection.spec.distance)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        ids: Sequence[str | int] | None = None,
        *,
        url: str | None = None,
        collection: str | None = None,
        **options: Any,
    ) -> PolyvecVectorStore:
        """Open the collection (see :meth:`from_url`; the peers' keywords are read too)
        and add ``texts``."""
        name = _name(collection or "langchain", options)
        store = cls(url=url, collection_name=name, embedding=embedding, **options)
        store.add_texts(texts, metadatas, ids)
        return store

    def as_retriever(self, **kwargs: Any) -> PolyvecVectorStoreRetriever:
        """LangChain's vector store retriever, plus ``search_type="hybrid"``::

        store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "fusion": RRF(k=20)})
        """
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return PolyvecVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)


def _name(collection: str, options: dict[str, Any]) -> str:
    """``collection=`` (polyvec's spelling) or the peers' ``collection_name=`` /
    ``table_name=`` (PGVectorStore), popped."""
    given = {k: options.pop(k) for k in ("collection_name", "table_name") if k in options}
    named = {str(v) for v in given.values() if v is not None}
    if collection != "langchain":
        named.add(collection)
    if len(named) > 1:
        raise ConfigurationError(
            f"collection={collection!r} and {given} name two collections: give one"
        )
    return named.pop() if named else collection


def _own_metadata(metadata: dict[str, Any] | None, doc_id: str) -> dict[str, Any]:
    clash = PRIVATE_KEYS & (metadata or {}).keys()
    if clash:
        raise InputError(
            f"document {doc_id!r} has the metadata key(s) {sorted(clash)}, which polyvec "
            "reserves for the LlamaIndex adapter's bookkeeping: rename them"
        )
    return dict(metadata or {})


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
        return hits_to_lc(hits, self.score_key)

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
        return hits_to_lc(hits, self.score_key)

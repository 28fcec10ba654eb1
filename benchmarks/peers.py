"""The retrievers a user would pick instead of polyvec, on the same units (chunks or
whole documents), the same embedding model and the same BM25 settings where the peer
allows them. Each builder returns a search function ``query -> doc ids, best first``
(the max-over-chunks aggregation is done by the runner, alike for everyone).

Query embeddings are never cached (every peer pays for embedding its queries, as
polyvec does); document embeddings come from the shared disk cache.

* ``bm25s``: bm25s alone, Lucene BM25 k1=1.2 b=0.75, English stopwords + Snowball;
* LangChain ``EnsembleRetriever`` (langchain-classic) over ``BM25Retriever``
  (langchain-community, rank_bm25) and ``InMemoryVectorStore``: once with
  BM25Retriever's defaults (whitespace split, case kept), once with polyvec's tokenizer
  and k1=1.2 b=0.75; weights 0.5/0.5, its RRF c=60;
* langchain-qdrant ``QdrantVectorStore`` in hybrid mode (local mode, polyvec's BM25
  vectors as its sparse embedding; Qdrant's RRF);
* LlamaIndex ``QueryFusionRetriever`` (``relative_score`` and ``reciprocal_rerank``,
  one query, no LLM) over a ``VectorStoreIndex`` retriever and a BM25 retriever on
  bm25s (llama-index-retrievers-bm25 does exactly that, but pins PyStemmer<3). Its nodes
  embed their text alone: LlamaIndex's default would prefix each with the harness's
  metadata (``doc_id: <page name>``), handing it the page name in every chunk.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from polyvec.embeddings import Embedder
from polyvec.sparse.bm25 import BM25
from polyvec.sparse.stats import CorpusStats
from polyvec.types import Document

Searcher = Callable[[str], list[str]]


def _doc_id(meta: Any) -> str:
    return str(meta["doc_id"])


def bm25s_searcher(units: Sequence[Document], k: int) -> Searcher:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    opts: dict[str, Any] = {"stopwords": "en", "stemmer": stemmer, "show_progress": False}
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize([u.text for u in units], **opts), show_progress=False)
    ids = [_doc_id(u.metadata) for u in units]
    depth = min(k, len(units))

    def search(query: str) -> list[str]:
        tokens = bm25s.tokenize([query], return_ids=False, **opts)[0]
        tokens = [t for t in tokens if t in retriever.vocab_dict]
        if not tokens:
            return []
        docs, _ = retriever.retrieve([tokens], k=depth, show_progress=False, n_threads=1)
        return [ids[i] for i in docs[0]]

    return search


def langchain_embeddings(documents: Embedder, queries: Embedder) -> Any:
    from langchain_core.embeddings import Embeddings

    class PolyvecEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return documents.embed_documents(texts).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return queries.embed_queries([text])[0].tolist()  # type: ignore[no-any-return]

    return PolyvecEmbeddings()


def langchain_ensemble(
    units: Sequence[Document],
    k: int,
    documents: Embedder,
    queries: Embedder,
    *,
    polyvec_tokens: bool,
) -> Searcher:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_core.documents import Document as LCDocument
    from langchain_core.vectorstores import InMemoryVectorStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.retrievers import BM25Retriever

    docs = [LCDocument(page_content=u.text, metadata=dict(u.metadata)) for u in units]
    extra: dict[str, Any] = {}
    if polyvec_tokens:
        bm25 = BM25()
        extra = {"preprocess_func": bm25.tokenize, "bm25_params": {"k1": 1.2, "b": 0.75}}
    sparse = BM25Retriever.from_documents(docs, k=k, **extra)
    store = InMemoryVectorStore(langchain_embeddings(documents, queries))
    store.add_documents(docs)
    dense = store.as_retriever(search_kwargs={"k": k})
    ensemble = EnsembleRetriever(retrievers=[sparse, dense], weights=[0.5, 0.5])

    def search(query: str) -> list[str]:
        return [_doc_id(d.metadata) for d in ensemble.invoke(query)]

    return search


def langchain_qdrant_hybrid(
    units: Sequence[Document], k: int, documents: Embedder, queries: Embedder
) -> Searcher:
    from langchain_core.documents import Document as LCDocument
    from langchain_qdrant import QdrantVectorStore, RetrievalMode
    from langchain_qdrant.sparse_embeddings import SparseEmbeddings, SparseVector

    bm25 = BM25()
    stats = CorpusStats()
    stats.add_many(bm25.term_counts_many(u.text for u in units))

    class BM25Sparse(SparseEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[SparseVector]:
            return [
                SparseVector(indices=list(v.indices), values=list(v.values))
                for v in bm25.encode_documents(texts, stats)
            ]

        def embed_query(self, text: str) -> SparseVector:
            v = bm25.encode_query(text, stats)
            return SparseVector(indices=list(v.indices), values=list(v.values))

    store = QdrantVectorStore.from_documents(
        [LCDocument(page_content=u.text, metadata=dict(u.metadata)) for u in units],
        langchain_embeddings(documents, queries),
        sparse_embedding=BM25Sparse(),
        retrieval_mode=RetrievalMode.HYBRID,
        location=":memory:",
        collection_name="peer_lc_qdrant",
    )

    def search(query: str) -> list[str]:
        return [_doc_id(d.metadata) for d in store.similarity_search(query, k=k)]

    return search


def llamaindex_fusion(
    units: Sequence[Document], k: int, documents: Embedder, queries: Embedder, mode: str
) -> Searcher:
    import bm25s
    import Stemmer
    from llama_index.core import Settings, VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    class PolyvecEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return queries.embed_queries([query])[0].tolist()  # type: ignore[no-any-return]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return documents.embed_documents([text])[0].tolist()  # type: ignore[no-any-return]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return documents.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    # the metadata is the harness's bookkeeping (doc_id, chunk index): keep it out of the
    # embedded text, which LlamaIndex otherwise prefixes with it ("doc_id: ls\n\n…"),
    # so that every system embeds the same text (and the document cache applies)
    nodes = [
        TextNode(
            text=u.text,
            id_=str(u.id),
            metadata=dict(u.metadata),
            excluded_embed_metadata_keys=list(u.metadata),
            excluded_llm_metadata_keys=list(u.metadata),
        )
        for u in units
    ]
    embed = PolyvecEmbedding(model_name="all-MiniLM-L6-v2", embed_batch_size=256)
    Settings.embed_model = embed
    index = VectorStoreIndex(nodes, embed_model=embed, show_progress=False)
    vector = index.as_retriever(similarity_top_k=k)

    stemmer = Stemmer.Stemmer("english")
    opts: dict[str, Any] = {"stopwords": "en", "stemmer": stemmer, "show_progress": False}
    engine = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    engine.index(bm25s.tokenize([n.text for n in nodes], **opts), show_progress=False)

    class BM25sRetriever(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            tokens = bm25s.tokenize([query_bundle.query_str], return_ids=False, **opts)[0]
            tokens = [t for t in tokens if t in engine.vocab_dict]
            if not tokens:
                return []
            docs, scores = engine.retrieve(
                [tokens], k=min(k, len(nodes)), show_progress=False, n_threads=1
            )
            return [
                NodeWithScore(node=nodes[i], score=float(s)) for i, s in zip(docs[0], scores[0])
            ]

    fusion = QueryFusionRetriever(
        [vector, BM25sRetriever()],
        similarity_top_k=k,
        num_queries=1,
        mode=mode,  # type: ignore[arg-type]
        use_async=False,
        llm=MockLLM(),  # num_queries=1: no query generation, the LLM is never called
    )

    def search(query: str) -> list[str]:
        return [_doc_id(n.node.metadata) for n in fusion.retrieve(query)]

    return search


def peer_searchers(
    units: Sequence[Document], k: int, documents: Embedder, queries: Embedder
) -> dict[str, Callable[[], Searcher]]:
    """Builders (lazy: each indexes when called) of every peer, by display name."""
    return {
        "peer: bm25s": lambda: bm25s_searcher(units, k),
        "peer: LC Ensemble (BM25Retriever defaults)": lambda: langchain_ensemble(
            units, k, documents, queries, polyvec_tokens=False
        ),
        "peer: LC Ensemble (polyvec tokens, k1=1.2)": lambda: langchain_ensemble(
            units, k, documents, queries, polyvec_tokens=True
        ),
        "peer: langchain-qdrant hybrid": lambda: langchain_qdrant_hybrid(
            units, k, documents, queries
        ),
        "peer: LlamaIndex fusion relative_score": lambda: llamaindex_fusion(
            units, k, documents, queries, "relative_score"
        ),
        "peer: LlamaIndex fusion reciprocal_rerank": lambda: llamaindex_fusion(
            units, k, documents, queries, "reciprocal_rerank"
        ),
    }

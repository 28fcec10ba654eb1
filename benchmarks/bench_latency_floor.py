"""polyvec's hybrid query latency against its floor, in one run, as a ratio.

On CPU a dense or hybrid query cannot be faster than embedding the query plus the
engine's own search. This measures, per query and interleaved (so load from other
processes hits all three alike):

* ``embed``: ``embedder.embed_queries([q])`` — the query embedding alone;
* ``engine``: the engine's own hybrid call with both query vectors already made —
  ``EdgeShard.query`` with a dense and a BM25 prefetch fused natively with the default
  fusion, exactly the request
  polyvec sends (qdrant-edge, the embedded default);
* ``polyvec``: ``Retriever.search(q, k)`` with the default hybrid configuration —
  embedding, BM25 query encoding, the engine call and building the hits.

and reports ``p50(polyvec) ÷ (p50(embed) + p50(engine))`` (target ≤ 1.15) and the
median of the same ratio taken query by query. Passages are real man-page and
docstring text (``benchmarks/corpus.py``) embedded with the default MiniLM model.

    python -m benchmarks.bench_latency_floor --n 5000 --queries 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.corpus import passages
from benchmarks.timing import p50_p95, race
from polyvec import Collection, Document
from polyvec.backends.registry import open_backend
from polyvec.embeddings import default_embedder
from polyvec.fusion import DBSF, RRF


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="passages in the collection")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    import qdrant_edge as qe

    texts = passages(args.n)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(texts), args.queries, replace=False)
    queries = [" ".join(texts[i].split()[:8]) for i in picks]
    embedder = default_embedder()
    embedder.embed_queries(["warm up"])

    with tempfile.TemporaryDirectory() as tmp:
        backend: Any = open_backend(f"qdrant-edge://{tmp}")
        coll = Collection(backend, "floor", embedder=embedder)
        coll.add([Document(i, t) for i, t in enumerate(texts)], progress=True)
        backend.optimize("floor")
        retriever = coll.retriever()
        config = retriever.config
        if not isinstance(config.fusion, (RRF, DBSF)) or config.fusion.weights is not None:
            raise SystemExit(f"no native qdrant-edge request for {config.fusion!r}")
        candidates = config.leg_depth(args.k)
        shard = backend._shard("floor")  # the engine object polyvec itself calls
        layout = backend.layout

        # the request polyvec sends for the default fusion (native in qdrant-edge)
        fusion = (
            qe.Fusion.Rrf(k=int(config.fusion.k))
            if isinstance(config.fusion, RRF)
            else qe.Fusion.Dbsf()
        )

        def engine_request(q: str) -> Any:
            dense = embedder.embed_queries([q])[0].tolist()
            sparse = coll.encode_query_sparse(q)
            prefetches = [
                qe.Prefetch(limit=candidates, query=qe.Query.Nearest(dense, using=layout.dense)),
                qe.Prefetch(
                    limit=candidates,
                    query=qe.Query.Nearest(
                        qe.SparseVector(list(sparse.indices), list(sparse.values)),
                        using=layout.sparse,
                    ),
                ),
            ]
            return qe.QueryRequest(
                limit=args.k, query=fusion, prefetches=prefetches, with_payload=True
            )

        requests = {q: engine_request(q) for q in queries}
        fns: dict[str, Callable[[str], Any]] = {
            "embed": lambda q: embedder.embed_queries([q]),
            "engine": lambda q: shard.query(requests[q]),
            "polyvec": lambda q: retriever.search(q, k=args.k),
        }
        runs = race(fns, queries)

    p50 = {name: p50_p95(s)[0] for name, s in runs.items()}
    p95 = {name: p50_p95(s)[1] for name, s in runs.items()}
    per_query = statistics.median(
        pv / (e + g) for pv, e, g in zip(runs["polyvec"], runs["embed"], runs["engine"])
    )
    floor = p50["embed"] + p50["engine"]
    print(
        f"\n## Hybrid latency vs its floor: qdrant-edge, {len(texts)} passages, {len(queries)} queries"
    )
    print(f"fusion {config.fusion!r}, {candidates} candidates per leg, k={args.k}\n")
    print("| part | p50 ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for name in fns:
        print(f"| {name} | {p50[name] * 1e3:.2f} | {p95[name] * 1e3:.2f} |")
    print(f"\npolyvec p50 ÷ (embed p50 + engine p50) = {p50['polyvec'] / floor:.3f}×")
    print(f"median over queries of polyvec ÷ (embed + engine) = {per_query:.3f}×")


if __name__ == "__main__":
    main()

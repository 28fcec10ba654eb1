"""``polyvec eval`` on a large BEIR folder: the default engine vs qdrant-client's local mode.

``polyvec eval`` used to default to ``qdrant+memory://`` (qdrant-client's pure-Python
local mode), whose sparse search scans every point in Python: on a corpus of tens of
thousands of documents an evaluation takes hours. It now defaults to ``qdrant-edge://``
(Qdrant's Rust engine in a temporary directory). This benchmark runs the default
configurations (bm25, dense, hybrid) on both, in one run, with the same cached document
embeddings::

    python -m benchmarks.bench_eval_engines .data/datasets/kerneldocs \\
        --cache-dir .polyvec/embcache --local-queries 30

The default engine evaluates every query of the split; local mode evaluates the first
``--local-queries`` (it would take hours on all of them) and its total is projected from
its per-query time, labelled as a projection. Ingest (from the embedding cache) is timed
separately from the queries. Query embeddings are computed once and shared (both engines
get the same vectors), so the ratio is the engines' own.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from polyvec.evaluation.beir import BeirDataset, load_beir
from polyvec.evaluation.cli import DEFAULT_CONFIGS, EVAL_URL
from polyvec.evaluation.evaluate import evaluate
from polyvec.evaluation.runner import IngestOptions, QueryEmbedderSplit, ingest


def _timed(data: BeirDataset, url: str, embedder: QueryEmbedderSplit) -> tuple[float, float, dict]:
    started = time.perf_counter()
    coll = ingest(data, url, embedder=embedder, options=IngestOptions(), progress=True)
    ingested = time.perf_counter() - started
    try:
        started = time.perf_counter()
        report = evaluate(data, list(DEFAULT_CONFIGS), collection=coll, options=IngestOptions())
        queried = time.perf_counter() - started
    finally:
        coll.close()
    scores = {r.name: round(r.metrics.get("ndcg@10", float("nan")), 4) for r in report.results}
    return ingested, queried, scores


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="BEIR folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache-dir", default=".polyvec/embcache")
    parser.add_argument("--local-queries", type=int, default=30)
    parser.add_argument("--local-url", default="qdrant+memory://")
    args = parser.parse_args(argv)

    from polyvec.embeddings import CachedEmbedder, default_embedder

    data = load_beir(args.dataset, args.split)
    print(data.summary(), f"(load {os.getloadavg()[0]:.1f})")
    base = default_embedder()
    cached = CachedEmbedder(base, directory=args.cache_dir)
    embedder = QueryEmbedderSplit(cached, cached)  # queries cached too: engines alone differ
    n_q = len(data.queries)
    cached.embed_queries(list(data.queries.values()))  # warm: no side pays for embedding

    edge_ingest, edge_query, edge_scores = _timed(data, EVAL_URL, embedder)
    sample = data.sample(args.local_queries)
    local_ingest, local_query, local_scores = _timed(sample, args.local_url, embedder)
    edge_per_q = edge_query / n_q
    local_per_q = local_query / len(sample.queries)
    print()
    print(f"| engine | ingest (s) | queries timed | query time (s) | per query (ms) | "
          f"all {n_q} queries (s) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {EVAL_URL} (default) | {edge_ingest:.1f} | {n_q} | {edge_query:.1f} | "
          f"{1000 * edge_per_q:.1f} | {edge_query:.1f} (measured) |")  # fmt: skip
    print(f"| {args.local_url} | {local_ingest:.1f} | {len(sample.queries)} | "
          f"{local_query:.1f} | {1000 * local_per_q:.1f} | "
          f"{local_per_q * n_q:.0f} (projected) |")  # fmt: skip
    print(
        f"\nper query: local mode / default = {local_per_q / edge_per_q:.0f}x; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"nDCG@10 on all queries ({EVAL_URL}): {edge_scores}")
    print(f"nDCG@10 on the first {len(sample.queries)} ({args.local_url}): {local_scores}")


if __name__ == "__main__":
    main()

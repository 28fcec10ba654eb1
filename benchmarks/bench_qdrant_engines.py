"""Qdrant engines for polyvec's embedded default: qdrant-client local mode (``:memory:``
and ``path=``) vs qdrant-edge-py (Qdrant's Rust engine in-process), through polyvec's
backends (``QdrantBackend``, ``QdrantEdgeBackend``), on the same synthetic data.

    python benchmarks/bench_qdrant_engines.py --n 100000      # the documented run
    python benchmarks/bench_qdrant_engines.py --n 5000 --queries 50   # a quick check

Data (synthetic, said so in the output): ``--dim``-d random unit vectors with queries
that are noisy copies of stored ones; BM25-shaped sparse vectors from Zipf-distributed
term ids (document side: term-frequency saturation; query side: 1s, the engine applies
IDF); a ``group`` metadata field with 10 values for filtered search. Each engine runs
in its own subprocess (clean peak RSS), one after the other. Measured: ingest rate,
reopen time (on-disk stores), dense / filtered dense / sparse / hybrid (RRF) latency
p50 and p95, dense recall@k against exact search, peak RSS, disk size. qdrant-edge is
measured as ingested and again after ``optimize()`` (which builds its HNSW index).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.filters import F
from polyvec.fusion import RRF
from polyvec.types import Document, SparseVector

ENGINES = ("qdrant-memory", "qdrant-local", "qdrant-edge")
NAME = "bench"


def make_data(
    args: argparse.Namespace,
) -> tuple[np.ndarray, list[SparseVector], np.ndarray, list[SparseVector]]:
    rng = np.random.default_rng(args.seed)
    if args.clusters:  # embedding-like: documents gather around topics
        centers = rng.normal(size=(args.clusters, args.dim)).astype(np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        noise = rng.normal(scale=0.05, size=(args.n, args.dim)).astype(np.float32)
        dense = centers[rng.integers(0, args.clusters, size=args.n)] + noise
    else:
        dense = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    ranks = np.arange(1, args.vocab + 1)
    zipf = (1.0 / ranks) / np.sum(1.0 / ranks)
    lengths = rng.poisson(args.doc_len, size=args.n) + 1
    avgdl = float(lengths.mean())
    k1, b = 1.2, 0.75
    tokens = rng.choice(args.vocab, size=int(lengths.sum()), p=zipf)
    sparse = []
    for length, chunk in zip(lengths, np.split(tokens, np.cumsum(lengths)[:-1])):
        terms, tf = np.unique(chunk, return_counts=True)
        weights = tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))
        sparse.append(SparseVector(tuple(terms.tolist()), tuple(weights.tolist())))
    picks = rng.integers(0, args.n, size=args.queries)
    queries = dense[picks] + rng.normal(scale=0.05, size=(args.queries, args.dim)).astype(
        np.float32
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    sparse_q = []
    for pick in picks:  # 2-4 terms of the picked document, so each query has matches
        terms = sparse[pick].indices
        chosen = rng.choice(terms, size=min(len(terms), int(rng.integers(2, 5))), replace=False)
        sparse_q.append(SparseVector.from_dict({int(t): 1.0 for t in chosen}))
    return dense, sparse, queries, sparse_q


def open_engine(engine: str, where: Path) -> Backend:
    from polyvec.backends.registry import open_backend

    url = {
        "qdrant-memory": "qdrant+memory://",
        "qdrant-local": f"qdrant+local://{where}",
        "qdrant-edge": f"qdrant-edge://{where}",
    }[engine]
    return open_backend(url, batch_size=1024)


def timed(fn: Callable[[int], Any], count: int, budget_s: float) -> dict[str, float]:
    """Latency p50/p95 in ms over up to ``count`` calls, stopping after ``budget_s``."""
    times = []
    start = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s and len(times) >= 5:
            break
    ms = np.array(times) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "n": len(ms)}


def measure_queries(
    backend: Backend,
    args: argparse.Namespace,
    queries: np.ndarray,
    sparse_q: list[SparseVector],
    exact: list[set[str]],
) -> dict[str, Any]:
    k, budget = args.k, args.budget
    group = F("group") == "g3"
    out: dict[str, Any] = {
        "dense": timed(lambda i: backend.search_dense(NAME, queries[i], k), len(queries), budget),
        "dense_filtered": timed(
            lambda i: backend.search_dense(NAME, queries[i], k, group), len(queries), budget
        ),
        "sparse": timed(
            lambda i: backend.search_sparse(NAME, sparse_q[i], k), len(queries), budget
        ),
        "hybrid_rrf": timed(
            lambda i: backend.search_hybrid(
                NAME, queries[i], sparse_q[i], k, fusion=RRF(), candidates=args.candidates
            ),
            len(queries),
            budget,
        ),
    }
    n_recall = min(len(queries), 50)
    found = [{h.id for h in backend.search_dense(NAME, queries[i], k)} for i in range(n_recall)]
    out["recall"] = float(np.mean([len(f & e) / k for f, e in zip(found, exact)]))
    return out


def run_engine(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    warnings.filterwarnings("ignore")  # local mode warns above 20k points
    dense, sparse, queries, sparse_q = make_data(args)
    exact_ids = np.argsort(-(dense @ queries[: min(len(queries), 50)].T), axis=0)[: args.k].T
    exact = [{f"d{j}" for j in row} for row in exact_ids]
    docs = [
        Document(f"d{i}", "", {"group": f"g{i % 10}", "i": i}, dense[i], sparse[i])
        for i in range(args.n)
    ]
    root = Path(tempfile.mkdtemp(prefix="polyvec-bench-"))
    where = root / "store"
    result: dict[str, Any] = {"engine": engine}
    try:
        backend = open_engine(engine, where)
        options = {"payload_indexes": {"group": "keyword"}} if engine == "qdrant-edge" else {}
        backend.create_collection(CollectionSpec(NAME, args.dim, "cosine", True, options))
        t0 = time.perf_counter()
        for start in range(0, args.n, 1024):
            backend.upsert(NAME, docs[start : start + 1024])
        result["ingest_s"] = time.perf_counter() - t0
        result["ingest_per_s"] = args.n / result["ingest_s"]
        assert backend.count(NAME) == args.n
        result["queries"] = measure_queries(backend, args, queries, sparse_q, exact)
        if engine == "qdrant-edge":
            t0 = time.perf_counter()
            backend.optimize(NAME)  # type: ignore[attr-defined]
            result["optimize_s"] = time.perf_counter() - t0
            result["queries_optimized"] = measure_queries(backend, args, queries, sparse_q, exact)
        backend.close()
        if engine != "qdrant-memory":
            t0 = time.perf_counter()
            again = open_engine(engine, where)
            again.search_dense(NAME, queries[0], args.k)
            result["reopen_s"] = time.perf_counter() - t0
            again.close()
            result["disk_mb"] = (
                sum(p.stat().st_size for p in where.rglob("*") if p.is_file()) / 2**20
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def short(ms: float) -> str:
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nSynthetic data: {args.n:,} unit vectors ({args.dim}-d, "
        f"{f'{args.clusters} Gaussian clusters' if args.clusters else 'uniform'}), "
        f"queries = noisy copies of stored vectors; Zipf sparse vectors "
        f"(vocab {args.vocab:,}, ~{args.doc_len} tokens/doc); k={args.k}, hybrid = native RRF "
        f"over {args.candidates} candidates per leg; latencies in ms (p50 / p95)."
    )
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for r in results:
        rows.append((r["engine"], r, r["queries"]))
        if "queries_optimized" in r:
            rows.append((r["engine"] + " +optimize", r, r["queries_optimized"]))
    head = (
        f"{'engine':<23}{'ingest/s':>9}{'dense':>18}{'dense+filter':>18}{'sparse':>18}"
        f"{'hybrid':>18}{'recall':>8}{'reopen s':>10}{'RSS MB':>8}{'disk MB':>9}"
    )
    print(head)
    print("-" * len(head))
    for label, r, q in rows:

        def lat(kind: str, q: dict[str, Any] = q) -> str:
            return f"{short(q[kind]['p50'])} / {short(q[kind]['p95'])}"

        print(
            f"{label:<23}{fmt(r['ingest_per_s'], 0):>9}{lat('dense'):>18}"
            f"{lat('dense_filtered'):>18}{lat('sparse'):>18}{lat('hybrid_rrf'):>18}{q['recall']:>8.3f}"
            f"{fmt(r.get('reopen_s'), 2):>10}{fmt(r['peak_rss_mb'], 0):>8}{fmt(r.get('disk_mb'), 0):>9}"
        )
    edge = next((r for r in results if r["engine"] == "qdrant-edge"), None)
    if edge is None:
        return
    best = edge.get("queries_optimized", edge["queries"])
    print("\nRatios (qdrant-client local mode / qdrant-edge; > 1 means edge is faster):")
    for r in results:
        if r is edge:
            continue
        parts = [f"ingest {edge['ingest_per_s'] / r['ingest_per_s']:.1f}x"]
        for kind in ("dense", "dense_filtered", "sparse", "hybrid_rrf"):
            parts.append(f"{kind} {r['queries'][kind]['p50'] / best[kind]['p50']:.1f}x")
        if "reopen_s" in r and "reopen_s" in edge:
            parts.append(f"reopen {r['reopen_s'] / edge['reopen_s']:.1f}x")
        print(f"  {r['engine']:<14} " + ", ".join(parts))
    if "optimize_s" in edge:
        print(f"  qdrant-edge optimize() (HNSW build): {edge['optimize_s']:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument(
        "--clusters", type=int, default=1000, help="topic clusters (0: uniform random vectors)"
    )
    parser.add_argument("--vocab", type=int, default=30_000)
    parser.add_argument("--doc-len", type=int, default=60)
    parser.add_argument("--budget", type=float, default=60.0, help="max seconds per query kind")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # child mode: one engine, JSON out
    args = parser.parse_args(argv)
    if args.engine:
        print(json.dumps(run_engine(args.engine, args)))
        return
    results = []
    child_args = [a for a in (argv if argv is not None else sys.argv[1:])]
    for engine in args.engines.split(","):
        print(f"running {engine} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, *child_args, "--engine", engine],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            check=False,
        )
        if done.returncode != 0:
            print(f"{engine} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {engine} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report(results, args)


if __name__ == "__main__":
    main()

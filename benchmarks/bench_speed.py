"""Speed as ratios, in one run: polyvec vs what a user would call directly.

1. **BM25 leg vs bm25s**: queries/s of polyvec's sparse leg (``mode="sparse"``: tokenize,
   IDF, engine search, hits) on qdrant-edge and qdrant-client local mode vs ``bm25s``
   (tokenize + retrieve), same passages, k1=1.2 b=0.75, k=10. Target ≥ 0.5×.
2. **MMR vs langchain-core** at fetch_k=200, d=384, k=20 (``benchmarks/bench_mmr.py``'s
   inputs). Target ≥ 5×.
3. **Rerank vs CrossEncoder.predict**: pairs/s of ``CrossEncoderReranker.rerank`` vs the
   model's own ``predict`` on the same pairs (a CrossEncoder on the offline MiniLM
   weights, untrained head: speed only). Target ≥ 0.95×.
4. **Per backend vs raw client, 10k → 100k vectors**: ``Collection.add`` (includes BM25
   encoding) and dense query p50/p95 (query vector given, k=10, ``candidates=10`` so both
   sides fetch 10 — by default a single-leg query fetches ``max(50, 4k)``) vs the raw
   client's own insert and query (``benchmarks/raw_clients.py``: qdrant-client, chromadb,
   psycopg 3 + pgvector on a PostgreSQL started as the tests start it, pymilvus on Milvus
   Lite, a ``qdrant_edge.EdgeShard`` of its own), on synthetic 384-d unit vectors with
   real passage texts; queries raced interleaved. qdrant-edge has no background
   optimizer: up to ``--optimize-up-to`` vectors the run calls ``Collection.optimize()``
   and the raw shard's ``optimize()`` (HNSW build, timed apart) before querying; above
   it both query by full scan. ``--max-vectors BACKEND=N`` sets the largest collection
   a backend runs at (``all=N`` every backend; ``N`` may be ``none``, no limit): by
   default qdrant-edge has no limit and the others stop at 20k vectors, as before the
   option existed (at 100k they ingest 260-4,000 docs/s on a shared 2-core machine, a
   few minutes each; 1M would take up to an hour a side); ``--max-vectors all=none``
   runs every backend at every ``--scale``.

Text: real man-page and docstring passages (``benchmarks/corpus.py``); dense vectors
are random (seeded), so no embedding model is timed except in (3).

    python -m benchmarks.bench_speed --n 10000 --scale 10000 100000 --out docs/benchmarks
    python -m benchmarks.bench_speed --skip bm25 mmr rerank --scale 100000 --queries 100 \
        --optimize-up-to 0 --max-vectors all=none
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_mmr import best_of
from benchmarks.corpus import passages
from benchmarks.raw_clients import Raw, raw_chroma, raw_edge, raw_milvus, raw_pgvector, raw_qdrant
from benchmarks.timing import race
from polyvec import Collection, Document, RetrieverConfig
from polyvec.backends.registry import open_backend
from polyvec.types import Hit

DIM = 384


class NoModel:
    """An embedder that must never be called: every vector here is given."""

    name, dimension = "synthetic-384", DIM

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("documents carry their vectors")

    embed_queries = embed_documents


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def unit_vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def pct(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return 1e3 * statistics.median(ordered), 1e3 * ordered[round(0.95 * (len(ordered) - 1))]


def collection(url: str, texts: Sequence[str], vectors: np.ndarray) -> tuple[Collection, float]:
    coll = Collection(open_backend(url), "speed", embedder=NoModel())  # type: ignore[arg-type]
    docs = [Document(i, t, {"n": i}, dense=vectors[i]) for i, t in enumerate(texts)]
    gc.collect()
    t = time.perf_counter()
    coll.add(docs, progress=False)
    return coll, time.perf_counter() - t


# -- 1. BM25 -----------------------------------------------------------------------------
def bench_bm25(texts: Sequence[str], queries: Sequence[str], tmp: Path) -> list[str]:
    import bm25s
    import Stemmer

    opts: dict[str, Any] = {"stopwords": "en", "stemmer": Stemmer.Stemmer("english")}
    engine = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    engine.index(bm25s.tokenize(list(texts), show_progress=False, **opts), show_progress=False)

    def theirs(i: int) -> Any:
        tokens = bm25s.tokenize([queries[i]], return_ids=False, show_progress=False, **opts)[0]
        known = [t for t in tokens if t in engine.vocab_dict]
        return engine.retrieve([known], k=10, show_progress=False, n_threads=1) if known else []

    vectors = unit_vectors(len(texts), 1)
    fns: dict[str, Callable[[int], Any]] = {"bm25s": theirs}
    colls = []
    for label, url in (
        ("qdrant-edge", f"qdrant-edge://{tmp / 'bm25-edge'}"),
        ("qdrant local", "qdrant+memory://"),
    ):
        coll, _ = collection(url, texts, vectors)
        colls.append(coll)
        retriever = coll.retriever(RetrieverConfig(mode="sparse"))
        fns[f"polyvec BM25 leg, {label}"] = lambda i, r=retriever: r.search(queries[i], k=10)
    times = race(fns, range(len(queries)), warmup=1)
    for c in colls:
        c.close()
    base = statistics.median(times["bm25s"])
    lines = [
        f"### BM25 leg vs bm25s ({len(texts)} passages, {len(queries)} queries, k=10)\n",
        "| system | queries/s | p50 ms | ratio to bm25s (throughput) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, samples in times.items():
        med = statistics.median(samples)
        lines.append(f"| {name} | {1 / med:.0f} | {1e3 * med:.2f} | {base / med:.2f}× |")
    return lines


# -- 2. MMR ------------------------------------------------------------------------------
def bench_mmr() -> list[str]:
    from langchain_core.vectorstores.utils import maximal_marginal_relevance

    from polyvec.mmr import mmr_select

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, DIM)).astype(np.float32)
    query = rng.normal(size=DIM).astype(np.float32)
    assert mmr_select(query, emb, 20, 0.5) == maximal_marginal_relevance(query, emb, 0.5, 20)
    ours = best_of(lambda: mmr_select(query, emb, 20, 0.5), 30)
    theirs = best_of(lambda: maximal_marginal_relevance(query, emb, 0.5, 20), 30)
    return [
        "### MMR vs langchain-core (fetch_k=200, d=384, k=20, best of 30)\n",
        "| implementation | ms | speed-up |",
        "| --- | ---: | ---: |",
        f"| langchain-core maximal_marginal_relevance | {theirs * 1e3:.3f} | 1.00× |",
        f"| polyvec mmr_select | {ours * 1e3:.3f} | {theirs / ours:.1f}× |",
    ]


# -- 3. rerank ---------------------------------------------------------------------------
def bench_rerank(texts: Sequence[str], queries: Sequence[str], per_query: int) -> list[str]:
    from polyvec.evaluation.specs import untrained_minilm_cross_encoder
    from polyvec.rerank import CrossEncoderReranker

    model = untrained_minilm_cross_encoder()
    reranker = CrossEncoderReranker(model, batch_size=32)
    hits = [
        [
            Hit(Document(j, texts[(i * per_query + j) % len(texts)]), 1.0, "cosine")
            for j in range(per_query)
        ]
        for i in range(len(queries))
    ]

    def ours(i: int) -> Any:
        return reranker.rerank(queries[i], hits[i])

    def theirs(i: int) -> Any:
        pairs = [(queries[i], h.document.text) for h in hits[i]]
        return model.predict(pairs, batch_size=32, show_progress_bar=False)

    times = race(
        {"CrossEncoder.predict": theirs, "polyvec rerank": ours}, range(len(queries)), warmup=1
    )
    a, b = sum(times["CrossEncoder.predict"]), sum(times["polyvec rerank"])
    n_pairs = len(queries) * per_query
    return [
        f"### Rerank vs CrossEncoder.predict ({len(queries)} queries × {per_query} "
        "passages, batch 32)\n",
        "| path | pairs/s | ratio |",
        "| --- | ---: | ---: |",
        f"| CrossEncoder.predict | {n_pairs / a:.0f} | 1.00× |",
        f"| polyvec CrossEncoderReranker.rerank | {n_pairs / b:.0f} | {a / b:.3f}× |",
    ]


# -- 4. backends and scale ---------------------------------------------------------------
BACKENDS = ("qdrant-edge", "qdrant-memory", "chroma-local", "pgvector", "milvus-lite")
SMALL_ONLY = 20_000
"""The default ``--max-vectors`` of every backend but qdrant-edge (which has none)."""


def default_max_vectors() -> dict[str, int | None]:
    """The largest collection each backend runs at by default (``None``: no limit)."""
    return {name: None if name == "qdrant-edge" else SMALL_ONLY for name in BACKENDS}


def parse_max_vectors(text: str) -> tuple[str, int | None]:
    """``BACKEND=N`` (or ``all=N``; ``N`` an integer or ``none``) as ``(name, N)``."""
    name, sep, value = text.partition("=")
    if not sep or name not in (*BACKENDS, "all"):
        raise argparse.ArgumentTypeError(f"expected BACKEND=N with BACKEND in {BACKENDS} or all")
    if value.lower() in ("none", "inf"):
        return name, None
    try:
        return name, int(value.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a vector count or 'none'") from None


def max_vectors(pairs: Sequence[tuple[str, int | None]]) -> dict[str, int | None]:
    """The default limits with ``pairs`` applied in order (``all`` sets every backend)."""
    limits = default_max_vectors()
    for name, limit in pairs:
        limits.update(dict.fromkeys(BACKENDS if name == "all" else (name,), limit))
    return limits


def polyvec_url(name: str, n: int, tmp: Path, pg_uri: str) -> str:
    if name == "pgvector":
        return f"{pg_uri}{'&' if '?' in pg_uri else '?'}schema=speed{n}"
    return {
        "qdrant-edge": f"qdrant-edge://{tmp / f'edge{n}'}",
        "qdrant-memory": "qdrant+memory://",
        "chroma-local": f"chroma+local://{tmp / f'chroma{n}'}",
        "milvus-lite": f"milvus+lite://{tmp / f'milvus{n}.db'}",
    }[name]


def raw_client(
    name: str, n: int, texts: Sequence[str], vectors: np.ndarray, tmp: Path, pg_uri: str,
    optimize: bool,
) -> Raw:  # fmt: skip
    if name == "qdrant-edge":
        return raw_edge(texts, vectors, tmp / f"rawedge{n}", optimize)
    if name == "qdrant-memory":
        return raw_qdrant(texts, vectors)
    if name == "chroma-local":
        return raw_chroma(texts, vectors, tmp / f"rawchroma{n}")
    if name == "pgvector":
        return raw_pgvector(texts, vectors, pg_uri, f"raw_speed{n}")
    return raw_milvus(texts, vectors, tmp / f"rawmilvus{n}.db")


def bench_backend(
    name: str, n: int, texts: Sequence[str], vectors: np.ndarray, queries: np.ndarray,
    tmp: Path, pg_uri: str, optimize: bool,
) -> str:  # fmt: skip
    """One table row: polyvec's ``Collection.add`` and the raw client's load, then
    their dense queries raced."""
    log(f"{name} {n}: polyvec ingest")
    coll, t_pv = collection(polyvec_url(name, n, tmp, pg_uri), texts, vectors)
    label = name
    edge = name == "qdrant-edge"
    if edge and optimize:
        log(f"{name} {n}: polyvec optimize")
        t0 = time.perf_counter()
        coll.optimize()  # build HNSW: an Edge shard has no background optimizer
        t_opt = time.perf_counter() - t0
    log(f"{name} {n}: raw ingest")
    raw = raw_client(name, n, texts, vectors, tmp, pg_uri, edge and optimize)
    if edge:
        label += (
            f" (optimized in {t_opt:.0f} s; raw {raw.optimize_s:.0f} s)"
            if raw.optimize_s is not None
            else " (full scan)"
        )
    try:
        retriever = coll.retriever(RetrieverConfig(mode="dense", candidates=10))
        fns: dict[str, Callable[[int], Any]] = {
            "pv": lambda i: retriever.search("q", k=10, vector=queries[i]),
            "raw": lambda i: raw.query(queries[i]),
        }
        log(f"{name} {n}: queries")
        times = race(fns, range(len(queries)), warmup=1)
    finally:
        coll.close()
        raw.close()
    (p50, p95), (r50, r95) = pct(times["pv"]), pct(times["raw"])
    return (
        f"| {label} | {n} | {n / t_pv:.0f} | {n / raw.ingest_s:.0f} | {p50:.2f} / {p95:.2f} "
        f"| {r50:.2f} / {r95:.2f} | {p50 / r50:.2f}× |"
    )


def bench_backends(
    texts: Sequence[str],
    sizes: Sequence[int],
    n_queries: int,
    tmp: Path,
    optimize_up_to: int = 100_000,
    backends: Sequence[str] = BACKENDS,
    limits: dict[str, int | None] | None = None,
) -> list[str]:
    limits = default_max_vectors() if limits is None else limits

    def runs(name: str, n: int) -> bool:
        limit = limits.get(name)
        return limit is None or n <= limit

    lines = [
        "### Dense query and ingest per backend vs the raw client (synthetic 384-d vectors)\n",
        "| backend | vectors | polyvec ingest docs/s | raw ingest docs/s | polyvec p50 / p95 ms "
        "| raw p50 / p95 ms | polyvec p50 ÷ raw p50 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    queries = unit_vectors(n_queries, 7)
    server = None
    if "pgvector" in backends and any(runs("pgvector", n) for n in sizes):
        from tests.engines.pgvector import start_server  # the way the tests start it

        log("pgvector: starting PostgreSQL")
        server = start_server()
    try:
        for n in sizes:
            corpus = [texts[i % len(texts)] for i in range(n)]
            vectors = unit_vectors(n, 3)
            for name in backends:
                if not runs(name, n):
                    log(f"{name} {n}: skipped (--max-vectors {name}={limits.get(name)})")
                    continue
                lines.append(
                    bench_backend(name, n, corpus, vectors, queries, tmp,
                                  server.uri if server else "", n <= optimize_up_to)
                )  # fmt: skip
                log(lines[-1])
    finally:
        if server is not None:
            server.stop()  # by pid
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="passages for the BM25 comparison")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--scale", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--rerank-queries", type=int, default=8)
    ap.add_argument(
        "--optimize-up-to",
        type=int,
        default=100_000,
        help="build qdrant-edge's HNSW index (Collection.optimize) up to this many vectors; "
        "larger collections are queried by full scan",
    )
    ap.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument(
        "--max-vectors",
        nargs="*",
        default=[],
        type=parse_max_vectors,
        metavar="BACKEND=N",
        help="largest --scale each backend runs at (all=N: every backend; N may be 'none'); "
        f"default qdrant-edge=none, the others {SMALL_ONLY}",
    )
    ap.add_argument("--out", default=None, help="write the tables to OUT/speed.md (replaces it)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bm25", "mmr", "rerank", "backends"])
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    texts = passages(args.n)
    rng = np.random.default_rng(0)
    queries = [" ".join(texts[i].split()[:8]) for i in rng.choice(len(texts), args.queries)]
    tmp = Path(tempfile.mkdtemp(prefix="polyvec-speed-"))
    out: list[str] = []
    sections: dict[str, Callable[[], list[str]]] = {
        "mmr": bench_mmr,
        "rerank": lambda: bench_rerank(texts, queries[: args.rerank_queries], 32),
        "bm25": lambda: bench_bm25(texts, queries, tmp),
        "backends": lambda: bench_backends(
            texts,
            args.scale,
            min(args.queries, 100),
            tmp,
            args.optimize_up_to,
            args.backends,
            max_vectors(args.max_vectors),
        ),
    }
    try:
        for name, fn in sections.items():
            if name in args.skip:
                continue
            log(f"section {name}")
            out += [*fn(), ""]
            print("\n".join(out[-30:]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "speed.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

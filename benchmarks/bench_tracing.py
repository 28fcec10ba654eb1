"""What tracing costs: the Retriever with tracing off, on, and with OpenTelemetry spans,
against the same pipeline written by hand without any of it, in one interleaved run.

Queries carry their precomputed embedding (``vector=``), so that what is timed is the
part tracing instruments between the engine calls (the model's time would hide it):

* ``by hand``: the same engine calls and the same fusion, no Retriever and no hooks —
  the code path without tracing;
* ``trace off`` (twice: ``trace off (A/A)`` is the same call again, so the gap between
  the two is the noise of the run);
* ``trace on``: ``trace=True`` (a :class:`~polyvec.tracing.Trace` per search);
* ``otel``: tracing off, but an OpenTelemetry SDK tracer provider configured (spans
  made and ended, exported nowhere).

Each for native hybrid (one engine call) and client-side hybrid (two legs + fusion),
on qdrant-edge with real passages (``benchmarks/corpus.py``) and MiniLM vectors::

    python -m benchmarks.bench_tracing --n 2000 --queries 300
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from benchmarks.corpus import stdlib_passages
from benchmarks.timing import p50_p95, race
from polyvec import DBSF, Collection, Document
from polyvec.backends.qdrant import QdrantEdgeBackend
from polyvec.embeddings import default_embedder
from polyvec.fusion import fuse
from polyvec.retriever import RetrieverConfig, _stage
from polyvec.tracing import recorder

K = 10


def _by_hand(coll: Collection, native: bool, depth: int) -> Callable[[tuple[str, Any]], Any]:
    """The Retriever's engine calls and fusion for one query, written out."""
    backend, name, fusion = coll.backend, coll.name, DBSF()
    pool = ThreadPoolExecutor(max_workers=2)

    def run(item: tuple[str, Any]) -> Any:
        text, vec = item
        sparse = coll.encode_query_sparse(text)
        if native:
            return backend.search_hybrid(
                name, vec, sparse, K, fusion=fusion, candidates=depth, filter=None
            )
        other = pool.submit(backend.search_sparse, name, sparse, depth, None)
        dense = backend.search_dense(name, vec, depth, None)
        return fuse([dense, other.result()], fusion, K)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="passages in the collection")
    ap.add_argument("--queries", type=int, default=300, help="timed queries per contender")
    args = ap.parse_args()

    texts = list(stdlib_passages(args.n))
    embedder = default_embedder()
    coll = Collection(QdrantEdgeBackend(), "bench", embedder=embedder)
    coll.add([Document(i, t) for i, t in enumerate(texts)], progress=False)
    coll.optimize()
    rng = np.random.default_rng(0)
    picks = rng.choice(len(texts), size=args.queries, replace=True)
    queries = [" ".join(texts[i].split()[:8]) for i in picks]
    vectors = embedder.embed_queries(queries)
    items = list(zip(queries, vectors))

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    print(f"{len(texts)} passages on qdrant-edge, {len(items)} queries, k={K}, vector given")
    for native in (True, False):
        retr = coll.retriever(RetrieverConfig(native=native))
        depth = retr.config.leg_depth(K)
        otel = TracerProvider()  # spans made and ended; no exporter

        def with_otel(item: tuple[str, Any], retr: Any = retr, otel: Any = otel) -> Any:
            old = trace._TRACER_PROVIDER
            trace._TRACER_PROVIDER = otel  # this contender only (the others see none)
            try:
                return retr.search(item[0], k=K, vector=item[1])
            finally:
                trace._TRACER_PROVIDER = old

        contenders: dict[str, Callable[[tuple[str, Any]], Any]] = {
            "by hand": _by_hand(coll, native, depth),
            "trace off": lambda it, r=retr: r.search(it[0], k=K, vector=it[1]),
            "trace off (A/A)": lambda it, r=retr: r.search(it[0], k=K, vector=it[1]),
            "trace on": lambda it, r=retr: r.search(it[0], k=K, vector=it[1], trace=True),
            "otel": with_otel,
        }
        same = contenders["by hand"](items[0])
        assert [h.id for h in retr.search(items[0][0], k=K, vector=items[0][1])] == [
            h.id for h in same
        ]
        runs = race(contenders, items, warmup=20)
        base = p50_p95(runs["trace off"])[0]
        hand = p50_p95(runs["by hand"])[0]
        print(f"\n{'native' if native else 'client-side'} hybrid (DBSF):")
        print("| contender | p50 ms | p95 ms | p50 / trace off | p50 / by hand |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, samples in runs.items():
            p50, p95 = p50_p95(samples)
            print(
                f"| {name} | {p50 * 1e3:.3f} | {p95 * 1e3:.3f} | {p50 / base:.3f} | "
                f"{p50 / hand:.3f} |"
            )
        otel.shutdown()

    # what the hooks cost when off, per search, measured alone
    n = 200_000
    off = timeit.timeit(lambda: recorder(False), number=n) / n
    with_stage = timeit.timeit(lambda: _stage(None, "x").__exit__(None, None, None), number=n) / n
    stages = 3  # embed, fusion and the final stages are entered as no-ops when off
    print(
        f"\nhooks when off: recorder() {off * 1e6:.2f} us + {stages} no-op stages "
        f"{stages * with_stage * 1e6:.2f} us = {(off + stages * with_stage) * 1e6:.2f} us "
        "per search"
    )
    coll.close()


if __name__ == "__main__":
    main()

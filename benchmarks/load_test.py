"""Concurrent queries and writes against every backend that runs here (loopback only).

Threads and asyncio tasks share one :class:`~polyvec.Collection`; each worker runs
searches (dense, sparse, hybrid; a share with a filter) and writes (upserts of new
ids) until the time is up. Reports throughput, errors (target: zero) and p50/p95
latency per backend, and checks afterwards that every acknowledged write is there::

    python benchmarks/load_test.py --seconds 10 --threads 8 --tasks 8
    python benchmarks/load_test.py --backends qdrant-edge,pgvector --json

Engines are started from ``tests/engines`` (servers on 127.0.0.1, stopped by pid).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polyvec import Collection, Document, F
from polyvec.backends.registry import open_backend
from tests.transfer.data import WORDS, HashEmbedder, make_docs

DEFAULT_BACKENDS = "qdrant-local,qdrant-edge,pgvector,chroma-local,chroma-server,milvus-lite"
ENGINE_MODULE = {"qdrant": "qdrant", "pgvector": "pgvector", "chroma": "chroma"}


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    written: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def summary(self, wall: float) -> dict[str, Any]:
        every = [x for xs in self.latencies.values() for x in xs]
        out: dict[str, Any] = {
            "ops": len(every),
            "ops_per_s": round(len(every) / wall, 1) if wall else 0.0,
            "errors": len(self.errors),
            "p95_ms": round(_p(every, 95) * 1000, 2),
        }
        for kind, xs in sorted(self.latencies.items()):
            out[kind] = {"n": len(xs), "p50_ms": round(_p(xs, 50) * 1000, 2),
                         "p95_ms": round(_p(xs, 95) * 1000, 2)}  # fmt: skip
        return out


def _p(xs: list[float], q: int) -> float:
    if not xs:
        return 0.0
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


def _op(coll: Collection, rng: random.Random, write_ratio: float, stats: Stats, who: str) -> None:
    started = time.perf_counter()
    try:
        if rng.random() < write_ratio:
            doc_id = f"{who}-{uuid.uuid4().hex[:8]}"
            words = " ".join(rng.choices(WORDS, k=6))
            coll.add([Document(doc_id, words, {"n": -1, "writer": who})], progress=False)
            with stats.lock:
                stats.written.append(doc_id)
            kind = "write"
        else:
            mode = rng.choice(["dense", "sparse", "hybrid"])
            filt = (F("n") >= 10) if rng.random() < 0.3 else None
            coll.search(" ".join(rng.choices(WORDS, k=3)), k=5, mode=mode, filter=filt)
            kind = f"search_{mode}"
    except Exception as exc:
        with stats.lock:
            stats.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return
    stats.record(kind, time.perf_counter() - started)


async def _aop(coll: Collection, rng: random.Random, stats: Stats, who: str) -> None:
    started = time.perf_counter()
    try:
        mode = rng.choice(["dense", "sparse", "hybrid"])
        await coll.asearch(" ".join(rng.choices(WORDS, k=3)), k=5, mode=mode)
    except Exception as exc:
        stats.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return
    stats.record(f"asearch_{mode}", time.perf_counter() - started)


def run_load(
    coll: Collection,
    *,
    seconds: float = 5.0,
    threads: int = 4,
    tasks: int = 4,
    write_ratio: float = 0.2,
    max_ops: int = 100_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Threads (searches and writes) and asyncio tasks (searches) at once, for
    ``seconds`` or ``max_ops`` operations per worker; then check the writes."""
    stats = Stats()
    before = coll.count()
    stop = time.monotonic() + seconds

    def thread_worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        for _ in range(max_ops):
            if time.monotonic() >= stop:
                return
            _op(coll, rng, write_ratio, stats, f"t{n}")

    async def task_worker(n: int) -> None:
        rng = random.Random(seed * 1000 + 500 + n)
        for _ in range(max_ops):
            if time.monotonic() >= stop:
                return
            await _aop(coll, rng, stats, f"a{n}")

    async def all_tasks() -> None:
        await asyncio.gather(*(task_worker(n) for n in range(tasks)))

    started = time.perf_counter()
    pool = [threading.Thread(target=thread_worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    asyncio.run(all_tasks())
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    result = stats.summary(wall)
    found = {d.id for d in coll.get(stats.written)}
    result["writes_acknowledged"] = len(stats.written)
    result["writes_missing"] = len(set(stats.written) - found)
    result["count_ok"] = coll.count() == before + len(stats.written)
    result["first_errors"] = stats.errors[:3]
    return result


def _url(variant: str, root: Path, started: dict[str, Any]) -> str:
    if variant == "milvus-lite":
        return f"milvus+lite:///{root / 'milvus.db'}"
    import importlib

    family = variant.split("-")[0]
    if family not in started:
        module = importlib.import_module(f"tests.engines.{ENGINE_MODULE[family]}")
        started[family] = module.start(root / family)
    engine = started[family]
    return str(engine.url(variant, f"load{uuid.uuid4().hex[:6]}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default=DEFAULT_BACKENDS)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--write-ratio", type=float, default=0.2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results: dict[str, Any] = {}
    started: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="polyvec-load-") as tmp:
        try:
            for variant in [v.strip() for v in args.backends.split(",") if v.strip()]:
                try:
                    url = _url(variant, Path(tmp), started)
                    coll = Collection(open_backend(url), "load", embedder=HashEmbedder())
                except Exception as exc:
                    results[variant] = {"skipped": f"{type(exc).__name__}: {exc}"[:200]}
                    continue
                try:
                    coll.add(make_docs(args.docs), progress=False)
                    results[variant] = run_load(
                        coll, seconds=args.seconds, threads=args.threads, tasks=args.tasks,
                        write_ratio=args.write_ratio,
                    )  # fmt: skip
                finally:
                    coll.close()
                if not args.json:
                    r = results[variant]
                    print(f"{variant:<14} {r['ops_per_s']:>8.1f} ops/s  errors {r['errors']}  "
                          f"p95 {r['p95_ms']:.1f} ms  writes {r['writes_acknowledged']} "
                          f"(missing {r['writes_missing']})", flush=True)  # fmt: skip
        finally:
            for engine in started.values():
                engine.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    failed = any(r.get("errors") or r.get("writes_missing") for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

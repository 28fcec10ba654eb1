"""Retrieval quality, in one run: polyvec's configurations and the peers on BEIR datasets.

For each dataset (built by ``polyvec dataset``), on the ``test`` split:

1. chunked (max over chunks) vs truncated documents, for BM25, dense and hybrid;
2. sensitivity: RRF k and convex alpha swept on ``dev`` and ``test`` (DBSF, which has no
   parameter, beside them); the value best on ``dev`` is reported on ``test`` and joins
   the configurations below;
3. polyvec configurations: BM25 only, dense only, hybrid (the default,
   ``RetrieverConfig()`` untouched: DBSF), RRF k=60, convex, RRF and convex at the values
   chosen on ``dev``, + MMR, + multi-query (pseudo-relevance feedback), + rerank (code path
   only: an untrained cross-encoder head);
4. the peers (``benchmarks/peers.py``) on the same units, model and BM25 settings;
5. the default hybrid configuration on every backend that starts here.

Steps 2–5 run on the units of ``--doc-mode``: ``truncate`` (default, as polyvec's own:
one unit per document, the model embeds the first window, BM25 the whole text) or
``chunks`` (max over chunks). Both modes write the same sections, to
``quality-<dataset>-truncate.*`` and ``quality-<dataset>.*`` respectively. Every test
query is used unless ``--queries N`` keeps the first N.

::

    polyvec dataset manpages .data/datasets/manpages --render-cache .data/man-render
    polyvec dataset pydocs .data/datasets/pydocs
    python -m benchmarks.bench_quality .data/datasets/manpages .data/datasets/pydocs \
        --out docs/benchmarks

Writes ``quality-<dataset>-truncate.md``, ``.json`` and ``.png`` under ``--out``
(``docs/benchmarks.md`` has the full list of commands and the results).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.peers import peer_searchers
from polyvec.embeddings import CachedEmbedder, default_embedder
from polyvec.evaluation import (
    BeirDataset,
    EvalReport,
    IngestOptions,
    RunResult,
    fusion_sweep,
    ingest,
    load_beir,
    markdown_table,
    retriever_searcher,
    run_searcher,
    units,
)
from polyvec.evaluation.evaluate import feedback_tools, unit_depth
from polyvec.evaluation.metrics import paired_test, per_query
from polyvec.evaluation.runner import DocMode, QueryEmbedderSplit, Searcher, time_searchers
from polyvec.evaluation.specs import build_config, parse_spec
from polyvec.fusion import DBSF, RRF, Convex, Fusion

RRF_KS = (1, 5, 10, 20, 40, 60, 100, 200)
ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CONFIGS = (
    "bm25",
    "dense",
    "hybrid",
    "rrf",
    "convex",
    "hybrid:mmr=0.7",
    "hybrid:prf=1",
    "hybrid:rerank=minilm-untrained,rerank_top=10,queries=20",
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sweep(
    coll: Any, dev: BeirDataset, test: BeirDataset, k: int
) -> tuple[list[str], dict[str, Any]]:
    """RRF k and convex alpha: test nDCG@10 per value, and the dev-chosen value on test;
    DBSF (the default, no parameter) on both splits beside them."""
    fusions: dict[str, Fusion] = {"dbsf (default)": DBSF()}
    fusions.update({f"rrf k={v}": RRF(k=v) for v in RRF_KS})
    fusions.update({f"convex alpha={a}": Convex(alpha=a) for a in ALPHAS})
    specs = {f"rrf k={v}": f"rrf:k={v}" for v in RRF_KS}
    specs.update({f"convex alpha={a}": f"convex:alpha={a}" for a in ALPHAS})
    on_dev = {r.name: r.metrics["ndcg@10"] for r in fusion_sweep(coll, dev, fusions, k=k)}
    on_test = {r.name: r.metrics["ndcg@10"] for r in fusion_sweep(coll, test, fusions, k=k)}
    lines = ["| fusion | dev nDCG@10 | test nDCG@10 |", "| --- | ---: | ---: |"]
    lines += [f"| {n} | {on_dev[n]:.3f} | {on_test[n]:.3f} |" for n in fusions]
    summary: dict[str, Any] = {"dev": on_dev, "test": on_test}
    for family in ("rrf", "convex"):
        names = [n for n in fusions if n.startswith(family)]
        best = max(names, key=lambda n: on_dev[n])
        spread = max(on_test[n] for n in names) - min(on_test[n] for n in names)
        summary[f"{family}_best_on_dev"] = best
        summary[f"{family}_spec"] = specs[best]
        summary[f"{family}_test_at_best"] = on_test[best]
        summary[f"{family}_test_spread"] = spread
        lines.append(
            f"\n{family}: best on dev = **{best}** → test nDCG@10 {on_test[best]:.3f}; "
            f"test range over the sweep {spread:.3f}"
        )
    return lines, summary


def other_backends(
    data: BeirDataset,
    embedder: Any,
    options: IngestOptions,
    k: int,
    names: Sequence[str],
    n_queries: int,
) -> list[RunResult]:
    """The default hybrid configuration on each engine that starts here."""
    import importlib

    from polyvec.retriever import RetrieverConfig

    out: list[RunResult] = []
    tmp = Path(tempfile.mkdtemp(prefix="polyvec-bench-"))
    for variant in names:
        module = importlib.import_module(f"tests.engines.{variant.split('-')[0]}")
        try:
            engine = module.start(tmp / variant)
        except Exception as exc:
            log(f"{variant}: unavailable ({type(exc).__name__}: {exc})")
            continue
        try:
            assert engine.url is not None
            url = engine.url(variant, "bench")
            started = time.perf_counter()
            coll = ingest(data, url, embedder=embedder, options=options, collection="bench")
            took = time.perf_counter() - started
            result = run_searcher(
                f"hybrid on {variant}",
                retriever_searcher(coll, RetrieverConfig(), k),
                data.sample(n_queries),
            )
            result.notes = f"ingest {coll.count()} units in {took:.0f}s (embeddings cached)"
            out.append(result)
            log(f"{variant}: {result.metrics['ndcg@10']:.3f} p50 {result.p50_ms:.1f} ms")
            coll.close()
        except Exception as exc:
            log(f"{variant}: failed ({type(exc).__name__}: {exc})")
        finally:
            engine.stop()
    return out


def config_searchers(
    coll: Any, data: BeirDataset, options: IngestOptions, specs: Sequence[str], k: int
) -> dict[str, tuple[Searcher, int | None]]:
    """polyvec's searcher for each spec, with the spec's query limit."""
    tools = feedback_tools(coll, data, options)
    out: dict[str, tuple[Searcher, int | None]] = {}
    for text in specs:
        spec = parse_spec(text)
        config = build_config(spec, feedback=tools[0], idf=tools[1])
        out[spec.name] = (retriever_searcher(coll, config, k), spec.query_limit)
    return out


def quality(
    searchers: dict[str, tuple[Searcher, int | None]], data: BeirDataset
) -> list[RunResult]:
    results = []
    for name, (search, limit) in searchers.items():
        subset = data.sample(limit)
        result = run_searcher(name, search, subset)
        if limit is not None:
            result.notes = f"first {len(subset.queries)} queries only"
        log(f"  {name:<44} nDCG@10={result.metrics['ndcg@10']:.3f}")
        results.append(result)
    return results


def peers_only(path: str, args: argparse.Namespace) -> None:
    """Run only the peers whose name contains ``args.peers_only`` (quality, then latency)
    and write their rows to ``quality-<dataset>-peers.md``."""
    test = load_beir(path, "test").sample(args.queries)
    base = default_embedder()
    cached = CachedEmbedder(base, directory=args.cache)
    embedder = QueryEmbedderSplit(cached, cached)
    options = IngestOptions(doc_mode=args.doc_mode)
    builders = peer_searchers(units(test, options), unit_depth(options, 100), cached, embedder)
    found = {n: (b(), None) for n, b in builders.items() if args.peers_only in n}
    results = quality(found, test)  # type: ignore[arg-type]
    embedder.queries = base
    times = time_searchers(
        {n: s for n, (s, _) in found.items()}, list(test.queries.values())[: args.latency_queries]
    )
    for r in results:
        r.latencies = times[r.name]
    table = markdown_table(results)
    print(table)
    suffix = "" if args.doc_mode == "chunks" else f"-{args.doc_mode}"
    out = Path(args.out) / f"quality-{test.name}{suffix}-peers.md"
    out.write_text(f"{test.summary()}\n\n{table}\n", encoding="utf-8")


def run_dataset(path: str, args: argparse.Namespace) -> dict[str, Any]:
    test = load_beir(path, "test").sample(args.queries)
    dev = load_beir(path, "dev")
    log(test.summary())
    base = default_embedder()
    cached = CachedEmbedder(base, directory=args.cache)
    # quality passes read query embeddings from the cache too; the latency pass does not
    embedder = QueryEmbedderSplit(cached, cached)
    md: list[str] = [f"## {test.name}\n", f"{test.summary()}; dev: {len(dev.queries)} queries\n"]
    record: dict[str, Any] = {"dataset": test.summary()}

    # 1. chunks vs truncation -----------------------------------------------------------
    mode: DocMode = args.doc_mode
    other: DocMode = "chunks" if mode == "truncate" else "truncate"
    options = IngestOptions(doc_mode=mode)
    k = unit_depth(options, 100)
    opts = IngestOptions(doc_mode=other)
    coll = ingest(test, args.url, embedder=embedder, options=opts)
    log(f"{other}: {coll.count()} units")
    found = config_searchers(coll, test, opts, ["bm25", "dense", "hybrid"], unit_depth(opts, 100))
    per_mode = {other: quality(found, test)}
    coll.close()
    main_coll = ingest(test, args.url, embedder=embedder, options=options)
    log(f"{mode}: {main_coll.count()} units")

    # 2. sensitivity (chosen on dev; the chosen values join the configurations) --------
    lines, summary = sweep(main_coll, dev, test, k)
    specs = [*CONFIGS[:5], summary["rrf_spec"], summary["convex_spec"], *CONFIGS[5:]]
    searchers = config_searchers(main_coll, test, options, specs, k)
    per_mode[mode] = quality(searchers, test)
    md += ["### Chunked (max over chunks) vs truncated documents\n"]
    md += [
        "| configuration | truncate nDCG@10 | chunks nDCG@10 | Δ |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in ("bm25", "dense", "hybrid"):
        a = next(r for r in per_mode["truncate"] if r.name == name).metrics["ndcg@10"]
        b = next(r for r in per_mode["chunks"] if r.name == name).metrics["ndcg@10"]
        md.append(f"| {name} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    record[other] = [r.as_dict() for r in per_mode[other]]

    # 3. + 4. polyvec configurations and peers ----------------------------------------
    results = list(per_mode[mode])
    if not args.no_peers:
        for name, build in peer_searchers(units(test, options), k, cached, embedder).items():
            try:
                started = time.perf_counter()
                search = build()
                built = time.perf_counter() - started
            except Exception as exc:
                log(f"{name}: could not run ({type(exc).__name__}: {exc})")
                continue
            searchers[name] = (search, None)
            result = quality({name: (search, None)}, test)[0]
            result.notes = f"index build {built:.0f}s"
            results.append(result)

    # latency: query embeddings computed every time, all searchers interleaved
    embedder.queries = base
    for limit in sorted({lim for _, lim in searchers.values()}, key=lambda v: v or 0):
        group = {n: s for n, (s, lim) in searchers.items() if lim == limit}
        n = min(args.latency_queries, limit or args.latency_queries)
        log(f"latency: {len(group)} searchers x {n} queries")
        times = time_searchers(group, list(test.queries.values())[:n])
        for r in results:
            if r.name in times:
                r.latencies = times[r.name]
    embedder.queries = cached

    by_name = {r.name: r for r in results}
    best_leg = max(by_name["bm25"].metrics["ndcg@10"], by_name["dense"].metrics["ndcg@10"])
    gain = by_name["hybrid"].metrics["ndcg@10"] - best_leg
    pvals = paired_test(
        test.qrels, {n: by_name[n].run for n in ("bm25", "dense", "hybrid")}, "ndcg@10"
    )
    label = "chunks, max over chunks" if mode == "chunks" else "truncated documents"
    md += [f"\n### Configurations and peers ({label})\n", markdown_table(results)]
    md += [f"- {r.name}: {r.notes}" for r in results if r.notes]
    legs = [per_query(test.qrels, by_name[n].run) for n in ("bm25", "dense")]
    oracle = sum(max(a, legs[1][q]) for q, a in legs[0].items()) / len(legs[0])
    both = sum(legs[0][q] == 1.0 and legs[1][q] == 1.0 for q in legs[0]) / len(legs[0])
    neither = sum(legs[0][q] == 0.0 and legs[1][q] == 0.0 for q in legs[0]) / len(legs[0])
    record.update(oracle=oracle, both_legs_perfect=both, neither_leg_found=neither)
    md.append(
        f"\nHeadroom: picking the better leg per query (an oracle) would give nDCG@10 "
        f"{oracle:.3f}; both legs rank the page first for {both:.0%} of queries, neither "
        f"finds it in the top 10 for {neither:.0%}."
    )
    md.append(
        f"\nDefault hybrid vs the better single leg: **{gain:+.3f} nDCG@10** "
        f"(paired t-test p vs bm25 / dense: "
        f"{pvals['hybrid']['bm25']:.2g} / {pvals['hybrid']['dense']:.2g})."
    )
    versus = best_versus_peers(test, results)
    if versus:
        md += ["", *versus]
    suffix = "" if mode == "chunks" else f"-{mode}"
    out = Path(args.out)
    report = EvalReport(f"{test.name} [test, {mode}]", {"dataset": test.summary()}, results)
    report.plot(out / f"quality-{test.name}{suffix}.png")

    md += ["\n### Fusion sensitivity (RRF k, convex alpha)\n", *lines]

    # 5. backends ----------------------------------------------------------------------
    if args.backends:
        embedder.queries = base
        others = other_backends(test, embedder, options, k, args.backends, args.backend_queries)
        embedder.queries = cached
        md += ["\n### Default hybrid on each backend\n", markdown_table(others)]
        md += [f"- {r.name}: {r.notes}" for r in others]
        record["backends"] = [r.as_dict() for r in others]
    main_coll.close()
    record.update(report.as_dict(), gain_over_best_leg=gain, p_values=pvals, sweep=summary)
    record["doc_mode"] = mode
    (out / f"quality-{test.name}{suffix}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out / f"quality-{test.name}{suffix}.json").write_text(json.dumps(record, indent=2) + "\n")
    print("\n".join(md), flush=True)
    return record


def best_versus_peers(test: BeirDataset, results: Sequence[RunResult]) -> list[str]:
    """polyvec's best configuration (on every query) against each peer: nDCG@10
    difference, paired t-test p, and p50 ratio; an empty list when no peer ran."""
    peers = [r for r in results if r.name.startswith("peer:")]
    ours = [r for r in results if not r.name.startswith("peer:") and "first" not in r.notes]
    if not peers or not ours:
        return []
    best = max(ours, key=lambda r: r.metrics["ndcg@10"])
    runs = {r.name: r.run for r in [best, *peers]}
    pvals = paired_test(test.qrels, runs, "ndcg@10")[best.name]
    lines = [
        f"polyvec's best configuration here, **{best.name}** "
        f"(nDCG@10 {best.metrics['ndcg@10']:.3f}, p50 {best.p50_ms:.1f} ms), vs each peer:\n",
        "| peer | peer nDCG@10 | Δ (best − peer) | paired t-test p | peer p50 ÷ best p50 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in peers:
        delta = best.metrics["ndcg@10"] - r.metrics["ndcg@10"]
        p = pvals[r.name]
        shown = "– (same per query)" if p != p else f"{p:.2g}"  # NaN: no difference at all
        lines.append(
            f"| {r.name.removeprefix('peer: ')} | {r.metrics['ndcg@10']:.3f} | {delta:+.3f} "
            f"| {shown} | {r.p50_ms / best.p50_ms:.2f}× |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+", help="BEIR dataset directories")
    ap.add_argument("--queries", type=int, default=None, help="first N test queries only")
    ap.add_argument(
        "--url", default=None, help="backend for the main runs (default: qdrant-edge, temp dir)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    ap.add_argument("--cache", default=".data/embcache", help="document embedding cache")
    ap.add_argument("--out", default="docs/benchmarks", help="where results go")
    ap.add_argument(
        "--doc-mode",
        choices=("chunks", "truncate"),
        default="truncate",
        help="units for the configurations, peers, sweep and backends (the other mode "
        "runs bm25/dense/hybrid only, for the chunks-vs-truncation table)",
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peers-only", default=None, metavar="SUBSTR", help="only these peers")
    ap.add_argument("--latency-queries", type=int, default=50, help="queries timed per system")
    ap.add_argument("--backend-queries", type=int, default=100, help="queries per backend run")
    ap.add_argument(
        "--backends",
        nargs="*",
        default=["qdrant-edge", "qdrant-memory", "pgvector", "chroma-local", "milvus-lite"],
        help="engine variants (tests/engines) for the default hybrid run",
    )
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.url is None:
        args.url = f"qdrant-edge://{tempfile.mkdtemp(prefix='polyvec-quality-')}"
    for path in args.datasets:
        if args.peers_only:
            peers_only(path, args)
        else:
            run_dataset(path, args)


if __name__ == "__main__":
    main()

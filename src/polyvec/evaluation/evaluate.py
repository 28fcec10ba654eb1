"""The one-call evaluation: ingest a BEIR dataset, run configurations, report.

::

    from polyvec import RetrieverConfig
    from polyvec.evaluation import evaluate, load_beir

    report = evaluate(load_beir("datasets/pydocs"), ["bm25", "dense", "hybrid",
                      "convex:alpha=0.3"], url="qdrant-edge:///tmp/evalstore")
    report.write_json("pydocs.json"); report.plot("pydocs.png")

Configurations are :class:`~polyvec.retriever.RetrieverConfig` objects (by name in a
mapping) or spec strings (:mod:`polyvec.evaluation.specs`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyvec.collection import Collection
from polyvec.embeddings import Embedder
from polyvec.evaluation.beir import BeirDataset
from polyvec.evaluation.metrics import DEFAULT_METRICS
from polyvec.evaluation.report import EvalReport
from polyvec.evaluation.runner import (
    IngestOptions,
    RunResult,
    ingest,
    retriever_searcher,
    run_searcher,
    units,
)
from polyvec.evaluation.specs import build_config, parse_spec
from polyvec.retriever import RetrieverConfig
from polyvec.sparse.stats import CorpusStats
from polyvec.sparse.tokenize import token_id

__all__ = ["evaluate", "feedback_tools", "unit_depth"]

Configs = Mapping[str, RetrieverConfig] | Sequence[str]


def unit_depth(options: IngestOptions | None, depth: int, chunk_factor: int = 3) -> int:
    """How many stored units to retrieve for ``depth`` documents: chunks come several to
    a document, so chunk mode asks for ``chunk_factor`` times more."""
    chunked = (options or IngestOptions()).doc_mode == "chunks"
    return depth * chunk_factor if chunked else depth


def feedback_tools(
    collection: Collection, dataset: BeirDataset, options: IngestOptions | None = None
) -> tuple[Callable[[str, int], list[str]], Callable[[str], float]]:
    """``(feedback, idf)`` for pseudo-relevance feedback: the texts of the top BM25 hits,
    and BM25's IDF of a stem over the indexed units."""
    bm25 = collection.retriever(RetrieverConfig(mode="sparse"))
    stats = collection.stats
    if not stats.track_df:  # the engine keeps IDF itself: count document frequencies here
        stats = CorpusStats()
        stats.add_many(collection.bm25.term_counts_many(u.text for u in units(dataset, options)))

    def feedback(query: str, n: int) -> list[str]:
        return [h.document.text for h in bm25.search(query, k=n)]

    def idf(stem: str) -> float:
        return stats.idf(token_id(stem))

    return feedback, idf


def evaluate(
    dataset: BeirDataset,
    configs: Configs,
    *,
    url: str = "qdrant-edge://",
    collection: Collection | None = None,
    embedder: Embedder | None = None,
    options: IngestOptions | None = None,
    depth: int = 100,
    chunk_factor: int = 3,
    metrics: Sequence[str] = DEFAULT_METRICS,
    verbose: bool = False,
) -> EvalReport:
    """Ingest ``dataset`` (unless ``collection`` is given) and evaluate each configuration
    on its queries: ``depth`` documents per query, scored per document (truncated
    documents by default; max over chunks with ``IngestOptions(doc_mode="chunks")``)."""
    options = options or IngestOptions()
    coll = collection or ingest(dataset, url, embedder=embedder, options=options, progress=verbose)
    k = unit_depth(options, depth, chunk_factor)
    tools: tuple[Callable[[str, int], list[str]], Callable[[str], float]] | None = None
    results: list[RunResult] = []
    items: list[tuple[str, RetrieverConfig, int | None]] = []
    if isinstance(configs, Mapping):
        items = [(name, cfg, None) for name, cfg in configs.items()]
    else:
        for text in configs:
            spec = parse_spec(text)
            if "prf" in spec.options and tools is None:
                tools = feedback_tools(coll, dataset, options)
            fb, idf = tools if tools is not None else (None, None)
            items.append((spec.name, build_config(spec, feedback=fb, idf=idf), spec.query_limit))
    for name, config, limit in items:
        data = dataset.sample(limit)
        result = run_searcher(
            name, retriever_searcher(coll, config, k), data, depth=depth, metrics=metrics
        )
        if limit is not None:
            result.notes = f"first {len(data.queries)} queries only"
        results.append(result)
        if verbose:
            shown = " ".join(f"{m}={v:.3f}" for m, v in result.metrics.items())
            print(f"  {name:<28} {shown} p50={result.p50_ms:.1f}ms", file=sys.stderr)
    setup: dict[str, Any] = {
        "dataset": dataset.summary(),
        "backend": repr(coll.backend),
        "embedder": coll.embedder.name,
        "bm25": coll.bm25.config(),
        "ingest": options.label(),
        "units": coll.count(),
        "depth": depth,
        "units_per_query": k,
    }
    return EvalReport(f"{dataset.name} [{dataset.split}]", setup, results, tuple(metrics))

"""Retrieval evaluation: BEIR-format datasets, runs over any RetrieverConfig, ranx metrics.

::

    from polyvec import RetrieverConfig
    from polyvec.evaluation import evaluate, load_beir

    data = load_beir("datasets/manpages", split="test")
    report = evaluate(data, {"bm25": RetrieverConfig(mode="sparse"),
                             "dense": RetrieverConfig(mode="dense"),
                             "hybrid": RetrieverConfig()})
    print(report.markdown())

or from the shell::

    polyvec dataset manpages datasets/manpages
    polyvec eval datasets/manpages --config bm25 --config dense --config hybrid

Needs ``pip install 'polyvec[eval]'`` (ranx; matplotlib for plots).
"""

from polyvec.evaluation.beir import BeirDataset, CorpusDoc, list_splits, load_beir, write_beir
from polyvec.evaluation.evaluate import evaluate
from polyvec.evaluation.metrics import DEFAULT_METRICS, per_query, ranked_run, score_run
from polyvec.evaluation.report import EvalReport, markdown_table
from polyvec.evaluation.runner import (
    IngestOptions,
    RunResult,
    evaluate_searchers,
    fusion_sweep,
    ingest,
    retriever_searcher,
    run_searcher,
    units,
)

__all__ = [
    "DEFAULT_METRICS",
    "BeirDataset",
    "CorpusDoc",
    "EvalReport",
    "IngestOptions",
    "RunResult",
    "evaluate",
    "evaluate_searchers",
    "fusion_sweep",
    "ingest",
    "list_splits",
    "load_beir",
    "markdown_table",
    "per_query",
    "ranked_run",
    "retriever_searcher",
    "run_searcher",
    "score_run",
    "units",
    "write_beir",
]

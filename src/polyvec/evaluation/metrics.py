"""Retrieval metrics from ranx (a maintained library; nothing hand-written here).

::

    from polyvec.evaluation.metrics import score_run, DEFAULT_METRICS
    qrels = {"q1": {"d1": 1}}
    run = {"q1": {"d1": 0.9, "d2": 0.5}}
    score_run(qrels, run)            # {'ndcg@10': 1.0, 'recall@10': 1.0, ...}

A run maps each query id to ``{doc id: score}``; ranx ranks by score (ties broken by
doc id). :func:`ranked_run` builds one from ranked id lists, with scores that keep the
given order exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyvec.errors import MissingDependencyError

__all__ = ["DEFAULT_METRICS", "paired_test", "per_query", "ranked_run", "score_run"]

DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
"""nDCG@10 (BEIR's headline metric), Recall@10 and @100, MRR@10 — ranx metric names."""


def _ranx() -> Any:
    try:
        import ranx
    except ImportError as exc:  # pragma: no cover - ranx ships with the eval extra
        raise MissingDependencyError("ranx", "eval", "retrieval metrics") from exc
    return ranx


def ranked_run(ranked: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """``{qid: [doc ids, best first]}`` → a run whose scores reproduce that order
    (``n, n-1, …, 1``). Repeated ids keep their first (best) position."""
    run: dict[str, dict[str, float]] = {}
    for qid, ids in ranked.items():
        unique = list(dict.fromkeys(ids))
        run[qid] = {d: float(len(unique) - i) for i, d in enumerate(unique)}
    return run


def _prepare(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> tuple[Any, Any]:
    ranx = _ranx()
    q = {qid: {d: int(g) for d, g in rel.items()} for qid, rel in qrels.items() if rel}
    # ranx needs every judged query in the run: a query that retrieved nothing scores 0.
    r = {qid: dict(run.get(qid) or {}) for qid in q}
    for docs in r.values():
        if not docs:
            docs["\x00none"] = 0.0
    return ranx.Qrels(q), ranx.Run(r)


def score_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Mean of each metric over the judged queries (queries missing from ``run`` count 0)."""
    q, r = _prepare(qrels, run)
    result = _ranx().evaluate(q, r, list(metrics), make_comparable=True)
    if isinstance(result, float):
        return {metrics[0]: result}
    return {m: float(result[m]) for m in metrics}


def per_query(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metric: str = "ndcg@10",
) -> dict[str, float]:
    """One metric per query id (for paired comparisons and error analysis)."""
    q, r = _prepare(qrels, run)
    _ranx().evaluate(q, r, metric, make_comparable=True, save_results_in_run=True)
    return {str(qid): float(v) for qid, v in r.scores[metric].items()}


def paired_test(
    qrels: Mapping[str, Mapping[str, int]],
    runs: Mapping[str, Mapping[str, Mapping[str, float]]],
    metric: str = "ndcg@10",
    max_p: float = 0.05,
) -> dict[str, dict[str, float]]:
    """p-values of ranx's paired Student's t-test between every two runs on ``metric``:
    ``out[a][b]`` is the p-value of the difference between ``a`` and ``b``."""
    ranx = _ranx()
    q, _ = _prepare(qrels, {})
    named = []
    for name, run in runs.items():
        _, r = _prepare(qrels, run)
        r.name = name
        named.append(r)
    data = ranx.compare(q, named, [metric], max_p=max_p, make_comparable=True).to_dict()
    return {
        name: {other: float(p[metric]) for other, p in data[name]["comparisons"].items()}
        for name in runs
    }

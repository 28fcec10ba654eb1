"""Choose the hybrid fusion for one collection: from labels when there are some, from
pseudo-queries drawn from the collection itself when there are none.

Every candidate is a fusion (DBSF with leg weights, convex with its dense weight
``alpha``, RRF with its ``k`` and leg weights) at a number of candidates per leg. Each
query's two legs are searched once, as deep as the deepest candidate count, on the
collection's own engine; every candidate is then scored on them (nDCG@10, ranx) by
:func:`polyvec.fusion.fuse`, the Retriever's own fusion.

::

    from polyvec import connect
    from polyvec.tuning import tune

    coll = connect("qdrant-edge://./store", collection="docs")
    result = tune(coll)                                   # no labels: pseudo-queries
    print(result.table())
    hits = coll.retriever(result.config).search("how do I rotate logs?")

    result = tune(coll, labels={"rotate logs daily": {"logrotate.8": 1}})  # with labels
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyvec.collection import Collection
from polyvec.errors import InputError
from polyvec.evaluation.legs import LegSet, Method, score_methods
from polyvec.evaluation.metrics import per_query
from polyvec.fusion import DBSF, RRF, Convex, Fusion
from polyvec.retriever import RetrieverConfig
from polyvec.tuning.pseudo import QUERY_KINDS, QueryKind, draw_pseudo_queries, pseudo_legs

__all__ = ["DEFAULT_GRID", "TuneResult", "candidate_methods", "fusion_spec", "tune"]

DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "dbsf_dense_weight": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "convex_alpha": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "rrf_k": (10.0, 30.0, 60.0),
    "rrf_dense_weight": (0.3, 0.5, 0.7),
    "candidates": (20, 50, 100, 200),
}
"""What :func:`tune` tries: every fusion below at every candidate count."""


def fusion_spec(fusion: Fusion, candidates: int | None = None) -> str:
    """A short name for a fusion (and candidates per leg), as tables show it.

    >>> fusion_spec(DBSF(weights=(0.6, 0.4)), 100)
    'dbsf w=0.6 c=100'
    >>> fusion_spec(Convex(alpha=0.7))
    'convex a=0.7'
    """
    if isinstance(fusion, Convex):
        text = f"convex a={fusion.alpha:g}"
    elif isinstance(fusion, DBSF):
        w = fusion.weights
        text = "dbsf" if w is None else f"dbsf w={w[0] / sum(w):.2g}"
    else:
        w = fusion.weights
        text = f"rrf k={fusion.k:g}" + ("" if w is None else f" w={w[0] / sum(w):.2g}")
    return text if candidates is None else f"{text} c={candidates}"


def _weights(w: float) -> tuple[float, float] | None:
    return None if math.isclose(w, 0.5) else (round(w, 6), round(1.0 - w, 6))


def candidate_methods(grid: Mapping[str, Sequence[float]] = DEFAULT_GRID) -> list[Method]:
    """Every (fusion, candidates) pair of ``grid`` as a :class:`Method`."""
    fusions: list[Fusion] = [DBSF(weights=_weights(w)) for w in grid["dbsf_dense_weight"]]
    fusions += [Convex(alpha=a) for a in grid["convex_alpha"]]
    fusions += [
        RRF(k=k, weights=_weights(w)) for k in grid["rrf_k"] for w in grid["rrf_dense_weight"]
    ]
    out = []
    for c in grid["candidates"]:
        for f in fusions:
            out.append(Method(fusion_spec(f, int(c)), fusion=f, candidates=int(c)))
    return out


@dataclass
class TuneResult:
    """What :func:`tune` found: the chosen ``config``, every candidate's mean nDCG@10
    (``scores``, best first), how many queries it was measured on and where they came
    from (``"labels"`` or ``"pseudo"``), and the default's score for comparison."""

    config: RetrieverConfig
    chosen: str
    scores: dict[str, float]
    queries: int
    source: str
    default_score: float
    notes: list[str] = field(default_factory=list)

    def table(self, top: int = 10) -> str:
        """The best ``top`` candidates and the default, as a markdown table."""
        rows = ["| fusion (c = candidates per leg) | nDCG@10 |", "| --- | ---: |"]
        for name, score in list(self.scores.items())[:top]:
            mark = " **(chosen)**" if name == self.chosen else ""
            rows.append(f"| {name}{mark} | {score:.4f} |")
        rows.append(f"| default (RetrieverConfig()) | {self.default_score:.4f} |")
        return "\n".join(rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "source": self.source,
            "queries": self.queries,
            "default_score": self.default_score,
            "scores": self.scores,
            "notes": self.notes,
        }

    def __repr__(self) -> str:
        return (
            f"TuneResult(chosen={self.chosen!r}, source={self.source!r}, "
            f"queries={self.queries}, default_score={self.default_score:.4f})"
        )


def choose(
    legs: LegSet,
    qrels: Mapping[str, Mapping[str, int]],
    methods: Sequence[Method],
    *,
    default: Method,
) -> tuple[Method, dict[str, float], float]:
    """The method with the best mean nDCG@10 on ``qrels``; among methods within one
    standard error of the best (per-query differences to the best), the default if it is
    one of them, else the best. Returns it, every method's score (best first) and the
    default's score."""
    results = score_methods(legs, qrels, [*methods, default], metrics=("ndcg@10",))
    by_name = {r.name: r for r in results}
    scores = {r.name: r.metrics["ndcg@10"] for r in results[:-1]}
    best = max(methods, key=lambda m: scores[m.name])
    default_result = by_name[default.name]
    best_q = per_query(qrels, by_name[best.name].run)
    default_q = per_query(qrels, default_result.run)
    diffs = [best_q[q] - default_q[q] for q in best_q]
    n = len(diffs)
    mean = sum(diffs) / n if n else 0.0
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    stderr = math.sqrt(var / n) if n else 0.0
    chosen = default if n < 2 or mean <= stderr else best
    ordered = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
    return chosen, ordered, default_result.metrics["ndcg@10"]


def _label_legs(
    collection: Collection, labels: Mapping[str, Mapping[str, int]], depth: int
) -> tuple[LegSet, dict[str, dict[str, int]]]:
    queries = {f"q{i}": text for i, text in enumerate(labels)}
    qrels = {
        f"q{i}": {str(d): int(g) for d, g in rel.items() if g > 0}
        for i, rel in enumerate(labels.values())
    }
    qrels = {q: r for q, r in qrels.items() if r}
    if not qrels:
        raise InputError("labels judge no document relevant (grade > 0): nothing to tune on")
    return LegSet.collect(collection, {q: queries[q] for q in qrels}, depth), qrels


def tune(
    collection: Collection,
    labels: Mapping[str, Mapping[str, int]] | None = None,
    *,
    queries: int = 300,
    kinds: Sequence[QueryKind] = QUERY_KINDS,
    seed: int = 0,
    grid: Mapping[str, Sequence[float]] = DEFAULT_GRID,
    progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """Choose fusion and candidates per leg for ``collection`` (read only).

    ``labels`` maps query text to ``{document id: grade}`` (a document id is the
    ``doc_id`` metadata of chunks, else the stored id). Without labels, ``queries``
    stored units are sampled and turned into pseudo-queries of ``kinds``
    (:mod:`polyvec.tuning.pseudo`). The default configuration is kept unless a candidate
    beats it by more than one standard error of the per-query difference."""
    methods = candidate_methods(grid)
    base = RetrieverConfig()
    default = Method("default", fusion=base.fusion, candidates=base.leg_depth(base.k))
    depth = max(*(int(c) for c in grid["candidates"]), base.leg_depth(base.k))
    if labels:
        legs, qrels = _label_legs(collection, labels, depth)
        source = "labels"
    else:
        drawn = draw_pseudo_queries(collection, queries, seed=seed, kinds=kinds)
        legs, qrels = pseudo_legs(collection, drawn, depth, progress=progress)
        source = "pseudo"
    if not qrels:
        raise InputError("no usable query to tune on (every one was empty after tokenizing)")
    chosen, scores, default_score = choose(legs, qrels, methods, default=default)
    config = RetrieverConfig(fusion=chosen.fusion or base.fusion, candidates=chosen.candidates)
    if chosen is default:
        config = base
    notes = [f"{len(qrels)} {source} queries; legs searched {depth} deep"]
    return TuneResult(config, chosen.name, scores, len(qrels), source, default_score, notes)

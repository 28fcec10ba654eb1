"""Tune hybrid search for one collection: with a few labelled queries, or without any.

::

    from polyvec import connect
    from polyvec.tuning import tune

    coll = connect("qdrant-edge://./store", collection="docs")
    result = tune(coll)              # label-free: pseudo-queries from the stored documents
    print(result.table())
    retriever = coll.retriever(result.config)

or ``polyvec tune --collection docs [--labels labels.jsonl]``. Needs the ``eval``
extra (ranx computes the metrics). How well label-free tuning does against tuning on
real labels is measured in ``docs/benchmarks.md``.
"""

from polyvec.tuning.pseudo import QUERY_KINDS, PseudoQuery, draw_pseudo_queries, pseudo_legs
from polyvec.tuning.tune import DEFAULT_GRID, TuneResult, candidate_methods, fusion_spec, tune

__all__ = [
    "DEFAULT_GRID",
    "QUERY_KINDS",
    "PseudoQuery",
    "TuneResult",
    "candidate_methods",
    "draw_pseudo_queries",
    "fusion_spec",
    "pseudo_legs",
    "tune",
]

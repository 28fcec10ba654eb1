"""Metrics come from ranx; these pin the wiring (missing queries, order, ties)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("ranx")

from polyvec.evaluation.metrics import paired_test, per_query, ranked_run, score_run

QRELS = {"q1": {"a": 1}, "q2": {"b": 1}}


def test_perfect_and_empty_runs() -> None:
    perfect = ranked_run({"q1": ["a", "x"], "q2": ["b"]})
    assert score_run(QRELS, perfect) == {
        "ndcg@10": 1.0,
        "recall@10": 1.0,
        "recall@100": 1.0,
        "mrr@10": 1.0,
    }
    # a query missing from the run scores 0, it is not skipped
    half = ranked_run({"q1": ["a"]})
    assert score_run(QRELS, half, ["recall@10"]) == {"recall@10": 0.5}


def test_rank_positions() -> None:
    run = ranked_run({"q1": ["x", "a"], "q2": ["y", "z", "b"]})
    got = score_run(QRELS, run, ["mrr@10", "ndcg@10"])
    assert got["mrr@10"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert got["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)


def test_ranked_run_keeps_first_occurrence() -> None:
    run = ranked_run({"q": ["a", "b", "a", "c"]})
    assert sorted(run["q"], key=lambda d: -run["q"][d]) == ["a", "b", "c"]


def test_per_query_and_paired_test() -> None:
    good = ranked_run({"q1": ["a"], "q2": ["b"]})
    bad = ranked_run({"q1": ["x", "a"], "q2": ["b"]})
    assert per_query(QRELS, bad, "mrr@10") == {"q1": 0.5, "q2": 1.0}
    p = paired_test(QRELS, {"good": good, "bad": bad}, "mrr@10")
    assert set(p) == {"good", "bad"} and 0.0 <= p["good"]["bad"] <= 1.0

"""Facet counting without an engine: the scan's counter against the evaluator, and the
result type."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.facets import FacetCount, Facets, count_values, facet_key, ranked
from polyvec.filters import F, select
from polyvec.stats import BM25Stats, CollectionStats, EngineStats
from tests.strategies import FILTER_FIELDS, metadata_docs


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(metadata_docs(), max_size=12), st.sampled_from((*FILTER_FIELDS, "meta")))
def test_counts_are_the_evaluators(docs: list[dict[str, Any]], field: str) -> None:
    """Each bucket's count is the number of documents ``F(field) == value`` selects,
    and no value the evaluator selects documents for is missing."""
    counts = count_values(docs, field)
    for key, n in counts.items():
        assert n == len(select(F(field) == key[1], docs)) > 0
    for doc in docs:
        value = doc
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, int, float, bool)):
                assert facet_key(item) in counts, (field, item)


def test_keys_separate_what_equality_separates() -> None:
    assert facet_key(3) == facet_key(3.0) == (1, 3)
    assert facet_key(True) != facet_key(1) and facet_key(False) != facet_key(0)
    assert facet_key("1") != facet_key(1)
    assert facet_key(2**53 + 1) != facet_key(float(2**53))
    assert facet_key(float("nan")) is None and facet_key(float("inf")) is None
    assert facet_key(None) is None and facet_key([1]) is None and facet_key({"a": 1}) is None
    assert facet_key(dt.date(2024, 1, 2)) == facet_key("2024-01-02")


def test_ranked_orders_ties_by_type_then_value_and_cuts() -> None:
    counts = {facet_key(v): 1 for v in ("b", "a", 2, 1.5, True, False)}
    counts[facet_key("z")] = 5
    got = ranked(counts, "f", None, method="scan", scanned=9)  # type: ignore[arg-type]
    assert got.values() == ["z", False, True, 1.5, 2, "a", "b"]
    cut = ranked(counts, "f", 2, method="native")  # type: ignore[arg-type]
    assert cut.items() == [("z", 5), (False, 1)] and cut.more
    assert "more values beyond limit" in repr(cut)


def test_facets_value_type() -> None:
    f = Facets("f", (FacetCount(True, 2), FacetCount(1, 2)), method="scan", scanned=3)
    assert f.items() == [(True, 2), (1, 2)]  # a dict would merge True and 1
    assert f.count_of(1.0) == 2 and f.count_of(True) == 2 and f.count_of(0) == 0
    assert len(f) == 2 and [c.value for c in f] == [True, 1]
    assert repr(f) == "Facets('f': True=2, 1=2; scan of 3 documents)"
    assert repr(Facets("f", ())) == "Facets('f': no values; native)"


def test_stats_repr_says_what_is_not_reported() -> None:
    stats = CollectionStats(
        "docs",
        "chroma",
        3,
        384,
        "cosine",
        EngineStats(vectors=3),
        BM25Stats(3, 30, 12, 1.2, 0.75, "polyvec"),
    )
    assert repr(stats) == (
        "CollectionStats('docs' on chroma: 3 documents, dim=384 cosine; engine: 3 vectors; "
        "BM25: 3 documents, 10.0 tokens on average, 12 terms, IDF by polyvec)"
    )
    assert EngineStats().summary() == "nothing reported"
    big = EngineStats(disk_bytes=3 * 1024**3, memory_bytes=1536, segments=1)
    assert big.summary() == "1 segment, 3.0 GiB on disk, 1.5 KiB in memory"

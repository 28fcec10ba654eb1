"""LlamaIndex ``MetadataFilters`` → polyvec filter AST: every operator, no engine needed.

Each translation is checked against the expected AST, and on a few hand-picked cases
against LlamaIndex's own in-memory filter function; the randomized comparison, with every
known difference, is tests/integrations/test_llama_index_simple_store.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from polyvec import F, FilterSyntaxError, FilterValueError
from polyvec.filters import And, Not, Or, matches
from polyvec.integrations.llama_index import metadata_filters_to_ast

pytestmark = pytest.mark.llamaindex


def one(key: str, op: str, value: Any) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])


EXPECTED = [
    (one("a", "==", 1), F("a") == 1),
    (one("a", "!=", "x"), F("a") != "x"),
    (one("a", ">", 1.5), F("a") > 1.5),
    (one("a", ">=", 2), F("a") >= 2),
    (one("a", "<", 3), F("a") < 3),
    (one("a", "<=", 4), F("a") <= 4),
    (one("a", "in", ["x", "y"]), F("a").is_in(["x", "y"])),
    (one("a", "nin", [1, 2]), F("a").not_in([1, 2])),
    (one("a", "contains", "x"), F("a").contains("x")),
    (one("a", "any", ["x", "y"]), F("a").contains_any(["x", "y"])),
    (one("a", "all", ["x", "y"]), F("a").contains_all(["x", "y"])),
    (one("a", "text_match", "ab"), F("a").text_match("ab")),
    (one("a", "is_empty", None), F("a").is_null()),
    (one("a.b", "==", "z"), F("a.b") == "z"),
    (one("d", ">=", "2024-05-01"), F("d") >= "2024-05-01"),
]


@pytest.mark.parametrize(("filters", "want"), EXPECTED, ids=[str(w)[:50] for _, w in EXPECTED])
def test_every_operator_translates_exactly(filters: MetadataFilters, want: Any) -> None:
    assert metadata_filters_to_ast(filters) == want


def test_every_filter_operator_is_covered_or_refused() -> None:
    covered = {f.filters[0].operator for f, _ in EXPECTED}
    refused = {FilterOperator.TEXT_MATCH_INSENSITIVE}
    assert covered | refused == set(FilterOperator)
    for op in refused:
        with pytest.raises(FilterSyntaxError, match=op.value):
            metadata_filters_to_ast(one("a", op.value, "x"))


def test_conditions_and_nesting() -> None:
    a = MetadataFilter(key="a", value=1)
    b = MetadataFilter(key="b", value=2, operator="<")
    assert metadata_filters_to_ast(MetadataFilters(filters=[a, b])) == (F("a") == 1) & (F("b") < 2)
    assert metadata_filters_to_ast(MetadataFilters(filters=[a, b], condition="or")) == (
        (F("a") == 1) | (F("b") < 2)
    )
    assert metadata_filters_to_ast(MetadataFilters(filters=[a, b], condition="not")) == Not(
        Or([F("a") == 1, F("b") < 2])
    )
    nested = MetadataFilters(filters=[a, MetadataFilters(filters=[b, a], condition="or")])
    assert metadata_filters_to_ast(nested) == And([F("a") == 1, Or([F("b") < 2, F("a") == 1])])
    assert metadata_filters_to_ast(MetadataFilters(filters=[])) is None
    assert metadata_filters_to_ast(None) is None


def test_bad_values_raise_and_are_never_dropped() -> None:
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", "==", None))  # null: use is_empty
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", "in", "x"))  # in takes a list
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", "any", "x"))
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", ">", "three"))  # not a number or a date
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", "text_match", ""))  # nothing to look for
    with pytest.raises(FilterValueError):
        metadata_filters_to_ast(one("a", "all", "x"))


METADATA = [
    {"g": "x", "n": 1, "tags": ["a", "b"]},
    {"g": "y", "n": 2, "tags": ["b"]},
    {"g": "x", "n": 3, "tags": []},
    {"g": "", "n": 4.5},
    {"n": 5, "tags": ["c", "a"]},
    {"g": None, "n": 0},
]

AGREE = [
    one("g", "==", "x"),
    one("g", "!=", "x"),
    one("n", ">", 2),
    one("n", ">=", 2),
    one("n", "<", 3),
    one("n", "<=", 4.5),
    one("g", "in", ["x", "y"]),
    one("g", "nin", ["x"]),
    one("tags", "contains", "a"),
    one("tags", "any", ["a", "c"]),
    one("tags", "all", ["a", "b"]),
    one("tags", "is_empty", None),  # on "" they differ: test_llama_index_simple_store.py
    one("g", "text_match", "x"),
    MetadataFilters(
        filters=[
            MetadataFilter(key="g", value="x"),
            MetadataFilter(key="n", value=2, operator=">"),
        ],
        condition=FilterCondition.OR,
    ),
    MetadataFilters(
        filters=[
            MetadataFilter(key="g", value="x"),
            MetadataFilter(key="tags", value="b", operator="contains"),
        ],
        condition=FilterCondition.NOT,
    ),
]


@pytest.mark.parametrize("filters", AGREE, ids=itertools.count())
def test_agrees_with_llama_index_own_filter_function(filters: MetadataFilters) -> None:
    theirs = build_metadata_filter_fn(lambda i: METADATA[int(i)], filters)
    ours = metadata_filters_to_ast(filters)
    assert [matches(ours, m) for m in METADATA] == [theirs(str(i)) for i in range(len(METADATA))]


@pytest.mark.parametrize(
    "module",
    [
        "polyvec.filters.from_llama_index",
        "polyvec.integrations.llama_index",
        "polyvec.filters.from_langchain",
        "polyvec.integrations._langchain_extras",
    ],
)
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    pytest.importorskip("langchain_core")
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

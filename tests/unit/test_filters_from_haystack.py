"""Haystack 2.x filter dicts → polyvec filter AST: every operator, nesting, errors."""

from __future__ import annotations

import datetime as dt
import doctest
from typing import Any

import pytest

import polyvec.filters.from_haystack
from polyvec.errors import FilterSyntaxError, FilterValueError
from polyvec.filters import And, F, Not, Or, select
from polyvec.filters.from_haystack import from_haystack


def c(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


EXPECTED = [
    (c("meta.a", "==", 1), F("a") == 1),
    (c("meta.a", "!=", "x"), F("a") != "x"),
    (c("meta.a", ">", 1.5), F("a") > 1.5),
    (c("meta.a", ">=", 2), F("a") >= 2),
    (c("meta.a", "<", 3), F("a") < 3),
    (c("meta.a", "<=", 4), F("a") <= 4),
    (c("meta.a", "in", ["x", "y"]), F("a").is_in(["x", "y"])),
    (c("meta.a", "not in", [1, 2]), F("a").not_in([1, 2])),
    (c("meta.a", "==", None), F("a").is_null()),
    (c("meta.a", "!=", None), F("a").is_null(False)),
    (c("meta.a", "in", [1, None]), F("a").is_in([1]) | F("a").is_null()),
    (c("meta.a", "not in", [None, "x"]), F("a").not_in(["x"]) & F("a").is_null(False)),
    (c("meta.a", "==", True), F("a") == True),  # noqa: E712
    (c("meta.d", ">=", "2024-05-01"), F("d") >= dt.date(2024, 5, 1)),
    (c("meta.a.b", "==", "z"), F("a.b") == "z"),
    (c("meta.d", "==", "2024-05-01"), F("d") == "2024-05-01"),  # == stays exact
    # Haystack: a range with None matches nothing (and its NOT everything)
    *[(c("meta.a", op, None), Or([])) for op in (">", ">=", "<", "<=")],
]


@pytest.mark.parametrize(("filters", "want"), EXPECTED, ids=[str(w)[:60] for _, w in EXPECTED])
def test_every_operator_translates_exactly(filters: dict[str, Any], want: Any) -> None:
    assert from_haystack(filters) == want


def test_logical_operators_and_nesting() -> None:
    a, b = c("meta.a", "==", 1), c("meta.b", "<", 2)
    assert from_haystack({"operator": "AND", "conditions": [a, b]}) == And(
        [F("a") == 1, F("b") < 2]
    )
    assert from_haystack({"operator": "OR", "conditions": [a, b]}) == Or([F("a") == 1, F("b") < 2])
    # Haystack's NOT is "not all of them"
    assert from_haystack({"operator": "NOT", "conditions": [a, b]}) == Not(
        And([F("a") == 1, F("b") < 2])
    )
    assert from_haystack({"operator": "NOT", "conditions": [a]}) == Not(F("a") == 1)
    nested = {
        "operator": "AND",
        "conditions": [
            a,
            {"operator": "OR", "conditions": [b, {"operator": "NOT", "conditions": [a]}]},
        ],
    }
    assert from_haystack(nested) == And([F("a") == 1, Or([F("b") < 2, Not(F("a") == 1)])])
    assert from_haystack({"operator": "OR", "conditions": []}) == Or([])
    assert from_haystack(None) is None
    assert from_haystack({}) is None


@pytest.mark.parametrize(
    ("filters", "error", "says"),
    [
        (c("meta.a", "=~", 1), FilterSyntaxError, "known: ==, !="),
        (c("content", "==", "x"), FilterSyntaxError, "not a metadata field"),
        (c("a", "==", 1), FilterSyntaxError, "meta.a"),
        (c("meta.", "==", 1), FilterSyntaxError, "not a metadata field"),
        ({"field": "meta.a", "operator": "=="}, FilterSyntaxError, "'value'"),
        ({**c("meta.a", "==", 1), "extra": 1}, FilterSyntaxError, "exactly the keys"),
        ({"operator": "and", "conditions": []}, FilterSyntaxError, "upper case"),
        ({"operator": "AND", "conditions": {"x": 1}}, FilterSyntaxError, "list of conditions"),
        ({"operator": "AND"}, FilterSyntaxError, "exactly the keys"),
        ({"operator": "AND", "conditions": ["x"]}, FilterSyntaxError, "must be a dict"),
        ({"$and": [{"a": 1}]}, FilterSyntaxError, "parse_filter"),
        (c("meta.a", "in", (1, 2)), FilterValueError, "[1, 2]"),  # Haystack: FilterError
        (c("meta.a", "not in", (1,)), FilterValueError, "takes a list"),
        (c("meta.a", "==", [1, 2]), FilterValueError, "'in'"),
        (c("meta.a", "in", "x"), FilterValueError, "list"),
        (c("meta.a", ">", "soon"), FilterValueError, "ISO-8601"),
    ],
)
def test_errors_name_the_problem(filters: Any, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=None) as info:
        from_haystack(filters)
    assert says in str(info.value)


def test_not_a_dict_is_refused() -> None:
    with pytest.raises(FilterSyntaxError, match="must be a dict"):
        from_haystack(["x"])  # type: ignore[arg-type]


DOCS = {
    1: {"genre": "news", "year": 2021, "rating": 4.5},
    2: {"genre": "blog", "year": 2023},
    3: {"genre": None, "year": 2019, "rating": 2},
    4: {"year": 2024, "rating": 5},
}


@pytest.mark.parametrize(
    ("filters", "want"),
    [
        (c("meta.genre", "==", None), [3, 4]),
        (c("meta.genre", "!=", "news"), [2, 3, 4]),
        (c("meta.genre", "in", ["blog", None]), [2, 3, 4]),
        (c("meta.genre", "not in", ["blog", None]), [1]),
        (c("meta.rating", ">", 3), [1, 4]),
        (c("meta.rating", ">", None), []),
        ({"operator": "NOT", "conditions": [c("meta.rating", "<=", None)]}, [1, 2, 3, 4]),
        (
            {
                "operator": "NOT",
                "conditions": [c("meta.year", ">=", 2020), c("meta.rating", "<", 5)],
            },
            [2, 3, 4],
        ),
    ],
)
def test_selects_what_haystack_selects(filters: dict[str, Any], want: list[int]) -> None:
    # the ids Haystack's in-memory store returns for these filters on DOCS (by its rules:
    # a missing field is None, == None matches it, NOT is "not all")
    assert select(from_haystack(filters), DOCS) == want


def test_docstring_examples() -> None:
    result = doctest.testmod(polyvec.filters.from_haystack)
    assert result.attempted > 0 and result.failed == 0

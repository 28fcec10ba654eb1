"""LangChain ``StructuredQuery`` → polyvec filter AST (polyvec.filters.from_langchain)."""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import sys
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.structured_query import (
    Comparator,
    Comparison,
    Operation,
    Operator,
    StructuredQuery,
)

import polyvec.filters.from_langchain as module
from polyvec.errors import FilterSyntaxError, FilterValueError, MissingDependencyError
from polyvec.filters import And, F, Not, Or
from polyvec.filters.from_langchain import PolyvecTranslator, from_langchain

UTC = dt.timezone.utc


def cmp(comparator: Comparator, value: Any, attribute: str = "a") -> Comparison:
    return Comparison(comparator=comparator, attribute=attribute, value=value)


EXPECTED = [
    (cmp(Comparator.EQ, 1), F("a") == 1),
    (cmp(Comparator.NE, "x"), F("a") != "x"),
    (cmp(Comparator.GT, 1.5), F("a") > 1.5),
    (cmp(Comparator.GTE, 2), F("a") >= 2),
    (cmp(Comparator.LT, 3), F("a") < 3),
    (cmp(Comparator.LTE, 4), F("a") <= 4),
    (cmp(Comparator.IN, ["x", "y"]), F("a").is_in(["x", "y"])),
    (cmp(Comparator.NIN, [1]), F("a").not_in([1])),
    (cmp(Comparator.CONTAIN, "linux"), F("a").contains("linux")),
    (cmp(Comparator.EQ, True), F("a") == True),  # noqa: E712
    (cmp(Comparator.EQ, 1, "a.b"), F("a.b") == 1),
    (
        cmp(Comparator.GTE, {"date": "2024-05-01", "type": "date"}),
        F("a") >= dt.datetime(2024, 5, 1, tzinfo=UTC),
    ),
    (
        cmp(Comparator.EQ, {"datetime": "2024-05-01T10:00:00Z", "type": "datetime"}),
        F("a") == dt.datetime(2024, 5, 1, 10, tzinfo=UTC),
    ),
    (
        cmp(Comparator.IN, [{"date": "2024-05-01", "type": "date"}]),
        F("a").is_in([dt.date(2024, 5, 1)]),
    ),
]


@pytest.mark.parametrize(("expr", "want"), EXPECTED, ids=[str(w)[:60] for _, w in EXPECTED])
def test_every_comparator_translates_exactly(expr: Comparison, want: Any) -> None:
    assert from_langchain(expr) == want
    assert from_langchain(StructuredQuery("q", expr)) == want


def test_every_comparator_is_covered_or_refused() -> None:
    covered = set(PolyvecTranslator.allowed_comparators)
    assert covered | {Comparator.LIKE} == set(Comparator)
    with pytest.raises(FilterSyntaxError, match=r"like.*allowed_comparators"):
        from_langchain(cmp(Comparator.LIKE, "%x%"))


def test_operations_and_nesting() -> None:
    a, b = cmp(Comparator.EQ, 1, "x"), cmp(Comparator.LT, 2, "y")
    assert from_langchain(Operation(Operator.AND, [a, b])) == And([F("x") == 1, F("y") < 2])
    assert from_langchain(Operation(Operator.OR, [a, b])) == Or([F("x") == 1, F("y") < 2])
    assert from_langchain(Operation(Operator.NOT, [a])) == Not(F("x") == 1)
    assert from_langchain(Operation(Operator.NOT, [a, b])) == Not(Or([F("x") == 1, F("y") < 2]))
    deep = Operation(Operator.OR, [Operation(Operator.AND, [a, Operation(Operator.NOT, [b])]), b])
    assert from_langchain(deep) == Or([And([F("x") == 1, Not(F("y") < 2)]), F("y") < 2])
    assert from_langchain(StructuredQuery("q", None)) is None
    assert from_langchain(None) is None


def test_errors() -> None:
    with pytest.raises(FilterValueError, match="list of values"):
        from_langchain(cmp(Comparator.IN, "x"))
    with pytest.raises(FilterValueError, match="ISO-8601"):
        from_langchain(cmp(Comparator.GT, {"date": "soon", "type": "date"}))
    with pytest.raises(FilterValueError):
        from_langchain(cmp(Comparator.GT, "three"))
    with pytest.raises(FilterSyntaxError, match="needs an argument"):
        from_langchain(Operation(Operator.NOT, []))
    with pytest.raises(FilterSyntaxError, match="StructuredQuery"):
        from_langchain({"a": 1})  # type: ignore[arg-type]


def test_missing_langchain_raises_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "polyvec.filters.from_langchain")
    monkeypatch.setitem(sys.modules, "langchain_core.structured_query", None)
    with pytest.raises(MissingDependencyError, match=r"polyvec\[langchain\]"):
        importlib.import_module("polyvec.filters.from_langchain")


def test_docstring_examples() -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

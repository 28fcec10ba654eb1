"""The shadow index Chroma and Milvus filter against (``polyvec.backends.metaindex``),
checked without an engine: a filter's negation-free plan, evaluated over a document's
flattened metadata, must say exactly what the reference evaluator says — for random
metadata and filter trees, and for a table of awkward values."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

import pytest
from hypothesis import given, settings

from polyvec.backends.metaindex import (
    FALSE,
    TRUE,
    AllOf,
    AnyOf,
    Bound,
    Const,
    Flat,
    Marker,
    Node,
    Text,
    Token,
    flatten,
    plan,
)
from polyvec.backends.values import plain_metadata
from polyvec.errors import InputError, UnsupportedFilterError
from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Comparison, Not, Or
from polyvec.filters.evaluate import matches
from tests.strategies import filters, metadata_docs

_CMP = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def holds(node: Node, flat: Flat) -> bool:
    """A plan's meaning, as both engines implement it."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Token):
        return (node.token in flat.tokens.get(node.path, ())) is node.present
    if isinstance(node, Marker):
        return (node.marker in flat.markers) is node.present
    if isinstance(node, Bound):
        stats = getattr(flat, node.stat)
        return node.path in stats and _CMP[node.op](stats[node.path], node.value)
    if isinstance(node, Text):  # Milvus: like "%text%" on the joined strings
        return node.text in flat.texts.get(node.path, "")
    if isinstance(node, AllOf):
        return all(holds(child, flat) for child in node.children)
    assert isinstance(node, AnyOf)
    return any(holds(child, flat) for child in node.children)


def agrees(f: Filter, metadata: dict[str, Any]) -> None:
    plain = plain_metadata(metadata, "metadata")
    try:
        node = plan(f, "test")
    except UnsupportedFilterError as exc:  # text_match where De Morgan negates it
        assert exc.operator == "text_match", exc
        return
    got = holds(node, flatten(plain))
    assert got == matches(f, plain), f"{f!r} on {plain!r}: plan says {got}"


@settings(max_examples=300, deadline=None)
@given(metadata=metadata_docs(), f=filters())
def test_plan_agrees_with_the_evaluator(metadata: dict[str, Any], f: Filter) -> None:
    agrees(f, metadata)


AWKWARD: list[dict[str, Any]] = [
    {},
    {"a": None},
    {"a": []},
    {"a": [None]},
    {"a": [[1, 2], 3]},
    {"a": [{"b": 1}]},
    {"a": {}},
    {"a": {"b": None}},
    {"a": {"b": {"c": [1, "1", True]}}},
    {"a.b": 1},
    {"a": {"b.c": 2}},
    {"a": True},
    {"a": 1},
    {"a": 1.0},
    {"a": -0.0},
    {"a": "1"},
    {"a": [True, 1, 1.5, "x"]},
    {"a": "2024-01-03T12:30:00+02:00"},
    {"a": "2024-01-03"},
    {"a": ["2024-01-01", "2024-01-09T00:00:00Z", "nope"]},
    {"a": dt.datetime(2024, 1, 3, 10, 30, tzinfo=dt.timezone.utc)},
    {"a": dt.date(2024, 1, 3)},
    {"a": 2**63 + 1},
    {"a": 1e300},
    {"a": ["", "café", 'quo"te', "back\\slash", "new\nline"]},
    {"$a": 1, "": 2},
]

VALUES: list[Any] = [
    1, 1.0, True, False, 0, -0.0, 1.5, "1", "x", "", "café", 'quo"te', "new\nline",
    dt.datetime(2024, 1, 3, 10, 30, tzinfo=dt.timezone.utc), dt.date(2024, 1, 1), 2**62,
]  # fmt: skip


def _comparisons(field: str) -> list[Filter]:
    out: list[Filter] = [F(field).exists(), F(field).exists(False)]
    for v in VALUES:
        out += [F(field) == v, F(field) != v, F(field).contains(v)]
        out += [F(field).is_in([v, "x"]), F(field).not_in([v])]
        if not isinstance(v, (bool, str)) and not (isinstance(v, int) and v > 2**53):
            out += [F(field) > v, F(field) >= v, F(field) < v, F(field) <= v]
    out += [F(field).is_in([]), F(field).not_in([]), F(field) >= "2024-01-03"]
    return out


@pytest.mark.parametrize("metadata", AWKWARD, ids=[repr(m)[:40] for m in AWKWARD])
@pytest.mark.parametrize("field", ["a", "a.b", "a.b.c", "a.b.c.d", "$x"[1:]])
def test_awkward_values(metadata: dict[str, Any], field: str) -> None:
    for f in _comparisons(field):
        for g in (f, Not(f), And([f, F("zz").exists(False)]), Or([f, F("zz").exists()])):
            agrees(g, metadata)


def test_empty_and_or_and_double_negation() -> None:
    assert plan(And([]), "x") == TRUE
    assert plan(Or([]), "x") == FALSE
    assert plan(Not(And([])), "x") == FALSE
    assert plan(Not(Not(F("a") == 1)), "x") == plan(F("a") == 1, "x")
    assert plan(And([F("a") == 1, Or([])]), "x") == FALSE


def test_negated_range_needs_no_not() -> None:
    node = plan(~(F("n") > 3), "x")
    assert node == AnyOf((Marker("n:n", False), Bound("nmax", "n", "lte", 3.0)))


def test_huge_integer_bounds_are_refused_not_rounded() -> None:
    with pytest.raises(UnsupportedFilterError) as info:
        plan(F("n") > 2**60, "chroma")
    assert info.value.backend == "chroma" and info.value.operator == "gt"
    plan(F("n") == 2**60, "chroma")  # equality is exact at any size (tokens)


def test_metadata_is_plain_json() -> None:
    when = dt.datetime(2024, 1, 3, tzinfo=dt.timezone.utc)
    assert plain_metadata({"t": (1, when)}, "m") == {"t": [1, "2024-01-03T00:00:00+00:00"]}
    for bad in ({"x": float("nan")}, {"x": float("inf")}, {1: "x"}, {"x": object()}):
        with pytest.raises(InputError):
            plain_metadata(bad, "m")
    with pytest.raises(InputError, match=r"m\.x is 9007199254740993, beyond ±2\*\*53"):
        plain_metadata({"x": 2**53 + 1}, "m", max_int=2**53)


def test_tokens_tell_types_apart() -> None:
    flat = flatten({"n": 3, "f": 3.0, "b": True, "s": "3", "l": [1, "a"]})
    assert flat.tokens["n"] == flat.tokens["f"] == ["n:3"]
    assert flat.tokens["b"] == ["b:1"]
    assert flat.tokens["s"] == ["s:3"]
    assert flat.tokens["l"] == ["Ln:1", "Ls:a", "n:1", "s:a"]
    assert "n:b" not in flat.markers and "n:n" in flat.markers


def test_comparison_on_a_dict_value_only_tests_presence() -> None:
    f = Comparison("a", "eq", 1)
    assert not holds(plan(f, "x"), flatten({"a": {"b": 1}}))
    assert holds(plan(F("a").exists(), "x"), flatten({"a": {}}))


DOCTESTED = [
    "polyvec.backends.metaindex",
    "polyvec.backends.chroma.filters",
    "polyvec.backends.chroma.layout",
    "polyvec.backends.milvus.filters",
    "polyvec.backends.milvus.layout",
    "polyvec.backends.milvus.backend",
    "polyvec.sparse.index",
]


@pytest.mark.parametrize("module", DOCTESTED)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    pytest.importorskip("chromadb" if ".chroma" in module else "numpy")
    if ".milvus" in module:
        pytest.importorskip("pymilvus")
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0

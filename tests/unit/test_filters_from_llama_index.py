"""LlamaIndex ``MetadataFilters`` → polyvec filter AST (polyvec.filters.from_llama_index).

tests/integrations/test_llama_index_filters.py checks the integration's public name
against LlamaIndex's own filter function; this file pins the parser itself: every
operator, nesting, errors, and the missing-dependency error.
"""

from __future__ import annotations

import doctest
import sys
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

import polyvec.filters.from_llama_index as module
from polyvec.errors import FilterSyntaxError, FilterValueError, MissingDependencyError
from polyvec.filters import And, F, Not, Op, Or, matches
from polyvec.filters.from_llama_index import from_llama_index


def one(key: str, op: str, value: Any) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])


def test_every_filter_operator_has_an_exact_translation_or_a_refusal() -> None:
    values: dict[str, Any] = {"in": [1], "nin": [1], "any": ["x"], "all": ["x"]}
    values.update({">": 1, ">=": 1, "<": 1, "<=": 1})
    for op in FilterOperator:
        filters = one("k", op.value, values.get(op.value, "x"))
        if op is FilterOperator.TEXT_MATCH_INSENSITIVE:
            with pytest.raises(FilterSyntaxError, match=r"text_match_insensitive.*lower-cased"):
                from_llama_index(filters)
        else:
            assert from_llama_index(filters) is not None, op


def test_new_operators_map_to_their_own_nodes() -> None:
    assert from_llama_index(one("t", "any", ["a", "b"])) == F("t").contains_any(["a", "b"])
    assert from_llama_index(one("t", "all", ["a"])) == F("t").contains_all(["a"])
    assert from_llama_index(one("t", "text_match", "Lin")) == F("t").text_match("Lin")
    assert from_llama_index(one("t", "is_empty", None)) == F("t").is_null()
    # LlamaIndex's documented is_empty: missing, null or []; not "", not a list holding ""
    empty = from_llama_index(one("t", "is_empty", None))
    assert [matches(empty, m) for m in ({}, {"t": None}, {"t": []})] == [True] * 3
    assert [matches(empty, m) for m in ({"t": ""}, {"t": ["", "x"]}, {"t": 0})] == [False] * 3
    node = from_llama_index(one("t", "text_match", "Lin"))
    assert matches(node, {"t": "Linux"}) and not matches(node, {"t": "linux"})


def test_conditions_nesting_and_empty() -> None:
    a = MetadataFilter(key="a", value=1)
    b = MetadataFilter(key="b", value=["x"], operator="any")
    inner = MetadataFilters(filters=[a, b], condition="not")
    outer = MetadataFilters(filters=[inner, a], condition="or")
    assert from_llama_index(outer) == Or(
        [Not(Or([F("a") == 1, F("b").contains_any(["x"])])), F("a") == 1]
    )
    assert from_llama_index(MetadataFilters(filters=[a, inner])) == And(
        [F("a") == 1, Not(Or([F("a") == 1, F("b").contains_any(["x"])]))]
    )
    # no filters at all means every document, whatever the condition says
    assert from_llama_index(MetadataFilters(filters=[], condition="or")) is None
    assert from_llama_index(None) is None


def test_errors() -> None:
    with pytest.raises(FilterValueError, match="takes a list"):
        from_llama_index(one("a", "any", "x"))
    with pytest.raises(FilterValueError):
        from_llama_index(one("a", "==", None))
    with pytest.raises(FilterValueError):
        from_llama_index(one("a", "text_match", ""))
    # LlamaIndex's all([]) holds on [] and "" too, which polyvec cannot tell from missing
    with pytest.raises(FilterValueError, match="'all' with no values"):
        from_llama_index(one("a", "all", []))
    with pytest.raises(FilterSyntaxError, match="MetadataFilters"):
        from_llama_index({"a": 1})  # type: ignore[arg-type]
    assert from_llama_index(one("a", "in", [1, 2])).op is Op.IN  # type: ignore[union-attr]


def test_missing_llama_index_raises_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.core.vector_stores", None)
    with pytest.raises(MissingDependencyError, match=r"polyvec\[llamaindex\]"):
        from_llama_index(one("a", "==", 1))


def test_docstring_examples() -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

"""The filter limits that need no engine (docs/filters.md, "Limits"): the depth rule at
construction and parse time, the evaluator on the deepest accepted trees, strings with
surrogates, and the Weaviate translation (no engine runs here; the engines are
tests/conformance/test_filter_limits.py)."""

from __future__ import annotations

import pytest

from polyvec.errors import (
    FilterSyntaxError,
    InputError,
    InvalidTextError,
)
from polyvec.filters import And, F, Filter, Not, Or, matches, parse_filter, select
from polyvec.filters.ast import flattened
from polyvec.filters.limits import MAX_DEPTH


def _alternating(levels: int) -> Filter:
    node: Filter = F("n") >= 0
    for i in range(levels):
        node = (And([node, F("n") < 9]), Or([node, F("v") == "x"]), Not(node))[i % 3]
    return node


def _dict_chain(levels: int, ops: tuple[str, ...]) -> dict:
    node: dict = {"n": {"$gte": 0}}
    for i in range(levels):
        op = ops[i % len(ops)]
        node = {op: node} if op == "$not" else {op: [node, {"n": {"$lt": 9}}]}
    return node


def test_depth_at_the_limit_is_built_and_evaluated() -> None:
    f = _alternating(MAX_DEPTH)
    assert f.depth == MAX_DEPTH
    assert select(f, {1: {"n": 1}, 2: {"n": 10}, 3: {}}) == [
        i for i in (1, 2, 3) if matches(f, {1: {"n": 1}, 2: {"n": 10}, 3: {}}[i])
    ]


def test_one_level_more_is_a_typed_error_naming_the_limit() -> None:
    with pytest.raises(FilterSyntaxError, match=rf"more than the {MAX_DEPTH}.*MAX_DEPTH"):
        _alternating(MAX_DEPTH + 1)
    for ops in (("$and", "$or", "$not"), ("$and", "$or")):
        parse_filter(_dict_chain(MAX_DEPTH, ops))
        with pytest.raises(FilterSyntaxError, match="MAX_DEPTH"):
            parse_filter(_dict_chain(MAX_DEPTH + 1, ops))
    field_nots: dict = {"$eq": 1}
    for _ in range(5000):
        field_nots = {"$not": field_nots}
    with pytest.raises(FilterSyntaxError, match="MAX_DEPTH"):
        parse_filter({"a": field_nots})


def test_a_1000_deep_mixed_tree_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter(_dict_chain(1000, ("$and", "$or", "$not")))
    with pytest.raises(FilterSyntaxError):
        _alternating(1000)


def test_same_kind_chains_of_any_length_parse_and_evaluate() -> None:
    chain = parse_filter(_dict_chain(5000, ("$and",)))
    assert isinstance(chain, And) and chain.depth == 1
    built: Filter = F("n") >= 0
    for _ in range(5000):
        built = Or([built, F("v") == "x"])
    assert built.depth == 1
    assert len(flattened(built).children) == 5001  # type: ignore[union-attr]
    assert matches(chain, {"n": 3}) and not matches(chain, {"n": 10})
    assert matches(built, {"v": "x", "n": -1}) and not matches(built, {"n": -1})


def test_flattening_keeps_an_unnested_filter_as_it_is() -> None:
    f = (F("a") == 1) & ((F("b") == 2) | ~(F("c") == 3))
    assert flattened(f) is f
    assert flattened(And([And([F("a") == 1]), F("b") == 2])) == And([F("a") == 1, F("b") == 2])


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "\ud83d\ude00"])
def test_surrogates_are_refused_naming_the_field(bad: str) -> None:
    """One rule with documents: an InvalidTextError, which is an InputError (and a
    FilterError)."""
    with pytest.raises(InvalidTextError, match="surrogate"):
        F(f"meta.{bad}")
    with pytest.raises(InputError, match="surrogate"):
        parse_filter({bad: 1})
    for build in (
        lambda: F("title") == bad,
        lambda: F("title") != bad,
        lambda: F("title").is_in(["ok", bad]),
        lambda: F("title").contains(bad),
        lambda: F("title").text_match(bad),
        lambda: parse_filter({"title": {"$nin": [bad]}}),
    ):
        with pytest.raises(InvalidTextError, match=r"filter on 'title'.*surrogate"):
            build()


def test_weaviate_translates_the_limits() -> None:
    pytest.importorskip("weaviate")
    from polyvec.backends.weaviate.filters import to_weaviate_filter

    chain: Filter = F("n") >= 0
    for _ in range(3000):
        chain = And([chain, F("v") != "x"])
    for f in (_alternating(MAX_DEPTH), chain, F("v").is_in([f"s{i}" for i in range(10_000)])):
        assert to_weaviate_filter(f) not in (True, False)
    assert to_weaviate_filter(F("v") != "\x00") is not False

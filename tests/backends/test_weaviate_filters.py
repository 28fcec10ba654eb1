"""Weaviate filter translation, without a server (none can run here).

The translation builds the client's own ``Filter`` objects; the client serialises them
to the gRPC ``Filters`` message it would send. These tests evaluate that message with
Weaviate's documented filter semantics (``ContainsAny`` matches if any array element
is one of the values, ``Equal`` on a boolean, ``Not`` is the complement, number
comparisons on ``number`` properties) over the objects polyvec would write
(:func:`object_properties`), and require exactly the ids the reference evaluator
selects — for hypothesis-generated metadata and filters, and for the awkward table.
The live tests (``WEAVIATE_URL``) run the same filters on a real server."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.errors import UnsupportedFilterError
from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Comparison, Not, Op, Or
from polyvec.filters.evaluate import select
from polyvec.types import Document
from tests.conftest import REQUIRED
from tests.strategies import filters, metadata_docs, sample_value

if "weaviate" in REQUIRED:  # CI requires it: a missing client fails, never skips
    import weaviate  # noqa: F401
else:
    pytest.importorskip("weaviate")
pytestmark = pytest.mark.weaviate

from weaviate.collections.filters import _FilterToGRPC  # noqa: E402
from weaviate.proto.v1 import base_pb2  # noqa: E402

from polyvec.backends.weaviate.filters import to_weaviate_filter  # noqa: E402
from polyvec.backends.weaviate.schema import (  # noqa: E402
    FIXED_PROPERTIES,
    facet_property,
    object_properties,
)
from tests.pinecone_standin.awkward import AWKWARD, AWKWARD_FILTERS  # noqa: E402

EXAMPLES = int(os.environ.get("POLYVEC_HYPOTHESIS_EXAMPLES", "40"))
WEAVIATE_OPS = tuple(op for op in Op if op is not Op.TEXT_MATCH)
OP = base_pb2.Filters
_COMPARE = {
    OP.OPERATOR_GREATER_THAN: lambda a, b: a > b,
    OP.OPERATOR_GREATER_THAN_EQUAL: lambda a, b: a >= b,
    OP.OPERATOR_LESS_THAN: lambda a, b: a < b,
    OP.OPERATOR_LESS_THAN_EQUAL: lambda a, b: a <= b,
}


def weaviate_matches(message: Any, props: dict[str, Any]) -> bool:
    """Weaviate's documented meaning of one gRPC ``Filters`` message on one object."""
    op = message.operator
    if op == OP.OPERATOR_AND:
        return all(weaviate_matches(f, props) for f in message.filters)
    if op == OP.OPERATOR_OR:
        return any(weaviate_matches(f, props) for f in message.filters)
    if op == OP.OPERATOR_NOT:
        (child,) = message.filters
        return not weaviate_matches(child, props)
    value = props.get(message.target.property)
    if value is None:
        return False
    if op == OP.OPERATOR_CONTAINS_ANY:
        wanted = set(message.value_text_array.values)
        return any(item in wanted for item in (value if isinstance(value, list) else [value]))
    if op == OP.OPERATOR_EQUAL:
        assert message.WhichOneof("test_value") == "value_boolean"
        return value is message.value_boolean
    if op in _COMPARE:
        assert message.WhichOneof("test_value") == "value_number"
        return bool(_COMPARE[op](value, message.value_number))
    raise AssertionError(f"the translation never writes {OP.Operator.Name(op)}")


def selected(f: Filter, metadata: list[dict[str, Any]]) -> list[int]:
    objects = [object_properties(Document(i, "", m)) for i, m in enumerate(metadata)]
    known = set(FIXED_PROPERTIES).union(*objects)
    native = to_weaviate_filter(f, known=known)
    if native is True or native is False:
        return list(range(len(metadata))) if native else []
    message = _FilterToGRPC.convert(native)
    return [i for i, props in enumerate(objects) if weaviate_matches(message, props)]


def check(f: Filter, metadata: list[dict[str, Any]]) -> None:
    want = sorted(select(f, dict(enumerate(metadata))))
    assert selected(f, metadata) == want, f"{f!r}: reference {want}"


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(
    metadata=st.lists(metadata_docs(), min_size=1, max_size=25),
    trees=st.lists(filters(ops=WEAVIATE_OPS), min_size=1, max_size=6),
)
def test_translation_selects_what_the_evaluator_selects(
    metadata: list[dict[str, Any]], trees: list[Filter]
) -> None:
    for f in trees:
        check(f, metadata)


@pytest.mark.parametrize("f", AWKWARD_FILTERS, ids=[repr(f)[:50] for f in AWKWARD_FILTERS])
def test_awkward_values_match_the_evaluator(f: Filter) -> None:
    check(f, AWKWARD)


def test_a_translation_that_ignores_null_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: a negated comparison written as the opposite comparison (false
    where the property is null, unlike the evaluator) must fail the table above."""
    import polyvec.backends.weaviate.filters as wf
    from polyvec.backends.projection import Cmp

    real = wf._leaf
    flipped = {"gt": "less_or_equal", "gte": "less_than", "lt": "greater_or_equal"}

    def mutant(ir: Any, known: Any) -> Any:
        if isinstance(ir, Cmp) and ir.negated:
            by = wf._wf().by_property(facet_property(ir.path, ir.facet))
            return getattr(by, flipped.get(ir.op, "greater_than"))(ir.value)
        return real(ir, known)

    monkeypatch.setattr(wf, "_leaf", mutant)
    with pytest.raises(AssertionError):
        for f in AWKWARD_FILTERS:
            check(f, AWKWARD)


# -- the client's own objects ---------------------------------------------------------
def test_translation_shapes() -> None:
    s, n = facet_property("lang", "s"), facet_property("page", "max")
    eq = to_weaviate_filter(F("lang") == " en")
    assert (eq.target, eq.operator.value, eq.value) == (s, "ContainsAny", ["| en|"])
    ne = to_weaviate_filter(F("lang") != "en")
    assert ne.operator.value == "Not" and ne.filters[0].operator.value == "ContainsAny"
    gt = to_weaviate_filter(F("page") > 3)
    assert (gt.target, gt.operator.value, gt.value) == (n, "GreaterThan", 3.0)
    exists = to_weaviate_filter(F("a.b").exists())
    assert (exists.target, exists.operator.value, exists.value) == (
        facet_property("a.b", "e"),
        "Equal",
        True,
    )
    assert to_weaviate_filter(~F("a.b").exists()).operator.value == "Not"
    both = to_weaviate_filter((F("n") == 1) & (F("n") == True))  # noqa: E712
    assert both.operator.value == "And"
    assert [c.value for c in both.filters] == [["1"], ["true"]]
    when = to_weaviate_filter(F("d") == dt.date(2024, 1, 2))
    assert when.value == ["2024-01-02T00:00:00.000000Z"]
    contains = to_weaviate_filter(F("tags").contains("x"))
    assert [c.target for c in contains.filters] == [
        facet_property("tags", "l"),
        facet_property("tags", "s"),
    ]


def test_constants_and_unknown_properties() -> None:
    assert to_weaviate_filter(None) is True
    assert to_weaviate_filter(And(())) is True
    assert to_weaviate_filter(Or(())) is False
    assert to_weaviate_filter(Not(Or(()))) is True
    fixed = set(FIXED_PROPERTIES)
    assert to_weaviate_filter(F("never") == 1, known=fixed) is False
    assert to_weaviate_filter(F("never") != 1, known=fixed) is True
    assert to_weaviate_filter(~F("never").exists(), known=fixed) is True
    known = {*fixed, facet_property("a", "n")}
    mixed = to_weaviate_filter((F("a") == 1) | (F("never") == 2), known=known)
    assert mixed.target == facet_property("a", "n")  # the unknown leaf folded away


@pytest.mark.parametrize(
    "f",
    [
        F("n") > 2**53,
        F("n") <= -(2**60),
        F("d") > dt.datetime(2300, 1, 1, tzinfo=dt.timezone.utc),
    ],
)
def test_inexpressible_filters_are_refused(f: Filter) -> None:
    with pytest.raises(UnsupportedFilterError) as info:
        to_weaviate_filter(f)
    assert info.value.backend == "weaviate"


def test_every_operator_translates_and_serialises() -> None:
    for op in Op:
        f = Comparison("f.g h", op, sample_value(op))
        if op is Op.TEXT_MATCH:  # not verified on an engine here: refused, never dropped
            with pytest.raises(UnsupportedFilterError, match="text_match"):
                to_weaviate_filter(f)
            continue
        assert _FilterToGRPC.convert(to_weaviate_filter(f)) is not None


@pytest.mark.parametrize("name", ["filters", "schema", "connection"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    module = importlib.import_module(f"polyvec.backends.weaviate.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

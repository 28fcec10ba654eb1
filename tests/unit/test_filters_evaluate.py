"""The reference evaluator: hand-written cases for every rule, and its algebra.

The rules are the semantics table of docs/filters.md (test_filters_docs.py checks the
table's rows); the cases here pin each rule down from more sides.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.filters import And, Comparison, F, Filter, Not, Op, Or, matches, select
from polyvec.types import Document
from tests.strategies import FILTER_FIELDS, comparisons, filters, metadata_docs

UTC = dt.timezone.utc
PLUS1 = dt.timezone(dt.timedelta(hours=1))

# -- missing, null, empty list -------------------------------------------------------

ALL_OPS_ON_ABSENT = [
    (F("a") == 1, False),
    (F("a") == "x", False),
    (F("a") > 0, False),
    (F("a") >= 0, False),
    (F("a") < 0, False),
    (F("a") <= 0, False),
    (F("a") > dt.date(2024, 1, 1), False),
    (F("a").is_in([1, "x"]), False),
    (F("a").contains("x"), False),
    (F("a") != 1, True),
    (F("a").not_in([1, "x"]), True),
    (F("a").exists(), False),
    (F("a").exists(False), True),
]


@pytest.mark.parametrize(
    "metadata",
    [{}, {"a": None}, {"a": []}, {"a": ()}, {"b": 1}],
    ids=["missing", "null", "empty-list", "empty-tuple", "other-key"],
)
@pytest.mark.parametrize(("f", "expected"), ALL_OPS_ON_ABSENT)
def test_missing_null_and_empty_list_are_the_same(
    f: Filter, expected: bool, metadata: dict[str, Any]
) -> None:
    assert matches(f, metadata) is expected


@pytest.mark.parametrize("value", [0, 0.0, False, "", "x", [None, 1], {"b": 1}])
def test_exists_on_present_values(value: Any) -> None:
    """Falsy values are present: only None (and []) count as missing."""
    assert matches(F("a").exists(), {"a": value})
    assert not matches(F("a").exists(False), {"a": value})


# -- equality and types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (F("a") == 3, 3, True),
        (F("a") == 3, 3.0, True),
        (F("a") == 3.0, 3, True),
        (F("a") == 0.5, 0.5, True),
        (F("a") == 3, "3", False),
        (F("a") == "3", 3, False),
        (F("a") == 1, True, False),
        (F("a") == 0, False, False),
        (F("a") == True, 1, False),  # noqa: E712
        (F("a") == False, 0, False),  # noqa: E712
        (F("a") == True, True, True),  # noqa: E712
        (F("a") == False, False, True),  # noqa: E712
        (F("a") == "news", "news", True),
        (F("a") == "News", "news", False),
        (F("a") == "café", "café", True),
        (F("a") == "café", "cafe\u0301", False),  # no unicode normalisation
        (F("a") == "", "", True),
        (F("a") == 3, None, False),
        (F("a") == 3, {"b": 3}, False),
        (F("a") == 2**40, 2**40, True),
        (F("a") == 3, float("nan"), False),
        (F("a") != 3, "3", True),
        (F("a") != 3, 3.0, False),
        (F("a") != True, 1, True),  # noqa: E712
    ],
)
def test_equality_has_no_coercion(f: Filter, value: Any, expected: bool) -> None:
    assert matches(f, {"a": value}) is expected


def test_numpy_values_in_metadata_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    assert matches(F("a") == 3, {"a": np.int64(3)})
    assert matches(F("a") > 2.5, {"a": np.float32(3.0)})


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (F("a") > 2, 3, True),
        (F("a") > 2, 2, False),
        (F("a") >= 2, 2.0, True),
        (F("a") < 2.5, 2, True),
        (F("a") <= -1, -1, True),
        (F("a") > 2, "3", False),
        (F("a") < 2, "1", False),
        (F("a") >= 0, True, False),
        (F("a") < 5, False, False),
        (F("a") > 0, "2024-01-01", False),
        (F("a") > 0, dt.date(2024, 1, 1), False),
        (F("a") > 0, {"b": 1}, False),
        (F("a") > 0, float("nan"), False),
    ],
)
def test_range_on_numbers(f: Filter, value: Any, expected: bool) -> None:
    assert matches(f, {"a": value}) is expected


# -- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (F("d") >= dt.date(2024, 1, 1), "2024-03-05T10:00:00Z", True),
        (F("d") >= dt.date(2024, 1, 1), "2023-12-31", False),
        (F("d") >= "2024-01-01", "2024-01-01", True),
        (F("d") > "2024-01-01", "2024-01-01", False),
        (F("d") > "2024-01-01", "2024-01-01T00:00:01", True),  # naive ISO string = UTC
        (F("d") < "2024-01-01T00:00:00Z", "2024-01-01T00:30:00+01:00", True),
        (F("d") < "2024-01-01", dt.datetime(2023, 12, 31, 23, 59), True),  # naive = UTC
        (F("d") <= "2024-01-01", dt.date(2024, 1, 1), True),
        (
            F("d") > dt.datetime(2024, 1, 1, 11, tzinfo=UTC),
            dt.datetime(2024, 1, 1, 13, tzinfo=PLUS1),
            True,
        ),
        (F("d") > dt.date(2024, 1, 1), "soon", False),
        (F("d") > dt.date(2024, 1, 1), "", False),
        (F("d") > dt.date(2024, 1, 1), 1_750_000_000, False),
        (F("d") > dt.date(2024, 1, 1), True, False),
        (F("d") > dt.date(2024, 1, 1), ["2023-01-01", "2025-01-01"], True),
        (F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "2024-01-01T13:00:00+01:00", True),
        (F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "2024-01-01T12:00:00Z", True),
        (F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "2024-01-01T12:00:00", True),
        (F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC), dt.datetime(2024, 1, 1, 12), True),
        (F("d") == dt.date(2024, 1, 1), "2024-01-01", True),
        (F("d") == dt.date(2024, 1, 1), dt.date(2024, 1, 1), True),
        (F("d") == dt.date(2024, 1, 1), "2024-01-01T00:00:01Z", False),
        (F("d") == dt.date(2024, 1, 1), "January 1st", False),
        (F("d") != dt.date(2024, 1, 1), "2024-01-01T00:00:00Z", False),
        (F("d").is_in([dt.date(2024, 1, 1)]), "2024-01-01", True),
        (F("d").contains(dt.date(2024, 1, 1)), ["2024-01-01"], True),
        # a string filter value is compared exactly, even when it looks like a date
        (F("d") == "2024-01-01", "2024-01-01T00:00:00Z", False),
        (F("d") == "2024-01-01", "2024-01-01", True),
        # a date object is compared as the isoformat() string every backend stores
        (F("d") == "2024-01-01", dt.date(2024, 1, 1), True),
        (F("d") == "2024-01-01T10:00:00", dt.datetime(2024, 1, 1, 10), True),
        (F("d") != "2024-01-01", [dt.date(2024, 1, 1)], False),
        (F("d").is_in(["2024-01-01"]), dt.date(2024, 1, 1), True),
        (F("d").contains("2024-01-01"), [dt.date(2024, 1, 1)], True),
        (F("d").text_match("01-0"), dt.date(2024, 1, 1), True),
        # one grammar (RFC 3339 profile): these strings are not dates
        (F("d") >= dt.date(2024, 1, 1), "2024-01-01T00:00Z", False),
        (F("d") < dt.date(2025, 1, 1), "2024-1-1", False),
        (F("d") < dt.date(2025, 1, 1), " 2024-01-01", False),
        (F("d") < dt.date(2025, 1, 1), "2024-W01-1", False),
        (F("d") < dt.date(2025, 1, 1), "2024-01-01T10", False),
        (F("d") < dt.date(2025, 1, 1), "2024-01-01T10:00:00,5", False),
        (F("d") < dt.date(2025, 1, 1), "2024-01-01T10:00:00+05:30:15", False),
        (F("d") < dt.date(2025, 1, 1), "2024-01-01T10:00:00.1234567Z", False),
        # ... and these are
        (F("d") >= dt.date(2024, 1, 1), "2024-01-01t00:00:00z", True),
        (F("d") >= dt.date(2024, 1, 1), "2024-01-01 00:00:00.5+00:00", True),
        (F("d") == dt.datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T01:00:00+01:00", True),
    ],
)
def test_dates(f: Filter, value: Any, expected: bool) -> None:
    assert matches(f, {"d": value}) is expected


# -- lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (F("tags") == "x", True),
        (F("tags") == "z", False),
        (F("tags") != "x", False),
        (F("tags") != "z", True),
        (F("tags").is_in(["y", "z"]), True),
        (F("tags").is_in(["z"]), False),
        (F("tags").not_in(["y", "z"]), False),
        (F("tags").not_in(["z"]), True),
        (F("tags").contains("x"), True),
        (F("tags").contains("z"), False),
        (F("tags").exists(), True),
        (F("nums") > 5, True),
        (F("nums") > 9, False),
        (F("nums") < 2, True),
        ((F("nums") > 2) & (F("nums") < 8), True),  # different elements may satisfy each
        (F("nums") == 9.0, True),
        (F("nums").contains(9.0), True),
        (F("nums").contains("9"), False),
        (F("nums") == True, False),  # noqa: E712
        (F("flags").contains(True), True),
        (F("flags").contains(1), False),
    ],
)
def test_lists(f: Filter, expected: bool) -> None:
    metadata = {"tags": ["x", "y"], "nums": (1, 9), "flags": [False, True]}
    assert matches(f, metadata) is expected


@pytest.mark.parametrize("value", ["x", "xyz", 1, True, {"x": 1}])
def test_contains_is_false_on_scalars(value: Any) -> None:
    assert not matches(F("a").contains("x"), {"a": value})
    assert not matches(F("a").contains(1), {"a": value})


def test_list_elements_that_are_null_or_lists_never_match() -> None:
    assert not matches(F("a") == 1, {"a": [None, [1]]})
    assert matches(F("a") != 1, {"a": [None, [1]]})
    assert matches(F("a").exists(), {"a": [None]})


# -- nested keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "metadata", "expected"),
    [
        (F("m.a") == 1, {"m": {"a": 1}}, True),
        (F("m.a.b") == 1, {"m": {"a": {"b": 1}}}, True),
        (F("m.a") == 1, {"m": {"a": [1, 2]}}, True),
        (F("m.a").exists(), {"m": {"a": 0}}, True),
        (F("m.a").exists(), {"m": {}}, False),
        (F("m.a").exists(), {"m": None}, False),
        (F("m.a").exists(), {"m": {"a": None}}, False),
        (F("m.a").exists(), {"m": "a"}, False),
        (F("m.a").exists(), {"m": 1}, False),
        (F("m.a").exists(), {"m": [{"a": 1}]}, False),  # lists are not searched for dicts
        (F("m.a") != 1, {"m": "a"}, True),
        (F("m.a").not_in([1]), {"m": [{"a": 1}]}, True),
        (F("m.a") == 1, {"m.a": 1}, False),  # a dotted key is a path, not a literal key
        (F("m").exists(), {"m": {"a": 1}}, True),
        (F("m") == 1, {"m": {"a": 1}}, False),
    ],
)
def test_nested_keys(f: Filter, metadata: dict[str, Any], expected: bool) -> None:
    assert matches(f, metadata) is expected


def test_nested_mappings_of_any_type() -> None:
    assert matches(F("m.a") == 1, OrderedDict(m=OrderedDict(a=1)))


# -- logic ---------------------------------------------------------------------------


def test_boolean_nodes() -> None:
    yes, no = F("a") == 1, F("a") == 2
    md = {"a": 1}
    assert matches(And(()), md) and matches(And(()), {})
    assert not matches(Or(()), md) and not matches(Or(()), {})
    assert matches(Not(Or(())), {})
    assert not matches(Not(And(())), {})
    assert matches(yes & yes, md) and not matches(yes & no, md)
    assert matches(yes | no, md) and not matches(no | no, md)
    assert matches(~no, md) and not matches(~yes, md)
    assert matches(~~yes, md)


def test_in_and_nin_with_no_values() -> None:
    for md in ({}, {"a": 1}, {"a": [1]}):
        assert not matches(F("a").is_in([]), md)
        assert matches(F("a").not_in([]), md)


def test_in_matches_any_value_with_type_rules() -> None:
    f = F("a").is_in([1, "x", dt.date(2024, 1, 1)])
    assert matches(f, {"a": 1.0})
    assert matches(f, {"a": "x"})
    assert matches(f, {"a": "2024-01-01T00:00:00Z"})
    assert not matches(f, {"a": True})
    assert not matches(f, {"a": "1"})


# -- matches / select API ------------------------------------------------------------


def test_matches_takes_dicts_and_none() -> None:
    assert matches(None, {})
    assert matches({}, {"a": 1})
    assert matches({"a": {"$gte": 1}}, {"a": 1})
    assert not matches({"$or": []}, {"a": 1})


@dataclass
class _Doc:
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)


def test_select() -> None:
    docs = {"a": {"page": 1}, "b": {"page": 7}, "c": {}}
    assert select(F("page") > 2, docs) == ["b"]
    assert select({"page": {"$ne": 1}}, docs) == ["b", "c"]
    assert select(None, docs) == ["a", "b", "c"]
    assert select(F("page") > 2, list(docs.values())) == [{"page": 7}]
    objs = [_Doc("x", {"n": 1}), _Doc("y", {"n": 2})]
    assert select(F("n") == 2, objs) == [objs[1]]
    polyvec_docs = [Document(id=1, metadata={"n": 1}), Document(id=2, metadata={"n": 2})]
    assert [d.id for d in select(F("n") < 2, polyvec_docs)] == [1]
    pairs = [("x", 1), ("y", 2)]
    assert select(F("n") == 2, pairs, metadata=lambda p: {"n": p[1]}) == [("y", 2)]
    assert select(F("n") == 2, iter(pairs), metadata=lambda p: {"n": p[1]}) == [("y", 2)]
    with pytest.raises(TypeError, match="metadata"):
        select(F("n") == 2, [object()])


# -- properties ----------------------------------------------------------------------


def _swap(c: Comparison, op: Op) -> Comparison:
    return Comparison(c.field, op, c.value)


@settings(max_examples=300, deadline=None)
@given(comparisons(ops=(Op.EQ, Op.IN)), metadata_docs())
def test_ne_is_not_eq_and_nin_is_not_in(c: Comparison, doc: dict[str, Any]) -> None:
    negated = _swap(c, Op.NE if c.op is Op.EQ else Op.NIN)
    assert matches(negated, doc) is (not matches(c, doc))
    assert matches(negated, doc) is matches(Not(c), doc)


@settings(max_examples=200, deadline=None)
@given(comparisons(ops=(Op.EXISTS,)), metadata_docs())
def test_exists_false_is_not_exists_true(c: Comparison, doc: dict[str, Any]) -> None:
    assert matches(c, doc) is not matches(Comparison(c.field, Op.EXISTS, not c.value), doc)


@settings(max_examples=200, deadline=None)
@given(comparisons(ops=(Op.IN,)), metadata_docs())
def test_in_is_or_of_eq(c: Comparison, doc: dict[str, Any]) -> None:
    as_or = Or(tuple(Comparison(c.field, Op.EQ, v) for v in c.value))
    assert matches(c, doc) is matches(as_or, doc)


@settings(max_examples=300, deadline=None)
@given(st.lists(filters(max_leaves=4), max_size=3), metadata_docs())
def test_de_morgan(parts: list[Filter], doc: dict[str, Any]) -> None:
    kids = tuple(parts)
    negated = tuple(Not(k) for k in kids)
    assert matches(Not(And(kids)), doc) is matches(Or(negated), doc)
    assert matches(Not(Or(kids)), doc) is matches(And(negated), doc)
    assert matches(And(kids), doc) is all(matches(k, doc) for k in kids)
    assert matches(Or(kids), doc) is any(matches(k, doc) for k in kids)


@settings(max_examples=200, deadline=None)
@given(filters(), metadata_docs(), st.sampled_from(("category", "page", "tags", "date", "meta")))
def test_null_and_empty_list_are_missing(f: Filter, doc: dict[str, Any], key: str) -> None:
    missing = {k: v for k, v in doc.items() if k != key}
    expected = matches(f, missing)
    assert matches(f, {**missing, key: None}) is expected
    assert matches(f, {**missing, key: []}) is expected


@settings(max_examples=200, deadline=None)
@given(filters(), st.lists(metadata_docs(), max_size=8))
def test_select_agrees_with_matches(f: Filter, docs: list[dict[str, Any]]) -> None:
    by_id = {f"d{i}": doc for i, doc in enumerate(docs)}
    assert select(f, by_id) == [i for i, doc in by_id.items() if matches(f, doc)]
    assert select(f, docs) == [doc for doc in docs if matches(f, doc)]
    # f and ~f split any collection in two
    assert len(select(f, docs)) + len(select(Not(f), docs)) == len(docs)


def test_strategies_hit_often() -> None:
    """The shared strategies are useful for differential tests: filters on every field
    and every operator are drawn, and they match neither always nor never."""
    outcomes: Counter[bool] = Counter()
    seen_ops: set[Op] = set()
    seen_fields: set[str] = set()
    hits_by_field: Counter[str] = Counter()

    @settings(max_examples=4000, deadline=None, database=None, derandomize=True)
    @given(comparisons(), metadata_docs())
    def sample(c: Comparison, doc: dict[str, Any]) -> None:
        result = matches(c, doc)
        outcomes[result] += 1
        seen_ops.add(c.op)
        seen_fields.add(c.field)
        vacuous = c.value is False or c.value == ()
        if result and c.op not in (Op.NE, Op.NIN, Op.IS_NULL) and not vacuous:
            hits_by_field[c.field] += 1

    sample()
    total = sum(outcomes.values())
    assert 0.2 < outcomes[True] / total < 0.8, outcomes
    assert seen_ops == set(Op)
    assert seen_fields == set(FILTER_FIELDS)
    for name in ("category", "page", "price", "tags", "nums", "date", "meta.a", "meta.b"):
        assert hits_by_field[name] > 0, (name, hits_by_field)

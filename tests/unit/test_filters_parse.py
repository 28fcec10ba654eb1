"""The dict syntax: parse_filter, to_dict, and the round trip between them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings

from polyvec.errors import FilterSyntaxError, FilterValueError
from polyvec.filters import And, Comparison, F, Filter, Not, Op, Or, parse_filter, to_dict
from tests.strategies import filters

UTC = dt.timezone.utc


# -- parsing -------------------------------------------------------------------------


def test_none_and_built_filters_pass_through() -> None:
    assert parse_filter(None) is None
    f = (F("a") == 1) | (F("b") > 2)
    assert parse_filter(f) is f
    c = F("a") == 1
    assert parse_filter(c) is c


def test_implicit_and_explicit_eq() -> None:
    assert parse_filter({"category": "x"}) == (F("category") == "x")
    assert parse_filter({"category": {"$eq": "x"}}) == (F("category") == "x")
    assert parse_filter({"n": 3}) == (F("n") == 3)
    assert parse_filter({"flag": False}) == (F("flag") == False)  # noqa: E712


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"$eq": 1}, F("a") == 1),
        ({"$ne": 1}, F("a") != 1),
        ({"$gt": 1}, F("a") > 1),
        ({"$gte": 1.5}, F("a") >= 1.5),
        ({"$lt": -1}, F("a") < -1),
        ({"$lte": 0}, F("a") <= 0),
        ({"$in": [1, "x"]}, F("a").is_in([1, "x"])),
        ({"$in": (1, 2)}, F("a").is_in([1, 2])),
        ({"$nin": []}, F("a").not_in([])),
        ({"$exists": True}, F("a").exists()),
        ({"$exists": False}, F("a").exists(False)),
        ({"$contains": "x"}, F("a").contains("x")),
        ({"$not": {"$gt": 3}}, ~(F("a") > 3)),
        ({"$not": {"$gt": 3, "$lt": 5}}, ~((F("a") > 3) & (F("a") < 5))),
    ],
)
def test_every_field_operator(spec: dict[str, Any], expected: Filter) -> None:
    assert parse_filter({"a": spec}) == expected


def test_several_operators_on_one_field_are_and() -> None:
    assert parse_filter({"page": {"$gte": 3, "$lt": 9}}) == And((F("page") >= 3, F("page") < 9))


def test_implicit_conjunctions_make_one_flat_and() -> None:
    parsed = parse_filter({"cat": "x", "page": {"$gte": 3, "$lt": 9}})
    assert parsed == And((F("cat") == "x", F("page") >= 3, F("page") < 9))
    assert parsed == (F("cat") == "x") & (F("page") >= 3) & (F("page") < 9)
    # an explicit $and keeps its shape
    parsed = parse_filter({"cat": "x", "$and": [{"page": {"$gte": 3}}]})
    assert parsed == And((F("cat") == "x", And((F("page") >= 3,))))


def test_several_keys_are_and_in_order() -> None:
    parsed = parse_filter({"a": 1, "b": {"$gt": 2}, "$or": [{"c": 3}]})
    assert parsed == And((F("a") == 1, F("b") > 2, Or((F("c") == 3,))))


def test_logical_operators() -> None:
    assert parse_filter({"$and": [{"a": 1}, {"b": 2}]}) == And((F("a") == 1, F("b") == 2))
    assert parse_filter({"$or": [{"a": 1}, {"b": 2}]}) == Or((F("a") == 1, F("b") == 2))
    assert parse_filter({"$not": {"a": 1}}) == Not(F("a") == 1)
    assert parse_filter({"$not": {"a": 1, "b": 2}}) == Not(And((F("a") == 1, F("b") == 2)))
    nested = {
        "$or": [{"$and": [{"a": 1}, {"$not": {"b": {"$in": [1]}}}]}, {"c": {"$exists": True}}]
    }
    assert parse_filter(nested) == Or((And((F("a") == 1, Not(F("b").is_in([1])))), F("c").exists()))


def test_empty_filters() -> None:
    assert parse_filter({}) == And(())
    assert parse_filter({"$and": []}) == And(())
    assert parse_filter({"$or": []}) == Or(())


def test_built_filters_inside_dicts() -> None:
    assert parse_filter({"$or": [F("a") == 1, {"b": 2}]}) == Or((F("a") == 1, F("b") == 2))
    assert parse_filter({"$not": F("a") == 1}) == Not(F("a") == 1)


def test_dates() -> None:
    day = dt.datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_filter({"d": {"$gte": "2024-01-02"}}) == (F("d") >= day)
    assert parse_filter({"d": {"$gte": dt.date(2024, 1, 2)}}) == (F("d") >= day)
    assert parse_filter({"d": {"$date": "2024-01-02"}}) == (F("d") == day)
    assert parse_filter({"d": {"$eq": {"$date": "2024-01-02T00:00:00Z"}}}) == (F("d") == day)
    assert parse_filter({"d": {"$gt": {"$date": "2024-01-02"}}}) == (F("d") > day)
    assert parse_filter({"d": {"$in": [{"$date": "2024-01-02"}, "x"]}}) == F("d").is_in([day, "x"])
    # a plain string under $eq stays a string: string equality is exact
    assert parse_filter({"d": "2024-01-02"}) == (F("d") == "2024-01-02")


def test_nested_field_names_are_dotted() -> None:
    assert parse_filter({"meta.author": "ann"}) == (F("meta.author") == "ann")


# -- parse errors --------------------------------------------------------------------


@pytest.mark.parametrize("op", ["$regex", "$foo", "$size"])  # $like: test_parity_table
def test_unknown_field_operator(op: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter({"title": {op: "x"}})
    message = str(info.value)
    assert repr(op) in message and "'title'" in message
    assert "known operators" in message
    for known in ("$eq", "$ne", "$gt", "$in", "$nin", "$exists", "$contains", "$and", "$not"):
        assert known in message


def test_unknown_top_level_operator() -> None:
    with pytest.raises(FilterSyntaxError, match=r"'\$nor'.*known operators"):
        parse_filter({"$nor": [{"a": 1}]})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"$eq": 1}, r"goes under a field name"),
        ({"$and": {"a": 1}}, r"\$and takes a list"),
        ({"$or": "a"}, r"\$or takes a list"),
        ({"$and": [1]}, r"each item of \$and must be a dict"),
        ({"$or": [None]}, r"each item of \$or must be a dict"),
        ({"$not": [{"a": 1}]}, r"\$not must be a dict"),
        ({"a": {}}, r"empty operator dict"),
        ({"a": {"b": 1}}, r"operators start with '\$'.*'a.b'"),
        ({"a": {"$gt": 1, "lt": 2}}, r"operators start with '\$'"),
        ({"a": {"$and": [{"$gt": 1}]}}, r"cannot go under the field"),
        ({"a": {"$not": 3}}, r"\$not under field 'a' takes an operator dict"),
        ({"a": F("a") == 1}, r"filter object"),
        ({1: 2}, r"keys must be strings"),
        ({"": 1}, r"non-empty string"),
        ({"a..b": 1}, r"empty segment"),
    ],
)
def test_malformed_dicts(bad: Any, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message):
        parse_filter(bad)


@pytest.mark.parametrize("bad", ["a == 1", ["a"], 3, True])
def test_not_a_filter(bad: Any) -> None:
    with pytest.raises(FilterSyntaxError, match="must be a dict"):
        parse_filter(bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"page": {"$gt": "three"}}, r"ISO-8601"),
        ({"page": {"$gt": True}}, r"not a bool"),
        ({"tag": {"$in": "x"}}, r"needs a list"),
        ({"tag": {"$nin": 3}}, r"needs a list"),
        ({"tags": ["a", "b"]}, r"use \$in"),
        ({"tags": {"$eq": ["a"]}}, r"use \$in"),
        ({"tags": {"$ne": ["a"]}}, r"use \$nin"),
        ({"tags": {"$contains": ["a"]}}, r"one value"),
        ({"a": {"$exists": "yes"}}, r"True or False"),
        ({"a": {"$exists": 1}}, r"True or False"),
        ({"a": None}, r"exists"),
        ({"a": {"$eq": None}}, r"exists"),
        ({"a": {"$eq": {"b": 1}}}, r"dotted field"),
        ({"a": {"$in": [{"b": 1}]}}, r"dotted field"),
        ({"d": {"$date": "tomorrow"}}, r"\$date needs an ISO-8601 string"),
        ({"d": {"$date": 5}}, r"\$date needs an ISO-8601 string"),
        ({"a": float("nan")}, r"NaN"),
        ({"a": {"$in": [1, object()]}}, r"needs a str, int"),
    ],
)
def test_wrong_value_types(bad: Any, message: str) -> None:
    with pytest.raises(FilterValueError, match=message):
        parse_filter(bad)


def test_value_errors_name_the_field() -> None:
    with pytest.raises(FilterValueError, match="'page'"):
        parse_filter({"page": {"$gt": "three"}})


# -- to_dict -------------------------------------------------------------------------


def test_to_dict_shape() -> None:
    f = ((F("a") == 1) & ~F("b").is_in(["x"])) | F("c").exists()
    assert to_dict(f) == {
        "$or": [
            {"$and": [{"a": {"$eq": 1}}, {"$not": {"b": {"$in": ["x"]}}}]},
            {"c": {"$exists": True}},
        ]
    }
    assert to_dict(And(())) == {"$and": []}
    assert to_dict(Or(())) == {"$or": []}


def test_to_dict_dates() -> None:
    day = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_dict(F("d") >= day) == {"d": {"$gte": "2024-01-02T03:04:05+00:00"}}
    assert to_dict(F("d") == day) == {"d": {"$eq": {"$date": "2024-01-02T03:04:05+00:00"}}}
    assert to_dict(F("d").not_in([day, 1])) == {
        "d": {"$nin": [{"$date": "2024-01-02T03:04:05+00:00"}, 1]}
    }


def test_new_operators_parse_and_round_trip() -> None:
    assert parse_filter({"a": {"$between": [1, 5]}}) == F("a").between(1, 5)
    assert F("a").between(1, 5) == And((F("a") >= 1, F("a") <= 5))
    day = dt.date(2024, 1, 1)
    assert parse_filter({"d": {"$between": ["2024-01-01", {"$date": "2024-02-01"}]}}) == (
        F("d").between(day, dt.date(2024, 2, 1))
    )
    assert parse_filter({"t": {"$text_match": "x"}, "n": {"$is_null": False}}) == (
        F("t").text_match("x") & F("n").is_null(False)
    )
    f = F("tags").contains_any(["a", day]) | F("tags").contains_all([])
    assert to_dict(f) == {
        "$or": [
            {"tags": {"$contains_any": ["a", {"$date": "2024-01-01T00:00:00+00:00"}]}},
            {"tags": {"$contains_all": []}},
        ]
    }
    assert parse_filter(to_dict(f)) == f


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"a": {"$between": [1]}}, "two bounds"),
        ({"a": {"$between": 3}}, "two bounds"),
        ({"a": {"$between": [1, "x"]}}, "ISO-8601"),
        ({"a": {"$contains": ["x", "y"]}}, "contains_any"),
        ({"a": {"$contains_any": "x"}}, "list of values"),
        ({"a": {"$text_match": 3}}, "non-empty string"),
        ({"a": {"$is_null": "yes"}}, "True or False"),
    ],
)
def test_new_operator_value_errors(obj: dict[str, object], message: str) -> None:
    with pytest.raises(FilterValueError, match=message):
        parse_filter(obj)


def test_to_dict_refuses_non_filters() -> None:
    with pytest.raises(FilterSyntaxError, match="to_dict takes a polyvec filter"):
        to_dict({"a": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "f",
    [
        F("a") == 1,
        F("a") == 1.0,
        F("a") == True,  # noqa: E712
        F("a") == "2024-01-01",
        F("a") == dt.date(2024, 1, 1),
        F("a") > dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        F("a").is_in([]),
        F("a").is_in([1, 1.0, True, "1"]),
        And(()),
        Or(()),
        And((F("a") == 1,)),
        Not(Not(F("a").exists(False))),
        And((And((F("a") == 1, F("b") == 2)), F("c") == 3)),
    ],
)
def test_round_trip_examples(f: Filter) -> None:
    assert parse_filter(to_dict(f)) == f


@settings(max_examples=300, deadline=None)
@given(filters())
def test_round_trip_property(f: Filter) -> None:
    as_dict = to_dict(f)
    assert parse_filter(as_dict) == f
    # the dict is plain JSON, and survives being stored as such
    assert parse_filter(json.loads(json.dumps(as_dict))) == f


def test_comparison_value_shapes_after_parsing() -> None:
    parsed = parse_filter({"a": {"$in": [1, 2]}})
    assert isinstance(parsed, Comparison)
    assert parsed.op is Op.IN and parsed.value == (1, 2)

"""MetadataSchema: declaration, write-side normalisation, filter checks, index options.

The round trip through real engines is tests/conformance/test_metadata_schema.py.
"""

from __future__ import annotations

import datetime as dt
import doctest
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import polyvec.schema
from polyvec import F, Field, MetadataSchema
from polyvec.errors import ConfigurationError, FilterError, FilterValueError, SchemaError
from polyvec.filters import And, Not, Or, matches, parse_filter

UTC = dt.timezone.utc

SCHEMA = MetadataSchema(
    {
        "published": Field("datetime", indexed=True),
        "tags": Field("list[str]"),
        "page": "int",
        "price": "float",
        "draft": "bool",
        "title": "str",
        "nums": "list[int]",
        "days": "list[datetime]",
        "meta.author": "str",
        "secret": Field("str", filterable=False),
    }
)


# -- declaration ----------------------------------------------------------------------
def test_declaration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown metadata field type 'date'"):
        Field("date")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cannot be indexed"):
        Field("str", filterable=False, indexed=True)
    with pytest.raises(ConfigurationError, match="overlap"):
        MetadataSchema({"a": "str", "a.b": "int"})
    with pytest.raises(ConfigurationError, match="bad schema field name"):
        MetadataSchema({"a..b": "str"})
    with pytest.raises(ConfigurationError, match="must be a Field"):
        MetadataSchema({"a": 3})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="dict of field name"):
        MetadataSchema(["a"])  # type: ignore[arg-type]


def test_mapping_equality_and_json_round_trip() -> None:
    assert SCHEMA["page"] == Field("int") and len(SCHEMA) == 10 and "tags" in SCHEMA
    data = json.loads(json.dumps(SCHEMA.to_dict()))
    assert MetadataSchema.from_dict(data) == SCHEMA
    assert MetadataSchema({"a": "int"}) != MetadataSchema({"a": "float"})
    assert "Field('str', filterable=False)" in repr(SCHEMA)
    assert "Field('datetime', indexed=True)" in repr(SCHEMA)


# -- writes ---------------------------------------------------------------------------
def test_normalize_coerces_declared_fields() -> None:
    given = {
        "published": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "tags": "linux",
        "page": 3.0,
        "price": np.float32(2.5),
        "draft": np.bool_(False),
        "nums": (1, np.int64(2)),
        "days": ["2024-01-01", dt.date(2024, 1, 2)],
        "meta": {"author": "ann", "x": 1},
        "other": {"kept": [1, "a"]},
    }
    out = SCHEMA.normalize(given, doc_id="d1")
    assert out == {
        "published": "2024-05-01T10:30:00Z",
        "tags": ["linux"],
        "page": 3,
        "price": 2.5,
        "draft": False,
        "nums": [1, 2],
        "days": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"],
        "meta": {"author": "ann", "x": 1},
        "other": {"kept": [1, "a"]},
    }
    assert [type(out[k]) for k in ("page", "price", "draft")] == [int, float, bool]
    assert type(out["nums"][1]) is int
    assert given["tags"] == "linux"  # the caller's dict is not changed


@pytest.mark.parametrize(
    "value",
    ["2024-05-01", "2024-05-01T00:00:00Z", "2024-05-01T02:00:00+02:00", dt.date(2024, 5, 1)],
)
def test_every_date_form_becomes_one_stored_string(value: Any) -> None:
    assert SCHEMA.normalize({"published": value})["published"] == "2024-05-01T00:00:00Z"
    assert SCHEMA.normalize({"published": dt.datetime(2024, 5, 1, 0, 0, 0, 5)})["published"] == (
        "2024-05-01T00:00:00.000005Z"
    )


def test_missing_and_null_stay_missing() -> None:
    assert SCHEMA.normalize({}) == {}
    assert SCHEMA.normalize({"page": None, "tags": None, "meta": None}) == {
        "page": None,
        "tags": None,
        "meta": None,
    }
    assert SCHEMA.normalize({"meta": "not a dict"}) == {"meta": "not a dict"}
    assert SCHEMA.normalize({"tags": []}) == {"tags": []}


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ({"published": "next week"}, "'published' = 'next week' needs a date"),
        ({"published": 1714521600}, "needs a date"),
        ({"page": "3"}, "'page' = '3' needs an int or a float"),
        ({"page": 2.5}, "whole number"),
        ({"page": True}, "needs an int or a float, not bool"),
        ({"price": float("nan")}, "finite"),
        ({"price": Decimal("1.5")}, "needs an int or a float, not Decimal"),
        ({"draft": 1}, "True or False"),
        ({"title": 5}, "needs a string"),
        ({"title": ["a"]}, "declare it 'list[str]'"),
        ({"tags": {"a", "b"}}, "sorted"),
        ({"tags": ["a", None]}, "nulls"),
        ({"tags": ["a", 1]}, "needs a string"),
        ({"meta": {"author": 7}}, "'meta.author' = 7"),
    ],
)
def test_normalize_errors_name_document_and_field(metadata: dict[str, Any], says: str) -> None:
    with pytest.raises(SchemaError) as info:
        SCHEMA.normalize(metadata, doc_id="doc-9")
    message = str(info.value)
    assert "document 'doc-9'" in message and says in message, message


# -- filters --------------------------------------------------------------------------
def test_filters_on_datetime_fields_read_iso_strings_as_dates() -> None:
    may1 = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert SCHEMA.check_filter(F("published") == "2024-05-01") == (F("published") == may1)
    assert SCHEMA.check_filter(parse_filter({"published": {"$in": ["2024-05-01"]}})) == F(
        "published"
    ).is_in([may1])
    assert SCHEMA.check_filter(F("days").contains("2024-05-01")) == F("days").contains(may1)
    nested = Or([Not(F("published") != "2024-05-01"), And([F("page") > 1])])
    assert SCHEMA.check_filter(nested) == Or([Not(F("published") != may1), And([F("page") > 1])])
    # the stored form matches the translated filter (and not the raw string one)
    stored = SCHEMA.normalize({"published": "2024-05-01"})
    assert matches(SCHEMA.check_filter(F("published") == "2024-05-01"), stored)
    assert not matches(F("published") == "2024-05-01", stored)


def test_filters_pass_through_when_they_fit() -> None:
    fits = [
        F("page") >= 2.5,
        F("page").is_in([1, 2.0]),
        F("price") == 3,
        F("draft") == False,  # noqa: E712
        F("title").text_match("abc"),
        F("tags").contains_all(["a", "b"]),
        F("tags").text_match("x"),
        F("nums").contains_any([1]),
        F("nums") > 1,
        F("meta.author") == "ann",
        F("undeclared") == "anything",
        F("published").is_null(),
    ]
    for f in fits:
        assert SCHEMA.check_filter(f) == f, f
    assert SCHEMA.check_filter(None) is None


@pytest.mark.parametrize(
    ("filter", "says"),
    [
        (F("published") == "soon", "non-date string 'soon'"),
        (F("published") > 5, "compares the datetime field with int"),
        (F("page") == "3", "compares the int field with str"),
        (F("page") == True, "compares the int field with bool"),  # noqa: E712
        (F("page") > dt.date(2024, 1, 1), "with a date"),
        (F("title") > "2024-01-01", "with a date"),
        (F("draft") == 1, "compares the bool field with int"),
        (F("title").contains("x"), "contains tests list elements"),
        (F("page").contains_any([1]), "declared 'int'"),
        (F("page").text_match("1"), "text_match needs a str field"),
        (F("tags") == 1, "compares the list[str] field with int"),
        (F("tags").is_in(["a", 2]), "with int"),
    ],
)
def test_filters_that_can_never_match_are_refused(filter: Any, says: str) -> None:
    with pytest.raises(FilterValueError) as info:
        SCHEMA.check_filter(Or([F("x") == 1, filter]))
    assert says in str(info.value) and "the schema declares it" in str(info.value)


def test_filter_on_a_non_filterable_field_is_refused() -> None:
    with pytest.raises(FilterError, match="filterable=False") as info:
        SCHEMA.check_filter(Not(F("secret") == "x"))
    assert not isinstance(info.value, FilterValueError)


# -- indexes --------------------------------------------------------------------------
def test_index_options_per_backend() -> None:
    schema = MetadataSchema(
        {
            "d": Field("datetime", indexed=True),
            "n": Field("int", indexed=True),
            "t": Field("list[str]", indexed=True),
            "plain": "str",
        }
    )
    assert schema.index_options("qdrant") == {
        "payload_indexes": {"d": "datetime", "n": "float", "t": "keyword"}
    }
    assert schema.index_options("qdrant-edge") == schema.index_options("qdrant")
    assert schema.index_options("pgvector") == {"filterable": ["d", "n", "t"]}
    assert schema.index_options("chroma") == {}
    assert MetadataSchema({"a": "str"}).index_options("qdrant") == {}
    # what the user wrote wins
    merged = schema.collection_options(
        "qdrant", {"payload_indexes": {"n": "integer"}, "on_disk": True}
    )
    assert merged == {
        "payload_indexes": {"d": "datetime", "n": "integer", "t": "keyword"},
        "on_disk": True,
    }


def test_docstring_examples() -> None:
    result = doctest.testmod(polyvec.schema)
    assert result.attempted > 0 and result.failed == 0

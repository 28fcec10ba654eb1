"""Hypothesis strategies for metadata and filters, shared by every filter test.

The backends are tested differentially with these: store ``metadata_docs()``, query
with ``filters()``, and compare the ids with ``polyvec.filters.select``::

    from hypothesis import given, strategies as st
    from tests.strategies import filters, metadata_docs

    @given(st.lists(metadata_docs(), max_size=20), filters())
    def test_backend_agrees(docs, f): ...

Every field keeps one type across documents (``page`` is always an int, ``tags``
always a list of strings...), so that engines with typed schemas can store the
documents; type mismatches come from the *filter* side (``page == "3"``,
``flag == 1``, ``category == 3`` against the string ``"3"``). Values are ones every
engine can store: ints within ±2^31, finite floats, strings without NUL or lone
surrogates, non-empty lists whose elements share one type, ISO-8601 date strings.
Field values come from small pools so that filters often hit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from polyvec.filters import And, Comparison, Filter, Not, Op, Or

__all__ = [
    "DOC_FIELDS",
    "FILTER_FIELDS",
    "any_scalar",
    "comparisons",
    "filter_value",
    "filters",
    "metadata_docs",
    "sample_value",
]

INT32 = 2**31 - 1
UTC = dt.timezone.utc

CATEGORIES = ("news", "blog", "News", "3", "3.0", "-1", "", "café", "日本語", "a b", "true")
TAGS = ("linux", "bsd", "x", "Linux", "1", "ü")
PRICES = (0.0, 0.5, 1.5, 2.0, 3.0, -1.25, 9.75)
DAYS = tuple(dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(0, 10, 2))
TIMES = (dt.time(0, 0), dt.time(12, 30))

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
"""Any string an engine can store: no NUL, no lone surrogate."""


@st.composite
def _mostly(draw: st.DrawFn, common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """``common`` about four times in five, else ``rare`` (values that seldom hit)."""
    return draw(rare if draw(st.integers(0, 4)) == 4 else common)


small_ints = st.integers(-3, 12)
ints = _mostly(small_ints, st.integers(-INT32 - 1, INT32))
floats = _mostly(
    st.sampled_from(PRICES),
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)
strings = _mostly(st.sampled_from(CATEGORIES), text)


@st.composite
def datetimes(draw: st.DrawFn) -> dt.datetime:
    """Aware datetimes on the days the documents use (UTC or a +02:00 offset)."""
    day = draw(st.sampled_from(DAYS))
    time = draw(st.sampled_from(TIMES))
    value = dt.datetime.combine(day, time, tzinfo=UTC)
    if draw(st.booleans()):
        value = value.astimezone(dt.timezone(dt.timedelta(hours=2)))
    return value


@st.composite
def iso_strings(draw: st.DrawFn) -> str:
    """ISO-8601 strings as documents store them: date only, ``Z`` or an offset."""
    value = draw(datetimes())
    form = draw(st.sampled_from(("date", "z", "offset")))
    if form == "date":
        return value.date().isoformat()
    if form == "z":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


DOC_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "category": strings,
    "page": ints,
    "price": floats,
    "flag": st.booleans(),
    "tags": st.lists(_mostly(st.sampled_from(TAGS), text), min_size=1, max_size=4),
    "nums": st.lists(small_ints, min_size=1, max_size=4),
    "date": iso_strings(),
}
"""Top-level metadata fields and their values; ``meta`` (a nested dict) comes on top."""

NESTED_FIELDS: dict[str, st.SearchStrategy[Any]] = {"a": small_ints, "b": strings}

FILTER_FIELDS = (*DOC_FIELDS, "meta.a", "meta.b", "absent")
"""Fields the filters name: every document field, two nested ones, one never present."""

_OWN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "category": st.sampled_from(CATEGORIES),
    "page": small_ints,
    "price": st.sampled_from(PRICES),
    "flag": st.booleans(),
    "tags": st.sampled_from(TAGS),
    "nums": small_ints,
    "date": datetimes(),
    "meta.a": small_ints,
    "meta.b": st.sampled_from(CATEGORIES),
    "absent": small_ints,
}


_RANGE_FIELDS = ("page", "price", "nums", "date", "meta.a")
_LIST_FIELDS = ("tags", "nums")
_TEXT_FIELDS = ("category", "tags", "date", "meta.b")
_SUITED: dict[Op, tuple[str, ...]] = {
    Op.CONTAINS: _LIST_FIELDS,
    Op.CONTAINS_ANY: _LIST_FIELDS,
    Op.CONTAINS_ALL: _LIST_FIELDS,
    Op.TEXT_MATCH: _TEXT_FIELDS,
    **{op: _RANGE_FIELDS for op in Op if op.is_range},
}

_FRAGMENTS = ("ew", "N", "n", "3", ".", "-", "é", "本語", " ", "in", "Li", "2024-01", "T", "Z", ":")
"""Substrings that ``text_match`` looks for: pieces of the pooled strings and dates."""


def sample_value(op: Op) -> Any:
    """One valid value for ``op`` (for tests that build every operator once)."""
    if op.takes_flag:
        return True
    if op.takes_list:
        return (1, "a")
    return "a" if op is Op.TEXT_MATCH else 2


def any_scalar() -> st.SearchStrategy[Any]:
    """A filter value of any type: ints, floats (also integral ones), bools, strings
    (numeric, unicode, ISO dates), datetimes."""
    return st.one_of(
        small_ints,
        small_ints.map(float),
        st.booleans(),
        strings,
        iso_strings(),
        datetimes(),
        floats,
    )


def _range_value(field: str) -> st.SearchStrategy[Any]:
    if field == "date":
        return st.one_of(datetimes(), iso_strings(), st.sampled_from(DAYS))
    if field == "price":
        return st.one_of(floats, small_ints)
    numbers = st.one_of(small_ints, small_ints.map(lambda i: i + 0.5))
    return _mostly(numbers, datetimes())


@st.composite
def filter_value(draw: st.DrawFn, field: str, op: Op) -> Any:
    """A value for ``op`` on ``field``: mostly of the field's own type, sometimes not."""
    if op.takes_flag:
        return draw(st.booleans())
    if op in (Op.IN, Op.NIN):
        return draw(st.lists(filter_value(field, Op.EQ), max_size=3))
    if op in (Op.CONTAINS_ANY, Op.CONTAINS_ALL):
        return draw(st.lists(filter_value(field, Op.CONTAINS), max_size=3))
    if op is Op.TEXT_MATCH:
        pooled = st.sampled_from((*_FRAGMENTS, *CATEGORIES[:-4], *TAGS))
        return draw(_mostly(pooled.filter(bool), text.filter(bool)))
    if op.is_range:
        return draw(_range_value(field))
    return draw(_mostly(_OWN_VALUES[field], any_scalar()))


@st.composite
def comparisons(
    draw: st.DrawFn, fields: tuple[str, ...] = FILTER_FIELDS, ops: tuple[Op, ...] = tuple(Op)
) -> Comparison:
    """One comparison on one of ``fields`` with one of ``ops``.

    ``contains`` mostly goes to list fields and range operators mostly to number and
    date fields, where they can match; the rest of the time, to any field.
    """
    op = draw(st.sampled_from(ops))
    suited = tuple(f for f in _SUITED.get(op, fields) if f in fields) or fields
    field = draw(_mostly(st.sampled_from(suited), st.sampled_from(fields)))
    return Comparison(field, op, draw(filter_value(field, op)))


def filters(
    fields: tuple[str, ...] = FILTER_FIELDS, ops: tuple[Op, ...] = tuple(Op), max_leaves: int = 6
) -> st.SearchStrategy[Filter]:
    """Random filter trees: comparisons under And / Or / Not (empty And/Or included)."""

    def extend(kids: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
        groups = st.lists(kids, max_size=3).map(tuple)
        return st.one_of(groups.map(And), groups.map(Or), kids.map(Not))

    return st.recursive(comparisons(fields, ops), extend, max_leaves=max_leaves)


_ABSENT = object()


@st.composite
def _maybe(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> Any:
    """Missing (``_ABSENT``), null, or a value; the value most often."""
    roll = draw(st.integers(0, 7))
    if roll == 6:
        return _ABSENT
    if roll == 7:
        return None
    return draw(values)


@st.composite
def metadata_docs(draw: st.DrawFn, nested: bool = True) -> dict[str, Any]:
    """A metadata dict: every field of DOC_FIELDS missing, null or set, and (when
    ``nested``) a ``meta`` dict holding ``a`` (int) and ``b`` (str), each missing, null
    or set."""
    doc: dict[str, Any] = {}
    for name, values in DOC_FIELDS.items():
        value = draw(_maybe(values))
        if value is not _ABSENT:
            doc[name] = value
    if nested and draw(st.integers(0, 4)) != 4:
        inner: dict[str, Any] = {}
        for name, values in NESTED_FIELDS.items():
            value = draw(_maybe(values))
            if value is not _ABSENT:
                inner[name] = value
        doc["meta"] = inner
    return doc

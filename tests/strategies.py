"""Hypothesis strategies for metadata and filters, shared by every filter test.

The backends are tested differentially with these: store ``metadata_docs()``, query
with ``filters()``, and compare the ids with ``polyvec.filters.select``::

    from hypothesis import given, strategies as st
    from tests.strategies import filters, metadata_docs

    @given(st.lists(metadata_docs(), max_size=20), filters())
    def test_backend_agrees(docs, f): ...

The plain fields keep one type across documents (``page`` is always an int, ``tags``
always a list of strings...); type mismatches come from the *filter* side
(``page == "3"``, ``flag == 1``, ``category == 3`` against the string ``"3"``). The
*nasty* fields (:data:`NASTY_FIELDS`) hold what real users store and engines get
wrong: ints at ±2**53, ``1`` vs ``1.0`` vs ``True``, ``-0.0``, huge and tiny floats;
date strings in many spellings (inside and outside polyvec's grammar), ``date`` and
naive/aware ``datetime`` objects; NFC vs NFD, emoji, empty and numeric-looking
strings; empty, mixed and nested lists; a dict three deep; keys with a dot, a space,
Cyrillic. Every value is one every engine can store (no ints beyond ±2**53, which all
engines but PostgreSQL refuse at write: ``test_stored_values`` covers those; no NUL,
no lone surrogates). Values come from small pools so that filters often hit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from polyvec.filters import And, Comparison, Filter, Not, Op, Or

__all__ = [
    "DOC_FIELDS",
    "FILTER_FIELDS",
    "NASTY_FIELDS",
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


EXACT = 2**53
NUMBERS = (0, -0.0, 0.0, 1, 1.0, -1, 3, 3.0, 2**53, -(2**53), 2**53 - 1, float(2**53),
           2**31, 1e300, -1e-300, 0.1, 2.5)  # fmt: skip
"""Numbers where ``==`` and ranges go wrong: ints vs floats, -0.0, float64's edge."""
FLAGISH = (True, False, 0, 1, 0.0, 1.0)
DATE_SPELLINGS = (
    # in polyvec's grammar (RFC 3339 profile)
    "2024-01-03", "2024-01-03T00:00:00Z", "2024-01-03t00:00:00z", "2024-01-03 00:00:00",
    "2024-01-03T01:00:00+01:00", "2024-01-02T23:00:00-01:00", "2024-01-03T00:00:00.5Z",
    "2024-01-03T00:00:00.000001", "1969-12-31T23:59:59Z", "2100-01-01",
    # outside it: plain strings on every backend
    "2024-01-03T00:00Z", "2024-1-3", " 2024-01-03", "2024-01-03 ", "2024-W01-3",
    "20240103", "2024-01-03T00", "2024-01-03T00:00:00,5", "2024-01-03T00:00:00+05:30:15",
    "2024-01-03T00:00:00.1234567Z", "2024-02-30", "2024-01-03T24:00:00", "03/01/2024",
)  # fmt: skip
WORDS = ("café", "cafe\u0301", "Ångström", "A\u030angstro\u0308m", "😀", "👩\u200d👩\u200d👧",
         "", " ", "0", "1e3", "-0", "NaN", "true", "null", "ß", "ǅ", "\u200b", "a.b")  # fmt: skip


@st.composite
def date_likes(draw: st.DrawFn) -> Any:
    """A value that looks like a date: a spelling, a ``date``, a naive or aware datetime."""
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        return draw(st.sampled_from(DATE_SPELLINGS))
    if kind == 2:
        return draw(st.sampled_from(DAYS))
    value = draw(datetimes())
    return value.replace(tzinfo=None) if kind == 3 else value


_nasty_scalars = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(FLAGISH), st.sampled_from(WORDS), date_likes()
)

NASTY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "num": st.one_of(st.sampled_from(NUMBERS), floats, ints),
    "flagish": st.sampled_from(FLAGISH),
    "when": date_likes(),
    "word": _mostly(st.sampled_from(WORDS), text),
    "mixed": st.lists(
        st.one_of(
            _nasty_scalars,
            st.none(),
            st.lists(small_ints, max_size=2),
            st.fixed_dictionaries({"z": small_ints}),  # a filter on mixed.z never descends
        ),
        max_size=4,
    ),
    "deep": st.fixed_dictionaries(
        {"x": st.fixed_dictionaries({"y": st.fixed_dictionaries({"z": _nasty_scalars})})}
    ),
    "k ey": _nasty_scalars,
    "ключ": _nasty_scalars,
    "file.name": st.sampled_from(WORDS),
    "file": st.fixed_dictionaries({"name": st.sampled_from(WORDS)}),
}
"""Fields with the values engines disagree on (see the module docstring)."""

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

FILTER_FIELDS = (
    *DOC_FIELDS, "meta.a", "meta.b", "absent",
    *(f for f in NASTY_FIELDS if f not in ("deep", "file")), "deep.x.y.z", "deep.x", "mixed.z",
)  # fmt: skip
"""Fields the filters name: every document field, nested ones, one never present.
``file.name`` in a filter is the nested path (``{"file": {"name": ...}}``), never the
literal key ``"file.name"`` that documents also hold."""

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
    "num": st.sampled_from(NUMBERS).filter(lambda n: abs(n) <= EXACT),
    "flagish": st.sampled_from(FLAGISH),
    "when": st.one_of(datetimes(), st.sampled_from(DATE_SPELLINGS), st.sampled_from(DAYS)),
    "word": st.sampled_from(WORDS),
    "mixed": _nasty_scalars,
    "deep.x.y.z": _nasty_scalars,
    "deep.x": _nasty_scalars,
    "mixed.z": small_ints,
    "k ey": _nasty_scalars,
    "ключ": _nasty_scalars,
    "file.name": st.sampled_from(WORDS),
}


_RANGE_FIELDS = ("page", "price", "nums", "date", "meta.a", "num", "when", "mixed", "deep.x.y.z")
_LIST_FIELDS = ("tags", "nums", "mixed")
_TEXT_FIELDS = ("category", "tags", "date", "meta.b", "word", "when", "mixed", "file.name")
_SUITED: dict[Op, tuple[str, ...]] = {
    Op.CONTAINS: _LIST_FIELDS,
    Op.CONTAINS_ANY: _LIST_FIELDS,
    Op.CONTAINS_ALL: _LIST_FIELDS,
    Op.TEXT_MATCH: _TEXT_FIELDS,
    **{op: _RANGE_FIELDS for op in Op if op.is_range},
}

_FRAGMENTS = ("ew", "N", "n", "3", ".", "-", "é", "本語", " ", "in", "Li", "2024-01", "T", "Z", ":",
              "e\u0301", "😀", "+01", "00:00")  # fmt: skip
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
    if field in ("num", "mixed", "deep.x.y.z"):
        # bounds strictly inside ±2**53: beyond, float64 engines refuse them
        inside = st.sampled_from(NUMBERS).filter(lambda n: abs(n) < EXACT)
        return st.one_of(inside, small_ints, datetimes(), st.sampled_from(DAYS))
    if field in ("date", "when"):
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
        pooled = st.sampled_from((*_FRAGMENTS, *CATEGORIES[:-4], *TAGS, *WORDS))
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
def metadata_docs(draw: st.DrawFn, nested: bool = True, nasty: bool = True) -> dict[str, Any]:
    """A metadata dict: every field of DOC_FIELDS (and, with ``nasty``, NASTY_FIELDS)
    missing, null or set, and (when ``nested``) a ``meta`` dict holding ``a`` (int) and
    ``b`` (str), each missing, null or set."""
    doc: dict[str, Any] = {}
    fields = {**DOC_FIELDS, **NASTY_FIELDS} if nasty else DOC_FIELDS
    for name, values in fields.items():
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

"""Mongo/Pinecone-style filter dicts to the filter AST, and back.

    >>> from polyvec.filters import F, parse_filter, to_dict
    >>> parse_filter({"category": "news", "page": {"$gte": 3, "$lt": 9}}) == (
    ...     (F("category") == "news") & (F("page") >= 3) & (F("page") < 9)
    ... )
    True
    >>> to_dict(F("tags").contains("linux") | ~F("draft").exists())
    {'$or': [{'tags': {'$contains': 'linux'}}, {'$not': {'draft': {'$exists': True}}}]}

The dict syntax:

* ``{"field": value}`` is ``{"field": {"$eq": value}}``;
* ``{"field": {"$op": value, ...}}`` with the operators ``$eq $ne $gt $gte $lt $lte $in
  $nin $exists $is_null $contains $contains_any $contains_all $text_match``, the shorthand
  ``{"$between": [low, high]}`` (``$gte`` low and ``$lte`` high), and ``$not`` around
  other operators (``{"page": {"$not": {"$gt": 3}}}``);
* ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``; ``{}`` matches everything;
* several keys in one dict, and several operators on one field, are all required: they
  make one flat ``And`` (as ``&`` does), in the order written;
* a datetime value is an ISO-8601 string for a range operator (``{"$gte": "2024-01-01"}``)
  and ``{"$date": "2024-01-01T00:00:00+00:00"}`` anywhere else (a plain string stays a
  string: ``$eq`` on strings is exact). :func:`to_dict` writes these forms, so
  ``parse_filter(to_dict(f)) == f`` for every filter ``f``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Mapping
from typing import Any, Union

from polyvec.errors import FilterSyntaxError, FilterValueError
from polyvec.filters.ast import And, Comparison, Filter, Not, Op, Or, parse_iso_datetime
from polyvec.filters.limits import MAX_DEPTH, too_deep

__all__ = [
    "FIELD_OPERATORS",
    "FIELD_SHORTHANDS",
    "LOGICAL_OPERATORS",
    "FilterLike",
    "parse_filter",
    "to_dict",
]

FilterLike = Union[Filter, Mapping[str, Any], None]
"""What polyvec's APIs take as a filter: a built filter, a filter dict, or ``None``."""

FIELD_OPERATORS: dict[str, Op] = {f"${op.value}": op for op in Op}
"""``"$eq"`` → ``Op.EQ`` and so on: the operators that go under a field name."""

LOGICAL_OPERATORS = ("$and", "$or", "$not")
"""The operators that combine filters (``$not`` also goes under a field name)."""

FIELD_SHORTHANDS = ("$between",)
"""Dict operators that expand to several comparisons: ``{"$between": [lo, hi]}`` is
``{"$gte": lo, "$lte": hi}`` (:meth:`polyvec.filters.F.between`)."""

_DATE = "$date"
_KNOWN = ", ".join([*FIELD_OPERATORS, *FIELD_SHORTHANDS, *LOGICAL_OPERATORS])
_FILTER_TYPES = (Comparison, And, Or, Not)


def parse_filter(obj: FilterLike) -> Filter | None:
    """Turn a filter dict into the filter AST; a built filter and ``None`` pass through.

    >>> parse_filter({"page": {"$in": [1, 2]}})
    Comparison(field='page', op=<Op.IN: 'in'>, value=(1, 2))
    >>> parse_filter(None) is None
    True

    Raises :class:`~polyvec.errors.FilterSyntaxError` for an unknown operator or a
    malformed dict, :class:`~polyvec.errors.FilterValueError` for a value of the wrong
    type (``{"page": {"$gt": "three"}}``).
    """
    if obj is None or isinstance(obj, _FILTER_TYPES):
        return obj
    if isinstance(obj, Mapping):
        return _run(_parse_node(obj))
    raise FilterSyntaxError(
        f"a filter must be a dict, a polyvec filter (e.g. F('page') >= 3) or None, "
        f"got {type(obj).__name__} ({obj!r})"
    )


# A node's parser is a generator that yields ``(dict, where)`` for each sub-filter and
# is sent its parsed Filter back; _run drives them from a list, so a filter dict nested
# deeper than Python's recursion limit (a long machine-built $and chain) still parses,
# and the node constructors decide whether it is too deep (limits.MAX_DEPTH).
_Parser = Generator[tuple[object, str], Filter, Filter]


def _run(root: _Parser) -> Filter:
    stack = [root]
    sent: Filter | None = None
    while True:
        try:
            obj, where = stack[-1].send(sent)  # type: ignore[arg-type]
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value  # type: ignore[no-any-return]
            sent = done.value
        else:
            stack.append(_parse_node(obj, where))
            sent = None


def _parse_node(obj: object, where: str = "filter") -> _Parser:
    if isinstance(obj, _FILTER_TYPES):
        return obj
    if not isinstance(obj, Mapping):
        raise FilterSyntaxError(
            f"{where} must be a dict such as {{'field': value}}, got {type(obj).__name__} ({obj!r})"
        )
    parts: list[Filter] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise FilterSyntaxError(f"filter keys must be strings, got {key!r} in {where}")
        if key.startswith("$"):
            parts.append((yield from _parse_logical(key, value)))
        else:
            condition = _parse_field(key, value)
            # several operators on one field and several keys make one flat And
            if isinstance(condition, And) and len(obj) > 1:
                parts.extend(condition.children)
            else:
                parts.append(condition)
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_logical(key: str, value: object) -> _Parser:
    if key in ("$and", "$or"):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            raise FilterSyntaxError(
                f"{key} takes a list of filters, got {type(value).__name__} ({value!r}): "
                f"write {{'{key}': [{{...}}, {{...}}]}}"
            )
        kids = []
        for v in value:
            kids.append((yield (v, f"each item of {key}")))
        return And(kids) if key == "$and" else Or(kids)
    if key == "$not":
        return Not((yield (value, "the value of $not")))
    if key in FIELD_OPERATORS:
        raise FilterSyntaxError(
            f"{key} compares a field, so it goes under a field name: "
            f"write {{'field': {{'{key}': ...}}}}"
        )
    raise FilterSyntaxError(f"unknown filter operator {key!r}; known operators: {_KNOWN}")


def _parse_field(field: str, value: object, nots: int = 0) -> Filter:
    """``nots``: the field-level ``$not`` levels above (each is a Not; bounding them
    keeps this recursion far below Python's limit)."""
    if nots > MAX_DEPTH:
        raise too_deep(nots)
    if isinstance(value, _FILTER_TYPES):
        raise FilterSyntaxError(
            f"field {field!r} is given a filter object as its value: build it with "
            f"F({field!r}) or put the filter object where a filter is expected"
        )
    if isinstance(value, Mapping) and not _is_date_wrapper(value):
        if not value:
            raise FilterSyntaxError(
                f"field {field!r} has an empty operator dict: write e.g. "
                f"{{'{field}': {{'$eq': value}}}}"
            )
        conditions = [_parse_operator(field, op, v, nots) for op, v in value.items()]
        return conditions[0] if len(conditions) == 1 else And(tuple(conditions))
    return _comparison(field, Op.EQ, value)


def _like(field: str, op: str, value: object) -> Filter:
    """langchain-postgres's ``$like`` / ``$ilike``: a ``'%text%'`` pattern is the
    case-sensitive substring match polyvec calls ``$text_match``; every other pattern (other
    wildcards, anchoring, case-insensitive) is refused, naming ``$text_match``."""
    inner = value[1:-1] if isinstance(value, str) and len(value) > 2 else ""
    plain = not any(c in inner for c in "%_\\")
    if (
        op == "$like"
        and isinstance(value, str)
        and value.startswith("%")
        and value.endswith("%")
        and inner
        and plain
    ):
        return _parse_operator(field, "$text_match", inner)
    raise FilterSyntaxError(
        f"{op} {value!r} on field {field!r}: polyvec has no SQL patterns; $text_match is a "
        "case-sensitive substring match (what $like '%text%' means): write "
        f"{{'{field}': {{'$text_match': 'text'}}}}"
        + ("; there is no case-insensitive form" if op == "$ilike" else "")
    )


def _parse_operator(field: str, op: object, value: object, nots: int = 0) -> Filter:
    if not isinstance(op, str) or not op.startswith("$"):
        raise FilterSyntaxError(
            f"field {field!r} has the key {op!r} among its operators: operators start "
            f"with '$' ({', '.join(FIELD_OPERATORS)}); nested metadata keys are written "
            f"as one dotted field, e.g. {{'{field}.{op}': ...}}"
        )
    if op == "$not":
        if not isinstance(value, Mapping) or _is_date_wrapper(value) or not value:
            raise FilterSyntaxError(
                f"$not under field {field!r} takes an operator dict, got {value!r}: "
                f"write {{'{field}': {{'$not': {{'$gt': 3}}}}}}"
            )
        return Not(_parse_field(field, value, nots + 1))
    if op in ("$and", "$or"):
        raise FilterSyntaxError(
            f"{op} combines whole filters and cannot go under the field {field!r}: "
            f"write {{'{op}': [{{'{field}': ...}}, {{'{field}': ...}}]}}"
        )
    if op == "$between":
        return _between(field, value)
    if op in ("$like", "$ilike"):
        return _like(field, op, value)
    known = FIELD_OPERATORS.get(op)
    if known is None:
        raise FilterSyntaxError(
            f"unknown filter operator {op!r} on field {field!r}; known operators: {_KNOWN}"
        )
    return _comparison(field, known, value)


def _between(field: str, value: object) -> Filter:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise FilterValueError(
            f"filter on {field!r}: $between takes a list of two bounds [low, high], "
            f"got {value!r}: write {{'{field}': {{'$between': [1, 5]}}}}"
        )
    low, high = (_value(field, Op.GTE, v) for v in value)
    return And((Comparison(field, Op.GTE, low), Comparison(field, Op.LTE, high)))


def _comparison(field: str, op: Op, value: object) -> Comparison:
    if op.takes_list:
        if isinstance(value, (list, tuple)):
            value = tuple(_value(field, op, v) for v in value)
        # anything else: Comparison raises FilterValueError with the fix
    elif isinstance(value, (list, tuple, set, frozenset)):
        fix = {
            Op.EQ: "use $in to match any of several values, or $contains to test a list field",
            Op.NE: "use $nin to exclude several values",
            Op.CONTAINS: "use $contains_any or $contains_all for several values",
        }.get(op, "compare with one value")
        raise FilterValueError(
            f"filter on {field!r}: ${op.value} takes one value, got the list {value!r}: {fix}"
        )
    else:
        value = _value(field, op, value)
    return Comparison(field, op, value)


def _is_date_wrapper(value: Mapping[Any, Any]) -> bool:
    return len(value) == 1 and _DATE in value


def _value(field: str, op: Op, value: object) -> object:
    """Unwrap ``{"$date": "..."}``; refuse other dicts; leave the rest to Comparison."""
    if not isinstance(value, Mapping):
        return value
    if _is_date_wrapper(value):
        text = value[_DATE]
        parsed = parse_iso_datetime(text) if isinstance(text, str) else None
        if parsed is None:
            raise FilterValueError(
                f"filter on {field!r}: $date needs an ISO-8601 string such as "
                f"'2024-05-01T12:00:00Z', got {text!r}"
            )
        return parsed
    raise FilterValueError(
        f"filter on {field!r}: ${op.value} cannot compare with a dict ({dict(value)!r}): "
        "nested metadata keys are written as one dotted field, e.g. {'a.b': 1}"
    )


def to_dict(filter: Filter) -> dict[str, Any]:
    """Serialise a filter to the dict syntax; ``parse_filter(to_dict(f)) == f``.

    >>> from polyvec.filters import F
    >>> to_dict((F("page") > 3) & (F("lang") == "en"))
    {'$and': [{'page': {'$gt': 3}}, {'lang': {'$eq': 'en'}}]}

    Every comparison is written with its explicit operator and every ``And`` as
    ``$and``, so the tree shape survives the round trip. Datetimes become ISO strings
    (under ``{"$date": ...}`` except for range operators). The result holds only
    dicts, lists, str, int, float and bool, so it can be written as JSON.
    """
    if isinstance(filter, Comparison):
        if filter.op.takes_list:
            dumped: Any = [_dump(filter.op, v) for v in filter.value]
        else:
            dumped = _dump(filter.op, filter.value)
        return {filter.field: {f"${filter.op.value}": dumped}}
    if isinstance(filter, And):
        return {"$and": [to_dict(c) for c in filter.children]}
    if isinstance(filter, Or):
        return {"$or": [to_dict(c) for c in filter.children]}
    if isinstance(filter, Not):
        return {"$not": to_dict(filter.child)}
    raise FilterSyntaxError(
        f"to_dict takes a polyvec filter (And, Or, Not, Comparison), got "
        f"{type(filter).__name__} ({filter!r})"
    )


def _dump(op: Op, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text if op.is_range else {_DATE: text}
    return value

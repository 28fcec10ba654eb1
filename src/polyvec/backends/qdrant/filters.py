"""polyvec filter AST → Qdrant filters, with exactly the reference evaluator's meaning.

One pure translation (:func:`translate`) writes each operator with a handful of Qdrant
primitives; two small builders emit them as ``qdrant_client.models`` objects
(:func:`to_qdrant_filter`) or as ``qdrant_edge`` objects (:func:`to_edge_filter`)::

    >>> from polyvec.filters import F
    >>> to_qdrant_filter(F("page") >= 3).must[0].key
    'metadata.page'

How each operator is written (``P`` is the field's payload path, e.g. ``metadata.a.b``,
each segment quoted when it is not a plain identifier):

=====================  ===============================================================
polyvec                Qdrant
=====================  ===============================================================
``eq`` str / bool      ``MatchValue`` (a list field matches when any element does)
``eq`` number          ``MatchValue`` of its exact text on ``N`` (below): 3 == 3.0,
                       bools never match
``eq`` datetime        ``DatetimeRange(gte=v, lte=v)`` on ``D`` (below): same instant
``ne`` / ``nin``       ``must_not`` of ``eq`` / ``in``: true on a missing field
``in``                 ``should`` of ``eq`` (strings grouped in one ``MatchAny``)
``gt`` … ``lte``       ``Range`` on ``P`` (numbers) / ``DatetimeRange`` on ``D`` (dates)
``exists``             ``must_not IsEmpty``: missing, ``null`` and ``[]`` are absent
``contains``           ``eq`` on ``P[]`` (list elements only) **and** ``eq`` on ``P``
``text_match``         ``MatchSubstring``: case-sensitive substring of a string (any
                       element of a list); needs a Qdrant with ``MatchSubstring``
``is_null``,           rewritten (:mod:`polyvec.filters.rewrite`) to ``exists`` /
``contains_any/all``   ``or`` / ``and`` of ``contains``
``and`` / ``or``       ``must`` / ``should``; empty ``or`` is ``must_not [Filter()]``
``not``                ``must_not``
=====================  ===============================================================

Dates: ``D`` is the field's path in the point's date shadow (``pv_dates``, written by
:func:`polyvec.backends.values.date_shadow`): every date string in polyvec's grammar
(:func:`polyvec.filters.ast.parse_iso_datetime`), rewritten as its instant in the one
fixed form :func:`iso_utc` writes. So Qdrant only ever parses that form — its own
grammar differs from polyvec's (it takes ``2024-1-1`` and ignores
``2024-01-01T00:00Z``). Collections in langchain-qdrant's layout have no shadow: there
``D`` is ``P``, and Qdrant's grammar decides which strings are dates.

Numbers: ``N`` is the field's path in the number shadow (``pv_numbers``): every number
as its exact text (:func:`polyvec.backends.values.canon_number`), so equality is exact.
qdrant-edge holds a float whose shortest repr has 16-17 digits only to within one unit
in the last place (it reads payload JSON without round-trip float parsing: 12% of
random floats in ±1e9 measured), so ``Range(gte=v, lte=v)`` on ``P`` would miss them.
Ranges run on ``P``; a bound within one unit in the last place of such a stored float
may be decided by the rounded value. Without a shadow (langchain-qdrant's layout)
``eq`` is ``Range(gte=v, lte=v)`` on ``P``.

Refused with ``UnsupportedFilterError`` (never dropped or widened): field names with
``"`` or ``\\`` (Qdrant paths cannot quote them) and range bounds (and, without the
number shadow, ``eq`` numbers) not strictly inside ±2**53, where Qdrant's float64
comparisons stop being exact.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Generic, Protocol, TypeVar

from polyvec.backends.values import EXACT_FLOAT_INT, canon_number
from polyvec.errors import UnsupportedFilterError
from polyvec.filters.ast import And, Comparison, Filter, Not, Op, Or, flattened
from polyvec.filters.rewrite import REWRITTEN, rewrite

__all__ = [
    "DATES_KEY",
    "NUMBERS_KEY",
    "Builder",
    "field_path",
    "iso_utc",
    "to_edge_filter",
    "to_qdrant_filter",
    "translate",
]

C = TypeVar("C")

DATES_KEY = "pv_dates"
"""The payload key of a point's date shadow in polyvec's layout."""
NUMBERS_KEY = "pv_numbers"
"""The payload key of a point's number shadow in polyvec's layout."""
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RANGE_KEYS = {Op.GT: "gt", Op.GTE: "gte", Op.LT: "lt", Op.LTE: "lte"}


class Builder(Protocol[C]):
    """The Qdrant primitives :func:`translate` writes filters with. ``C`` is the
    engine's condition type; ``all_of`` / ``any_of`` / ``none_of`` return a filter
    (which is itself a condition)."""

    def match(self, path: str, value: str | int | bool) -> C: ...
    def match_any(self, path: str, values: list[str]) -> C: ...
    def substring(self, path: str, text: str) -> C: ...
    def range(self, path: str, bounds: dict[str, float]) -> C: ...
    def datetime_range(self, path: str, bounds: dict[str, str]) -> C: ...
    def is_empty(self, path: str) -> C: ...
    def all_of(self, conditions: list[C]) -> C: ...
    def any_of(self, conditions: list[C]) -> C: ...
    def none_of(self, conditions: list[C]) -> C: ...


def _quote(segment: str, backend: str, field: str) -> str:
    if _PLAIN_KEY.match(segment):
        return segment
    if '"' in segment or "\\" in segment:
        raise UnsupportedFilterError(
            backend,
            "field",
            f"field {field!r} has a key with a double quote or backslash, which a Qdrant "
            "payload path cannot express; rename that metadata key",
        )
    return f'"{segment}"'


def field_path(field: str, root: str = "metadata", backend: str = "qdrant") -> str:
    """The Qdrant payload path of a (dotted) metadata field, under ``root``.

    >>> field_path("a.b c")
    'metadata.a."b c"'
    """
    parts = [root, *field.split(".")] if root else field.split(".")
    return ".".join(_quote(p, backend, field) for p in parts)


def iso_utc(value: dt.datetime) -> str:
    """An aware datetime as the ISO-8601 UTC string Qdrant parses (4-digit year,
    microseconds, ``Z``)."""
    v = value.astimezone(dt.timezone.utc)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
        f"{v.second:02d}.{v.microsecond:06d}Z"
    )


class _Translator(Generic[C]):
    def __init__(
        self,
        builder: Builder[C],
        root: str,
        backend: str,
        dates_root: str | None,
        numbers_root: str | None,
    ) -> None:
        self.b = builder
        self.root = root
        self.backend = backend
        self.dates_root = dates_root
        self.numbers_root = numbers_root

    # -- constants --------------------------------------------------------------------
    def true(self) -> C:
        return self.b.all_of([])

    def false(self) -> C:
        return self.b.none_of([self.b.all_of([])])

    # -- nodes ------------------------------------------------------------------------
    def node(self, node: Filter) -> C:
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, And):
            return self.b.all_of([self.node(c) for c in node.children])
        if isinstance(node, Or):
            if not node.children:
                return self.false()
            return self.b.any_of([self.node(c) for c in node.children])
        if isinstance(node, Not):
            return self.b.none_of([self.node(node.child)])
        raise UnsupportedFilterError(self.backend, type(node).__name__, "not a filter node")

    def comparison(self, c: Comparison) -> C:
        path = field_path(c.field, self.root, self.backend)
        op = c.op
        if op is Op.EQ:
            return self.eq(path, c.value, op)
        if op is Op.NE:
            return self.b.none_of([self.eq(path, c.value, op)])
        if op is Op.IN:
            return self.is_in(path, c.value, op)
        if op is Op.NIN:
            return self.b.none_of([self.is_in(path, c.value, op)])
        if op is Op.EXISTS:
            empty = self.b.is_empty(path)
            return self.b.none_of([empty]) if c.value else empty
        if op is Op.CONTAINS:
            return self.b.all_of([self.eq(path + "[]", c.value, op), self.eq(path, c.value, op)])
        if op is Op.TEXT_MATCH:
            return self.b.substring(path, c.value)
        if op in REWRITTEN:
            return self.node(rewrite(c))
        if op.is_range:
            return self.range(path, op, c.value)
        raise UnsupportedFilterError(self.backend, op.value)

    # -- leaves -----------------------------------------------------------------------
    def number(self, value: int | float, op: Op) -> float:
        """A number for ``Range``: float64, exact for every stored number only for
        bounds strictly inside ±2**53 (a stored int beyond, up to 64 bits, is then on
        the right side of it too)."""
        if abs(value) >= EXACT_FLOAT_INT:
            raise UnsupportedFilterError(
                self.backend,
                op.value,
                f"the number {value} is not strictly inside ±2**53, where Qdrant's float64 "
                "number comparisons are exact",
            )
        return float(value)

    def shadow(self, path: str, shadow_root: str | None = None) -> str:
        """The path in a shadow (the date shadow by default) for a payload path under
        ``root``; the path itself in a layout without that shadow."""
        top = self.dates_root if shadow_root is None else shadow_root
        if top is None:
            return path
        return top + path[len(self.root) :] if self.root else f"{top}.{path}"

    def eq(self, path: str, value: Any, op: Op) -> C:
        if isinstance(value, (bool, str)):
            return self.b.match(path, value)
        if isinstance(value, (int, float)):
            if self.numbers_root is not None:  # exact at any size
                return self.b.match(self.shadow(path, self.numbers_root), canon_number(value))
            number = self.number(value, op)
            return self.b.range(path, {"gte": number, "lte": number})
        if isinstance(value, dt.datetime):
            text = iso_utc(value)
            return self.b.datetime_range(self.shadow(path), {"gte": text, "lte": text})
        raise UnsupportedFilterError(self.backend, op.value, f"value {value!r}")

    def is_in(self, path: str, values: tuple[Any, ...], op: Op) -> C:
        strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
        parts: list[C] = []
        if len(strings) > 1:
            parts.append(self.b.match_any(path, strings))
        elif strings:
            parts.append(self.b.match(path, strings[0]))
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if self.numbers_root is not None and len(numbers) > 1:
            texts = list(dict.fromkeys(canon_number(v) for v in numbers))
            parts.append(self.b.match_any(self.shadow(path, self.numbers_root), texts))
            values = tuple(v for v in values if isinstance(v, bool) or v not in numbers)
        parts.extend(self.eq(path, v, op) for v in values if not isinstance(v, str))
        if not parts:
            return self.false()
        return parts[0] if len(parts) == 1 else self.b.any_of(parts)

    def range(self, path: str, op: Op, value: Any) -> C:
        key = _RANGE_KEYS[op]
        if isinstance(value, dt.datetime):
            return self.b.datetime_range(self.shadow(path), {key: iso_utc(value)})
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnsupportedFilterError(self.backend, op.value, f"value {value!r}")
        return self.b.range(path, {key: self.number(value, op)})


def translate(
    filter: Filter | None,
    builder: Builder[C],
    *,
    root: str = "metadata",
    backend: str = "qdrant",
    dates_root: str | None = DATES_KEY,
    numbers_root: str | None = NUMBERS_KEY,
) -> C | None:
    """Translate ``filter`` with ``builder``; ``None`` for no filter. The result is a
    filter (``all_of`` of one condition when the tree is a single comparison).
    ``dates_root``: the payload key of the date shadow (``None``: no shadow, dates are
    compared by Qdrant's own parser); ``numbers_root``: of the number shadow (``None``:
    numbers are compared as Qdrant holds them)."""
    if filter is None:
        return None
    t = _Translator(builder, root, backend, dates_root, numbers_root)
    out = t.node(flattened(filter))  # at most limits.MAX_DEPTH deep, whatever the raw nesting
    if isinstance(filter, Comparison):
        out = builder.all_of([out])
    return out


# -- qdrant-client ------------------------------------------------------------------------
class _ClientBuilder:
    def __init__(self) -> None:
        from qdrant_client import models

        self.m = models

    def match(self, path: str, value: str | int | bool) -> Any:
        return self.m.FieldCondition(key=path, match=self.m.MatchValue(value=value))

    def match_any(self, path: str, values: list[str]) -> Any:
        return self.m.FieldCondition(key=path, match=self.m.MatchAny(any=values))

    def substring(self, path: str, text: str) -> Any:
        return self.m.FieldCondition(key=path, match=self.m.MatchSubstring(substring=text))

    def range(self, path: str, bounds: dict[str, float]) -> Any:
        return self.m.FieldCondition(key=path, range=self.m.Range(**bounds))

    def datetime_range(self, path: str, bounds: dict[str, str]) -> Any:
        return self.m.FieldCondition(key=path, range=self.m.DatetimeRange.model_validate(bounds))

    def is_empty(self, path: str) -> Any:
        return self.m.IsEmptyCondition(is_empty=self.m.PayloadField(key=path))

    def all_of(self, conditions: list[Any]) -> Any:
        return self.m.Filter(must=conditions)

    def any_of(self, conditions: list[Any]) -> Any:
        return self.m.Filter(should=conditions)

    def none_of(self, conditions: list[Any]) -> Any:
        return self.m.Filter(must_not=conditions)


def to_qdrant_filter(
    filter: Filter | None,
    *,
    root: str = "metadata",
    dates_root: str | None = DATES_KEY,
    numbers_root: str | None = NUMBERS_KEY,
) -> Any:
    """``qdrant_client.models.Filter`` for a polyvec filter (``None`` for none)."""
    return translate(
        filter,
        _ClientBuilder(),
        root=root,
        backend="qdrant",
        dates_root=dates_root,
        numbers_root=numbers_root,
    )


# -- qdrant-edge --------------------------------------------------------------------------
class _EdgeBuilder:
    def __init__(self) -> None:
        import numpy as np
        import qdrant_edge

        self.e = qdrant_edge
        self.np_bool = np.bool_

    def match(self, path: str, value: str | int | bool) -> Any:
        # qdrant-edge-py 0.9 reads a Python bool as an int (True would match 1);
        # a numpy bool is read as a JSON bool.
        native: Any = self.np_bool(value) if isinstance(value, bool) else value
        return self.e.FieldCondition(path, match=self.e.MatchValue(native))

    def match_any(self, path: str, values: list[str]) -> Any:
        return self.e.FieldCondition(path, match=self.e.MatchAny(values))

    def substring(self, path: str, text: str) -> Any:
        return self.e.FieldCondition(path, match=self.e.MatchSubstring(text))

    def range(self, path: str, bounds: dict[str, float]) -> Any:
        return self.e.FieldCondition(path, range=self.e.RangeFloat(**bounds))

    def datetime_range(self, path: str, bounds: dict[str, str]) -> Any:
        return self.e.FieldCondition(path, range=self.e.RangeDateTime(**bounds))

    def is_empty(self, path: str) -> Any:
        return self.e.IsEmptyCondition(path)

    def all_of(self, conditions: list[Any]) -> Any:
        return self.e.Filter(must=conditions)

    def any_of(self, conditions: list[Any]) -> Any:
        return self.e.Filter(should=conditions)

    def none_of(self, conditions: list[Any]) -> Any:
        return self.e.Filter(must_not=conditions)


def to_edge_filter(
    filter: Filter | None,
    *,
    root: str = "metadata",
    dates_root: str | None = DATES_KEY,
    numbers_root: str | None = NUMBERS_KEY,
) -> Any:
    """``qdrant_edge.Filter`` for a polyvec filter (``None`` for none)."""
    return translate(
        filter,
        _EdgeBuilder(),
        root=root,
        backend="qdrant-edge",
        dates_root=dates_root,
        numbers_root=numbers_root,
    )

"""Haystack 2.x filter dicts to polyvec's filter AST (Haystack need not be installed).

    >>> from polyvec.filters import F
    >>> from_haystack({"operator": "AND", "conditions": [
    ...     {"field": "meta.type", "operator": "==", "value": "article"},
    ...     {"field": "meta.rating", "operator": ">=", "value": 3},
    ... ]}) == (F("type") == "article") & (F("rating") >= 3)
    True

A comparison is ``{"field": "meta.<key>", "operator": op, "value": v}``; a logical node
is ``{"operator": "AND" | "OR" | "NOT", "conditions": [...]}``. Metadata fields carry
Haystack's ``meta.`` prefix, which is stripped (``meta.a.b`` is polyvec's nested
``a.b``). Each operator is translated as below; where the meaning differs from Haystack's
in-memory matcher is listed after the table:

================================  ===============================================
Haystack                          polyvec
================================  ===============================================
``==``, ``!=``                    ``F(k) == v``, ``F(k) != v``
``== None``, ``!= None``          ``F(k).is_null()``, ``F(k).is_null(False)``
``>  >=  <  <=``                  ``F(k) > v`` … (numbers, or ISO-8601 dates);
                                  with ``None``: ``Or([])``, nothing matches
``in``, ``not in``                ``F(k).is_in(vs)``, ``F(k).not_in(vs)`` (a ``None``
                                  among the values also matches a missing field)
``AND``, ``OR``                   ``And``, ``Or``
``NOT``                           ``Not(And(...))``: not all of the conditions hold
================================  ===============================================

Refused, with the fix in the message (Haystack raises ``FilterError`` for the ones it
shares; :class:`~polyvec.errors.FilterError` is what an adapter maps to it): fields
outside ``meta`` (``id``, ``content``: not metadata), a tuple or a scalar for ``in`` /
``not in``, a list under ``==`` or a range, a range with a string that is not an
ISO-8601 date (Haystack also parses loose dates such as ``"May 1 2024"``; polyvec does
not guess), Haystack 1.x-style dicts (parse those with :func:`polyvec.filters.parse_filter`).

Where Haystack's in-memory matcher answers otherwise (listed in docs/filters.md; the
tests run Haystack's own ``FilterDocumentsTest`` through this parser):

* ``==``, ``!=``, ``in``, ``not in`` on a list field: polyvec tests each element,
  Haystack the whole list;
* ``[]`` is null in polyvec (``== None`` holds), a value in Haystack;
* a bool never equals a number (Haystack: ``True == 1``);
* a naive datetime is UTC in polyvec; Haystack gives it the other side's timezone;
* a range on a field holding a non-date string is false in polyvec; Haystack parses the
  string as a date, or raises ``FilterError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyvec.errors import FilterSyntaxError, FilterValueError
from polyvec.filters.ast import SYMBOL_OPS, And, Comparison, F, Filter, Not, Op, Or

__all__ = ["from_haystack"]

_OPS: dict[str, Op] = {**SYMBOL_OPS, "not in": Op.NIN}
_LOGIC = ("AND", "OR", "NOT")
_PREFIX = "meta."


def from_haystack(filters: Mapping[str, Any] | None) -> Filter | None:
    """A Haystack 2.x filter dict as a polyvec filter (``None`` for ``None`` or ``{}``).

    >>> from_haystack({"field": "meta.year", "operator": "in", "value": [2023, None]})
    Or(children=(Comparison(field='year', op=<Op.IN: 'in'>, value=(2023,)), \
Comparison(field='year', op=<Op.IS_NULL: 'is_null'>, value=True)))

    Raises :class:`~polyvec.errors.FilterSyntaxError` for a malformed dict or an unknown
    operator, :class:`~polyvec.errors.FilterValueError` for a value of the wrong type.
    """
    if filters is None or (isinstance(filters, Mapping) and not filters):
        return None
    return _node(filters, "filter")


def _node(obj: object, where: str) -> Filter:
    if not isinstance(obj, Mapping):
        raise FilterSyntaxError(
            f"{where} must be a dict such as {{'field': 'meta.x', 'operator': '==', "
            f"'value': 1}}, got {type(obj).__name__} ({obj!r})"
        )
    if "field" in obj:
        return _comparison(obj)
    if "conditions" in obj or obj.get("operator") in _LOGIC:
        return _logical(obj)
    raise FilterSyntaxError(
        f"{where} {dict(obj)!r} is not a Haystack 2.x filter (it needs 'field', 'operator' "
        "and 'value', or 'operator' and 'conditions'); a Mongo-style or Haystack 1.x dict "
        "is parsed by polyvec.filters.parse_filter"
    )


def _logical(obj: Mapping[str, Any]) -> Filter:
    extra = sorted(set(obj) - {"operator", "conditions"})
    if extra or "operator" not in obj or "conditions" not in obj:
        raise FilterSyntaxError(
            f"a Haystack logical filter has exactly the keys 'operator' and 'conditions', "
            f"got {sorted(obj)}"
        )
    operator, conditions = obj["operator"], obj["conditions"]
    if operator not in _LOGIC:
        raise FilterSyntaxError(
            f"unknown Haystack logical operator {operator!r}; known: {', '.join(_LOGIC)} "
            "(upper case)"
        )
    if not isinstance(conditions, (list, tuple)):
        raise FilterSyntaxError(
            f"{operator} takes a list of conditions, got {type(conditions).__name__} "
            f"({conditions!r})"
        )
    kids = [_node(c, f"each condition of {operator}") for c in conditions]
    if operator == "OR":
        return Or(kids)
    if operator == "AND":
        return And(kids)
    return Not(kids[0] if len(kids) == 1 else And(kids))


def _field(name: object) -> str:
    if not isinstance(name, str) or not name.startswith(_PREFIX) or name == _PREFIX:
        raise FilterSyntaxError(
            f"Haystack filter field {name!r} is not a metadata field: polyvec filters "
            f"metadata only, written 'meta.<key>' (e.g. 'meta.{name}'); 'id' and "
            "'content' cannot be filtered"
        )
    return name[len(_PREFIX) :]


def _comparison(obj: Mapping[str, Any]) -> Filter:
    extra = sorted(set(obj) - {"field", "operator", "value"})
    if extra or "operator" not in obj or "value" not in obj:
        raise FilterSyntaxError(
            "a Haystack comparison has exactly the keys 'field', 'operator' and 'value', "
            f"got {sorted(obj)}"
        )
    field, operator, value = _field(obj["field"]), obj["operator"], obj["value"]
    op = _OPS.get(operator) if isinstance(operator, str) else None
    if op is None:
        raise FilterSyntaxError(
            f"unknown Haystack comparison operator {operator!r} on {obj['field']!r}; "
            f"known: {', '.join(_OPS)}"
        )
    if op.takes_list:
        return _membership(field, op, value)
    if isinstance(value, (list, tuple, set, Mapping)):
        raise FilterValueError(
            f"filter on {obj['field']!r}: {operator!r} takes one value, got {value!r}: "
            "use 'in' to match any of several values"
        )
    if value is None:
        if op is Op.EQ:
            return F(field).is_null()
        if op is Op.NE:
            return F(field).is_null(False)
        return Or([])  # Haystack: a range with None matches nothing (and NOT of it all)
    return Comparison(field, op, value)


def _membership(field: str, op: Op, value: object) -> Filter:
    if not isinstance(value, list):  # Haystack refuses a tuple or a set, too
        listed = list(value) if isinstance(value, (tuple, set, frozenset)) else [value]
        raise FilterValueError(
            f"filter on 'meta.{field}': {'in' if op is Op.IN else 'not in'!r} takes a list "
            f"of values, got {value!r}: write 'value': {listed!r}"
        )
    present = [v for v in value if v is not None]
    base = Comparison(field, op, present)
    if len(present) == len(value):
        return base
    if op is Op.IN:  # None in the values: a missing (or null) field also matches
        return Or([base, F(field).is_null()])
    return And([base, F(field).is_null(False)])

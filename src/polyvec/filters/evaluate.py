"""The pure-Python reference evaluator: what a filter means, decided once.

Every backend's translation is tested against :func:`matches` (same random metadata,
same random filters, same ids). The rules, with an example each, are the table in
docs/filters.md; in short:

* a key whose value is ``None`` or ``[]`` is missing; ``exists`` is "present and not null";
* ``eq``/``in``/``gt``/``gte``/``lt``/``lte``/``contains`` are false on a missing field,
  ``ne`` is exactly ``not eq`` and ``nin`` exactly ``not in`` (so both are true there);
* ``is_null(flag)`` is exactly ``exists(not flag)``;
* on a list field, ``eq``/``in``/range ops/``text_match`` hold if any element does;
  ``contains(v)`` holds iff the field is a list with ``v`` among its elements;
  ``contains_any(vs)``/``contains_all(vs)`` are exactly ``Or``/``And`` of ``contains``
  (so ``contains_all([])`` is true everywhere, ``contains_any([])`` false);
* ``text_match(s)``: the field is a string with ``s`` as a case-sensitive substring;
* no coercion: ``3 != "3"``, ``True != 1``, ``3 == 3.0``; a datetime filter value
  compares with date strings (polyvec's one grammar,
  :func:`~polyvec.filters.ast.parse_iso_datetime`); mismatched types never match and
  never raise;
* a value is compared as every backend stores it: a ``date``/``datetime`` object as its
  ``isoformat()`` string (so ``F("d") == "2024-01-01"`` matches ``date(2024, 1, 1)``),
  a numpy scalar as the Python number or bool it holds;
* ``"a.b"`` descends into nested dicts; empty ``And`` is true, empty ``Or`` is false.

    >>> from polyvec.filters import F, matches
    >>> matches(F("tags").contains("linux"), {"tags": ["linux", "bsd"]})
    True
    >>> matches(F("page") != 3, {"title": "no page"})
    True
    >>> matches({"page": {"$gte": 3}}, {"page": "7"})
    False
"""

from __future__ import annotations

import datetime as dt
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

import numpy as np

from polyvec.errors import FilterSyntaxError
from polyvec.filters.ast import (
    And,
    Comparison,
    Filter,
    Not,
    Op,
    Or,
    Scalar,
    flattened,
    parse_iso_datetime,
)
from polyvec.filters.parse import FilterLike, parse_filter

__all__ = ["matches", "select"]

T = TypeVar("T")
K = TypeVar("K")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()

_RANGE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.GT: operator.gt,
    Op.GTE: operator.ge,
    Op.LT: operator.lt,
    Op.LTE: operator.le,
}


def matches(filter: FilterLike, metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` satisfies ``filter`` (``None`` matches everything).

    >>> from polyvec.filters import F
    >>> matches((F("page") >= 3) & (F("lang") == "en"), {"page": 4, "lang": "en"})
    True
    >>> matches(F("lang").is_in(["en", "de"]), {"lang": ["fr", "de"]})
    True
    """
    node = parse_filter(filter)
    if node is None:
        return True
    return _matches(flattened(node), metadata)


@overload
def select(filter: FilterLike, docs: Mapping[K, Mapping[str, Any]]) -> list[K]: ...


@overload
def select(
    filter: FilterLike,
    docs: Iterable[T],
    *,
    metadata: Callable[[T], Mapping[str, Any]] | None = None,
) -> list[T]: ...


def select(
    filter: FilterLike,
    docs: Mapping[Any, Mapping[str, Any]] | Iterable[Any],
    *,
    metadata: Callable[[Any], Mapping[str, Any]] | None = None,
) -> list[Any]:
    """The documents that match, in their given order.

    ``docs`` is either a mapping ``{id: metadata}`` (the matching ids are returned) or
    an iterable of documents: metadata dicts, or objects with a ``.metadata`` mapping
    (polyvec, LangChain and LlamaIndex documents), or anything with
    ``metadata=`` saying how to get the metadata of one item.

    >>> from polyvec.filters import F
    >>> select(F("page") > 1, {"a": {"page": 1}, "b": {"page": 2}, "c": {}})
    ['b']
    >>> select({"lang": "en"}, [{"lang": "en"}, {"lang": "de"}])
    [{'lang': 'en'}]
    >>> select(F("n") == 2, [("x", 1), ("y", 2)], metadata=lambda d: {"n": d[1]})
    [('y', 2)]
    """
    node = parse_filter(filter)
    if node is not None:
        node = flattened(node)  # recursion over at most limits.MAX_DEPTH levels
    if isinstance(docs, Mapping) and metadata is None:
        return [key for key, meta in docs.items() if node is None or _matches(node, meta)]
    get = metadata or _metadata_of
    return [doc for doc in docs if node is None or _matches(node, get(doc))]


def _metadata_of(doc: Any) -> Mapping[str, Any]:
    if isinstance(doc, Mapping):
        return doc
    meta = getattr(doc, "metadata", None)
    if isinstance(meta, Mapping):
        return meta
    raise TypeError(
        f"cannot find the metadata of {type(doc).__name__} ({doc!r}): pass metadata "
        "dicts, objects with a .metadata mapping, or select(..., metadata=lambda d: ...)"
    )


def _matches(node: Filter, metadata: Mapping[str, Any]) -> bool:
    if isinstance(node, Comparison):
        return _compare(node, _lookup(metadata, node.field))
    if isinstance(node, And):
        return all(_matches(child, metadata) for child in node.children)
    if isinstance(node, Or):
        return any(_matches(child, metadata) for child in node.children)
    if isinstance(node, Not):
        return not _matches(node.child, metadata)
    raise FilterSyntaxError(f"not a filter: {type(node).__name__} ({node!r})")


def _lookup(metadata: Mapping[str, Any], field: str) -> Any:
    """The value at a (dotted) field, as backends store it (:func:`_stored`);
    ``_MISSING`` for missing, ``None`` or ``[]``."""
    value: Any = metadata
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return _MISSING
        value = value.get(part)
        if value is None:
            return _MISSING
    if isinstance(value, (list, tuple)):
        return [_stored(item) for item in value] if value else _MISSING
    return _stored(value)


def _stored(value: Any) -> Any:
    """A scalar as every backend stores it (``polyvec.backends.values.plain_metadata``)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _compare(node: Comparison, value: Any) -> bool:
    op = node.op
    if op is Op.EXISTS:
        return (value is not _MISSING) is node.value
    if op is Op.IS_NULL:
        return (value is _MISSING) is node.value
    if op is Op.CONTAINS_ALL and not node.value:
        return True  # And([]) of no contains: true everywhere, as an empty And
    if value is _MISSING:
        return op is Op.NE or op is Op.NIN
    is_list = isinstance(value, (list, tuple))
    items: tuple[Any, ...] | list[Any] = value if is_list else (value,)
    if op is Op.EQ:
        return _any_equal(node.value, items)
    if op is Op.NE:
        return not _any_equal(node.value, items)
    if op is Op.IN:
        return any(_any_equal(wanted, items) for wanted in node.value)
    if op is Op.NIN:
        return not any(_any_equal(wanted, items) for wanted in node.value)
    if op is Op.CONTAINS:
        return is_list and _any_equal(node.value, items)
    if op is Op.CONTAINS_ANY:
        return is_list and any(_any_equal(wanted, items) for wanted in node.value)
    if op is Op.CONTAINS_ALL:
        return is_list and all(_any_equal(wanted, items) for wanted in node.value)
    if op is Op.TEXT_MATCH:
        return any(isinstance(item, str) and node.value in item for item in items)
    compare = _RANGE[op]
    bound = node.value
    if isinstance(bound, dt.datetime):
        return any(
            (when := _as_datetime(item)) is not None and compare(when, bound) for item in items
        )
    return any(_is_number(item) and compare(item, bound) for item in items)


def _any_equal(wanted: Scalar, items: Iterable[Any]) -> bool:
    return any(_equal(wanted, item) for item in items)


def _equal(wanted: Scalar, item: Any) -> bool:
    """Type-strict equality of a filter value and one metadata value."""
    if isinstance(wanted, bool):
        return isinstance(item, bool) and item == wanted
    if isinstance(wanted, (int, float)):
        return _is_number(item) and bool(item == wanted)
    if isinstance(wanted, str):
        return isinstance(item, str) and item == wanted
    when = _as_datetime(item)
    return when is not None and when == wanted


def _is_number(item: Any) -> bool:
    return isinstance(item, numbers.Real) and not isinstance(item, bool)


def _as_datetime(item: Any) -> dt.datetime | None:
    return parse_iso_datetime(item) if isinstance(item, str) else None

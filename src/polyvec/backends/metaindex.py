"""A typed, flattened index of metadata, for engines whose own filters mean something
other than polyvec's filters (Chroma, Milvus).

An engine's native comparisons differ from the reference evaluator
(:mod:`polyvec.filters.evaluate`) in the places that matter: ``$ne`` on a missing
field, ``1 == 1.0`` vs ``True == 1``, "any element" on lists, ISO dates compared as
strings, no ``not`` at all (milvus-lite). So the backends store, beside the user's
metadata (kept verbatim for the round trip), a small *shadow index* built from it, and
translate filters against that — with only membership tests and number comparisons,
whose meaning is the same on every engine:

* ``markers``: ``"k:<path>"`` for every present (non-null, non-empty-list) field,
  ``"n:<path>"`` when it holds at least one number, ``"d:<path>"`` one date;
* ``tokens[path]``: one typed token per value the field equals — ``"s:<str>"``,
  ``"n:<number>"`` (``3`` and ``3.0`` give ``"n:3"``), ``"b:1"``/``"b:0"``,
  ``"d:<µs since epoch>"`` for ISO-8601 strings — and, for a list, each element's
  token again prefixed with ``"L"`` (what ``contains`` tests);
* ``nmin``/``nmax`` (floats) and ``dmin``/``dmax`` (integer microseconds): the least
  and greatest number or date of a field, so "any element > x" is "max > x";
* ``texts[path]``: the field's strings, each between two ``"\x1f"`` separators, so that
  "some string element contains s" is "the joined text contains s" for any ``s``
  without a separator (what ``text_match`` tests, where the engine has substring search).

:func:`plan` turns a filter into negation-free form over those (De Morgan pushes
``Not`` to the leaves; a negated range becomes "no number there, or max <= x")::

    >>> from polyvec.filters import F
    >>> plan(F("page") != 3, "chroma")
    Token(path='page', token='n:3', present=False)
    >>> flatten({"tags": ["a", "b"], "n": 2}).tokens["tags"]
    ['Ls:a', 'Ls:b', 's:a', 's:b']

A backend then emits each node natively: ``Token(present=False)`` must be true where the field
is missing (Chroma ``$not_contains``, Milvus ``!=`` on a missing JSON key both are).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

from polyvec.backends.values import EXACT_FLOAT_INT, epoch_us, range_float
from polyvec.errors import UnsupportedFilterError
from polyvec.filters.ast import (
    And,
    Comparison,
    Filter,
    Not,
    Op,
    Or,
    flattened,
    parse_iso_datetime,
)
from polyvec.filters.limits import SHADOW_MAX_NESTING, SHADOW_MAX_TESTS, too_large
from polyvec.filters.rewrite import REWRITTEN, rewrite, text_match_unsupported

__all__ = [
    "FALSE",
    "TEXT_SEPARATOR",
    "TRUE",
    "AllOf",
    "AnyOf",
    "Bound",
    "Const",
    "Flat",
    "Marker",
    "Node",
    "Text",
    "Token",
    "count_tests",
    "dump_metadata",
    "emit",
    "flatten",
    "nesting",
    "plan",
    "value_token",
]

TEXT_SEPARATOR = "\x1f"
"""Separates the strings of one field in ``Flat.texts``."""
Stat = Literal["nmin", "nmax", "dmin", "dmax"]
RangeOp = Literal["gt", "gte", "lt", "lte"]


def dump_metadata(metadata: Mapping[str, Any]) -> str:
    """Compact JSON of plain metadata (see :func:`polyvec.backends.values.plain_metadata`)."""
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# -- tokens ---------------------------------------------------------------------------
def _number_token(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"n:{int(value)}"
    return f"n:{value!r}"


def value_token(value: Any) -> str | None:
    """The token of one filter value (``None`` for values no token can equal)."""
    if isinstance(value, bool):
        return "b:1" if value else "b:0"
    if isinstance(value, (int, float)):
        return _number_token(value)
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, dt.datetime):
        return f"d:{epoch_us(value)}"
    return None


def _item_tokens(item: Any) -> list[str]:
    """Every token one metadata value equals: itself, and its date for ISO strings."""
    if isinstance(item, (bool, int)) or (isinstance(item, float) and math.isfinite(item)):
        token = value_token(item)
        return [token] if token else []
    if isinstance(item, str):
        when = parse_iso_datetime(item)
        return ["s:" + item] if when is None else ["s:" + item, f"d:{epoch_us(when)}"]
    return []


@dataclass
class Flat:
    """The shadow index of one document's metadata."""

    markers: list[str] = field(default_factory=list)
    tokens: dict[str, list[str]] = field(default_factory=dict)
    nmin: dict[str, float] = field(default_factory=dict)
    nmax: dict[str, float] = field(default_factory=dict)
    dmin: dict[str, int] = field(default_factory=dict)
    dmax: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def _add_field(flat: Flat, path: str, value: Any) -> None:
    flat.markers.append("k:" + path)
    if isinstance(value, Mapping):
        _walk(flat, path + ".", value)
        return
    is_list = isinstance(value, (list, tuple))
    items = list(value) if is_list else [value]
    tokens: set[str] = set()
    numbers_: list[float] = []
    dates: list[int] = []
    strings = [item for item in items if isinstance(item, str)]
    if strings:
        flat.texts[path] = TEXT_SEPARATOR + TEXT_SEPARATOR.join(strings) + TEXT_SEPARATOR
    for item in items:
        item_tokens = _item_tokens(item)
        tokens.update(item_tokens)
        if is_list:
            tokens.update("L" + t for t in item_tokens)
        if isinstance(item, numbers.Real) and not isinstance(item, bool):
            numbers_.append(range_float(item))  # type: ignore[arg-type]
        elif isinstance(item, str) and (when := parse_iso_datetime(item)) is not None:
            dates.append(epoch_us(when))
    if tokens:
        flat.tokens[path] = sorted(tokens)
    if numbers_:
        flat.markers.append("n:" + path)
        flat.nmin[path], flat.nmax[path] = min(numbers_), max(numbers_)
    if dates:
        flat.markers.append("d:" + path)
        flat.dmin[path], flat.dmax[path] = min(dates), max(dates)


def _walk(flat: Flat, prefix: str, metadata: Mapping[str, Any]) -> None:
    for key, value in metadata.items():
        # a key with a dot (or an empty one) cannot be named by a filter path
        if not key or "." in key or value is None:
            continue
        if isinstance(value, (list, tuple)) and not value:
            continue  # an empty list is missing, as a null is
        _add_field(flat, prefix + key, value)


def flatten(metadata: Mapping[str, Any]) -> Flat:
    """The shadow index of plain metadata (the output of :func:`polyvec.backends.values.plain_metadata`)."""
    flat = Flat()
    _walk(flat, "", metadata)
    return flat


# -- filter plans -------------------------------------------------------------------------
@dataclass(frozen=True)
class Const:
    """Always true, or always false."""

    value: bool


TRUE = Const(True)
FALSE = Const(False)


@dataclass(frozen=True)
class Token:
    """``token`` is (``present``) or is not (``not present``) among ``path``'s tokens;
    the negative form is also true where ``path`` is missing."""

    path: str
    token: str
    present: bool = True


@dataclass(frozen=True)
class Marker:
    """The marker is (or is not) among the document's markers."""

    marker: str
    present: bool = True


@dataclass(frozen=True)
class Bound:
    """``stat[path] op value``; false where the document has no such statistic."""

    stat: Stat
    path: str
    op: RangeOp
    value: float | int


@dataclass(frozen=True)
class Text:
    """``path`` has a string holding ``text`` (only ever positive: a backend emits it
    as a substring test on ``Flat.texts``, or refuses it)."""

    path: str
    text: str


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


Node = Union[Const, Token, Marker, Bound, Text, AllOf, AnyOf]
"""A negation-free filter plan."""

_COMPLEMENT: dict[RangeOp, RangeOp] = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}


def _all(children: list[Node]) -> Node:
    kept: list[Node] = []
    for child in children:
        if child == FALSE:
            return FALSE
        if isinstance(child, AllOf):
            kept.extend(child.children)
        elif child != TRUE:
            kept.append(child)
    kept = list(dict.fromkeys(kept))
    return TRUE if not kept else kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def _any(children: list[Node]) -> Node:
    kept: list[Node] = []
    for child in children:
        if child == TRUE:
            return TRUE
        if isinstance(child, AnyOf):
            kept.extend(child.children)
        elif child != FALSE:
            kept.append(child)
    kept = list(dict.fromkeys(kept))
    return FALSE if not kept else kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def _bound_value(c: Comparison, backend: str) -> tuple[str, float | int]:
    value = c.value
    if isinstance(value, dt.datetime):
        return "d", epoch_us(value)
    if abs(value) > EXACT_FLOAT_INT:  # where range_float's shadow is exact
        raise UnsupportedFilterError(
            backend,
            c.op.value,
            f"the bound {value} is beyond ±2**53, where numbers compare as float64; "
            "use a smaller bound",
        )
    return "n", float(value)


def _leaf(c: Comparison, negated: bool, backend: str) -> Node:
    op, path = c.op, c.field
    if op is Op.TEXT_MATCH:
        if negated:
            raise text_match_unsupported(
                backend,
                f"{backend} cannot negate a substring test (text_match under not, or in "
                "a branch that De Morgan's laws negate)",
            )
        return Text(path, c.value)
    if op is Op.EXISTS:
        return Marker("k:" + path, c.value is not negated)
    if op in (Op.EQ, Op.NE, Op.CONTAINS):
        token = value_token(c.value)
        if token is None:  # pragma: no cover - the AST admits only scalar values
            raise UnsupportedFilterError(backend, op.value, f"value {c.value!r}")
        if op is Op.CONTAINS:
            token = "L" + token
        return Token(path, token, present=(op is Op.NE) is negated)
    if op in (Op.IN, Op.NIN):
        tokens = [t for t in map(value_token, c.value) if t is not None]
        present = (op is Op.NIN) is negated
        leaves: list[Node] = [Token(path, t, present) for t in dict.fromkeys(tokens)]
        return _any(leaves) if present else _all(leaves)
    kind, value = _bound_value(c, backend)
    rop: RangeOp = op.value  # type: ignore[assignment]
    if not negated:
        return Bound(_stat(kind, rop), path, rop, value)
    # not (any item > v)  <=>  no item of that kind, or max <= v  (and so on)
    return _any(
        [Marker(f"{kind}:{path}", False), Bound(_stat(kind, rop), path, _COMPLEMENT[rop], value)]
    )


def _stat(kind: str, op: RangeOp) -> Stat:
    return f"{kind}{'max' if op in ('gt', 'gte') else 'min'}"  # type: ignore[return-value]


def plan(filter: Filter | None, backend: str, negated: bool = False) -> Node:
    """The negation-free plan of ``filter`` (``TRUE`` for ``None``); ``backend`` names
    the backend in ``UnsupportedFilterError``."""
    if filter is None:
        return TRUE
    return _plan(flattened(filter), backend, negated)  # at most limits.MAX_DEPTH deep


def _plan(filter: Filter, backend: str, negated: bool) -> Node:
    if isinstance(filter, Comparison):
        if filter.op in REWRITTEN:
            return _plan(rewrite(filter), backend, negated)
        return _leaf(filter, negated, backend)
    if isinstance(filter, Not):
        return _plan(filter.child, backend, not negated)
    if isinstance(filter, (And, Or)):
        kids = [_plan(child, backend, negated) for child in filter.children]
        conjunctive = isinstance(filter, And) is not negated
        return _all(kids) if conjunctive else _any(kids)
    raise UnsupportedFilterError(backend, type(filter).__name__, "not a filter node")


# -- emitting a plan ---------------------------------------------------------------------
T = TypeVar("T")


def count_tests(node: Node) -> int:
    """The leaf tests of a plan (what :data:`~polyvec.filters.limits.SHADOW_MAX_TESTS`
    counts)."""
    if isinstance(node, (AllOf, AnyOf)):
        return sum(count_tests(child) for child in node.children)
    return 0 if isinstance(node, Const) else 1


def emit(
    node: Node,
    backend: str,
    leaf: Callable[[Node], T],
    join: Callable[[bool, list[T]], T],
    fanout: int,
) -> T:
    """Write a plan (not a ``Const``) in a backend's syntax: ``leaf`` writes a leaf,
    ``join(conjunctive, parts)`` an and/or of two to ``fanout`` parts. A longer list is
    joined in groups of ``fanout``, then the groups likewise, so no engine meets a
    chain it nests as deep as the list is long (Chroma's SQLite refuses past ~1,000,
    milvus-lite past ~45). A plan with more tests than ``SHADOW_MAX_TESTS`` or more
    levels (groups included) than ``SHADOW_MAX_NESTING`` is refused before the
    engine sees it."""
    found = count_tests(node)
    if found > SHADOW_MAX_TESTS:
        raise too_large(backend, "value tests", found, SHADOW_MAX_TESTS, "SHADOW_MAX_TESTS")
    out, levels = _emit(node, leaf, join, fanout)
    if levels > SHADOW_MAX_NESTING:
        raise too_large(
            backend, "nested and/or levels", levels, SHADOW_MAX_NESTING, "SHADOW_MAX_NESTING"
        )
    return out


def nesting(node: Node, fanout: int) -> int:
    """The and/or levels :func:`emit` writes for ``node`` with ``fanout`` (groups
    included): what ``SHADOW_MAX_NESTING`` bounds."""
    return _emit(node, lambda _: 0, lambda _, parts: 0, fanout)[1]


def _emit(
    node: Node, leaf: Callable[[Node], T], join: Callable[[bool, list[T]], T], fanout: int
) -> tuple[T, int]:
    if not isinstance(node, (AllOf, AnyOf)):
        return leaf(node), 0
    conjunctive = isinstance(node, AllOf)
    parts = [_emit(child, leaf, join, fanout) for child in node.children]
    while len(parts) > 1:
        chunks = [parts[i : i + fanout] for i in range(0, len(parts), fanout)]
        parts = [
            (join(conjunctive, [p for p, _ in chunk]), 1 + max(d for _, d in chunk))
            if len(chunk) > 1
            else chunk[0]
            for chunk in chunks
        ]
    return parts[0]

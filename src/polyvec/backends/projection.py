"""Typed metadata projection: how polyvec filters run exactly on engines with flat,
weakly typed metadata (Pinecone) or fixed-type properties (Weaviate).

Such engines cannot hold polyvec's metadata as it is (nested dicts, lists of numbers,
mixed lists, nulls) and their own filter operators differ from polyvec's in the corners
(lists, missing keys, ``1 == True``, dates). So the user's metadata is kept verbatim in
one JSON string (for the round trip) and, beside it, **projected**: every reachable
field path ``P`` gets a few *facets*, each of one type, holding exactly what a polyvec
operator needs::

    >>> project({"page": 3, "tags": ["a", "b"], "when": "2024-05-01"})["page"]
    {'e': True, 'n': ['3'], 'min': 3.0, 'max': 3.0}

=========  =========================================================================
facet      holds (omitted when empty)
=========  =========================================================================
``e``      ``True``: the value is present (not missing, ``None`` or ``[]``)
``l``      ``True``: the value is a non-empty list
``s``      the string elements (a scalar is a list of one)
``n``      the numbers (not bools), canonical text: ``3``, ``3.0`` → ``"3"``
``b``      the bools as ``"true"`` / ``"false"``
``d``      the ISO-8601 date strings, as the UTC instant ``2024-05-01T00:00:00.000000Z``
``min``    the smallest number (float); ``max`` the largest
``dmin``   the earliest date in µs since 1970 (float); ``dmax`` the latest
=========  =========================================================================

A filter then translates (:func:`to_ir`) into a small boolean algebra over these facets
in negation normal form: ``eq``/``in``/``contains`` test the list facets (any element),
ranges test ``min``/``max`` (any element ``> x`` iff the largest is), and every negated
leaf is defined as *true when the facet is missing*, so ``ne``/``nin``/``not`` mean
exactly what the reference evaluator says. Each backend writes the IR with its own
primitives (``filters.py`` of pinecone and weaviate).

Paths: a dict is descended (``"a.b"``); keys containing ``"."`` cannot be addressed by a
filter and are not projected, nor are keys containing a backend's reserved characters
(a filter naming one is refused). Range bounds must lie within ±2**53 (numbers) and
±2**53 µs of 1970 (years 1685–2255), where float64 comparisons stay exact.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from polyvec.backends.values import canon_number, epoch_us, range_float
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
from polyvec.filters.rewrite import REWRITTEN, rewrite, text_match_unsupported

__all__ = [
    "IR",
    "AllOf",
    "AnyOf",
    "Cmp",
    "Const",
    "Has",
    "InSet",
    "canon_instant",
    "canon_number",
    "facet_values",
    "project",
    "stored_document",
    "to_ir",
]

EXACT = 2**53
_NEGATE = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}


# -- canonical forms ------------------------------------------------------------------
def canon_instant(value: dt.datetime) -> str:
    """An aware datetime as one fixed-width UTC string (same instant, same text)."""
    v = value.astimezone(dt.timezone.utc)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
        f"{v.second:02d}.{v.microsecond:06d}Z"
    )


# -- projection -----------------------------------------------------------------------
def _addressable(key: object, reserved: str) -> bool:
    return (
        isinstance(key, str)
        and key != ""
        and "." not in key
        and not any(c in key for c in reserved)
    )


def facet_values(value: Any) -> dict[str, Any]:
    """The facets of one present value (not ``None``, not ``[]``)."""
    facets: dict[str, Any] = {"e": True}
    if isinstance(value, Mapping):
        return facets
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list):
        facets["l"] = True
    strings: list[str] = []
    numbers: list[int | float] = []
    bools: list[str] = []
    dates: list[dt.datetime] = []
    for item in items:
        if isinstance(item, bool):
            bools.append("true" if item else "false")
        elif isinstance(item, (int, float)):
            if isinstance(item, int) or math.isfinite(item):
                numbers.append(item)
        elif isinstance(item, str):
            strings.append(item)
            when = parse_iso_datetime(item)
            if when is not None:
                dates.append(when)
    if strings:
        facets["s"] = list(dict.fromkeys(strings))
    if numbers:
        facets["n"] = list(dict.fromkeys(canon_number(x) for x in numbers))
        floats = [range_float(x) for x in numbers]
        facets["min"], facets["max"] = min(floats), max(floats)
    if bools:
        facets["b"] = list(dict.fromkeys(bools))
    if dates:
        facets["d"] = list(dict.fromkeys(canon_instant(w) for w in dates))
        stamps = [float(epoch_us(w)) for w in dates]
        facets["dmin"], facets["dmax"] = min(stamps), max(stamps)
    return facets


def project(metadata: Mapping[str, Any], reserved: str = "") -> dict[str, dict[str, Any]]:
    """``{field path: facets}`` for JSON metadata (see the module docstring).

    ``reserved``: characters a backend uses in its own key names; keys containing one
    are not projected (filters naming them are refused by :func:`to_ir`).
    """
    out: dict[str, dict[str, Any]] = {}

    def visit(path: str, value: Any) -> None:
        if value is None or (isinstance(value, list) and not value):
            return
        out[path] = facet_values(value)
        if isinstance(value, Mapping):
            for key, item in value.items():
                if _addressable(key, reserved):
                    visit(f"{path}.{key}", item)

    for key, value in metadata.items():
        if _addressable(key, reserved):
            visit(key, value)
    return out


def stored_document(raw: object) -> dict[str, Any] | None:
    """The verbatim JSON kept beside the projection, ``{"t": text, "m": metadata, …}``,
    read back; ``None`` when ``raw`` is not such JSON (a record polyvec did not write).

    >>> stored_document('{"t": "hi", "m": {"a": 1}}'), stored_document("plain")
    ({'t': 'hi', 'm': {'a': 1}}, None)
    """
    if not isinstance(raw, str):
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("m"), dict) else None


# -- the filter IR --------------------------------------------------------------------
@dataclass(frozen=True)
class Const:
    """Always ``value`` (only ever the whole filter: constants are folded away)."""

    value: bool


@dataclass(frozen=True)
class Has:
    """Facet ``facet`` of ``path`` is present (``negated``: it is absent)."""

    path: str
    facet: str
    negated: bool = False


@dataclass(frozen=True)
class InSet:
    """Some element of the list facet is one of ``values`` (``negated``: none is, or the
    facet is absent)."""

    path: str
    facet: str
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Cmp:
    """The number facet ``op`` ``value`` (``op`` in gt/gte/lt/lte; ``negated``: it does
    not hold, or the facet is absent)."""

    path: str
    facet: str
    op: str
    value: float
    negated: bool = False

    @property
    def negated_op(self) -> str:
        """The operator that holds exactly when ``op`` does not (on a present facet)."""
        return _NEGATE[self.op]


@dataclass(frozen=True)
class AllOf:
    children: tuple[IR, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[IR, ...]


IR = Union[Const, Has, InSet, Cmp, AllOf, AnyOf]
"""A translated filter: leaves over facets under AllOf/AnyOf, negations at the leaves."""


def _all(children: list[IR]) -> IR:
    kept: list[IR] = []
    for child in children:
        if isinstance(child, Const):
            if not child.value:
                return child
            continue
        kept.extend(child.children if isinstance(child, AllOf) else (child,))
    if not kept:
        return Const(True)
    return kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def _any(children: list[IR]) -> IR:
    kept: list[IR] = []
    for child in children:
        if isinstance(child, Const):
            if child.value:
                return child
            continue
        kept.extend(child.children if isinstance(child, AnyOf) else (child,))
    if not kept:
        return Const(False)
    return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


class _Translator:
    def __init__(self, backend: str, reserved: str) -> None:
        self.backend = backend
        self.reserved = reserved

    def node(self, node: Filter, neg: bool) -> IR:
        if isinstance(node, Comparison):
            return self.comparison(node, neg)
        if isinstance(node, (And, Or)):
            kids = [self.node(child, neg) for child in node.children]
            conjunction = isinstance(node, And) != neg  # De Morgan
            return _all(kids) if conjunction else _any(kids)
        if isinstance(node, Not):
            return self.node(node.child, not neg)
        raise UnsupportedFilterError(self.backend, type(node).__name__, "not a filter node")

    def path(self, c: Comparison) -> str:
        for segment in c.field.split("."):
            bad = [ch for ch in self.reserved if ch in segment]
            if bad:
                raise UnsupportedFilterError(
                    self.backend,
                    c.op.value,
                    f"field {c.field!r} contains {bad[0]!r}, which {self.backend} metadata "
                    "keys reserve for polyvec's own keys; rename that metadata key",
                )
        return c.field

    def comparison(self, c: Comparison, neg: bool) -> IR:
        path, op = self.path(c), c.op
        if op in REWRITTEN:
            return self.node(rewrite(c), neg)
        if op is Op.TEXT_MATCH:
            raise text_match_unsupported(self.backend)
        if op in (Op.EQ, Op.NE):
            facet, text = self.scalar(c, c.value)
            return InSet(path, facet, (text,), neg != (op is Op.NE))
        if op in (Op.IN, Op.NIN):
            negated = neg != (op is Op.NIN)
            groups: dict[str, list[str]] = {}
            for value in c.value:
                facet, text = self.scalar(c, value)
                groups.setdefault(facet, [])
                if text not in groups[facet]:
                    groups[facet].append(text)
            leaves: list[IR] = [InSet(path, f, tuple(vs), negated) for f, vs in groups.items()]
            return _all(leaves) if negated else _any(leaves)
        if op is Op.EXISTS:
            return Has(path, "e", negated=c.value == neg)
        if op is Op.CONTAINS:
            facet, text = self.scalar(c, c.value)
            parts: list[IR] = [Has(path, "l", neg), InSet(path, facet, (text,), neg)]
            return _any(parts) if neg else _all(parts)
        return self.range(path, c, neg)

    def scalar(self, c: Comparison, value: Any) -> tuple[str, str]:
        if isinstance(value, bool):
            return "b", "true" if value else "false"
        if isinstance(value, (int, float)):
            return "n", canon_number(value)
        if isinstance(value, str):
            return "s", value
        if isinstance(value, dt.datetime):
            return "d", canon_instant(value)
        raise UnsupportedFilterError(self.backend, c.op.value, f"value {value!r}")

    def range(self, path: str, c: Comparison, neg: bool) -> IR:
        upper = c.op in (Op.GT, Op.GTE)  # any element > x  iff  the largest is
        value = c.value
        if isinstance(value, dt.datetime):
            bound: int | float = epoch_us(value)
            facet, what = ("dmax" if upper else "dmin"), "date"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            bound, facet, what = value, ("max" if upper else "min"), "number"
        else:
            raise UnsupportedFilterError(self.backend, c.op.value, f"value {value!r}")
        if not -EXACT < bound < EXACT:
            raise UnsupportedFilterError(
                self.backend,
                c.op.value,
                f"the {what} bound {value!r} is beyond ±2**53"
                + (" µs of 1970 (years 1685-2255)" if what == "date" else "")
                + f", where {self.backend}'s float64 comparisons are not exact",
            )
        return Cmp(path, facet, c.op.value, float(bound), neg)


def to_ir(filter: Filter | None, *, backend: str, reserved: str = "") -> IR:
    """Translate a polyvec filter into the facet IR (``Const(True)`` for ``None``).

    Raises ``UnsupportedFilterError`` for fields containing a ``reserved`` character
    and for range bounds where float64 is not exact.
    """
    if filter is None:
        return Const(True)
    # the merged tree is at most limits.MAX_DEPTH deep, whatever the raw nesting
    return _Translator(backend, reserved).node(flattened(filter), False)

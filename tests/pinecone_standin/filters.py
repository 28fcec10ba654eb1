"""Pinecone's metadata filter language, as Pinecone documents it — evaluated by the
**stand-in** server, independently of polyvec's reference evaluator, so that polyvec's
translation (``polyvec.backends.pinecone.filters``) is really tested.

Semantics (docs.pinecone.io, "Filter by metadata" / "Understanding metadata"):

* metadata values are strings, numbers (stored as float64), booleans or lists of
  strings; a filter dict ANDs its keys; ``{"f": v}`` means ``{"f": {"$eq": v}}``;
* ``$eq``/``$ne`` take a number, string or boolean; ``$gt``/``$gte``/``$lt``/``$lte`` a
  number; ``$in``/``$nin`` a list of strings or numbers; ``$exists`` a boolean;
  ``$and``/``$or`` a list of filters;
* comparisons are type-strict (``3`` never equals ``"3"``, ``true`` never equals ``1``);
* on a list of strings, ``$eq``/``$in`` match if any element does; ``$ne``/``$nin``
  (MongoDB's meaning, which Pinecone's language follows) match if no element does;
* on a missing key only ``$exists: false`` matches: ``$ne``/``$nin`` do not match records
  without the key (Pinecone's behaviour since 2024). ``ne_matches_missing=True`` gives
  the MongoDB behaviour instead, so tests can show that polyvec's translation is right
  under both.

Malformed filters raise :class:`FilterSyntax` (the server answers 400).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["FilterSyntax", "matches", "validate"]

_RANGE = {"$gt", "$gte", "$lt", "$lte"}
_OPS = {"$eq", "$ne", "$in", "$nin", "$exists", *_RANGE}


class FilterSyntax(ValueError):
    """A filter Pinecone would refuse with 400 Bad Request."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_operand(op: str, value: Any) -> None:
    if op in ("$eq", "$ne"):
        ok = isinstance(value, (str, bool)) or (_is_number(value) and math.isfinite(value))
    elif op in _RANGE:
        ok = _is_number(value) and math.isfinite(value)
    elif op in ("$in", "$nin"):
        ok = (
            isinstance(value, list)
            and len(value) > 0
            and all(isinstance(v, str) or _is_number(v) for v in value)
        )
    else:  # $exists
        ok = isinstance(value, bool)
    if not ok:
        raise FilterSyntax(f"invalid value for {op}: {value!r}")


def validate(filter: Any) -> None:
    """Raise :class:`FilterSyntax` unless ``filter`` is a well-formed Pinecone filter."""
    if not isinstance(filter, Mapping):
        raise FilterSyntax(f"a filter must be an object, got {filter!r}")
    for key, value in filter.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise FilterSyntax(f"{key} takes a non-empty list of filters")
            for item in value:
                validate(item)
        elif key.startswith("$"):
            raise FilterSyntax(f"unknown operator {key}")
        elif isinstance(value, Mapping):
            if not value:
                raise FilterSyntax(f"empty condition on {key!r}")
            for op, operand in value.items():
                if op not in _OPS:
                    raise FilterSyntax(f"unknown operator {op} on {key!r}")
                _check_operand(op, operand)
        else:
            _check_operand("$eq", value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return isinstance(a, str) and isinstance(b, str) and a == b


def _condition(op: str, operand: Any, stored: Any, ne_matches_missing: bool) -> bool:
    if op == "$exists":
        return (stored is not None) is operand
    if stored is None:
        return ne_matches_missing and op in ("$ne", "$nin")
    items = stored if isinstance(stored, list) else [stored]
    if op == "$eq":
        return any(_equal(operand, x) for x in items)
    if op == "$ne":
        return not any(_equal(operand, x) for x in items)
    if op == "$in":
        return any(_equal(v, x) for v in operand for x in items)
    if op == "$nin":
        return not any(_equal(v, x) for v in operand for x in items)
    if isinstance(stored, list) or not _is_number(stored):
        return False
    value = float(stored)
    return {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[op]


def matches(
    filter: Mapping[str, Any], metadata: Mapping[str, Any], *, ne_matches_missing: bool = False
) -> bool:
    """Whether a record's ``metadata`` satisfies a (validated) Pinecone ``filter``."""
    for key, value in filter.items():
        if key == "$and":
            ok = all(matches(f, metadata, ne_matches_missing=ne_matches_missing) for f in value)
        elif key == "$or":
            ok = any(matches(f, metadata, ne_matches_missing=ne_matches_missing) for f in value)
        else:
            conditions = value if isinstance(value, Mapping) else {"$eq": value}
            stored = metadata.get(key)
            ok = all(
                _condition(op, operand, stored, ne_matches_missing)
                for op, operand in conditions.items()
            )
        if not ok:
            return False
    return True

"""polyvec filter AST → Pinecone metadata filter dict, exactly per the reference evaluator.

Filters run on the typed projection of the metadata
(:mod:`polyvec.backends.projection`): a field path ``P`` is stored as the keys ``P#e``,
``P#l``, ``P#s``, ``P#n``, ``P#b``, ``P#d`` (lists of strings), ``P#min``, ``P#max``,
``P#dmin``, ``P#dmax`` (numbers)::

    >>> from polyvec.filters import F
    >>> to_pinecone_filter(F("page") >= 3)
    {'page#max': {'$gte': 3.0}}
    >>> to_pinecone_filter(F("lang") != "en")
    {'$or': [{'lang#s': {'$exists': False}}, {'lang#s': {'$nin': ['en']}}]}

Only Pinecone operators whose meaning is unambiguous are used: ``$eq``/``$in`` on a
list of strings (any element), ``$nin`` on a list of strings (no element),
``$gt``/``$gte``/``$lt``/``$lte`` on a number, ``$exists``, ``$and``, ``$or``.
Every negation is written with an explicit ``$exists: false`` branch, so the result
does not depend on whether Pinecone's ``$ne``/``$nin`` match a missing key (they do
not, since 2024). ``None`` (no filter) and a filter that is always true both give
``None``; a filter that is never true gives ``{"#none": {"$exists": True}}``
(no record has that key).
"""

from __future__ import annotations

from typing import Any

from polyvec.backends.projection import (
    IR,
    AllOf,
    AnyOf,
    Cmp,
    Const,
    Has,
    InSet,
    to_ir,
)
from polyvec.filters.ast import Filter

__all__ = ["NEVER", "RESERVED", "facet_key", "from_ir", "to_pinecone_filter"]

RESERVED = "#"
"""The character polyvec's Pinecone keys use (``P#s``, ``#doc``): metadata keys that
contain it are kept in the document but cannot be filtered on."""

NEVER: dict[str, Any] = {"#none": {"$exists": True}}
"""A filter no record matches (polyvec never writes the key ``#none``)."""


def facet_key(path: str, facet: str) -> str:
    """The Pinecone metadata key of one facet of a field path: ``a.b#s``."""
    return f"{path}{RESERVED}{facet}"


def _missing_or(key: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"$or": [{key: {"$exists": False}}, {key: condition}]}


def from_ir(ir: IR) -> dict[str, Any] | None:
    """The Pinecone filter dict for a translated filter (``None``: matches everything)."""
    if isinstance(ir, Const):
        return None if ir.value else dict(NEVER)
    return _emit(ir)


def _emit(ir: IR) -> dict[str, Any]:
    if isinstance(ir, AllOf):
        return {"$and": [_emit(c) for c in ir.children]}
    if isinstance(ir, AnyOf):
        return {"$or": [_emit(c) for c in ir.children]}
    if isinstance(ir, Has):
        return {facet_key(ir.path, ir.facet): {"$exists": not ir.negated}}
    if isinstance(ir, InSet):
        key = facet_key(ir.path, ir.facet)
        values = list(ir.values)
        if ir.negated:
            return _missing_or(key, {"$nin": values})
        return {key: {"$eq": values[0]} if len(values) == 1 else {"$in": values}}
    if isinstance(ir, Cmp):
        key = facet_key(ir.path, ir.facet)
        if ir.negated:
            return _missing_or(key, {f"${ir.negated_op}": ir.value})
        return {key: {f"${ir.op}": ir.value}}
    raise AssertionError(f"constant {ir!r} inside a filter: constants are folded")


def to_pinecone_filter(filter: Filter | None) -> dict[str, Any] | None:
    """Pinecone's filter dict for a polyvec filter; ``None`` when it matches everything.

    Raises ``UnsupportedFilterError`` for a field containing ``#`` and for range bounds
    beyond ±2**53 (see :mod:`polyvec.backends.projection`).
    """
    return from_ir(to_ir(filter, backend="pinecone", reserved=RESERVED))

"""polyvec filter AST → ``weaviate.classes.query.Filter``, exactly per the reference
evaluator.

Filters run on the typed projection of the metadata (:mod:`.schema`); each IR leaf of
:mod:`polyvec.backends.projection` is written with one Weaviate primitive::

    >>> from polyvec.filters import F
    >>> f = to_weaviate_filter(F("lang") == "en")
    >>> (f.target, f.operator.value, f.value)
    ('m_lang_7a2f854975_s', 'ContainsAny', ['|en|'])

=====================  ===============================================================
IR leaf                Weaviate
=====================  ===============================================================
facet present          ``equal(True)`` on the boolean facet (only ``True`` is written)
facet absent           ``Filter.not_(equal(True))``
some element in set    ``contains_any(values)`` on a ``text[]`` facet
none in set / absent   ``Filter.not_(contains_any(values))``
number compare         ``greater_than`` … ``less_or_equal`` on a ``number`` facet
negated compare        ``Filter.not_(compare)`` (true where the facet is null)
=====================  ===============================================================

``Not`` is Weaviate's complement over all objects, so a negated leaf is true where the
property is null — also on objects written before the property existed — as the
evaluator wants; no leaf relies on Weaviate's null-state index. A property no object has ever had does not
exist in Weaviate's schema (filtering on it is an error there): pass ``known`` (the
collection's property names) and such leaves become the constant they are on every
object. The result is a ``Filter``, or ``True`` (no filter) / ``False`` (nothing
matches). Refused (``UnsupportedFilterError``): range bounds beyond ±2**53.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Union

from polyvec.backends.projection import IR, AllOf, AnyOf, Cmp, Const, Has, InSet, to_ir
from polyvec.backends.weaviate.schema import facet_property, wrap
from polyvec.filters.ast import Filter

__all__ = ["WeaviateFilter", "from_ir", "to_weaviate_filter"]

WeaviateFilter = Union[Any, bool]
"""A ``weaviate`` filter object, or ``True`` (everything) / ``False`` (nothing)."""


def _wf() -> Any:
    from weaviate.classes.query import Filter as WF

    return WF


def _leaf(ir: Has | InSet | Cmp, known: Container[str] | None) -> WeaviateFilter:
    prop = facet_property(ir.path, ir.facet)
    if known is not None and prop not in known:
        return ir.negated  # the facet is absent on every object
    by = _wf().by_property(prop)
    if isinstance(ir, Has):
        test = by.equal(True)
        return _wf().not_(test) if ir.negated else test
    if isinstance(ir, InSet):
        values = [wrap(v) for v in ir.values] if ir.facet == "s" else list(ir.values)
        test = by.contains_any(values)
    else:
        method = {
            "gt": by.greater_than,
            "gte": by.greater_or_equal,
            "lt": by.less_than,
            "lte": by.less_or_equal,
        }[ir.op]
        test = method(ir.value)
    return _wf().not_(test) if ir.negated else test


def _combine(parts: list[WeaviateFilter], conjunction: bool) -> WeaviateFilter:
    kept = []
    for part in parts:
        if part is True or part is False:
            if part is not conjunction:  # False in an AND, True in an OR decides it
                return part
            continue
        kept.append(part)
    if not kept:
        return conjunction
    if len(kept) == 1:
        return kept[0]
    return _wf().all_of(kept) if conjunction else _wf().any_of(kept)


def from_ir(ir: IR, known: Container[str] | None = None) -> WeaviateFilter:
    """The Weaviate filter for a translated filter (see the module docstring)."""
    if isinstance(ir, Const):
        return ir.value
    if isinstance(ir, (AllOf, AnyOf)):
        return _combine([from_ir(c, known) for c in ir.children], isinstance(ir, AllOf))
    return _leaf(ir, known)


def to_weaviate_filter(
    filter: Filter | None, known: Container[str] | None = None
) -> WeaviateFilter:
    """Weaviate's filter for a polyvec filter: a ``Filter`` object, ``True`` when it
    matches everything, ``False`` when it matches nothing."""
    return from_ir(to_ir(filter, backend="weaviate"), known)

"""LlamaIndex ``MetadataFilters`` to polyvec's filter AST, every operator accounted for.

Import it from :mod:`polyvec.integrations.llama_index`. Each ``FilterOperator`` is
translated exactly, or refused with :class:`~polyvec.errors.FilterSyntaxError`; none is
ever ignored or widened:

==========================  =====================================================
LlamaIndex                  polyvec
==========================  =====================================================
``==  !=``                  ``F(k) == v``, ``F(k) != v`` (``!=`` holds on a missing key)
``>  >=  <  <=``            ``F(k) > v`` … (numbers, or ISO-8601 dates)
``in  nin``                 ``F(k).is_in(vs)``, ``F(k).not_in(vs)``
``contains``                ``F(k).contains(v)`` (a list field holds ``v``)
``any``                     ``F(k).contains(v1) | F(k).contains(v2) | …``
``all``                     ``F(k).contains(v1) & F(k).contains(v2) & …``
``is_empty``                ``~F(k).exists() | (F(k) == "")`` (missing, null, [] or "")
``text_match(_insensitive)`` refused: no portable substring match
``and  or``                 ``And``, ``Or`` (nested ``MetadataFilters`` too)
``not``                     ``Not(Or(...))``: none of the filters holds
==========================  =====================================================
"""

from __future__ import annotations

from typing import Any

from polyvec.errors import FilterSyntaxError, FilterValueError, MissingDependencyError

try:
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "llama-index-core", "llamaindex", "the LlamaIndex integration"
    ) from exc

from polyvec.filters.ast import And, Comparison, F, Filter, Not, Op, Or

__all__ = ["metadata_filters_to_ast"]

_DIRECT: dict[str, Op] = {
    FilterOperator.EQ: Op.EQ,
    FilterOperator.NE: Op.NE,
    FilterOperator.GT: Op.GT,
    FilterOperator.GTE: Op.GTE,
    FilterOperator.LT: Op.LT,
    FilterOperator.LTE: Op.LTE,
    FilterOperator.IN: Op.IN,
    FilterOperator.NIN: Op.NIN,
    FilterOperator.CONTAINS: Op.CONTAINS,
}


def _values(f: MetadataFilter) -> list[Any]:
    if not isinstance(f.value, list):
        raise FilterValueError(
            f"filter on {f.key!r}: the {f.operator.value!r} operator takes a list of values, "
            f"got {f.value!r}"
        )
    return list(f.value)


def _one(f: MetadataFilter) -> Filter:
    op = _DIRECT.get(f.operator)
    if op is not None:
        return Comparison(f.key, op, f.value)
    if f.operator == FilterOperator.ANY:
        return Or([F(f.key).contains(v) for v in _values(f)])
    if f.operator == FilterOperator.ALL:
        return And([F(f.key).contains(v) for v in _values(f)])
    if f.operator == FilterOperator.IS_EMPTY:
        return Or([F(f.key).exists(False), F(f.key) == ""])
    raise FilterSyntaxError(
        f"the LlamaIndex filter operator {f.operator.value!r} on {f.key!r} has no equivalent "
        "in polyvec's portable filter language (substring matching differs per engine): "
        "filter on exact values (==, in, contains) instead"
    )


def _tree(filters: MetadataFilters) -> Filter:
    parts = [_tree(f) if isinstance(f, MetadataFilters) else _one(f) for f in filters.filters]
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else And(parts)
    if condition == FilterCondition.OR:
        return parts[0] if len(parts) == 1 else Or(parts)
    if condition == FilterCondition.NOT:
        return Not(parts[0] if len(parts) == 1 else Or(parts))
    raise FilterSyntaxError(f"unknown LlamaIndex filter condition {condition!r}")


def metadata_filters_to_ast(filters: MetadataFilters | None) -> Filter | None:
    """LlamaIndex ``MetadataFilters`` as a polyvec filter (``None`` when there are none).

    >>> from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
    >>> metadata_filters_to_ast(MetadataFilters(filters=[
    ...     MetadataFilter(key="year", value=2020, operator=">=")]))
    Comparison(field='year', op=<Op.GTE: 'gte'>, value=2020)
    """
    if filters is None:
        return None
    tree = _tree(filters)
    return None if isinstance(tree, And) and not tree.children else tree

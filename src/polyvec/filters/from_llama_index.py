"""LlamaIndex ``MetadataFilters`` to polyvec's filter AST, every operator accounted for.

    >>> from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
    >>> from_llama_index(MetadataFilters(filters=[
    ...     MetadataFilter(key="tags", value=["a", "b"], operator="any")]))
    Comparison(field='tags', op=<Op.CONTAINS_ANY: 'contains_any'>, value=('a', 'b'))

Each ``FilterOperator`` is translated, or refused with a typed error; none is ever
ignored:

==========================  =====================================================
LlamaIndex                  polyvec
==========================  =====================================================
``==  !=``                  ``F(k) == v``, ``F(k) != v`` (``!=`` holds on a missing key)
``>  >=  <  <=``            ``F(k) > v`` … (numbers, or ISO-8601 dates)
``in  nin``                 ``F(k).is_in(vs)``, ``F(k).not_in(vs)``
``contains``                ``F(k).contains(v)`` (a list field holds ``v``)
``any``                     ``F(k).contains_any(vs)``
``all``                     ``F(k).contains_all(vs)`` (an empty list is refused)
``text_match``              ``F(k).text_match(s)`` (case-sensitive substring)
``text_match_insensitive``  refused (``FilterSyntaxError``): not portable
``is_empty``                ``F(k).is_null()``: missing, null or ``[]``
``and  or``                 ``And``, ``Or`` (nested ``MetadataFilters`` too)
``not``                     ``Not(Or(...))``: none of the filters holds
==========================  =====================================================

``is_empty`` is LlamaIndex's documented meaning ("not exist or empty (null or empty
array)"), which its Qdrant store also runs. A key with dots (``file.name``) is a nested
path, as in LlamaIndex's Qdrant store; :class:`polyvec.integrations.llama_index.PolyvecVectorStore`
stores a node's dotted metadata key nested, so a filter on that key finds it.

Where LlamaIndex's in-memory ``SimpleVectorStore`` answers otherwise (each listed in
docs/filters.md and asserted by a randomized comparison in the tests):

* ``==``, ``!=``, ``in``, ``nin`` on a list field: polyvec tests each element (as Qdrant
  does), ``SimpleVectorStore`` the whole list (so ``==`` never holds there);
* a bool never equals a number (``SimpleVectorStore``: ``True == 1``, ``True > 0``);
* ``contains``, ``any``, ``all`` on a string field: false in polyvec, a substring test in
  ``SimpleVectorStore`` (use ``text_match`` for substrings);
* ``is_empty`` on ``""``: not empty (the documented meaning), empty in ``SimpleVectorStore``;
* ranges on strings: polyvec compares ISO-8601 dates as instants (other strings never
  match), ``SimpleVectorStore`` compares any two strings by code point;
* where ``SimpleVectorStore`` raises ``TypeError`` (a range or ``text_match`` on a list,
  a range between a number and a string) polyvec answers by its own rules.

Requires ``pip install 'polyvec[llamaindex]'`` (the framework is imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from polyvec.errors import FilterSyntaxError, FilterValueError, MissingDependencyError
from polyvec.filters.ast import SYMBOL_OPS, And, Comparison, F, Filter, Not, Op, Or

if TYPE_CHECKING:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

__all__ = ["from_llama_index"]

_OPS: dict[str, Op] = {
    **SYMBOL_OPS,
    "nin": Op.NIN,
    "contains": Op.CONTAINS,
    "any": Op.CONTAINS_ANY,
    "all": Op.CONTAINS_ALL,
    "text_match": Op.TEXT_MATCH,
}
"""``FilterOperator`` values with a one-to-one polyvec operator."""


def _types() -> Any:
    try:
        from llama_index.core.vector_stores import types
    except ImportError as exc:
        raise MissingDependencyError(
            "llama-index-core", "llamaindex", "LlamaIndex filters"
        ) from exc
    return types


def _one(f: MetadataFilter) -> Filter:
    operator = str(getattr(f.operator, "value", f.operator))
    op = _OPS.get(operator)
    if op is not None:
        if op.takes_list and not isinstance(f.value, (list, tuple)):
            raise FilterValueError(
                f"filter on {f.key!r}: the LlamaIndex operator {operator!r} takes a list "
                f"of values, got {f.value!r}: write value=[{f.value!r}]"
            )
        if op is Op.CONTAINS_ALL and not f.value:
            raise FilterValueError(
                f"filter on {f.key!r}: the LlamaIndex operator 'all' with no values holds "
                "on every document whose key is not null in LlamaIndex (an empty list "
                "included), which polyvec cannot tell from a missing key: drop the "
                "condition, or test the key with 'is_empty'"
            )
        return Comparison(f.key, op, f.value)
    if operator == "is_empty":
        return F(f.key).is_null()
    if operator == "text_match_insensitive":
        raise FilterSyntaxError(
            f"the LlamaIndex filter operator 'text_match_insensitive' on {f.key!r} has no "
            "exact equivalent in polyvec's portable filter language (engines fold case "
            "differently): use 'text_match' (case-sensitive), or store a lower-cased copy "
            "of the field and text_match a lower-cased value"
        )
    raise FilterSyntaxError(
        f"unknown LlamaIndex filter operator {operator!r} on {f.key!r}; known: "
        f"{', '.join([*_OPS, 'is_empty'])}"
    )


def _tree(filters: MetadataFilters, types: Any) -> Filter:
    parts: list[Filter] = []
    for f in filters.filters:
        if isinstance(f, types.MetadataFilters):
            parts.append(_tree(f, types))
        else:
            parts.append(_one(cast("MetadataFilter", f)))
    condition = str(getattr(filters.condition, "value", filters.condition) or "and")
    if condition == "and":
        return parts[0] if len(parts) == 1 else And(parts)
    if condition == "or":
        return parts[0] if len(parts) == 1 else Or(parts)
    if condition == "not":
        return Not(parts[0] if len(parts) == 1 else Or(parts))
    raise FilterSyntaxError(
        f"unknown LlamaIndex filter condition {condition!r}: use 'and', 'or' or 'not'"
    )


def from_llama_index(filters: MetadataFilters | None) -> Filter | None:
    """LlamaIndex ``MetadataFilters`` as a polyvec filter (``None`` when there are none).

    >>> from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
    >>> from_llama_index(MetadataFilters(filters=[
    ...     MetadataFilter(key="year", value=2020, operator=">=")]))
    Comparison(field='year', op=<Op.GTE: 'gte'>, value=2020)

    Raises :class:`~polyvec.errors.FilterValueError` for a value of the wrong type
    (``None``: use ``is_empty``) and for ``all`` with no values,
    :class:`~polyvec.errors.FilterSyntaxError` for
    ``text_match_insensitive`` and unknown operators.
    """
    if filters is None:
        return None
    types = _types()
    if not isinstance(filters, types.MetadataFilters):
        raise FilterSyntaxError(
            f"from_llama_index takes llama_index MetadataFilters, got "
            f"{type(filters).__name__} ({filters!r})"
        )
    if not filters.filters:
        return None  # LlamaIndex: no filters means every document
    return _tree(filters, types)

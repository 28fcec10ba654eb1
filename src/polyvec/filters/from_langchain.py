"""LangChain's self-query language (``StructuredQuery``) to polyvec's filter AST.

    >>> from langchain_core.structured_query import Comparator, Comparison
    >>> from_langchain(Comparison(comparator=Comparator.CONTAIN, attribute="tags", value="x"))
    Comparison(field='tags', op=<Op.CONTAINS: 'contains'>, value='x')

Every comparator LangChain's query constructor can emit is translated exactly or refused:

=============  ==========================================================
LangChain      polyvec
=============  ==========================================================
``eq ne``      ``F(a) == v``, ``F(a) != v``
``gt gte``     ``F(a) > v``, ``F(a) >= v`` (numbers or dates)
``lt lte``     ``F(a) < v``, ``F(a) <= v``
``in nin``     ``F(a).is_in(vs)``, ``F(a).not_in(vs)``
``contain``    ``F(a).contains(v)`` (a list field holds ``v``)
``like``       refused: ``FilterSyntaxError`` (each store reads it differently)
``and or``     ``And``, ``Or``
``not``        ``Not`` (of the ``Or`` of its arguments when there are several)
=============  ==========================================================

Dates written by the query constructor (``{"date": "2024-05-01", "type": "date"}``)
become datetimes, so range comparisons on dates work on every backend.

Requires ``pip install 'polyvec[langchain]'``; importing this module imports
``langchain_core`` (and raises :class:`~polyvec.errors.MissingDependencyError` without it).
"""

from __future__ import annotations

from typing import Any

from polyvec.errors import FilterSyntaxError, FilterValueError, MissingDependencyError

try:
    from langchain_core.structured_query import (
        Comparator,
        Comparison,
        Expr,
        Operation,
        Operator,
        StructuredQuery,
        Visitor,
    )
except ImportError as exc:
    raise MissingDependencyError("langchain-core", "langchain", "LangChain self-query") from exc

from polyvec.filters import ast
from polyvec.filters.ast import And, Filter, Not, Op, Or, parse_iso_datetime

__all__ = ["PolyvecTranslator", "from_langchain", "structured_query_to_filter"]

_COMPARATORS: dict[str, Op] = {
    Comparator.EQ: Op.EQ,
    Comparator.NE: Op.NE,
    Comparator.GT: Op.GT,
    Comparator.GTE: Op.GTE,
    Comparator.LT: Op.LT,
    Comparator.LTE: Op.LTE,
    Comparator.IN: Op.IN,
    Comparator.NIN: Op.NIN,
    Comparator.CONTAIN: Op.CONTAINS,
}


def _value(value: Any) -> Any:
    """Unwrap the query constructor's typed values (dates and datetimes)."""
    if isinstance(value, dict) and value.get("type") in ("date", "datetime"):
        text = value.get(value["type"])
        parsed = parse_iso_datetime(text) if isinstance(text, str) else None
        if parsed is None:
            raise FilterValueError(f"self-query {value['type']} value {text!r} is not ISO-8601")
        return parsed
    if isinstance(value, list):
        return [_value(v) for v in value]
    return value


class PolyvecTranslator(Visitor):
    """Translates LangChain's ``StructuredQuery`` into polyvec's filter AST.

    Pass it to ``SelfQueryRetriever`` as ``structured_query_translator`` over a
    :class:`~polyvec.integrations.langchain.PolyvecVectorStore` (any backend)::

        retriever = SelfQueryRetriever(query_constructor=constructor, vectorstore=store,
                                       structured_query_translator=PolyvecTranslator())

    >>> from langchain_core.structured_query import Comparator, Comparison
    >>> Comparison(comparator=Comparator.GTE, attribute="year", value=2020).accept(
    ...     PolyvecTranslator())
    Comparison(field='year', op=<Op.GTE: 'gte'>, value=2020)
    """

    allowed_comparators = tuple(Comparator(c) for c in _COMPARATORS)
    allowed_operators = (Operator.AND, Operator.OR, Operator.NOT)  # type: ignore[assignment]

    def visit_operation(self, operation: Operation) -> Filter:
        args: list[Filter] = [arg.accept(self) for arg in operation.arguments]
        if operation.operator == Operator.AND:
            return And(args)
        if operation.operator == Operator.OR:
            return Or(args)
        if operation.operator == Operator.NOT:
            if not args:
                raise FilterSyntaxError("self-query 'not' needs an argument: not(eq(...))")
            return Not(args[0] if len(args) == 1 else Or(args))
        raise FilterSyntaxError(
            f"unknown self-query operator {operation.operator!r}: use and, or or not"
        )

    def visit_comparison(self, comparison: Comparison) -> ast.Comparison:
        op = _COMPARATORS.get(comparison.comparator)
        if op is None:
            raise FilterSyntaxError(
                f"the self-query comparator {str(comparison.comparator.value)!r} on "
                f"{comparison.attribute!r} has no equivalent in polyvec's portable filter "
                f"language: allow only {', '.join(_COMPARATORS)} in the "
                "query constructor (allowed_comparators=PolyvecTranslator.allowed_comparators)"
            )
        if op.takes_list and not isinstance(comparison.value, (list, tuple)):
            raise FilterValueError(
                f"filter on {comparison.attribute!r}: the self-query comparator "
                f"{op.value!r} takes a list of values, got {comparison.value!r}"
            )
        return ast.Comparison(comparison.attribute, op, _value(comparison.value))

    def visit_structured_query(
        self, structured_query: StructuredQuery
    ) -> tuple[str, dict[str, Any]]:
        if structured_query.filter is None:
            return structured_query.query, {}
        return structured_query.query, {"filter": structured_query.filter.accept(self)}


def from_langchain(query: StructuredQuery | Expr | None) -> Filter | None:
    """A LangChain ``StructuredQuery`` (or one ``Comparison``/``Operation`` of it) as a
    polyvec filter; ``None`` when there is no filter.

    >>> from langchain_core.structured_query import (
    ...     Comparator, Comparison, Operation, Operator, StructuredQuery)
    >>> q = StructuredQuery("q", Operation(Operator.OR, [
    ...     Comparison(Comparator.EQ, "a", 1), Comparison(Comparator.LT, "b", 2)]))
    >>> from_langchain(q) == Or([ast.F("a") == 1, ast.F("b") < 2])
    True
    """
    if query is None:
        return None
    if isinstance(query, StructuredQuery):
        query = query.filter
        if query is None:
            return None
    if not isinstance(query, (Comparison, Operation)):
        raise FilterSyntaxError(
            f"from_langchain takes a StructuredQuery, Comparison or Operation, got "
            f"{type(query).__name__} ({query!r})"
        )
    result: Filter = query.accept(PolyvecTranslator())
    return result


def structured_query_to_filter(structured_query: StructuredQuery) -> Filter | None:
    """The filter of a ``StructuredQuery`` as a polyvec filter (``None`` if it has none);
    the same as :func:`from_langchain`."""
    return from_langchain(structured_query)

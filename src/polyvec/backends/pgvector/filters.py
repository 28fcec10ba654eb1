"""The filter AST to parameterized SQL over ``jsonb``, with the reference evaluator's
exact semantics (``polyvec.filters.evaluate``).

Every key and every value travels as a bind parameter; only fixed SQL fragments from
this module are written into the statement::

    >>> from polyvec.filters import F
    >>> params = Params()
    >>> clause = to_sql((F("page") >= 3) & F("tags").contains("linux"), params)
    >>> sorted(params.values)
    ['p0', 'p1', 'p2', 'p3']

How each operator is written (``x`` is ``metadata -> %(k1)s -> %(k2)s …`` for the
field ``k1.k2…``; ``d`` is the same path in the ``dates`` column, see ``codec``):

========================  ==========================================================
``eq v``                  ``x @> v`` — jsonb containment is type-strict equality for a
                          scalar, and "has an element equal to v" for an array
``eq datetime``           ``d @> instant``
``eq`` a str with NUL     ``FALSE``: jsonb cannot hold NUL, so no stored value equals it
``ne`` / ``nin``          ``NOT COALESCE(eq / in, FALSE)`` (true on a missing field)
``in [v…]``               ``x @> ANY(array of v…)``: one array parameter, however long
                          the list (``eq`` of each value; dates against ``d``; empty:
                          FALSE)
``contains v``            ``x @> [v]`` (only an array contains an array)
``gt/gte/lt/lte n``       ``x`` is a number and compares, or an array with a number
                          element that does (jsonb orders numbers numerically)
``… datetime``            the same on ``d`` with instants
``exists``                ``x`` is neither JSON null nor ``[]``
``text_match s``          ``x`` is a string with ``strpos(x, s) > 0``, or an array with
                          such a string element (case-sensitive, by code point)
``is_null``,              rewritten (:mod:`polyvec.filters.rewrite`) to ``exists`` /
``contains_any/all``      ``OR`` / ``AND`` of ``contains``
``And`` / ``Or`` / ``Not``  ``AND`` (empty: TRUE) / ``OR`` (empty: FALSE) /
                          ``NOT COALESCE(…, FALSE)``
========================  ==========================================================

Leaves may be NULL on a missing field; NULL acts as FALSE under ``AND``/``OR`` and in
``WHERE``, and ``Not`` turns it into FALSE before negating, so the three-valued logic
of SQL never leaks. Leaves stay bare (no ``COALESCE``) so that the GIN expression
indexes on declared filterable keys can serve ``@>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from polyvec.backends.pgvector.codec import dump_json
from polyvec.backends.values import epoch_us
from polyvec.errors import FilterSyntaxError
from polyvec.filters.ast import And, Comparison, Filter, Not, Op, Or, flattened, validate_field
from polyvec.filters.rewrite import REWRITTEN, rewrite

__all__ = ["Params", "field_path", "to_sql"]

TRUE = sql.SQL("TRUE")
FALSE = sql.SQL("FALSE")

_RANGE_SQL = {
    Op.GT: sql.SQL(">"),
    Op.GTE: sql.SQL(">="),
    Op.LT: sql.SQL("<"),
    Op.LTE: sql.SQL("<="),
}


def _dumps(value: Any) -> str:
    return dump_json(value, "filter value")


class Params:
    """Named bind parameters collected while building one statement."""

    def __init__(self, prefix: str = "p") -> None:
        self.prefix = prefix
        self.values: dict[str, Any] = {}
        self._keys: dict[str, sql.Composable] = {}

    def add(self, value: Any) -> sql.Placeholder:
        """A new placeholder bound to ``value``."""
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)

    def json(self, value: Any) -> sql.Placeholder:
        """A placeholder bound to ``value`` as ``jsonb``."""
        return self.add(Jsonb(value, dumps=_dumps))

    def key(self, key: str) -> sql.Composable:
        """A ``text`` placeholder for one key of a path (one per distinct key)."""
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = sql.SQL("{}::text").format(self.add(key))
        return found


def field_path(column: str, field: str, params: Params) -> sql.Composable:
    """``column -> k1 -> k2 …`` for the dotted ``field``, keys as parameters.

    ``->`` with a text key yields NULL on anything but an object, so a path never
    indexes into an array (``a.0`` is not the first element, as in the evaluator).
    A key with a NUL character cannot exist in jsonb: such a path is NULL (missing).
    """
    validate_field(field)
    if "\x00" in field:
        return sql.SQL("NULL::jsonb")
    expr: sql.Composable = sql.Identifier(column)
    for part in field.split("."):
        expr = sql.SQL("({} -> {})").format(expr, params.key(part))
    return expr


def _not(clause: sql.Composable) -> sql.Composable:
    return sql.SQL("(NOT COALESCE({}, FALSE))").format(clause)


def _join(op: str, clauses: list[sql.Composable], empty: sql.Composable) -> sql.Composable:
    if not clauses:
        return empty
    if len(clauses) == 1:
        return clauses[0]
    return sql.SQL("({})").format(sql.SQL(f" {op} ").join(clauses))


def _operand(field: str, value: Any, params: Params) -> tuple[sql.Composable, Any]:
    """The path to test and the JSON value to test it with: a datetime is tested as
    its instant against the ``dates`` column, anything else against ``metadata``."""
    if isinstance(value, dt.datetime):
        return field_path("dates", field, params), epoch_us(value)
    return field_path("metadata", field, params), value


def _storable(value: Any) -> bool:
    """False for a string with NUL: jsonb cannot hold one, so no stored value equals
    (or contains) it and the comparison is constant, never an error."""
    return not (isinstance(value, str) and "\x00" in value)


def _eq(field: str, value: Any, params: Params) -> sql.Composable:
    if not _storable(value):
        return FALSE
    path, wanted = _operand(field, value, params)
    return sql.SQL("({} @> {})").format(path, params.json(wanted))


def _in(field: str, values: tuple[Any, ...], params: Params) -> sql.Composable:
    """``eq`` of any of ``values``: one ``@> ANY(jsonb[])`` per column, so a long list
    is one parameter (an ``OR`` of thousands of terms takes Postgres seconds to plan)."""
    groups: dict[bool, tuple[sql.Composable, list[Any]]] = {}  # keyed by "is a date"
    for value in filter(_storable, values):
        path, wanted = _operand(field, value, params)
        groups.setdefault(isinstance(value, dt.datetime), (path, []))[1].append(wanted)
    clauses: list[sql.Composable] = [
        sql.SQL("({} @> {})").format(path, params.json(wanted[0]))
        if len(wanted) == 1
        else sql.SQL("({} @> ANY({}::jsonb[]))").format(
            path, params.add([Jsonb(w, dumps=_dumps) for w in wanted])
        )
        for path, wanted in groups.values()
    ]
    return _join("OR", clauses, FALSE)


def _contains(field: str, value: Any, params: Params) -> sql.Composable:
    if not _storable(value):
        return FALSE
    path, wanted = _operand(field, value, params)
    return sql.SQL("({} @> {})").format(path, params.json([wanted]))


def _exists(field: str, params: Params) -> sql.Composable:
    path = field_path("metadata", field, params)
    return sql.SQL("(jsonb_typeof({0}) <> 'null' AND {0} <> '[]'::jsonb)").format(path)


def _any_number(path: sql.Composable, test: sql.Composable) -> sql.Composable:
    """``path`` is a number passing ``test`` (e.g. ``> %(p3)s``), or an array with
    such an element (jsonb compares two numbers numerically)."""
    return _any_of_type(path, "number", lambda value: sql.SQL("({} {})").format(value, test))


def _any_of_type(
    path: sql.Composable, kind: str, test: Callable[[sql.Composable], sql.Composable]
) -> sql.Composable:
    """``path`` is a jsonb ``kind`` passing ``test(value)``, or an array with such an
    element."""
    return sql.SQL(
        "(CASE jsonb_typeof({path}) WHEN {kind} THEN {on_scalar} "
        "WHEN 'array' THEN EXISTS (SELECT FROM jsonb_array_elements({path}) AS pv_e(v) "
        "WHERE jsonb_typeof(pv_e.v) = {kind} AND {on_element}) ELSE FALSE END)"
    ).format(
        path=path,
        kind=sql.Literal(kind),
        on_scalar=test(path),
        on_element=test(sql.SQL("pv_e.v")),
    )


def _text_match(field: str, text: str, params: Params) -> sql.Composable:
    if "\x00" in text:  # jsonb strings cannot hold NUL, so no value contains it
        return FALSE
    path = field_path("metadata", field, params)
    wanted = params.add(text)
    return _any_of_type(
        path,
        "string",
        lambda value: sql.SQL("(strpos({} #>> '{{}}', {}) > 0)").format(value, wanted),
    )


def _range(field: str, op: Op, value: Any, params: Params) -> sql.Composable:
    path, bound = _operand(field, value, params)
    test = sql.SQL("{} {}").format(_RANGE_SQL[op], params.json(bound))
    return _any_number(path, test)


def _comparison(node: Comparison, params: Params) -> sql.Composable:
    op, field, value = node.op, node.field, node.value
    if op is Op.EQ:
        return _eq(field, value, params)
    if op is Op.NE:
        return _not(_eq(field, value, params))
    if op is Op.IN:
        return _in(field, value, params)
    if op is Op.NIN:
        return _not(_in(field, value, params))
    if op is Op.CONTAINS:
        return _contains(field, value, params)
    if op is Op.EXISTS:
        return _exists(field, params) if value else _not(_exists(field, params))
    if op is Op.TEXT_MATCH:
        return _text_match(field, value, params)
    if op in REWRITTEN:
        return _to_sql(rewrite(node), params)
    if op.is_range:
        return _range(field, op, value, params)
    raise FilterSyntaxError(f"unknown filter operator {op!r}")  # pragma: no cover


def to_sql(node: Filter | None, params: Params) -> sql.Composable:
    """The SQL boolean expression for ``node`` (``TRUE`` for ``None``); its values are
    added to ``params``."""
    if node is None:
        return TRUE
    return _to_sql(flattened(node), params)  # at most limits.MAX_DEPTH levels deep


def _to_sql(node: Filter, params: Params) -> sql.Composable:
    if isinstance(node, Comparison):
        return _comparison(node, params)
    if isinstance(node, And):
        return _join("AND", [_to_sql(child, params) for child in node.children], TRUE)
    if isinstance(node, Or):
        return _join("OR", [_to_sql(child, params) for child in node.children], FALSE)
    if isinstance(node, Not):
        return _not(_to_sql(node.child, params))
    raise FilterSyntaxError(
        f"not a filter: {type(node).__name__} ({node!r}); build one with polyvec.F or "
        "polyvec.filters.parse_filter"
    )

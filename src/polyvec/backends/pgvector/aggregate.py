"""Facet counts and collection statistics, in SQL.

A facet is one ``GROUP BY`` over the field's values: a scalar counts as itself, an
array as each of its elements, once per document (``DISTINCT id, value``); only
strings, numbers and booleans are counted, as :mod:`polyvec.facets` defines. ``jsonb``
compares numbers by value (``3 = 3.0``) and never a boolean with a number, which is
exactly the evaluator's equality, so the groups are the facet's values::

    SELECT v, count(*) FROM (
        SELECT DISTINCT id, e.v FROM <table>
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE jsonb_typeof(<path>) WHEN 'array' THEN <path> ELSE jsonb_build_array(<path>) END
        ) AS e(v)
        WHERE <filter> AND jsonb_typeof(e.v) IN ('string', 'number', 'boolean')
    ) AS d GROUP BY v
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from polyvec.backends.pgvector.filters import Params, field_path, to_sql
from polyvec.backends.pgvector.sql import Layout
from polyvec.facets import FacetKey, facet_key
from polyvec.filters.ast import Filter

__all__ = ["facet_counts", "facet_query", "stats_query"]


def facet_query(layout: Layout, field: str, filter: Filter | None) -> tuple[sql.Composed, Params]:
    """The statement counting documents per value of ``field`` under ``filter``."""
    params = Params()
    where = to_sql(filter, params)
    path = field_path("metadata", field, params)
    query = sql.SQL(
        "SELECT v, count(*) FROM (SELECT DISTINCT id, e.v FROM {table} "
        "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof({path}) WHEN 'array' "
        "THEN {path} ELSE jsonb_build_array({path}) END) AS e(v) "
        "WHERE {where} AND jsonb_typeof(e.v) IN ('string', 'number', 'boolean')) AS d "
        "GROUP BY v"
    ).format(table=layout.qualified, path=path, where=where)
    return query, params


def facet_counts(rows: list[tuple[Any, ...]]) -> dict[FacetKey, int]:
    """Bucket counts from the rows of :func:`facet_query`."""
    counts: dict[FacetKey, int] = {}
    for value, n in rows:
        key = facet_key(value)
        if key is not None:
            counts[key] = counts.get(key, 0) + int(n)
    return counts


def stats_query(layout: Layout) -> sql.Composed:
    """Rows, table and index sizes, and the vector index with its validity, in one row."""
    postings = (
        sql.SQL("pg_total_relation_size({})").format(sql.Literal(_regclass(layout, True)))
        if layout.spec.sparse
        else sql.SQL("0")
    )
    return sql.SQL(
        "SELECT (SELECT count(*) FROM {table}), pg_total_relation_size({name}), "
        "pg_indexes_size({name}), {postings}, "
        "(SELECT am.amname || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam "
        "WHERE c.oid = to_regclass({index}))"
    ).format(
        table=layout.qualified,
        name=sql.Literal(_regclass(layout, False)),
        postings=postings,
        index=sql.Literal(f"{_quoted(layout.schema)}.{_quoted(layout.table + '_embedding')}"),
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _regclass(layout: Layout, postings: bool) -> str:
    table = f"{layout.table}_postings" if postings else layout.table
    return f"{_quoted(layout.schema)}.{_quoted(table)}"

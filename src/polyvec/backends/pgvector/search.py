"""The search statements of the pgvector backend: one leg each for dense and sparse
vectors, and hybrid search as ONE statement that fuses both legs in SQL.

Every leg yields its columns plus ``score`` (higher is better), ``pv_dist`` (ascending
is best) and ``pv_tie`` (a deterministic tie-break), so that a leg run alone
(:func:`search`) and the same leg inside the hybrid statement rank identically::

    params = Params()
    where = to_sql(filter, params)
    leg = dense_leg(layout, params.add(vector), where, params.add(10), ["id", "text"])
    rows = conn.execute(search(leg), params.values).fetchall()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import sql

from polyvec.backends.pgvector import codec
from polyvec.backends.pgvector.filters import TRUE, Params
from polyvec.backends.pgvector.sql import DISTANCE_SQL, Layout, SearchSettings
from polyvec.errors import ConfigurationError, DimensionMismatchError, InputError
from polyvec.fusion import DBSF, RRF, Convex, Fusion
from polyvec.types import Document, Hit, ScoreKind, Source, SparseVector, as_dense

__all__ = [
    "dense_leg",
    "dense_query",
    "hybrid",
    "hybrid_hits",
    "search",
    "settings",
    "sparse_leg",
    "sparse_query",
]


def dense_query(layout: Layout, vector: Any) -> np.ndarray:
    """A query vector checked against the collection (finite, right dimension)."""
    query = as_dense(vector, where="query vector")
    if query.shape[0] != layout.spec.dimension:
        raise DimensionMismatchError(
            layout.spec.dimension, int(query.shape[0]), where="query vector"
        )
    return query


def sparse_query(layout: Layout, vector: SparseVector) -> SparseVector:
    """A sparse query checked against the collection (which must have sparse vectors)."""
    if not layout.spec.sparse:
        raise ConfigurationError(
            f"collection {layout.spec.name!r} was created without sparse vectors "
            "(CollectionSpec(sparse=False)): search it with dense vectors only"
        )
    if not isinstance(vector, SparseVector):
        raise InputError(
            f"a sparse query must be a polyvec SparseVector, got {type(vector).__name__}"
        )
    return codec.check_sparse(vector, "sparse query")


def settings(
    layout: Layout, limit: int, ef_search: int | None, probes: int | None, iterative: bool
) -> SearchSettings:
    """The ``SET`` values a dense search needs (``ef_search`` at least ``limit``)."""
    opts = layout.options
    out: list[tuple[str, str]] = []
    if layout.index == "hnsw":
        ef = int(ef_search or opts["ef_search"])
        # one more than the rows asked for: ORDER BY distance, id reads one row past the
        # limit, which would otherwise start a second (iterative) pass over the graph
        out.append(("hnsw.ef_search", str(min(1000, max(ef, limit + 1)))))
        if iterative:
            out.append(("hnsw.iterative_scan", str(opts["iterative_scan"] or "strict_order")))
            out.append(("hnsw.max_scan_tuples", str(int(opts["max_scan_tuples"]))))
    elif layout.index == "ivfflat":
        probes = min(int(probes or opts["probes"]), int(opts["lists"]))
        out.append(("ivfflat.probes", str(probes)))
        if iterative:
            out.append(("ivfflat.iterative_scan", str(opts["iterative_scan"] or "relaxed_order")))
            if opts["max_probes"] is not None:
                out.append(("ivfflat.max_probes", str(int(opts["max_probes"]))))
    return SearchSettings(tuple(out))


def _columns(names: Sequence[str], alias: str | None = None) -> sql.Composable:
    if alias:
        return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)
    return sql.SQL(", ").join(map(sql.Identifier, names))


def dense_leg(
    layout: Layout,
    query: sql.Composable,
    where: sql.Composable,
    limit: sql.Composable,
    columns: Sequence[str],
) -> sql.Composed:
    """The dense top-``limit`` by the collection's distance (the vector index serves
    ``ORDER BY distance``; with a filter, iterative index scans keep reading it)."""
    operator, _, score = DISTANCE_SQL[layout.spec.distance]
    vector = sql.SQL("CAST({} AS {})").format(query, sql.SQL(layout.vector_type))
    dist = sql.SQL("(embedding {} {})").format(sql.SQL(operator), vector)
    return sql.SQL(
        "SELECT {columns}, {score} AS score, {dist} AS pv_dist, id AS pv_tie FROM {table} "
        "WHERE {where} ORDER BY {dist}, id LIMIT {limit}"
    ).format(
        columns=_columns(columns),
        score=sql.SQL(score).format(dist),
        dist=dist,
        table=layout.qualified,
        where=where,
        limit=limit,
    )


def sparse_leg(
    layout: Layout,
    terms: sql.Composable,
    weights: sql.Composable,
    where: sql.Composable,
    limit: sql.Composable,
    columns: Sequence[str],
) -> sql.Composed:
    """The sparse top-``limit`` by dot product, exact, from the postings table: the
    postings of the query's terms are summed per document (documents sharing no term
    score 0 and are left out). Without a filter only the top ``limit`` rows of the
    collection's table are read; with one, every candidate is checked first."""
    scored = sql.SQL(
        "SELECT p.row, sum(p.weight * q.w) AS score "
        "FROM unnest(CAST({terms} AS int4[]), CAST({weights} AS float8[])) AS q(term, w) "
        "JOIN {postings} p ON p.term = q.term GROUP BY p.row HAVING sum(p.weight * q.w) > 0"
    ).format(terms=terms, weights=weights, postings=layout.postings)
    tail = sql.SQL("c.score AS score, -c.score AS pv_dist, c.row AS pv_tie")
    if where is TRUE and list(columns) == ["pv_row"]:  # inside hybrid: no row is read
        return sql.SQL(
            "SELECT c.row AS pv_row, {tail} FROM ({scored} ORDER BY score DESC, p.row "
            "LIMIT {limit}) AS c"
        ).format(tail=tail, scored=scored, limit=limit)
    select = sql.SQL("SELECT {}, {}").format(_columns(columns, "t"), tail)
    if where is TRUE:
        return sql.SQL(
            "{select} FROM ({scored} ORDER BY score DESC, p.row LIMIT {limit}) AS c "
            "JOIN {table} t ON t.pv_row = c.row"
        ).format(select=select, scored=scored, limit=limit, table=layout.qualified)
    return sql.SQL(
        "{select} FROM ({scored}) AS c JOIN {table} t ON t.pv_row = c.row WHERE {where} "
        "ORDER BY c.score DESC, c.row LIMIT {limit}"
    ).format(select=select, scored=scored, table=layout.qualified, where=where, limit=limit)


def search(leg: sql.Composable) -> sql.Composed:
    """One leg, best first (relaxed iterative scans may return rows slightly out of
    order; the join of the sparse leg does not keep it)."""
    return sql.SQL(
        "SELECT id, text, metadata, score FROM ({}) AS pv_leg ORDER BY pv_dist, pv_tie"
    ).format(leg)


# One window over a whole leg, rows in rank order: aggregates over it add left to right,
# as polyvec.fusion does, so the normalised scores are the same floats.
_LEG_WINDOW = sql.SQL(
    "WINDOW o AS (ORDER BY pv_dist, pv_tie), "
    "w AS (ORDER BY pv_dist, pv_tie ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
)


def _normalised_leg(leg: sql.Composable, fusion: Fusion) -> sql.Composed:
    """A leg's rows as ``pv_row, score, rank, norm``: ``norm`` is min-max (convex), DBSF's
    ``(s - (mean - 3 std)) / (6 std)`` with the sample std (0.5 for one row or std 0),
    or NULL (RRF: ranks only)."""
    if isinstance(fusion, Convex):
        norm = sql.SQL(
            "CASE WHEN max(score) OVER w = min(score) OVER w THEN 1.0 "
            "ELSE (score - min(score) OVER w) / (max(score) OVER w - min(score) OVER w) END"
        )
    elif isinstance(fusion, DBSF):
        return sql.SQL(
            "SELECT pv_row, score, rank, CASE WHEN std IS NULL OR std = 0 THEN 0.5 "
            "ELSE (score - (mean - CAST(3 AS float8) * std)) / (CAST(6 AS float8) * std) "
            "END AS norm FROM (SELECT pv_row, score, rank, mean, sqrt(sum((score - mean) * "
            "(score - mean)) OVER w / NULLIF(n - 1, 0)) AS std FROM (SELECT pv_row, score, "
            "pv_dist, pv_tie, row_number() OVER o AS rank, sum(score) OVER w / n AS mean, n "
            "FROM (SELECT *, CAST(count(*) OVER () AS float8) AS n FROM ({leg}) AS pv_l) "
            "AS pv_n {window}) AS pv_m {window}) AS pv_s"
        ).format(leg=leg, window=_LEG_WINDOW)
    else:
        norm = sql.SQL("CAST(NULL AS float8)")
    return sql.SQL(
        "SELECT pv_row, score, row_number() OVER o AS rank, {norm} AS norm "
        "FROM ({leg}) AS pv_l {window}"
    ).format(norm=norm, leg=leg, window=_LEG_WINDOW)


def hybrid(
    layout: Layout,
    dense: sql.Composable,
    terms: sql.Composable,
    weights: sql.Composable,
    where: sql.Composable,
    fusion: Fusion,
    params: Params,
    candidates: int,
    k: int,
) -> sql.Composed:
    """Dense and sparse top-``candidates`` as CTEs, fused in SQL: one statement. The
    legs carry row numbers only; the text and metadata of the top ``k`` alone are read.

    It computes what :func:`polyvec.fusion.fuse` computes, with the same float
    operations in the same order (so the scores are equal, not just close), and orders
    the same way: fused score descending, then best rank in either list, then first
    appearance (the dense list first). Min-max normalisation (for convex fusion) maps a
    list whose scores are all equal to 1.0, and DBSF gives a list of one row, or of equal
    scores, 0.5, as ``fuse`` does.
    """
    cand = params.add(candidates)
    legs = sql.SQL("dense AS MATERIALIZED ({}), sparse AS MATERIALIZED ({})").format(
        _normalised_leg(dense_leg(layout, dense, where, cand, ["pv_row"]), fusion),
        _normalised_leg(sparse_leg(layout, terms, weights, where, cand, ["pv_row"]), fusion),
    )
    if isinstance(fusion, RRF):
        w = fusion.weights or (1.0, 1.0)
        rrf_k = params.add(float(fusion.k))
        w0, w1 = params.add(float(w[0])), params.add(float(w[1]))
        fused = sql.SQL(
            "COALESCE({w0} / ({k} + d.rank), 0) + COALESCE({w1} / ({k} + s.rank), 0)"
        ).format(w0=w0, w1=w1, k=rrf_k)
    else:
        pair: tuple[float, ...] = (
            (fusion.alpha, 1.0 - fusion.alpha)
            if isinstance(fusion, Convex)
            else fusion.weights or (1.0, 1.0)
        )
        w0, w1 = params.add(float(pair[0])), params.add(float(pair[1]))
        fused = sql.SQL("COALESCE({} * d.norm, 0) + COALESCE({} * s.norm, 0)").format(w0, w1)
    order = sql.SQL(
        "ORDER BY f.score DESC, LEAST(f.d_rank, f.s_rank), f.d_rank IS NULL, f.d_rank, f.s_rank"
    )
    return sql.SQL(
        "WITH {legs}, fused AS (SELECT COALESCE(d.pv_row, s.pv_row) AS pv_row, "
        "d.rank AS d_rank, d.score AS d_score, s.rank AS s_rank, s.score AS s_score, "
        "{fused} AS score FROM dense d FULL JOIN sparse s ON d.pv_row = s.pv_row), "
        "top AS MATERIALIZED (SELECT * FROM fused f {order} LIMIT {k}) "
        "SELECT t.id, t.text, t.metadata, f.score, f.d_rank, f.d_score, f.s_rank, f.s_score "
        "FROM top f JOIN {table} t ON t.pv_row = f.pv_row {order}"
    ).format(legs=legs, fused=fused, order=order, table=layout.qualified, k=params.add(k))


def hybrid_hits(rows: Sequence[Sequence[Any]], fusion: Fusion, distance: ScoreKind) -> list[Hit]:
    """Hits from :func:`hybrid`'s rows, with the provenance and per-kind scores that
    :func:`polyvec.fusion.fuse` gives the same candidates."""
    kind: ScoreKind = (
        "rrf" if isinstance(fusion, RRF) else "dbsf" if isinstance(fusion, DBSF) else "convex"
    )
    hits: list[Hit] = []
    for key, text, metadata, score, d_rank, d_score, s_rank, s_score in rows:
        sources: list[Source] = []
        scores: dict[str, float] = {}
        if d_rank is not None:
            sources.append(Source("dense", int(d_rank), float(d_score), distance))
            scores[distance] = float(d_score)
        if s_rank is not None:
            sources.append(Source("sparse", int(s_rank), float(s_score), "bm25"))
            scores["bm25"] = float(s_score)
        scores[kind] = float(score)
        doc = Document(codec.decode_id(key), text, metadata)
        hits.append(Hit(doc, float(score), kind, tuple(sources), scores))
    return hits

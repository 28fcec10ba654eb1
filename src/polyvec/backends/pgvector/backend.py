"""The PostgreSQL + pgvector backend.

Open it by URL (``polyvec.connect``, or directly)::

    from polyvec.backends.pgvector import PgVectorBackend

    backend = PgVectorBackend.from_url("postgresql://me:secret@db:5432/app?schema=rag")
    backend.create_collection(CollectionSpec("docs", dimension=384,
                                             options={"filterable": ["lang", "meta.year"]}))
    backend.upsert("docs", documents)            # COPY into a staging table, one transaction
    hits = backend.search_hybrid("docs", dense, sparse, 10, fusion=RRF(), candidates=50,
                                 filter=F("lang") == "en")   # one SQL statement

Connections come from a psycopg 3 pool, opened on first use. Each collection is a table
in the backend's schema (see ``polyvec.backends.pgvector.sql`` for the layout), listed
in a catalog table that records its layout version. Filters become parameterized SQL
over ``jsonb`` (``polyvec.backends.pgvector.filters``); hybrid search with RRF or convex
fusion runs as one statement whose ranking equals ``polyvec.fusion.fuse`` on the same
two candidate lists.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Backend,
    Capabilities,
    CollectionSpec,
    ranked_hits,
    require_ids_or_filter,
)
from polyvec.backends.pgvector import aggregate, codec, search
from polyvec.backends.pgvector.connection import URL_OPTIONS
from polyvec.backends.pgvector.filters import Params, to_sql
from polyvec.backends.pgvector.session import Conn, Session
from polyvec.backends.pgvector.sql import (
    CATALOG,
    SCHEMA_VERSION,
    STATE,
    Layout,
    SearchSettings,
    catalog_row,
    stored_fields,
)
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
)
from polyvec.facets import DEFAULT_SCAN_LIMIT, Facets, check_facet_args, ranked
from polyvec.filters.ast import Filter
from polyvec.filters.parse import parse_filter
from polyvec.fusion import DBSF, RRF, Convex, Fusion
from polyvec.stats import EngineStats
from polyvec.types import DocId, Document, Hit, SparseVector

__all__ = ["BULK_LOAD_ROWS", "PgVectorBackend", "write_rows"]

BULK_LOAD_ROWS = 1000
"""An upsert this large into an empty collection builds its indexes at the end."""

_RESULT_COLUMNS = ("id", "text", "metadata")


def _forget(cur: psycopg.Cursor[Any], layout: Layout, gone: Sequence[Sequence[Any]]) -> None:
    """Delete the postings of the rows ``gone`` (``(pv_row, terms)`` pairs)."""
    terms = [term for _, row_terms in gone for term in row_terms or ()]
    rows = [row for row, row_terms in gone for _ in row_terms or ()]
    if terms:
        cur.execute(layout.forget(), [terms, rows])


def write_rows(copy: psycopg.Copy, rows: Sequence[tuple[Any, ...]]) -> None:
    """Stream the staged rows into a ``COPY … FROM STDIN`` (a module function so that
    tests can break the connection half-way through)."""
    for row in rows:
        copy.write_row(row)


class PgVectorBackend(Backend):
    """PostgreSQL with pgvector: dense ``vector``/``halfvec``, exact BM25 from an
    inverted index (the ``sparsevec`` kept beside it), hybrid fusion in SQL.

    >>> backend = PgVectorBackend("postgresql://me:s3cret@db/app?schema=rag")
    >>> backend
    <PgVectorBackend postgresql://me:***@db/app schema='rag'>

    ``conninfo`` is a ``postgresql://`` / ``postgres://`` URL or a libpq ``key=value``
    string. polyvec's own settings may also be URL parameters (``?schema=rag&pool_max=8``);
    keyword arguments win over them:

    * ``schema`` — the PostgreSQL schema holding the collections (default ``polyvec``);
    * ``pool_min`` / ``pool_max`` — connection pool size (1 / 4);
    * ``pool_timeout`` — seconds to wait for a free connection (30);
    * ``connect_timeout`` — seconds to wait for the server (10);
    * ``write_retries`` — how often a write is retried on a dropped connection (2); a
      write is one transaction, so a retry never duplicates or half-writes anything.

    Collection options (``CollectionSpec.options``): ``index`` (``"hnsw"`` default,
    ``"ivfflat"``, ``"none"``), ``m``, ``ef_construction``, ``lists``, ``ef_search``,
    ``probes``, ``iterative_scan``, ``max_scan_tuples``, ``max_probes``,
    ``vector_type`` (``"vector"`` or ``"halfvec"``), ``filterable`` (metadata keys that
    get a GIN index). See docs/backends/pgvector.md.
    """

    engine_name: ClassVar[str] = "pgvector"
    max_exact_int: int | None = None  # jsonb numbers are exact decimals
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="pgvector",
        sparse=True,
        native_idf=False,
        hybrid_fusions=frozenset({"rrf", "dbsf", "convex"}),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS,
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot", "l2"}),
        native_features=frozenset({"facet"}),
        notes=(
            "hybrid RRF, DBSF and convex fusion run in one SQL statement",
            "BM25 is exact (postings table); document weights are stored as float32",
            "filters on declared 'filterable' keys use GIN indexes for eq/in/contains",
        ),
    )
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")

    def __init__(
        self,
        conninfo: str = "",
        *,
        schema: str | None = None,
        pool_min: int | None = None,
        pool_max: int | None = None,
        pool_timeout: float | None = None,
        connect_timeout: float | None = None,
        write_retries: int | None = None,
    ) -> None:
        self._session = Session(
            conninfo,
            schema=schema,
            pool_min=pool_min,
            pool_max=pool_max,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            write_retries=write_retries,
        )
        self.schema = self._session.schema
        self.url = self._session.url
        """The connection string without its password (safe to show)."""
        self._layouts: dict[str, Layout] = {}
        self._session.on_missing_table = self._forget
        self._sections = threading.local()  # the collections this thread holds locked

    @property
    def server_log(self) -> Path | None:
        """The server's log file, when polyvec started the server (``postgresql+embedded``);
        a crash report names it."""
        return self._session.server_log

    @server_log.setter
    def server_log(self, path: Path | None) -> None:
        self._session.server_log = path

    def _forget(self, name: str) -> None:
        self._layouts.pop(name, None)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PgVectorBackend:
        """The backend for ``postgresql://user:password@host:port/db?schema=…``.

        ``options`` are the constructor's keyword arguments (they win over the URL's)::

            PgVectorBackend.from_url("postgres://me@db/app", schema="rag", pool_max=8)
        """
        unknown = sorted(set(options) - set(URL_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown pgvector backend option(s) {unknown}; known: {sorted(URL_OPTIONS)} "
                "(collection settings such as HNSW parameters go in CollectionSpec.options)"
            )
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"<PgVectorBackend {self.url} schema={self.schema!r}>"

    # -- collections ----------------------------------------------------------------
    def _catalog(self) -> sql.Composable:
        return sql.Identifier(self.schema, CATALOG)

    def _fetch_layout(self, conn: Conn, name: str, lock: bool = False) -> Layout | None:
        row = conn.execute(catalog_row(self.schema, lock), [name]).fetchone()
        if row is None:
            return None
        layout = self._layouts[name] = Layout.from_catalog(self.schema, name, row)
        return layout

    def _layout(self, name: str) -> Layout:
        found = self._layouts.get(name)
        if found is None:
            found = self._session.run(lambda conn: self._fetch_layout(conn, name))
            if found is None:
                raise CollectionNotFoundError(name, "pgvector")
        return found

    def create_collection(self, spec: CollectionSpec) -> None:
        """Create the table, its indexes and its catalog row (idempotent).

        An existing collection with the same dimension and distance is kept as it is
        (a ``sparse=True`` spec adds the sparse column if it lacks one); another
        dimension or distance raises ``ConfigurationError``."""
        layout = Layout.build(self.schema, spec)

        def work(conn: Conn) -> Layout:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"polyvec:{self.schema}"]
                )
                existing = self._fetch_layout(conn, spec.name, lock=True)
                if existing is not None:
                    return self._reconcile(conn, existing, spec)
                conn.execute(layout.create_table())
                for statement in (
                    layout.vector_index(),
                    *layout.sparse_ddl(),
                    *layout.filterable_indexes(),
                ):
                    if statement is not None:
                        conn.execute(statement)
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (name, table_name, dimension, distance, sparse, options, "
                        "schema_version) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ).format(self._catalog()),
                    [
                        spec.name,
                        layout.table,
                        spec.dimension,
                        spec.distance,
                        spec.sparse,
                        Jsonb(dict(spec.options), dumps=codec.dump_json),
                        SCHEMA_VERSION,
                    ],
                )
            return layout

        self._layouts[spec.name] = self._session.run(work)

    def _reconcile(self, conn: Conn, existing: Layout, spec: CollectionSpec) -> Layout:
        have = existing.spec
        have.require_compatible(spec, sparse=False)  # a missing sparse column is added below
        if spec.sparse and not have.sparse:
            conn.execute(existing.add_sparse_column())
            upgraded = Layout.build(
                self.schema,
                CollectionSpec(have.name, have.dimension, have.distance, True, have.options),
                existing.table,
            )
            for statement in upgraded.sparse_ddl():
                conn.execute(statement)
            conn.execute(
                sql.SQL("UPDATE {} SET sparse = true WHERE name = %s").format(self._catalog()),
                [spec.name],
            )
            return upgraded
        return existing

    def get_spec(self, name: str) -> CollectionSpec | None:
        self._layouts.pop(name, None)
        found = self._session.run(lambda conn: self._fetch_layout(conn, name))
        return None if found is None else found.spec

    def list_collections(self) -> list[str]:
        rows = self._session.run(
            lambda conn: conn.execute(
                sql.SQL("SELECT name FROM {} ORDER BY name").format(self._catalog())
            ).fetchall()
        )
        return [str(r[0]) for r in rows]

    def drop_collection(self, name: str) -> None:
        """Drop the table, its catalog row and its saved state (no error if absent)."""

        def work(conn: Conn) -> None:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"polyvec:{self.schema}"]
                )
                row = conn.execute(
                    sql.SQL("DELETE FROM {} WHERE name = %s RETURNING table_name").format(
                        self._catalog()
                    ),
                    [name],
                ).fetchone()
                if row is not None:
                    gone = Layout(self.schema, CollectionSpec(name, 1), str(row[0]), {})
                    conn.execute(gone.drop_tables())
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE collection = %s").format(
                        sql.Identifier(self.schema, STATE)
                    ),
                    [name],
                )

        self._layouts.pop(name, None)
        self._session.run(work, write=f"dropping collection {name!r}")

    def rebuild_index(self, name: str) -> None:
        """Rebuild the dense vector index, e.g. an IVFFlat index after loading data in
        small batches (its lists are chosen from the rows present when it is built)."""
        layout = self._layout(name)
        create = layout.vector_index()
        if create is None:
            return

        def work(conn: Conn) -> None:
            with conn.transaction():
                conn.execute(layout.drop_vector_index())
                conn.execute(create)

        self._session.run(work, write=f"rebuilding the index of {name!r}", collection=name)

    # -- data -----------------------------------------------------------------------
    def check_documents(self, documents: Sequence[Document]) -> None:
        super().check_documents(documents)
        for doc in documents:
            stored_fields(doc)  # PostgreSQL's own refusals too (NUL characters)

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        """Insert or replace ``documents`` in ONE transaction: ``COPY`` (binary) into a
        temporary table, then ``INSERT … ON CONFLICT (id) DO UPDATE``. Either all of them
        are written or none; a dropped connection is retried, anything else raises
        ``WriteError`` with every id in ``.failed``.

        The first load of an empty collection (at least ``BULK_LOAD_ROWS`` documents)
        builds the vector index and the postings index once at the end instead of
        growing them row by row, which is many times faster, and analyzes the tables;
        the table is locked (``ACCESS EXCLUSIVE``) until it commits.
        """
        self.check_documents(documents)
        layout = self._layout(collection)
        rows = layout.rows(documents)
        if not rows:
            return
        staged = list(rows.values())
        deferred = layout.deferred_indexes() if len(staged) >= BULK_LOAD_ROWS else []

        def work(conn: Conn) -> None:
            rebuild = bool(deferred) and self._is_empty(conn, layout)
            with conn.transaction(), conn.cursor() as cur:
                if rebuild:
                    cur.execute(
                        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(layout.qualified)
                    )
                    rebuild = self._is_empty(conn, layout)
                    for drop, _ in deferred if rebuild else ():
                        cur.execute(drop)
                cur.execute(layout.create_stage())
                with cur.copy(layout.copy_stage()) as copy:
                    write_rows(copy, staged)
                cur.execute(layout.analyze_stage())
                if layout.spec.sparse and not rebuild:
                    _forget(cur, layout, cur.execute(layout.replaced()).fetchall())
                cur.execute(layout.upsert())
                if layout.spec.sparse:
                    cur.execute(layout.index_stage())
                if rebuild:
                    for _, create in deferred:
                        cur.execute(create)
            if rebuild:  # committed; the rest only speeds up the searches that follow
                try:
                    for statement in layout.after_bulk_load():
                        conn.execute(statement)
                except psycopg.Error:
                    pass  # autovacuum does it a little later

        ids = [codec.decode_id(k) for k in rows]
        self._session.run(
            work,
            write=f"upsert of {len(ids)} document(s) into {collection!r}",
            ids=ids,
            collection=collection,
        )

    @staticmethod
    def _is_empty(conn: Conn, layout: Layout) -> bool:
        query = sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(layout.qualified)
        row = conn.execute(query).fetchone()
        return bool(row and row[0])

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        """The documents with these ids that exist, in the order of ``ids`` (each once)."""
        layout = self._layout(collection)
        keys = list(dict.fromkeys(codec.encode_id(i) for i in ids))
        if not keys:
            return []
        query = sql.SQL("SELECT {} FROM {} WHERE id = ANY(%s)").format(
            layout.select(with_vectors), layout.qualified
        )
        rows = self._fetch(collection, query, [keys], binary=with_vectors)
        found = {row[0]: codec.document_from_row(row, with_vectors) for row in rows}
        return [found[k] for k in keys if k in found]

    def delete(
        self, collection: str, *, ids: Sequence[DocId] | None = None, filter: Filter | None = None
    ) -> None:
        """Delete by ids or by filter (exactly one), in one transaction."""
        require_ids_or_filter(ids, filter)
        layout = self._layout(collection)
        params = Params()
        if ids is not None:
            keys = [codec.encode_id(i) for i in ids]
            if not keys:
                return
            where: sql.Composable = sql.SQL("id = ANY({})").format(params.add(keys))
        else:
            where = to_sql(parse_filter(filter), params)
        query = layout.delete(where)

        def work(conn: Conn) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(query, params.values, prepare=False)
                if layout.spec.sparse:
                    _forget(cur, layout, cur.fetchall())

        self._session.run(
            work,
            write=f"delete from {collection!r}",
            ids=list(ids or ()),
            collection=collection,
        )

    def count(self, collection: str, filter: Filter | None = None) -> int:
        layout = self._layout(collection)
        params = Params()
        where = to_sql(parse_filter(filter), params)
        query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(layout.qualified, where)
        rows = self._fetch(collection, query, params.values, filtered=filter is not None)
        return int(rows[0][0]) if rows else 0

    def facet(
        self,
        collection: str,
        field: str,
        *,
        filter: Filter | None = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        """Documents per value of ``field``: one ``GROUP BY`` (``aggregate``)."""
        check_facet_args(field, limit, scan_limit)
        query, params = aggregate.facet_query(self._layout(collection), field, filter)
        rows = self._fetch(collection, query, params.values, filtered=True)
        return ranked(aggregate.facet_counts(rows), field, limit, method="native")

    def collection_stats(self, collection: str) -> EngineStats:
        """Rows, the vector index (access method, validity) and sizes on disk."""
        layout = self._layout(collection)
        rows = self._fetch(collection, aggregate.stats_query(layout), ())
        n, total, indexes, postings, index = rows[0]
        return EngineStats(
            vectors=int(n),
            index=index or "none (exact scan)",
            disk_bytes=int(total) + int(postings),
            details={"index_bytes": int(indexes), "postings_bytes": int(postings)},
        )

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every (matching) document in id order, ``batch_size`` at a time (keyset
        pagination: each batch is one indexed query)."""
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        layout = self._layout(collection)
        node = parse_filter(filter)
        after: str | None = None
        while True:
            params = Params()
            where = to_sql(node, params)
            page: sql.Composable = sql.SQL("")
            if after is not None:
                page = sql.SQL(" AND id > {}").format(params.add(after))
            query = sql.SQL("SELECT {} FROM {} WHERE {}{} ORDER BY id LIMIT {}").format(
                layout.select(with_vectors),
                layout.qualified,
                where,
                page,
                params.add(batch_size),
            )
            rows = self._fetch(
                collection, query, params.values, binary=with_vectors, filtered=node is not None
            )
            if not rows:
                return
            yield [codec.document_from_row(row, with_vectors) for row in rows]
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    # -- search ---------------------------------------------------------------------
    def _settings(
        self, layout: Layout, limit: int, ef_search: int | None, probes: int | None
    ) -> SearchSettings:
        iterative = self._session.iterative and layout.options["iterative_scan"] != "off"
        return search.settings(layout, limit, ef_search, probes, iterative)

    def _fetch(
        self,
        collection: str,
        query: sql.Composed,
        params: Mapping[str, Any] | Sequence[Any],
        *,
        settings: SearchSettings | None = None,
        binary: bool = False,
        filtered: bool = False,
    ) -> list[tuple[Any, ...]]:
        """All rows of one query (after the index settings it needs, if any). Filtered
        queries are never prepared (see ``Session.fetch``)."""
        prepare = False if filtered else None
        return self._session.run(
            lambda conn: self._session.fetch(conn, query, params, settings, binary, prepare),
            collection=collection,
        )

    def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Filter | None = None,
        *,
        ef_search: int | None = None,
        probes: int | None = None,
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance (``ef_search`` / ``probes`` override the
        collection's settings for this query). With a filter, pgvector 0.8's iterative
        index scan keeps reading the index until ``k`` rows match (or
        ``max_scan_tuples`` were read)."""
        layout = self._layout(collection)
        query_vec = search.dense_query(layout, vector)
        if k < 1:
            return []
        params = Params()
        where = to_sql(parse_filter(filter), params)
        leg = search.dense_leg(
            layout, params.add(query_vec), where, params.add(int(k)), _RESULT_COLUMNS
        )
        rows = self._fetch(
            collection,
            search.search(leg),
            params.values,
            settings=self._settings(layout, k, ef_search, probes),
            filtered=filter is not None,
        )
        pairs = [(Document(codec.decode_id(r[0]), r[1], r[2]), float(r[3])) for r in rows]
        return ranked_hits(pairs, layout.spec.distance, "dense")

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``), exact, from the inverted
        index (the postings table); only documents sharing a term with the query."""
        layout = self._layout(collection)
        query_vec = search.sparse_query(layout, vector)
        if k < 1 or not len(query_vec):
            return []
        params = Params()
        where = to_sql(parse_filter(filter), params)
        leg = search.sparse_leg(
            layout,
            params.add(list(query_vec.indices)),
            params.add(list(query_vec.values)),
            where,
            params.add(int(k)),
            _RESULT_COLUMNS,
        )
        rows = self._fetch(
            collection, search.search(leg), params.values, filtered=filter is not None
        )
        pairs = [(Document(codec.decode_id(r[0]), r[1], r[2]), float(r[3])) for r in rows]
        return ranked_hits(pairs, "bm25", "sparse")

    def search_hybrid(
        self,
        collection: str,
        dense: np.ndarray,
        sparse: SparseVector,
        k: int,
        *,
        fusion: Fusion,
        candidates: int,
        filter: Filter | None = None,
        ef_search: int | None = None,
        probes: int | None = None,
    ) -> list[Hit]:
        """Dense top-``candidates`` and sparse top-``candidates`` fused by RRF, DBSF or
        convex combination in ONE SQL statement (one round trip). The result equals
        ``polyvec.fusion.fuse([search_dense(...), search_sparse(...)], fusion)[:k]``:
        same ids, same order, same scores and provenance."""
        if not isinstance(fusion, (RRF, DBSF, Convex)):
            raise ConfigurationError(
                f"fusion must be RRF(...), DBSF(...) or Convex(...), got {fusion!r}"
            )
        if (
            isinstance(fusion, (RRF, DBSF))
            and fusion.weights is not None
            and len(fusion.weights) != 2
        ):
            raise ConfigurationError(
                f"hybrid {type(fusion).__name__} takes two weights (dense, sparse), "
                f"got {len(fusion.weights)}"
            )
        layout = self._layout(collection)
        dense_vec = search.dense_query(layout, dense)
        sparse_vec = search.sparse_query(layout, sparse)
        if k < 1 or candidates < 1:
            return []
        params = Params()
        where = to_sql(parse_filter(filter), params)
        query = search.hybrid(
            layout,
            params.add(dense_vec),
            params.add(list(sparse_vec.indices)),
            params.add(list(sparse_vec.values)),
            where,
            fusion,
            params,
            int(candidates),
            int(k),
        )
        rows = self._fetch(
            collection,
            query,
            params.values,
            settings=self._settings(layout, candidates, ef_search, probes),
            filtered=filter is not None,
        )
        return search.hybrid_hits(rows, fusion, layout.spec.distance)

    # -- polyvec's state ------------------------------------------------------------
    def load_state(self, collection: str) -> dict[str, Any] | None:
        query = sql.SQL("SELECT state FROM {} WHERE collection = %s").format(
            sql.Identifier(self.schema, STATE)
        )
        row = self._session.run(lambda conn: conn.execute(query, [collection]).fetchone())
        return None if row is None else dict(row[0])

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        query = sql.SQL(
            "INSERT INTO {} (collection, state) VALUES (%s, %s) ON CONFLICT (collection) "
            "DO UPDATE SET state = EXCLUDED.state, updated_at = now()"
        ).format(sql.Identifier(self.schema, STATE))
        payload = Jsonb(dict(state), dumps=lambda v: codec.dump_json(v, "state"))
        self._session.run(
            lambda conn: conn.execute(query, [collection, payload]),
            write=f"saving the state of {collection!r}",
        )

    @contextlib.contextmanager
    def write_section(self, collection: str) -> Iterator[bool]:
        """Exclusive across processes: writers of one collection take turns on an
        advisory lock keyed on (schema, collection), so each one reads the state and the
        replaced documents after the previous one saved (exact BM25 statistics)."""
        held: set[str] = self._sections.__dict__.setdefault("names", set())
        if collection in held:  # re-entrant: the lock is held by this thread already
            yield True
            return
        with self._session.advisory_lock(f"polyvec:write:{self.schema}.{collection}"):
            held.add(collection)
            try:
                yield True
            finally:
                held.discard(collection)

    def close(self) -> None:
        """Close the connection pool (idempotent); the data stays in PostgreSQL."""
        self._session.close()

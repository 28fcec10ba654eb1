"""SQL for the pgvector backend's storage: the layout of a collection, its DDL, the
validated rows and the statements of a bulk upsert (search statements: ``search.py``).

Everything here is built with ``psycopg.sql``: names are ``Identifier``\\ s, values are
placeholders bound at execution. The only literals are integers this module validated
(index parameters, the dimension) and, in ``CREATE INDEX`` for declared filterable keys,
the keys themselves (DDL takes no bind parameters; psycopg quotes them).

A collection ``docs`` in the schema ``polyvec`` is::

    polyvec.polyvec_collections     name → table, dimension, distance, options, schema_version
    polyvec.polyvec_state           name → polyvec's JSON state (BM25 statistics)
    polyvec.pv_docs_<hash>          id text PRIMARY KEY ('s:…' / 'i:…'), text, metadata jsonb,
                                    dates jsonb, embedding vector(d) | halfvec(d),
                                    sparse sparsevec(2^29), terms int4[], pv_row bigint
    polyvec.pv_docs_<hash>_postings term int4, row bigint, weight float4: the inverted
                                    index of the sparse vectors, (term, row) INCLUDE weight

BM25 search reads the postings of the query's terms only (an index-only scan) and sums
``weight × query weight`` per document: exact, and it never touches the wide rows of
documents that do not make the top k.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from polyvec.backends.base import CollectionSpec
from polyvec.backends.pgvector import codec
from polyvec.backends.pgvector.codec import SPARSE_DIM
from polyvec.backends.values import check_str, date_shadow
from polyvec.errors import ConfigurationError, DimensionMismatchError, InputError
from polyvec.filters.ast import validate_field
from polyvec.types import Document

__all__ = [
    "SCHEMA_VERSION",
    "Layout",
    "SearchSettings",
    "catalog_ddl",
    "catalog_row",
    "check_schema_name",
    "stored_fields",
]

SCHEMA_VERSION = 1
"""Version of the table layout written by this code, recorded per collection."""

CATALOG = "polyvec_collections"
STATE = "polyvec_state"
STAGE = "pv_stage"

DISTANCE_SQL = {
    # distance -> (operator, opclass suffix, score from the distance)
    "cosine": ("<=>", "cosine_ops", "1 - {}"),
    "dot": ("<#>", "ip_ops", "-({})"),
    "l2": ("<->", "l2_ops", "-({})"),
}
_MAX_INDEX_DIMS = {"vector": 2000, "halfvec": 4000}
_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

OPTION_DEFAULTS: dict[str, Any] = {
    "index": "hnsw",
    "m": 16,
    "ef_construction": 64,
    "lists": 100,
    "ef_search": 40,
    "probes": 10,
    "iterative_scan": None,
    "max_scan_tuples": 20000,
    "max_probes": None,
    "vector_type": "vector",
    "filterable": (),
}
"""The keys ``CollectionSpec.options`` may hold for this backend, and their defaults."""

_INT_RANGES = {
    "m": (2, 100),
    "ef_construction": (4, 1000),
    "lists": (1, 32768),
    "ef_search": (1, 1000),
    "probes": (1, 32768),
    "max_scan_tuples": (1, 2**31 - 1),
    "max_probes": (1, 32768),
}
_CHOICES = {
    "index": ("hnsw", "ivfflat", "none"),
    "vector_type": ("vector", "halfvec"),
    "iterative_scan": (None, "strict_order", "relaxed_order", "off"),
}


def check_schema_name(schema: str) -> str:
    """A schema name polyvec will create: a plain SQL identifier."""
    if not isinstance(schema, str) or not _SCHEMA_RE.match(schema):
        raise ConfigurationError(
            f"schema {schema!r} is not a plain identifier: use letters, digits and _ "
            "(at most 63, not starting with a digit), e.g. schema='polyvec'"
        )
    return schema


def table_name(collection: str) -> str:
    """The table of a collection: ``pv_<readable part>_<hash>``, any name is safe."""
    if not isinstance(collection, str) or not collection or "\x00" in collection:
        raise ConfigurationError(
            f"collection name must be a non-empty str without NUL, got {collection!r}"
        )
    slug = re.sub(r"[^a-z0-9_]+", "_", collection.lower()).strip("_")[:32]
    digest = hashlib.sha256(collection.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"pv_{slug}_{digest}" if slug else f"pv_{digest}"


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``CollectionSpec.options`` with defaults filled in, or ``ConfigurationError``."""
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"unknown pgvector collection option(s) {unknown}; known: {sorted(OPTION_DEFAULTS)}"
        )
    merged = {**OPTION_DEFAULTS, **options}
    for name, (low, high) in _INT_RANGES.items():
        value = merged[name]
        if value is None and name == "max_probes":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigurationError(
                f"option {name} must be an int in [{low}, {high}], got {value!r}"
            )
    for name, choices in _CHOICES.items():
        if merged[name] not in choices:
            raise ConfigurationError(
                f"option {name} must be one of {choices}, got {merged[name]!r}"
            )
    keys = merged["filterable"]
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise ConfigurationError(
            f"option filterable must be a list of metadata keys (e.g. ['page', 'a.b']), got {keys!r}"
        )
    for key in keys:
        validate_field(key)
        if "\x00" in key:
            raise ConfigurationError(f"filterable key {key!r} contains NUL")
    merged["filterable"] = tuple(dict.fromkeys(keys))
    if merged["index"] == "ivfflat" and merged["iterative_scan"] == "strict_order":
        raise ConfigurationError("ivfflat supports iterative_scan='relaxed_order' or 'off' only")
    return merged


@dataclass(frozen=True)
class SearchSettings:
    """Per-query index settings (``SET`` values), resolved from options and overrides."""

    values: tuple[tuple[str, str], ...]


def _int(value: Any) -> sql.SQL:
    """A validated integer as SQL text (DDL takes no bind parameters)."""
    return sql.SQL(str(int(value)))


def stored_fields(doc: Document) -> tuple[str, str, str | None]:
    """A document's ``id``, ``metadata`` and ``dates`` column texts; ``InputError`` for
    what PostgreSQL cannot store (NUL characters, lone surrogates, NaN)."""
    if not isinstance(doc, Document):
        raise InputError(f"upsert takes polyvec Documents, got {type(doc).__name__}")
    key = codec.encode_id(doc.id)
    where = f"document {doc.id!r}"
    if "\x00" in doc.text:
        raise InputError(f"{where} has a NUL character in its text, which PostgreSQL cannot store")
    check_str(doc.text, f"the text of {where}")
    meta = codec.dump_json(doc.metadata, f"{where}'s metadata")
    shadow = date_shadow(doc.metadata)
    return key, meta, None if shadow is None else codec.dump_json(shadow, "dates")


@dataclass(frozen=True)
class Layout:
    """Everything the SQL builders need to know about one collection."""

    schema: str
    spec: CollectionSpec
    table: str
    options: Mapping[str, Any]

    @classmethod
    def build(cls, schema: str, spec: CollectionSpec, table: str | None = None) -> Layout:
        options = check_options(spec.options)
        if options["index"] != "none" and spec.dimension > _MAX_INDEX_DIMS[options["vector_type"]]:
            raise ConfigurationError(
                f"pgvector indexes {options['vector_type']} up to "
                f"{_MAX_INDEX_DIMS[options['vector_type']]} dimensions, this collection has "
                f"{spec.dimension}: use options={{'vector_type': 'halfvec'}} (up to 4000) or "
                "{'index': 'none'} (exact search)"
            )
        return cls(schema, spec, table or table_name(spec.name), options)

    @classmethod
    def from_catalog(cls, schema: str, name: str, row: Sequence[Any]) -> Layout:
        """The layout of a collection from its :func:`catalog_row`."""
        table, dimension, distance, sparse, options, version = row
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"collection {name!r} was written by a newer polyvec (layout v{version}, this "
                f"one knows v{SCHEMA_VERSION}): upgrade polyvec"
            )
        spec = CollectionSpec(name, int(dimension), distance, bool(sparse), dict(options))
        return cls.build(schema, spec, str(table))

    # -- names --------------------------------------------------------------------
    @property
    def qualified(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    @property
    def postings(self) -> sql.Identifier:
        return sql.Identifier(self.schema, f"{self.table}_postings")

    def index_name(self, suffix: str) -> sql.Identifier:
        return sql.Identifier(f"{self.table}_{suffix}")

    def _drop_index(self, suffix: str) -> sql.Composed:
        return sql.SQL("DROP INDEX IF EXISTS {}").format(
            sql.Identifier(self.schema, f"{self.table}_{suffix}")
        )

    @property
    def vector_type(self) -> str:
        return str(self.options["vector_type"])

    @property
    def index(self) -> str:
        return str(self.options["index"])

    # -- DDL ----------------------------------------------------------------------
    def create_table(self) -> sql.Composed:
        """The collection's table. Vectors are stored ``MAIN`` (in the row) and rows may
        grow to a page before anything is moved out (``toast_tuple_target``), so that
        exact and filtered scans never detoast a vector; long texts and metadata are
        moved out of the row first."""
        sparse = sql.SQL(", sparse sparsevec({}) STORAGE MAIN, terms int4[]").format(
            _int(SPARSE_DIM)
        )
        return sql.SQL(
            "CREATE TABLE {table} (id text PRIMARY KEY, text text NOT NULL DEFAULT '', "
            "metadata jsonb NOT NULL DEFAULT '{{}}', dates jsonb, "
            "embedding {vtype}({dim}) STORAGE MAIN NOT NULL{sparse}, "
            "pv_row bigint GENERATED ALWAYS AS IDENTITY) WITH (toast_tuple_target = 8160)"
        ).format(
            table=self.qualified,
            vtype=sql.SQL(self.vector_type),
            dim=_int(self.spec.dimension),
            sparse=sparse if self.spec.sparse else sql.SQL(""),
        )

    def add_sparse_column(self) -> sql.Composed:
        return sql.SQL(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS sparse sparsevec({}) STORAGE MAIN, "
            "ADD COLUMN IF NOT EXISTS terms int4[]"
        ).format(self.qualified, _int(SPARSE_DIM))

    def vector_index(self) -> sql.Composed | None:
        """``CREATE INDEX`` for the dense vectors (``None`` with ``index='none'``)."""
        if self.index == "none":
            return None
        _, suffix, _ = DISTANCE_SQL[self.spec.distance]
        opclass = sql.SQL(f"{self.vector_type}_{suffix}")
        if self.index == "hnsw":
            params = sql.SQL("m = {}, ef_construction = {}").format(
                _int(self.options["m"]), _int(self.options["ef_construction"])
            )
        else:
            params = sql.SQL("lists = {}").format(_int(self.options["lists"]))
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON {} USING {} (embedding {}) WITH ({})"
        ).format(self.index_name("embedding"), self.qualified, sql.SQL(self.index), opclass, params)

    def drop_vector_index(self) -> sql.Composed:
        return self._drop_index("embedding")

    def postings_index(self) -> sql.Composed:
        return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (term, row) INCLUDE (weight)").format(
            self.index_name("postings_term"), self.postings
        )

    def sparse_ddl(self) -> list[sql.Composed]:
        """The postings table (the inverted index of the sparse vectors), its index, and
        the unique row number it points to."""
        if not self.spec.sparse:
            return []
        return [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (term int4 NOT NULL, row bigint NOT NULL, "
                "weight float4 NOT NULL)"
            ).format(self.postings),
            sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (pv_row)").format(
                self.index_name("row"), self.qualified
            ),
            self.postings_index(),
        ]

    def deferred_indexes(self) -> list[tuple[sql.Composed, sql.Composed]]:
        """``(drop, create)`` of the indexes a first bulk load builds at its end."""
        out = []
        vector = self.vector_index()
        if vector is not None:
            out.append((self.drop_vector_index(), vector))
        if self.spec.sparse:
            out.append((self._drop_index("postings_term"), self.postings_index()))
        return out

    def filterable_indexes(self) -> list[sql.Composed]:
        """A GIN expression index per declared filterable key (serves eq/in/contains)."""
        out: list[sql.Composed] = []
        for key in self.options["filterable"]:
            tag = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            path: sql.Composable = sql.Identifier("metadata")
            for part in key.split("."):
                path = sql.SQL("({} -> {})").format(path, sql.Literal(part))
            out.append(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({} jsonb_path_ops)").format(
                    self.index_name(f"f_{tag}"), self.qualified, path
                )
            )
        return out

    def drop_tables(self) -> sql.Composed:
        return sql.SQL("DROP TABLE IF EXISTS {}, {}").format(self.qualified, self.postings)

    def after_bulk_load(self) -> list[sql.Composed]:
        """Statistics for the planner, and the visibility map that lets BM25 read the
        postings index alone (run outside a transaction)."""
        out = [sql.SQL("ANALYZE {}").format(self.qualified)]
        if self.spec.sparse:
            out.append(sql.SQL("VACUUM (ANALYZE) {}").format(self.postings))
        return out

    # -- rows -----------------------------------------------------------------------
    def rows(self, documents: Sequence[Document]) -> dict[str, tuple[Any, ...]]:
        """Validated COPY rows by stored id (a repeated id: the last one wins). Every
        check runs before anything is sent, so bad input never half-writes a batch."""
        spec = self.spec
        rows: dict[str, tuple[Any, ...]] = {}
        for doc in documents:
            key, meta, dates = stored_fields(doc)
            where = f"document {doc.id!r}"
            if doc.dense is None:
                raise InputError(
                    f"{where} has no dense vector: embed it first (Collection.add does)"
                )
            if doc.dense.shape[0] != spec.dimension:
                raise DimensionMismatchError(
                    spec.dimension, int(doc.dense.shape[0]), where=f"{where}'s vector"
                )
            row: tuple[Any, ...] = (key, doc.text, meta, dates, doc.dense)
            if spec.sparse:
                sparse = doc.sparse
                if sparse is None:
                    row = (*row, None, None, None)
                else:
                    codec.check_sparse(sparse, f"{where}'s sparse vector")
                    terms = codec.TermIds(sparse.indices)
                    row = (*row, sparse, terms, codec.TermWeights(sparse.values))
            rows.pop(key, None)
            rows[key] = row
        return rows

    def select(self, with_vectors: bool, alias: str | None = None) -> sql.Composed:
        """The columns :func:`codec.document_from_row` reads."""
        cols = ["id", "text", "metadata"]
        if with_vectors:
            cols += ["embedding", "sparse"] if self.spec.sparse else ["embedding"]
        if alias:
            return sql.SQL(", ").join(sql.Identifier(alias, c) for c in cols)
        return sql.SQL(", ").join(map(sql.Identifier, cols))

    # -- bulk upsert ----------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """The columns an upsert writes, in COPY order (the stage adds ``weights``)."""
        base = ["id", "text", "metadata", "dates", "embedding"]
        return [*base, "sparse", "terms"] if self.spec.sparse else base

    def create_stage(self) -> sql.Composed:
        """A temporary staging table, dropped at commit (or rollback)."""
        sparse = sql.SQL(", sparse sparsevec({}), terms int4[], weights float4[]").format(
            _int(SPARSE_DIM)
        )
        return sql.SQL(
            "CREATE TEMP TABLE {stage} (id text, text text, metadata text, dates text, "
            "embedding vector({dim}){sparse}) ON COMMIT DROP"
        ).format(
            stage=sql.Identifier(STAGE),
            dim=_int(self.spec.dimension),
            sparse=sparse if self.spec.sparse else sql.SQL(""),
        )

    def copy_stage(self) -> sql.Composed:
        cols = [*self.columns, "weights"] if self.spec.sparse else self.columns
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(STAGE), sql.SQL(", ").join(map(sql.Identifier, cols))
        )

    @property
    def _stage(self) -> sql.Composed:
        return sql.SQL("pg_temp.{}").format(sql.Identifier(STAGE))

    def analyze_stage(self) -> sql.Composed:
        """Statistics for the staged rows, so that the joins below probe indexes."""
        return sql.SQL("ANALYZE {} (id)").format(self._stage)

    def replaced(self) -> sql.Composed:
        """``(pv_row, terms)`` of the staged ids that exist already."""
        return sql.SQL(
            "SELECT t.pv_row, t.terms FROM {stage} s JOIN {table} t ON t.id = s.id "
            "WHERE t.terms IS NOT NULL"
        ).format(stage=self._stage, table=self.qualified)

    def upsert(self) -> sql.Composed:
        """Insert the staged rows, or replace every column of an existing id."""
        cols = self.columns
        select = {
            "metadata": sql.SQL("metadata::jsonb"),
            "dates": sql.SQL("dates::jsonb"),
            "embedding": sql.SQL("embedding::halfvec")
            if self.vector_type == "halfvec"
            else sql.SQL("embedding"),
        }
        return sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {values} FROM {stage} "
            "ON CONFLICT (id) DO UPDATE SET {updates}"
        ).format(
            table=self.qualified,
            cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
            values=sql.SQL(", ").join(select.get(c, sql.Identifier(c)) for c in cols),
            stage=self._stage,
            updates=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in cols[1:]
            ),
        )

    def index_stage(self) -> sql.Composed:
        """The postings of the staged documents."""
        return sql.SQL(
            "INSERT INTO {postings} (term, row, weight) SELECT u.term, t.pv_row, u.weight "
            "FROM {stage} s JOIN {table} t ON t.id = s.id "
            "CROSS JOIN LATERAL unnest(s.terms, s.weights) AS u(term, weight)"
        ).format(postings=self.postings, table=self.qualified, stage=self._stage)

    def forget(self) -> sql.Composed:
        """Delete the postings ``(term, row)`` given as two arrays (from ``replaced`` or
        a ``delete … RETURNING``): one probe of the (term, row) index each."""
        return sql.SQL(
            "DELETE FROM {} p USING unnest(CAST(%s AS int4[]), CAST(%s AS int8[])) AS o(term, row) "
            "WHERE p.term = o.term AND p.row = o.row"
        ).format(self.postings)

    def delete(self, where: sql.Composable) -> sql.Composed:
        """Delete the matching rows (returning ``pv_row, terms`` to ``forget`` their
        postings with, when the collection has sparse vectors)."""
        if not self.spec.sparse:
            return sql.SQL("DELETE FROM {} WHERE {}").format(self.qualified, where)
        return sql.SQL("DELETE FROM {} WHERE {} RETURNING pv_row, terms").format(
            self.qualified, where
        )


def catalog_row(schema: str, lock: bool = False) -> sql.Composed:
    """The catalog row of the collection named by the one parameter."""
    return sql.SQL(
        "SELECT table_name, dimension, distance, sparse, options, schema_version "
        "FROM {} WHERE name = %s{}"
    ).format(sql.Identifier(schema, CATALOG), sql.SQL(" FOR UPDATE") if lock else sql.SQL(""))


def catalog_ddl(schema: str) -> list[sql.Composed]:
    """The schema and polyvec's two bookkeeping tables."""
    s = sql.Identifier(schema)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, table_name text NOT NULL UNIQUE, "
            "dimension integer NOT NULL, distance text NOT NULL, sparse boolean NOT NULL, "
            "options jsonb NOT NULL DEFAULT '{{}}', schema_version integer NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(schema, CATALOG)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (collection text PRIMARY KEY, state jsonb NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(schema, STATE)),
    ]

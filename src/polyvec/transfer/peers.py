"""Collections written by the peer stores, read as polyvec documents, and migrated into
polyvec collections in place (same engine, same database) with BM25 built on the way.

Readers, one per peer layout (each yields documents with their stored dense vectors;
nothing is re-embedded):

======================  ================================================================
``langchain-qdrant``    a Qdrant collection written by ``QdrantVectorStore``: its unnamed
                        dense vector, ``page_content``/``metadata`` payload, point ids
``langchain-postgres``  ``PGVector``'s ``langchain_pg_collection``/``langchain_pg_embedding``
                        tables (``--collection`` is its collection name)
``pgvectorstore``       a ``PGVectorStore`` table (``--collection`` is the table;
                        ``langchain_id``, ``content``, ``embedding``,
                        ``langchain_metadata`` and any extra metadata columns)
``langchain-chroma``    a Chroma collection written by ``langchain_chroma.Chroma``
``llama-index-qdrant``  a Qdrant collection written by llama-index-vector-stores-qdrant
                        (nodes rebuilt from ``_node_content``, relationships kept)
======================  ================================================================

::

    polyvec migrate --from langchain-postgres postgresql://app@db/rag postgresql://app@db/rag \\
        --collection docs

:func:`migrate_from_peer` reads the source twice: once to count BM25 corpus statistics,
once to write, so every document's BM25 vector uses the final statistics (as one
``Collection.add`` of the whole corpus would); then it reads it a third time to verify
the copy (ids, texts, metadata, dense vectors within a tolerance, BM25 vectors, count).
The peer's data is left as it was. Re-running is safe: writes are upserts by id.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from polyvec.backends.base import Backend, Distance
from polyvec.errors import CollectionNotFoundError, ConfigurationError, InputError
from polyvec.sparse.bm25 import BM25, CorpusStats
from polyvec.transfer.verify import VerifyReport, compare
from polyvec.types import Document

__all__ = [
    "PEERS",
    "GivenVectors",
    "PeerMigrationReport",
    "PeerReader",
    "migrate_from_peer",
    "open_reader",
]


class GivenVectors:
    """An :class:`~polyvec.embeddings.Embedder` stand-in for documents that bring their
    vectors: it knows the dimension and refuses to embed (open the migrated collection
    with the embeddings the peer used, to search it)."""

    name: Any = None
    """No model name is recorded with the collection (the peer's model is unknown here), so
    it opens with whichever embeddings the peer used; the first write records theirs."""

    def __init__(self, dimension: int, source: str) -> None:
        self.dimension = dimension
        self.source = source

    def _refuse(self, texts: Sequence[str]) -> np.ndarray:
        raise ConfigurationError(
            f"{self.source}: these documents bring their vectors; open the collection with the "
            "embeddings the peer store used (embedder=...) to embed new texts or queries"
        )

    embed_documents = _refuse
    embed_queries = _refuse


class PeerReader(ABC):
    """Documents of one peer collection, with their dense vectors."""

    peer: ClassVar[str]

    def __init__(self, url: str, collection: str) -> None:
        self.url = url
        self.collection = collection

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def distance(self) -> Distance: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        """Every document, in a stable order, with ``dense`` set."""

    def close(self) -> None:
        """Release the connection."""

    def same_store(self, url: str) -> Backend | None:
        """A polyvec backend on this reader's own connection when ``url`` names the same
        store (an embedded engine that one process can open once), else ``None``."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.peer} collection={self.collection!r}>"


# -- Qdrant -------------------------------------------------------------------------------
class LangchainQdrantReader(PeerReader):
    peer = "langchain-qdrant"

    def __init__(self, url: str, collection: str) -> None:
        from polyvec.backends.qdrant import QdrantBackend

        super().__init__(url, collection)
        self.backend = QdrantBackend.from_url(url, layout="langchain")
        spec = self.backend.get_spec(collection)
        if spec is None:
            self.backend.close()
            raise CollectionNotFoundError(collection, "qdrant")
        self._spec = spec

    @property
    def dimension(self) -> int:
        return self._spec.dimension

    @property
    def distance(self) -> Distance:
        return self._spec.distance

    def count(self) -> int:
        return self.backend.count(self.collection)

    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        yield from self.backend.scroll(self.collection, batch_size=batch_size, with_vectors=True)

    def same_store(self, url: str) -> Backend | None:
        from polyvec.backends.qdrant import QdrantBackend

        return QdrantBackend(client=self.backend.client) if url == self.url else None

    def close(self) -> None:
        self.backend.close()


class LlamaIndexQdrantReader(PeerReader):
    """A Qdrant collection written by llama-index-vector-stores-qdrant: the node JSON in
    ``_node_content``, its unnamed (or ``text-dense``) vector. Nodes come back as
    polyvec's LlamaIndex adapter stores them, relationships and all."""

    peer = "llama-index-qdrant"

    def __init__(self, url: str, collection: str) -> None:
        from polyvec.backends.qdrant import QdrantBackend

        super().__init__(url, collection)
        self.backend = QdrantBackend.from_url(url, layout="langchain")
        config = self.backend.client.get_collection(collection).config.params.vectors
        if isinstance(config, Mapping):  # hybrid collections name the dense vector
            name = "text-dense" if "text-dense" in config else next(iter(config), "")
            self.backend.close()
            self.backend = QdrantBackend.from_url(url, layout="langchain", vector_name=name)
        spec = self.backend.get_spec(collection)
        assert spec is not None
        self._spec = spec

    @property
    def dimension(self) -> int:
        return self._spec.dimension

    @property
    def distance(self) -> Distance:
        return self._spec.distance

    def count(self) -> int:
        return self.backend.count(self.collection)

    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        from polyvec.integrations.llama_index import node_to_document

        client, offset = self.backend.client, None
        while True:
            points, offset = client.scroll(self.collection, limit=batch_size, offset=offset,
                                           with_payload=True, with_vectors=True)  # fmt: skip
            out = []
            for p in points:
                raw: Any = p.vector
                vec = raw.get(self.backend.layout.dense) if isinstance(raw, Mapping) else raw
                node = metadata_dict_to_node(dict(p.payload or {}))
                node.embedding = None if vec is None else [float(x) for x in vec]
                out.append(node_to_document(node))
            if out:
                yield out
            if offset is None:
                return

    def close(self) -> None:
        self.backend.close()

    def same_store(self, url: str) -> Backend | None:
        from polyvec.backends.qdrant import QdrantBackend

        return QdrantBackend(client=self.backend.client) if url == self.url else None


# -- PostgreSQL -----------------------------------------------------------------------------
class _PostgresReader(PeerReader):
    _distance: Distance = "cosine"

    def __init__(self, url: str, collection: str, distance: Distance | None = None) -> None:
        import psycopg

        from polyvec.backends.pgvector.connection import split_url

        super().__init__(url, collection)
        conninfo, _ = split_url(url)
        self.conn = psycopg.connect(conninfo, autocommit=True)
        if distance is not None:
            self._distance = distance
        self._dim: int | None = None

    @property
    def distance(self) -> Distance:
        return self._distance

    @property
    def dimension(self) -> int:
        if self._dim is None:
            row = self.conn.execute(self._first_vector_sql(), self._params()).fetchone()
            if row is None:
                raise InputError(f"{self.peer} collection {self.collection!r} is empty")
            self._dim = len(_vector(row[0]))
        return self._dim

    @abstractmethod
    def _first_vector_sql(self) -> Any: ...

    @abstractmethod
    def _params(self) -> tuple[Any, ...]: ...

    def close(self) -> None:
        self.conn.close()


def _vector(raw: Any) -> np.ndarray:
    """A pgvector value as psycopg returns it without the pgvector adapter (text)."""
    if isinstance(raw, str):
        return np.asarray(json.loads(raw), dtype=np.float32)
    return np.asarray(raw, dtype=np.float32)


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, Mapping):
        raise InputError(f"stored metadata is not a JSON object: {str(value)[:80]}")
    return dict(value)


class PGVectorReader(_PostgresReader):
    """``langchain_postgres.PGVector``'s two tables (PGVector keeps no distance: give the
    one the store was made with, cosine by default)."""

    peer = "langchain-postgres"

    def __init__(self, url: str, collection: str, distance: Distance | None = None) -> None:
        super().__init__(url, collection, distance)
        row = self.conn.execute(
            "SELECT uuid FROM langchain_pg_collection WHERE name = %s", (collection,)
        ).fetchone()
        if row is None:
            self.conn.close()
            raise CollectionNotFoundError(
                collection, "langchain-postgres (langchain_pg_collection)"
            )
        self.uuid = row[0]

    def _first_vector_sql(self) -> Any:
        return "SELECT embedding::text FROM langchain_pg_embedding WHERE collection_id = %s LIMIT 1"

    def _params(self) -> tuple[Any, ...]:
        return (self.uuid,)

    def count(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM langchain_pg_embedding WHERE collection_id = %s", (self.uuid,)
        ).fetchone()
        return int(row[0]) if row else 0

    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        after = ""
        while True:
            rows = self.conn.execute(
                "SELECT id, document, cmetadata, embedding::text FROM langchain_pg_embedding "
                "WHERE collection_id = %s AND id > %s ORDER BY id LIMIT %s",
                (self.uuid, after, batch_size),
            ).fetchall()
            if not rows:
                return
            yield [
                Document(str(i), text or "", _metadata(meta), dense=_vector(vec))
                for i, text, meta, vec in rows
            ]
            after = rows[-1][0]


class PGVectorStoreReader(_PostgresReader):
    """A ``langchain_postgres.PGVectorStore`` table: ``langchain_id``, ``content``,
    ``embedding``, the ``langchain_metadata`` JSON and every other column as metadata."""

    peer = "pgvectorstore"
    _FIXED = ("langchain_id", "content", "embedding", "langchain_metadata", "content_tsv")

    def __init__(
        self, url: str, collection: str, distance: Distance | None = None, schema: str = "public"
    ) -> None:
        from psycopg import sql

        super().__init__(url, collection, distance)
        cols = [
            r[0]
            for r in self.conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s ORDER BY ordinal_position",
                (schema, collection),
            ).fetchall()
        ]
        if not cols:
            self.conn.close()
            raise CollectionNotFoundError(
                collection, f"pgvectorstore (table {schema}.{collection})"
            )
        missing = {"langchain_id", "content", "embedding"} - set(cols)
        if missing:
            self.conn.close()
            raise ConfigurationError(
                f"table {schema}.{collection} lacks the PGVectorStore column(s) {sorted(missing)}"
            )
        self.table = sql.Identifier(schema, collection)
        self.extra = [c for c in cols if c not in self._FIXED]
        self.has_json = "langchain_metadata" in cols

    def _first_vector_sql(self) -> Any:
        from psycopg import sql

        return sql.SQL("SELECT embedding::text FROM {} LIMIT 1").format(self.table)

    def _params(self) -> tuple[Any, ...]:
        return ()

    def count(self) -> int:
        from psycopg import sql

        row = self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table)).fetchone()
        return int(row[0]) if row else 0

    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        from psycopg import sql

        fields = [
            sql.SQL("langchain_id::text"),
            sql.SQL("content"),
            sql.SQL("embedding::text"),
            sql.SQL("langchain_metadata::text" if self.has_json else "NULL"),
            *(sql.Identifier(c) for c in self.extra),
        ]
        query = sql.SQL(
            "SELECT {} FROM {} WHERE langchain_id::text > %s ORDER BY langchain_id::text LIMIT %s"
        ).format(sql.SQL(", ").join(fields), self.table)
        after = ""
        while True:
            rows = self.conn.execute(query, (after, batch_size)).fetchall()
            if not rows:
                return
            out = []
            for ident, text, vec, meta, *extra in rows:
                metadata = _metadata(meta)
                metadata.update({c: v for c, v in zip(self.extra, extra) if v is not None})
                out.append(Document(ident, text or "", metadata, dense=_vector(vec)))
            yield out
            after = rows[-1][0]


# -- Chroma -------------------------------------------------------------------------------
class LangchainChromaReader(PeerReader):
    peer = "langchain-chroma"
    _SPACES: ClassVar[dict[str, Distance]] = {"cosine": "cosine", "l2": "l2", "ip": "dot"}

    def __init__(self, url: str, collection: str) -> None:
        from polyvec.backends.chroma import ChromaBackend

        super().__init__(url, collection)
        self.backend = ChromaBackend.from_url(url)
        try:
            self.handle = self.backend.client.get_collection(collection)
        except Exception as exc:
            self.backend.close()
            raise CollectionNotFoundError(collection, "chroma") from exc
        config = getattr(self.handle, "configuration_json", None) or {}
        hnsw = config.get("hnsw") or config.get("spann") or {}
        space = hnsw.get("space") or (self.handle.metadata or {}).get("hnsw:space") or "l2"
        if space not in self._SPACES:
            raise ConfigurationError(f"Chroma collection {collection!r} uses space {space!r}")
        self._distance = self._SPACES[space]
        self._dim: int | None = None

    @property
    def distance(self) -> Distance:
        return self._distance

    @property
    def dimension(self) -> int:
        if self._dim is None:
            got = self.handle.get(limit=1, include=["embeddings"])
            if not got["ids"]:
                raise InputError(f"Chroma collection {self.collection!r} is empty")
            self._dim = len(got["embeddings"][0])
        return self._dim

    def count(self) -> int:
        return int(self.handle.count())

    def batches(self, batch_size: int) -> Iterator[list[Document]]:
        offset = 0
        while True:
            got = self.handle.get(
                limit=batch_size, offset=offset, include=["documents", "metadatas", "embeddings"]
            )
            if not got["ids"]:
                return
            metas = got["metadatas"] or [None] * len(got["ids"])
            yield [
                Document(i, text or "", dict(meta or {}), dense=np.asarray(vec, dtype=np.float32))
                for i, text, meta, vec in zip(
                    got["ids"], got["documents"], metas, got["embeddings"]
                )
            ]
            offset += len(got["ids"])

    def close(self) -> None:
        self.backend.close()


PEERS: Mapping[str, type[PeerReader]] = {
    "langchain-qdrant": LangchainQdrantReader,
    "langchain-postgres": PGVectorReader,
    "pgvectorstore": PGVectorStoreReader,
    "langchain-chroma": LangchainChromaReader,
    "llama-index-qdrant": LlamaIndexQdrantReader,
}
"""Peer layout name → its reader."""


def open_reader(
    peer: str, url: str, collection: str, *, distance: Distance | None = None
) -> PeerReader:
    """The reader of ``peer``'s layout for ``collection`` at ``url`` (a polyvec URL of the
    same engine). ``distance`` is needed for PGVector stores not made with cosine."""
    cls = PEERS.get(peer)
    if cls is None:
        raise ConfigurationError(f"unknown peer layout {peer!r}: one of {sorted(PEERS)}")
    if issubclass(cls, _PostgresReader):
        return cls(url, collection, distance)
    if distance is not None:
        raise ConfigurationError(f"{peer} records its distance: drop --distance")
    return cls(url, collection)


@dataclass
class PeerMigrationReport:
    """What :func:`migrate_from_peer` did."""

    peer: str
    collection: str
    destination_collection: str
    copied: int = 0
    seconds: float = 0.0
    verification: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "collection": self.collection,
            "destination_collection": self.destination_collection,
            "copied": self.copied,
            "seconds": round(self.seconds, 3),
            "verification": None if self.verification is None else self.verification.as_dict(),
            "notes": list(self.notes),
        }


def migrate_from_peer(
    reader: PeerReader,
    destination: Backend,
    target: str,
    *,
    batch_size: int = 256,
    bm25: BM25 | None = None,
    verify: bool = True,
    progress: bool = True,
) -> PeerMigrationReport:
    """Copy the peer collection ``reader`` reads into the polyvec collection ``target`` on
    ``destination``, with BM25 vectors and statistics (see the module doc).

    ``ConfigurationError`` if ``target`` already exists as a collection polyvec did not
    make (e.g. the peer's own Qdrant or Chroma collection: choose another name).
    """
    from polyvec.collection import Collection

    started = time.perf_counter()
    existing = destination.get_spec(target)
    if existing is not None and destination.load_state(target) is None:
        raise ConfigurationError(
            f"{target!r} already exists on the destination and is not a polyvec collection "
            f"(the {reader.peer} collection itself?): migrate to another name "
            "(--to-collection NEW)"
        )
    bm25 = bm25 or BM25()
    stats = CorpusStats(track_df=True)
    for batch in reader.batches(batch_size):  # pass 1: the corpus statistics
        stats.add_many(bm25.term_counts_many(d.text for d in batch))
    embedder = GivenVectors(reader.dimension, f"vectors from {reader.peer}")
    coll = Collection(destination, target, embedder=embedder, bm25=bm25, distance=reader.distance)
    report = PeerMigrationReport(reader.peer, reader.collection, target)
    bar = tqdm(total=reader.count(), desc=f"migrate {reader.peer} → {target}", unit="doc",
               disable=not progress)  # fmt: skip
    with bar:
        for batch in reader.batches(batch_size):  # pass 2: write, BM25 on final statistics
            coll.add(_with_bm25(batch, bm25, stats), batch_size=batch_size, progress=False)
            report.copied += len(batch)
            bar.update(len(batch))
    if verify:
        native = destination.capabilities.native_idf
        check = (_with_bm25(b, bm25, stats) for b in reader.batches(batch_size))
        report.verification = compare(
            check, destination, target, cosine=reader.distance == "cosine"
        )
        report.verification.raise_for_problems(f"the copy of {reader.collection!r}")
        if native:
            report.notes.append("the engine computes IDF itself (Qdrant's IDF modifier)")
    report.seconds = time.perf_counter() - started
    return report


def _with_bm25(batch: list[Document], bm25: BM25, stats: CorpusStats) -> list[Document]:
    sparse = bm25.encode_documents(bm25.term_counts_many(d.text for d in batch), stats)
    return [d.with_vectors(dense=d.dense, sparse=sv) for d, sv in zip(batch, sparse)]

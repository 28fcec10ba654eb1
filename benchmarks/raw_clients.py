"""The raw-client side of ``bench_speed``'s per-backend table: what a user would write
against each engine's own client, with the same data, distance and index as polyvec's
backend creates, inserting in batches of ``BATCH`` (polyvec's ``Collection.add``
default) and fetching the 10 nearest with their text and metadata.

Every function creates its collection outside the clock, times the load, and returns
a :class:`Raw`: the query function, the load's seconds and how to close it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BATCH", "Raw", "raw_chroma", "raw_edge", "raw_milvus", "raw_pgvector", "raw_qdrant"]

BATCH = 256
DIM = 384


@dataclass
class Raw:
    query: Callable[[np.ndarray], Any]
    ingest_s: float
    close: Callable[[], Any] = lambda: None
    optimize_s: float | None = None


def _load(write: Callable[[range], Any], n: int, batch: int = BATCH) -> float:
    """Seconds to write ``range(n)`` in batches."""
    gc.collect()
    t = time.perf_counter()
    for s in range(0, n, batch):
        write(range(s, min(s + batch, n)))
    return time.perf_counter() - t


def raw_qdrant(texts: Sequence[str], vectors: np.ndarray) -> Raw:
    """qdrant-client local mode (``":memory:"``), unnamed cosine vector."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection(
        "raw", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )

    def write(ids: range) -> None:
        points = [
            models.PointStruct(id=i, vector=vectors[i].tolist(), payload={"text": texts[i], "n": i})
            for i in ids
        ]
        client.upsert("raw", points)

    took = _load(write, len(texts))
    return Raw(lambda q: client.query_points("raw", query=q.tolist(), limit=10).points, took,
               client.close)  # fmt: skip


def raw_chroma(texts: Sequence[str], vectors: np.ndarray, path: Path) -> Raw:
    """chromadb ``PersistentClient``, cosine HNSW, embeddings given."""
    import chromadb

    client = chromadb.PersistentClient(path=str(path))
    col = client.create_collection(
        "raw", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )

    def write(ids: range) -> None:
        col.add(
            ids=[str(i) for i in ids],
            embeddings=vectors[ids.start : ids.stop],
            documents=[texts[i] for i in ids],
            metadatas=[{"n": i} for i in ids],
        )

    took = _load(write, len(texts), 1024)
    return Raw(lambda q: col.query(query_embeddings=[q], n_results=10), took)


def raw_pgvector(texts: Sequence[str], vectors: np.ndarray, conninfo: str, table: str) -> Raw:
    """psycopg 3 + ``pgvector``: ``(id bigint primary key, text, meta jsonb,
    embedding vector(384))`` with the HNSW index polyvec's backend creates (``m = 16,
    ef_construction = 64``, ``vector_cosine_ops``), made before the load as polyvec's
    ``create_collection`` makes it; binary ``COPY`` per batch, one transaction each;
    ``ORDER BY embedding <=> %s LIMIT 10`` at the default ``hnsw.ef_search`` (40,
    polyvec's default too)."""
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import sql
    from psycopg.types.json import Jsonb

    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    name = sql.Identifier(table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id bigint PRIMARY KEY, text text, meta jsonb, embedding vector({}))"
        ).format(name, sql.Literal(DIM))
    )
    conn.execute(
        sql.SQL(
            "CREATE INDEX ON {} USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        ).format(name)
    )
    copy_sql = sql.SQL("COPY {} (id, text, meta, embedding) FROM STDIN (FORMAT BINARY)").format(
        name
    )

    def write(ids: range) -> None:
        with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.set_types(["int8", "text", "jsonb", "vector"])
            for i in ids:
                copy.write_row((i, texts[i], Jsonb({"n": i}), vectors[i]))

    took = _load(write, len(texts))
    query = sql.SQL(
        "SELECT id, text, meta, embedding <=> %s AS distance FROM {} "
        "ORDER BY embedding <=> %s LIMIT 10"
    ).format(name)

    def search(q: np.ndarray) -> list[Any]:
        return conn.execute(query, (q, q)).fetchall()

    return Raw(search, took, conn.close)


def raw_milvus(texts: Sequence[str], vectors: np.ndarray, path: Path) -> Raw:
    """``pymilvus.MilvusClient`` on a Milvus Lite file: the fields polyvec's backend
    creates minus its own (the sparse vector and the ``pv`` filter shadow), an INT64
    primary key, ``AUTOINDEX`` with ``COSINE``, ``Strong`` consistency; ``insert``."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(path))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("metadata", DataType.JSON)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection("raw", schema=schema, index_params=index, consistency_level="Strong")

    def write(ids: range) -> None:
        rows = [
            {"id": i, "dense": vectors[i].tolist(), "text": texts[i], "metadata": {"n": i}}
            for i in ids
        ]
        client.insert("raw", rows)

    took = _load(write, len(texts))

    def search(q: np.ndarray) -> Any:
        return client.search(
            "raw",
            data=[q.tolist()],
            anns_field="dense",
            limit=10,
            output_fields=["text", "metadata"],
            search_params={"metric_type": "COSINE", "params": {}},
        )

    return Raw(search, took, client.close)


def raw_edge(texts: Sequence[str], vectors: np.ndarray, path: Path, optimize: bool) -> Raw:
    """A ``qdrant_edge.EdgeShard`` of its own, configured as polyvec's backend
    configures one (a named cosine vector ``dense``, the engine's default HNSW and
    optimizer settings) minus polyvec's sparse vector; ``upsert_points`` per batch;
    ``optimize()`` (timed apart) when polyvec's shard is optimized."""
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)}
    )
    shard = qe.EdgeShard.create(str(path), config)

    def write(ids: range) -> None:
        points = [
            qe.Point(i, {"dense": vectors[i].tolist()}, {"text": texts[i], "n": i}) for i in ids
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))

    took = _load(write, len(texts))
    optimize_s = None
    if optimize:
        t = time.perf_counter()
        shard.optimize()
        optimize_s = time.perf_counter() - t

    def search(q: np.ndarray) -> Any:
        request = qe.QueryRequest(
            limit=10, query=qe.Query.Nearest(q.tolist(), using="dense"), with_payload=True
        )
        return shard.query(request)

    return Raw(search, took, shard.close, optimize_s)

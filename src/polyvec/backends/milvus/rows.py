"""The row half of :class:`~polyvec.backends.milvus.backend.MilvusBackend`: writes,
reads, counts, scrolls, hits and polyvec's state (a mixin; the backend supplies the
client, the error translation and the specs)."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polyvec.backends.base import CollectionSpec, ranked_hits, require_ids_or_filter, state_json
from polyvec.backends.metaindex import flatten
from polyvec.backends.milvus import layout
from polyvec.backends.milvus.filters import NOTHING, ids_expr, pv_payload, quote, to_expr
from polyvec.backends.values import plain_metadata
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
    PolyvecError,
    WriteError,
)
from polyvec.filters.ast import Filter
from polyvec.types import DocId, Document, Hit, ScoreKind, SparseVector, as_dense

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["MilvusRows"]

_ID_CHUNK = 512
_STATE_CHUNK = 60000
_ALL = 'id != ""'  # every key starts with a type tag, so no key is empty


MILVUS_MAX_INT = 2**63 - 1
"""Milvus stores JSON ints as signed 64-bit integers."""


class MilvusRows:
    client: Any
    timeout: float
    batch_size: int
    prefix: str
    display_url: str
    check_documents: Callable[[Sequence[Document]], None]  # Backend's

    def _errors(self, collection: str | None, op: str) -> AbstractContextManager[None]:
        raise NotImplementedError  # pragma: no cover

    def _require(self, name: str) -> CollectionSpec:
        raise NotImplementedError  # pragma: no cover

    def _physical(self, name: str) -> str:
        raise NotImplementedError  # pragma: no cover

    # -- validation -------------------------------------------------------------------
    @staticmethod
    def _check_vector(spec: CollectionSpec, vector: Any, where: str) -> list[float]:
        arr = as_dense(vector, where=where)
        if arr.shape[0] != spec.dimension:
            raise DimensionMismatchError(spec.dimension, int(arr.shape[0]), where)
        return list(arr.tolist())

    @staticmethod
    def _check_sparse(spec: CollectionSpec, vector: Any) -> None:
        if not isinstance(vector, SparseVector):
            raise InvalidVectorError(
                f"a sparse query must be a polyvec SparseVector, got {type(vector).__name__}"
            )
        if not spec.sparse:
            raise ConfigurationError(
                f"collection {spec.name!r} has no sparse vectors (created with sparse=False): "
                "search it densely, or re-create it with sparse=True"
            )
        if vector.indices and vector.indices[-1] >= 2**32 - 1:
            raise InvalidVectorError("Milvus sparse indices must be below 2**32 - 1")
        if any(v < 0 for v in vector.values):
            raise InvalidVectorError("Milvus sparse vectors hold non-negative values only")

    def _row(self, spec: CollectionSpec, doc: Document) -> dict[str, Any]:
        if not isinstance(doc, Document):
            raise InputError(f"upsert takes polyvec Documents, got {type(doc).__name__}")
        where = f"document {doc.id!r}"
        if doc.dense is None:
            raise InvalidVectorError(
                f"{where} has no dense vector: embed it first (Collection.add does)"
            )
        if len(doc.text.encode("utf-8", "surrogatepass")) > layout.MAX_TEXT_BYTES:
            raise InputError(
                f"{where} has more than {layout.MAX_TEXT_BYTES} bytes of text, the most a "
                "Milvus VARCHAR holds: split it into chunks (polyvec.chunking)"
            )
        meta = plain_metadata(
            dict(doc.metadata), f"{where} metadata", max_int=MILVUS_MAX_INT, engine="milvus"
        )
        row: dict[str, Any] = {
            "id": layout.encode_id(doc.id),
            "dense": self._check_vector(spec, doc.dense, where),
            "text": doc.text,
            "metadata": meta,
            "pv": pv_payload(flatten(meta)),
        }
        if spec.sparse:
            sparse = doc.sparse if doc.sparse is not None else SparseVector((), ())
            self._check_sparse(spec, sparse)
            row["sparse"] = sparse.to_dict()
        return row

    # -- writes -----------------------------------------------------------------------
    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self.check_documents(documents)
        spec = self._require(collection)
        rows: dict[str, tuple[DocId, dict[str, Any]]] = {}
        for doc in documents:
            row = self._row(spec, doc)
            rows.pop(row["id"], None)  # a repeated id: the last one wins
            rows[row["id"]] = (doc.id, row)
        items = list(rows.values())
        written: list[DocId] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            try:
                with self._errors(collection, "upsert"):
                    self.client.upsert(
                        self._physical(collection), [r for _, r in chunk], timeout=self.timeout
                    )
            except PolyvecError as exc:
                raise WriteError(
                    f"Milvus upsert into {collection!r} on {self.display_url} failed after "
                    f"{len(written)} of {len(items)} document(s) ({exc})",
                    written=written,
                    failed=[i for i, _ in items[start:]],
                ) from exc
            written.extend(i for i, _ in chunk)

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        """Delete by ids, or by filter (exactly one of them)."""
        require_ids_or_filter(ids, filter)
        self._require(collection)
        physical = self._physical(collection)
        if ids is not None:
            keys = list(dict.fromkeys(layout.encode_id(i) for i in ids))
            done = 0
            try:
                for done in range(0, len(keys), _ID_CHUNK):
                    with self._errors(collection, "delete"):
                        self.client.delete(
                            physical, filter=ids_expr(keys[done : done + _ID_CHUNK]),
                            timeout=self.timeout,
                        )  # fmt: skip
            except PolyvecError as exc:
                raise WriteError(
                    f"Milvus delete from {collection!r} on {self.display_url} failed after "
                    f"{done} of {len(keys)} document(s) ({exc})",
                    written=[layout.decode_id(k) for k in keys[:done]],
                    failed=[layout.decode_id(k) for k in keys[done:]],
                ) from exc
            return
        expr = to_expr(filter)
        if expr == NOTHING:
            return
        with self._errors(collection, "delete"):
            self.client.delete(physical, filter=expr or _ALL, timeout=self.timeout)

    # -- reads ------------------------------------------------------------------------
    @staticmethod
    def _fields(spec: CollectionSpec, with_vectors: bool) -> list[str]:
        fields = ["id", "text", "metadata"]
        if with_vectors:
            fields += ["dense", "sparse"] if spec.sparse else ["dense"]
        return fields

    @staticmethod
    def _document(row: Mapping[str, Any], with_vectors: bool) -> Document:
        meta = row.get("metadata")
        doc = Document(
            layout.decode_id(str(row["id"])),
            str(row.get("text") or ""),
            dict(meta) if isinstance(meta, Mapping) else {},
        )
        if not with_vectors:
            return doc
        dense = row.get("dense")
        raw = row.get("sparse")
        sparse = None
        if isinstance(raw, Mapping):
            sparse = SparseVector.from_dict({int(i): float(v) for i, v in raw.items()})
        return doc.with_vectors(
            np.asarray(dense, dtype=np.float32) if dense is not None else None, sparse
        )

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        """The documents with these ids that exist, in the order of ``ids``."""
        spec = self._require(collection)
        keys = list(dict.fromkeys(layout.encode_id(i) for i in ids))
        found: dict[str, Document] = {}
        for start in range(0, len(keys), _ID_CHUNK):
            chunk = keys[start : start + _ID_CHUNK]
            with self._errors(collection, "query"):
                rows = self.client.query(
                    self._physical(collection),
                    filter=ids_expr(chunk),
                    output_fields=self._fields(spec, with_vectors),
                    timeout=self.timeout,
                )
            found.update((str(r["id"]), self._document(r, with_vectors)) for r in rows)
        return [found[k] for k in (layout.encode_id(i) for i in ids) if k in found]

    def count(self, collection: str, filter: Filter | None = None) -> int:
        self._require(collection)
        expr = to_expr(filter)
        if expr == NOTHING:
            return 0
        with self._errors(collection, "count"):
            rows = self.client.query(
                self._physical(collection),
                filter=expr or "",
                output_fields=["count(*)"],
                timeout=self.timeout,
            )
        return int(rows[0]["count(*)"]) if rows else 0

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every document (matching ``filter``), in batches of ``batch_size``."""
        spec = self._require(collection)
        expr = to_expr(filter)
        if expr == NOTHING:
            return
        with self._errors(collection, "query_iterator"):
            iterator = self.client.query_iterator(
                self._physical(collection),
                batch_size=batch_size,
                filter=expr or "",
                output_fields=self._fields(spec, with_vectors),
                timeout=self.timeout,
            )
        try:
            while True:
                with self._errors(collection, "query_iterator"):
                    rows = iterator.next()
                if not rows:
                    return
                yield [self._document(r, with_vectors) for r in rows]
        finally:
            with contextlib.suppress(Exception):
                iterator.close()

    def _hits(self, rows: list[dict[str, Any]], kind: ScoreKind, leg: Any) -> list[Hit]:
        scored = []
        for row in rows:
            entity = {**row.get("entity", {}), "id": row["id"]}
            value = float(row["distance"])
            score = -math.sqrt(max(value, 0.0)) if kind == "l2" else value
            scored.append((self._document(entity, False), score))
        return ranked_hits(scored, kind, leg)

    # -- polyvec's state: rows of the pvx_state collection ----------------------------
    def _state_collection(self, create: bool) -> str | None:
        from pymilvus import DataType, MilvusClient

        name = self.prefix + layout.STATE_COLLECTION
        with self._errors(None, "state"):
            if self.client.has_collection(name, timeout=self.timeout):
                return name
            if not create:
                return None
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
            schema.add_field("coll", DataType.VARCHAR, max_length=512)
            schema.add_field("gen", DataType.INT64)
            schema.add_field("seq", DataType.INT64)
            schema.add_field("total", DataType.INT64)
            schema.add_field("data", DataType.VARCHAR, max_length=65535)
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            params = self.client.prepare_index_params()
            params.add_index("v", index_type="AUTOINDEX", metric_type="L2")
            self.client.create_collection(
                name, schema=schema, index_params=params, consistency_level="Strong",
                timeout=self.timeout,
            )  # fmt: skip
        return name

    def _state_rows(self, state: str, physical: str) -> list[dict[str, Any]]:
        with self._errors(None, "state"):
            return list(
                self.client.query(
                    state,
                    filter=f"coll == {quote(physical)}",
                    output_fields=["gen", "seq", "total", "data"],
                    timeout=self.timeout,
                )
            )

    def load_state(self, collection: str) -> dict[str, Any] | None:
        self._require(collection)
        state = self._state_collection(create=False)
        if state is None:
            return None
        by_gen: dict[int, dict[int, dict[str, Any]]] = {}
        for row in self._state_rows(state, self._physical(collection)):
            by_gen.setdefault(int(row["gen"]), {})[int(row["seq"])] = row
        for gen in sorted(by_gen, reverse=True):  # the newest complete generation
            parts = by_gen[gen]
            total = int(next(iter(parts.values()))["total"])
            if len(parts) == total:
                return dict(json.loads("".join(parts[i]["data"] for i in range(total))))
        return None

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        """Persist polyvec's state as rows of ``pvx_state`` (chunked JSON, written as a
        new generation before the old one is deleted), never beside the documents."""
        self._require(collection)
        text = state_json(state)
        name = self._state_collection(create=True)
        assert name is not None
        physical = self._physical(collection)
        gen = time.time_ns()
        chunks = [text[i : i + _STATE_CHUNK] for i in range(0, len(text), _STATE_CHUNK)] or [""]
        rows = [
            {"id": f"{physical}:{gen}:{i}", "coll": physical, "gen": gen, "seq": i,
             "total": len(chunks), "data": part, "v": [0.0, 0.0]}
            for i, part in enumerate(chunks)
        ]  # fmt: skip
        with self._errors(collection, "save_state"):
            self.client.upsert(name, rows, timeout=self.timeout)
            self.client.delete(
                name, filter=f"coll == {quote(physical)} and gen != {gen}", timeout=self.timeout
            )

    def _drop_state(self, physical: str) -> None:
        with contextlib.suppress(CollectionNotFoundError):
            name = self._state_collection(create=False)
            if name is not None:
                with self._errors(None, "state"):
                    self.client.delete(
                        name, filter=f"coll == {quote(physical)}", timeout=self.timeout
                    )

"""``ChromaBackend``: polyvec over chromadb — embedded on disk, in memory, or a server::

    from polyvec.backends.chroma import ChromaBackend
    backend = ChromaBackend.from_url("chroma+local://./chroma-data")
    backend = ChromaBackend.from_url("chroma://localhost:8000?database=rag")

URLs (``from_url``; ``polyvec.connect`` takes the same):

==================================  ===================================================
``chroma+local:///abs/dir``         embedded ``PersistentClient`` (``chroma+local://./rel``)
``chroma+memory://``                embedded ``EphemeralClient`` (one shared store per
                                    process: use ``?prefix=`` to keep tests apart)
``chroma://host[:8000]``            a server (``chroma run``) over HTTP; ``?ssl=true``
                                    for HTTPS
==================================  ===================================================

Query parameters: ``tenant``, ``database``, ``ssl``, ``verify`` (TLS: ``true``,
``false`` or a CA certificate file), ``token`` (sent as
``Authorization: Bearer``; else ``CHROMA_TOKEN``; never shown in ``repr`` or errors),
``prefix`` (prepended to every collection name), ``batch_size``. Embeddings are always
passed explicitly (no embedding function), so Chroma never downloads a model.

Chroma has no sparse search: ``search_sparse`` is emulated exactly over the sparse
vectors stored in each record (see :mod:`polyvec.backends.chroma.cache`), and hybrid
search is fused client-side by polyvec (``capabilities.hybrid_fusions`` is empty).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Backend,
    Capabilities,
    CollectionSpec,
    require_ids_or_filter,
    state_json,
)
from polyvec.backends.chroma import layout
from polyvec.backends.chroma.cache import SparseCache, new_generation
from polyvec.backends.chroma.filters import NOTHING, SPARSE_KEY, decode_sparse, to_where
from polyvec.backends.chroma.layout import parse_url
from polyvec.backends.paths import checked_store_url
from polyvec.backends.store_lock import acquire
from polyvec.backends.translate import describe, translated
from polyvec.errors import (
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    MissingDependencyError,
    PolyvecError,
    WriteError,
)
from polyvec.filters.ast import Filter
from polyvec.safety.crashpoints import crash_point
from polyvec.sparse.index import SparseIndex
from polyvec.types import DocId, Document, Hit, SparseVector

try:
    import chromadb
    from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings
    from chromadb.errors import NotFoundError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("chromadb", "chroma", "the Chroma backend") from exc

__all__ = ["ChromaBackend", "parse_url"]

_ENGINE_SPACE = {"cosine": "cosine", "dot": "ip", "l2": "l2"}


class ChromaBackend(Backend):
    """polyvec over chromadb. Give one of ``path`` (embedded, on disk), ``memory=True``
    (embedded, in memory), ``host`` (a server) or ``client`` (your own chromadb client).

    ``prefix`` is prepended to every collection name (several polyvec users can share
    one database); ``batch_size`` caps records per write (else the server's maximum).
    A write that fails part-way raises ``WriteError`` with the ids that were and were
    not written; re-running it is safe.
    """

    engine_name = "chroma"
    max_exact_int = None  # ranges run on range_float shadows, equality on exact text
    schemes: ClassVar[tuple[str, ...]] = ("chroma", "chroma+local", "chroma+memory")
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="chroma",
        sparse=False,
        native_idf=False,
        hybrid_fusions=frozenset(),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS - {"text_match"},
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot", "l2"}),
        emulated=frozenset({"sparse", "facet"}),
        notes=(
            "sparse search is emulated exactly: each record stores its sparse vector in "
            "its metadata; polyvec searches a client-side inverted index rebuilt from "
            "them whenever another client wrote (embedded stores persist it)",
            "hybrid search is fused client-side (Chroma has no sparse leg to fuse with)",
            "filters run in Chroma against a typed shadow index of the metadata, so they "
            "mean exactly what polyvec's evaluator says (docs/backends/chroma.md)",
        ),
    )

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        memory: bool = False,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        verify: bool | str | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        tenant: str | None = None,
        database: str | None = None,
        client: Any = None,
        prefix: str = "",
        batch_size: int | None = None,
    ) -> None:
        given = [x for x in (path, host, client) if x is not None] + ([True] if memory else [])
        if len(given) > 1:
            raise ConfigurationError("give one of path=, memory=True, host= or client=")
        tenant = tenant or DEFAULT_TENANT
        database = database or DEFAULT_DATABASE
        self.prefix = layout.check_prefix(prefix)
        self._batch_size = batch_size
        self._secret = token or (os.environ.get("CHROMA_TOKEN") if host else None) or None
        cache_dir: Path | None = None
        self._store_lock = None
        try:
            if client is not None:
                self.client = client
                self.display_url = "chroma (client given)"
            elif host is not None:
                self.display_url = f"{'https' if ssl else 'http'}://{host}:{port}"
                head = dict(headers or {})
                if self._secret:
                    head.setdefault("Authorization", f"Bearer {self._secret}")
                self.client = chromadb.HttpClient(
                    host=host,
                    port=port,
                    ssl=ssl,
                    headers=head or None,
                    tenant=tenant,
                    database=database,
                    # TLS verification: True/False, or the CA file of a private CA
                    settings=None if verify is None else Settings(chroma_server_ssl_verify=verify),
                )
            elif path is not None:
                self.display_url = f"chroma+local://{path}"
                self._store_lock = acquire(path, "Chroma", self)  # before Chroma creates it
                self.client = chromadb.PersistentClient(
                    path=str(path), tenant=tenant, database=database
                )
                cache_dir = Path(path) / "polyvec-sparse"
            else:
                self.display_url = "chroma+memory://"
                self.client = chromadb.EphemeralClient(tenant=tenant, database=database)
        except Exception as exc:
            if self._store_lock is not None:
                self._store_lock.release()
            if isinstance(exc, PolyvecError):
                raise
            raise self._translate(exc, None, "connect") from exc
        self._cache = SparseCache(cache_dir)
        self._handles: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ChromaBackend:
        """Open the backend a ``chroma*://`` URL names (see the module docstring);
        keyword ``options`` override the URL's query parameters."""
        return cls(**{**checked_store_url(url, parse_url(url)), **options})

    def __repr__(self) -> str:
        key = " token=***" if self._secret else ""
        return f"<ChromaBackend {self.display_url}{key}>"

    def close(self) -> None:
        """Persist the sparse caches of an embedded store; idempotent."""
        if not self._closed:
            self._closed = True
            self._cache.flush()
            self._handles.clear()
            if self._store_lock is not None:
                self._store_lock.release()

    # -- errors -----------------------------------------------------------------------
    def _translate(self, exc: BaseException, collection: str | None, op: str) -> PolyvecError:
        text = describe(exc, self._secret)
        module = type(exc).__module__
        unreachable = (
            module.startswith(("httpx", "httpcore"))
            or isinstance(exc, (ConnectionError, TimeoutError))
            or "Could not connect" in str(exc)
        )
        if unreachable:
            return BackendUnavailableError(
                f"cannot reach Chroma at {self.display_url} ({text[:200]}): start the server "
                "(chroma run --path DIR --port 8000), check host, port and ssl, or use "
                "chroma+local:// for an embedded store"
            )
        if collection is not None and isinstance(exc, NotFoundError):
            return CollectionNotFoundError(collection, "chroma")
        return BackendError(f"Chroma {op} failed on {self.display_url}: {text[:500]}")

    def _errors(self, collection: str | None, op: str) -> AbstractContextManager[None]:
        def translate(exc: Exception) -> PolyvecError:
            if collection is not None:
                self._handles.pop(collection, None)
            return self._translate(exc, collection, op)

        return translated(translate)

    # -- collections ------------------------------------------------------------------
    def _physical(self, name: str) -> str:
        return self.prefix + layout.physical_name(name)

    def _handle(self, name: str, fresh: bool = False) -> Any:
        """The chromadb Collection of ``name`` (``CollectionNotFoundError`` if none)."""
        with self._lock:
            handle = None if fresh else self._handles.get(name)
            if handle is None:
                with self._errors(name, "get_collection"):
                    handle = self.client.get_collection(
                        self._physical(name), embedding_function=None
                    )
                self._handles[name] = handle
            return handle

    def create_collection(self, spec: CollectionSpec) -> None:
        hnsw = layout.hnsw_options(spec)
        try:
            found = self._handle(spec.name, fresh=True)
        except CollectionNotFoundError:
            found = None
        if found is not None:  # never adopt a collection another program wrote
            existing = layout.spec_of(spec.name, found.metadata)
            if existing is None:
                raise self._foreign(spec.name)
            existing.require_compatible(spec, sparse=False)
            return
        config = {"hnsw": {"space": _ENGINE_SPACE[spec.distance], **hnsw}}
        meta = {layout.SPEC_KEY: layout.spec_to_json(spec), layout.GEN_KEY: uuid.uuid4().hex}
        with self._errors(spec.name, "create_collection"):
            self.client.create_collection(
                self._physical(spec.name),
                configuration=config,
                metadata=meta,
                embedding_function=None,
                get_or_create=True,
            )

    def get_spec(self, name: str) -> CollectionSpec | None:
        try:
            handle = self._handle(name, fresh=True)
        except CollectionNotFoundError:
            return None
        return layout.spec_of(name, handle.metadata)

    def _require(self, name: str) -> tuple[CollectionSpec, Any]:
        handle = self._handle(name)
        spec = layout.spec_of(name, handle.metadata)
        if spec is None:
            raise self._foreign(name)
        return spec, handle

    def _foreign(self, name: str) -> ConfigurationError:
        physical = self._physical(name)
        return ConfigurationError(
            f"Chroma collection {physical!r} was not created by polyvec (no pv:spec in its "
            "metadata). If langchain-chroma wrote it, rebuild it beside the original once "
            f"with `polyvec migrate --from langchain-chroma CHROMA_URL CHROMA_URL --collection "
            f"{physical} --to-collection NEW` (stored vectors kept, BM25 built) and open NEW; "
            "else re-add its documents to a collection polyvec creates"
        )

    def list_collections(self) -> list[str]:
        with self._errors(None, "list_collections"):
            found = self.client.list_collections()
        names = [getattr(c, "name", c) for c in found]
        return sorted(
            n for n in (layout.logical_name(x, self.prefix) for x in names) if n is not None
        )

    def drop_collection(self, name: str) -> None:
        with self._lock:
            try:
                collection_id = str(self._handle(name, fresh=True).id)
            except CollectionNotFoundError:
                return
            # Chroma 1.5 leaks a dropped collection's array-metadata index into the next
            # collection created (its $contains then matches records that never had the
            # value): deleting the records first removes their index entries.
            handle = self._handle(name)
            keys = self._matching_keys(name, handle, None)
            size = self._batch()
            for start in range(0, len(keys), size):
                with self._errors(name, "delete"):
                    handle.delete(ids=keys[start : start + size])
            with self._errors(name, "delete_collection"):
                self.client.delete_collection(self._physical(name))
            self._handles.pop(name, None)
            self._cache.forget(name, collection_id)
            with contextlib.suppress(CollectionNotFoundError):
                self._state_handle(create=False).delete(ids=[self._physical(name)])

    # -- writes -----------------------------------------------------------------------
    def _generation(self, handle: Any) -> str:
        return str((handle.metadata or {}).get(layout.GEN_KEY, ""))

    def _bump(self, name: str, *, pending: bool = False) -> tuple[str, str, Any]:
        """Give the collection a new write generation: ``(before, after, handle)``;
        ``pending`` before a write's first record, settled after its last (see
        :mod:`polyvec.backends.chroma.cache`)."""
        handle = self._handle(name, fresh=True)
        before, after = self._generation(handle), new_generation(pending=pending)
        meta = {**(handle.metadata or {}), layout.GEN_KEY: after}
        with self._errors(name, "modify"):
            handle.modify(metadata=meta)
        return before, after, handle

    def _batch(self) -> int:
        with self._errors(None, "get_max_batch_size"):
            most = int(self.client.get_max_batch_size())
        return max(1, min(most, self._batch_size or most))

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self.check_documents(documents)
        spec, handle = self._require(collection)
        rows = layout.records(spec, documents)
        if not rows:
            return
        size = self._batch()
        written: list[DocId] = []
        before, mark, handle = self._bump(collection, pending=True)  # before any record
        try:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                with self._errors(collection, "upsert"):
                    self._clear_stale_keys(handle, chunk)
                    handle.upsert(
                        ids=[r.key for r in chunk],
                        embeddings=np.stack([r.dense for r in chunk]),
                        metadatas=[r.metadata for r in chunk],
                        documents=[r.text for r in chunk],
                    )
                written.extend(r.id for r in chunk)
                crash_point("chroma.upserted")
        except PolyvecError as exc:
            failed = [r.id for r in rows[len(written) :]]
            with contextlib.suppress(PolyvecError):
                self._cache.forget(collection)  # the next sparse search rebuilds from Chroma
                self._bump(collection)
            raise WriteError(
                f"Chroma upsert into {collection!r} on {self.display_url} failed after "
                f"{len(written)} of {len(rows)} document(s) ({exc})",
                written=written,
                failed=failed,
            ) from exc
        seen, after, handle = self._bump(collection)
        ids = [r.id for r in rows]
        vectors = [r.sparse for r in rows]

        def change(index: SparseIndex) -> None:
            index.delete(ids)
            keep = [(i, v) for i, v in zip(ids, vectors) if v is not None]
            index.upsert([i for i, _ in keep], [v for _, v in keep])

        # a generation moved by another client meanwhile: the cache cannot follow
        current = (before, mark) if seen == mark else ()
        self._cache.applied(collection, str(handle.id), current, after, change)

    @staticmethod
    def _clear_stale_keys(handle: Any, chunk: Sequence[layout.Record]) -> None:
        """Chroma's upsert *merges* metadata into an existing record: every key the
        new version lacks is set to ``None`` (deleted), so no stale filter key stays."""
        got = handle.get(ids=[r.key for r in chunk], include=["metadatas"])
        old = {key: meta or {} for key, meta in zip(got["ids"], got["metadatas"])}
        for record in chunk:
            for stale in set(old.get(record.key, ())) - set(record.metadata):
                record.metadata[stale] = None

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        """Delete by ids, or by filter (exactly one of them)."""
        require_ids_or_filter(ids, filter)
        _, handle = self._require(collection)
        if ids is not None:
            keys = [layout.encode_id(i) for i in ids]
        else:
            keys = self._matching_keys(collection, handle, to_where(filter))
        if not keys:
            return
        size, done = self._batch(), 0
        before, mark, handle = self._bump(collection, pending=True)  # before any deletion
        try:
            for done in range(0, len(keys), size):
                with self._errors(collection, "delete"):
                    handle.delete(ids=keys[done : done + size])
        except PolyvecError as exc:
            with contextlib.suppress(PolyvecError):
                self._cache.forget(collection)
                self._bump(collection)
            raise WriteError(
                f"Chroma delete from {collection!r} on {self.display_url} failed after "
                f"{done} of {len(keys)} document(s) ({exc})",
                written=[layout.decode_id(k) for k in keys[:done]],
                failed=[layout.decode_id(k) for k in keys[done:]],
            ) from exc
        seen, after, handle = self._bump(collection)
        gone = [layout.decode_id(k) for k in keys]
        current = (before, mark) if seen == mark else ()
        self._cache.applied(collection, str(handle.id), current, after, lambda ix: ix.delete(gone))

    def _matching_keys(self, name: str, handle: Any, where: dict[str, Any] | None) -> list[str]:
        if where is NOTHING:
            return []
        keys: list[str] = []
        size = self._batch()
        while True:
            with self._errors(name, "get"):
                got = handle.get(where=where, include=[], limit=size, offset=len(keys))
            keys.extend(got["ids"])
            if len(got["ids"]) < size:
                return keys

    # -- reads ------------------------------------------------------------------------
    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        """The documents with these ids that exist, in the order of ``ids``."""
        _, handle = self._require(collection)
        keys = list(dict.fromkeys(layout.encode_id(i) for i in ids))
        found: dict[str, Document] = {}
        size = self._batch()
        for start in range(0, len(keys), size):
            found.update(self._fetch(collection, handle, keys[start : start + size], with_vectors))
        return [found[k] for k in (layout.encode_id(i) for i in ids) if k in found]

    def _fetch(
        self,
        name: str,
        handle: Any,
        keys: list[str],
        with_vectors: bool,
        where: dict[str, Any] | None = None,
    ) -> dict[str, Document]:
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        with self._errors(name, "get"):
            got = handle.get(ids=keys, where=where, include=include)
        return layout.documents(got, with_vectors)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        _, handle = self._require(collection)
        where = to_where(filter)
        if where is None:
            with self._errors(collection, "count"):
                return int(handle.count())
        return len(self._matching_keys(collection, handle, where))

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        """Every document (matching ``filter``), in batches of ``batch_size``."""
        _, handle = self._require(collection)
        where = to_where(filter)
        if where is NOTHING:
            return
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        offset = 0
        while True:
            with self._errors(collection, "get"):
                got = handle.get(where=where, include=include, limit=batch_size, offset=offset)
            docs = list(layout.documents(got, with_vectors).values())
            if docs:
                yield docs
            if len(got["ids"]) < batch_size:
                return
            offset += len(got["ids"])

    # -- search -----------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance: cosine similarity, dot product or the
        negated Euclidean distance (Chroma's squared L2 is converted)."""
        spec, handle = self._require(collection)
        query = layout.check_vector(spec, vector, "query vector")
        where = to_where(filter)
        if k <= 0 or where is NOTHING:
            return []
        with self._errors(collection, "query"):
            got = handle.query(
                query_embeddings=query[None, :],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        docs = layout.documents(
            {"ids": got["ids"][0], "documents": got["documents"][0],
             "metadatas": got["metadatas"][0]},
            False,
        )  # fmt: skip
        scored = [
            (docs[key], _score(spec.distance, dist))
            for key, dist in zip(got["ids"][0], got["distances"][0])
        ]
        return layout.hits(scored, spec.distance, "dense")

    def _sparse_index(self, name: str) -> SparseIndex:
        handle = self._handle(name, fresh=True)

        def load() -> Iterator[tuple[DocId, SparseVector | None]]:
            offset, size = 0, self._batch()
            while True:
                with self._errors(name, "get"):
                    got = handle.get(include=["metadatas"], limit=size, offset=offset)
                for key, meta in zip(got["ids"], got["metadatas"]):
                    text = (meta or {}).get(SPARSE_KEY)
                    vector = decode_sparse(text) if isinstance(text, str) else None
                    yield layout.decode_id(key), vector
                if len(got["ids"]) < size:
                    return
                offset += len(got["ids"])

        return self._cache.index(name, str(handle.id), self._generation(handle), load)

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``), emulated client-side over
        the sparse vectors Chroma stores; a filter is applied by Chroma, exactly."""
        spec, handle = self._require(collection)
        layout.check_sparse(spec, vector)
        where = to_where(filter)
        if k <= 0 or not len(vector) or where is NOTHING:
            return []
        index = self._sparse_index(collection)
        chosen: list[tuple[Document, float]] = []
        seen, limit = 0, k if where is None else max(2 * k, 64)
        while len(chosen) < k:
            # candidates best first; Chroma applies the filter (and drops what it no
            # longer holds), in growing rounds until k are found or none are left
            ranked = index.search(vector, limit)
            part = ranked[seen:]
            keys = [layout.encode_id(i) for i, _ in part]
            docs = self._fetch(collection, handle, keys, False, where) if keys else {}
            chosen.extend((docs[key], s) for key, (_, s) in zip(keys, part) if key in docs)
            if len(ranked) < limit:
                break
            seen, limit = len(ranked), limit * 2
        return layout.hits(chosen[:k], "bm25", "sparse")

    # -- polyvec's state --------------------------------------------------------------
    def _state_handle(self, create: bool) -> Any:
        name = self.prefix + layout.STATE_COLLECTION
        with self._errors(layout.STATE_COLLECTION, "state"):
            if create:
                return self.client.get_or_create_collection(name, embedding_function=None)
            try:
                return self.client.get_collection(name, embedding_function=None)
            except NotFoundError:
                raise CollectionNotFoundError(name, "chroma") from None

    def load_state(self, collection: str) -> dict[str, Any] | None:
        self._require(collection)
        try:
            handle = self._state_handle(create=False)
        except CollectionNotFoundError:
            return None
        with self._errors(collection, "get"):
            got = handle.get(ids=[self._physical(collection)], include=["documents"])
        if not got["ids"]:
            return None
        return dict(json.loads(got["documents"][0]))

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        """Persist polyvec's state in a separate collection (``pvx-state``), one record
        per collection, so it is never counted or searched as a document."""
        self._require(collection)
        text = state_json(state)
        handle = self._state_handle(create=True)
        with self._errors(collection, "upsert"):
            handle.upsert(ids=[self._physical(collection)], embeddings=[[0.0]], documents=[text])


def _score(distance: str, value: float) -> float:
    if distance == "l2":
        return -math.sqrt(max(float(value), 0.0))
    return 1.0 - float(value)  # cosine: 1 - cos; ip: 1 - dot

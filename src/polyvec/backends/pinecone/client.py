"""The Pinecone calls polyvec makes, in one place: SDK errors become polyvec errors
(the API key redacted), pages are walked, and polyvec's own records live here.

polyvec's records sit in the namespace ``__polyvec__`` of the index, each with a unit
dense vector: ``spec:<ns>`` (a collection's spec, JSON in ``#spec``), ``state:<ns>``
(the head of its saved state: generation ``#gen`` and chunk count ``#n``) and
``chunk:<gen>:<i>:<ns>`` (the state JSON, 30 000 characters per record). A new state
is written as new chunks, then the head, then the old chunks are deleted, so a reader
sees the old state or the new one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from polyvec.backends.translate import describe, translated
from polyvec.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    MissingDependencyError,
    PolyvecError,
)

try:
    from pinecone.errors.exceptions import (
        ForbiddenError,
        NotFoundError,
        PineconeConnectionError,
        PineconeError,
        PineconeTimeoutError,
        UnauthorizedError,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("pinecone", "pinecone", "the Pinecone backend") from exc

__all__ = ["META_NAMESPACE", "IndexCalls", "IndexInfo"]

META_NAMESPACE = "__polyvec__"
"""The namespace of polyvec's own records: collection specs and BM25 statistics."""

_T = TypeVar("_T")
_SDK_ERRORS = (PineconeError, ConnectionError)
_FETCH_IDS = 100
_STATE_CHUNK = 30_000  # characters of state JSON per record (40 KB of metadata each)


@dataclass(frozen=True)
class IndexInfo:
    """What ``describe_index_stats`` says about the index."""

    dimension: int | None
    metric: str


class IndexCalls:
    """SDK calls on one ``pinecone.Index`` with polyvec's error handling."""

    def __init__(self, index: Any, display_url: str, secret: str | None) -> None:
        self.index = index
        self.display_url = display_url
        self._secret = secret

    # -- errors -----------------------------------------------------------------------
    def redact(self, exc: BaseException) -> str:
        return describe(exc, self._secret)

    def translate(self, exc: BaseException, collection: str | None, op: str) -> PolyvecError:
        text = self.redact(exc)[:500]
        if isinstance(exc, (PineconeConnectionError, PineconeTimeoutError, ConnectionError)):
            return BackendUnavailableError(
                f"cannot reach the Pinecone index at {self.display_url} ({text[:200]}): check "
                "the index host (Pinecone console) and the network"
            )
        if isinstance(exc, (UnauthorizedError, ForbiddenError)):
            return AuthenticationError(
                f"Pinecone at {self.display_url} refused the request ({text[:200]}): "
                "check PINECONE_API_KEY and that the key's project owns this index"
            )
        if isinstance(exc, NotFoundError) and collection is not None:
            return CollectionNotFoundError(collection, "pinecone")
        return BackendError(f"Pinecone {op} failed on {self.display_url}: {text}")

    def call(self, op: str, fn: Callable[..., _T], **kwargs: Any) -> _T:
        """``fn(**kwargs)``, SDK errors translated."""
        with translated(lambda exc: self.translate(exc, None, op), _SDK_ERRORS):
            return fn(**kwargs)

    def call_or_none(self, op: str, fn: Callable[..., _T], **kwargs: Any) -> _T | None:
        """Like :meth:`call`; a 404 (a namespace that does not exist yet) gives ``None``."""
        try:
            return fn(**kwargs)
        except NotFoundError:
            return None
        except _SDK_ERRORS as exc:
            raise self.translate(exc, None, op) from exc

    # -- reads ------------------------------------------------------------------------
    def info(self, metric: str | None) -> IndexInfo:
        stats = self.call("describe_index_stats", self.index.describe_index_stats)
        return IndexInfo(stats.dimension, str(metric or stats.metric or "dotproduct"))

    def vector_count(self, ns: str) -> int:
        stats = self.call("describe_index_stats", self.index.describe_index_stats)
        summary = stats.namespaces.get(ns or "__default__")
        return int(summary.vector_count) if summary is not None else 0

    def fetch(self, ns: str, raw_ids: list[str]) -> dict[str, Any]:
        """The records with these ids (in chunks that keep the GET URL short)."""
        out: dict[str, Any] = {}
        chunk: list[str] = []
        length = 0
        for rid in [*dict.fromkeys(raw_ids), None]:
            if rid is None or len(chunk) >= _FETCH_IDS or length + len(rid) * 3 > 6000:
                if chunk:
                    resp = self.call_or_none("fetch", self.index.fetch, ids=chunk, namespace=ns)
                    out.update(resp.vectors if resp is not None else {})
                chunk, length = [], 0
            if rid is not None:
                chunk.append(rid)
                length += len(rid) * 3
        return out

    def list_ids(self, ns: str, prefix: str | None = None, limit: int = 100) -> Iterator[str]:
        """Every record id of a namespace (starting with ``prefix``), page by page."""
        token: str | None = None
        while True:
            resp = self.call_or_none(
                "list",
                self.index.list_paginated,
                prefix=prefix,
                limit=limit,
                pagination_token=token,
                namespace=ns,
            )
            if resp is None:
                return
            yield from (item.id for item in resp.vectors if item.id)
            token = resp.pagination.next if resp.pagination is not None else None
            if not token or not resp.vectors:
                return

    def by_metadata(self, ns: str, native: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
        """Pages (``{id: record}``) of the records matching a Pinecone filter."""
        token: str | None = None
        while True:
            resp = self.call_or_none(
                "fetch_by_metadata",
                self.index.fetch_by_metadata,
                filter=native,
                namespace=ns,
                limit=limit,
                pagination_token=token,
            )
            if resp is None:
                return
            if resp.vectors:
                yield dict(resp.vectors)
            token = resp.pagination.next if resp.pagination is not None else None
            if not token or not resp.vectors:
                return

    def delete_ids(self, ns: str, raw_ids: list[str]) -> None:
        for start in range(0, len(raw_ids), 1000):
            chunk = raw_ids[start : start + 1000]
            self.call_or_none("delete", self.index.delete, ids=chunk, namespace=ns)

    # -- polyvec's own records --------------------------------------------------------
    def meta_fetch(self, ids: list[str]) -> dict[str, Mapping[str, Any]]:
        found = self.fetch(META_NAMESPACE, ids) if ids else {}
        return {vid: (vec.metadata or {}) for vid, vec in found.items()}

    def meta_upsert(self, records: list[tuple[str, dict[str, Any]]], unit: list[float]) -> None:
        for start in range(0, len(records), 40):
            batch = [
                {"id": rid, "values": unit, "metadata": meta}
                for rid, meta in records[start : start + 40]
            ]
            self.call("upsert", self.index.upsert, vectors=batch, namespace=META_NAMESPACE)

    @staticmethod
    def _chunk_ids(ns: str, head: Mapping[str, Any] | None) -> list[str]:
        gen, n = (head or {}).get("#gen"), (head or {}).get("#n")
        if not isinstance(gen, str) or not isinstance(n, (int, float)):
            return []
        return [f"chunk:{gen}:{i}:{ns}" for i in range(int(n))]

    def load_state(self, ns: str, collection: str) -> dict[str, Any] | None:
        head = self.meta_fetch([f"state:{ns}"]).get(f"state:{ns}")
        if not head:
            return None
        ids = self._chunk_ids(ns, head)
        found = self.fetch(META_NAMESPACE, ids)
        if any(rid not in found for rid in ids):
            raise BackendError(
                f"polyvec's saved state of {collection!r} is incomplete on Pinecone (a write "
                "may still be propagating): retry, or rebuild it by re-adding the documents"
            )
        text = "".join(str((found[rid].metadata or {}).get("#chunk", "")) for rid in ids)
        return dict(json.loads(text))

    def save_state(self, ns: str, text: str, unit: list[float]) -> None:
        old = self.meta_fetch([f"state:{ns}"]).get(f"state:{ns}")
        gen = uuid.uuid4().hex[:16]
        pieces = [text[i : i + _STATE_CHUNK] for i in range(0, len(text), _STATE_CHUNK)] or [""]
        chunks = [(f"chunk:{gen}:{i}:{ns}", {"#chunk": p}) for i, p in enumerate(pieces)]
        self.meta_upsert(chunks, unit)
        self.meta_upsert([(f"state:{ns}", {"#gen": gen, "#n": len(pieces)})], unit)
        self.delete_ids(META_NAMESPACE, self._chunk_ids(ns, old))

    def forget(self, ns: str) -> None:
        """Delete a namespace's spec and state records."""
        head = self.meta_fetch([f"state:{ns}"]).get(f"state:{ns}")
        self.delete_ids(META_NAMESPACE, [*self._chunk_ids(ns, head), f"state:{ns}", f"spec:{ns}"])

"""The client-side sparse index of a Chroma collection, kept as a cache of the engine.

Chroma cannot search sparse vectors, so each record stores its BM25 vector in its
metadata (``pv:sparse``) — the truth — and polyvec searches a
:class:`~polyvec.sparse.index.SparseIndex` built from them. The cache is valid for one
collection id and one *write generation*: a random token in the collection's metadata
(``pv:gen``), checked before every sparse search. When it differs, another client
wrote, and the index is rebuilt from the engine. (A document deleted behind polyvec's
back is harmless: search fetches its hits from Chroma, and what Chroma no longer has is
skipped.) An embedded store keeps the cache in ``<persist dir>/polyvec-sparse/`` so a
restart need not rebuild it; a server's or an in-memory store's is rebuilt on first use.

Every write moves the generation twice: to a *pending* one before its first record
(write-ahead) and to a settled one after its last. A cache is written to disk only at
a settled generation, so a writer killed between Chroma's upsert and the second move
leaves the store at a pending generation that no saved cache can match: the next
process rebuilds from the records instead of trusting a cache that lacks them.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from polyvec.sparse.index import SparseIndex
from polyvec.types import DocId, SparseVector

__all__ = ["CacheEntry", "SparseCache", "is_pending", "new_generation"]

_PENDING = "pending-"

Loader = Callable[[], Iterable[tuple[DocId, SparseVector | None]]]


def new_generation(*, pending: bool = False) -> str:
    """A fresh write generation; ``pending`` marks a write in progress."""
    return (_PENDING if pending else "") + uuid.uuid4().hex


def is_pending(generation: str) -> bool:
    """Whether a write was in progress (or died) at this generation."""
    return generation.startswith(_PENDING)


@dataclass
class CacheEntry:
    index: SparseIndex
    collection_id: str
    generation: str
    dirty: bool = False


class SparseCache:
    """Per-collection sparse indexes, validated against (collection id, generation);
    ``directory`` (embedded stores) persists them across restarts."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._entries: dict[str, CacheEntry] = {}
        self._lock = threading.RLock()

    def _file(self, collection_id: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{collection_id}.npz"

    def index(self, name: str, collection_id: str, generation: str, load: Loader) -> SparseIndex:
        """The index of a collection in this state, rebuilt with ``load`` if stale."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and (entry.collection_id, entry.generation) == (
                collection_id,
                generation,
            ):
                return entry.index
            entry = self._from_disk(collection_id, generation)
            if entry is None:
                index = SparseIndex()
                ids: list[DocId] = []
                vectors: list[SparseVector] = []
                for doc_id, vector in load():
                    if vector is not None:
                        ids.append(doc_id)
                        vectors.append(vector)
                index.upsert(ids, vectors)
                entry = CacheEntry(index, collection_id, generation, dirty=True)
            self._entries[name] = entry
            return entry.index

    def _from_disk(self, collection_id: str, generation: str) -> CacheEntry | None:
        path = self._file(collection_id)
        if path is None or is_pending(generation) or not path.exists():
            return None
        try:
            index, meta = SparseIndex.load(path)
        except Exception:  # a torn or old file is only a cache: rebuild it
            return None
        if meta.get("generation") != generation:
            return None
        return CacheEntry(index, collection_id, generation)

    def applied(
        self,
        name: str,
        collection_id: str,
        current: Collection[str],
        after: str,
        change: Callable[[SparseIndex], None],
    ) -> None:
        """Record a write: when the cache was at one of the generations in ``current``
        (the one before the write, or the write's own pending one), apply ``change``
        to it and move it to ``after``; otherwise forget it (the next search
        rebuilds)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            if entry.collection_id != collection_id or entry.generation not in current:
                del self._entries[name]
                return
            change(entry.index)
            entry.generation, entry.dirty = after, True

    def forget(self, name: str, collection_id: str | None = None) -> None:
        """Drop a collection's cache (and its file, given the collection id)."""
        with self._lock:
            entry = self._entries.pop(name, None)
            cid = collection_id or (entry.collection_id if entry else None)
            path = self._file(cid) if cid else None
            if path is not None:
                path.unlink(missing_ok=True)

    def flush(self) -> None:
        """Write changed caches to disk (embedded stores only; best effort)."""
        with self._lock:
            for entry in self._entries.values():
                path = self._file(entry.collection_id)
                if path is None or not entry.dirty or is_pending(entry.generation):
                    continue  # a cache at a pending generation may lack the pending write
                with contextlib.suppress(OSError):
                    entry.index.save(path, {"generation": entry.generation})
                    entry.dirty = False

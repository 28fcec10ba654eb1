"""The client-side sparse leg of the Weaviate backend (Weaviate cannot search polyvec's
sparse vectors): one :class:`~polyvec.sparse.index.SparseIndex` per collection, built
from the vectors stored in the objects (``pv_sparse_i``/``pv_sparse_v``), kept current
by this backend's own writes, and rebuilt when the collection's object count no longer
matches it (a write from elsewhere). Scores are exact polyvec BM25 dot products.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from polyvec.sparse.index import SparseIndex
from polyvec.types import DocId, Document, SparseVector

__all__ = ["SparseCache"]

_EMPTY = SparseVector((), ())


class SparseCache:
    """Sparse indexes by collection; every object is indexed (an empty vector where it
    has none), so ``len(index)`` is comparable with the collection's object count."""

    def __init__(self) -> None:
        self._indexes: dict[str, SparseIndex] = {}
        self._lock = threading.Lock()

    def index(
        self, collection: str, count: int, load: Callable[[], Iterable[list[Document]]]
    ) -> SparseIndex:
        """The index of ``collection`` (``count`` objects), loaded when stale."""
        with self._lock:
            cached = self._indexes.get(collection)
            if cached is not None and len(cached) == count:
                return cached
        index = SparseIndex()
        for batch in load():
            index.upsert([d.id for d in batch], [d.sparse or _EMPTY for d in batch])
        with self._lock:
            self._indexes[collection] = index
        return index

    def update(self, collection: str, documents: Sequence[Document]) -> None:
        with self._lock:
            cached = self._indexes.get(collection)
            if cached is not None:
                cached.upsert([d.id for d in documents], [d.sparse or _EMPTY for d in documents])

    def delete(self, collection: str, ids: Sequence[DocId]) -> None:
        with self._lock:
            cached = self._indexes.get(collection)
            if cached is not None:
                cached.delete(ids)

    def forget(self, collection: str) -> None:
        with self._lock:
            self._indexes.pop(collection, None)

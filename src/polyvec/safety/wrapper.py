"""A :class:`~polyvec.backends.base.Backend` that delegates every call to another one.

The safety layers (:mod:`~polyvec.safety.retry`, :mod:`~polyvec.safety.readonly`,
:mod:`~polyvec.safety.encryption`) subclass it and override only what they change, so
they stack over any backend::

    backend = ReadOnlyBackend(RetryingBackend(open_backend(url)))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.facets import DEFAULT_SCAN_LIMIT, Facets
from polyvec.filters.ast import Filter
from polyvec.fusion import Fusion
from polyvec.stats import EngineStats
from polyvec.types import DocId, Document, Hit, SparseVector

__all__ = ["BackendWrapper"]


class BackendWrapper(Backend):
    """Delegates everything to ``inner``; ``capabilities`` are the inner backend's."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        # ``capabilities`` is a class attribute on real backends; a wrapper mirrors the
        # instance it wraps.
        setattr(self, "capabilities", inner.capabilities)  # noqa: B010
        self.max_exact_int = inner.max_exact_int

    def unwrap(self) -> Backend:
        """The innermost (real) backend."""
        inner = self.inner
        return inner.unwrap() if isinstance(inner, BackendWrapper) else inner

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inner!r}>"

    def create_collection(self, spec: CollectionSpec) -> None:
        self.inner.create_collection(spec)

    def get_spec(self, name: str) -> CollectionSpec | None:
        return self.inner.get_spec(name)

    def list_collections(self) -> list[str]:
        return self.inner.list_collections()

    def drop_collection(self, name: str) -> None:
        self.inner.drop_collection(name)

    def check_documents(self, documents: Sequence[Document]) -> None:
        self.inner.check_documents(documents)

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self.inner.upsert(collection, documents)

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        return self.inner.get(collection, ids, with_vectors=with_vectors)

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        self.inner.delete(collection, ids=ids, filter=filter)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return self.inner.count(collection, filter)

    def optimize(self, collection: str) -> bool:
        return self.inner.optimize(collection)

    def facet(
        self,
        collection: str,
        field: str,
        *,
        filter: Filter | None = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        return self.inner.facet(
            collection, field, filter=filter, limit=limit, scan_limit=scan_limit
        )

    def collection_stats(self, collection: str) -> EngineStats:
        return self.inner.collection_stats(collection)

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        return self.inner.scroll(
            collection, filter=filter, batch_size=batch_size, with_vectors=with_vectors
        )

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return self.inner.search_dense(collection, vector, k, filter)

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return self.inner.search_sparse(collection, vector, k, filter)

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
    ) -> list[Hit]:
        return self.inner.search_hybrid(
            collection, dense, sparse, k, fusion=fusion, candidates=candidates, filter=filter
        )

    def load_state(self, collection: str) -> dict[str, Any] | None:
        return self.inner.load_state(collection)

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        self.inner.save_state(collection, state)

    def write_section(self, collection: str) -> AbstractContextManager[bool]:
        return self.inner.write_section(collection)

    def close(self) -> None:
        self.inner.close()

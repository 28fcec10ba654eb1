"""Read-only access: every write is refused with ``ReadOnlyError`` before it is sent.

::

    backend = ReadOnlyBackend(open_backend("postgresql://reader@db/rag"))
    coll = Collection(backend, "docs", create=False)   # search, get, count, scroll work
    coll.add([...])                                     # ReadOnlyError

This guards polyvec's side. Give the database user read-only rights as well where
the engine has users (PostgreSQL roles, Qdrant read-only API keys): that is the
guarantee; this layer makes the mistake loud and early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from polyvec.backends.base import CollectionSpec
from polyvec.errors import ReadOnlyError
from polyvec.filters.ast import Filter
from polyvec.safety.wrapper import BackendWrapper
from polyvec.types import DocId, Document

__all__ = ["ReadOnlyBackend"]


class ReadOnlyBackend(BackendWrapper):
    """Reads pass through; create, drop, upsert, delete and save_state raise."""

    def _refuse(self, operation: str, collection: str) -> NoReturn:
        raise ReadOnlyError(operation, f"collection {collection!r}")

    def create_collection(self, spec: CollectionSpec) -> None:
        self._refuse("create a collection", spec.name)

    def drop_collection(self, name: str) -> None:
        self._refuse("drop a collection", name)

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self._refuse(f"write {len(documents)} document(s)", collection)

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        self._refuse("delete documents", collection)

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        self._refuse("save polyvec's state", collection)

"""polyvec's per-collection state (BM25 statistics) on Weaviate: objects of one
collection, ``<prefix>State`` (``PolyvecState``), never counted as documents.

A state is a head object (UUIDv5 of the collection's Weaviate name: generation
``pv_gen``, chunk count ``pv_n``) and chunk objects of up to 1 MB of JSON each
(``pv_data``). A new state is written as new chunks, then the head, then the old chunks
are deleted, so a reader sees the old state or the new one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from polyvec.backends.weaviate.connection import Calls, weaviate_property
from polyvec.errors import BackendError

__all__ = ["StateStore"]

_CHUNK = 1_000_000


def _uuid(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"polyvec-state:{key}"))


class StateStore:
    """Load, save and delete the state of polyvec collections (by Weaviate name)."""

    def __init__(self, client: Any, calls: Calls, prefix: str) -> None:
        self.client = client
        self.calls = calls
        self.name = f"{prefix}State"

    def _handle(self, create: bool) -> Any:
        if not self.calls("exists", self.client.collections.exists, name=self.name):
            if not create:
                return None
            props = [
                weaviate_property("pv_data", "text"),
                weaviate_property("pv_gen", "text"),
                weaviate_property("pv_n", "int"),
            ]
            self.calls("create state", self.client.collections.create, name=self.name,
                       properties=props)  # fmt: skip
        return self.client.collections.use(self.name)

    def _head(self, handle: Any, cls: str) -> tuple[str, int] | None:
        got = self.calls(
            "fetch state", handle.query.fetch_objects_by_ids, ids=[_uuid(cls)], limit=1
        )
        if not got.objects:
            return None
        props = got.objects[0].properties or {}
        return str(props.get("pv_gen")), int(props.get("pv_n") or 0)

    def load(self, cls: str) -> dict[str, Any] | None:
        handle = self._handle(create=False)
        head = self._head(handle, cls) if handle is not None else None
        if head is None:
            return None
        gen, n = head
        ids = [_uuid(f"{cls}:{gen}:{i}") for i in range(n)]
        got = self.calls("fetch state", handle.query.fetch_objects_by_ids, ids=ids, limit=max(n, 1))
        parts = {str(o.uuid): str((o.properties or {}).get("pv_data", "")) for o in got.objects}
        if any(i not in parts for i in ids):
            raise BackendError(f"polyvec's saved state of {cls!r} on Weaviate is incomplete")
        return dict(json.loads("".join(parts[i] for i in ids)))

    def save(self, cls: str, text: str) -> None:
        from weaviate.classes.data import DataObject

        handle = self._handle(create=True)
        old = self._head(handle, cls)
        gen = uuid.uuid4().hex[:16]
        pieces = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
        objects = [
            DataObject(properties={"pv_data": p}, uuid=_uuid(f"{cls}:{gen}:{i}"))
            for i, p in enumerate(pieces)
        ]
        head: dict[str, Any] = {"pv_gen": gen, "pv_n": len(pieces)}
        objects.append(DataObject(properties=head, uuid=_uuid(cls)))
        for obj in objects:  # one per request: chunks can be large
            self.calls("write state", handle.data.insert_many, objects=[obj])
        if old is not None and old[1]:
            self._delete(handle, [_uuid(f"{cls}:{old[0]}:{i}") for i in range(old[1])])

    def delete(self, cls: str) -> None:
        handle = self._handle(create=False)
        if handle is None:
            return
        head = self._head(handle, cls)
        stale = [_uuid(cls)]
        if head is not None:
            stale += [_uuid(f"{cls}:{head[0]}:{i}") for i in range(head[1])]
        self._delete(handle, stale)

    def _delete(self, handle: Any, ids: list[str]) -> None:
        from weaviate.classes.query import Filter

        where = Filter.by_id().contains_any(ids)
        self.calls("delete state", handle.data.delete_many, where=where)

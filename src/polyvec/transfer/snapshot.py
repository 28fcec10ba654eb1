"""Native engine snapshots, where an engine has them: today a Qdrant **server**.

::

    from polyvec.transfer.snapshot import create_snapshot, restore_snapshot, supports_snapshots

    if supports_snapshots(backend):
        create_snapshot(backend, "docs", "docs.snapshot")       # the engine's own archive
        restore_snapshot(other_backend, "docs", "docs.snapshot")

A snapshot is the engine's binary archive of one collection (segments, indexes,
configuration, polyvec's spec and state in the collection metadata): fast to take and
to restore, but only into the same engine (and a compatible version). For a portable,
verified copy between any backends use ``polyvec export`` / ``polyvec migrate``.

Where snapshots are not available, and why:

* Qdrant **local mode** (``qdrant+local://``, ``qdrant+memory://``): qdrant-client
  raises ``NotImplementedError`` ("Snapshots are not supported in the local Qdrant").
* **qdrant-edge** (the embedded default): the engine can *restore* a shard snapshot a
  Qdrant server made (``EdgeShard.unpack_snapshot``), but cannot create one.
* pgvector, Chroma, Milvus Lite: no snapshot API in polyvec; use the engine's own tools
  (``pg_dump``, copying a stopped store's directory) or ``polyvec export``.

The Qdrant server path (``QdrantBackend.create_snapshot`` / ``restore_snapshot``) was
not run against a real server in polyvec's tests: none can run in the test
environment. Only the refusals above are tested.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from polyvec.backends.base import Backend
from polyvec.errors import ConfigurationError

__all__ = ["SnapshotBackend", "create_snapshot", "restore_snapshot", "supports_snapshots"]


@runtime_checkable
class SnapshotBackend(Protocol):
    """A backend whose engine takes native snapshots (when ``supports_snapshots()``)."""

    def supports_snapshots(self) -> bool: ...

    def create_snapshot(self, collection: str, path: str | os.PathLike[str]) -> str: ...

    def restore_snapshot(self, collection: str, path: str | os.PathLike[str]) -> None: ...


def _native(backend: Backend) -> Backend:
    from polyvec.safety.wrapper import BackendWrapper

    return backend.unwrap() if isinstance(backend, BackendWrapper) else backend


def supports_snapshots(backend: Backend) -> bool:
    """Whether ``backend`` (or the backend it wraps) can take native snapshots."""
    native = _native(backend)
    return isinstance(native, SnapshotBackend) and native.supports_snapshots()


def _require(backend: Backend) -> SnapshotBackend:
    native = _native(backend)
    if not (isinstance(native, SnapshotBackend) and native.supports_snapshots()):
        engine = backend.capabilities.backend
        raise ConfigurationError(
            f"the {engine} backend here ({native!r}) has no native snapshots (only a Qdrant "
            "server has them; see polyvec.transfer.snapshot): use `polyvec export` for a "
            "portable backup instead"
        )
    return native


def create_snapshot(backend: Backend, collection: str, path: str | os.PathLike[str]) -> str:
    """Write the engine's snapshot of ``collection`` to ``path``; returns its name on
    the server. ``ConfigurationError`` where the engine has none."""
    return _require(backend).create_snapshot(collection, path)


def restore_snapshot(backend: Backend, collection: str, path: str | os.PathLike[str]) -> None:
    """Restore ``collection`` from a snapshot file (it replaces what the collection holds).
    Refused on a read-only backend (``ReadOnlyError``)."""
    from polyvec.safety.readonly import ReadOnlyBackend

    layer: Backend | None = backend
    while layer is not None:  # a read-only layer anywhere in the stack refuses the write
        if isinstance(layer, ReadOnlyBackend):
            from polyvec.errors import ReadOnlyError

            raise ReadOnlyError("restore a snapshot", f"collection {collection!r}")
        layer = getattr(layer, "inner", None)
    _require(backend).restore_snapshot(collection, path)

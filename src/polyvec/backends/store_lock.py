"""One process per embedded store: an OS lock file beside the store, held while open.

The embedded engines (Qdrant Edge, qdrant-client local mode, Chroma's PersistentClient,
Milvus Lite) assume one writer process. Without a lock taken *before* the store exists,
two processes creating the same store both "win": each writes into files the other
deletes or rewrites, and acknowledged writes vanish. So every embedded backend calls
:func:`acquire` before its engine opens or creates anything::

    <parent>/<store>                   the store (a directory, or Milvus Lite's file)
    <parent>/.<store>.polyvec-lock     the lock file (holds the owner's pid, for errors)

The lock is ``flock(LOCK_EX | LOCK_NB)``: the kernel drops it when the process dies, so
a crash never leaves a stale lock. A second process fails at once with
``StoreLockedError`` rather than waiting: a wait on a long-lived owner would hang with
no hint why. Within one process, opens of the same store share the lock (counted), so
what the engine itself allows there (several clients on one store) is unchanged. The
lock file is never deleted: deleting it would let a process that opened the old file
and one that creates a new one both hold "the" lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from polyvec.errors import BackendError, ConfigurationError, StoreLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_SUFFIX", "StoreLock", "acquire", "lock_path"]

LOCK_SUFFIX = ".polyvec-lock"


def lock_path(store: str | os.PathLike[str]) -> Path:
    """The lock file of a store: a hidden file beside it (never inside it, where an
    engine might take it for one of its own files).

    >>> lock_path("/data/.polyvec/data")
    PosixPath('/data/.polyvec/.data.polyvec-lock')
    """
    where = Path(store).expanduser()
    return where.parent / f".{where.name}{LOCK_SUFFIX}"


@dataclass
class _Held:
    fd: int
    count: int
    sections: dict[str, threading.RLock] = field(default_factory=dict)


_held: dict[str, _Held] = {}  # lock file (resolved) -> this process's flock on it
_guard = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child shares the parent's lock descriptions; closing its copies leaves
    # the parent's lock in place, and the child must take its own to open the store.
    global _guard
    _guard = threading.Lock()  # another thread may have held it at the fork
    for held in _held.values():
        with contextlib.suppress(OSError):
            os.close(held.fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


@dataclass
class StoreLock:
    """This backend's share of the process's lock on one store; :meth:`release` is
    idempotent (close calls it, so does garbage collection of an unclosed backend)."""

    store: str
    path: str
    _released: bool = field(default=False, repr=False)

    @contextlib.contextmanager
    def section(self, collection: str) -> Iterator[bool]:
        """A write section of ``collection`` (see ``Backend.write_section``): exclusive,
        as this process alone holds the store and its threads take turns here."""
        with _guard:
            held = _held.get(self.path)
            if held is None or self._released:
                raise BackendError(f"the embedded store {self.store} is closed: open it again")
            turn = held.sections.setdefault(collection, threading.RLock())
        with turn:
            yield True

    def release(self) -> None:
        with _guard:
            if self._released:
                return
            self._released = True
            held = _held.get(self.path)
            if held is None:
                return
            held.count -= 1
            if held.count <= 0:
                del _held[self.path]
                os.close(held.fd)  # closing the only description drops the flock


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _open(path: Path, store: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the lock file {path} for the embedded store {store} "
            f"({exc.strerror}): polyvec locks an embedded store so that one process uses it "
            "at a time; make its directory writable, or use a server engine"
        ) from exc


def acquire(store: str | os.PathLike[str], engine: str, owner: object = None) -> StoreLock:
    """Lock ``store`` (which need not exist yet) for this process, or raise
    ``StoreLockedError`` naming the store and the process that holds it. Call it before
    the engine opens or creates any file of the store; ``owner`` (the backend) releases
    its share if it is garbage-collected without being closed."""
    lock = _acquire(store, engine)
    if owner is not None:
        weakref.finalize(owner, lock.release)
    return lock


def _acquire(store: str | os.PathLike[str], engine: str) -> StoreLock:
    if fcntl is None:  # pragma: no cover - Windows
        raise ConfigurationError(
            f"the {engine} embedded store needs POSIX file locks (fcntl), which this platform "
            "lacks: use the engine's server instead"
        )
    where = Path(store).expanduser()
    where.parent.mkdir(parents=True, exist_ok=True)  # as the engine would, to create it
    path = lock_path(where.resolve())  # one lock whichever path (or symlink) names it
    key = str(path)
    shown = str(where)
    with _guard:
        held = _held.get(key)
        if held is not None:
            held.count += 1
            return StoreLock(shown, key)
        fd = _open(path, shown)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StoreLockedError(shown, engine, holder) from None
            raise ConfigurationError(
                f"cannot lock {path} for the embedded store {shown} ({exc.strerror}): "
                "the file system may not support file locks; put the store on a local disk"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[key] = _Held(fd, 1)
        return StoreLock(shown, key)

"""Whether another process serves a Milvus Lite database file.

Milvus Lite locks ``<dir>/.<file>.lock`` (a POSIX ``lockf`` lock) while a process
serves the file; a second process then gets only pymilvus' "Open local milvus failed"
— and Milvus Lite 2.5.1 *deletes that lock file* as its failed start is cleaned up, so
afterwards nothing on disk shows the file is in use. polyvec's own store lock
(:mod:`polyvec.backends.store_lock`) stops a second polyvec process first; this probe,
run before Milvus Lite is asked to start, names the cause when the holder is some
other program.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: Milvus Lite does not run there
    fcntl = None  # type: ignore[assignment]

__all__ = ["lite_file_in_use"]


def _served_here(db_file: Path) -> bool:
    """Whether this process already runs the Milvus Lite server of ``db_file``."""
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return False
    servers = getattr(server_manager_instance, "_servers", None)
    # unknown layout: assume served, so that the probe below never runs on our own lock
    return True if not isinstance(servers, dict) else str(db_file.resolve()) in servers


def lite_file_in_use(db_file: str) -> bool:
    """True when another process holds Milvus Lite's lock on ``db_file``.

    Never probes a file this process serves: closing the probe's descriptor would drop
    this process's own POSIX lock, and with it its Milvus Lite server."""
    where = Path(db_file).expanduser().absolute()
    lock = where.parent / f".{where.name}.lock"
    if fcntl is None or not lock.exists() or _served_here(where):
        return False
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)

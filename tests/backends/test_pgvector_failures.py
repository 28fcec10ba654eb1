"""The pgvector backend when the connection or the server goes away.

A batch is one transaction: a connection dropped in the middle of the COPY leaves
nothing behind (proved by counting afterwards); the backend either retries the whole
batch or raises ``WriteError`` naming every id. An unreachable server raises
``BackendUnavailableError`` with the URL but never the password.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from polyvec import Document
from polyvec.backends.base import CollectionSpec
from polyvec.errors import BackendUnavailableError, WriteError
from tests.conftest import engine_for

pytestmark = pytest.mark.pgvector

psycopg = pytest.importorskip("psycopg")
from polyvec.backends.pgvector import PgVectorBackend  # noqa: E402
from polyvec.backends.pgvector import backend as backend_module  # noqa: E402

DIM = 16


def _docs(start: int, n: int, dim: int = DIM) -> list[Document]:
    rng = np.random.default_rng(start)
    return [
        Document(i, f"doc {i}", {"n": i}, dense=rng.normal(size=dim).astype(np.float32))
        for i in range(start, start + n)
    ]


@pytest.fixture
def server_uri(engines) -> str:
    engine = engine_for(engines, "pgvector")
    assert engine.url is not None
    return engine.url("pgvector", "unused").split("&schema=")[0]


@pytest.fixture
def make(server_uri: str) -> Iterator:
    made: list[PgVectorBackend] = []
    app = f"pvtest-{uuid.uuid4().hex[:8]}"

    def factory(**options) -> PgVectorBackend:
        options.setdefault("schema", f"f{uuid.uuid4().hex[:10]}")
        backend = PgVectorBackend(f"{server_uri}&application_name={app}", pool_max=2, **options)
        made.append(backend)
        return backend

    factory.app = app  # type: ignore[attr-defined]
    yield factory
    for backend in made:
        backend.close()


def _break_copy_once(monkeypatch, uri: str, times: int = 1) -> list[int]:
    """Make the next ``times`` COPYs lose their connection half-way through."""
    killed: list[int] = []
    real = backend_module.write_rows

    def breaking(copy, rows):
        if len(killed) >= times:
            return real(copy, rows)
        half = len(rows) // 2
        real(copy, rows[:half])
        pid = copy.connection.info.backend_pid
        with psycopg.connect(uri, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # waits for it
        killed.append(pid)
        return real(copy, rows[half:])

    monkeypatch.setattr(backend_module, "write_rows", breaking)
    return killed


def test_connection_dropped_mid_copy_is_reported_never_half_written(make, server_uri, monkeypatch):
    pg = make(write_retries=0)
    pg.create_collection(CollectionSpec("c", DIM))
    pg.upsert("c", _docs(0, 10))
    killed = _break_copy_once(monkeypatch, server_uri)
    batch = [*_docs(10, 400), Document(3, "replaced", dense=np.ones(DIM))]
    with pytest.raises(WriteError) as err:
        pg.upsert("c", batch)
    assert killed
    assert err.value.written == []
    assert sorted(err.value.failed) == sorted(d.id for d in batch)
    assert "connection" in str(err.value) and "re-running the same write is safe" in str(err.value)
    # nothing of the batch is there, and what was there is untouched
    assert pg.count("c") == 10
    assert pg.get("c", [10, 200, 409]) == []
    assert pg.get("c", [3])[0].text == "doc 3"
    # the same call again succeeds (idempotent)
    pg.upsert("c", batch)
    assert pg.count("c") == 410


def test_connection_dropped_mid_copy_is_retried(make, server_uri, monkeypatch):
    pg = make(write_retries=1)
    pg.create_collection(CollectionSpec("c", DIM))
    killed = _break_copy_once(monkeypatch, server_uri)
    pg.upsert("c", _docs(0, 300))
    assert len(killed) == 1
    assert pg.count("c") == 300
    assert len({d.id for page in pg.scroll("c", batch_size=1000) for d in page}) == 300


def test_retries_exhausted_raise_write_error(make, server_uri, monkeypatch):
    pg = make(write_retries=2)
    pg.create_collection(CollectionSpec("c", DIM))
    killed = _break_copy_once(monkeypatch, server_uri, times=3)
    with pytest.raises(WriteError, match="dropped 3 time"):
        pg.upsert("c", _docs(0, 50))
    assert len(killed) == 3
    assert pg.count("c") == 0


def test_a_copy_killed_from_outside_leaves_all_or_nothing(make, server_uri):
    """No hook: a second connection terminates whichever session runs our COPY."""
    pg = make(write_retries=0)
    pg.create_collection(CollectionSpec("c", 64, options={"index": "none"}))
    pg.upsert("c", _docs(0, 5, dim=64))
    batch = _docs(5, 4000, dim=64)
    stop = threading.Event()
    hits: list[int] = []

    def killer() -> None:
        with psycopg.connect(server_uri, autocommit=True) as conn:
            while not stop.is_set() and not hits:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                    "AND query LIKE 'COPY%%' AND state = 'active'",
                    [make.app],
                ).fetchall()
                for (pid,) in rows:
                    conn.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
                    hits.append(pid)
                time.sleep(0.001)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        pg.upsert("c", batch)
        outcome = "written"
    except WriteError as exc:
        assert len(exc.failed) == len(batch)
        outcome = "refused"
    finally:
        stop.set()
        thread.join()
    assert pg.count("c") == (5 + len(batch) if outcome == "written" else 5)


def test_dead_pooled_connections_are_replaced_transparently(make, server_uri):
    pg = make()
    pg.create_collection(CollectionSpec("c", DIM))
    pg.upsert("c", _docs(0, 20))
    assert pg.count("c") == 20
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = %s",
            [make.app],
        )
    assert pg.count("c") == 20  # a read is retried on a fresh connection
    pg.upsert("c", _docs(20, 5))
    assert pg.count("c") == 25


@pytest.mark.parametrize(
    "conninfo",
    [
        "postgresql://alice:s3cret-pw@127.0.0.1:1/app",
        "postgres://alice:s3cret-pw@127.0.0.1:1/app?sslmode=disable",
        "host=127.0.0.1 port=1 user=alice password=s3cret-pw dbname=app",
        "postgresql://alice@127.0.0.1:1/app?password=s3cret-pw",
    ],
)
def test_unreachable_server_names_the_url_but_not_the_password(conninfo, caplog):
    pg = PgVectorBackend(conninfo, connect_timeout=2)
    assert "s3cret-pw" not in repr(pg)
    with pytest.raises(BackendUnavailableError) as err:
        pg.count("c")
    message = str(err.value)
    assert "s3cret-pw" not in message
    assert "127.0.0.1" in message and "***" in message
    assert "check that the server is running" in message
    assert "s3cret-pw" not in caplog.text
    pg.close()


@pytest.fixture
def own_server() -> Iterator[dict]:
    """A second, throwaway server that this test may stop, crash and restart (in its own
    /tmp directory: see tests/engines/pgvector.py for why not pytest's tmp_path)."""
    from tests.engines.pgvector import start_server

    server = start_server()
    info = {"uri": server.uri, "pid": server.pid, "server": server}
    try:
        yield info
    finally:
        _stop(info["pid"])
        shutil.rmtree(server.root, ignore_errors=True)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_server_stopped_mid_batch_then_restarted(own_server, monkeypatch):
    pg = PgVectorBackend(own_server["uri"], pool_max=2, pool_timeout=2, write_retries=1)
    try:
        pg.create_collection(CollectionSpec("c", DIM))
        pg.upsert("c", _docs(0, 10))
        real = backend_module.write_rows

        def stop_server(copy, rows):
            real(copy, rows[: len(rows) // 2])
            _stop(own_server["pid"])
            real(copy, rows[len(rows) // 2 :])

        monkeypatch.setattr(backend_module, "write_rows", stop_server)
        batch = _docs(10, 200)
        with pytest.raises(WriteError) as err:
            pg.upsert("c", batch)
        assert sorted(err.value.failed) == sorted(d.id for d in batch)
        monkeypatch.setattr(backend_module, "write_rows", real)
        with pytest.raises(BackendUnavailableError):
            pg.count("c")
        own_server["server"].restart()  # same data directory, same socket
        own_server["pid"] = own_server["server"].pid
        deadline = time.monotonic() + 20
        while True:  # the pool reconnects in the background
            try:
                assert pg.count("c") == 10  # nothing of the interrupted batch
                break
            except BackendUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        pg.upsert("c", batch)
        assert pg.count("c") == 210
    finally:
        pg.close()

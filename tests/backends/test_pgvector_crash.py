"""A statement the PostgreSQL server process dies on is sent at most twice.

When a server process crashes (an engine built for another CPU dies with SIGILL on its
first vector comparison), PostgreSQL drops every other connection and runs crash
recovery. Re-sending the same statement over and over crashes the whole shared server
each time, so polyvec retries such a statement once, then raises a ``BackendError`` that
says the server crashed on it and where the log is — not retryable, so a
``RetryingBackend`` does not start the loop again either.

The crash is real: the test kills the server process that serves polyvec's connection
with SIGILL just before the statement runs, on a throwaway server of its own.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyvec import Document
from polyvec.backends.base import CollectionSpec
from polyvec.errors import BackendError, BackendUnavailableError, WriteError
from polyvec.safety.retry import RetryingBackend, RetryPolicy, is_retryable

pytestmark = pytest.mark.pgvector

psycopg = pytest.importorskip("psycopg")
from polyvec.backends.pgvector import PgVectorBackend  # noqa: E402
from polyvec.backends.pgvector import backend as backend_module  # noqa: E402
from polyvec.backends.pgvector.session import Session  # noqa: E402

DIM = 8


@pytest.fixture
def server() -> Iterator:
    from tests.engines.pgvector import start_server

    started = start_server()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def backend(server) -> Iterator[PgVectorBackend]:
    pg = PgVectorBackend(server.uri, schema="crash", pool_max=2, pool_timeout=30)
    pg.server_log = server.log
    pg.create_collection(CollectionSpec("c", DIM))
    pg.upsert("c", _docs(0, 5))
    try:
        yield pg
    finally:
        pg.close()


def _docs(start: int, n: int) -> list[Document]:
    rng = np.random.default_rng(start)
    return [
        Document(i, f"doc {i}", {"n": i}, dense=rng.normal(size=DIM).astype(np.float32))
        for i in range(start, start + n)
    ]


def _die(conn) -> None:
    """Kill the server process behind ``conn`` with SIGILL, as a CPU-incompatible
    instruction would, and wait until it is gone."""
    pid = conn.info.backend_pid
    os.kill(pid, signal.SIGILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def _crashes_logged(log: Path, expected: int) -> int:
    """How many SIGILL deaths the log records, once it records ``expected`` of them (the
    postmaster logs a death a moment after the client sees it) or 30 s have passed."""
    deadline = time.monotonic() + 30
    while True:
        found = log.read_text(errors="replace").count("terminated by signal 4")
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _wait_until_up(pg: PgVectorBackend) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            pg.count("c")
            return
        except (BackendUnavailableError, BackendError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_query_the_server_dies_on_is_sent_twice_then_reported(backend, server, monkeypatch):
    real = Session.fetch
    sent = []

    def fetch_then_die(self, conn, *args, **kwargs):
        sent.append(1)
        _die(conn)
        return real(self, conn, *args, **kwargs)

    monkeypatch.setattr(Session, "fetch", fetch_then_die)
    with pytest.raises(BackendError) as err:
        backend.search_dense("c", np.ones(DIM, dtype=np.float32), 3)
    assert len(sent) == 2  # the first try and one retry: never a loop
    assert _crashes_logged(server.log, 2) == 2
    message = str(err.value)
    assert "crashed twice" in message and "not sent again" in message
    assert str(server.log) in message
    assert "terminated by signal 4: Illegal instruction" in message  # read from the log
    assert not isinstance(err.value, BackendUnavailableError)
    assert not is_retryable(err.value)

    monkeypatch.setattr(Session, "fetch", real)
    _wait_until_up(backend)  # the server recovered: the same backend works again
    assert len(backend.search_dense("c", np.ones(DIM, dtype=np.float32), 3)) == 3


def test_a_write_the_server_dies_on_is_sent_twice_and_not_retried_by_the_wrapper(
    backend, server, monkeypatch
):
    real = backend_module.write_rows
    sent = []

    def write_then_die(copy, rows):
        sent.append(1)
        _die(copy.connection)
        real(copy, rows)

    monkeypatch.setattr(backend_module, "write_rows", write_then_die)
    retrying = RetryingBackend(backend, RetryPolicy(attempts=5, base_delay=0.01))
    batch = _docs(100, 20)
    with pytest.raises(WriteError) as err:
        retrying.upsert("c", batch)
    assert len(sent) == 2 and retrying.retries == 0
    assert _crashes_logged(server.log, 2) == 2
    assert "crashed twice" in str(err.value) and str(server.log) in str(err.value)
    assert sorted(err.value.failed) == sorted(d.id for d in batch)

    monkeypatch.setattr(backend_module, "write_rows", real)
    _wait_until_up(backend)
    assert backend.count("c") == 5  # nothing of the batch the server died on


def test_a_connection_dropped_once_is_still_retried(backend, server, monkeypatch):
    """One crash is not a pattern: the statement is retried once and succeeds."""
    real = Session.fetch
    sent = []

    def die_once(self, conn, *args, **kwargs):
        sent.append(1)
        if len(sent) == 1:
            _die(conn)
        return real(self, conn, *args, **kwargs)

    monkeypatch.setattr(Session, "fetch", die_once)
    hits = backend.search_dense("c", np.ones(DIM, dtype=np.float32), 3)
    assert len(hits) == 3 and len(sent) == 2


def test_the_smoke_guard_stops_the_run_with_one_message_naming_the_cause(server):
    """The guard the pgvector fixture runs before any test: a server process that dies
    in the smoke set ends the session (``pytest.exit``) with the signal, the step, the
    scan of vector.so and the log — here with a real SIGILL in the hybrid step."""
    from tests.engines import pgvector_smoke

    def hybrid_that_dies(uri: str) -> None:
        with psycopg.connect(uri, autocommit=True) as conn:
            _die(conn)
            conn.execute("SELECT 1")

    assert pgvector_smoke.run_smoke(server.uri) is None  # the real set passes here
    step, error = pgvector_smoke.run_smoke(server.uri, hybrid=hybrid_that_dies)
    message = pgvector_smoke.explain(server, step, error)
    assert "died with signal 4 (Illegal instruction)" in message
    assert "polyvec hybrid search" in message and str(server.log) in message
    assert "no AVX-512 instructions outside runtime-dispatched functions" in message

    with pytest.raises(pytest.exit.Exception) as stopped:
        pgvector_smoke.smoke(server, hybrid=hybrid_that_dies)
    assert "died with signal 4" in str(stopped.value)

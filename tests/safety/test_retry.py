"""Retries: which errors are retried (classified on real errors from real clients),
backoff with jitter, and an ingest that survives a real server killed and restarted."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from polyvec import Document
from polyvec.backends.base import CollectionSpec
from polyvec.errors import BackendUnavailableError, InputError, ReadOnlyError
from polyvec.safety import RetryingBackend, RetryPolicy, is_retryable
from polyvec.transfer.records import doc_key


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("expected an error")


class _StatusServer:
    """A loopback HTTP server answering every request with one status code."""

    def __init__(self, status: int) -> None:
        code = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self) -> None:
                body = b'{"status": {"error": "test"}}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _reply

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def status_server() -> Iterator:
    made: list[_StatusServer] = []

    def make(status: int) -> _StatusServer:
        made.append(_StatusServer(status))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_connection_refused_is_retryable():
    port = _closed_port()
    exc = _raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    assert isinstance(exc, ConnectionRefusedError) and is_retryable(exc)
    assert is_retryable(TimeoutError("timed out"))
    assert is_retryable(BackendUnavailableError("down"))


def test_polyvec_input_and_programming_errors_are_not_retryable():
    assert not is_retryable(InputError("bad"))
    assert not is_retryable(ReadOnlyError("write"))
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError:
            raise AttributeError("a bug in the error handler")  # noqa: B904
    except AttributeError as exc:
        assert not is_retryable(exc)


@pytest.mark.qdrant
@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (502, True),
                                                    (400, False), (401, False), (403, False)])  # fmt: skip
def test_http_status_from_a_real_client(status_server, status, retryable):
    from qdrant_client import QdrantClient

    server = status_server(status)
    client = QdrantClient(
        url=f"http://127.0.0.1:{server.port}", timeout=5, check_compatibility=False
    )
    exc = _raised(lambda: client.get_collections())
    assert is_retryable(exc) is retryable, (status, repr(exc))


@pytest.mark.pgvector
def test_postgres_errors(engine_url):
    psycopg = pytest.importorskip("psycopg")
    port = _closed_port()
    refused = _raised(
        lambda: psycopg.connect(f"postgresql://a@127.0.0.1:{port}/x", connect_timeout=3)
    )
    assert is_retryable(refused)
    uri = engine_url("pgvector").split("&schema=")[0]
    bad_role = uri.replace("postgresql://postgres", "postgresql://no_such_role_x", 1)
    auth = _raised(lambda: psycopg.connect(bad_role))
    assert "no_such_role_x" in str(auth) and not is_retryable(auth)
    with psycopg.connect(uri) as conn:
        syntax = _raised(lambda: conn.execute("SELEC 1"))
    assert getattr(syntax, "sqlstate", "") == "42601" and not is_retryable(syntax)


def test_backoff_grows_with_full_jitter_and_stops():
    sleeps: list[float] = []
    policy = RetryPolicy(
        attempts=5, base_delay=0.1, multiplier=2, max_delay=0.5, sleep=sleeps.append
    )
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 5:
            raise ConnectionResetError("reset by peer")
        return "ok"

    assert policy.call(flaky) == "ok" and calls == 5
    ceilings = [0.1, 0.2, 0.4, 0.5]
    assert all(0 <= s <= c for s, c in zip(sleeps, ceilings)) and len(sleeps) == 4
    assert len({round(s, 6) for s in sleeps}) > 1  # jittered, not a fixed schedule
    calls = 0
    with pytest.raises(InputError):  # not retryable: one call only
        policy.call(lambda: (_ for _ in ()).throw(InputError("bad request")))
    exhausted = RetryPolicy(attempts=3, base_delay=0, sleep=lambda s: None)
    with pytest.raises(ConnectionResetError):
        exhausted.call(lambda: (_ for _ in ()).throw(ConnectionResetError("still down")))


def _docs(start: int, n: int, dim: int = 16) -> list[Document]:
    rng = np.random.default_rng(start)
    return [
        Document(i if i % 2 else f"d{i}", f"document {i}", {"i": i},
                 dense=rng.normal(size=dim).astype(np.float32))
        for i in range(start, start + n)
    ]  # fmt: skip


def _ingest_in_background(
    backend: RetryingBackend, batches: list[list[Document]]
) -> tuple[threading.Thread, list[int], list[BaseException]]:
    """Upsert ``batches`` into ``kb`` in a thread and return once five are acknowledged
    (or after 60 s): the thread, the acknowledged batch numbers (growing) and the error
    the ingest ended with, if any."""
    acked: list[int] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for number, batch in enumerate(batches):
                backend.upsert("kb", batch)
                acked.append(number)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=ingest)
    worker.start()
    deadline = time.monotonic() + 60
    while len(acked) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    return worker, acked, errors


@pytest.mark.chroma
@pytest.mark.slow
def test_ingest_survives_chroma_server_killed_and_restarted(tmp_path):
    """kill -9 the `chroma run` server mid-ingest, restart it on the same port and data:
    the ingest finishes with every document once, none lost, none duplicated."""
    pytest.importorskip("chromadb")
    from polyvec.backends.chroma import ChromaBackend
    from tests.engines.chroma import start_server

    server = start_server(tmp_path / "srv")
    port = server.port
    policy = RetryPolicy(attempts=40, base_delay=0.05, max_delay=1.0, deadline=120)
    backend = RetryingBackend(
        ChromaBackend.from_url(f"{server.url}?prefix=r{uuid.uuid4().hex[:6]}-"), policy
    )
    backend.create_collection(CollectionSpec("kb", 16))
    batches = [_docs(i * 20, 20) for i in range(30)]
    worker, _, errors = _ingest_in_background(backend, batches)
    server.kill()
    time.sleep(0.5)  # the server is down for a while: writes fail and are retried
    server = start_server(tmp_path / "srv", port=port)
    try:
        worker.join(timeout=180)
        assert not worker.is_alive() and not errors, errors
        assert backend.retries > 0
        assert backend.count("kb") == 600
        ids = [doc_key(d.id) for page in backend.scroll("kb", batch_size=100) for d in page]
        assert len(ids) == len(set(ids)) == 600
        expected = {doc_key(d.id): d for b in batches for d in b}
        for d in backend.get("kb", [d.id for d in batches[7]]):
            assert (
                d.text == expected[doc_key(d.id)].text
                and d.metadata == expected[doc_key(d.id)].metadata
            )
    finally:
        backend.close()
        server.stop()


@pytest.mark.pgvector
@pytest.mark.slow
def test_ingest_survives_postgres_crashed_and_restarted():
    """Crash PostgreSQL (``pg_ctl -m immediate``: every backend killed, no checkpoint)
    mid-ingest and start it again on the same data: the ingest under RetryingBackend
    finishes and the table equals the input exactly (count, ids, content checksum)."""
    from polyvec.backends.pgvector import PgVectorBackend
    from polyvec.transfer.verify import compare
    from tests.engines.pgvector import start_server

    server = start_server()
    policy = RetryPolicy(attempts=40, base_delay=0.05, max_delay=1.0, deadline=120)
    backend = RetryingBackend(
        # no retries inside the backend, a short pool wait: RetryingBackend does the work
        PgVectorBackend(server.uri, schema="restart", pool_max=2, pool_timeout=0.5,
                        connect_timeout=2, write_retries=0),
        policy,
    )  # fmt: skip
    try:
        backend.create_collection(CollectionSpec("kb", 16))
        batches = [_docs(i * 50, 50) for i in range(30)]
        worker, acked, errors = _ingest_in_background(backend, batches)
        assert 5 <= len(acked) < len(batches), "the crash must come mid-ingest"
        server.crash()
        time.sleep(2.0)  # down for longer than the pool waits: writes fail and are retried
        server.restart()
        worker.join(timeout=180)
        assert not worker.is_alive() and not errors, errors
        assert backend.retries > 0
        report = compare(batches, backend, "kb", cosine=True, tolerance=0.0)
        assert report.ok, report.problems
        assert report.destination_count == report.source.count == 1500
        assert report.source.content == report.destination.content  # checksum
        assert report.dense_identical  # pgvector keeps float32 bit for bit
        ids = [doc_key(d.id) for page in backend.scroll("kb", batch_size=300) for d in page]
        assert len(ids) == len(set(ids)) == 1500
    finally:
        backend.close()
        server.stop()

"""A wrong PostgreSQL password is an ``AuthenticationError``: typed, with the server's
refusal as its cause, never retried (docs/data-safety.md), and without the password.

A server of our own, whose ``pg_hba.conf`` asks one role for a SCRAM password (the
session's shared server trusts every local connection)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

import polyvec
from polyvec.backends.registry import open_backend
from polyvec.errors import AuthenticationError
from polyvec.safety import RetryingBackend, RetryPolicy
from polyvec.safety.retry import is_retryable
from tests.engines.pgvector import PgServer, start_server

pytestmark = pytest.mark.pgvector

RIGHT, WRONG = "r1ght-Passw0rd", "wr0ng-Passw0rd"


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    try:
        pg = start_server()
    except Exception as exc:  # reported like any unavailable engine
        from tests.conftest import skip_or_fail

        skip_or_fail("pgvector", f"{type(exc).__name__}: {exc}")
        raise
    try:
        with psycopg.connect(pg.uri, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE pvauth LOGIN SUPERUSER PASSWORD '{RIGHT}'")
            hba = pg.pgdata / "pg_hba.conf"
            hba.write_text("local all pvauth scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        yield pg
    finally:
        pg.stop()


def _url(pg: PgServer, password: str) -> str:
    host = re.search(r"host=([^&]+)", pg.uri)
    assert host is not None
    return f"postgresql://pvauth:{password}@/postgres?host={host.group(1)}&schema=authtest"


def test_the_right_password_is_accepted(server):
    backend = open_backend(_url(server, RIGHT))
    try:
        assert backend.list_collections() == []
    finally:
        backend.close()


def test_a_wrong_password_is_a_typed_final_error_with_its_cause(server):
    with pytest.raises(AuthenticationError) as info:
        polyvec.connect(_url(server, WRONG), collection="kb")
    error = info.value
    assert isinstance(error.__cause__, psycopg.OperationalError)
    assert "password authentication failed" in str(error.__cause__)
    assert not is_retryable(error)
    assert WRONG not in f"{error} {error!r} {error.__cause__} {error.__cause__!r}"


def test_retrying_backend_does_not_retry_it(server):
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.01, sleep=sleeps.append)
    backend = RetryingBackend(open_backend(_url(server, WRONG)), policy)
    try:
        with pytest.raises(AuthenticationError):
            backend.list_collections()
    finally:
        backend.close()
    assert backend.retries == 0 and sleeps == []

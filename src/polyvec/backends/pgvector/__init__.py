"""The PostgreSQL + pgvector backend (``pip install 'polyvec[pgvector]'``).

    >>> from polyvec.backends.pgvector import PgVectorBackend   # doctest: +SKIP
    >>> backend = PgVectorBackend.from_url("postgresql://me@localhost/app")  # doctest: +SKIP

See docs/backends/pgvector.md for the table layout, the options and the benchmarks.
"""

from polyvec.errors import MissingDependencyError

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        exc.name or "psycopg", "pgvector", "the PostgreSQL backend"
    ) from exc

from polyvec.backends.pgvector.backend import PgVectorBackend

__all__ = ["PgVectorBackend"]

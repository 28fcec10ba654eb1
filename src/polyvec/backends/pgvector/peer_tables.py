"""Collections langchain-postgres wrote, found by name.

A LangChain store opened by a peer's keywords on a collection that polyvec does not
hold, but ``PGVector`` (its ``langchain_pg_collection`` table) or ``PGVectorStore`` (a
table with a ``langchain_id`` column in ``public``) does, is refused with the migrate
command instead of silently starting an empty polyvec collection beside the user's data
(:func:`polyvec.integrations._langchain_peers.open_collection`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.pgvector.backend import PgVectorBackend

__all__ = ["peer_layout"]


def peer_layout(backend: PgVectorBackend, name: str) -> str | None:
    """``"langchain-postgres"`` or ``"pgvectorstore"`` (the ``polyvec migrate --from``
    layout) when that peer holds a collection ``name`` in this database, else ``None``."""

    def work(conn: Any) -> str | None:
        row = conn.execute("SELECT to_regclass('langchain_pg_collection')").fetchone()
        if row is not None and row[0] is not None:
            found = conn.execute(
                "SELECT 1 FROM langchain_pg_collection WHERE name = %s", [name]
            ).fetchone()
            if found is not None:
                return "langchain-postgres"
        table = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s AND column_name = 'langchain_id'",
            [name],
        ).fetchone()
        return "pgvectorstore" if table is not None else None

    return backend._session.run(work)  # the backend's own package: its pool

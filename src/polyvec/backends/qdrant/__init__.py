"""Qdrant backends: :class:`QdrantBackend` (qdrant-client: server, ``:memory:``,
``path=``) and :class:`QdrantEdgeBackend` (qdrant-edge-py, Qdrant's Rust engine
in-process). Each is imported on first use, so one works without the other's client::

    from polyvec.backends.qdrant import QdrantBackend
    backend = QdrantBackend.from_url("qdrant+memory://")

URL schemes, payload layout and filter semantics: docs/backends/qdrant.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.qdrant.backend import QdrantBackend
    from polyvec.backends.qdrant.edge import QdrantEdgeBackend

__all__ = ["QdrantBackend", "QdrantEdgeBackend"]


def __getattr__(name: str) -> Any:
    if name == "QdrantBackend":
        from polyvec.backends.qdrant.backend import QdrantBackend

        return QdrantBackend
    if name == "QdrantEdgeBackend":
        from polyvec.backends.qdrant.edge import QdrantEdgeBackend

        return QdrantEdgeBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

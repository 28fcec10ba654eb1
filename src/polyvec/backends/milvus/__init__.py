"""Milvus backend: :class:`MilvusBackend` over ``pymilvus`` — Milvus Lite (the real
engine in one local file) or a Milvus server. Imported on first use, so
``import polyvec`` never loads pymilvus::

    from polyvec.backends.milvus import MilvusBackend
    backend = MilvusBackend.from_url("milvus+lite://./milvus.db")

URL schemes, row layout, filter semantics and native hybrid search:
docs/backends/milvus.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.milvus.backend import MilvusBackend

__all__ = ["MilvusBackend"]


def __getattr__(name: str) -> Any:
    if name == "MilvusBackend":
        from polyvec.backends.milvus.backend import MilvusBackend

        return MilvusBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Pinecone backend: :class:`PineconeBackend` over the official ``pinecone`` SDK,
imported on first use (``pip install 'polyvec[pinecone]'``)::

    from polyvec.backends.pinecone import PineconeBackend
    backend = PineconeBackend.from_url("pinecone://INDEX_HOST?prefix=myapp-")

The filter translation (:mod:`.filters`), the typed metadata projection it runs on
(:mod:`polyvec.backends.projection`) and the record layout (:mod:`.codec`) need no SDK.
URL, storage and semantics: docs/backends/pinecone.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.pinecone.backend import PineconeBackend

__all__ = ["PineconeBackend"]


def __getattr__(name: str) -> Any:
    if name == "PineconeBackend":
        from polyvec.backends.pinecone.backend import PineconeBackend

        return PineconeBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

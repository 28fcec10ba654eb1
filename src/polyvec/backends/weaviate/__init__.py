"""Weaviate backend: :class:`WeaviateBackend` over ``weaviate-client`` v4, imported on
first use (``pip install 'polyvec[weaviate]'``)::

    from polyvec.backends.weaviate import WeaviateBackend
    backend = WeaviateBackend.from_url("weaviate://localhost:8080")

The filter translation (:mod:`.filters`) and the object layout (:mod:`.schema`) build
the client's own objects without a server. URL, storage and semantics:
docs/backends/weaviate.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.weaviate.backend import WeaviateBackend

__all__ = ["WeaviateBackend"]


def __getattr__(name: str) -> Any:
    if name == "WeaviateBackend":
        from polyvec.backends.weaviate.backend import WeaviateBackend

        return WeaviateBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

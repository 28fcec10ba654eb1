"""Chroma backend: :class:`ChromaBackend` over ``chromadb`` — embedded (on disk or in
memory) or a Chroma server. Imported on first use, so ``import polyvec`` never loads
chromadb::

    from polyvec.backends.chroma import ChromaBackend
    backend = ChromaBackend.from_url("chroma+local://./data")

URL schemes, storage layout, filter semantics and the emulated sparse search:
docs/backends/chroma.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyvec.backends.chroma.backend import ChromaBackend

__all__ = ["ChromaBackend"]


def __getattr__(name: str) -> Any:
    if name == "ChromaBackend":
        from polyvec.backends.chroma.backend import ChromaBackend

        return ChromaBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

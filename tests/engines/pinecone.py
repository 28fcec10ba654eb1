"""Pinecone through the official SDK against the local **stand-in** (not Pinecone):
``tests/pinecone_standin`` serves one dotproduct index of dimension 384 (the test
embedder's) from a thread on 127.0.0.1, started once per session.

Each test's backend gets its own namespace prefix (``namespace + "-"``), so tests never
see each other's collections. Real Pinecone runs in tests/backends/test_pinecone_live.py
when ``PINECONE_API_KEY`` is set.
"""

from __future__ import annotations

from pathlib import Path

from polyvec.backends.base import Backend
from tests.engines import Engine

VARIANTS = ("pinecone-standin",)
DIMENSION = 384


def start(tmp_dir: Path) -> Engine:
    import pinecone  # noqa: F401  (fail here, as a skip, when the SDK is missing)

    from tests.pinecone_standin import start_standin

    standin = start_standin(DIMENSION)

    def url(variant: str, namespace: str) -> str:
        return f"{standin.url}?prefix={namespace}-"

    def make(variant: str, namespace: str) -> Backend:
        from polyvec.backends.registry import open_backend

        return open_backend(url(variant, namespace))

    return Engine(make=make, stop=standin.stop, url=url)

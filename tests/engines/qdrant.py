"""Qdrant engines for the tests, all in-process (no server binary can run here):

* ``qdrant-memory``: qdrant-client local mode in memory (``qdrant+memory://``);
* ``qdrant-local``: qdrant-client local mode on disk (``qdrant+local://DIR``);
* ``qdrant-edge``: qdrant-edge-py, Qdrant's Rust engine (``qdrant-edge://DIR``).

Each test gets its own store (its own directory for the on-disk variants).
"""

from __future__ import annotations

from pathlib import Path

from polyvec.backends.base import Backend
from tests.engines import Engine

VARIANTS = ("qdrant-memory", "qdrant-local", "qdrant-edge")


def start(tmp_dir: Path) -> Engine:
    import qdrant_client  # noqa: F401  (fail here, as a skip, when the client is missing)

    for sub in ("local", "edge"):  # a store is made in an existing directory
        (tmp_dir / sub).mkdir(parents=True, exist_ok=True)

    def url(variant: str, namespace: str) -> str:
        if variant == "qdrant-memory":
            return "qdrant+memory://"
        if variant == "qdrant-local":
            return f"qdrant+local://{tmp_dir / 'local' / namespace}"
        if variant == "qdrant-edge":
            return f"qdrant-edge://{tmp_dir / 'edge' / namespace}"
        raise ValueError(f"unknown Qdrant variant {variant!r}")

    def make(variant: str, namespace: str) -> Backend:
        from polyvec.backends.registry import open_backend
        from polyvec.errors import MissingDependencyError

        try:
            return open_backend(url(variant, namespace))
        except MissingDependencyError as exc:  # qdrant-edge-py alone may be missing
            from tests.conftest import skip_or_fail

            skip_or_fail(variant, str(exc))
            raise

    return Engine(make=make, url=url)

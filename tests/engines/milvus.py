"""Milvus engines for the tests:

* ``milvus-lite``: Milvus Lite (the real Milvus engine, in-process; ``milvus+lite://FILE``),
  one database file per session, each test with its own collection-name prefix.

pymilvus starts the Milvus Lite server process itself and stops it when the last
client on that file closes (or the test process exits).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from polyvec.backends.base import Backend
from tests.engines import Engine

VARIANTS = ("milvus-lite",)


def start(tmp_dir: Path) -> Engine:
    with warnings.catch_warnings():  # milvus-lite warns that pkg_resources is old
        warnings.simplefilter("ignore")
        import milvus_lite  # noqa: F401  (fail here, as a skip, when the engine is missing)
        import pymilvus  # noqa: F401

    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / "milvus.db"

    def url(variant: str, namespace: str) -> str:
        if variant != "milvus-lite":
            raise ValueError(f"unknown Milvus variant {variant!r}")
        return f"milvus+lite://{path}?prefix={namespace}_"

    def make(variant: str, namespace: str) -> Backend:
        from polyvec.backends.milvus import MilvusBackend

        return MilvusBackend.from_url(url(variant, namespace))

    return Engine(make=make, url=url)

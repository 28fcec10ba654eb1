"""Threads and asyncio tasks sharing one Collection on a real engine: zero errors, and
every acknowledged write is there (a short run of benchmarks/load_test.py)."""

from __future__ import annotations

import pytest
from benchmarks.load_test import run_load

from polyvec import Collection
from polyvec.backends.registry import open_backend
from tests.transfer.data import HashEmbedder, make_docs


@pytest.mark.parametrize("variant", [
    pytest.param("qdrant-edge", marks=pytest.mark.qdrant),
    pytest.param("pgvector", marks=pytest.mark.pgvector),
    pytest.param("chroma-server", marks=pytest.mark.chroma),
])  # fmt: skip
def test_shared_collection_under_concurrent_load(engine_url, variant):
    coll = Collection(open_backend(engine_url(variant)), "load", embedder=HashEmbedder())
    try:
        coll.add(make_docs(150), progress=False)
        result = run_load(coll, seconds=1.5, threads=3, tasks=3, write_ratio=0.25, max_ops=200)
        assert result["errors"] == 0, result["first_errors"]
        assert result["ops"] > 10
        assert result["writes_missing"] == 0 and result["count_ok"]
    finally:
        coll.close()

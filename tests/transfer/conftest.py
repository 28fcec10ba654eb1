"""Fixtures for the transfer and safety tests: a URL on a real engine, per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from polyvec import Collection
from polyvec.backends.base import Backend
from polyvec.backends.registry import open_backend
from tests.conftest import engine_for
from tests.transfer.data import HashEmbedder, make_docs


@pytest.fixture
def engine_url(engines) -> Callable[[str], str]:
    """``engine_url(variant)``: a fresh store's URL on that real engine."""

    def make(variant: str) -> str:
        engine = engine_for(engines, variant)
        assert engine.url is not None
        return engine.url(variant, f"t{uuid.uuid4().hex[:10]}")

    return make


def fill(backend: Backend, name: str, n: int, *, seed: int = 0, batch_size: int = 64) -> Collection:
    """A polyvec collection of ``n`` (+1) tricky documents, BM25 state included."""
    coll = Collection(backend, name, embedder=HashEmbedder(), batch_size=batch_size)
    coll.add(make_docs(n, seed), progress=False)
    return coll


def opened(url: str) -> Backend:
    return open_backend(url)

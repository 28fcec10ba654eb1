"""PineconeBackend against **real Pinecone**: runs only when ``PINECONE_API_KEY`` is set.

``PINECONE_INDEX_HOST`` names a serverless ``dotproduct`` index to use (any
dimension); without it a temporary one (dimension 8, ``PINECONE_CLOUD``/
``PINECONE_REGION``, default aws/us-east-1) is created and deleted afterwards.
Everything written goes to namespaces with a per-run prefix and is dropped at the end.
Pinecone is eventually consistent, so reads poll for up to ``PINECONE_LIVE_WAIT``
seconds (default 90). The skip here is never turned into a failure by
``POLYVEC_REQUIRE``: these tests need a cloud account, not a local engine.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pytest

from polyvec.backends.base import CollectionSpec
from polyvec.errors import BackendError
from polyvec.filters import F, Filter
from polyvec.filters.evaluate import select
from polyvec.types import Document, SparseVector

T = TypeVar("T")

if not os.environ.get("PINECONE_API_KEY"):
    pytest.skip(
        "live Pinecone tests need PINECONE_API_KEY (and optionally PINECONE_INDEX_HOST); "
        "the local stand-in tests cover the rest",
        allow_module_level=True,
    )
pytest.importorskip("pinecone")
pytestmark = pytest.mark.pinecone

from polyvec.backends.pinecone.backend import PineconeBackend  # noqa: E402

WAIT = float(os.environ.get("PINECONE_LIVE_WAIT", "90"))


def eventually(read: Callable[[], T], ok: Callable[[T], bool]) -> T:
    """``read()`` until ``ok`` holds (or ``WAIT`` runs out): writes propagate slowly."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            value = read()
        except BackendError:  # e.g. a state record not visible yet
            if time.monotonic() > deadline:
                raise
        else:
            if ok(value) or time.monotonic() > deadline:
                return value
        time.sleep(2)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[PineconeBackend, int]]:
    from pinecone import Pinecone

    host = os.environ.get("PINECONE_INDEX_HOST")
    created: str | None = None
    pc = Pinecone()
    if not host:
        created = f"polyvec-live-{uuid.uuid4().hex[:8]}"
        pc.indexes.create(
            name=created,
            dimension=8,
            metric="dotproduct",
            deployment={
                "deployment_type": "managed",
                "cloud": os.environ.get("PINECONE_CLOUD", "aws"),
                "region": os.environ.get("PINECONE_REGION", "us-east-1"),
            },
        )
        host = pc.indexes.describe(created).host
    backend = PineconeBackend(host, prefix=f"polyvec-live-{uuid.uuid4().hex[:8]}-")
    try:
        dim = backend.info().dimension
        assert dim is not None and backend.info().metric == "dotproduct"
        yield backend, dim
    finally:
        for name in backend.list_collections():
            backend.drop_collection(name)
        backend.close()
        if created:
            pc.indexes.delete(created)


METADATA: list[dict[str, Any]] = [
    {"x": 3, "tags": ["a", "b"], "d": "2024-01-02"},
    {"x": 3.0, "tags": ["b"], "nested": {"y": 1}},
    {"x": "3", "flag": True},
    {"x": True, "d": "2024-03-01T00:00:00+01:00"},
    {"x": [1, "a"], "flag": False},
    {},
]
FILTERS: list[Filter] = [
    F("x") == 3,
    F("x") != 3,
    F("x").is_in(["3", "a"]),
    F("x").not_in([3, True]),
    F("tags").contains("b"),
    ~F("tags").contains("a"),
    F("x") >= 2,
    ~(F("x") > 2),
    F("d") >= dt.date(2024, 2, 1),
    F("nested.y").exists(),
    ~F("flag").exists(),
    (F("flag") == True) | (F("x") == 3.0),  # noqa: E712
]


def test_round_trip_filters_search_and_state(live: tuple[PineconeBackend, int]) -> None:
    backend, dim = live
    name = f"c{uuid.uuid4().hex[:6]}"
    backend.create_collection(CollectionSpec(name, dim, "cosine"))
    rng = np.random.default_rng(0)
    docs = [
        Document(
            i if i % 2 else f"id-{i}-ü",
            f"text {i}",
            m,
            rng.normal(size=dim),
            SparseVector.from_dict({i: 1.0, 100: 0.5}),
        )
        for i, m in enumerate(METADATA)
    ]
    backend.upsert(name, docs)
    got = eventually(lambda: backend.get(name, [d.id for d in docs]), lambda g: len(g) == len(docs))
    assert [(type(d.id), d.id, d.metadata) for d in got] == [
        (type(d.id), d.id, d.metadata) for d in docs
    ]
    eventually(lambda: backend.count(name), lambda n: n == len(docs))
    by_index = {i: d.id for i, d in enumerate(docs)}
    query = np.ones(dim)

    def matching(f: Filter) -> list[str]:
        return sorted(str(h.id) for h in backend.search_dense(name, query, 50, f))

    for f in FILTERS:
        want = sorted(str(by_index[i]) for i in select(f, dict(enumerate(METADATA))))
        assert eventually(partial(matching, f), want.__eq__) == want, f
    sparse = backend.search_sparse(name, SparseVector.from_dict({2: 1.0}), 5)
    assert [h.id for h in sparse] == [docs[2].id]
    hybrid = backend.search_sparse_dense(name, query, SparseVector.from_dict({100: 1.0}), 3)
    assert hybrid and hybrid[0].kind == "dot"
    backend.save_state(name, {"stats": list(range(10_000))})
    assert eventually(lambda: backend.load_state(name), bool) == {"stats": list(range(10_000))}
    backend.delete(name, filter=F("x") == 3)
    assert eventually(lambda: backend.count(name), lambda n: n == len(docs) - 2) == len(docs) - 2
    backend.drop_collection(name)
    assert name not in eventually(backend.list_collections, lambda c: name not in c)

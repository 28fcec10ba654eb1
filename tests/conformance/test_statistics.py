"""``Collection.statistics()`` and ``Collection.facet`` on every backend.

The figures every backend must get right (documents, BM25 statistics) are compared with
what was written and with ``count()``; the engine's own figures are checked where the
engine reports them (``None`` elsewhere, never a made-up number).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from polyvec import CollectionStats, F, Facets
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.filters import select
from tests.corpus import stdlib_documents

pytestmark = pytest.mark.models


@pytest.fixture
def coll(backend: Backend, collection_name: str, embedder) -> Collection:
    c = Collection(backend, collection_name, embedder=embedder)
    c.add(stdlib_documents())
    return c


def test_statistics_report_what_was_written(coll: Collection):
    docs = stdlib_documents()
    stats = coll.statistics()
    assert isinstance(stats, CollectionStats)
    assert stats.collection == coll.name
    assert stats.backend == coll.backend.capabilities.backend
    assert stats.documents == coll.count() == len(docs)
    assert (stats.dimension, stats.distance) == (coll.dimension, "cosine")
    bm25 = stats.bm25
    assert bm25 is not None and bm25.documents == len(docs)
    lengths = [sum(coll.bm25.term_counts(d.text).values()) for d in docs]
    assert bm25.total_length == sum(lengths)
    assert bm25.average_length == pytest.approx(sum(lengths) / len(docs))
    assert (bm25.k1, bm25.b) == (coll.bm25.k1, coll.bm25.b)
    native = coll.backend.capabilities.native_idf
    assert bm25.idf == ("engine" if native else "polyvec")
    assert (bm25.terms is None) is native
    engine = stats.engine
    if engine.vectors is not None:
        assert engine.vectors == len(docs)
    if engine.indexed_vectors is not None:
        assert 0 <= engine.indexed_vectors <= len(docs)
    for size in (engine.disk_bytes, engine.memory_bytes):
        assert size is None or size > 0
    text = repr(stats)
    assert coll.name in text and stats.backend in text and f"{len(docs)} documents" in text
    assert json.loads(json.dumps(stats.as_dict()))["bm25"]["documents"] == len(docs)
    assert asyncio.run(coll.astatistics()) == stats


def test_statistics_follow_deletes(coll: Collection):
    coll.delete(["json", "csv"])
    stats = coll.statistics()
    assert stats.documents == len(stdlib_documents()) - 2
    assert stats.bm25 is not None and stats.bm25.documents == stats.documents


def test_facet_on_a_collection_matches_the_evaluator(coll: Collection):
    docs = stdlib_documents()
    groups = {d.metadata["group"] for d in docs}
    got = coll.facet("group", limit=None)
    assert isinstance(got, Facets)
    want = sorted(
        ((g, len(select(F("group") == g, docs))) for g in groups), key=lambda t: (-t[1], t[0])
    )
    assert got.items() == want
    under = {"order": {"$gte": 10}}
    narrowed = coll.facet("group", filter=under, limit=2)
    full = sorted(
        ((g, n) for g in groups if (n := len(select(F("group") == g, select(under, docs))))),
        key=lambda t: (-t[1], t[0]),
    )
    assert narrowed.items() == full[:2] and narrowed.more is (len(full) > 2)
    assert asyncio.run(coll.afacet("group", filter=under, limit=2)) == narrowed
    assert "group" in repr(narrowed)

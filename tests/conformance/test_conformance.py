"""One suite, every backend: the same data and queries must give the same answers.

Each test runs once per engine variant in ``tests/engines`` (the ``backend`` fixture),
on the real engine. References are computed in plain Python/numpy from the same
vectors, so a backend that ranks, filters or round-trips differently fails here.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from polyvec import DBSF, RRF, Convex, Document, F
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.errors import (
    CollectionMismatchError,
    ConfigurationError,
    DimensionMismatchError,
    InvalidVectorError,
    UnsupportedFilterError,
)
from polyvec.filters.evaluate import matches
from polyvec.fusion import fuse
from polyvec.retriever import MMRConfig, RetrieverConfig
from tests.corpus import QUERIES, stdlib_documents

pytestmark = pytest.mark.models


@pytest.fixture
def coll(backend: Backend, collection_name: str, embedder) -> Collection:
    c = Collection(backend, collection_name, embedder=embedder)
    c.add(stdlib_documents())
    return c


def _key(doc_id):
    return (type(doc_id).__name__, doc_id)


def test_ids_text_and_metadata_round_trip(backend: Backend, collection_name: str, embedder):
    c = Collection(backend, collection_name, embedder=embedder)
    docs = [
        Document("7", "the string seven", {"kind": "str"}),
        Document(7, "the integer seven", {"kind": "int"}),
        Document("ünïcode-ключ-键", "unicode id", {"name": "Zoë", "tags": ["a", "b"]}),
        Document("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "uuid-looking id", {"n": 1.5}),
        Document(2**40, "large int id", {"nested": {"x": 1, "y": "z"}, "flag": True}),
    ]
    c.add(docs)
    got = c.get([d.id for d in reversed(docs)])
    assert [_key(d.id) for d in got] == [_key(d.id) for d in reversed(docs)]
    for want, have in zip(reversed(docs), got):
        assert have.text == want.text
        assert dict(have.metadata) == dict(want.metadata)
    assert c.count() == 5
    assert c.get(["missing", 999]) == []


def test_dense_ranking_equals_exact_cosine(coll: Collection):
    docs = coll.get([d.id for d in stdlib_documents()], with_vectors=True)
    matrix = np.stack([d.dense for d in docs])
    for query in QUERIES:
        q = coll.embed_queries([query])[0]
        sims = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
        want = [docs[i].id for i in np.argsort(-sims)[:5]]
        hits = coll.search(query, k=5, mode="dense")
        assert [h.id for h in hits] == want
        assert all(h.kind == "cosine" for h in hits)
        assert [h.score for h in hits] == pytest.approx(sorted(sims, reverse=True)[:5], abs=1e-3)


def test_sparse_ranking_equals_bm25_reference(coll: Collection):
    docs = stdlib_documents()
    idf_stats = coll.stats
    vectors = coll.bm25.encode_documents([d.text for d in docs], idf_stats)
    for query in QUERIES:
        q = coll.bm25.encode_query(query, _with_df(coll, docs))
        scores = {d.id: q.dot(v) for d, v in zip(docs, vectors)}
        want = sorted((s, i) for i, s in scores.items() if s > 0)
        want_ids = [i for s, i in sorted(want, key=lambda t: (-t[0], t[1]))][:5]
        hits = coll.search(query, k=5, mode="sparse")
        assert all(h.kind == "bm25" for h in hits)
        assert [h.score for h in hits] == pytest.approx([scores[i] for i in want_ids], rel=1e-3), (
            query
        )
        assert {h.id for h in hits} == set(want_ids) or _tied(hits, scores)


def _with_df(coll: Collection, docs):
    """Corpus statistics with document frequencies (engines with native IDF keep none)."""
    from polyvec.sparse.stats import CorpusStats

    stats = CorpusStats()
    stats.add_many(coll.bm25.term_counts_many(d.text for d in docs))
    return stats


def _tied(hits, scores) -> bool:
    last = hits[-1].score
    return sum(1 for s in scores.values() if math.isclose(s, last, rel_tol=1e-6)) > 1


def test_top_hit_is_the_relevant_module(coll: Collection):
    for query, module in QUERIES.items():
        assert coll.search(query, k=3)[0].id == module, query


@pytest.mark.parametrize("fusion", [RRF(), RRF(k=10, weights=(2.0, 1.0)), DBSF(), Convex(0.7)])
def test_hybrid_equals_client_side_fusion_of_the_legs(coll: Collection, fusion):
    config = RetrieverConfig(fusion=fusion, candidates=20)
    retr = coll.retriever(config)
    dense_r = coll.retriever(mode="dense", candidates=20)
    sparse_r = coll.retriever(mode="sparse", candidates=20)
    for query in QUERIES:
        legs = [dense_r.search(query, k=20), sparse_r.search(query, k=20)]
        fused = fuse(legs, fusion)
        want_score = {h.id: h.score for h in fused}
        got = retr.search(query, k=10)
        # same scores in the same order; within exactly tied scores engines may order
        # ids differently, so each id must carry the score polyvec gives it
        assert [h.score for h in got] == pytest.approx([h.score for h in fused[:10]], rel=1e-4)
        for hit in got:
            assert hit.score == pytest.approx(want_score[hit.id], rel=1e-4), (query, hit.id)
        cut = fused[9].score if len(fused) >= 10 else -math.inf
        above = {h.id for h in fused[:10] if h.score > cut * (1 + 1e-6)}
        assert above <= {h.id for h in got}, (query, fusion)


@pytest.mark.parametrize("fusion", [DBSF(), Convex(0.5)])
def test_hybrid_fetches_only_the_final_k(coll: Collection, fusion, monkeypatch):
    """With nothing after fusion the backend is asked for k fused hits, not the whole
    candidate depth, and the answer is the first k of the deeper one."""
    asked: list[int] = []
    real = coll.backend.search_hybrid

    def spy(*args, **kwargs):
        asked.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(coll.backend, "search_hybrid", spy)
    retr = coll.retriever(fusion=fusion, candidates=30)
    for query in QUERIES:
        few, many = retr.search(query, k=3), retr.search(query, k=12)
        # equal up to float32 noise: engines score in float32, and the same query can
        # score a few ulps apart between two calls (qdrant-client's numpy dot depends on
        # the query array's alignment), which DBSF's mean and std carry into the fused score
        assert [(h.id, h.score) for h in few] == [
            (h.id, pytest.approx(h.score, rel=1e-6)) for h in many[:3]
        ]
    native = coll.backend.capabilities.hybrid_fusions
    if type(fusion).__name__.lower() in native:
        assert asked and set(asked) == {3, 12}
    else:  # fused by the Retriever: the backend's own hybrid call is never made
        assert asked == []


def test_scores_are_higher_is_better_and_provenance_is_kept(coll: Collection):
    hits = coll.search("compress files", k=8)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.kind == "dbsf" for h in hits)
    assert all(h.sources and all(s.rank >= 1 for s in h.sources) for h in hits)
    assert {s.leg for h in hits for s in h.sources} <= {"dense", "sparse", "hybrid"}


FILTERS = [
    F("group") == "compression",
    F("group") != "network",
    F("order") >= 20,
    (F("order") > 3) & (F("order") <= 9),
    F("group").is_in(["text", "numeric"]),
    F("group").not_in(["text", "numeric", "data"]),
    F("words").contains("request"),
    F("info.rank") == 2,
    F("dotted") == True,  # noqa: E712 - builds a filter, not a comparison
    ~(F("group") == "tools") & (F("size") < 500),
    (F("group") == "storage") | (F("info.first_letter") == "s"),
    F("missing_field") != "x",
    F("missing_field").exists(),
    F("info").exists() & ~F("nope").exists(),
    F("added") >= "2024-06-01",
]


@pytest.mark.parametrize("filt", FILTERS, ids=[repr(f)[:60] for f in FILTERS])
def test_filters_match_the_reference_evaluator(coll: Collection, filt):
    docs = stdlib_documents()
    want = {d.id for d in docs if matches(filt, d.metadata)}
    try:
        got_dense = {h.id for h in coll.search("module", k=50, mode="dense", filter=filt)}
        got_count = coll.count(filt)
    except UnsupportedFilterError as exc:
        # refusing is allowed, but only for an operator the backend does not declare
        assert exc.operator not in coll.backend.capabilities.filter_operators, exc
        return
    assert got_dense == want
    assert got_count == len(want)
    assert {h.id for h in coll.search("module", k=50, filter=filt)} <= want


def test_delete_by_ids_and_by_filter_keep_bm25_statistics(coll: Collection):
    before = coll.stats.n_docs
    coll.delete(["json", "csv"])
    assert coll.count() == before - 2
    assert coll.get(["json", "csv"]) == []
    coll.delete(filter={"group": "compression"})
    assert coll.count(F("group") == "compression") == 0
    rest = [
        d
        for d in stdlib_documents()
        if d.id not in {"json", "csv"} and d.metadata["group"] != "compression"
    ]
    assert coll.stats.n_docs == len(rest)
    assert coll.stats == _rebuilt_stats(coll, rest)


def _rebuilt_stats(coll: Collection, docs):
    from polyvec.sparse.stats import CorpusStats

    stats = CorpusStats(track_df=coll.stats.track_df)
    stats.add_many(coll.bm25.term_counts_many(d.text for d in docs))
    return stats


def test_upsert_replaces_document_and_statistics(coll: Collection):
    coll.add([Document("json", "completely different words about zebras", {"group": "zoo"})])
    assert coll.count() == len(stdlib_documents())
    assert coll.get(["json"])[0].text.startswith("completely")
    assert coll.search("zebras", k=1, mode="sparse")[0].id == "json"
    new_docs = [Document("json", "completely different words about zebras", {"group": "zoo"})]
    rest = [d for d in stdlib_documents() if d.id != "json"] + new_docs
    assert coll.stats == _rebuilt_stats(coll, rest)


def test_optimize_keeps_every_answer(coll: Collection):
    before = {q: [h.id for h in coll.search(q, k=5)] for q in list(QUERIES)[:3]}
    changed = coll.optimize()
    assert isinstance(changed, bool)
    if "optimize" not in type(coll.backend).__dict__:
        assert changed is False  # the base class: nothing to do
    assert {q: [h.id for h in coll.search(q, k=5)] for q in list(QUERIES)[:3]} == before
    assert coll.count() == len(stdlib_documents())


def test_mmr_and_threshold(coll: Collection):
    plain = coll.search("compression archive file formats", k=4, mode="dense")
    diverse = coll.search(
        "compression archive file formats",
        k=4,
        mode="dense",
        mmr=MMRConfig(lambda_mult=0.0, fetch_k=10),
    )
    assert len(diverse) == 4 and diverse[0].id == plain[0].id
    cut = plain[1].score
    kept = coll.search("compression archive file formats", k=4, mode="dense", score_threshold=cut)
    assert [h.id for h in kept] == [h.id for h in plain[:2]]


def test_bad_vectors_are_refused(backend: Backend, collection_name: str, embedder):
    c = Collection(backend, collection_name, embedder=embedder)
    with pytest.raises(DimensionMismatchError):
        c.add([Document("x", "text", dense=np.ones(7, dtype=np.float32))])
    with pytest.raises(InvalidVectorError):
        Document("y", "text", dense=[float("nan")] * 384)
    assert c.count() == 0


def test_async_twins(coll: Collection):
    async def run():
        hits = await coll.asearch("regular expressions", k=2)
        n = await coll.acount()
        await coll.adelete(["re"])
        return hits, n, await coll.acount()

    hits, n, after = asyncio.run(run())
    assert hits[0].id == "re" and after == n - 1


def test_reopen_keeps_statistics(engines, backend_variant, collection_name, embedder):
    from tests.conftest import engine_for

    engine = engine_for(engines, backend_variant)
    first = engine.make(backend_variant, "reopen")
    c = Collection(first, collection_name, embedder=embedder)
    c.add(stdlib_documents()[:10])
    stats = c.stats.to_dict()
    first.close()
    second = engine.make(backend_variant, "reopen")
    try:
        if second.get_spec(collection_name) is None:
            pytest.skip("in-memory engine: nothing survives closing it")
        again = Collection(second, collection_name, embedder=embedder)
        assert again.stats.to_dict() == stats
        assert again.count() == 10
    finally:
        second.close()


def test_interrupted_write_is_recounted_on_open(backend: Backend, collection_name: str, embedder):
    c = Collection(backend, collection_name, embedder=embedder)
    c.add(stdlib_documents()[:12])
    want = c.stats.to_dict()
    # what a crash between writing documents and saving statistics leaves behind
    state = dict(backend.load_state(collection_name) or {})
    state.update(pending=True, stats=_rebuilt_stats(c, stdlib_documents()[:3]).to_dict())
    backend.save_state(collection_name, state)
    again = Collection(backend, collection_name, embedder=embedder)
    assert again.stats.to_dict() == want
    assert not (backend.load_state(collection_name) or {}).get("pending")


def test_k_below_one_is_refused_everywhere(coll: Collection) -> None:
    """k=0 used to fall back to the default 10 (``k or default``): every entry point
    refuses it, and bools, as not-a-count."""
    for k in (0, -1, True):
        with pytest.raises(ConfigurationError, match="k must be a positive int"):
            coll.search("python", k=k)
        with pytest.raises(ConfigurationError, match="k must be a positive int"):
            coll.retriever().search("python", k=k)
    assert len(coll.search("python", k=1)) == 1


def test_reopening_with_another_distance_is_refused(
    backend: Backend, collection_name: str, embedder
) -> None:
    """distance='l2' on a cosine collection used to be ignored silently."""
    Collection(backend, collection_name, embedder=embedder, distance="cosine")
    again = Collection(backend, collection_name, embedder=embedder)  # none given: the recorded
    assert again.spec.distance == "cosine"
    with pytest.raises(CollectionMismatchError, match="built with distance 'cosine', not 'l2'"):
        Collection(backend, collection_name, embedder=embedder, distance="l2")

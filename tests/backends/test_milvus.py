"""MilvusBackend on the real engine (Milvus Lite): every method, ids, metadata round
trips, polyvec's state, bad input — and the proof that native ``hybrid_search`` ranks
exactly as polyvec's client-side :func:`~polyvec.fusion.fuse` where it is used."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from polyvec import DBSF, RRF, Convex, F
from polyvec.backends.base import CollectionSpec
from polyvec.backends.milvus import MilvusBackend
from polyvec.backends.milvus.backend import native_rrf_k, parse_url
from polyvec.errors import (
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
)
from polyvec.filters.evaluate import matches
from polyvec.fusion import fuse
from polyvec.types import Document, SparseVector
from tests.backends.test_chroma import IDS, META
from tests.conftest import _Engines, engine_for, variants_for

pytestmark = pytest.mark.milvus


@pytest.fixture(params=variants_for("milvus"))
def mb(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[MilvusBackend]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"m{uuid.uuid4().hex[:10]}")
    assert isinstance(backend, MilvusBackend)
    try:
        yield backend
    finally:
        backend.close()


def _spec(name: str = "docs", dim: int = 3, distance: Any = "cosine", **kw: Any) -> CollectionSpec:
    return CollectionSpec(name, dim, distance, **kw)


def _doc(i: Any, dense: Any, meta: dict[str, Any] | None = None, sparse: Any = None) -> Document:
    return Document(i, f"text {i}", meta or {}, np.asarray(dense, dtype=np.float32), sparse)


# -- URLs (no engine) ---------------------------------------------------------------------
def test_urls() -> None:
    assert parse_url("milvus+lite:///data/m.db?prefix=t_") == {"path": "/data/m.db", "prefix": "t_"}
    assert parse_url("milvus://u:p@h") == {"uri": "http://h:19530", "token": "u:p"}
    assert parse_url("milvus+https://h?token=k&timeout=5") == {
        "uri": "https://h:443", "token": "k", "timeout": 5.0,
    }  # fmt: skip
    for bad in (
        "milvus+lite://",
        "milvus://",
        "milvus://h?x=1",
        "mysql://h",
        "milvus://h?timeout=z",
    ):
        with pytest.raises(ConfigurationError):
            parse_url(bad)


def test_unreachable_server_names_the_fix() -> None:
    with pytest.raises(BackendUnavailableError) as info:
        MilvusBackend(uri="http://127.0.0.1:1", token="s3cr3t", timeout=1)
    assert "s3cr3t" not in str(info.value) and "milvus+lite" in str(info.value)


# -- collections --------------------------------------------------------------------------
def test_collection_lifecycle(mb: MilvusBackend) -> None:
    names = ["docs", "my-docs", "über", "pvx_6162", "_x"]
    for name in names:
        mb.create_collection(_spec(name))
        mb.create_collection(_spec(name))
    assert mb.list_collections() == sorted(names)
    assert mb.get_spec("my-docs") == _spec("my-docs")
    with pytest.raises(ConfigurationError, match="exists with dimension=3"):
        mb.create_collection(_spec("docs", distance="l2"))
    mb.save_state("docs", {"n": 1})
    assert mb.list_collections() == sorted(names)
    mb.drop_collection("docs")
    mb.drop_collection("docs")
    assert mb.get_spec("docs") is None
    with pytest.raises(CollectionNotFoundError):
        mb.count("docs")
    mb.create_collection(_spec("docs"))
    assert mb.load_state("docs") is None
    with pytest.raises(ConfigurationError, match="unknown Milvus collection option"):
        mb.create_collection(_spec("x1", options={"hnsw": {}}))


# -- data ---------------------------------------------------------------------------------
def test_ids_round_trip_exactly(mb: MilvusBackend) -> None:
    ids = [i for i in IDS if not (isinstance(i, int) and i >= 2**63)] + [2**63 - 1, "it's"]
    mb.create_collection(_spec())
    mb.upsert("docs", [_doc(i, [1, n, 0]) for n, i in enumerate(ids)])
    got = mb.get("docs", [*reversed(ids), "missing", 8])
    assert [(type(d.id), d.id) for d in got] == [(type(i), i) for i in reversed(ids)]
    hits = mb.search_dense("docs", np.array([1.0, 0, 0]), len(ids))
    assert {(type(h.id), h.id) for h in hits} == {(type(i), i) for i in ids}


def test_metadata_round_trips(mb: MilvusBackend) -> None:
    mb.create_collection(_spec())
    meta = {k: v for k, v in META.items() if k != "big"}
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    mb.upsert("docs", [_doc("a", [1, 0, 0], {**meta, "when": when})])
    (got,) = mb.get("docs", ["a"])
    assert got.metadata == {**meta, "when": when.isoformat()}
    assert mb.count("docs", F("nested.a.t") == "ü") == 1


def test_delete_get_count_scroll_upsert(mb: MilvusBackend) -> None:
    mb.create_collection(_spec())
    docs = [_doc(i, [1, i, 0], {"g": i % 3}, SparseVector((i,), (1.0,))) for i in range(20)]
    mb.upsert("docs", docs)
    batches = list(mb.scroll("docs", batch_size=7, with_vectors=True))
    assert sorted(len(b) for b in batches) == [6, 7, 7]
    (first,) = mb.get("docs", [3], with_vectors=True)
    assert first.sparse == SparseVector((3,), (1.0,)) and first.dense is not None
    mb.delete("docs", ids=[0, 1, "1", 99])
    mb.delete("docs", filter=F("g") == 2)
    assert mb.count("docs") == 12 and mb.count("docs", F("g") == 2) == 0
    mb.upsert("docs", [_doc(3, [0, 0, 1], {"new": True}), _doc(3, [0, 1, 0], {"newer": 1})])
    assert mb.get("docs", [3])[0].metadata == {"newer": 1}
    assert mb.count("docs", F("g") == 0) == 5 and mb.count("docs") == 12
    with pytest.raises(ConfigurationError):
        mb.delete("docs")


@pytest.mark.parametrize("distance", ["cosine", "dot", "l2"])
def test_dense_scores_are_higher_is_better(mb: MilvusBackend, distance: Any) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    mb.create_collection(_spec("d", 8, distance))
    mb.upsert("d", [_doc(i, v) for i, v in enumerate(vectors)])
    q = rng.normal(size=8).astype(np.float32)
    if distance == "cosine":
        want = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    elif distance == "dot":
        want = vectors @ q
    else:
        want = -np.linalg.norm(vectors - q, axis=1)
    hits = mb.search_dense("d", q, 5)
    assert [h.id for h in hits] == list(np.argsort(-want)[:5])
    assert [h.score for h in hits] == pytest.approx(sorted(want, reverse=True)[:5], abs=1e-4)
    assert all(h.kind == distance for h in hits)


def test_sparse_search_is_exact(mb: MilvusBackend) -> None:
    vecs, q = _sparse_data(300, seed=2)
    mb.create_collection(_spec(dim=2))
    mb.upsert("docs", [_doc(i, [1, i], {"g": i % 10}, v) for i, v in enumerate(vecs)])
    scores = {i: q.dot(v) for i, v in enumerate(vecs) if set(q.indices) & set(v.indices)}
    for f in (None, F("g") == 7):
        allowed = [i for i in scores if f is None or matches(f, {"g": i % 10})]
        want = sorted(allowed, key=lambda i: -scores[i])[:10]
        hits = mb.search_sparse("docs", q, 10, f)
        assert [h.score for h in hits] == pytest.approx([scores[i] for i in want], rel=1e-5)


def _sparse_data(n: int, seed: int) -> tuple[list[SparseVector], SparseVector]:
    rng = np.random.default_rng(seed)
    vecs = [
        SparseVector.from_dict({int(t): float(rng.random() + 0.1) for t in rng.integers(0, 40, 6)})
        for _ in range(n)
    ]
    return vecs, SparseVector.from_dict({3: 1.0, 7: 0.5, 11: 2.0})


# -- native hybrid search = polyvec's fusion ---------------------------------------------
@pytest.fixture
def hybrid(mb: MilvusBackend) -> tuple[MilvusBackend, np.ndarray]:
    rng = np.random.default_rng(7)
    dense = rng.normal(size=(400, 16)).astype(np.float32)
    vecs, _ = _sparse_data(400, seed=8)
    mb.create_collection(_spec("h", 16, "cosine"))
    mb.upsert("h", [_doc(i, dense[i], {"g": i % 4}, vecs[i]) for i in range(400)])
    return mb, rng.normal(size=(12, 16)).astype(np.float32)


FUSIONS = [RRF(), RRF(k=10), RRF(k=60, weights=(2.0, 2.0)), RRF(k=5, weights=(1.0, 3.0)),
           RRF(k=60.5), DBSF(), DBSF(weights=(1.0, 2.0)), Convex(0.3)]  # fmt: skip


@pytest.mark.parametrize("fusion", FUSIONS, ids=repr)
def test_hybrid_equals_client_side_fusion(hybrid: Any, fusion: Any) -> None:
    mb, queries = hybrid
    rng = np.random.default_rng(9)
    for n, q in enumerate(queries):
        sparse = SparseVector.from_dict({int(t): 1.0 for t in rng.integers(0, 40, 3)})
        f = None if n % 2 else F("g") != 1
        legs = [mb.search_dense("h", q, 30, f), mb.search_sparse("h", sparse, 30, f)]
        want = fuse(legs, fusion, 10)
        got = mb.search_hybrid("h", q, sparse, 10, fusion=fusion, candidates=30, filter=f)
        assert [h.id for h in got] == [h.id for h in want], (fusion, n)
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)


def _native(mb: MilvusBackend) -> MilvusBackend:
    return MilvusBackend(client=mb.client, prefix=mb.prefix, native_hybrid=True)


def _groups(hits: list[Any]) -> list[tuple[float, frozenset[Any]]]:
    """Hits as (score, ids with that score) levels: the ranking up to the order of ties."""
    levels: dict[float, set[Any]] = {}
    for h in hits:
        levels.setdefault(round(h.score, 6), set()).add(h.id)
    return [(score, frozenset(ids)) for score, ids in levels.items()]


def test_native_mode_fuses_in_milvus_with_the_same_scores(
    hybrid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mb, queries = hybrid
    native = _native(mb)
    assert native.capabilities.hybrid_fusions == {"rrf"} and not mb.capabilities.hybrid_fusions
    sparse = SparseVector.from_dict({3: 1.0, 11: 0.5})
    for q in queries:
        legs = [mb.search_dense("h", q, 30), mb.search_sparse("h", sparse, 30)]
        # whole tie groups only: the last level of a top 40 may be cut differently
        want = fuse(legs, RRF(k=20), 40)
        with monkeypatch.context() as m:
            m.setattr(native, "search_dense", lambda *a, **k: pytest.fail("fused client-side"))
            got = native.search_hybrid("h", q, sparse, 40, fusion=RRF(k=20), candidates=30)
        assert all(h.kind == "rrf" and h.sources[0].leg == "hybrid" for h in got)
        assert _groups(got)[:-1] == _groups(want)[:-1]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)


def test_milvus_orders_ties_its_own_way(mb: MilvusBackend) -> None:
    """ "b" and 1 tie (dense #1 + sparse #2 vs dense #2 + sparse #1). polyvec orders ties
    by first appearance ("b"), Milvus by primary key ("i:1" < "s:b"): why native fusion
    is opt-in (``native_hybrid=True``) rather than declared by default."""
    mb.create_collection(_spec("t", 2, "dot"))
    mb.upsert("t", [_doc("b", [2, 0], sparse=SparseVector((1,), (1.0,))),
                    _doc(1, [1, 0], sparse=SparseVector((1,), (2.0,)))])  # fmt: skip
    q, sv = np.array([1.0, 0.0], dtype=np.float32), SparseVector((1,), (1.0,))
    legs = [mb.search_dense("t", q, 5), mb.search_sparse("t", sv, 5)]
    want = [h.id for h in fuse(legs, RRF())]
    assert want == ["b", 1]
    got = mb.search_hybrid("t", q, sv, 2, fusion=RRF(), candidates=5)
    assert [h.id for h in got] == want  # the default: polyvec fuses, polyvec's order
    native = _native(mb).search_hybrid("t", q, sv, 2, fusion=RRF(), candidates=5)
    assert [h.id for h in native] == [1, "b"]  # Milvus: the same tie, by primary key
    assert [h.score for h in native] == pytest.approx([h.score for h in got])
    raw = _milvus_rrf(mb, "t", q, sv)
    assert raw[0] == raw[1] and raw[0] != 0


def _milvus_rrf(mb: MilvusBackend, name: str, q: np.ndarray, sv: SparseVector) -> list[float]:
    from pymilvus import AnnSearchRequest, RRFRanker

    reqs = [AnnSearchRequest([q.tolist()], "dense", {"metric_type": "IP"}, 5),
            AnnSearchRequest([sv.to_dict()], "sparse", {"metric_type": "IP"}, 5)]  # fmt: skip
    found = mb.client.hybrid_search(mb._physical(name), reqs, RRFRanker(60), limit=2)
    return [float(r["distance"]) for r in found[0]]


def test_weighted_ranker_is_not_convex(hybrid: Any) -> None:
    """Why Convex is fused client-side: Milvus' WeightedRanker normalises each leg with
    arctan (or not at all), polyvec's Convex with min-max; the scores differ."""
    from pymilvus import AnnSearchRequest, WeightedRanker

    mb, queries = hybrid
    sparse = SparseVector.from_dict({3: 1.0, 11: 0.5})
    reqs = [AnnSearchRequest([queries[0].tolist()], "dense", {"metric_type": "COSINE"}, 30),
            AnnSearchRequest([sparse.to_dict()], "sparse", {"metric_type": "IP"}, 30)]  # fmt: skip
    found = mb.client.hybrid_search(mb._physical("h"), reqs, WeightedRanker(0.3, 0.7), limit=10)
    legs = [mb.search_dense("h", queries[0], 30), mb.search_sparse("h", sparse, 30)]
    want = fuse(legs, Convex(0.3), 10)
    assert [float(r["distance"]) for r in found[0]] != pytest.approx([h.score for h in want])
    assert native_rrf_k(Convex(0.3)) is None and native_rrf_k(RRF(weights=(1, 2))) is None
    assert native_rrf_k(DBSF()) is None
    assert native_rrf_k(RRF(k=10, weights=(3, 3))) == 10 and native_rrf_k(RRF(k=0.5)) is None


# -- state and bad input ------------------------------------------------------------------
def test_state_is_kept_apart(mb: MilvusBackend) -> None:
    mb.create_collection(_spec())
    assert mb.load_state("docs") is None
    state = {"n_docs": 3, "df": {str(i): i for i in range(20000)}, "text": "ü" * 10}
    mb.save_state("docs", state)
    mb.save_state("docs", {**state, "n_docs": 4})
    assert mb.load_state("docs") == {**state, "n_docs": 4}
    assert mb.count("docs") == 0


def test_bad_input_is_refused_before_writing(mb: MilvusBackend) -> None:
    mb.create_collection(_spec())
    with pytest.raises(DimensionMismatchError):
        mb.upsert("docs", [_doc("a", [1, 0, 0]), _doc("b", [1, 0])])
    with pytest.raises(InvalidVectorError, match="non-negative"):
        mb.upsert("docs", [_doc("a", [1, 0, 0], sparse=SparseVector((1,), (-1.0,)))])
    with pytest.raises(InputError, match="65535 bytes"):
        mb.upsert("docs", [Document("a", "é" * 40000, {}, np.ones(3, dtype=np.float32))])
    with pytest.raises(InputError, match="finite"):
        mb.upsert("docs", [_doc("a", [1, 0, 0], {"x": float("inf")})])
    assert mb.count("docs") == 0
    with pytest.raises(DimensionMismatchError):
        mb.search_dense("docs", np.array([1.0, 0.0]), 3)
    with pytest.raises(InvalidVectorError):
        mb.search_dense("docs", np.array([1.0, np.inf, 0.0]), 3)
    with pytest.raises(ConfigurationError, match="16384"):
        mb.search_dense("docs", np.array([1.0, 0, 0]), 20000)
    assert mb.search_sparse("docs", SparseVector((), ()), 3) == []


def test_async_twins(mb: MilvusBackend) -> None:
    async def run() -> list[Any]:
        await mb.aupsert("docs", [_doc("a", [1, 0, 0], sparse=SparseVector((1,), (1.0,)))])
        return await _native(mb).asearch_hybrid(
            "docs", np.array([1.0, 0, 0]), SparseVector((1,), (1.0,)), 3, fusion=RRF(),
            candidates=5,
        )  # fmt: skip

    mb.create_collection(_spec())
    assert [h.id for h in asyncio.run(run())] == ["a"]

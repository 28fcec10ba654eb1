"""QdrantBackend (qdrant-client local mode, memory and disk) and QdrantEdgeBackend
(qdrant-edge-py) on the real engines: every method, ids, persistence, native hybrid
fusion against polyvec's own, typed errors. Filters: test_qdrant_filters.py."""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from polyvec.backends.base import CollectionSpec
from polyvec.backends.qdrant._shared import QdrantBase, point_id
from polyvec.backends.registry import open_backend
from polyvec.errors import (
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InvalidVectorError,
    MissingDependencyError,
)
from polyvec.filters import F
from polyvec.fusion import DBSF, RRF, Convex, Fusion, fuse
from polyvec.types import DocId, Document, Hit, SparseVector
from tests.conftest import _Engines, engine_for, variants_for

QDRANT = variants_for("qdrant")
DIM = 8


@pytest.fixture(params=QDRANT)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def qb(engines: _Engines, variant: str) -> Iterator[QdrantBase]:
    backend = engine_for(engines, variant).make(variant, f"t{uuid.uuid4().hex[:10]}")
    assert isinstance(backend, QdrantBase)
    try:
        yield backend
    finally:
        backend.close()


def corpus(n: int, seed: int = 0, *, dim: int = DIM, vocab: int = 30) -> list[Document]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        terms = rng.choice(vocab, size=int(rng.integers(1, 6)), replace=False)
        sparse = SparseVector.from_dict({int(t): float(rng.integers(1, 4)) for t in terms})
        meta = {"i": i, "parity": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 3}"]}
        docs.append(Document(f"d{i}", f"text {i}", meta, rng.normal(size=dim), sparse))
    return docs


def make(qb: QdrantBase, docs: Sequence[Document], distance: str = "cosine", **kw: object) -> str:
    name = f"c_{uuid.uuid4().hex[:8]}"
    qb.create_collection(CollectionSpec(name, DIM, distance, **kw))  # type: ignore[arg-type]
    qb.upsert(name, docs)
    return name


def key(doc_id: object) -> tuple[str, object]:
    return (type(doc_id).__name__, doc_id)


# -- collections ----------------------------------------------------------------------
def test_collection_lifecycle(qb: QdrantBase) -> None:
    spec = CollectionSpec("lc", DIM, "dot", options={"hnsw": {"m": 8}})
    qb.create_collection(spec)
    assert qb.get_spec("lc") == spec
    qb.create_collection(spec)  # same spec: nothing happens
    assert qb.list_collections() == ["lc"]
    with pytest.raises(ConfigurationError, match="dimension"):
        qb.create_collection(CollectionSpec("lc", DIM + 1))
    with pytest.raises(ConfigurationError, match="unknown Qdrant collection option"):
        qb.create_collection(CollectionSpec("other", DIM, options={"hnws": {}}))
    qb.drop_collection("lc")
    assert qb.get_spec("lc") is None and qb.list_collections() == []
    with pytest.raises(CollectionNotFoundError):
        qb.upsert("lc", corpus(1))
    for call in (qb.count, lambda n: qb.get(n, ["x"]), lambda n: qb.load_state(n)):
        with pytest.raises(CollectionNotFoundError):
            call("lc")


def test_options_pass_through(qb: QdrantBase) -> None:
    options = {
        "hnsw": {"m": 8, "ef_construct": 50},
        "quantization": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
        "payload_indexes": {"parity": "keyword", "i": "float"},
        "search": {"hnsw_ef": 64, "exact": False},
    }
    name = f"o_{uuid.uuid4().hex[:6]}"
    qb.create_collection(CollectionSpec(name, DIM, options=options))
    assert dict(qb.get_spec(name).options) == options  # type: ignore[union-attr]
    qb.upsert(name, corpus(10))
    assert qb.count(name, F("parity") == "even") == 5
    assert len(qb.search_dense(name, np.ones(DIM), 3, F("i") >= 4)) == 3
    assert qb.count(name, F("i") == 4) == 1  # equality runs on the number shadow
    # local mode builds no payload index (it searches by brute force); the others index
    # the field for ranges and its number shadow for equality
    indexes = qb.collection_stats(name).details.get("payload_indexes")
    if getattr(qb, "_local", False):
        assert not indexes
    else:
        assert {"metadata.i", "pv_numbers.i"} <= set(indexes), indexes


# -- ids and documents ----------------------------------------------------------------
IDS: list[DocId] = [
    "7",
    7,
    "ünïcode-ключ-键 🚀",
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "",
    -5,
    2**40,
    2**70,
]


def test_ids_round_trip_exactly(qb: QdrantBase) -> None:
    docs = [
        Document(i, f"text of {i!r}", {"n": n}, np.full(DIM, n + 1.0)) for n, i in enumerate(IDS)
    ]
    name = make(qb, docs, "dot")
    got = qb.get(name, [*IDS[::-1], "missing", 8])
    assert [key(d.id) for d in got] == [key(i) for i in reversed(IDS)]
    assert all(d.text == f"text of {d.id!r}" for d in got)
    assert point_id("7") != point_id(7) and point_id(7) == point_id(7)
    hits = qb.search_dense(name, np.ones(DIM), len(IDS))
    assert {key(h.id) for h in hits} == {key(i) for i in IDS}
    assert {key(d.id) for batch in qb.scroll(name, batch_size=3) for d in batch} == {
        key(i) for i in IDS
    }


def test_upsert_replaces_and_keeps_metadata(qb: QdrantBase) -> None:
    meta = {"nested": {"x": 1, "y": [1.5, "z", None]}, "flag": True, "none": None}
    name = make(qb, [Document("a", "old", {"v": 1}, np.ones(DIM))])
    qb.upsert(name, [Document("a", "new", meta, np.ones(DIM))])
    assert qb.count(name) == 1
    (doc,) = qb.get(name, ["a"])
    assert doc.text == "new" and dict(doc.metadata) == meta


def test_get_with_vectors(qb: QdrantBase) -> None:
    docs = corpus(5)
    name = make(qb, docs, "dot")
    for want, have in zip(docs, qb.get(name, [d.id for d in docs], with_vectors=True)):
        assert have.dense is not None and want.dense is not None
        np.testing.assert_allclose(have.dense, want.dense, rtol=1e-6)
        assert have.sparse == want.sparse
    assert qb.get(name, ["d1"])[0].dense is None


def test_delete_count_scroll(qb: QdrantBase) -> None:
    name = make(qb, corpus(20))
    assert qb.count(name) == 20 and qb.count(name, F("parity") == "odd") == 10
    qb.delete(name, ids=["d0", "d1", "nope"])
    assert qb.count(name) == 18
    qb.delete(name, filter=F("i") >= 15)
    assert qb.count(name) == 13
    batches = list(qb.scroll(name, batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 3]
    odd = [d.id for b in qb.scroll(name, filter=F("parity") == "odd") for d in b]
    assert sorted(odd) == sorted(f"d{i}" for i in range(3, 15, 2))
    with pytest.raises(ConfigurationError):
        qb.delete(name)
    qb.delete(name, filter=F("parity").exists())
    assert qb.count(name) == 0


def test_batched_upsert_with_progress(qb: QdrantBase) -> None:
    qb.batch_size, qb.progress = 7, True
    name = make(qb, corpus(30))
    assert qb.count(name) == 30


# -- search ---------------------------------------------------------------------------
@pytest.mark.parametrize("distance", ["cosine", "dot", "l2"])
def test_dense_search_equals_exact(qb: QdrantBase, distance: str) -> None:
    docs = corpus(40, seed=1)
    name = make(qb, docs, distance)
    matrix = np.stack([d.dense for d in docs if d.dense is not None]).astype(np.float64)
    q = np.random.default_rng(9).normal(size=DIM)
    if distance == "cosine":
        ref = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    elif distance == "dot":
        ref = matrix @ q
    else:
        ref = -np.linalg.norm(matrix - q, axis=1)
    order = np.argsort(-ref)[:10]
    hits = qb.search_dense(name, q, 10)
    assert [h.id for h in hits] == [docs[i].id for i in order]
    assert [h.score for h in hits] == pytest.approx(ref[order], rel=1e-4, abs=1e-5)
    assert {h.kind for h in hits} == {distance}
    assert [s.rank for h in hits for s in h.sources] == list(range(1, 11))
    even = qb.search_dense(name, q, 10, F("parity") == "even")
    assert [h.id for h in even] == [docs[i].id for i in np.argsort(-ref) if i % 2 == 0][:10]


def test_sparse_search_applies_engine_idf(qb: QdrantBase) -> None:
    docs = corpus(40, seed=2)
    name = make(qb, docs)
    n = len(docs)
    df: dict[int, int] = {}
    for d in docs:
        for t in d.sparse.indices:  # type: ignore[union-attr]
            df[t] = df.get(t, 0) + 1
    query = SparseVector.from_dict({1: 1.0, 4: 1.0, 7: 2.0})
    ref = {}
    for d in docs:
        weights = d.sparse.to_dict()  # type: ignore[union-attr]
        score = sum(
            v * weights.get(t, 0.0) * math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))
            for t, v in query.to_dict().items()
        )
        if score > 0:
            ref[d.id] = score
    hits = qb.search_sparse(name, query, 50)
    assert {h.id: h.score for h in hits} == pytest.approx(ref, rel=1e-4)
    assert all(h.kind == "bm25" for h in hits)
    assert qb.search_sparse(name, SparseVector((), ()), 5) == []


def _assert_same_fused(native: list[Hit], client: list[Hit]) -> None:
    """Same scores in the same order; ids equal within each group of tied scores."""
    assert len(native) == len(client)
    a, b = [h.score for h in native], [h.score for h in client]
    assert a == pytest.approx(b, rel=1e-5, abs=1e-9)
    start = 0
    for i in range(1, len(a) + 1):
        if i == len(a) or not math.isclose(b[i], b[start], rel_tol=1e-5, abs_tol=1e-9):
            assert {key(h.id) for h in native[start:i]} == {key(h.id) for h in client[start:i]}
            start = i


def _whole(hit: Hit) -> tuple[object, ...]:
    doc = hit.document
    return (doc.id, doc.text, doc.metadata, hit.score, hit.kind, hit.sources, dict(hit.scores))


FUSIONS: list[Fusion] = [
    RRF(),
    RRF(k=5),
    RRF(k=0, weights=(2.0, 2.0)),
    RRF(weights=(1.0, 0.5)),
    RRF(k=2.5),
    DBSF(),
    DBSF(weights=(3.0, 3.0)),
    DBSF(weights=(1.0, 2.0)),
    Convex(alpha=0.3),
]


@pytest.mark.parametrize("distance", ["cosine", "l2"])
def test_native_hybrid_equals_client_fusion(qb: QdrantBase, distance: str) -> None:
    docs = corpus(60, seed=3)
    name = make(qb, docs, distance)
    rng = np.random.default_rng(4)
    with_legs: set[str] = set()
    for trial in range(3):
        dense = rng.normal(size=DIM)
        sparse = SparseVector.from_dict({int(t): 1.0 for t in rng.choice(30, 4, replace=False)})
        where = None if trial == 0 else F("parity") == "even"
        for fusion in FUSIONS:
            native = qb.search_hybrid(
                name, dense, sparse, 40, fusion=fusion, candidates=15, filter=where
            )
            legs = [
                qb.search_dense(name, dense, 15, where),
                qb.search_sparse(name, sparse, 15, where),
            ]
            want = fuse(legs, fusion, 40)
            _assert_same_fused(native, want)
            expected_native = not isinstance(fusion, Convex) and fusion not in (
                RRF(weights=(1.0, 0.5)),
                RRF(k=2.5),
                DBSF(weights=(1.0, 2.0)),
            )
            if isinstance(fusion, DBSF) and distance == "l2":
                expected_native = False
            assert qb.native_fusion(name, fusion) is expected_native, fusion
            if expected_native:
                assert {s.leg for h in native for s in h.sources} == {"hybrid"}
                # every leg's own score rides along (Qdrant returns only the fused one)
                every = {
                    distance: qb.search_dense(name, dense, 60, where),
                    "bm25": qb.search_sparse(name, sparse, 60, where),
                }
                for hit in native:
                    for kind, leg in every.items():
                        own = {h.id: h.score for h in leg}
                        if hit.id in own:
                            assert hit.scores[kind] == pytest.approx(own[hit.id], abs=1e-5)
                            with_legs.add(kind)
                        else:  # shares no term with the query
                            assert kind not in hit.scores, (kind, hit)
            else:  # fused by polyvec over payload-free legs: exactly fuse's answer
                assert [_whole(h) for h in native] == [_whole(h) for h in want], fusion
    assert with_legs == {distance, "bm25"}  # both legs' scores were checked


def test_hybrid_respects_k_and_kind(qb: QdrantBase) -> None:
    name = make(qb, corpus(30, seed=5))
    hits = qb.search_hybrid(
        name, np.ones(DIM), SparseVector.from_dict({1: 1.0}), 4, fusion=DBSF(), candidates=10
    )
    assert len(hits) == 4 and {h.kind for h in hits} == {"dbsf"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# -- state, persistence, threads ------------------------------------------------------
def test_state_is_kept_and_not_a_document(qb: QdrantBase) -> None:
    name = make(qb, corpus(3))
    assert qb.load_state(name) is None
    state = {"version": 1, "stats": {"n_docs": 3, "total_length": 12}, "bm25": {"k1": 1.2}}
    qb.save_state(name, state)
    qb.save_state(name, {**state, "version": 2})
    assert qb.load_state(name) == {**state, "version": 2}
    assert qb.count(name) == 3
    qb.drop_collection(name)
    qb.create_collection(CollectionSpec(name, DIM))
    assert qb.load_state(name) is None


@pytest.mark.qdrant
@pytest.mark.parametrize("variant", ["qdrant-local", "qdrant-edge"])
def test_persists_across_reopen(engines: _Engines, variant: str) -> None:
    engine = engine_for(engines, variant)
    assert engine.url is not None
    url = engine.url(variant, f"p{uuid.uuid4().hex[:8]}")
    docs = corpus(25, seed=6)
    with open_backend(url) as first:
        assert isinstance(first, QdrantBase)
        name = make(first, docs, "l2")
        first.save_state(name, {"stats": {"n_docs": 25}})
        first.delete(name, ids=["d3"])
    with open_backend(url) as again:
        assert again.list_collections() == [name]
        assert again.get_spec(name) == CollectionSpec(name, DIM, "l2")
        assert again.count(name) == 24 and again.load_state(name) == {"stats": {"n_docs": 25}}
        (doc,) = again.get(name, ["d7"])
        assert doc.metadata["i"] == 7
        assert again.search_dense(name, docs[7].dense, 1)[0].id == "d7"  # type: ignore[arg-type]


def test_shared_across_threads(qb: QdrantBase) -> None:
    name = make(qb, corpus(5))
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for j in range(5):
                qb.upsert(name, [Document(f"t{t}-{j}", "x", {"t": t}, np.ones(DIM))])
                qb.search_dense(name, np.ones(DIM), 3)
                qb.count(name, F("t") == t)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and qb.count(name) == 25
    assert asyncio.run(qb.acount(name, F("t") == 2)) == 5


# -- bad input and unreachable servers ------------------------------------------------
def test_bad_vectors_raise_typed_errors(qb: QdrantBase) -> None:
    name = make(qb, corpus(3))
    with pytest.raises(DimensionMismatchError, match="expects 8"):
        qb.upsert(name, [Document("x", "", {}, np.ones(DIM + 1))])
    with pytest.raises(DimensionMismatchError):
        qb.search_dense(name, np.ones(3), 2)
    with pytest.raises(InvalidVectorError, match="NaN"):
        qb.search_dense(name, np.array([math.nan] * DIM), 2)
    with pytest.raises(InvalidVectorError, match="no dense vector"):
        qb.upsert(name, [Document("x", "no vector")])
    with pytest.raises(InvalidVectorError):
        Document("x", "", {}, np.array([math.nan] * DIM))
    with pytest.raises(ConfigurationError, match="two weights"):
        qb.search_hybrid(
            name, np.ones(DIM), SparseVector.from_dict({1: 1.0}), 3,
            fusion=RRF(weights=(1, 1, 1)), candidates=5,
        )  # fmt: skip
    assert qb.count(name) == 3


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.qdrant
@pytest.mark.parametrize("scheme", ["qdrant", "qdrant+grpc", "qdrants"])
def test_unreachable_server_is_backend_unavailable(scheme: str) -> None:
    port = _closed_port()
    backend = open_backend(f"{scheme}://127.0.0.1:{port}?api_key=s3cr3t-key&timeout=2")
    assert "s3cr3t" not in repr(backend) and "***" in repr(backend)
    with pytest.raises(BackendUnavailableError) as info:
        backend.list_collections()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "s3cr3t" not in message
    assert "start the server" in message
    backend.close()


@pytest.mark.qdrant
@pytest.mark.parametrize(
    ("module", "package", "extra", "url"),
    [
        ("polyvec.backends.qdrant.backend", "qdrant_client", "qdrant", "qdrant+memory://"),
        ("polyvec.backends.qdrant.edge", "qdrant_edge", "qdrant-edge", "qdrant-edge://"),
    ],
)
def test_missing_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, package: str, extra: str, url: str
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingDependencyError) as info:
        open_backend(url)
    assert info.value.extra == extra and f"polyvec[{extra}]" in str(info.value)


# -- URLs -------------------------------------------------------------------------------
@pytest.mark.qdrant
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("qdrant+memory://", {"location": ":memory:"}),
        ("qdrant+local:///abs/dir", {"path": "/abs/dir"}),
        ("qdrant+local://./rel/dir", {"path": "./rel/dir"}),
        ("qdrant+local://rel", {"path": "rel"}),
        ("qdrant://db.example:7333/pre/fix", {"host": "db.example", "port": 7333, "prefix": "pre/fix"}),
        ("qdrants://cloud.example", {"host": "cloud.example", "https": True}),
        ("qdrant+grpc://db:7000", {"host": "db", "prefer_grpc": True, "grpc_port": 7000}),
        ("qdrant+grpc://db?https=true&port=7001", {"host": "db", "prefer_grpc": True, "https": True, "port": 7001}),
        ("qdrant://:p%40ss@db", {"host": "db", "api_key": "p@ss"}),
        ("qdrant://db?api_key=k&timeout=5&batch_size=64", {"host": "db", "api_key": "k", "timeout": 5, "batch_size": 64}),
    ],
)  # fmt: skip
def test_parse_url(url: str, expected: dict[str, object]) -> None:
    from polyvec.backends.qdrant.backend import parse_url

    assert parse_url(url) == expected


@pytest.mark.qdrant
@pytest.mark.parametrize(
    "url", ["qdrant+local://", "qdrant://", "qdrant://db?colour=red", "qdrant://db?port=x"]
)
def test_bad_urls_name_the_fix(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_backend(url)


@pytest.mark.qdrant
def test_api_key_from_environment_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_API_KEY", "env-secret")
    backend = open_backend("qdrant://127.0.0.1:1")
    assert backend._secret == "env-secret"  # type: ignore[attr-defined]
    assert "env-secret" not in repr(backend)
    with pytest.raises(BackendUnavailableError) as info:
        backend.count("x")
    assert "env-secret" not in str(info.value)
    backend.close()


@pytest.mark.qdrant
def test_edge_urls(tmp_path: object) -> None:
    from pathlib import Path

    from polyvec.backends.qdrant.edge import QdrantEdgeBackend

    where = Path(str(tmp_path)) / "store"
    with QdrantEdgeBackend.from_url(f"qdrant-edge://{where}?batch_size=3") as absolute:
        assert absolute.root == where and absolute.batch_size == 3  # type: ignore[attr-defined]
    temporary = QdrantEdgeBackend.from_url("qdrant-edge://")
    root = temporary.root
    temporary.create_collection(CollectionSpec("x", DIM))
    temporary.close()
    assert not root.exists()
    with pytest.raises(ConfigurationError):
        QdrantEdgeBackend.from_url("qdrant-edge:///tmp/x?nope=1")


@pytest.mark.qdrant
def test_own_client_and_langchain_layout() -> None:
    """A user's QdrantClient, and a collection in langchain-qdrant's layout (unnamed
    dense vector, ``langchain-sparse``, no ``doc_id``) read through polyvec."""
    from qdrant_client import QdrantClient, models

    from polyvec.backends.qdrant import QdrantBackend

    client = QdrantClient(":memory:")
    client.create_collection(
        "lc",
        vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT),
        sparse_vectors_config={"langchain-sparse": models.SparseVectorParams()},
    )
    point = "0f8fad5b-d9cb-469f-a165-70867728950e"
    payload = {"page_content": "hello", "metadata": {"lang": "en"}}
    client.upsert("lc", [models.PointStruct(id=point, vector={"": [1, 0, 0]}, payload=payload)])
    backend = QdrantBackend(client=client, vector_name="", sparse_vector_name="langchain-sparse")
    assert backend.get_spec("lc") == CollectionSpec("lc", 3, "dot", True)
    (hit,) = backend.search_dense("lc", np.array([1.0, 0, 0]), 5, F("lang") == "en")
    assert (hit.id, hit.document.text, hit.score) == (point, "hello", 1.0)
    backend.upsert("lc", [Document(1, "mine", {}, np.array([0.0, 1, 0]))])
    assert backend.count("lc") == 2 and backend.get("lc", [1])[0].text == "mine"
    # an integer point id (others write them) survives the fusion polyvec does itself
    sparse = models.SparseVector(indices=[7], values=[1.0])
    client.upsert(
        "lc",
        [models.PointStruct(id=42, vector={"": [1, 1, 0], "langchain-sparse": sparse},
                            payload={"page_content": "int id", "metadata": {}})],
    )  # fmt: skip
    hits = backend.search_hybrid(
        "lc", np.array([1.0, 1, 0]), SparseVector.from_dict({7: 1.0}), 3,
        fusion=Convex(0.5), candidates=3,
    )  # fmt: skip
    assert (hits[0].id, hits[0].document.text) == ("42", "int id")

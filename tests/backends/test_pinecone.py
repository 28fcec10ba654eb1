"""PineconeBackend through the official SDK against the local **stand-in** (not
Pinecone; see tests/pinecone_standin): every method, namespaces, ids, batching, polyvec's
state records, native sparse-dense scoring against numpy, URLs and typed errors.
Filters: test_pinecone_filters.py. Real Pinecone: test_pinecone_live.py."""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from polyvec.backends.base import CollectionSpec
from polyvec.errors import (
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
    MissingDependencyError,
    WriteError,
)
from polyvec.filters import F
from polyvec.filters.ast import And, Or
from polyvec.fusion import DBSF, RRF, Convex, fuse
from polyvec.types import Document, SparseVector
from tests.conftest import REQUIRED

if "pinecone" in REQUIRED:  # CI requires it: a missing client fails, never skips
    import pinecone  # noqa: F401
else:
    pytest.importorskip("pinecone")
pytestmark = pytest.mark.pinecone

from polyvec.backends.pinecone.backend import META_NAMESPACE, PineconeBackend, parse_url  # noqa: E402
from polyvec.backends.pinecone.codec import decode_id, encode_id  # noqa: E402
from tests.pinecone_standin import StandIn, start_standin  # noqa: E402

DIM = 8


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    server = start_standin(DIM)
    yield server
    server.stop()


@pytest.fixture
def pb(standin: StandIn) -> Iterator[PineconeBackend]:
    backend = PineconeBackend.from_url(f"{standin.url}?prefix=t{uuid.uuid4().hex[:8]}-")
    yield backend
    backend.close()


def corpus(n: int, seed: int = 0) -> list[Document]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        terms = rng.choice(30, size=int(rng.integers(1, 6)), replace=False)
        sparse = SparseVector.from_dict({int(t): float(rng.integers(1, 4)) for t in terms})
        meta = {"i": i, "parity": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 3}"]}
        docs.append(Document(f"d{i}", f"text {i}", meta, rng.normal(size=DIM), sparse))
    return docs


def make(pb: PineconeBackend, docs: Sequence[Document], distance: str = "cosine") -> str:
    name = f"c_{uuid.uuid4().hex[:8]}"
    pb.create_collection(CollectionSpec(name, DIM, distance))  # type: ignore[arg-type]
    pb.upsert(name, docs)
    return name


def key(doc_id: object) -> tuple[str, object]:
    return (type(doc_id).__name__, doc_id)


# -- collections ----------------------------------------------------------------------
def test_collection_lifecycle(pb: PineconeBackend, standin: StandIn) -> None:
    spec = CollectionSpec("lc", DIM, "dot")
    pb.create_collection(spec)
    assert pb.get_spec("lc") == spec
    pb.create_collection(spec)  # same spec: nothing happens
    assert pb.list_collections() == ["lc"]
    with pytest.raises(ConfigurationError, match="dimension"):
        pb.create_collection(CollectionSpec("lc", DIM, "cosine"))
    fresh = PineconeBackend.from_url(f"{standin.url}?prefix={pb.prefix}")
    assert fresh.get_spec("lc") == spec  # read back from the __polyvec__ namespace
    pb.upsert("lc", corpus(3))
    pb.save_state("lc", {"k": 1})
    pb.drop_collection("lc")
    assert pb.list_collections() == [] and fresh.list_collections() == []
    assert pb.namespace("lc") not in standin.index.namespaces
    assert not [i for i in standin.index.namespaces.get(META_NAMESPACE, {}) if pb.prefix in i]


def test_specs_the_index_cannot_hold_are_refused(pb: PineconeBackend) -> None:
    with pytest.raises(ConfigurationError, match="index has dimension 8"):
        pb.create_collection(CollectionSpec("a", 3, "cosine"))
    with pytest.raises(ConfigurationError, match="dotproduct"):
        pb.create_collection(CollectionSpec("b", DIM, "l2"))
    with pytest.raises(ConfigurationError, match="no options"):
        pb.create_collection(CollectionSpec("c", DIM, "cosine", options={"pods": 2}))
    with pytest.raises(CollectionNotFoundError):
        pb.upsert("nope", corpus(1))
    with pytest.raises(CollectionNotFoundError):
        pb.count("nope")


def test_cosine_index_serves_dense_only_cosine_collections() -> None:
    server = start_standin(DIM, "cosine")
    try:
        pb = PineconeBackend.from_url(server.url)
        with pytest.raises(ConfigurationError, match="dotproduct index"):
            pb.create_collection(CollectionSpec("s", DIM, "cosine", sparse=True))
        docs = [Document(d.id, d.text, d.metadata, d.dense) for d in corpus(5)]
        name = f"c_{uuid.uuid4().hex[:6]}"
        pb.create_collection(CollectionSpec(name, DIM, "cosine", sparse=False))
        pb.upsert(name, docs)
        hits = pb.search_dense(name, docs[0].dense, 2)  # type: ignore[arg-type]
        assert hits[0].id == "d0" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    finally:
        server.stop()


def test_namespaces_prefix_mapping_and_unicode_names(standin: StandIn) -> None:
    tag = uuid.uuid4().hex[:6]
    a = PineconeBackend.from_url(f"{standin.url}?prefix={tag}a-")
    b = PineconeBackend.from_url(f"{standin.url}?prefix={tag}b-&namespace.legacy={tag}-old")
    for backend in (a, b):
        backend.create_collection(CollectionSpec("Zoë docs/1", DIM, "cosine"))
    b.create_collection(CollectionSpec("legacy", DIM, "cosine"))
    a.upsert("Zoë docs/1", corpus(2))
    b.upsert("legacy", corpus(3))
    assert a.list_collections() == ["Zoë docs/1"]
    assert b.list_collections() == ["Zoë docs/1", "legacy"]
    assert a.namespace("Zoë docs/1") == f"{tag}a-Zo%C3%AB docs/1"
    assert b.namespace("legacy") == f"{tag}-old"
    assert standin.index.namespaces[f"{tag}-old"].keys() == {"s:d0", "s:d1", "s:d2"}
    assert b.count("Zoë docs/1") == 0 and a.count("Zoë docs/1") == 2
    with pytest.raises(ConfigurationError, match="reserved"):
        PineconeBackend.from_url(standin.url, namespaces={"x": META_NAMESPACE}).namespace("x")


def test_default_namespace_can_be_mapped(standin: StandIn) -> None:
    pb = PineconeBackend.from_url(standin.url, namespaces={"main": "__default__"})
    pb.create_collection(CollectionSpec("main", DIM, "dot"))
    pb.upsert("main", corpus(4))
    assert "" in standin.index.namespaces and pb.count("main") == 4
    assert "main" in pb.list_collections()
    pb.drop_collection("main")
    assert "" not in standin.index.namespaces and "main" not in pb.list_collections()


# -- data -----------------------------------------------------------------------------
def test_ids_round_trip_with_their_types(pb: PineconeBackend) -> None:
    ids: list[str | int] = ["7", 7, "ünïcode-ключ-键", "a%20b", "", 2**70, -3, "s:x", "\x00nul"]
    docs = [Document(i, f"text {n}", {"n": n}, np.ones(DIM) + n) for n, i in enumerate(ids)]
    name = make(pb, docs)
    got = pb.get(name, list(reversed(ids)))
    assert [key(d.id) for d in got] == [key(i) for i in reversed(ids)]
    assert [d.metadata["n"] for d in got] == list(reversed(range(len(ids))))
    assert pb.count(name) == len(ids)
    scrolled = {key(d.id) for batch in pb.scroll(name, batch_size=4) for d in batch}
    assert scrolled == {key(i) for i in ids}
    assert all(encode_id(i).isascii() and decode_id(encode_id(i)) == i for i in ids)
    assert decode_id("plain-id") == "plain-id"  # a record polyvec did not write
    with pytest.raises(InputError, match="512"):
        encode_id("x" * 600)


def test_metadata_and_vectors_round_trip(pb: PineconeBackend) -> None:
    meta = {"nested": {"x": 1, "y": [1, "z", None]}, "flag": True, "none": None, "n": 1.5}
    docs = [Document("a", "hello", meta, np.arange(1, DIM + 1), SparseVector((3, 9), (1.0, 2.5)))]
    name = make(pb, docs, "dot")
    (got,) = pb.get(name, ["a"], with_vectors=True)
    assert got.metadata == meta and got.text == "hello"
    assert np.allclose(got.dense, np.arange(1, DIM + 1))  # type: ignore[arg-type]
    assert got.sparse == SparseVector((3, 9), (1.0, 2.5))
    cos = make(pb, docs, "cosine")
    (normed,) = pb.get(cos, ["a"], with_vectors=True)
    assert np.linalg.norm(normed.dense) == pytest.approx(1.0, abs=1e-6)  # type: ignore[arg-type]
    assert pb.get(name, []) == [] and pb.get(name, ["missing", 1]) == []


def test_bad_input_is_refused_before_any_write(pb: PineconeBackend, standin: StandIn) -> None:
    name = make(pb, [])
    good = corpus(2)
    with pytest.raises(DimensionMismatchError):
        pb.upsert(name, [*good, Document("x", "", {}, np.ones(3))])
    with pytest.raises(InvalidVectorError, match="zeros"):
        pb.upsert(name, [*good, Document("x", "", {}, np.zeros(DIM))])
    with pytest.raises(InvalidVectorError, match="no dense"):
        pb.upsert(name, [*good, Document("x")])
    with pytest.raises(InputError, match="40960"):
        pb.upsert(name, [*good, Document("x", "y" * 41_000, {}, np.ones(DIM))])
    wide = SparseVector.from_dict({i: 1.0 for i in range(1001)})
    with pytest.raises(InputError, match="1000"):
        pb.upsert(name, [*good, Document("x", "", {}, np.ones(DIM), wide)])
    with pytest.raises(InputError, match="cannot store"):
        pb.upsert(name, [*good, Document("x", "", {"o": object()}, np.ones(DIM))])
    assert pb.count(name) == 0 and pb.namespace(name) not in standin.index.namespaces


def test_upsert_is_batched(pb: PineconeBackend, standin: StandIn) -> None:
    small = PineconeBackend.from_url(f"{standin.url}?prefix={pb.prefix}&batch_size=3")
    name = make(pb, [])
    before = len(standin.index.requests)
    small.upsert(name, corpus(10))
    upserts = [r for r in standin.index.requests[before:] if r[1] == "/vectors/upsert"]
    assert len(upserts) == 4 and small.count(name) == 10
    big = [Document(f"b{i}", "w" * 30_000, {}, np.ones(DIM)) for i in range(100)]
    before = len(standin.index.requests)
    pb.upsert(name, big)  # 3 MB of metadata: split under Pinecone's 2 MB per request
    upserts = [r for r in standin.index.requests[before:] if r[1] == "/vectors/upsert"]
    assert len(upserts) == 2 and pb.count(name) == 110


def test_failed_batch_names_what_was_written(
    pb: PineconeBackend, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinecone.errors.exceptions import PineconeConnectionError

    name = make(pb, [])
    backend = PineconeBackend.from_url(f"{standin.url}?prefix={pb.prefix}&batch_size=2")
    real = backend.index.upsert
    calls = []

    def flaky(**kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise PineconeConnectionError("connection reset")
        return real(**kwargs)

    monkeypatch.setattr(backend.index, "upsert", flaky)
    with pytest.raises(WriteError) as info:
        backend.upsert(name, corpus(5))
    assert info.value.written == ["d0", "d1"]
    assert info.value.failed == ["d2", "d3", "d4"]
    assert pb.count(name) == 2


def test_delete_count_and_scroll(pb: PineconeBackend) -> None:
    name = make(pb, corpus(12))
    assert pb.count(name, F("parity") == "even") == 6
    assert pb.count(name, Or(())) == 0 and pb.count(name, And(())) == 12
    odd = sorted(
        d.id for b in pb.scroll(name, filter=F("parity") == "odd", batch_size=4) for d in b
    )
    assert odd == sorted(f"d{i}" for i in range(1, 12, 2))
    assert [len(b) for b in pb.scroll(name, batch_size=5)] == [5, 5, 2]
    pb.delete(name, ids=["d0", "d1", "missing"])
    assert pb.count(name) == 10
    pb.delete(name, filter=F("tags").contains("t2"))
    assert pb.count(name) == 6 and pb.count(name, F("tags").contains("t2")) == 0
    pb.delete(name, filter=Or(()))  # matches nothing
    assert pb.count(name) == 6
    pb.delete(name, filter=And(()))  # matches everything
    assert pb.count(name) == 0
    pb.delete(name, ids=["d5"])  # an emptied namespace answers 404: still fine
    with pytest.raises(ConfigurationError):
        pb.delete(name)


# -- search ---------------------------------------------------------------------------
def _dense_ref(docs: Sequence[Document], q: np.ndarray, cosine: bool) -> dict[object, float]:
    out = {}
    for d in docs:
        v = np.asarray(d.dense, dtype=np.float64)
        out[d.id] = float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q)) if cosine else v @ q)
    return out


@pytest.mark.parametrize("distance", ["cosine", "dot"])
def test_dense_and_sparse_scores_equal_numpy(pb: PineconeBackend, distance: str) -> None:
    docs = corpus(20, seed=3)
    name = make(pb, docs, distance)
    q = np.random.default_rng(9).normal(size=DIM)
    ref = _dense_ref(docs, q, distance == "cosine")
    hits = pb.search_dense(name, q, 5)
    assert [h.id for h in hits] == sorted(ref, key=lambda i: -ref[i])[:5]
    assert [h.score for h in hits] == pytest.approx(sorted(ref.values(), reverse=True)[:5], 1e-5)
    assert hits[0].kind == distance and hits[0].sources[0].leg == "dense"
    sq = SparseVector.from_dict({1: 1.0, 5: 2.0, 7: 0.5})
    sref = {d.id: sq.dot(d.sparse) for d in docs if d.sparse is not None and sq.dot(d.sparse)}
    shits = pb.search_sparse(name, sq, 50)
    assert {h.id for h in shits} == set(sref)  # no zero-score records
    assert [h.score for h in shits] == pytest.approx(sorted(sref.values(), reverse=True), 1e-5)
    assert all(h.kind == "bm25" for h in shits)
    assert pb.search_sparse(name, SparseVector((), ()), 5) == []
    assert pb.search_dense(name, q, 0) == []
    even = pb.search_dense(name, q, 50, F("parity") == "even")
    assert {h.id for h in even} == {d.id for d in docs if d.metadata["parity"] == "even"}
    assert pb.search_dense(name, q, 5, Or(())) == []


def test_more_than_1000_matches_fetches_metadata_separately(pb: PineconeBackend) -> None:
    docs = corpus(6)
    name = make(pb, docs)
    hits = pb.search_dense(name, np.ones(DIM), 1500)
    assert len(hits) == 6 and all(h.document.metadata for h in hits)
    with pytest.raises(InputError, match="10000"):
        pb.search_dense(name, np.ones(DIM), 10_001)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_native_sparse_dense_is_alpha_weighted_dot_products(
    pb: PineconeBackend, alpha: float
) -> None:
    docs = corpus(15, seed=4)
    name = make(pb, docs, "cosine")
    q = np.random.default_rng(2).normal(size=DIM)
    sq = SparseVector.from_dict({0: 1.0, 2: 1.5, 4: 0.5})
    dense = _dense_ref(docs, q, True)
    want = {d.id: alpha * dense[d.id] + (1 - alpha) * sq.dot(d.sparse) for d in docs}  # type: ignore[arg-type]
    hits = pb.search_sparse_dense(name, q, sq, 6, alpha=alpha)
    assert [h.score for h in hits] == pytest.approx(sorted(want.values(), reverse=True)[:6], 1e-5)
    assert all(h.kind == "dot" and h.sources[0].leg == "hybrid" for h in hits)
    with pytest.raises(ConfigurationError):
        pb.search_sparse_dense(name, q, sq, 3, alpha=1.5)


@pytest.mark.parametrize("fusion", [RRF(), RRF(k=5, weights=(2.0, 1.0)), DBSF(), Convex(0.7)])
def test_search_hybrid_is_client_side_fusion_of_the_legs(
    pb: PineconeBackend, fusion: object
) -> None:
    docs = corpus(20, seed=5)
    name = make(pb, docs)
    q, sq = np.ones(DIM), SparseVector.from_dict({1: 1.0, 3: 1.0})
    legs = [pb.search_dense(name, q, 10), pb.search_sparse(name, sq, 10)]
    want = fuse(legs, fusion, 7)  # type: ignore[arg-type]
    got = pb.search_hybrid(name, q, sq, 7, fusion=fusion, candidates=10)  # type: ignore[arg-type]
    assert [h.id for h in got] == [h.id for h in want]
    assert PineconeBackend.capabilities.hybrid_fusions == frozenset()


def test_async_twins(pb: PineconeBackend) -> None:
    name = make(pb, corpus(4))

    async def run() -> tuple[int, int]:
        hits = await pb.asearch_dense(name, np.ones(DIM), 2)
        await pb.adelete(name, ids=[hits[0].id])
        return len(hits), await pb.acount(name)

    assert asyncio.run(run()) == (2, 3)


# -- polyvec's state ------------------------------------------------------------------
def test_state_round_trips_in_chunks_and_replaces_the_old_one(
    pb: PineconeBackend, standin: StandIn
) -> None:
    name = make(pb, [])
    assert pb.load_state(name) is None
    big = {"stats": {str(i): i for i in range(20_000)}}
    pb.save_state(name, big)
    assert pb.load_state(name) == big
    ns = pb.namespace(name)

    def chunks() -> list[str]:
        meta = standin.index.namespaces[META_NAMESPACE]
        return [i for i in meta if i.startswith("chunk:") and i.endswith(f":{ns}")]

    assert len(chunks()) > 5
    pb.save_state(name, {"small": True})
    assert pb.load_state(name) == {"small": True}
    assert len(chunks()) == 1  # the old chunks were deleted
    assert pb.count(name) == 0  # state is never a document
    with pytest.raises(InputError):
        pb.save_state(name, {"x": object()})


# -- URLs, errors, secrets ------------------------------------------------------------
def test_parse_url() -> None:
    assert (
        parse_url("pinecone://idx-abc.svc.pinecone.io")["host"] == "https://idx-abc.svc.pinecone.io"
    )
    assert parse_url("pinecone://localhost:5081")["host"] == "http://localhost:5081"
    assert parse_url("pinecone://127.0.0.1:5081?tls=true")["host"] == "https://127.0.0.1:5081"
    opts = parse_url("pinecone://h.io?prefix=p-&namespace.a=x&namespace.b=&timeout=5&batch_size=7")
    assert opts == {
        "host": "https://h.io",
        "prefix": "p-",
        "namespaces": {"a": "x", "b": ""},
        "timeout": 5.0,
        "batch_size": 7,
    }
    for bad in (
        "pinecone://",
        "pinecone://h.io/path",
        "pinecone://h.io?api_key=s3cret",
        "pinecone://:s3cret@h.io",
        "pinecone://h.io?bogus=1",
        "pinecone://h.io?tls=maybe",
        "qdrant://h.io",
    ):
        with pytest.raises(ConfigurationError) as info:
            parse_url(bad)
        assert "s3cret" not in str(info.value)


def test_api_key_comes_from_the_environment_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PINECONE_API_KEY"):
        PineconeBackend.from_url("pinecone://idx-abc.svc.pinecone.io")
    monkeypatch.setenv("PINECONE_API_KEY", "pk-s3cret-value")
    backend = PineconeBackend.from_url("pinecone://idx-abc.svc.pinecone.io")
    assert "s3cret" not in repr(backend) and "api_key=***" in repr(backend)


def test_wrong_key_and_unreachable_server_give_typed_errors() -> None:
    server = start_standin(DIM, api_key="right-key")
    try:
        backend = PineconeBackend.from_url(server.url, api_key="wrong-s3cret")
        with pytest.raises(BackendError, match="PINECONE_API_KEY") as info:
            backend.list_collections()
        assert "wrong-s3cret" not in str(info.value)
        ok = PineconeBackend.from_url(server.url, api_key="right-key")
        assert ok.list_collections() == []
        url = server.url
    finally:
        server.stop()
    gone = PineconeBackend.from_url(url, api_key="k-s3cret")
    with pytest.raises(BackendUnavailableError, match="cannot reach") as unreachable:
        gone.get_spec("x")
    assert "k-s3cret" not in str(unreachable.value)


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyvec.backends.registry import open_backend

    monkeypatch.setitem(sys.modules, "pinecone", None)
    monkeypatch.delitem(sys.modules, "polyvec.backends.pinecone.backend")
    with pytest.raises(MissingDependencyError) as info:
        importlib.import_module("polyvec.backends.pinecone.backend")
    assert (info.value.package, info.value.extra) == ("pinecone", "pinecone")
    monkeypatch.delitem(sys.modules, "polyvec.backends.pinecone.backend", raising=False)
    with pytest.raises(MissingDependencyError, match=r"polyvec\[pinecone\]"):
        open_backend("pinecone://127.0.0.1:1")


def test_capabilities_are_declared() -> None:
    caps = PineconeBackend.capabilities.as_dict()
    assert caps["sparse"] is True and caps["native_idf"] is False
    assert caps["hybrid_fusions"] == [] and caps["distances"] == ["cosine", "dot"]
    assert len(caps["filter_operators"]) == 16 and caps["delete_by_filter"] is True

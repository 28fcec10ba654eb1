"""ChromaBackend on the real engine, embedded (``chroma-local``) and a ``chroma run``
server (``chroma-server``): every method, ids, metadata round trips, the emulated
sparse search and its cache, polyvec's state, bad input, and a server that dies
mid-ingest."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyvec import F
from polyvec.backends.base import CollectionSpec
from polyvec.backends.chroma import ChromaBackend
from polyvec.backends.chroma.backend import parse_url
from polyvec.errors import (
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
    WriteError,
)
from polyvec.types import Document, SparseVector
from tests.conftest import _Engines, engine_for, variants_for
from tests.engines.chroma import start_server

pytestmark = pytest.mark.chroma


@pytest.fixture(params=variants_for("chroma"))
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cb(engines: _Engines, variant: str) -> Iterator[ChromaBackend]:
    backend = engine_for(engines, variant).make(variant, f"c{uuid.uuid4().hex[:10]}")
    assert isinstance(backend, ChromaBackend)
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
    assert parse_url("chroma+memory://?prefix=t1-") == {"memory": True, "prefix": "t1-"}
    assert parse_url("chroma+local:///srv/chroma") == {"path": "/srv/chroma"}
    assert parse_url("chroma://h:9000?ssl=true&tenant=t&database=d&batch_size=10") == {
        "host": "h", "port": 9000, "ssl": True, "tenant": "t", "database": "d",
        "batch_size": 10,
    }  # fmt: skip
    for bad in ("chroma+local://", "chroma://", "chroma://h?nope=1", "redis://h",
                "chroma://h?ssl=maybe"):  # fmt: skip
        with pytest.raises(ConfigurationError):
            parse_url(bad)


def test_token_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendUnavailableError) as info:
        ChromaBackend(host="127.0.0.1", port=1, token="s3cr3t")
    assert "s3cr3t" not in str(info.value)
    assert "chroma run" in str(info.value)  # the message names the fix


# -- collections --------------------------------------------------------------------------
def test_collection_lifecycle(cb: ChromaBackend) -> None:
    names = ["docs", "my docs", "ab", "über", "pvx-6162", "a..b"]
    for name in names:
        cb.create_collection(_spec(name))
        cb.create_collection(_spec(name))  # idempotent
    assert cb.list_collections() == sorted(names)
    assert cb.get_spec("my docs") == _spec("my docs")
    with pytest.raises(ConfigurationError, match="exists with dimension=3"):
        cb.create_collection(_spec("docs", dim=4))
    cb.save_state("docs", {"n_docs": 0})
    assert cb.list_collections() == sorted(names)  # the state collection stays hidden
    cb.drop_collection("docs")
    cb.drop_collection("docs")  # idempotent
    assert cb.get_spec("docs") is None and "docs" not in cb.list_collections()
    with pytest.raises(CollectionNotFoundError):
        cb.count("docs")
    cb.create_collection(_spec("docs"))
    assert cb.load_state("docs") is None  # dropping took its state along
    with pytest.raises(ConfigurationError, match="hnsw"):
        cb.create_collection(_spec("x1", options={"quantization": {}}))


def test_a_dropped_collection_leaves_nothing_behind(cb: ChromaBackend) -> None:
    """Chroma 1.5 leaks a dropped collection's array index into the next one created;
    polyvec deletes the records before dropping, so no filter sees the ghosts."""
    for name, tagged in (("first", 1), ("second", 0)):
        cb.create_collection(_spec(name))
        cb.upsert(
            name, [_doc(i, [1, i, 0], {"tags": ["x"]} if i == tagged else {}) for i in (0, 1)]
        )
        assert [d.id for b in cb.scroll(name, filter=F("tags").contains("x")) for d in b] == [
            tagged
        ]
        assert cb.count(name, ~F("tags").contains("x")) == 1
        cb.drop_collection(name)


# -- data ---------------------------------------------------------------------------------
IDS: list[Any] = ["7", 7, "i:7", "s:7", "", "ünïcode-ключ-键", 2**70, -3, "a b/c?d#e"]


def test_ids_round_trip_exactly(cb: ChromaBackend) -> None:
    cb.create_collection(_spec())
    cb.upsert("docs", [_doc(i, [1, n, 0]) for n, i in enumerate(IDS)])
    assert cb.count("docs") == len(IDS)
    got = cb.get("docs", [*reversed(IDS), "missing", 8])
    assert [(type(d.id), d.id) for d in got] == [(type(i), i) for i in reversed(IDS)]
    assert [d.text for d in got] == [f"text {i}" for i in reversed(IDS)]
    hits = cb.search_dense("docs", np.array([1.0, 0, 0]), len(IDS))
    assert {(type(h.id), h.id) for h in hits} == {(type(i), i) for i in IDS}


META: dict[str, Any] = {
    "s": "x", "n": 3, "f": 2.5, "b": True, "none": None, "empty": [], "edict": {},
    "nested": {"a": {"b": [1, {"c": None}], "t": "ü"}}, "list": [1, "a", False, [2]],
    "big": 2**70, "neg": -0.0, "dotted.key": 1, "q": 'say "hi" \\ bye',
}  # fmt: skip


def test_metadata_round_trips(cb: ChromaBackend) -> None:
    cb.create_collection(_spec())
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    cb.upsert("docs", [_doc("a", [1, 0, 0], {**META, "when": when, "day": dt.date(2024, 5, 1)})])
    (got,) = cb.get("docs", ["a"])
    assert got.metadata == {**META, "when": when.isoformat(), "day": "2024-05-01"}
    assert cb.count("docs", F("nested.a.t") == "ü") == 1
    assert cb.count("docs", F("when") >= dt.datetime(2024, 5, 1, 13, tzinfo=dt.timezone(
        dt.timedelta(hours=2)))) == 1  # fmt: skip


def test_upsert_replaces_everything(cb: ChromaBackend) -> None:
    """Chroma's upsert merges metadata; polyvec's replaces it, filters included."""
    cb.create_collection(_spec())
    sv = SparseVector((1, 2), (1.0, 1.0))
    cb.upsert("docs", [_doc("a", [1, 0, 0], {"a": 1, "tags": ["x"], "d": "2024-01-01"}, sv)])
    cb.upsert("docs", [_doc("a", [0, 1, 0], {"b": 2}), _doc("a", [0, 0, 1], {"c": 3})])
    (got,) = cb.get("docs", ["a"], with_vectors=True)
    assert got.metadata == {"c": 3} and got.sparse is None
    assert got.dense is not None and got.dense.tolist() == [0.0, 0.0, 1.0]
    for gone in (F("a") == 1, F("tags").contains("x"), F("b").exists(), F("d") > "2023-01-01"):
        assert cb.count("docs", gone) == 0, gone
    assert cb.count("docs", F("a") != 1) == 1
    assert cb.search_sparse("docs", SparseVector((1,), (1.0,)), 5) == []


def test_delete_get_count_scroll(cb: ChromaBackend) -> None:
    cb.create_collection(_spec())
    docs = [_doc(i, [1, i, 0], {"g": i % 3}, SparseVector((i,), (1.0,))) for i in range(20)]
    cb.upsert("docs", docs)
    batches = list(cb.scroll("docs", batch_size=7, with_vectors=True))
    assert [len(b) for b in batches] == [7, 7, 6]
    assert all(d.dense is not None and d.sparse is not None for b in batches for d in b)
    assert sorted(d.id for b in cb.scroll("docs", filter=F("g") == 1) for d in b) == list(
        range(1, 20, 3)
    )
    cb.delete("docs", ids=[0, 1, "1", 99])
    cb.delete("docs", filter=F("g") == 2)
    assert cb.count("docs") == 12 and cb.count("docs", F("g") == 2) == 0
    assert cb.search_sparse("docs", SparseVector((2,), (1.0,)), 3) == []
    with pytest.raises(ConfigurationError):
        cb.delete("docs", ids=[1], filter=F("g") == 1)
    with pytest.raises(ConfigurationError):
        cb.delete("docs")


# -- search -------------------------------------------------------------------------------
@pytest.mark.parametrize("distance", ["cosine", "dot", "l2"])
def test_dense_scores_are_higher_is_better(cb: ChromaBackend, distance: Any) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    cb.create_collection(_spec("d", 8, distance))
    cb.upsert("d", [_doc(i, v) for i, v in enumerate(vectors)])
    q = rng.normal(size=8).astype(np.float32)
    if distance == "cosine":
        want = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    elif distance == "dot":
        want = vectors @ q
    else:
        want = -np.linalg.norm(vectors - q, axis=1)
    hits = cb.search_dense("d", q, 5)
    assert [h.id for h in hits] == list(np.argsort(-want)[:5])
    assert [h.score for h in hits] == pytest.approx(sorted(want, reverse=True)[:5], abs=1e-4)
    assert all(h.kind == distance and h.sources[0].leg == "dense" for h in hits)


def test_sparse_search_is_exact_with_and_without_filters(cb: ChromaBackend) -> None:
    rng = np.random.default_rng(2)
    vecs = [
        SparseVector.from_dict({int(t): float(rng.random() + 0.1) for t in rng.integers(0, 40, 6)})
        for _ in range(300)
    ]
    cb.create_collection(_spec(dim=2))
    cb.upsert("docs", [_doc(i, [1, i], {"g": i % 10}, v) for i, v in enumerate(vecs)])
    q = SparseVector.from_dict({3: 1.0, 7: 0.5, 11: 2.0})
    scores = {i: q.dot(v) for i, v in enumerate(vecs) if set(q.indices) & set(v.indices)}
    for f in (None, F("g") == 7, F("g").is_in([1, 2]) & ~(F("g") == 2)):
        allowed = [i for i in scores if f is None or _matches(f, {"g": i % 10})]
        want = sorted(allowed, key=lambda i: (-scores[i], i))[:10]
        hits = cb.search_sparse("docs", q, 10, f)
        assert [h.id for h in hits] == want, f
        assert [h.score for h in hits] == pytest.approx([scores[i] for i in want], rel=1e-5)
        assert all(h.kind == "bm25" for h in hits)


def _matches(f: Any, meta: dict[str, Any]) -> bool:
    from polyvec.filters.evaluate import matches

    return matches(f, meta)


def test_sparse_cache_follows_other_clients(
    cb: ChromaBackend, engines: _Engines, variant: str
) -> None:
    cb.create_collection(_spec())
    cb.upsert("docs", [_doc("a", [1, 0, 0], sparse=SparseVector((5,), (1.0,)))])
    q = SparseVector((5,), (1.0,))
    assert [h.id for h in cb.search_sparse("docs", q, 5)] == ["a"]
    other = ChromaBackend.from_url(cb.display_url.replace("http://", "chroma://") + _query(cb))
    try:
        other.upsert("docs", [_doc("b", [0, 1, 0], sparse=SparseVector((5,), (2.0,)))])
        other.delete("docs", ids=["a"])
    finally:
        other.close()
    assert [h.id for h in cb.search_sparse("docs", q, 5)] == ["b"]


def test_documents_deleted_behind_polyvecs_back_are_skipped(cb: ChromaBackend) -> None:
    cb.create_collection(_spec())
    cb.upsert(
        "docs", [_doc(i, [1, i, 0], sparse=SparseVector((1,), (10.0 - i,))) for i in range(6)]
    )
    q = SparseVector((1,), (1.0,))
    assert [h.id for h in cb.search_sparse("docs", q, 3)] == [0, 1, 2]
    cb._handle("docs").delete(ids=["i:0", "i:2"])  # raw chromadb: no new write generation
    assert [h.id for h in cb.search_sparse("docs", q, 3)] == [1, 3, 4]


def _query(cb: ChromaBackend) -> str:
    return f"?prefix={cb.prefix}" if cb.display_url.startswith("http") else ""


def test_sparse_cache_is_persisted_beside_an_embedded_store(tmp_path: Path) -> None:
    backend = ChromaBackend(path=tmp_path)
    backend.create_collection(_spec())
    backend.upsert(
        "docs", [_doc(i, [1, i, 0], sparse=SparseVector((i,), (1.0,))) for i in range(5)]
    )
    assert [h.id for h in backend.search_sparse("docs", SparseVector((3,), (1.0,)), 2)] == [3]
    backend.close()
    assert list((tmp_path / "polyvec-sparse").glob("*.npz"))
    reopened = ChromaBackend(path=tmp_path)
    reopened._cache.index = _no_rebuild(reopened._cache.index)  # type: ignore[method-assign]
    assert [h.id for h in reopened.search_sparse("docs", SparseVector((3,), (1.0,)), 2)] == [3]
    reopened.drop_collection("docs")
    assert not list((tmp_path / "polyvec-sparse").glob("*.npz"))


def _no_rebuild(index: Any) -> Any:
    def wrapped(name: str, cid: str, gen: str, load: Any) -> Any:
        return index(name, cid, gen, lambda: pytest.fail("the cache was rebuilt"))

    return wrapped


def test_no_native_hybrid(cb: ChromaBackend) -> None:
    caps = cb.capabilities
    assert caps.hybrid_fusions == frozenset() and caps.emulated == frozenset({"sparse", "facet"})
    assert not caps.sparse and "emulated" in caps.as_dict()


# -- state --------------------------------------------------------------------------------
def test_state_is_kept_apart(cb: ChromaBackend) -> None:
    cb.create_collection(_spec())
    assert cb.load_state("docs") is None
    state = {"n_docs": 3, "df": {str(i): i for i in range(5000)}, "text": "ü" * 10}
    cb.save_state("docs", state)
    cb.save_state("docs", {**state, "n_docs": 4})
    assert cb.load_state("docs") == {**state, "n_docs": 4}
    assert cb.count("docs") == 0 and list(cb.scroll("docs")) == []
    with pytest.raises(InputError):
        cb.save_state("docs", {"x": object()})


# -- bad input ----------------------------------------------------------------------------
def test_bad_input_is_refused_before_writing(cb: ChromaBackend) -> None:
    cb.create_collection(_spec(sparse=False))
    with pytest.raises(DimensionMismatchError):
        cb.upsert("docs", [_doc("a", [1, 0, 0]), _doc("b", [1, 0])])
    with pytest.raises(InvalidVectorError, match="no dense vector"):
        cb.upsert("docs", [Document("a", "x")])
    with pytest.raises(InputError, match="finite"):
        cb.upsert("docs", [_doc("a", [1, 0, 0], {"x": float("nan")})])
    with pytest.raises(InputError, match="non-str key"):
        cb.upsert("docs", [_doc("a", [1, 0, 0], {"x": {1: 2}})])
    assert cb.count("docs") == 0
    with pytest.raises(DimensionMismatchError):
        cb.search_dense("docs", np.array([1.0, 0.0]), 3)
    with pytest.raises(InvalidVectorError):
        cb.search_dense("docs", np.array([1.0, np.nan, 0.0]), 3)
    with pytest.raises(ConfigurationError, match="sparse=False"):
        cb.search_sparse("docs", SparseVector((1,), (1.0,)), 3)
    assert cb.search_dense("docs", np.array([1.0, 0, 0]), 0) == []


def test_async_twins(cb: ChromaBackend) -> None:
    async def run() -> list[Any]:
        await cb.aupsert("docs", [_doc("a", [1, 0, 0], sparse=SparseVector((1,), (1.0,)))])
        return await cb.asearch_sparse("docs", SparseVector((1,), (1.0,)), 3)

    cb.create_collection(_spec())
    assert [h.id for h in asyncio.run(run())] == ["a"]


# -- a server that goes away --------------------------------------------------------------
def test_server_killed_mid_ingest_names_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(tmp_path / "doomed")
    try:
        backend = ChromaBackend.from_url(server.url, batch_size=10)
        backend.create_collection(_spec())
        docs = [_doc(i, [1, i, 0], {"i": i}) for i in range(45)]
        from chromadb.api.models.Collection import Collection

        real_upsert = Collection.upsert
        calls = []

        def upsert_then_die(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = real_upsert(self, *args, **kwargs)
            calls.append(1)
            if len(calls) == 2:
                server.kill()  # the server dies after the second batch was stored
            return result

        monkeypatch.setattr(Collection, "upsert", upsert_then_die)
        with pytest.raises(WriteError) as info:
            backend.upsert("docs", docs)
        err = info.value
        assert err.written == list(range(20)) and err.failed == list(range(20, 45))
        assert server.url.split("//")[1] in str(err) and "20 document(s) were written" in str(err)
        monkeypatch.setattr(Collection, "upsert", real_upsert)
        with pytest.raises(BackendUnavailableError):
            backend.count("docs")
        with pytest.raises(BackendUnavailableError):  # nothing attempted: not a WriteError
            backend.delete("docs", ids=[1, 2])
        server = start_server(tmp_path / "doomed", port=server.port)
        again = ChromaBackend.from_url(server.url)
        assert again.count("docs") == 20  # exactly what the error said was written
        again.upsert("docs", docs)  # re-running the write is safe
        assert again.count("docs") == 45
    finally:
        server.stop()

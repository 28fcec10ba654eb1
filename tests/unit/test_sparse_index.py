"""SparseIndex (polyvec.sparse.index): a congruence test against a plain dict of
vectors under random upserts, deletes, reloads and searches, plus its edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.errors import InputError, InvalidVectorError
from polyvec.sparse.index import SparseIndex
from polyvec.types import DocId, SparseVector

ids = st.one_of(st.integers(0, 30), st.integers(0, 30).map(str))
vectors = st.dictionaries(st.integers(0, 60), st.floats(0.01, 5.0), max_size=6).map(
    SparseVector.from_dict
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.lists(st.tuples(ids, vectors), min_size=1, max_size=8)),
        st.tuples(st.just("delete"), st.lists(ids, max_size=5)),
        st.tuples(st.just("reload"), st.none()),
    ),
    max_size=25,
)


def reference(store: dict[DocId, SparseVector], q: SparseVector) -> dict[DocId, float]:
    return {i: q.dot(v) for i, v in store.items() if set(q.indices) & set(v.indices)}


@settings(max_examples=150, deadline=None)
@given(steps=ops, query=vectors, k=st.integers(1, 12))
def test_index_agrees_with_brute_force(steps: list, query: SparseVector, k: int) -> None:
    index, store = SparseIndex(), {}
    for op, arg in steps:
        if op == "upsert":
            index.upsert([i for i, _ in arg], [v for _, v in arg])
            store.update(dict(arg))
        elif op == "delete":
            index.delete(arg)
            for i in arg:
                store.pop(i, None)
        else:
            index, meta = SparseIndex.from_bytes(index.to_bytes({"n": len(store)}))
            assert meta == {"n": len(store)}
    assert len(index) == len(store) and set(index.ids()) == set(store)
    want = reference(store, query)
    got = index.search(query)
    assert {i for i, _ in got} == set(want)
    for i, score in got:
        assert score == pytest.approx(want[i], rel=1e-5)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert index.search(query, k) == got[:k]
    allowed = set(list(store)[::2])
    assert index.search(query, None, allowed) == [(i, s) for i, s in got if i in allowed]


def test_ids_keep_their_type_and_ties_keep_insertion_order() -> None:
    index = SparseIndex()
    v = SparseVector((1,), (1.0,))
    index.upsert(["7", 7, "b"], [v, v, v])
    assert index.search(v) == [("7", 1.0), (7, 1.0), ("b", 1.0)]
    index.upsert(["7"], [SparseVector((1,), (0.5,))])  # replaced: new score, new slot
    assert index.search(v) == [(7, 1.0), ("b", 1.0), ("7", 0.5)]
    index.upsert(["x", "x"], [v, SparseVector((2,), (1.0,))])  # the last one wins
    assert "x" not in dict(index.search(v))


def test_save_and_load_atomically(tmp_path: Path) -> None:
    index = SparseIndex()
    index.upsert(list(range(100)), [SparseVector((i % 7, 50 + i), (1.0, 2.0)) for i in range(100)])
    index.delete(range(0, 100, 3))
    path = tmp_path / "sub" / "idx.npz"
    index.save(path, {"generation": "g1"})
    loaded, meta = SparseIndex.load(path)
    assert meta == {"generation": "g1"} and len(loaded) == len(index)
    q = SparseVector((3, 60), (1.0, 1.0))
    assert loaded.search(q, 20) == index.search(q, 20)
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_compaction_and_merge_keep_results() -> None:
    rng = np.random.default_rng(0)
    index = SparseIndex()
    vecs = {
        i: SparseVector.from_dict({int(t): 1.0 for t in rng.integers(0, 500, 5)})
        for i in range(6000)
    }
    index.upsert(list(vecs), list(vecs.values()))
    q = SparseVector((1, 2, 3), (1.0, 2.0, 3.0))
    before = index.search(q)
    index.delete(range(0, 6000, 2))  # triggers compaction (many retired slots)
    assert index.search(q, 50) == [(i, s) for i, s in before if i % 2][:50]
    assert len(index) == 3000
    index.upsert([1], [SparseVector((1,), (9.0,))])  # a write after compaction
    assert index.search(q, 1) == [(1, 9.0)]


def test_bad_input() -> None:
    index = SparseIndex()
    with pytest.raises(InputError):
        index.upsert(["a"], [])
    with pytest.raises(InvalidVectorError):
        index.upsert(["a"], [{1: 1.0}])  # type: ignore[list-item]
    with pytest.raises(InputError):
        index.upsert([1.5], [SparseVector((), ())])  # type: ignore[list-item]
    with pytest.raises(InvalidVectorError):
        index.search({1: 1.0})  # type: ignore[arg-type]
    assert (
        index.search(SparseVector((), ())) == []
        and index.search(SparseVector((1,), (1.0,)), 0) == []
    )
    with pytest.raises(InputError, match="format"):
        SparseIndex.from_bytes(_bad_format())


def _bad_format() -> bytes:
    import io
    import json

    buffer = io.BytesIO()
    header = np.frombuffer(json.dumps({"format": 99}).encode(), dtype=np.uint8)
    np.savez(buffer, header=header)
    return buffer.getvalue()

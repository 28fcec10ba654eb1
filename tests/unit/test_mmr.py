"""MMR: the same picks as langchain-core's maximal_marginal_relevance, ties included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec import (
    ConfigurationError,
    DimensionMismatchError,
    Document,
    Hit,
    InputError,
    InvalidVectorError,
)
from polyvec.mmr import mmr, mmr_select

lc_utils = pytest.importorskip("langchain_core.vectorstores.utils")


def langchain(q: Any, cands: Any, k: int, lam: float) -> list[int]:
    return list(lc_utils.maximal_marginal_relevance(np.asarray(q), cands, lam, k))


def _case(seed: int) -> tuple[np.ndarray, Any, int, float]:
    """A random case; several kinds stress ties: exact duplicates, small-integer
    vectors (many equal cosines), tight clusters (near-ties within rounding)."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 60)), int(rng.integers(1, 48))
    k = int(rng.integers(0, n + 3))
    lam = float(rng.choice([0.0, 1.0, 0.5, rng.random()]))
    mode = seed % 5
    if mode == 0:
        emb = rng.normal(size=(n, d))
    elif mode == 1:
        base = rng.normal(size=(max(1, n // 3), d))
        emb = base[rng.integers(0, len(base), n)]
    elif mode == 2:
        emb = rng.integers(-1, 2, size=(n, d)).astype(float)
    elif mode == 3:
        emb = rng.normal(size=(n, d)) * 1e-4 + rng.normal(size=(1, d))
    else:
        emb = rng.normal(size=(n, d)) * 1e-7 + rng.normal(size=(1, d))
    emb[np.linalg.norm(emb, axis=1) == 0, 0] = 1.0
    q = rng.integers(-1, 2, size=d).astype(float) if mode == 2 else rng.normal(size=d)
    q[0] = q[0] or 1.0
    dtype = np.float32 if seed % 2 else np.float64
    emb, q = emb.astype(dtype), q.astype(dtype)
    if seed % 7 == 0:
        emb = np.asfortranarray(emb)
    return q, (emb.tolist() if seed % 3 == 0 else emb), k, lam


@pytest.mark.parametrize("block", range(4))
def test_same_picks_as_langchain_many_seeds(block: int) -> None:
    for seed in range(block * 150, (block + 1) * 150):
        q, cands, k, lam = _case(seed)
        assert mmr_select(q, cands, k, lam) == langchain(q, cands, k, lam), seed


@st.composite
def mmr_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, float]:
    d = draw(st.integers(1, 6))
    n = draw(st.integers(1, 12))
    # few distinct values: duplicates and exactly tied cosines are common
    value = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])
    rows = draw(st.lists(st.lists(value, min_size=d, max_size=d), min_size=n, max_size=n))
    emb = np.array(rows)
    emb[np.linalg.norm(emb, axis=1) == 0, 0] = 1.0
    q = np.array(draw(st.lists(value, min_size=d, max_size=d)))
    q[0] = q[0] or 1.0
    k = draw(st.integers(0, n + 2))
    lam = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0))
    return q, emb, k, lam


@settings(max_examples=300, deadline=None)
@given(mmr_inputs(), st.sampled_from([np.float32, np.float64]))
def test_same_picks_as_langchain_hypothesis(
    case: tuple[np.ndarray, np.ndarray, int, float], dtype: type
) -> None:
    q, emb, k, lam = case
    q, emb = q.astype(dtype), emb.astype(dtype)
    assert mmr_select(q, emb, k, lam) == langchain(q, emb, k, lam)


def test_at_retrieval_scale() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, 384)).astype(np.float32)
    q = rng.normal(size=384).astype(np.float32)
    for lam in (0.0, 0.3, 0.5, 0.9):
        assert mmr_select(q, emb, 20, lam) == langchain(q, emb, 20, lam)


def test_lambda_one_is_pure_relevance() -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(30, 8))
    q = rng.normal(size=8)
    cos = emb @ q / (np.linalg.norm(emb, axis=1) * np.linalg.norm(q))
    assert mmr_select(q, emb, 10, 1.0) == list(np.argsort(-cos, kind="stable")[:10])


def test_lambda_zero_is_max_diversity() -> None:
    q = np.array([1.0, 0.0])
    emb = np.array([[1.0, 0.1], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    # first: most relevant (index 1); then the one least similar to it (index 2)
    assert mmr_select(q, emb, 2, 0.0) == [1, 2]


def test_duplicates_tie_to_the_lowest_index() -> None:
    q = np.array([1.0, 0.0])
    emb = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    # 2 and 3 duplicate the first pick 1; they still beat 0 (irrelevant), 2 before 3
    assert mmr_select(q, emb, 4, 0.5) == [1, 2, 3, 0] == langchain(q, emb, 4, 0.5)


def test_k_larger_than_n_and_zero() -> None:
    emb = np.eye(3)
    assert sorted(mmr_select(np.ones(3), emb, 10)) == [0, 1, 2]
    assert mmr_select(np.ones(3), emb, 0) == []


def test_zero_norm_candidate_has_similarity_zero() -> None:
    emb = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    assert mmr_select(np.array([1.0, 0.0]), emb, 3, 0.5) == [0, 1, 2]


def test_bad_inputs_name_the_problem() -> None:
    emb = np.eye(3)
    with pytest.raises(InvalidVectorError, match="zero norm"):
        mmr_select(np.zeros(3), emb, 2)
    with pytest.raises(InvalidVectorError, match="NaN"):
        mmr_select(np.array([np.nan, 0, 0]), emb, 2)
    with pytest.raises(DimensionMismatchError):
        mmr_select(np.ones(4), emb, 2)
    with pytest.raises(InvalidVectorError, match="shape"):
        mmr_select(np.ones(3), np.ones(3), 2)
    with pytest.raises(ConfigurationError, match="lambda_mult"):
        mmr_select(np.ones(3), emb, 2, 1.5)
    with pytest.raises(ConfigurationError, match="k must"):
        mmr_select(np.ones(3), emb, -1)


# --- mmr() over hits -----------------------------------------------------------------


def hits_with(vectors: list[list[float]] | np.ndarray) -> list[Hit]:
    return [
        Hit(Document(f"d{i}", dense=np.asarray(v)), 1.0 - i / 100, "cosine")
        for i, v in enumerate(vectors)
    ]


def test_mmr_hits_keep_relevance_and_record_mmr() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(15, 6)).astype(np.float32)
    q = rng.normal(size=6).astype(np.float32)
    hits = hits_with(vectors)
    out = mmr(q, hits, k=5, lambda_mult=0.4)
    assert [h.id for h in out] == [hits[i].id for i in mmr_select(q, vectors, 5, 0.4)]
    for rank, hit in enumerate(out, start=1):
        original = next(h for h in hits if h.id == hit.id)
        assert (hit.score, hit.kind) == (original.score, "cosine")
        assert hit.scores["cosine"] == original.score
        assert hit.scores["mmr_rank"] == rank
    # the MMR value recorded for each pick never increases (the max similarity only grows)
    gains = [h.scores["mmr"] for h in out[1:]]
    assert gains == sorted(gains, reverse=True)


def test_mmr_needs_dense_vectors() -> None:
    hits = [*hits_with([[1.0, 0.0]]), Hit(Document("nov"), 0.5, "bm25")]
    with pytest.raises(InputError, match="dense vector"):
        mmr(np.array([1.0, 0.0]), hits, k=2)


def test_mmr_empty_and_mixed_dimensions() -> None:
    assert mmr(np.array([1.0, 0.0]), [], k=3) == []
    with pytest.raises(InvalidVectorError, match="mixed dimensions"):
        mmr(np.array([1.0, 0.0]), hits_with([[1.0, 0.0], [1.0, 0.0, 0.0]]), k=2)

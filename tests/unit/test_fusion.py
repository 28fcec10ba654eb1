"""fuse(): RRF, DBSF and Convex, checked by hand, plus dedup, provenance and ties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec import ConfigurationError, Document, Hit, InputError, Source
from polyvec.fusion import DBSF, RRF, Convex, fuse
from polyvec.types import Leg, ScoreKind


def ranked(ids: str, kind: ScoreKind = "cosine", scores: list[float] | None = None) -> list[Hit]:
    """Hits for the ids (one letter each), best first, with a source like a backend's."""
    leg: Leg = "sparse" if kind == "bm25" else "dense"
    values = scores if scores is not None else [1.0 - i / 10 for i in range(len(ids))]
    return [
        Hit(Document(i), s, kind, (Source(leg, r, s, kind),))
        for r, (i, s) in enumerate(zip(ids, values), start=1)
    ]


def ids(hits: list[Hit]) -> list[object]:
    return [h.id for h in hits]


# --- RRF -----------------------------------------------------------------------------


def test_rrf_hand_checked_k1() -> None:
    # a: 1/(1+1) = .5 ; b: 1/(1+2) + 1/(1+1) = .8333 ; c: 1/(1+2) = .3333
    out = fuse([ranked("ab"), ranked("bc", "bm25")], RRF(k=1))
    assert ids(out) == ["b", "a", "c"]
    assert [h.score for h in out] == pytest.approx([1 / 3 + 1 / 2, 1 / 2, 1 / 3])
    assert all(h.kind == "rrf" for h in out)


def test_rrf_weights_honoured() -> None:
    lists = [ranked("abc"), ranked("cad", "bm25")]
    plain = fuse(lists, RRF(k=60))
    assert ids(plain) == ["a", "c", "b", "d"]  # a: 1/61+1/62 > c: 1/63+1/61
    weighted = fuse(lists, RRF(k=60, weights=(1.0, 2.0)))
    score = {h.id: h.score for h in weighted}
    assert score["a"] == pytest.approx(1 / 61 + 2 / 62)
    assert score["b"] == pytest.approx(1 / 62)
    assert score["c"] == pytest.approx(1 / 63 + 2 / 61)
    assert score["d"] == pytest.approx(2 / 63)
    assert ids(weighted) == ["c", "a", "d", "b"]


def test_zero_weight_keeps_documents_but_not_their_score() -> None:
    out = fuse([ranked("ab"), ranked("c", "bm25")], RRF(k=60, weights=(1.0, 0.0)))
    assert ids(out) == ["a", "b", "c"]
    assert out[-1].score == 0.0
    assert out[-1].sources[0].leg == "sparse"


def test_k_caps_the_result_and_validates() -> None:
    lists = [ranked("abc"), ranked("cde", "bm25")]
    assert ids(fuse(lists, RRF(), k=2)) == ids(fuse(lists, RRF()))[:2]
    assert fuse(lists, RRF(), k=0) == []
    with pytest.raises(ConfigurationError, match=">= 0"):
        fuse(lists, RRF(), k=-1)


def test_weight_count_must_match_lists() -> None:
    with pytest.raises(ConfigurationError, match="one weight per list"):
        fuse([ranked("ab")], RRF(weights=(1.0, 1.0)))
    with pytest.raises(ConfigurationError, match="one weight per list"):
        fuse([ranked("ab"), ranked("b"), ranked("c")], DBSF(weights=(1.0, 1.0)))


def test_no_lists_and_empty_lists() -> None:
    assert fuse([], RRF()) == []
    assert fuse([[], []], DBSF()) == []
    assert ids(fuse([[], ranked("ab")], Convex(alpha=0.5))) == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefg"), max_size=6, unique=True), min_size=1, max_size=4),
    st.floats(0, 100),
)
def test_rrf_matches_its_formula(lists: list[list[str]], k: float) -> None:
    weights = tuple(float(i + 1) for i in range(len(lists)))
    out = fuse([ranked("".join(x)) for x in lists], RRF(k=k, weights=weights))
    expected = {
        d: math.fsum(w / (k + x.index(d) + 1) for x, w in zip(lists, weights) if d in x)
        for d in {d for x in lists for d in x}
    }
    assert sorted(str(i) for i in ids(out)) == sorted(expected)  # each id exactly once
    for hit in out:
        assert hit.score == pytest.approx(expected[str(hit.id)])
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)


# --- DBSF ----------------------------------------------------------------------------


def test_dbsf_hand_checked() -> None:
    # list 0: [3, 2, 1] -> mean 2, sample std 1 -> (s + 1) / 6 = [4/6, 3/6, 2/6]
    # list 1: [10, 0]   -> mean 5, sample std sqrt(50) -> .5 ± 5 / (6 sqrt 50)
    dense = ranked("abc", scores=[3.0, 2.0, 1.0])
    sparse = ranked("bd", "bm25", scores=[10.0, 0.0])
    out = fuse([dense, sparse], DBSF())
    half = 5 / (6 * math.sqrt(50))
    score = {h.id: h.score for h in out}
    assert score == pytest.approx(
        {"a": 4 / 6, "b": 3 / 6 + 0.5 + half, "c": 2 / 6, "d": 0.5 - half}
    )
    assert ids(out) == ["b", "a", "d", "c"]
    assert all(h.kind == "dbsf" for h in out)
    weighted = {h.id: h.score for h in fuse([dense, sparse], DBSF(weights=(2.0, 1.0)))}
    assert weighted["a"] == pytest.approx(8 / 6)
    assert weighted["b"] == pytest.approx(1.0 + 0.5 + half)


def test_dbsf_single_element_and_zero_sigma_lists_give_half() -> None:
    out = fuse([ranked("a", scores=[42.0]), ranked("bc", scores=[3.0, 3.0])], DBSF())
    assert [h.score for h in out] == [0.5, 0.5, 0.5]
    assert ids(out) == ["a", "b", "c"]  # tie: best rank, then first appearance


def test_dbsf_matches_qdrant_client() -> None:
    qfusion = pytest.importorskip("qdrant_client.hybrid.fusion")
    models = pytest.importorskip("qdrant_client.http.models")
    rng = np.random.default_rng(7)
    for _ in range(20):
        lists = []
        for _ in range(int(rng.integers(1, 4))):
            chosen = rng.choice(30, size=int(rng.integers(1, 12)), replace=False)
            scores = sorted(rng.normal(size=len(chosen)).tolist(), reverse=True)
            lists.append([(int(i), s) for i, s in zip(chosen, scores)])
        ours = fuse([[Hit(Document(i), s, "cosine") for i, s in x] for x in lists], DBSF())
        theirs = qfusion.distribution_based_score_fusion(
            [[models.ScoredPoint(id=i, version=0, score=s) for i, s in x] for x in lists],
            limit=100,
        )
        assert {h.id: h.score for h in ours} == pytest.approx({p.id: p.score for p in theirs})


def test_dbsf_and_convex_reject_non_finite_scores() -> None:
    bad = ranked("ab", scores=[1.0, math.nan])
    for method in (DBSF(), Convex()):
        with pytest.raises(InputError, match="RRF"):
            fuse([bad, ranked("c")], method)
    assert ids(fuse([bad, ranked("c")], RRF())) == ["a", "c", "b"]


# --- Convex --------------------------------------------------------------------------


def test_convex_hand_checked() -> None:
    dense = ranked("abc", scores=[0.9, 0.5, 0.1])  # -> 1, .5, 0
    sparse = ranked("cda", "bm25", scores=[8.0, 4.0, 0.0])  # -> 1, .5, 0
    out = fuse([dense, sparse], Convex(alpha=0.7))
    assert ids(out) == ["a", "b", "c", "d"]
    assert [h.score for h in out] == pytest.approx([0.7, 0.35, 0.3, 0.15])
    assert all(h.kind == "convex" for h in out)
    # alpha = 0: only the sparse list counts
    assert ids(fuse([dense, sparse], Convex(alpha=0.0)))[:2] == ["c", "d"]


def test_convex_missing_doc_contributes_zero_and_degenerate_list_gives_one() -> None:
    out = fuse([ranked("a", scores=[0.3]), ranked("b", "bm25", scores=[9.0])], Convex(0.25))
    assert {h.id: h.score for h in out} == pytest.approx({"a": 0.25, "b": 0.75})


def test_convex_needs_exactly_two_lists() -> None:
    for n in (1, 3):
        with pytest.raises(ConfigurationError, match="exactly two lists"):
            fuse([ranked("a")] * n, Convex())


# --- dedup, provenance, ties ---------------------------------------------------------


def test_provenance_and_scores_are_kept() -> None:
    dense = ranked("ab", scores=[0.9, 0.8])
    sparse = ranked("ba", "bm25", scores=[7.0, 2.0])
    out = fuse([dense, sparse], RRF())
    b = next(h for h in out if h.id == "b")
    assert [(s.leg, s.rank, s.score) for s in b.sources] == [
        ("dense", 2, 0.8),
        ("sparse", 1, 7.0),
    ]
    assert b.scores == {"cosine": 0.8, "bm25": 7.0, "rrf": b.score}


def test_shared_kind_keeps_best_score_and_fused_kind_is_latest() -> None:
    inner = fuse([ranked("ab"), ranked("ba")], RRF())
    out = fuse([inner, ranked("b", scores=[0.1])], RRF())
    b = next(h for h in out if h.id == "b")
    assert b.scores["cosine"] == 1.0  # best of 0.9, 1.0 and 0.1
    assert b.scores["rrf"] == b.score  # the new fused score, not the inner one
    assert len(b.sources) == 3


def test_duplicate_in_one_list_scored_once_ranks_count_distinct_ids() -> None:
    lst = ranked("aab", scores=[0.9, 0.8, 0.7])
    out = fuse([lst], RRF(k=0))
    assert {h.id: h.score for h in out} == {"a": 1.0, "b": 0.5}
    assert len(out[0].sources) == 2  # both occurrences' provenance


def test_identical_sources_not_repeated() -> None:
    lst = ranked("ab")
    out = fuse([lst, lst], RRF())
    assert all(len(h.sources) == 1 for h in out)


def test_vectors_filled_from_a_later_copy() -> None:
    vec = np.array([1.0, 0.0], dtype=np.float32)
    sparse = [Hit(Document("a", "t"), 3.0, "bm25")]
    dense = [Hit(Document("a", "t", dense=vec), 0.9, "cosine")]
    hit = fuse([sparse, dense], RRF())[0]
    assert hit.document.dense is not None
    assert hit.document == Document("a", "t")


def test_ties_broken_by_first_appearance() -> None:
    out = fuse([ranked("ab"), ranked("ba")], RRF())
    assert out[0].score == out[1].score
    assert ids(out) == ["a", "b"]
    assert ids(fuse([ranked("ba"), ranked("ab")], RRF())) == ["b", "a"]
    # three lists: sums in a different order still tie exactly (fsum)
    three = fuse([ranked("abc"), ranked("cab"), ranked("bca")], RRF(k=1))
    assert three[0].score == three[1].score == three[2].score
    assert ids(three) == ["a", "b", "c"]


def test_ties_broken_by_best_rank_before_appearance() -> None:
    # alpha .5: x = .5 (rank 1), a = .5 (rank 1 in list 1), b = .25 + .25 (rank 2 twice)
    dense = ranked("xby", scores=[1.0, 0.5, 0.0])
    sparse = ranked("abz", "bm25", scores=[1.0, 0.5, 0.0])
    out = fuse([dense, sparse], Convex(alpha=0.5))
    assert [h.score for h in out[:3]] == [0.5, 0.5, 0.5]
    assert ids(out)[:3] == ["x", "a", "b"]  # b appeared before a but ranked worse


def test_int_and_str_ids_stay_distinct() -> None:
    out = fuse([[Hit(Document(7), 1.0, "cosine")], [Hit(Document("7"), 1.0, "cosine")]], RRF())
    assert ids(out) == [7, "7"]

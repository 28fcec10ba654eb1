"""Embedders: the cache (with a toy embedder) and the real offline MiniLM model.

Tests marked ``models`` load all-MiniLM-L6-v2 with PyTorch once per module; the ONNX
path has its own tests (test_onnx_embedder.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from polyvec.embeddings import (
    DEFAULT_MODEL,
    CachedEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    default_embedder,
)
from polyvec.errors import (
    ConfigurationError,
    InputError,
    InvalidVectorError,
    MissingDependencyError,
)


class Toy:
    """Deterministic 3-d vectors from the text; counts what it was asked to embed."""

    name = "toy"
    dimension = 3

    def __init__(self, bad: str | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.bad = bad

    def _vec(self, text: str, role: str) -> list[float]:
        if text == self.bad:
            return [float("nan"), 0.0, 0.0]
        return [float(len(text)), float(sum(map(ord, text)) % 97), 1.0 if role == "q" else 0.0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(("d", list(texts)))
        return np.array([self._vec(t, "d") for t in texts], dtype=np.float64)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(("q", list(texts)))
        return np.array([self._vec(t, "q") for t in texts], dtype=np.float32)


class Counting:
    """Wraps a real embedder and counts the texts that reach it."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.texts = 0
        self.calls = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def cache_namespace(self) -> str:
        return self.inner.cache_namespace

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed_queries(texts)


# -- CachedEmbedder (no model needed) ------------------------------------------------


def test_cache_dedupes_and_counts() -> None:
    toy = Toy()
    cached = CachedEmbedder(toy)
    assert isinstance(cached, Embedder) and isinstance(toy, Embedder)
    first = cached.embed_documents(["alpha", "beta", "alpha"])
    assert first.dtype == np.float32 and first.shape == (3, 3)
    assert toy.calls == [("d", ["alpha", "beta"])]
    again = cached.embed_documents(["beta", "alpha"])
    assert toy.calls == [("d", ["alpha", "beta"])]
    np.testing.assert_array_equal(again, first[[1, 0]])
    assert cached.cache_info()["hits"] == 2 and cached.cache_info()["misses"] == 2
    # queries are cached separately from documents
    q = cached.embed_queries(["alpha"])
    assert toy.calls[-1] == ("q", ["alpha"]) and q[0, 2] == 1.0
    assert cached.name == "toy" and cached.dimension == 3


def test_cache_returns_copies() -> None:
    cached = CachedEmbedder(Toy())
    out = cached.embed_documents(["alpha"])
    out[0, 0] = -1.0
    assert cached.embed_documents(["alpha"])[0, 0] == 5.0


def test_cache_is_lru_bounded() -> None:
    toy = Toy()
    cached = CachedEmbedder(toy, max_entries=2)
    cached.embed_documents(["a1", "b2"])
    cached.embed_documents(["a1"])  # a1 is now the most recent
    cached.embed_documents(["c3"])  # evicts b2
    assert cached.cache_info()["memory_entries"] == 2
    cached.embed_documents(["a1", "b2"])
    assert toy.calls[-1] == ("d", ["b2"])
    off = CachedEmbedder(toy, max_entries=0)
    off.embed_documents(["a1"])
    off.embed_documents(["a1"])
    assert toy.calls[-2:] == [("d", ["a1"]), ("d", ["a1"])]


def test_disk_cache_persists(tmp_path: Path) -> None:
    toy = Toy()
    with CachedEmbedder(toy, directory=tmp_path / "cache") as cached:
        expected = cached.embed_documents(["one", "two"])
        assert cached.cache_info()["disk_entries"] == 2
        assert "directory=" in repr(cached)
    fresh = Toy()
    with CachedEmbedder(fresh, directory=tmp_path / "cache") as reopened:
        got = reopened.embed_documents(["two", "one", "three"])
        assert fresh.calls == [("d", ["three"])]
        np.testing.assert_array_equal(got[:2], expected[[1, 0]])
        assert reopened.embed_queries(["one"])[0, 2] == 1.0  # another role: not a hit
        reopened.clear()
        assert reopened.cache_info()["disk_entries"] == 0


def test_disk_cache_is_namespaced_by_model(tmp_path: Path) -> None:
    CachedEmbedder(Toy(), directory=tmp_path).embed_documents(["one"])
    other = Toy()
    other.name = "other-model"
    CachedEmbedder(other, directory=tmp_path).embed_documents(["one"])
    assert other.calls == [("d", ["one"])]


def test_cache_validates_inputs_and_outputs() -> None:
    cached = CachedEmbedder(Toy(bad="poison"))
    with pytest.raises(InputError, match="single str"):
        cached.embed_documents("not a list")
    with pytest.raises(InputError, match="text 1 is a int"):
        cached.embed_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidVectorError, match="row 1"):
        cached.embed_documents(["fine", "poison"])
    assert cached.embed_documents([]).shape == (0, 3)
    with pytest.raises(ConfigurationError):
        CachedEmbedder(Toy(), max_entries=-1)


# -- SentenceTransformerEmbedder without loading -----------------------------------


def test_embedder_is_lazy_and_named() -> None:
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", document_prefix="passage: ")
    assert embedder.name == DEFAULT_MODEL
    assert "loaded=False" in repr(embedder)
    assert "passage: " in embedder.cache_namespace
    assert SentenceTransformerEmbedder("/models/x", name="mine").name == "mine"
    assert default_embedder() is default_embedder()
    with pytest.raises(ConfigurationError):
        SentenceTransformerEmbedder(batch_size=0)


def test_missing_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(MissingDependencyError, match=r"polyvec\[models\]") as info:
        SentenceTransformerEmbedder().embed_documents(["x"])
    assert isinstance(info.value, ImportError)


@pytest.mark.models
def test_unloadable_model_is_a_configuration_error(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ConfigurationError, match="could not load"):
        SentenceTransformerEmbedder(str(tmp_path)).dimension  # noqa: B018


# -- the real model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    """The PyTorch path (the session's default embedder runs on ONNX Runtime)."""
    return SentenceTransformerEmbedder()


SENTENCES = [
    "The cat sat on the mat.",
    "A kitten was sitting on a rug.",
    "Stock markets fell sharply on Monday.",
]


@pytest.mark.models
def test_real_model_shape_and_normalisation(embedder: SentenceTransformerEmbedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert embedder.dimension == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # cat/kitten closer than cat/stocks
    assert embedder.embed_queries([]).shape == (0, 384)
    assert "dimension=384" in repr(embedder)


@pytest.mark.models
def test_real_model_is_deterministic(embedder: SentenceTransformerEmbedder) -> None:
    first = embedder.embed_queries(SENTENCES)
    second = embedder.embed_queries(list(reversed(SENTENCES)))[::-1]
    np.testing.assert_allclose(first, second, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_queries(SENTENCES[:1])[0], first[0], atol=1e-5)


@pytest.mark.models
def test_prefixes_and_normalize_flag(embedder: SentenceTransformerEmbedder) -> None:
    prefixed = SentenceTransformerEmbedder(query_prefix="query: ", normalize=False)
    prefixed._model, prefixed._dimension = embedder.model, embedder.dimension  # share weights
    raw = prefixed.embed_queries(SENTENCES[:1])
    # all-MiniLM-L6-v2 ends in a Normalize module, so its vectors are unit-length anyway
    np.testing.assert_allclose(raw, embedder.model.encode(["query: " + SENTENCES[0]]), atol=1e-6)
    unit = raw / np.linalg.norm(raw)
    np.testing.assert_allclose(unit, embedder.embed_queries(["query: " + SENTENCES[0]]), atol=1e-5)
    doc = prefixed.embed_documents(SENTENCES[:1])
    assert not np.allclose(doc / np.linalg.norm(doc), unit, atol=1e-3)


@pytest.mark.models
def test_cache_with_real_model(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    counting = Counting(embedder)
    cached = CachedEmbedder(counting, directory=tmp_path)
    first = cached.embed_documents(SENTENCES)
    assert (counting.calls, counting.texts) == (1, 3)
    second = cached.embed_documents([*SENTENCES, SENTENCES[0]])
    assert (counting.calls, counting.texts) == (1, 3)
    np.testing.assert_array_equal(second[:3], first)
    np.testing.assert_array_equal(second[3], first[0])
    np.testing.assert_allclose(first, embedder.embed_documents(SENTENCES), atol=1e-6)
    cached.embed_queries(SENTENCES[:1])
    assert (counting.calls, counting.texts) == (2, 4)
    cached.close()
    # a new process would find the vectors on disk
    reopened = CachedEmbedder(Counting(embedder), directory=tmp_path)
    np.testing.assert_array_equal(reopened.embed_documents(SENTENCES), first)
    assert isinstance(reopened.inner, Counting) and reopened.inner.calls == 0

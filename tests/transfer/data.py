"""Test data for the data-safety tests: a tiny real embedder and tricky documents."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from polyvec.types import Document

DIM = 32


class HashEmbedder:
    """A small real embedder: hashed character trigrams, L2-normalised (no model file)."""

    name = "test-hash-trigram-32"
    dimension = DIM

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(DIM, dtype=np.float32)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest())
            vec[h % DIM] += 1.0 if h & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else np.full(DIM, 1 / np.sqrt(DIM), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)


WORDS = [
    "vector",
    "database",
    "backup",
    "restore",
    "migrate",
    "crash",
    "retry",
    "secret",
    "shard",
    "index",
    "query",
    "fox",
]


def make_docs(n: int, seed: int = 0, start: int = 0) -> list[Document]:
    """``n`` documents with int and str ids (both ``5`` and ``"5"``), unicode text and
    varied metadata (nested, lists, floats, bools, nulls)."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(start, start + n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 12)))
        doc_id: int | str = i if i % 3 else str(i)
        if i % 7 == 0:
            doc_id = f"doc-é-{i}"
        meta = {
            "n": i,
            "ratio": float(i) / 7.0,
            "even": i % 2 == 0,
            "tags": [str(w) for w in words[:2]],
            "nested": {"group": i % 5, "label": f"g{i % 5}"},
            "note": None if i % 4 == 0 else f"ünïcode {i} ✓",
        }
        docs.append(Document(doc_id, " ".join(words) + f" #{i}", meta))
    docs.append(Document(5 + start * 1000 if start else "5", "string five", {"n": -1}))
    return docs

"""What the shadow-index backends' filter tests share (Chroma, Milvus): hostile strings,
loading metadata into a fresh collection, and checking every read path against the
reference evaluator."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.filters import Filter
from polyvec.filters.ast import And
from polyvec.filters.evaluate import select
from polyvec.types import Document, SparseVector

HOSTILE = ['" or 1==1 or "', "' OR '1'='1", "back\\slash", 'q"uote', "new\nline", "tab\tx",
           "$and", "{'$ne': 1}", "日本語 ☃ 𝄞", "", " ", "%", "_", "\\\"", "\u2028"]  # fmt: skip
"""Strings that try to escape a literal or a key, plus unicode and blanks."""


def load(backend: Backend, metadata: list[dict[str, Any]], name: str | None = None) -> str:
    """A collection holding ``metadata`` (ids 0, 1, …): a new one, or ``name`` emptied."""
    name = name or f"f_{uuid.uuid4().hex[:8]}"
    backend.create_collection(CollectionSpec(name, 2, "dot"))
    backend.delete(name, filter=And([]))
    backend.upsert(
        name,
        [
            Document(i, "", m, np.array([1.0, i]), SparseVector((1, 2 + i), (1.0, 0.5)))
            for i, m in enumerate(metadata)
        ],
    )
    return name


def check(backend: Backend, name: str, metadata: list[dict[str, Any]], f: Filter) -> None:
    """scroll, count, dense and sparse search all select what the evaluator selects."""
    want = sorted(select(f, dict(enumerate(metadata))))
    got = sorted(int(d.id) for b in backend.scroll(name, filter=f, batch_size=500) for d in b)
    assert got == want, f"{f!r}: engine {got} != reference {want}"
    assert backend.count(name, f) == len(want), f
    n = max(len(metadata), 1)
    dense = backend.search_dense(name, np.array([1.0, 0.0]), n, f)
    assert sorted(int(h.id) for h in dense) == want, f
    sparse = backend.search_sparse(name, SparseVector((1,), (1.0,)), n, f)
    assert sorted(int(h.id) for h in sparse) == want, f

"""What the shadow-index backends' filter tests share (Chroma, Milvus): hostile strings,
loading metadata into a fresh collection, and checking every read path against the
reference evaluator."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Not
from polyvec.filters.evaluate import select
from polyvec.types import Document, SparseVector
from tests.backends.test_chroma_shadow_index import _comparisons

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


def assert_awkward_values_filter_exactly(backend: Backend, awkward: list[dict[str, Any]]) -> None:
    """Every comparison on ``a``, ``a.b`` and ``b`` (and its negation) over the awkward
    values plus the hostile strings selects what the evaluator selects."""
    metadata = [dict(m) for m in awkward] + [{"a": h, "b": [h, "x"]} for h in HOSTILE]
    name = load(backend, metadata)
    plain = {i: backend.get(name, [i])[0].metadata for i in range(len(metadata))}
    for field in ("a", "a.b", "b"):
        for f in _comparisons(field):
            for g in (f, Not(f)):
                want = sorted(select(g, plain))
                assert backend.count(name, g) == len(want), g
                got = sorted(int(d.id) for b in backend.scroll(name, filter=g) for d in b)
                assert got == want, g


def assert_hostile_strings_match_only_themselves(backend: Backend) -> None:
    metadata = [{"s": h, "tags": [h]} for h in HOSTILE] + [{"s": "other"}]
    name = load(backend, metadata)
    for i, h in enumerate(HOSTILE):
        for f in (F("s") == h, F("tags").contains(h), F("s").is_in([h])):
            assert [d.id for b in backend.scroll(name, filter=f) for d in b] == [i], (h, f)
        assert backend.count(name, F("s") != h) == len(metadata) - 1
    assert backend.count(name, F('" or 1==1 or "') == 1) == 0

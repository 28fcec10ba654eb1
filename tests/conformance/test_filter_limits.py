"""Filter limits on every backend (docs/filters.md, "Limits"): long ``in`` lists, deep
trees, strings that no backend can store. Each either answers exactly what the
reference evaluator answers, or is refused with a typed polyvec error before the engine
sees it — never a crash, a ``RecursionError`` or an engine's raw error.

One collection per engine variant (the ``backend`` fixture's variants) holds 48
documents; Weaviate, which has no engine here, is checked on its translation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.backends.metaindex import nesting, plan
from polyvec.errors import UnsupportedFilterError
from polyvec.filters import And, F, Filter, Not, Or, select
from polyvec.filters.limits import MAX_DEPTH, SHADOW_MAX_NESTING, SHADOW_MAX_TESTS
from polyvec.types import Document
from tests.conftest import _Engines, engine_for, variants_for

DIM = 384  # the Pinecone stand-in serves one index of this dimension
SHADOW = {"chroma", "milvus"}  # the backends SHADOW_MAX_* apply to
FANOUT = {"chroma": 16, "milvus": 2}  # how each groups a long and/or list

METADATA: list[dict[str, Any]] = [
    {"v": f"s{i}", "n": i if i % 3 else float(i), "tags": [f"s{i}", "x"], "flag": i % 2 == 0}
    for i in range(44)
] + [{"n": True}, {"v": ["s1", "zz"]}, {}, {"v": "3"}]


@dataclass
class Loaded:
    variant: str
    backend: Backend
    name: str

    @property
    def family(self) -> str:
        return self.variant.split("-")[0]

    def check(self, f: Filter) -> None:
        """count, scroll and dense search select exactly what the evaluator selects."""
        want = sorted(select(f, dict(enumerate(METADATA))))
        assert self.backend.count(self.name, f) == len(want)
        got = sorted(int(d.id) for b in self.backend.scroll(self.name, filter=f) for d in b)
        assert got == want
        hits = self.backend.search_dense(self.name, np.eye(DIM)[0], len(METADATA), f)
        assert sorted(int(h.id) for h in hits) == want


@pytest.fixture(scope="module", params=variants_for())
def loaded(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[Loaded]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"l{uuid.uuid4().hex[:10]}")
    name = f"l_{uuid.uuid4().hex[:10]}"
    try:
        backend.create_collection(CollectionSpec(name, DIM, "dot", sparse=False))
        # distinct directions (as the differential suite): an HNSW graph over
        # near-parallel vectors may miss some of them in a filtered search
        angles = np.linspace(0.0, np.pi / 2, len(METADATA))
        vectors = np.zeros((len(METADATA), DIM))
        vectors[:, 0], vectors[:, 1] = np.cos(angles), np.sin(angles)
        backend.upsert(name, [Document(i, "", m, vectors[i]) for i, m in enumerate(METADATA)])
        yield Loaded(variant, backend, name)
    finally:
        backend.close()


def _values(count: int) -> list[Any]:
    """``count`` values of mixed types: strings that match some documents, numbers
    (3 == 3.0), a bool (never equal to a number) and many that match nothing."""
    head: list[Any] = ["s1", "s5", 3, 6.0, True, "3", "zz"]
    return head + [f"none{i}" for i in range(count - len(head))]


def _alternating(levels: int, bottom: Filter) -> Filter:
    """A tree ``levels`` deep that no merging shortens: And, Or and Not in turn."""
    node = bottom
    for i in range(levels):
        kind = i % 3
        if kind == 0:
            node = And([node, F("n") < 40])
        elif kind == 1:
            node = Or([node, F("v") == "s41"])
        else:
            node = Not(node)
    return node


# -- long in/nin lists ----------------------------------------------------------------------
def test_long_value_lists_are_exact_up_to_the_limit(loaded: Loaded) -> None:
    count = SHADOW_MAX_TESTS if loaded.family in SHADOW else 10_000
    values = _values(count)
    for f in (
        F("v").is_in(values),
        F("v").not_in(values),
        F("n").is_in(values),
        F("tags").contains_any(values),
        Not(F("tags").contains_any(values)),
    ):
        assert len(f.value if not isinstance(f, Not) else f.child.value) == count
        loaded.check(f)


def test_past_the_shadow_limit_is_a_typed_refusal(loaded: Loaded) -> None:
    """Chroma crashed the process on a 10,001-value in; now anything past
    SHADOW_MAX_TESTS is refused before the engine is called."""
    if loaded.family not in SHADOW:
        loaded.check(F("v").is_in(_values(SHADOW_MAX_TESTS + 1)))
        return
    for values in (_values(SHADOW_MAX_TESTS + 1), _values(10_001)):
        for f in (F("v").is_in(values), F("v").not_in(values)):
            with pytest.raises(UnsupportedFilterError, match="SHADOW_MAX_TESTS"):
                loaded.backend.count(loaded.name, f)


# -- depth ------------------------------------------------------------------------------------
def test_the_deepest_filter_allowed_is_answered(loaded: Loaded) -> None:
    f = _alternating(MAX_DEPTH, F("v").is_in(["s1", "s2", 7]))
    assert f.depth == MAX_DEPTH
    loaded.check(f)


def test_same_kind_chains_of_any_length_are_answered(loaded: Loaded) -> None:
    """A machine-built And-of-And (Or-of-Or) chain merges into one level."""
    chain_and: Filter = F("n") >= 2
    chain_or: Filter = F("v") == "s0"
    for i in range(3000):
        chain_and = And([chain_and, F("v") != f"s{i % 30 + 10}"])
        chain_or = Or([chain_or, F("v") == f"s{i % 7}"])
    loaded.check(chain_and)
    loaded.check(chain_or)
    loaded.check(And([chain_or, _alternating(MAX_DEPTH - 1, F("flag") == True)]))  # noqa: E712


def _wide(levels: int, width: int, cycle: int) -> Filter:
    """``levels`` of And, Or (and Not, for ``cycle`` 3) in turn, each And/Or with
    ``width`` more siblings."""
    node: Filter = F("tags").contains_any(["s1", "s2", "s3"])
    for i in range(levels):
        extra = [F("n") != 100 + j for j in range(width)]
        if i % cycle == 0:
            node = And([node, *extra])
        elif i % cycle == 1:
            node = Or([node, *[F("v") == f"w{j}" for j in range(width)]])
        else:
            node = Not(node)
    return node


def test_shadow_nesting_limit_is_answered_and_one_more_is_refused(loaded: Loaded) -> None:
    """A filter whose and/or levels, with the groups polyvec splits long lists into,
    are exactly SHADOW_MAX_NESTING is sent and answered; one more level is refused
    with UnsupportedFilterError naming the limit, before the engine is called. The
    other backends have no such limit: there the refused filter is answered exactly."""
    family = loaded.family if loaded.family in SHADOW else "chroma"
    fanout = FANOUT[family]
    found: dict[int, Filter] = {}
    for cycle in (2, 3):
        for width in (1, 2, fanout - 1, fanout, fanout + 1, fanout * fanout):
            for levels in range(1, MAX_DEPTH + 1):
                f = _wide(levels, width, cycle)
                found.setdefault(nesting(plan(f, family), fanout), f)
    assert SHADOW_MAX_NESTING in found and SHADOW_MAX_NESTING + 1 in found
    loaded.check(found[SHADOW_MAX_NESTING])
    if loaded.family not in SHADOW:
        loaded.check(found[SHADOW_MAX_NESTING + 1])
        return
    with pytest.raises(UnsupportedFilterError, match="SHADOW_MAX_NESTING"):
        loaded.backend.count(loaded.name, found[SHADOW_MAX_NESTING + 1])


# -- strings no backend can store ---------------------------------------------------------------
def test_nul_strings_are_constants(loaded: Loaded) -> None:
    """A NUL can never be stored, so nothing equals (or contains) such a string:
    eq/in/contains are false on every document, ne/nin true on every one."""
    for f in (
        F("v") != "\x00",
        F("v") == "\x00",
        F("v") == "s1\x00",
        F("v").is_in(["\x00", "s1"]),
        F("v").not_in(["\x00"]),
        F("v").not_in(["a\x00b", "s2"]),
        F("tags").contains("\x00"),
        F("tags").contains_any(["\x00", "x"]),
        F("tags").contains_all(["\x00", "x"]),
        Not(F("tags").contains("\x00")),
    ):
        loaded.check(f)
    assert loaded.backend.count(loaded.name, F("v") != "\x00") == len(METADATA)

"""The filter differential suite: every backend returns exactly the evaluator's ids.

For each engine variant in ``tests/engines`` (the same variants as the ``backend``
fixture), one collection is loaded once with a corpus of hypothesis-generated metadata
(missing keys, nulls, lists, nested dicts, ISO dates, unicode, numeric strings), then
hypothesis draws random filter trees over **every** operator; scroll, count and dense
search must select exactly what :func:`polyvec.filters.select` selects on the same
metadata. A backend may instead raise ``UnsupportedFilterError``, but only for an
operator its ``Capabilities`` declare refused (or restricted). Every row of the
semantics table (``polyvec.filters.tables.SEMANTICS``) runs on every backend too.

CI runs a fixed seed (``derandomize``) with ``EXAMPLES`` filter trees per backend over
a ``DOCS``-document corpus. On demand, a longer random run::

    POLYVEC_DIFF_EXAMPLES=5000 pytest tests/conformance -k differential

(setting the variable also draws a fresh random corpus and filters each run;
``POLYVEC_DIFF_DOCS`` sets the corpus size).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from polyvec.backends.base import Backend, Capabilities, CollectionSpec
from polyvec.errors import UnsupportedFilterError
from polyvec.filters import Filter, matches, select
from polyvec.filters.ast import Comparison, Not, Op
from polyvec.filters.rewrite import REWRITTEN, rewrite
from polyvec.filters.tables import SEMANTICS
from polyvec.types import Document
from tests.conftest import _Engines, engine_for, variants_for
from tests.strategies import comparisons, filters, metadata_docs

ON_DEMAND = "POLYVEC_DIFF_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("POLYVEC_DIFF_EXAMPLES", "150"))
"""Random filter trees per backend (150 in CI)."""
DOCS = int(os.environ.get("POLYVEC_DIFF_DOCS", "60"))
"""Documents in the random corpus each backend holds."""

DIM = 384  # the Pinecone stand-in serves one index of the test embedder's dimension
QUERY = np.eye(DIM)[0]

SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=not ON_DEMAND,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _random_corpus(size: int) -> list[dict[str, Any]]:
    """``size`` metadata dicts from ``metadata_docs()``: the same ones on every CI run."""
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=size,
        derandomize=not ON_DEMAND,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(metadata_docs())
    def draw(doc: dict[str, Any]) -> None:
        drawn.append(doc)

    draw()
    return drawn[:size]


CORPUS = _random_corpus(DOCS)
EDGE_CASES = [case for case in SEMANTICS if case.expected is not None]
EDGE_CORPUS = [case.metadata() for case in EDGE_CASES]


@dataclass
class Loaded:
    """One backend holding the random corpus (``docs``) and the edge-case corpus."""

    variant: str
    backend: Backend
    docs: str
    edge: str
    compared: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def caps(self) -> Capabilities:
        return self.backend.capabilities


def _load(backend: Backend, metadata: list[dict[str, Any]]) -> str:
    name = f"d_{uuid.uuid4().hex[:10]}"
    backend.create_collection(CollectionSpec(name, DIM, "dot", sparse=False))
    # distinct angles in the first quadrant: distinct scores for the query QUERY
    angles = np.linspace(0.0, np.pi / 2, len(metadata))
    vectors = np.zeros((len(metadata), DIM))
    vectors[:, 0], vectors[:, 1] = np.cos(angles), np.sin(angles)
    backend.upsert(name, [Document(i, "", m, vectors[i]) for i, m in enumerate(metadata)])
    assert backend.count(name) == len(metadata)
    return name


@pytest.fixture(scope="module", params=variants_for())
def loaded(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[Loaded]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"x{uuid.uuid4().hex[:10]}")
    try:
        yield Loaded(variant, backend, _load(backend, CORPUS), _load(backend, EDGE_CORPUS))
    finally:
        backend.close()


def _leaves(node: Filter) -> list[Comparison]:
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.child)
    return [leaf for kid in node.children for leaf in _leaves(kid)]


def _check(
    loaded: Loaded, name: str, metadata: list[dict[str, Any]], f: Filter, *, quick: bool = False
) -> bool:
    """The engine selects exactly the evaluator's ids (``True``), or refuses an operator
    that its capabilities declare refused or restricted (``False``). Scroll, count and
    dense search are all checked (``quick``: scroll only)."""
    want = sorted(select(f, dict(enumerate(metadata))))
    backend = loaded.backend
    try:
        got = sorted(int(d.id) for b in backend.scroll(name, filter=f, batch_size=500) for d in b)
        count = len(got) if quick else backend.count(name, f)
        hits = [] if quick else backend.search_dense(name, QUERY, len(metadata), f)
    except UnsupportedFilterError as exc:
        support = loaded.caps.filter_support(exc.operator)
        assert support in ("unsupported", "restricted"), (
            f"{loaded.variant} refused {exc.operator!r}, which its capabilities call "
            f"{support}: {exc}"
        )
        assert exc.operator in {c.op.value for c in _leaves(f)}, (f, exc)
        loaded.refused[exc.operator] = loaded.refused.get(exc.operator, 0) + 1
        return False
    assert got == want, f"{loaded.variant}: {f!r}\nengine    {got}\nreference {want}"
    assert count == len(want), f"{loaded.variant}: count {count} != {len(want)} for {f!r}"
    if not quick:
        assert sorted(int(h.id) for h in hits) == want, f"{loaded.variant}: dense search {f!r}"
    loaded.compared += 1
    return True


def test_differential_random_filters(loaded: Loaded) -> None:
    """EXAMPLES random filter trees over every operator, on the random corpus; each
    tree ``f`` is checked with scroll, count and dense search, and ``~f`` with scroll."""

    @SETTINGS
    @given(filters(max_leaves=8))
    def run(f: Filter) -> None:
        _check(loaded, loaded.docs, CORPUS, f)
        _check(loaded, loaded.docs, CORPUS, Not(f), quick=True)

    run()
    total = loaded.compared + sum(loaded.refused.values())
    print(f"\n{loaded.variant}: {total} filters (random trees and their negations), "
          f"{loaded.compared} compared, "
          f"0 mismatches, refused {loaded.refused or 'none'}")  # fmt: skip
    # most trees must really run: refusals are for the few operators a backend lacks
    assert loaded.compared >= 0.75 * total, loaded.refused


def test_differential_semantics_table(loaded: Loaded) -> None:
    """Every row of the semantics table (and its negation) on the engine."""
    for case in EDGE_CASES:
        f = case.filter()
        assert matches(f, case.metadata()) is case.expected, case
        _check(loaded, loaded.edge, EDGE_CORPUS, f)
        _check(loaded, loaded.edge, EDGE_CORPUS, Not(f))


def test_differential_capabilities_are_honest(loaded: Loaded) -> None:
    """A lone comparison with each operator runs exactly where the capabilities say it
    is supported, and raises ``UnsupportedFilterError`` naming the operator and the
    backend where they say it is refused."""
    samples = {
        Op.EQ: ("category", "news"), Op.NE: ("category", "news"), Op.GT: ("page", 3),
        Op.GTE: ("page", 3), Op.LT: ("page", 3), Op.LTE: ("page", 3),
        Op.IN: ("page", [1, 3]), Op.NIN: ("page", [1, 3]), Op.EXISTS: ("meta.a", True),
        Op.CONTAINS: ("tags", "linux"), Op.IS_NULL: ("meta.a", True),
        Op.CONTAINS_ANY: ("tags", ["linux", "x"]), Op.CONTAINS_ALL: ("tags", ["linux", "x"]),
        Op.TEXT_MATCH: ("category", "ew"),
    }  # fmt: skip
    assert set(samples) == set(Op)
    for op, (fieldname, value) in samples.items():
        f = Comparison(fieldname, op, value)
        support = loaded.caps.filter_support(op.value)
        if support == "unsupported":
            with pytest.raises(UnsupportedFilterError) as info:
                loaded.backend.count(loaded.docs, f)
            assert info.value.operator == op.value
            assert loaded.caps.backend in str(info.value)
        else:
            assert _check(loaded, loaded.docs, CORPUS, f), f"{loaded.variant} refused {f!r}"


# -- without an engine ------------------------------------------------------------------
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    comparisons(ops=tuple(REWRITTEN)),
    st.lists(metadata_docs(), min_size=1, max_size=10),
)
def test_differential_rewrites_mean_the_same(c: Comparison, docs: list[dict[str, Any]]) -> None:
    """``rewrite`` (what backends run for is_null / contains_any / contains_all) never
    changes the evaluator's answer, negated or not."""
    for metadata in docs:
        assert matches(rewrite(c), metadata) is matches(c, metadata)
        assert matches(Not(rewrite(c)), metadata) is matches(Not(c), metadata)


def test_differential_corpus_is_varied() -> None:
    """The fixed corpus holds what the suite promises: missing keys, nulls, lists,
    nested dicts, dates, unicode and numeric strings."""
    assert len(CORPUS) == DOCS
    flat = [(k, v) for doc in CORPUS for k, v in doc.items()]
    assert any(v is None for _, v in flat)
    assert any(isinstance(v, list) for _, v in flat)
    assert any(isinstance(v, dict) and v for _, v in flat)
    assert any(k == "date" and isinstance(v, str) for k, v in flat)
    assert any(isinstance(v, str) and not v.isascii() for _, v in flat)
    assert any(isinstance(v, str) and v.lstrip("-").replace(".", "").isdigit() for _, v in flat)
    assert any("page" not in doc for doc in CORPUS)

"""Chroma filter translation, on the real engine (embedded and server): every read
path must return exactly the ids the reference evaluator (``polyvec.filters.evaluate``)
selects — for hypothesis-generated metadata and filter trees, and for a table of
awkward values (nulls, empty lists, nested lists and dicts, bools vs ints, numeric
strings, dates with offsets, hostile strings)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from polyvec.backends.base import Backend
from polyvec.backends.chroma.filters import NOTHING, to_where
from polyvec.filters import F
from polyvec.filters.ast import And, Not, Or
from polyvec.filters.evaluate import select
from tests.backends.engine_filters import HOSTILE, load
from tests.backends.test_chroma_shadow_index import AWKWARD, _comparisons
from tests.conftest import _Engines, engine_for, variants_for


@pytest.fixture(params=variants_for("chroma"))
def cb(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[Backend]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"f{uuid.uuid4().hex[:10]}")
    try:
        yield backend
    finally:
        backend.close()


# Random metadata and random filter trees over every operator, on every engine: the
# shared suite tests/conformance/test_filter_differential.py. Below: what it does not
# cover (awkward values, hostile strings and keys, translation details).


def test_awkward_values_on_the_engine(cb: Backend) -> None:
    metadata = [dict(m) for m in AWKWARD] + [{"a": h, "b": [h, "x"]} for h in HOSTILE]
    name = load(cb, metadata)
    plain = {i: cb.get(name, [i])[0].metadata for i in range(len(metadata))}
    for field in ("a", "a.b", "b"):
        for f in _comparisons(field):
            for g in (f, Not(f)):
                want = sorted(select(g, plain))
                assert cb.count(name, g) == len(want), g
                got = sorted(int(d.id) for b in cb.scroll(name, filter=g) for d in b)
                assert got == want, g


def test_hostile_strings_match_only_themselves(cb: Backend) -> None:
    metadata = [{"s": h, "tags": [h]} for h in HOSTILE] + [{"s": "other"}]
    name = load(cb, metadata)
    for i, h in enumerate(HOSTILE):
        for f in (F("s") == h, F("tags").contains(h), F("s").is_in([h])):
            assert [d.id for b in cb.scroll(name, filter=f) for d in b] == [i], (h, f)
        assert cb.count(name, F("s") != h) == len(metadata) - 1
    assert cb.count(name, F('" or 1==1 or "') == 1) == 0


def test_hostile_field_names(cb: Backend) -> None:
    keys = ['q"k', "b\\k", "k$and", "#document", "sp ace", "ünï", "a[0]", "x/y"]
    metadata = [{k: i} for i, k in enumerate(keys)]
    name = load(cb, metadata)
    for i, k in enumerate(keys):
        assert [d.id for b in cb.scroll(name, filter=F(k) == i) for d in b] == [i], k
        assert cb.count(name, F(k).exists()) == 1


def test_constant_filters_skip_the_engine() -> None:
    assert to_where(Or([])) is NOTHING
    assert to_where(And([])) is None
    assert to_where(Not(Or([]))) is None
    assert to_where(None) is None


def test_where_is_plain_chroma() -> None:
    where = to_where((F("page") >= 3) & ~F("tags").contains("x"))
    assert where == {
        "$and": [
            {"pv:nmax:page": {"$gte": 3.0}},
            {"pv:t:tags": {"$not_contains": "Ls:x"}},
        ]
    }

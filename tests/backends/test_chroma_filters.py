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
from tests.backends.engine_filters import (
    assert_awkward_values_filter_exactly,
    assert_hostile_strings_match_only_themselves,
    load,
)
from tests.backends.test_chroma_shadow_index import AWKWARD
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
    assert_awkward_values_filter_exactly(cb, AWKWARD)


def test_hostile_strings_match_only_themselves(cb: Backend) -> None:
    assert_hostile_strings_match_only_themselves(cb)


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

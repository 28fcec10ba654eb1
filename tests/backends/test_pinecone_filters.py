"""Pinecone filter translation, through the official SDK against the local **stand-in**
(not Pinecone), which evaluates Pinecone's own filter language: the records returned
must be exactly the ids that the reference evaluator selects — for hypothesis-generated
metadata and filter trees, and for a table of awkward values.

Both readings of Pinecone's ``$ne``/``$nin`` on a missing key run (the stand-in's
``ne_matches_missing``): the translation never depends on it."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyvec.backends.base import CollectionSpec
from polyvec.backends.pinecone.filters import NEVER, to_pinecone_filter
from polyvec.backends.projection import canon_instant, canon_number, project
from polyvec.errors import UnsupportedFilterError
from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Comparison, Op, Or
from polyvec.filters.evaluate import select
from polyvec.types import Document
from tests.conftest import REQUIRED
from tests.strategies import filters, metadata_docs, sample_value

if "pinecone" in REQUIRED:  # CI requires it: a missing client fails, never skips
    import pinecone  # noqa: F401
else:
    pytest.importorskip("pinecone")
pytestmark = pytest.mark.pinecone

from polyvec.backends.pinecone.backend import PineconeBackend  # noqa: E402
from tests.pinecone_standin import StandIn, start_standin  # noqa: E402
from tests.pinecone_standin.awkward import AWKWARD, AWKWARD_FILTERS  # noqa: E402

EXAMPLES = int(os.environ.get("POLYVEC_HYPOTHESIS_EXAMPLES", "40"))
PINECONE_OPS = tuple(op for op in Op if op is not Op.TEXT_MATCH)


@pytest.fixture(scope="module", params=[False, True], ids=["ne-skips-missing", "ne-mongo"])
def standin(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    server = start_standin(2, ne_matches_missing=request.param)
    yield server
    server.stop()


@pytest.fixture
def pb(standin: StandIn) -> Iterator[PineconeBackend]:
    backend = PineconeBackend.from_url(f"{standin.url}?prefix=f{uuid.uuid4().hex[:8]}-")
    yield backend
    backend.close()


def load(pb: PineconeBackend, metadata: list[dict[str, Any]]) -> str:
    name = f"f_{uuid.uuid4().hex[:8]}"
    pb.create_collection(CollectionSpec(name, 2, "dot", sparse=False))
    pb.upsert(name, [Document(i, "", m, np.array([1.0, i])) for i, m in enumerate(metadata)])
    return name


def check(pb: PineconeBackend, name: str, metadata: list[dict[str, Any]], f: Filter) -> None:
    want = sorted(select(f, dict(enumerate(metadata))))
    got = sorted(int(d.id) for b in pb.scroll(name, filter=f, batch_size=500) for d in b)
    assert got == want, f"{f!r}: {to_pinecone_filter(f)} gave {got}, reference {want}"
    assert pb.count(name, f) == len(want), f
    hits = pb.search_dense(name, np.array([1.0, 0.0]), max(len(metadata), 1), f)
    assert sorted(int(h.id) for h in hits) == want, f


# -- differential: random metadata, random filter trees -------------------------------
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    metadata=st.lists(metadata_docs(), min_size=1, max_size=25),
    trees=st.lists(filters(ops=PINECONE_OPS), min_size=1, max_size=6),
)
def test_engine_selects_what_the_evaluator_selects(
    pb: PineconeBackend, metadata: list[dict[str, Any]], trees: list[Filter]
) -> None:
    name = load(pb, metadata)
    try:
        for f in trees:
            check(pb, name, metadata, f)
    finally:
        pb.drop_collection(name)


# -- awkward values -------------------------------------------------------------------
def test_awkward_values_match_the_evaluator(pb: PineconeBackend) -> None:
    name = load(pb, AWKWARD)
    for f in AWKWARD_FILTERS:
        check(pb, name, AWKWARD, f)


# -- translation (no engine) ----------------------------------------------------------
def test_translation_shapes() -> None:
    assert to_pinecone_filter(None) is None
    assert to_pinecone_filter(And(())) is None
    assert to_pinecone_filter(Or(())) == NEVER
    assert to_pinecone_filter(F("p") == 3) == {"p#n": {"$eq": "3"}}
    assert to_pinecone_filter(F("p") == 3.0) == {"p#n": {"$eq": "3"}}
    assert to_pinecone_filter(F("p") == True) == {"p#b": {"$eq": "true"}}  # noqa: E712
    assert to_pinecone_filter(F("p") != "a") == {
        "$or": [{"p#s": {"$exists": False}}, {"p#s": {"$nin": ["a"]}}]
    }
    assert to_pinecone_filter(F("p").is_in(["a", "b", 1])) == {
        "$or": [{"p#s": {"$in": ["a", "b"]}}, {"p#n": {"$eq": "1"}}]
    }
    assert to_pinecone_filter(F("p") < 2) == {"p#min": {"$lt": 2.0}}
    assert to_pinecone_filter(~(F("p") < 2)) == {
        "$or": [{"p#min": {"$exists": False}}, {"p#min": {"$gte": 2.0}}]
    }
    assert to_pinecone_filter(~F("a.b").exists()) == {"a.b#e": {"$exists": False}}
    assert to_pinecone_filter(F("t").contains("x")) == {
        "$and": [{"t#l": {"$exists": True}}, {"t#s": {"$eq": "x"}}]
    }
    when = to_pinecone_filter(F("d") == dt.datetime(2024, 1, 2, 1, tzinfo=dt.timezone.utc))
    assert when == {"d#d": {"$eq": "2024-01-02T01:00:00.000000Z"}}
    assert to_pinecone_filter(F("d") > dt.date(1970, 1, 2)) == {"d#dmax": {"$gt": 86400e6}}


def test_constants_fold_away() -> None:
    assert to_pinecone_filter(And((F("a") == 1, Or(())))) == NEVER
    assert to_pinecone_filter(Or((F("a") == 1, And(())))) is None
    assert to_pinecone_filter(F("a").not_in([])) is None
    assert to_pinecone_filter(And((F("a") == 1, And((F("b") == 2,))))) == {
        "$and": [{"a#n": {"$eq": "1"}}, {"b#n": {"$eq": "2"}}]
    }


@pytest.mark.parametrize(
    "f",
    [
        F("h#sh") == 1,
        F("a.b#c").exists(),
        F("n") > 2**53,
        F("n") <= -(2**60),
        F("d") > dt.datetime(2300, 1, 1, tzinfo=dt.timezone.utc),
        F("d") < dt.date(1600, 1, 1),
    ],
)
def test_inexpressible_filters_are_refused(f: Filter) -> None:
    with pytest.raises(UnsupportedFilterError) as info:
        to_pinecone_filter(f)
    assert info.value.backend == "pinecone"
    assert info.value.operator == f.op.value  # type: ignore[union-attr]


def test_every_operator_translates() -> None:
    for op in Op:
        f = Comparison("f", op, sample_value(op))
        if op is Op.TEXT_MATCH:  # no substring test in Pinecone: refused, never dropped
            with pytest.raises(UnsupportedFilterError, match="text_match"):
                to_pinecone_filter(f)
            continue
        assert to_pinecone_filter(f) is not None


def test_projection_facets() -> None:
    got = project({"x": [3, "a", True, 2.5, None, {"y": 1}], "d": "2024-01-02T01:00:00+01:00"})
    assert got["x"] == {
        "e": True,
        "l": True,
        "s": ["a"],
        "n": ["3", "2.5"],
        "min": 2.5,
        "max": 3.0,
        "b": ["true"],
    }
    assert got["d"]["d"] == ["2024-01-02T00:00:00.000000Z"]
    assert "x.y" not in got  # lists are not descended (the evaluator does not either)
    assert project({"a.b": 1, "k#": 2, "": 3}, "#") == {}
    assert canon_number(-0.0) == canon_number(0) == "0"
    assert canon_number(2**60) == canon_number(float(2**60)) == "1152921504606846976"
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert canon_instant(dt.datetime(5, 6, 7, 1, tzinfo=plus2)) == "0005-06-06T23:00:00.000000Z"


@pytest.mark.parametrize(
    "name", ["projection", "pinecone.filters", "pinecone.codec", "pinecone.url"]
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    module = importlib.import_module(f"polyvec.backends.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

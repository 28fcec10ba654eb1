"""Stored values compare the same on every backend, or are refused before the first write.

Each class of silently wrong answer found by an outside differential test, as a test on
every engine that runs here (the random version of each lives in
``test_filter_differential.py``, whose generator now makes these values):

* ints beyond ±2**53: exact wherever the engine stores them (polyvec's shadows where
  it compares numbers as float64), refused at write (``InputError`` naming the field)
  beyond what it stores (64 bits on Qdrant and Milvus);
* date strings: one grammar (RFC 3339 profile), whatever the engine's own parser takes;
* ``date``/``datetime`` objects: compared as the ``isoformat()`` string stored for them;
* lone surrogates in an id, a text, a key or a value: ``InputError`` naming it;
* bad input anywhere in a batch: nothing written.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from polyvec import Collection
from polyvec.backends.base import Backend, CollectionSpec
from polyvec.backends.qdrant._shared import SHADOW_VERSION, QdrantBase
from polyvec.errors import DimensionMismatchError, InputError, UnsupportedFilterError
from polyvec.filters import F, Filter, select
from polyvec.types import Document
from tests.conftest import _Engines, engine_for, variants_for

DIM = 384  # the Pinecone stand-in serves one index of the test embedder's dimension
EXACT = 2**53


def _store(backend: Backend, metadata: list[dict[str, Any]]) -> str:
    name = f"v_{uuid.uuid4().hex[:10]}"
    backend.create_collection(CollectionSpec(name, DIM, "cosine", sparse=False))
    vectors = np.eye(DIM)[[i % DIM for i in range(len(metadata))]] + 0.01
    backend.upsert(name, [Document(i, "", m, vectors[i]) for i, m in enumerate(metadata)])
    return name


def _ids(backend: Backend, name: str, f: Filter) -> list[int]:
    return sorted(int(d.id) for batch in backend.scroll(name, filter=f) for d in batch)


def _agrees(backend: Backend, metadata: list[dict[str, Any]], filters: list[Filter]) -> None:
    """Each filter and its negation select exactly the evaluator's ids, or the backend
    refuses an operator its capabilities declare refused or restricted."""
    name = _store(backend, metadata)
    for f in filters:
        for g in (f, ~f):
            want = sorted(select(g, dict(enumerate(metadata))))
            try:
                got = _ids(backend, name, g)
            except UnsupportedFilterError as exc:
                support = backend.capabilities.filter_support(exc.operator)
                assert support in ("unsupported", "restricted"), exc
                continue
            assert got == want, f"{g!r} on {metadata}"
            assert backend.count(name, g) == len(want), g


BIG = [2**53 + 1, -(2**53) - 1, 2**63 - 1, 2**70]


@pytest.mark.parametrize("value", BIG)
def test_big_ints_are_exact_or_refused_before_any_write(backend: Backend, value: int) -> None:
    docs: list[dict[str, Any]] = [{"n": EXACT}, {"n": 1}, {"n": value}, {"n": [value, 2]}]
    limit = backend.max_exact_int
    if limit is not None and abs(value) > limit:
        name = f"v_{uuid.uuid4().hex[:10]}"
        backend.create_collection(CollectionSpec(name, DIM, "cosine", sparse=False))
        batch = [Document(i, "", m, np.ones(DIM)) for i, m in enumerate(docs)]
        with pytest.raises(InputError, match=rf"document 2 metadata\.n is {value}, beyond "):
            backend.check_documents(batch)
        with pytest.raises(InputError, match="store it as a str"):
            backend.upsert(name, batch)
        assert backend.count(name) == 0
        return
    edge = EXACT - 1  # range bounds stay inside ±2**53 (beyond, they are refused)
    filters = [F("n") == EXACT, F("n") == value, F("n") > edge, F("n") >= edge,
               F("n") < -edge, F("n") < 0, F("n").is_in([1, value])]  # fmt: skip
    _agrees(backend, docs, filters)
    name = _store(backend, docs)
    assert backend.get(name, [2])[0].metadata == {"n": value}


def test_ints_at_the_float64_edge_compare_exactly(backend: Backend) -> None:
    values = [EXACT, EXACT - 1, -EXACT, float(EXACT), 3, 3.0, -0.0, 0, True, 1, 1.0]
    metadata: list[dict[str, Any]] = [{"n": v} for v in values] + [{"n": values}]
    filters = [F("n") == EXACT, F("n") == EXACT - 1, F("n") > EXACT - 1, F("n") == 0.0,
               F("n") == 1, F("n") == True, F("n") <= 1 - EXACT, F("n").is_in([3, EXACT])]  # noqa: E712  # fmt: skip
    _agrees(backend, metadata, filters)


def test_floats_of_every_precision_compare_exactly(backend: Backend) -> None:
    """qdrant-edge holds about one float in eight with 16-17 significant digits one unit
    in the last place off (its JSON reading is not round-trip exact); equality must still
    find the stored value, on every backend."""
    rng = random.Random(7)
    values = [rng.uniform(-1e9, 1e9) for _ in range(40)] + [rng.random() for _ in range(20)]
    values += [0.1, 1 / 3, 2 / 3, 1e-300, 5e-324, 1.7976931348623157e308, 1e22, 1e23]
    metadata: list[dict[str, Any]] = [{"x": v} for v in values]
    filters: list[Filter] = [F("x") == v for v in values[::3]]
    filters += [F("x").is_in(values[i : i + 3]) for i in range(0, len(values), 9)]
    _agrees(backend, metadata, filters)


SPELLINGS = ["2024-01-01", "2024-01-01T00:00:00Z", "2024-01-01t00:00:00z",
             "2024-01-01 01:00:00+01:00", "2024-01-01T00:00:00.000001",
             "2024-01-01T00:00Z", "2024-01-01T01:00+01:00", "2024-1-1", " 2024-01-01",
             "2024-01-01T00", "2024-W01-1", "2024-01-01T00:00:00,5", "20240101",
             "2024-01-01T00:00:00.1234567Z", "2024-01-01T00:00:00+05:30:15"]  # fmt: skip


def test_date_strings_follow_one_grammar(backend: Backend) -> None:
    day = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    metadata = [{"d": s} for s in SPELLINGS] + [{"d": SPELLINGS}]
    filters = [F("d") >= day, F("d") < dt.date(2025, 1, 1), F("d") == day, F("d") > day,
               F("d").contains(day), F("d").is_in([day])]  # fmt: skip
    _agrees(backend, metadata, filters)
    # the ones outside the grammar are strings: no date filter ever finds them
    name = _store(backend, metadata[:-1])
    assert _ids(backend, name, F("d") < dt.date(2030, 1, 1)) == [0, 1, 2, 3, 4]


def test_date_objects_compare_as_their_stored_string(backend: Backend) -> None:
    metadata = [{"d": dt.date(2024, 1, 1)}, {"d": dt.datetime(2024, 1, 1, 10)},
                {"d": dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone.utc)},
                {"d": [dt.date(2024, 1, 1), "x"]}, {"d": "2024-01-01"}]  # fmt: skip
    filters = [F("d") == "2024-01-01", F("d") == "2024-01-01T10:00:00",
               F("d") == "2024-01-01T10:00:00+00:00", F("d").is_in(["2024-01-01"]),
               F("d").contains("2024-01-01"), F("d") != "2024-01-01",
               F("d") == dt.date(2024, 1, 1), F("d") > dt.date(2024, 1, 1),
               F("d").text_match("01-01")]  # fmt: skip
    _agrees(backend, metadata, filters)


BAD = "x\ud800y"


@pytest.mark.parametrize(
    ("doc", "named"),
    [
        (Document(BAD, "t", {}), "document id"),
        (Document(1, BAD, {}), "the text of document 1"),
        (Document(1, "t", {"k": BAD}), "document 1 metadata.k"),
        (Document(1, "t", {"k": [1, {"j": BAD}]}), r"document 1 metadata.k\[1\].j"),
        (Document(1, "t", {BAD: 1}), "a key in document 1 metadata"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(
    backend: Backend, doc: Document, named: str
) -> None:
    name = f"v_{uuid.uuid4().hex[:10]}"
    backend.create_collection(CollectionSpec(name, DIM, "cosine", sparse=False))
    batch = [Document(0, "fine", {"k": "ok"}, np.ones(DIM)), doc.with_vectors(np.ones(DIM))]
    with pytest.raises(InputError, match=rf"{named}.*lone surrogate '\\ud800'"):
        backend.check_documents(batch)
    with pytest.raises(InputError, match="lone surrogate"):
        backend.upsert(name, batch)
    assert backend.count(name) == 0


def test_collection_add_refuses_bad_input_before_the_first_write(
    backend: Backend, embedder: Any, collection_name: str
) -> None:
    """One bad document at the end of a long add(): nothing is written."""
    c = Collection(backend, collection_name, embedder=embedder)
    dim = embedder.dimension
    docs = [Document(i, f"doc {i}", {"i": i}, np.ones(dim)) for i in range(299)]
    bad = [{"k": BAD}] + ([{"k": 2**70}] if backend.max_exact_int is not None else [])
    for metadata in bad:
        with pytest.raises(InputError, match=r"document 299 metadata\.k"):
            c.add([*docs, Document(299, "last", metadata, np.ones(dim))], batch_size=64)
        assert c.count() == 0
    short = Document(300, "short", {}, np.ones(dim - 1))
    with pytest.raises(DimensionMismatchError):
        c.add([*docs, short], batch_size=64)
    assert c.count() == 0


@pytest.fixture(params=variants_for("qdrant"))
def qdrant(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[QdrantBase]:
    variant = str(request.param)
    instance = engine_for(engines, variant).make(variant, f"s{uuid.uuid4().hex[:10]}")
    assert isinstance(instance, QdrantBase)
    try:
        yield instance
    finally:
        instance.close()


def test_qdrant_points_without_shadows_are_backfilled_when_opened(qdrant: QdrantBase) -> None:
    """Derived state is validated on open: points a version without the pv_dates /
    pv_numbers shadows wrote (mark 0) get them before the first filter runs."""
    metadata: list[dict[str, Any]] = [{"x": 0.11534974341425441, "d": "2024-01-01"},
                                      {"x": 1, "d": ["x", "2024-01-02T00:00:00Z"]}, {}]  # fmt: skip
    name = f"v_{uuid.uuid4().hex[:10]}"
    qdrant.create_collection(CollectionSpec(name, DIM, "cosine", sparse=False))
    shadowed = qdrant.layout
    qdrant.layout = replace(shadowed, dates_key=None, numbers_key=None)  # the old writer
    qdrant.upsert(name, [Document(i, "", m, np.ones(DIM)) for i, m in enumerate(metadata)])
    qdrant._e_set_shadow_mark(name, 0)
    qdrant.layout, qdrant._checked = shadowed, set()  # opened again by this version
    # the old writer's qdrant-edge held 0.11534974341425441 one ulp off: the reference is
    # what the store holds
    held = {int(d.id): d.metadata for d in qdrant.get(name, [0, 1, 2])}
    assert qdrant._e_shadow_mark(name) == SHADOW_VERSION
    day = dt.date(2024, 1, 2)
    x = held[0]["x"]
    for f in (F("x") == x, F("x") == 1.0, F("d") >= day, F("d") < day, F("x").is_in([x, 1])):
        assert _ids(qdrant, name, f) == sorted(select(f, held)), f


def test_wrappers_check_like_the_backend_they_wrap(backend: Backend) -> None:
    """A retrying (or read-only, encrypting) backend refuses exactly what the engine
    under it refuses: a wrapper's own default limits must not apply."""
    from polyvec.safety.retry import RetryingBackend

    wrapped = RetryingBackend(backend)
    assert wrapped.max_exact_int == backend.max_exact_int
    for value in (2**53 + 1, 2**63 - 1, 2**70):
        doc = Document(1, "", {"n": value}, np.ones(DIM))
        limit = backend.max_exact_int
        if limit is not None and value > limit:
            with pytest.raises(InputError, match="beyond"):
                wrapped.check_documents([doc])
        else:
            wrapped.check_documents([doc])

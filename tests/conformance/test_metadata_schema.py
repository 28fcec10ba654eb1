"""A MetadataSchema on every backend: metadata is normalised on the way in, filters are
checked and translated against it, it persists with the collection, and indexed fields
reach the backend's index options. Each engine must select exactly the ids the
reference evaluator selects on the normalised metadata."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from polyvec import Document, F, Field, MetadataSchema
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.errors import ConfigurationError, FilterError, FilterValueError, SchemaError
from polyvec.filters import parse_filter, select

pytestmark = pytest.mark.models

SCHEMA = MetadataSchema(
    {
        "published": Field("datetime", indexed=True),
        "tags": Field("list[str]", indexed=True),
        "page": "int",
        "note": Field("str", filterable=False),
    }
)

GIVEN: dict[str, dict[str, Any]] = {
    "a": {"published": "2024-05-01", "tags": "linux", "page": 1.0, "note": "x"},
    "b": {"published": "2024-05-01T02:00:00+02:00", "tags": ["bsd", "linux"], "page": 2},
    "c": {"published": dt.datetime(2024, 6, 1, 12, 0), "tags": ["mac"], "page": 3},
    "d": {"published": dt.date(2023, 12, 31), "page": 4},
    "e": {"tags": "bsd"},
}

FILTERS: list[Any] = [
    F("published") == "2024-05-01",  # an ISO string read as a date: a and b
    {"published": {"$in": ["2023-12-31", "2024-06-01T12:00:00Z"]}},
    {"published": {"$gte": "2024-05-01", "$lt": "2024-06-01"}},
    F("published") != dt.date(2024, 5, 1),
    F("tags").contains("linux"),  # "a" was written as the scalar "linux"
    F("tags") == "bsd",
    ~F("published").exists() | (F("page") >= 3),
    F("page").is_in([1, 2]),
]


def test_schema_round_trip(backend: Backend, collection_name: str, embedder: Any) -> None:
    coll = Collection(backend, collection_name, embedder=embedder, schema=SCHEMA)
    coll.add([Document(i, f"document {i}", m) for i, m in GIVEN.items()])
    stored = {d.id: dict(d.metadata) for d in coll.get(list(GIVEN))}
    assert stored["a"] == {
        "published": "2024-05-01T00:00:00Z",
        "tags": ["linux"],
        "page": 1,
        "note": "x",
    }
    assert stored["b"]["published"] == stored["a"]["published"]
    assert stored["c"]["published"] == "2024-06-01T12:00:00Z"
    assert stored["e"] == {"tags": ["bsd"]}
    for f in FILTERS:
        want = sorted(select(SCHEMA.check_filter(parse_filter(f)), stored))
        got = sorted(d.id for batch in coll.scroll(filter=f) for d in batch)
        assert got == want, f"{f!r}: engine {got} != reference {want}"
        assert coll.count(f) == len(want), f
    hits = coll.search("document", k=10, mode="dense", filter=F("published") == "2024-05-01")
    assert sorted(h.id for h in hits) == ["a", "b"]

    # refused before reaching the engine
    with pytest.raises(FilterValueError, match="non-date string 'soon'"):
        coll.count(F("published") == "soon")
    with pytest.raises(FilterError, match="filterable=False"):
        coll.search("document", k=3, filter={"note": "x"})
    with pytest.raises(SchemaError, match=r"document 'f'.*'page'"):
        coll.add([Document("f", "bad", {"page": "seven"})])
    assert coll.count() == len(GIVEN)

    # the schema is saved with the collection
    again = Collection(backend, collection_name, embedder=embedder)
    assert again.schema == SCHEMA
    with pytest.raises(ConfigurationError, match="was created with MetadataSchema"):
        Collection(backend, collection_name, embedder=embedder, schema=MetadataSchema({}))
    coll.delete(filter=F("published") == "2024-05-01")
    assert sorted(d.id for b in again.scroll() for d in b) == ["c", "d", "e"]


def test_schema_persists_from_creation(
    backend: Backend, collection_name: str, embedder: Any
) -> None:
    Collection(backend, collection_name, embedder=embedder, schema=SCHEMA)
    reopened = Collection(backend, collection_name, embedder=embedder)
    assert reopened.schema == SCHEMA
    options = dict(backend.get_spec(collection_name).options)  # type: ignore[union-attr]
    kind = backend.capabilities.backend
    if kind in ("qdrant", "qdrant-edge"):
        assert options["payload_indexes"] == {"published": "datetime", "tags": "keyword"}
    elif kind == "pgvector":
        assert options["filterable"] == ["published", "tags"]


def test_without_a_schema_nothing_is_coerced(
    backend: Backend, collection_name: str, embedder: Any
) -> None:
    coll = Collection(backend, collection_name, embedder=embedder)
    assert coll.schema is None
    coll.add([Document("a", "x", {"published": "2024-05-01", "tags": "linux", "page": 1.5})])
    assert dict(coll.get(["a"])[0].metadata) == {
        "published": "2024-05-01",
        "tags": "linux",
        "page": 1.5,
    }
    assert coll.count(F("published") == "2024-05-01") == 1  # an exact string match
    assert coll.count(F("tags").contains("linux")) == 0  # a scalar is not a list


@pytest.mark.qdrant
def test_connect_takes_a_schema(embedder: Any) -> None:
    import polyvec

    with polyvec.connect(
        "qdrant+memory://", collection="schema", embedder=embedder, schema=SCHEMA
    ) as coll:
        assert coll.schema == SCHEMA
        assert coll.info()["schema"] == SCHEMA.to_dict()
        coll.add([Document(1, "one", {"published": dt.date(2024, 1, 2)})])
        assert coll.get([1])[0].metadata == {"published": "2024-01-02T00:00:00Z"}
        with pytest.raises(ConfigurationError, match="MetadataSchema"):
            Collection(coll.backend, "other", embedder=embedder, schema={"a": "int"})  # type: ignore[arg-type]

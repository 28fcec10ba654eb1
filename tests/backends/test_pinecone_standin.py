"""The Pinecone **stand-in** itself (tests/pinecone_standin), driven by the raw official
SDK: it must answer the way Pinecone documents its data plane — the filter language
(type-strict, lists match any element, ``$ne`` skips missing keys), the limits, the
error statuses — or the backend tests on it would prove nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import REQUIRED

if "pinecone" in REQUIRED:  # CI requires it: a missing client fails, never skips
    import pinecone  # noqa: F401
else:
    pytest.importorskip("pinecone")
pytestmark = pytest.mark.pinecone

from pinecone import Index  # noqa: E402
from pinecone.errors.exceptions import ApiError, NotFoundError, UnauthorizedError  # noqa: E402

from tests.pinecone_standin import StandIn, start_standin  # noqa: E402
from tests.pinecone_standin.filters import FilterSyntax, matches, validate  # noqa: E402

RECORDS: dict[str, dict[str, Any]] = {
    "num": {"x": 1},
    "bool": {"x": True},
    "str": {"x": "1"},
    "list": {"x": ["a", "b"]},
    "none": {},
}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    server = start_standin(2)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def index(standin: StandIn) -> Iterator[Index]:
    idx = Index(host=standin.host, api_key="any")
    idx.upsert(
        vectors=[
            {"id": rid, "values": [1.0, float(n)], "metadata": meta}
            for n, (rid, meta) in enumerate(RECORDS.items())
        ],
        namespace="sem",
    )
    yield idx
    idx.close()


def ids(index: Index, flt: dict[str, Any]) -> set[str]:
    resp = index.query(top_k=100, vector=[1.0, 0.0], namespace="sem", filter=flt)
    return {m.id for m in resp.matches}


@pytest.mark.parametrize(
    ("flt", "want"),
    [
        ({"x": 1}, {"num"}),
        ({"x": {"$eq": True}}, {"bool"}),
        ({"x": {"$eq": "1"}}, {"str"}),
        ({"x": {"$ne": 1}}, {"bool", "str", "list"}),
        ({"x": "a"}, {"list"}),
        ({"x": {"$in": ["b", 1]}}, {"list", "num"}),
        ({"x": {"$nin": ["a"]}}, {"num", "bool", "str"}),
        ({"x": {"$ne": "z"}}, {"num", "bool", "str", "list"}),
        ({"x": {"$gte": 1}}, {"num"}),
        ({"x": {"$exists": False}}, {"none"}),
        ({"$or": [{"x": 1}, {"x": "a"}]}, {"num", "list"}),
        ({"$and": [{"x": {"$exists": True}}, {"x": {"$nin": ["1", "a"]}}]}, {"num", "bool"}),
    ],
)
def test_filter_semantics(index: Index, flt: dict[str, Any], want: set[str]) -> None:
    assert ids(index, flt) == want


def test_ne_on_a_missing_key_in_both_readings() -> None:
    assert not matches({"x": {"$ne": 1}}, {})
    assert not matches({"x": {"$nin": [1]}}, {})
    assert matches({"x": {"$ne": 1}}, {}, ne_matches_missing=True)


@pytest.mark.parametrize(
    "flt",
    [
        {"$foo": []},
        {"$and": []},
        {"x": {"$in": [True]}},
        {"x": {"$in": []}},
        {"x": {"$gt": "2024"}},
        {"x": {"$exists": 1}},
        {"x": {}},
        {"x": [1]},
        {"x": {"$regex": "a"}},
    ],
)
def test_malformed_filters_are_400(index: Index, flt: dict[str, Any]) -> None:
    with pytest.raises(FilterSyntax):
        validate(flt)
    with pytest.raises(ApiError) as info:
        ids(index, flt)
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    "vector",
    [
        {"id": "a", "values": [1.0, 0.0], "metadata": {"k": None}},
        {"id": "a", "values": [1.0, 0.0], "metadata": {"k": {"n": 1}}},
        {"id": "a", "values": [1.0, 0.0], "metadata": {"k": [1, 2]}},
        {"id": "a", "values": [1.0, 0.0], "metadata": {"k": "x" * 41_000}},
        {"id": "a", "values": [0.0, 0.0]},
        {"id": "a", "values": [1.0, 0.0, 3.0]},
        {"id": "ключ", "values": [1.0, 0.0]},
        {"id": "a", "values": [1.0, 0.0], "sparseValues": {"indices": [1, 1], "values": [1, 2]}},
    ],
)
def test_what_pinecone_refuses_is_refused(standin: StandIn, vector: dict[str, Any]) -> None:
    # raw HTTP: the SDK refuses some of these itself, the server must refuse them all
    resp = httpx.post(
        f"{standin.host}/vectors/upsert",
        json={"vectors": [vector], "namespace": "refused"},
        headers={"Api-Key": "any"},
    )
    assert resp.status_code == 400, resp.text
    assert "refused" not in standin.index.namespaces


def test_limits_pagination_and_statuses(standin: StandIn, index: Index) -> None:
    with pytest.raises(ApiError, match="1000"):
        index.query(top_k=1001, vector=[1.0, 0.0], namespace="sem", include_metadata=True)
    assert len(index.query(top_k=1001, vector=[1.0, 0.0], namespace="sem").matches) == 5
    page = index.list_paginated(namespace="sem", limit=2)
    assert [v.id for v in page.vectors] == ["bool", "list"] and page.pagination is not None
    rest = index.list_paginated(namespace="sem", limit=2, pagination_token=page.pagination.next)
    assert [v.id for v in rest.vectors] == ["none", "num"]
    assert [v.id for v in index.list_paginated(namespace="sem", prefix="n").vectors] == [
        "none",
        "num",
    ]
    by_meta = index.fetch_by_metadata(filter={"x": {"$exists": True}}, namespace="sem", limit=3)
    assert len(by_meta.vectors) == 3 and by_meta.pagination is not None
    stats = index.describe_index_stats()
    assert stats.namespaces["sem"].vector_count == 5
    assert (stats.dimension, stats.metric) == (2, "dotproduct")
    with pytest.raises(NotFoundError):
        index.delete(ids=["a"], namespace="never-written")
    with pytest.raises(NotFoundError):
        index.delete_namespace(name="never-written")
    locked = start_standin(2, api_key="right")
    try:
        with pytest.raises(UnauthorizedError):
            Index(host=locked.host, api_key="wrong").describe_index_stats()
    finally:
        locked.stop()


def test_sparse_dense_scores_are_dot_products() -> None:
    server = start_standin(2)
    try:
        idx = Index(host=server.host, api_key="any")
        idx.upsert(
            vectors=[
                {
                    "id": "a",
                    "values": [1.0, 2.0],
                    "sparse_values": {"indices": [5, 9], "values": [1.0, 3.0]},
                }
            ]
        )
        resp = idx.query(
            top_k=1, vector=[0.5, 0.5], sparse_vector={"indices": [9], "values": [2.0]}
        )
        assert resp.matches[0].score == pytest.approx(1.5 + 6.0)
    finally:
        server.stop()

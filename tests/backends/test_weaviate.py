"""WeaviateBackend without a server (none can run here): URLs, names, the object
layout, the client's own config objects, typed errors, and the backend's logic over a
recording fake of the client (what it sends, how it reads answers). Filters:
test_weaviate_filters.py. A real server: test_weaviate_live.py (``WEAVIATE_URL``)."""

from __future__ import annotations

import importlib
import json
import socket
import sys
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest

from polyvec.backends.base import CollectionSpec
from polyvec.errors import (
    BackendUnavailableError,
    ConfigurationError,
    MissingDependencyError,
    WriteError,
)
from polyvec.filters import F
from polyvec.types import Document, SparseVector
from tests.conftest import REQUIRED

if "weaviate" in REQUIRED:  # CI requires it: a missing client fails, never skips
    import weaviate  # noqa: F401
else:
    pytest.importorskip("weaviate")
pytestmark = pytest.mark.weaviate

from weaviate.classes.config import DataType, Tokenization  # noqa: E402

from polyvec.backends.weaviate.backend import WeaviateBackend  # noqa: E402
from polyvec.backends.weaviate.connection import (  # noqa: E402
    collection_config,
    parse_url,
    weaviate_property,
)
from polyvec.backends.weaviate.schema import (  # noqa: E402
    FACET_TYPES,
    FIXED_PROPERTIES,
    class_name,
    collection_name,
    decode_doc,
    facet_property,
    object_id,
    object_properties,
)


# -- URLs and names -------------------------------------------------------------------
def test_parse_url() -> None:
    local = parse_url("weaviate://localhost")
    assert local == {
        "http_host": "localhost",
        "http_port": 8080,
        "http_secure": False,
        "grpc_host": "localhost",
        "grpc_port": 50051,
    }
    cloud = parse_url("weaviate://abc.c0.europe-west3.gcp.weaviate.cloud")
    assert (cloud["http_port"], cloud["http_secure"], cloud["grpc_port"]) == (443, True, 443)
    assert cloud["grpc_host"] == "grpc-abc.c0.europe-west3.gcp.weaviate.cloud"
    custom = parse_url(
        "weaviate://db.lan:9000?secure=true&grpc_port=9001&grpc_host=g.lan&prefix=App"
        "&timeout=5&batch_size=50&skip_init_checks=yes"
    )
    assert custom == {
        "http_host": "db.lan",
        "http_port": 9000,
        "http_secure": True,
        "grpc_host": "g.lan",
        "grpc_port": 9001,
        "prefix": "App",
        "timeout": 5.0,
        "batch_size": 50,
        "skip_init_checks": True,
    }
    for bad in (
        "weaviate://",
        "weaviate://h/path",
        "weaviate://h?api_key=s3cret",
        "weaviate://:s3cret@h",
        "weaviate://h?bogus=1",
        "weaviate://h?secure=perhaps",
        "weaviate://h?grpc_port=x",
        "pinecone://h",
    ):
        with pytest.raises(ConfigurationError) as info:
            parse_url(bad)
        assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("name", ["docs", "my docs", "Zoë_1/ü", "_", "ß" * 3, "a_5f"])
def test_collection_names_round_trip(name: str) -> None:
    cls = class_name("Polyvec", name)
    assert cls[0].isupper() and cls.replace("_", "").isalnum() and cls.isascii()
    assert collection_name("Polyvec", cls) == name
    assert collection_name("Other", cls) is None
    with pytest.raises(ConfigurationError):
        class_name("lowercase", name)


def test_object_ids_are_typed_uuid5_shared_with_qdrant() -> None:
    from polyvec.backends.qdrant._shared import point_id

    assert object_id("7") != object_id(7)
    for ident in ("7", 7, "ключ", 2**70):
        assert object_id(ident) == point_id(ident)


def test_object_layout_round_trips() -> None:
    meta = {"tags": ["a", " b"], "n": 3, "when": "2024-01-02", "nested": {"x": True}, "z": None}
    props = object_properties(Document(2**70, "hello", meta, sparse=SparseVector((1,), (2.0,))))
    assert decode_doc(props, "uuid") == (2**70, "hello", meta)
    assert props["pv_id"] == str(2**70) and props["pv_text"] == "hello"
    assert (props["pv_sparse_i"], props["pv_sparse_v"]) == ([1], [2.0])
    assert props[facet_property("tags", "s")] == ["|a|", "| b|"]
    assert props[facet_property("n", "n")] == ["3"] and props[facet_property("n", "max")] == 3.0
    assert props[facet_property("nested.x", "b")] == ["true"]
    assert facet_property("z", "e") not in props  # null is missing
    for name in props:
        if name.startswith("m_"):
            assert name.rsplit("_", 1)[1] in FACET_TYPES
    assert decode_doc({"text": "lc", "source": "x"}, "u-1") == ("u-1", "lc", {"source": "x"})


def test_client_config_objects() -> None:
    text = weaviate_property(facet_property("a", "s"), "text[]")
    assert (text.dataType, text.tokenization, text.indexFilterable) == (
        DataType.TEXT_ARRAY,
        Tokenization.FIELD,
        True,
    )
    body = weaviate_property("pv_text", "text")
    assert (body.tokenization, body.indexSearchable, body.indexFilterable) == (
        Tokenization.WORD,
        True,
        False,
    )
    doc = weaviate_property("pv_doc", "text")
    assert (doc.indexFilterable, doc.indexSearchable) == (False, False)
    num = weaviate_property(facet_property("a", "max"), "number")
    assert (num.dataType, num.indexRangeFilters) == (DataType.NUMBER, True)
    config = collection_config("l2", {"ef": 64}, FIXED_PROPERTIES)
    (vector,) = [config["vector_config"]]
    assert vector.name == "dense"
    assert vector.vectorIndexConfig.distance.value == "l2-squared"
    assert vector.vectorIndexConfig.ef == 64
    with pytest.raises(ConfigurationError, match="hnsw"):
        collection_config("cosine", {"nope": 1}, FIXED_PROPERTIES)


# -- errors without a server ----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVIATE_API_KEY", "wv-s3cret")
    port = _free_port()
    with pytest.raises(BackendUnavailableError, match="cannot reach Weaviate") as info:
        WeaviateBackend.from_url(f"weaviate://127.0.0.1:{port}?grpc_port={_free_port()}")
    assert "wv-s3cret" not in str(info.value)


def test_missing_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyvec.backends.registry import open_backend

    monkeypatch.setitem(sys.modules, "weaviate", None)
    for mod in [m for m in sys.modules if m.startswith("polyvec.backends.weaviate.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(MissingDependencyError) as info:
        importlib.import_module("polyvec.backends.weaviate.backend")
    assert (info.value.package, info.value.extra) == ("weaviate-client", "weaviate")
    with pytest.raises(MissingDependencyError, match=r"polyvec\[weaviate\]"):
        open_backend("weaviate://localhost")


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        WeaviateBackend()
    with pytest.raises(ConfigurationError):
        WeaviateBackend(client=MagicMock(), batch_size=0)
    with pytest.raises(ConfigurationError):
        WeaviateBackend(client=MagicMock(), prefix="bad prefix")


def test_capabilities_are_declared() -> None:
    caps = WeaviateBackend.capabilities.as_dict()
    assert caps["sparse"] is False and caps["hybrid_fusions"] == []
    assert caps["distances"] == ["cosine", "dot", "l2"] and len(caps["filter_operators"]) == 16
    assert any("emulated" in note for note in caps["notes"])


# -- the backend's logic over a recording fake client ---------------------------------
SPEC = {"polyvec": 1, "dimension": 3, "distance": "cosine", "sparse": True, "options": {}}


def fake_client(spec: dict[str, Any] | None = SPEC) -> tuple[MagicMock, MagicMock]:
    client, handle = MagicMock(), MagicMock()
    client.collections.exists.return_value = spec is not None
    client.collections.use.return_value = handle
    handle.config.get.return_value = SimpleNamespace(
        description=json.dumps(spec), properties=[SimpleNamespace(name=n) for n in FIXED_PROPERTIES]
    )
    return client, handle


def obj(doc_id: Any, distance: float = 0.0, score: float = 0.0) -> SimpleNamespace:
    props = object_properties(Document(doc_id, f"text {doc_id}", {"i": doc_id}))
    return SimpleNamespace(
        uuid=object_id(doc_id),
        properties=props,
        metadata=SimpleNamespace(distance=distance, score=score),
        vector={},
    )


def test_create_collection_sends_the_layout() -> None:
    client, _ = fake_client(spec=None)
    backend = WeaviateBackend(client=client, prefix="App")
    backend.create_collection(CollectionSpec("my docs", 3, "dot"))
    kwargs = client.collections.create.call_args.kwargs
    assert kwargs["name"] == "App_my_20docs"
    assert json.loads(kwargs["description"])["distance"] == "dot"
    assert {p.name for p in kwargs["properties"]} == set(FIXED_PROPERTIES)
    assert kwargs["vector_config"].vectorIndexConfig.distance.value == "dot"
    with pytest.raises(ConfigurationError, match="option"):
        backend.create_collection(CollectionSpec("other", 3, options={"pq": True}))


@pytest.mark.parametrize(
    ("distance", "raw", "score"),
    [("cosine", 0.25, 0.75), ("dot", -4.0, 4.0), ("l2", 9.0, -3.0)],
)
def test_search_dense_turns_distances_into_scores(distance: str, raw: float, score: float) -> None:
    client, handle = fake_client({**SPEC, "distance": distance})
    handle.query.near_vector.return_value = SimpleNamespace(objects=[obj(7, distance=raw)])
    backend = WeaviateBackend(client=client)
    (hit,) = backend.search_dense("docs", np.ones(3), 5)
    assert (hit.id, hit.kind, hit.document.metadata) == (7, distance, {"i": 7})
    assert hit.score == pytest.approx(score)
    kwargs = handle.query.near_vector.call_args.kwargs
    assert kwargs["target_vector"] == "dense" and kwargs["limit"] == 5
    assert kwargs["filters"] is None and kwargs["return_properties"] == ["pv_doc"]


def test_unknown_filter_properties_are_looked_up_again() -> None:
    client, handle = fake_client()
    backend = WeaviateBackend(client=client)
    assert backend.count("docs", F("i") == 7) == 0  # no property for "i": nothing matches
    assert handle.config.get.call_count == 2  # spec, then the refresh for "i"
    props = [*FIXED_PROPERTIES, facet_property("i", "n")]
    handle.config.get.return_value.properties = [SimpleNamespace(name=n) for n in props]
    handle.aggregate.over_all.return_value = SimpleNamespace(total_count=4)
    assert backend.count("docs", F("i") == 7) == 4  # written elsewhere meanwhile
    assert handle.aggregate.over_all.call_args.kwargs["filters"].target == props[-1]


def test_upsert_adds_properties_and_reports_partial_failures() -> None:
    client, handle = fake_client()
    handle.data.insert_many.side_effect = [
        SimpleNamespace(errors={}),
        SimpleNamespace(errors={1: SimpleNamespace(message="bad vector")}),
    ]
    backend = WeaviateBackend(client=client, batch_size=2)
    docs = [Document(i, "t", {"tag": f"x{i}"}, np.ones(3)) for i in range(5)]
    with pytest.raises(WriteError, match="bad vector") as info:
        backend.upsert("docs", docs)
    assert info.value.written == [0, 1, 2] and info.value.failed == [3, 4]
    added = {c.kwargs["prop"].name for c in handle.config.add_property.call_args_list}
    assert added == {facet_property("tag", f) for f in ("e", "s")}
    first = handle.data.insert_many.call_args_list[0].kwargs["objects"]
    assert [o.uuid for o in first] == [object_id(0), object_id(1)]
    assert first[0].vector == {"dense": [1.0, 1.0, 1.0]}


def test_sparse_leg_is_exact_bm25_over_stored_vectors() -> None:
    client, handle = fake_client()
    stored = [
        Document("a", "", {}, sparse=SparseVector((1, 2), (1.0, 3.0))),
        Document("b", "", {}, sparse=SparseVector((2,), (0.5,))),
        Document("c", "", {}),
    ]
    objects = []
    for d in stored:
        o = obj(d.id)
        o.properties = object_properties(d)
        objects.append(o)
    handle.aggregate.over_all.return_value = SimpleNamespace(total_count=3)
    handle.iterator.return_value = iter(objects)
    handle.query.fetch_objects_by_ids.return_value = SimpleNamespace(objects=objects[:2])
    backend = WeaviateBackend(client=client)
    hits = backend.search_sparse("docs", SparseVector((2,), (2.0,)), 5)
    assert [(h.id, h.score, h.kind) for h in hits] == [("a", 6.0, "bm25"), ("b", 1.0, "bm25")]
    backend.search_sparse("docs", SparseVector((1,), (1.0,)), 5)
    assert handle.iterator.call_count == 1  # the index is cached while the count holds


def test_state_round_trip_through_the_state_collection() -> None:
    client, handle = fake_client()
    existing = {"Polyvec_docs"}
    client.collections.exists.side_effect = lambda name: name in existing
    client.collections.create.side_effect = lambda name, **kw: existing.add(name)
    backend = WeaviateBackend(client=client)
    assert backend.load_state("docs") is None
    stored: dict[str, dict[str, Any]] = {}

    def insert_many(objects: list[Any]) -> SimpleNamespace:
        for o in objects:
            stored[str(o.uuid)] = o.properties
        return SimpleNamespace(errors={})

    def fetch(ids: list[str], limit: int) -> SimpleNamespace:
        found = [SimpleNamespace(uuid=i, properties=stored[i]) for i in ids if i in stored]
        return SimpleNamespace(objects=found)

    handle.data.insert_many.side_effect = insert_many
    handle.query.fetch_objects_by_ids.side_effect = fetch
    backend.save_state("docs", {"stats": list(range(5))})
    assert backend.load_state("docs") == {"stats": list(range(5))}
    assert client.collections.create.call_args.kwargs["name"] == "PolyvecState"


def test_native_keyword_and_hybrid_search_call_weaviate() -> None:
    from weaviate.classes.query import HybridFusion

    client, handle = fake_client()
    handle.query.bm25.return_value = SimpleNamespace(objects=[obj("a", score=2.5)])
    handle.query.hybrid.return_value = SimpleNamespace(objects=[obj("b", score=0.8)])
    backend = WeaviateBackend(client=client)
    (hit,) = backend.search_bm25("docs", "gzip", 3)
    assert (hit.id, hit.score, hit.kind) == ("a", 2.5, "bm25")
    assert handle.query.bm25.call_args.kwargs["query_properties"] == ["pv_text"]
    (mixed,) = backend.search_hybrid_text(
        "docs", np.ones(3), "gzip", 3, alpha=0.25, fusion="ranked"
    )
    kwargs = handle.query.hybrid.call_args.kwargs
    assert (kwargs["alpha"], kwargs["target_vector"]) == (0.25, "dense")
    assert kwargs["fusion_type"] == HybridFusion.RANKED and kwargs["vector"] == [1.0, 1.0, 1.0]
    assert (mixed.id, mixed.kind, mixed.sources[0].leg) == ("b", "rrf", "hybrid")
    with pytest.raises(ConfigurationError):
        backend.search_hybrid_text("docs", np.ones(3), "x", 3, fusion="magic")
    assert backend.search_bm25("docs", "   ", 3) == []

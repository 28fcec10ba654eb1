"""Per-stage traces and OpenTelemetry spans, on a real engine and the real OTel SDK.

The spans are collected by the SDK's in-memory exporter; the test installs its tracer
provider as the global one for the duration of a test only (monkeypatched), so no
other test sees spans.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence

import pytest

from polyvec import Document, Hit
from polyvec.collection import Collection
from polyvec.multiquery import StaticGenerator
from polyvec.retriever import MMRConfig, RetrieverConfig
from polyvec.tracing import STAGES, Hits, Trace, otel_tracer
from tests.transfer.data import HashEmbedder

QUERY = "compress a secret file quickly"
SECRET_WORDS = ("compress", "secret", "quickly", "Zoë-private")


class OverlapReranker:
    """A small real reranker: word overlap with the query."""

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        words = set(query.lower().split())
        scored = [
            h.rescored(float(len(words & set(h.document.text.split()))), "rerank") for h in hits
        ]
        scored.sort(key=lambda h: -h.score)
        return scored[:top_n] if top_n is not None else scored


@pytest.fixture
def coll(tmp_path) -> Iterator[Collection]:
    from polyvec.backends.qdrant import QdrantEdgeBackend

    backend = QdrantEdgeBackend(tmp_path / "edge")
    c = Collection(backend, "traced", embedder=HashEmbedder())
    texts = [f"document {i} about compress and file {i % 5} secret" for i in range(40)]
    c.add(Document(i, t, {"owner": "Zoë-private", "n": i}) for i, t in enumerate(texts))
    yield c
    c.close()


def test_trace_off_measures_nothing_and_answers_the_same(coll: Collection):
    plain = coll.search(QUERY, k=5)
    traced = coll.search(QUERY, k=5, trace=True)
    assert isinstance(plain, Hits) and isinstance(plain, list)
    assert plain.trace is None
    assert [(h.id, h.score) for h in traced] == [(h.id, h.score) for h in plain]
    assert isinstance(traced.trace, Trace)


def test_client_side_hybrid_trace_has_every_stage(coll: Collection):
    cfg = RetrieverConfig(
        native=False,
        mmr=MMRConfig(lambda_mult=0.7, fetch_k=20),
        reranker=OverlapReranker(),
        multi_query=StaticGenerator({}, default=["secret file", "compress quickly"]),
        n_variants=2,
        trace=True,
    )
    hits = coll.retriever(cfg).search(QUERY, k=4, filter={"n": {"$gte": 3}})
    trace = hits.trace
    assert trace is not None and trace.hits == len(hits) == 4
    assert (trace.backend, trace.collection, trace.mode, trace.k) == (
        "qdrant-edge",
        "traced",
        "hybrid",
        4,
    )
    names = [s.name for s in trace.stages]
    assert set(names) == set(STAGES) - {"hybrid"}
    assert names.count("dense") == names.count("sparse") == 3  # one leg each per variant
    assert sorted(s.attributes["variant"] for s in trace.stages if s.name == "dense") == [0, 1, 2]
    for stage in trace.stages:
        assert stage.seconds >= 0
        if stage.name in ("dense", "sparse"):
            assert stage.attributes["candidates"] == cfg.leg_depth(4)
            assert 0 < stage.attributes["hits"] <= cfg.leg_depth(4)
    rerank = next(s for s in trace.stages if s.name == "rerank")
    assert rerank.attributes["hits"] == 4
    by_stage = trace.seconds_by_stage()
    assert list(by_stage) == [s for s in STAGES if s in by_stage]
    assert trace.seconds >= max(s.seconds for s in trace.stages)
    text = repr(trace)
    assert "qdrant-edge 'traced' hybrid k=4" in text and "rerank" in text
    dumped = repr(trace.as_dict())
    for word in SECRET_WORDS:  # no query text, no metadata value in a trace
        assert word not in dumped and word not in text


def test_native_hybrid_is_one_stage(coll: Collection):
    hits = coll.search(QUERY, k=3, trace=True)
    assert hits.trace is not None
    assert [s.name for s in hits.trace.stages] == ["embed", "hybrid"]
    assert hits.trace.stages[1].attributes["hits"] == 3


def test_batch_and_async_traces(coll: Collection):
    retr = coll.retriever(trace=True, mode="dense")
    a, b = retr.search_batch([QUERY, "another query"], k=2)
    assert a.trace is b.trace is not None
    assert [s.name for s in a.trace.stages].count("dense") == 2
    got = asyncio.run(retr.asearch(QUERY, k=2))
    assert got.trace is not None and [h.id for h in got] == [h.id for h in a]
    sparse = asyncio.run(coll.retriever(mode="sparse").asearch(QUERY, k=2, trace=True))
    assert sparse.trace is not None and [s.name for s in sparse.trace.stages] == ["sparse"]


# -- OpenTelemetry ----------------------------------------------------------------------
@pytest.fixture
def spans(monkeypatch):
    """The real OTel SDK with an in-memory exporter, as the global tracer provider."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    assert otel_tracer() is None  # no provider configured: no spans, nothing recorded
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


def test_spans_carry_the_documented_attributes_and_no_text(coll: Collection, spans):
    cfg = RetrieverConfig(native=False, reranker=OverlapReranker())
    hits = coll.retriever(cfg).search(QUERY, k=3, filter={"owner": "Zoë-private"})
    assert hits.trace is None  # spans do not need trace=True
    finished = spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    assert set(by_name) == {
        "polyvec.search",
        "polyvec.embed",
        "polyvec.dense",
        "polyvec.sparse",
        "polyvec.fusion",
        "polyvec.rerank",
    }
    (root,) = by_name["polyvec.search"]
    assert dict(root.attributes) == {
        "polyvec.backend": "qdrant-edge",
        "polyvec.collection": "traced",
        "polyvec.mode": "hybrid",
        "polyvec.k": 3,
        "polyvec.fusion": "dbsf",
        "polyvec.queries": 1,
        "polyvec.hits": 3,
    }
    for span in finished:
        if span is not root:  # every stage is a child of the search, even legs run in threads
            assert span.parent is not None and span.parent.span_id == root.context.span_id
            assert span.context.trace_id == root.context.trace_id
        for key, value in span.attributes.items():
            assert re.fullmatch(r"polyvec\.[a-z_]+", key)
            for word in SECRET_WORDS:
                assert word not in str(value), (span.name, key)
    (dense,) = by_name["polyvec.dense"]
    assert dense.attributes["polyvec.candidates"] == cfg.leg_depth(3)
    assert dense.attributes["polyvec.hits"] > 0
    (rerank,) = by_name["polyvec.rerank"]
    assert rerank.attributes["polyvec.hits"] == 3


def test_without_a_provider_no_span_is_made(coll: Collection, monkeypatch):
    from opentelemetry import trace

    assert otel_tracer() is None
    made: list[str] = []
    real = trace.ProxyTracerProvider.get_tracer
    monkeypatch.setattr(
        trace.ProxyTracerProvider,
        "get_tracer",
        lambda self, *a, **kw: made.append("tracer") or real(self, *a, **kw),
    )
    coll.search(QUERY, k=2)
    assert made == []


# -- the frameworks see the same stages -------------------------------------------------
def test_langchain_callbacks_get_the_trace(coll: Collection):
    pytest.importorskip("langchain_core")
    from langchain_core.callbacks import BaseCallbackHandler

    from polyvec.integrations.langchain import PolyvecRetriever

    class Events(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events: list[tuple[str, dict, object]] = []
            self.retriever_runs: list[object] = []

        def on_retriever_start(self, serialized, query, *, run_id, **kwargs):
            self.retriever_runs.append(run_id)

        def on_custom_event(self, name, data, *, run_id, **kwargs):
            self.events.append((name, data, run_id))

    handler = Events()
    retriever = PolyvecRetriever(collection=coll, k=3, native=False)
    docs = retriever.invoke(QUERY, config={"callbacks": [handler]})
    assert len(docs) == 3
    ((name, data, run_id),) = handler.events
    assert name == "polyvec_trace" and run_id == handler.retriever_runs[0]
    assert next(s["stage"] for s in data["stages"]) == "embed"
    assert {"dense", "sparse", "fusion"} <= {s["stage"] for s in data["stages"]}
    assert data["hits"] == 3 and data["backend"] == "qdrant-edge"
    assert all(word not in repr(data) for word in SECRET_WORDS)

    asyncio.run(retriever.ainvoke(QUERY, config={"callbacks": [handler]}))
    assert len(handler.events) == 2 and handler.events[1][0] == "polyvec_trace"
    retriever.invoke(QUERY)  # no handler: nothing to report to, no trace made


def test_llama_index_instrumentation_gets_the_trace(coll: Collection):
    pytest.importorskip("llama_index.core")
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from polyvec.integrations._trace_events import llama_index_wants_trace
    from polyvec.integrations.llama_index import PolyvecRetriever, PolyvecVectorStore

    seen: list = []

    class Handler(BaseEventHandler):
        def handle(self, event, **kwargs) -> None:
            if type(event).__name__ == "PolyvecTraceEvent":
                seen.append(event)

    root = get_dispatcher()
    assert not llama_index_wants_trace()
    handler = Handler()
    root.add_event_handler(handler)
    try:
        assert llama_index_wants_trace()
        nodes = PolyvecRetriever(coll, k=2).retrieve(QUERY)
        assert len(nodes) == 2
        (event,) = seen
        assert [s["stage"] for s in event.trace["stages"]] == ["embed", "hybrid"]
        assert event.span_id is not None  # inside the retrieval's span
        vector = coll.embed_queries([QUERY])[0].tolist()
        store = PolyvecVectorStore(coll)
        store.query(VectorStoreQuery(query_str=QUERY, query_embedding=vector, similarity_top_k=2))
        # the default query mode is dense, and the embedding is given: one engine call
        assert len(seen) == 2 and [s["stage"] for s in seen[1].trace["stages"]] == ["dense"]
        asyncio.run(PolyvecRetriever(coll, k=2).aretrieve(QUERY))
        assert len(seen) == 3
        assert all(word not in repr(e.trace) for e in seen for word in SECRET_WORDS)
    finally:
        root.event_handlers.remove(handler)
    assert not llama_index_wants_trace()

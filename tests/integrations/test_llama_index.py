"""The LlamaIndex adapters on every backend: they convert types and nothing else.

Every query mode through :class:`PolyvecVectorStore` must equal the same search through
polyvec's core; nodes (text, metadata, relationships …) must round-trip; every
``FilterOperator`` must select what the reference evaluator selects; and
``VectorStoreIndex.from_vector_store(...)`` must work unchanged — as a retriever and as a
query engine running hybrid + cross-encoder rerank with ``MockLLM`` and the real MiniLM.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
    MockLLM,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import (
    BaseNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.schema import (
    Document as LIDocument,
)
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from polyvec import (
    ConfigurationError,
    Convex,
    F,
    FilterSyntaxError,
    MissingDependencyError,
    UnsupportedFilterError,
)
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.filters import matches
from polyvec.integrations.llama_index import (
    NODE_KEY,
    REF_DOC_KEY,
    LlamaIndexEmbedder,
    LlamaIndexQueryGenerator,
    PolyvecEmbedding,
    PolyvecRerankPostprocessor,
    PolyvecRetriever,
    PolyvecVectorStore,
    metadata_filters_to_ast,
)
from polyvec.retriever import MMRConfig, Retriever, RetrieverConfig
from tests.corpus import QUERIES, stdlib_documents

pytestmark = [pytest.mark.llamaindex, pytest.mark.models]


def _nodes() -> list[TextNode]:
    return [
        TextNode(id_=str(d.id), text=d.text, metadata=dict(d.metadata)) for d in stdlib_documents()
    ]


@pytest.fixture
def store(backend: Backend, collection_name: str, cached_embedder: Any) -> PolyvecVectorStore:
    s = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    s.add(_nodes())
    return s


@pytest.fixture
def embed_model(cached_embedder: Any) -> PolyvecEmbedding:
    return PolyvecEmbedding(cached_embedder)


class FixedLLM(CustomLLM):
    """A LlamaIndex LLM that always answers ``answer`` (a stand-in for a real model)."""

    answer: str = ""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="fixed")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.answer)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        yield CompletionResponse(text=self.answer, delta=self.answer)


def _ids(result_nodes: Sequence[Any]) -> list[str]:
    return [getattr(n, "node", n).node_id for n in result_nodes]


def _vector(store: PolyvecVectorStore, query: str) -> list[float]:
    return [float(x) for x in store.collection.embed_queries([query])[0]]


# -- nodes round-trip ---------------------------------------------------------------------
def _rich_nodes() -> list[BaseNode]:
    source = RelatedNodeInfo(node_id="doc-1", metadata={"title": "Doc one"}, hash="h1")
    first = TextNode(
        id_="n1",
        text="The first chunk talks about vector databases.",
        metadata={"page": 1, "tags": ["db", "vectors"], "meta": {"lang": "en"}, "ok": True},
        excluded_embed_metadata_keys=["meta"],
        excluded_llm_metadata_keys=["tags"],
        relationships={
            NodeRelationship.SOURCE: source,
            NodeRelationship.NEXT: RelatedNodeInfo(node_id="n2"),
        },
        start_char_idx=0,
        end_char_idx=45,
        metadata_template="{key}={value}",
        text_template="META {metadata_str}\nTEXT {content}",
    )
    second = TextNode(
        id_="n2",
        text="The second chunk talks about BM25 and sparse vectors.",
        metadata={"page": 2, "score": 0.5},
        relationships={
            NodeRelationship.SOURCE: source,
            NodeRelationship.PREVIOUS: RelatedNodeInfo(node_id="n1"),
            NodeRelationship.PARENT: RelatedNodeInfo(node_id="p0"),
        },
    )
    other = TextNode(
        id_="n3",
        text="A node from another document, about cheese.",
        metadata={"page": 1},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-2")},
    )
    document = LIDocument(id_="d9", text="A whole document stored as one node.", metadata={"k": 1})
    return [first, second, other, document]


def test_nodes_round_trip_text_metadata_and_relationships(
    backend: Backend, collection_name: str, cached_embedder: Any
) -> None:
    store = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    nodes = _rich_nodes()
    assert store.add(nodes) == ["n1", "n2", "n3", "d9"]
    got = store.get_nodes(["d9", "n3", "n2", "n1"])
    assert [type(n) for n in got] == [LIDocument, TextNode, TextNode, TextNode]
    for want, have in zip(reversed(nodes), got):
        assert have.model_dump() == want.model_dump()
        assert NODE_KEY not in have.metadata and REF_DOC_KEY not in have.metadata
    assert got[2].ref_doc_id == "doc-1" and got[3].next_node.node_id == "n2"  # type: ignore[union-attr]
    result = store.query(VectorStoreQuery(query_str="sparse vectors and BM25", similarity_top_k=1))
    assert result.ids == ["n2"] and result.nodes is not None
    assert result.nodes[0].model_dump() == nodes[1].model_dump()
    assert result.similarities is not None and len(result.similarities) == 1


def test_delete_by_ref_doc_by_nodes_by_filter_and_clear(
    backend: Backend, collection_name: str, cached_embedder: Any
) -> None:
    store = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    store.add(_rich_nodes())
    store.delete("doc-1")
    assert sorted(n.node_id for n in store.get_nodes()) == ["d9", "n3"]
    store.delete_nodes(["d9"])
    assert [n.node_id for n in store.get_nodes()] == ["n3"]
    store.add(_rich_nodes())
    page1 = MetadataFilters(filters=[MetadataFilter(key="page", value=1)])
    assert sorted(n.node_id for n in store.get_nodes(filters=page1)) == ["n1", "n3"]
    assert [n.node_id for n in store.get_nodes(["n2", "n3"], filters=page1)] == ["n3"]
    store.delete_nodes(["n1", "n2"], filters=page1)  # only n1 is both
    assert sorted(n.node_id for n in store.get_nodes()) == ["d9", "n2", "n3"]
    store.delete_nodes(filters=page1)
    assert sorted(n.node_id for n in store.get_nodes()) == ["d9", "n2"]
    store.clear()
    assert store.get_nodes() == [] and store.collection.count() == 0


# -- every query mode is the core pipeline ------------------------------------------------
def _run(store: PolyvecVectorStore, query: str, mode: str, **kw: Any) -> Any:
    return store.query(
        VectorStoreQuery(
            query_str=query,
            query_embedding=_vector(store, query),
            similarity_top_k=5,
            mode=VectorStoreQueryMode(mode),
            **kw,
        )
    )


def test_query_modes_equal_the_core_pipeline(store: PolyvecVectorStore) -> None:
    coll = store.collection
    for query in list(QUERIES)[:3]:
        cases = [
            (_run(store, query, "default"), coll.search(query, k=5, mode="dense")),
            (_run(store, query, "sparse"), coll.search(query, k=5, mode="sparse")),
            (_run(store, query, "text_search"), coll.search(query, k=5, mode="sparse")),
            (_run(store, query, "hybrid"), coll.search(query, k=5)),  # the store's fusion: default
            (_run(store, query, "hybrid", alpha=0.3), coll.search(query, k=5, fusion=Convex(0.3))),
            (
                _run(store, query, "mmr", mmr_threshold=0.2),
                coll.search(query, k=5, mode="dense", mmr=MMRConfig(0.2, 50)),
            ),
        ]
        for result, want in cases:
            assert result.ids == [str(h.id) for h in want]
            assert result.similarities == pytest.approx([h.score for h in want], rel=1e-5)


async def test_async_twins(store: PolyvecVectorStore) -> None:
    query = VectorStoreQuery(query_str="low level networking interface", similarity_top_k=4)
    assert (await store.aquery(query)).ids == store.query(query).ids
    await store.async_add([TextNode(id_="new", text="brand new node", metadata={"x": 1})])
    assert [n.node_id for n in await store.aget_nodes(["new"])] == ["new"]
    await store.adelete_nodes(["new"])
    assert await store.aget_nodes(["new"]) == []


def test_query_by_embedding_only_and_refusals(store: PolyvecVectorStore) -> None:
    vec = _vector(store, "interface to the SQLite database")
    result = store.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=3))
    want = store.collection.search("interface to the SQLite database", k=3, mode="dense")
    assert result.ids == [str(h.id) for h in want]
    expanding = PolyvecVectorStore(store.collection, multi_query=lambda q, n: [q + " module"])
    with pytest.raises(ConfigurationError, match="node_ids"):  # no exact answer among ids
        expanding.query(
            VectorStoreQuery(query_str="x", node_ids=["json"], mode=VectorStoreQueryMode.HYBRID)
        )
    with pytest.raises(ConfigurationError, match="svm"):
        store.query(VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.SVM))
    with pytest.raises(TypeError, match="bogus"):
        store.query(VectorStoreQuery(query_str="x"), bogus=1)


FILTERS = [
    MetadataFilters(filters=[MetadataFilter(key="group", value="compression")]),
    MetadataFilters(filters=[MetadataFilter(key="group", value="network", operator="!=")]),
    MetadataFilters(filters=[MetadataFilter(key="order", value=20, operator=">")]),
    MetadataFilters(filters=[MetadataFilter(key="size", value=100, operator="<=")]),
    MetadataFilters(
        filters=[MetadataFilter(key="group", value=["text", "numeric"], operator="in")]
    ),
    MetadataFilters(filters=[MetadataFilter(key="group", value=["data"], operator="nin")]),
    MetadataFilters(filters=[MetadataFilter(key="words", value="request", operator="contains")]),
    MetadataFilters(
        filters=[MetadataFilter(key="words", value=["request", "json"], operator="any")]
    ),
    MetadataFilters(
        filters=[MetadataFilter(key="words", value=["request", "urllib"], operator="all")]
    ),
    MetadataFilters(filters=[MetadataFilter(key="missing", value=None, operator="is_empty")]),
    MetadataFilters(filters=[MetadataFilter(key="group", value="comp", operator="text_match")]),
    MetadataFilters(filters=[MetadataFilter(key="info.rank", value=2)]),
    MetadataFilters(filters=[MetadataFilter(key="added", value="2024-06-01", operator=">=")]),
    MetadataFilters(
        filters=[
            MetadataFilter(key="group", value="storage"),
            MetadataFilter(key="order", value=3, operator="<"),
        ],
        condition="or",
    ),
    MetadataFilters(
        filters=[
            MetadataFilter(key="group", value="tools"),
            MetadataFilter(key="size", value=500, operator=">="),
        ],
        condition="not",
    ),
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(metadata_filters_to_ast(f)) for f in FILTERS])
def test_every_filter_operator_selects_what_the_reference_selects(
    store: PolyvecVectorStore, filters: MetadataFilters
) -> None:
    want = {
        str(d.id)
        for d in stdlib_documents()
        if matches(metadata_filters_to_ast(filters), d.metadata)
    }
    try:
        result = store.query(
            VectorStoreQuery(query_str="module", similarity_top_k=50, filters=filters)
        )
    except UnsupportedFilterError as exc:  # allowed only for an undeclared operator
        assert exc.operator not in store.collection.backend.capabilities.filter_operators
        return
    assert set(result.ids or []) == want


def test_text_match_insensitive_is_refused_not_ignored(store: PolyvecVectorStore) -> None:
    filters = MetadataFilters(
        filters=[MetadataFilter(key="group", value="comp", operator="text_match_insensitive")]
    )
    with pytest.raises(FilterSyntaxError, match="text_match_insensitive"):
        store.query(VectorStoreQuery(query_str="module", filters=filters))


# -- VectorStoreIndex, retrievers, query engines ------------------------------------------
def test_vector_store_index_retriever_and_doc_ids(
    store: PolyvecVectorStore, embed_model: PolyvecEmbedding
) -> None:
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    query = "run a child process and capture its output"
    got = index.as_retriever(similarity_top_k=4).retrieve(query)
    assert _ids(got) == [str(h.id) for h in store.collection.search(query, k=4, mode="dense")]
    mmr = index.as_retriever(
        similarity_top_k=4,
        vector_store_query_mode="mmr",
        vector_store_kwargs={"mmr_threshold": 0.1},
    ).retrieve(query)
    want = store.collection.search(query, k=4, mode="dense", mmr=MMRConfig(0.1, 50))
    assert _ids(mmr) == [str(h.id) for h in want]
    index.insert(LIDocument(id_="ref-9", text="Spawn new processes, connect to their pipes."))
    only_ref = index.as_retriever(similarity_top_k=5, doc_ids=["ref-9"]).retrieve(query)
    assert [n.node.ref_doc_id for n in only_ref] == ["ref-9"]
    index.delete_ref_doc("ref-9")
    assert store.collection.count(F(REF_DOC_KEY) == "ref-9") == 0


def test_query_engine_with_hybrid_and_rerank(
    store: PolyvecVectorStore, embed_model: PolyvecEmbedding, cross_encoder: Any
) -> None:
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    engine = index.as_query_engine(
        llm=MockLLM(),
        similarity_top_k=10,
        vector_store_query_mode="hybrid",
        alpha=0.6,
        node_postprocessors=[PolyvecRerankPostprocessor(reranker=cross_encoder, top_n=3)],
    )
    query = "compress data with the gzip file format"
    response = engine.query(query)
    core = Retriever(
        store.collection,
        RetrieverConfig(k=3, fusion=Convex(0.6), reranker=cross_encoder, rerank_candidates=10),
    ).search(query)
    assert _ids(response.source_nodes) == [str(h.id) for h in core]
    assert [n.score for n in response.source_nodes] == pytest.approx([h.score for h in core])
    assert core[0].document.text[:40] in str(response)  # MockLLM echoes the context


async def test_rerank_postprocessor_async_equals_sync(
    store: PolyvecVectorStore, cross_encoder: Any
) -> None:
    retriever = PolyvecRetriever(store.collection, k=6, mode="dense")
    nodes = retriever.retrieve("networking")
    post = PolyvecRerankPostprocessor(reranker=cross_encoder, top_n=2)
    sync = post.postprocess_nodes(nodes, query_str="networking")
    asy = await post.apostprocess_nodes(nodes, query_str="networking")
    assert _ids(sync) == _ids(asy) and len(sync) == 2
    assert [n.score for n in sync] == pytest.approx([n.score for n in asy])


def test_pipeline_retriever_with_multi_query_llm(store: PolyvecVectorStore) -> None:
    llm = FixedLLM(answer="1. gzip compression\n2. zip archive files\n3. gzip compression")
    retriever = PolyvecRetriever(
        store.collection,
        k=5,
        multi_query=llm,
        n_variants=3,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="group", value="network", operator="!=")]
        ),
    )
    hits = retriever.retriever.search("compress files", filter=retriever.filter)
    assert {s.query for h in hits for s in h.sources} == {
        "compress files",
        "gzip compression",
        "zip archive files",
    }
    nodes = retriever.retrieve("compress files")
    assert _ids(nodes) == [str(h.id) for h in hits]
    assert all(n.node.metadata["group"] != "network" for n in nodes)
    response = RetrieverQueryEngine.from_args(retriever, llm=MockLLM()).query("compress files")
    assert _ids(response.source_nodes) == _ids(nodes)
    assert "PolyvecRetriever(collection=" in repr(retriever)


async def test_pipeline_retriever_async(store: PolyvecVectorStore) -> None:
    retriever = PolyvecRetriever(store.collection, k=3, mode="sparse")
    assert _ids(await retriever.aretrieve("sqlite")) == _ids(retriever.retrieve("sqlite"))


async def test_llama_index_query_generator() -> None:
    gen = LlamaIndexQueryGenerator(FixedLLM(answer="- a\n- b\n- q"))
    assert gen.generate("q", 5) == ["a", "b"]
    assert await gen.agenerate("q", 1) == ["a"]


# -- embeddings both ways -----------------------------------------------------------------
def test_embeddings_both_ways(cached_embedder: Any) -> None:
    as_llama = PolyvecEmbedding(cached_embedder)
    assert as_llama.get_query_embedding("hello") == pytest.approx(
        cached_embedder.embed_queries(["hello"])[0].tolist(), rel=1e-6
    )
    back = LlamaIndexEmbedder(as_llama)
    assert back.dimension == cached_embedder.dimension
    docs = back.embed_documents(["a", "b", "c"])
    assert docs.shape == (3, cached_embedder.dimension) and docs.dtype.name == "float32"
    assert back.embed_queries([]).shape == (0, cached_embedder.dimension)
    store = PolyvecVectorStore.from_url("qdrant+memory://", embed_model=as_llama)
    assert store.collection.embedder is cached_embedder  # unwrapped, not wrapped twice
    assert "PolyvecVectorStore(collection=Collection(" in repr(store)


def test_dotted_metadata_keys_are_found_by_a_filter_on_them(
    backend: Backend, collection_name: str, cached_embedder: Any
) -> None:
    # LlamaIndex keys are literal, polyvec field paths nested: the store nests a dotted key
    # so that a filter on it finds the node, and gives the flat key back
    from polyvec import InputError

    store = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    meta = [{"file.name": "a.pdf", "file.size": 3, "page": 1}, {"file.name": "b.pdf"}, {"x": 1}]
    nodes = [TextNode(id_=f"n{i}", text=f"text {i}", metadata=m) for i, m in enumerate(meta)]
    store.add(nodes)

    def ids(key: str, op: str, value: Any = None) -> list[str]:
        f = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])
        got = sorted(n.node_id for n in store.get_nodes(filters=f))
        result = store.query(VectorStoreQuery(query_str="text", similarity_top_k=9, filters=f))
        assert sorted(result.ids or []) == got
        return got

    assert ids("file.name", "==", "a.pdf") == ["n0"]
    assert ids("file.name", "in", ["a.pdf", "b.pdf"]) == ["n0", "n1"]
    assert ids("file.size", ">", 2) == ["n0"]
    assert ids("file.name", "is_empty") == ["n2"]
    assert [n.metadata for n in store.get_nodes(["n0", "n1", "n2"])] == meta
    with pytest.raises(InputError, match="'file'"):
        store.add([TextNode(id_="x", text="x", metadata={"file": "a", "file.name": "b"})])


def test_reserved_metadata_keys_are_refused(store: PolyvecVectorStore) -> None:
    from polyvec import InputError

    with pytest.raises(InputError, match=NODE_KEY):
        store.add([TextNode(id_="x", text="x", metadata={NODE_KEY: 1})])


@pytest.fixture
def _no_llama(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(sys.modules):
        if name.startswith("polyvec.integrations.") and "llama" in name:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "llama_index.core.vector_stores.types", None)
    monkeypatch.setitem(sys.modules, "llama_index.core.base.embeddings.base", None)
    yield


@pytest.mark.usefixtures("_no_llama")
def test_missing_llama_index_raises_missing_dependency() -> None:
    with pytest.raises(MissingDependencyError, match=r"polyvec\[llamaindex\]"):
        import polyvec.integrations.llama_index  # noqa: F401


def test_core_uses_a_given_query_vector(store: PolyvecVectorStore) -> None:
    """The core change the adapters rely on: ``Retriever.search(vector=...)``."""
    from polyvec import DimensionMismatchError

    coll = store.collection
    other = "interface to the SQLite database"
    dense = coll.retriever(mode="dense", k=5)
    got = dense.search("regular expressions", vector=_vector(store, other))
    assert [h.id for h in got] == [h.id for h in dense.search(other)]
    hybrid = coll.retriever(k=5)
    assert [h.id for h in hybrid.search(other, vector=_vector(store, other))] == [
        h.id for h in hybrid.search(other)
    ]
    with pytest.raises(DimensionMismatchError):
        dense.search("x", vector=[0.1, 0.2])

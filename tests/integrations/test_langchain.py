"""The LangChain adapters on every backend: they convert types and nothing else.

Each search through an adapter must equal the same search through polyvec's core
(same ids, same scores), metadata must come back exactly as given, and the pieces —
self-query, rerank compressor, multi-query with a LangChain model, an LCEL chain with
hybrid + rerank — must run on real engines with the real offline MiniLM model.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel, FakeListLLM
from langchain_core.language_models.llms import LLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from polyvec import Convex, F, MissingDependencyError
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.errors import FilterValueError
from polyvec.filters import matches
from polyvec.integrations.langchain import (
    LangChainEmbedder,
    LangChainQueryGenerator,
    PolyvecEmbeddings,
    PolyvecRerankCompressor,
    PolyvecRetriever,
    PolyvecTranslator,
    PolyvecVectorStore,
)
from polyvec.retriever import MMRConfig
from tests.corpus import QUERIES, stdlib_documents

pytestmark = [pytest.mark.langchain, pytest.mark.models]


def _lc_docs() -> list[LCDocument]:
    return [
        LCDocument(page_content=d.text, metadata=dict(d.metadata), id=str(d.id))
        for d in stdlib_documents()
    ]


@pytest.fixture
def store(backend: Backend, collection_name: str, cached_embedder: Any) -> PolyvecVectorStore:
    s = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    s.add_documents(_lc_docs())
    return s


class EchoLLM(LLM):
    """A LangChain LLM that answers with its prompt (so a test can read what it got)."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _call(
        self, prompt: str, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> str:
        return prompt


def _ids(docs: Sequence[LCDocument]) -> list[str | None]:
    return [d.id for d in docs]


# -- the vector store ---------------------------------------------------------------------
def test_metadata_and_ids_round_trip_unchanged(store: PolyvecVectorStore) -> None:
    want = _lc_docs()
    got = store.get_by_ids([d.id for d in reversed(want) if d.id])
    assert got == list(reversed(want))  # text, metadata (nested, lists, bools) and id
    hit = store.similarity_search(QUERIES["interface to the SQLite database"], k=1)[0]
    assert hit.metadata == dict(next(d for d in stdlib_documents() if d.id == hit.id).metadata)


def test_similarity_search_equals_the_core_dense_search(store: PolyvecVectorStore) -> None:
    for query in QUERIES:
        want = store.collection.search(query, k=5, mode="dense", filter={"group": {"$ne": "x"}})
        got = store.similarity_search_with_score(query, k=5, filter=F("group") != "x")
        assert [d.id for d, _ in got] == [str(h.id) for h in want]
        assert [s for _, s in got] == pytest.approx([h.score for h in want])


async def test_async_searches_equal_sync(store: PolyvecVectorStore) -> None:
    query = "compress data with the gzip file format"
    assert await store.asimilarity_search(query, k=4) == store.similarity_search(query, k=4)
    assert await store.ahybrid_search(query, k=4) == store.hybrid_search(query, k=4)
    assert await store.amax_marginal_relevance_search(
        query, k=4, lambda_mult=0.2
    ) == store.max_marginal_relevance_search(query, k=4, lambda_mult=0.2)


def test_mmr_and_hybrid_are_the_core_pipeline(store: PolyvecVectorStore) -> None:
    coll = store.collection
    query = "compression archive file formats"
    mmr = coll.search(
        query, k=4, mode="dense", candidates=20, mmr=MMRConfig(lambda_mult=0.25, fetch_k=20)
    )
    got = store.max_marginal_relevance_search(query, k=4, fetch_k=20, lambda_mult=0.25)
    assert _ids(got) == [str(h.id) for h in mmr]
    hybrid = coll.search(query, k=5, fusion=Convex(0.7))
    via_retriever = store.as_retriever(
        search_type="hybrid", search_kwargs={"k": 5, "fusion": Convex(0.7)}
    ).invoke(query)
    assert _ids(via_retriever) == [str(h.id) for h in hybrid]


def test_score_threshold_retriever_uses_raw_cosine(store: PolyvecVectorStore) -> None:
    query = "regular expression matching operations"
    scored = store.similarity_search_with_score(query, k=30)
    cut = scored[2][1]
    got = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"k": 30, "score_threshold": float(cut)},
    ).invoke(query)
    assert _ids(got) == [d.id for d, s in scored if s >= cut]


def test_filters_select_exactly_what_the_reference_evaluator_selects(
    store: PolyvecVectorStore,
) -> None:
    for filt in [
        {"group": "compression"},
        {"order": {"$gte": 20}},
        F("words").contains("request") | (F("info.rank") == 2),
    ]:
        want = {str(d.id) for d in stdlib_documents() if matches(filt, d.metadata)}
        assert {d.id for d in store.similarity_search("module", k=50, filter=filt)} == want


def test_delete_by_ids_filter_and_all(store: PolyvecVectorStore) -> None:
    store.delete(["json", "csv"])
    assert store.get_by_ids(["json", "csv", "gzip"])[0].id == "gzip"
    store.delete(filter={"group": "compression"})
    assert store.collection.count(F("group") == "compression") == 0
    store.delete()
    assert store.collection.count() == 0


def test_unknown_search_options_are_refused(store: PolyvecVectorStore) -> None:
    with pytest.raises(TypeError, match="lambda"):
        store.similarity_search("q", k=2, lambda_=0.3)
    with pytest.raises(TypeError, match="bogus"):
        store.hybrid_search("q", bogus=1)


# -- the pipeline retriever ---------------------------------------------------------------
def test_retriever_filters_combine_and_score_key_is_opt_in(store: PolyvecVectorStore) -> None:
    retriever = PolyvecRetriever(
        collection=store.collection, k=5, mode="hybrid", filter={"group": "network"}
    )
    docs = retriever.invoke("send a request", filter=F("order") > 9)
    assert docs and all(d.metadata["group"] == "network" and d.metadata["order"] > 9 for d in docs)
    assert all("score" not in d.metadata for d in docs)
    scored = PolyvecRetriever(collection=store.collection, k=3, score_key="score").invoke("json")
    assert all(isinstance(d.metadata["score"], float) for d in scored)
    assert "PolyvecRetriever" in repr(retriever) and "network" in repr(retriever)


def test_multi_query_with_a_langchain_chat_model(store: PolyvecVectorStore) -> None:
    variants = "1. gzip compression\n2. zip archives\n3. gzip compression"
    chat = FakeListChatModel(responses=[variants] * 4)
    retriever = PolyvecRetriever(collection=store.collection, k=5, multi_query=chat, n_variants=3)
    hits = retriever.retriever.search("compress files")
    assert {s.query for h in hits for s in h.sources} == {
        "compress files",
        "gzip compression",
        "zip archives",
    }
    assert len(retriever.invoke("compress files")) == 5
    assert LangChainQueryGenerator(chat).generate("q", 1) == ["gzip compression"]


async def test_query_generator_async() -> None:
    gen = LangChainQueryGenerator(FakeListLLM(responses=["- a\n- b\n- q"]))
    assert await gen.agenerate("q", 5) == ["a", "b"]


def test_lcel_chain_with_hybrid_and_rerank(store: PolyvecVectorStore, cross_encoder: Any) -> None:
    reranker = cross_encoder
    retriever = PolyvecRetriever(
        collection=store.collection, k=3, mode="hybrid", reranker=reranker, rerank_candidates=10
    )

    def format_docs(docs: list[LCDocument]) -> str:
        return "\n".join(f"[{d.id}] {d.page_content[:60]}" for d in docs)

    prompt = PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain = (
        {"context": retriever | format_docs, "question": RunnableLambda(lambda q: q)}
        | prompt
        | EchoLLM()
        | StrOutputParser()
    )
    query = "interface to the SQLite database"
    answer = chain.invoke(query)
    want = retriever.retriever.search(query)
    assert [h.kind for h in want] == ["rerank"] * 3
    assert answer.startswith("Context:\n[" + str(want[0].id) + "]")
    assert all(f"[{h.id}]" in answer for h in want)
    assert answer.endswith(f"Question: {query}")


def test_rerank_compressor_reorders_and_keeps_documents(
    store: PolyvecVectorStore, cross_encoder: Any
) -> None:
    reranker = cross_encoder
    docs = store.similarity_search("low level networking interface", k=8)
    out = PolyvecRerankCompressor(reranker=reranker, top_n=3).compress_documents(
        docs, "low level networking interface"
    )
    scores = reranker.predict("low level networking interface", [d.page_content for d in docs])
    order = sorted(range(len(docs)), key=lambda i: -scores[i])[:3]
    assert list(out) == [docs[i] for i in order]
    keyed = PolyvecRerankCompressor(reranker=reranker, top_n=2, score_key="rerank")
    assert all("rerank" in d.metadata for d in keyed.compress_documents(docs, "network"))
    assert all("rerank" not in d.metadata for d in docs)  # inputs untouched


def test_self_query_retriever_on_every_backend(store: PolyvecVectorStore) -> None:
    sq = pytest.importorskip("langchain_classic.retrievers.self_query.base")
    from langchain_classic.chains.query_constructor.base import load_query_constructor_runnable
    from langchain_classic.chains.query_constructor.schema import AttributeInfo

    answer = (
        '```json\n{"query": "file formats", '
        '"filter": "and(eq(\\"group\\", \\"compression\\"), gte(\\"order\\", 5), '
        'not(eq(\\"dotted\\", true)))"}\n```'
    )
    constructor = load_query_constructor_runnable(
        FakeListLLM(responses=[answer]),
        "docstrings of Python standard-library modules",
        [
            AttributeInfo(name="group", description="module family", type="string"),
            AttributeInfo(name="order", description="position", type="integer"),
            AttributeInfo(name="dotted", description="dotted name", type="boolean"),
        ],
        allowed_comparators=PolyvecTranslator.allowed_comparators,
        allowed_operators=PolyvecTranslator.allowed_operators,
    )
    retriever = sq.SelfQueryRetriever(
        query_constructor=constructor,
        vectorstore=store,
        structured_query_translator=PolyvecTranslator(),
        search_kwargs={"k": 10},
    )
    got = {d.id for d in retriever.invoke("compression modules after the fifth")}
    want = {
        str(d.id)
        for d in stdlib_documents()
        if d.metadata["group"] == "compression" and d.metadata["order"] >= 5
    }
    assert got == want


# -- embeddings both ways -----------------------------------------------------------------
def test_langchain_embeddings_as_a_polyvec_embedder(backend: Backend, collection_name: str) -> None:
    fake = DeterministicFakeEmbedding(size=384)  # Pinecone's index dimension is fixed
    embedder = LangChainEmbedder(fake)
    assert embedder.dimension == 384 and embedder.name == "langchain:DeterministicFakeEmbedding"
    vectors = embedder.embed_documents(["a", "b"])
    assert vectors.shape == (2, 384) and vectors.dtype.name == "float32"
    assert vectors[0].tolist() == pytest.approx(fake.embed_documents(["a"])[0], rel=1e-6)
    store = PolyvecVectorStore(Collection(backend, collection_name, embedder=embedder))
    assert store.embeddings is fake
    ids = store.add_texts(["alpha", "beta"], [{"n": 1}, {"n": 2}])
    assert store.similarity_search("beta", k=1)[0] == LCDocument(
        page_content="beta", metadata={"n": 2}, id=ids[1]
    )


def test_polyvec_embedder_as_langchain_embeddings(embedder: Any) -> None:
    wrapped = PolyvecEmbeddings(embedder)
    assert wrapped.embed_query("hello") == pytest.approx(
        embedder.embed_queries(["hello"])[0].tolist(), rel=1e-6
    )
    assert len(wrapped.embed_documents(["a", "b"])) == 2


def test_from_texts_and_from_url() -> None:
    fake = DeterministicFakeEmbedding(size=4)
    store = PolyvecVectorStore.from_texts(
        ["x", "y"], fake, [{"k": "x"}, {"k": "y"}], ids=["1", "2"], url="qdrant+memory://"
    )
    assert store.get_by_ids(["2"]) == [LCDocument(page_content="y", metadata={"k": "y"}, id="2")]
    assert "PolyvecVectorStore(collection=Collection(" in repr(store)


# -- self-query translation ---------------------------------------------------------------
def test_translator_covers_every_comparator_and_refuses_like() -> None:
    from langchain_core.structured_query import (
        Comparator,
        Comparison,
        Operation,
        Operator,
        StructuredQuery,
    )

    from polyvec.errors import FilterSyntaxError
    from polyvec.integrations.langchain import structured_query_to_filter

    t = PolyvecTranslator()

    def c(comp: Comparator, value: Any) -> Any:
        return Comparison(comparator=comp, attribute="a", value=value).accept(t)

    assert c(Comparator.EQ, 1) == (F("a") == 1)
    assert c(Comparator.NE, "x") == (F("a") != "x")
    assert c(Comparator.GT, 1.5) == (F("a") > 1.5)
    assert c(Comparator.GTE, 2) == (F("a") >= 2)
    assert c(Comparator.LT, 3) == (F("a") < 3)
    assert c(Comparator.LTE, 4) == (F("a") <= 4)
    assert c(Comparator.IN, ["x", "y"]) == F("a").is_in(["x", "y"])
    assert c(Comparator.NIN, [1]) == F("a").not_in([1])
    assert c(Comparator.CONTAIN, "linux") == F("a").contains("linux")
    assert c(Comparator.GTE, {"date": "2024-05-01", "type": "date"}) == (F("a") >= "2024-05-01")
    with pytest.raises(FilterSyntaxError, match="like"):
        c(Comparator.LIKE, "foo%")
    with pytest.raises(FilterValueError):
        c(Comparator.IN, "not-a-list")
    a, b = Comparison(Comparator.EQ, "x", 1), Comparison(Comparator.EQ, "y", 2)
    assert Operation(Operator.NOT, [a]).accept(t) == ~(F("x") == 1)
    assert Operation(Operator.NOT, [a, b]).accept(t) == ~((F("x") == 1) | (F("y") == 2))
    query = StructuredQuery("q", Operation(Operator.AND, [a, b]))
    assert t.visit_structured_query(query) == ("q", {"filter": (F("x") == 1) & (F("y") == 2)})
    assert structured_query_to_filter(StructuredQuery("q", None)) is None


def test_missing_langchain_raises_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith("polyvec.integrations.") and "lang" in name:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "langchain_core.callbacks", None)
    monkeypatch.setitem(sys.modules, "langchain_core.structured_query", None)
    monkeypatch.setitem(sys.modules, "langchain_core.documents", None)
    with pytest.raises(MissingDependencyError, match=r"polyvec\[langchain\]"):
        import polyvec.integrations.langchain  # noqa: F401

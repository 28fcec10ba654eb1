"""What a user porting from langchain-qdrant, langchain-postgres or langchain-chroma calls,
on every backend: each test is one row of the parity table
(:mod:`polyvec.integrations.parity`, docs/integrations/parity.md).

The corpus has hand-made unit vectors (``add_embeddings``), so the expected answers come
from an oracle computed here with numpy (exact cosine ranking) and from langchain-core's
own ``maximal_marginal_relevance``, not from polyvec.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from polyvec import F
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
    FilterSyntaxError,
    InputError,
    UnsupportedFilterError,
)
from polyvec.filters import matches
from polyvec.integrations.langchain import LangChainEmbedder, PolyvecVectorStore
from tests.conftest import engine_for

pytestmark = pytest.mark.langchain

DIM = 384
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def _corpus() -> tuple[list[str], np.ndarray, list[dict[str, Any]], list[str]]:
    rng = np.random.default_rng(19)
    n = 24
    base = rng.normal(size=(4, DIM))
    # four clusters of near-duplicates, so that MMR has something to diversify
    vecs = np.stack([base[i % 4] + 0.35 * rng.normal(size=DIM) for i in range(n)])
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    texts = [f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} document number {i}" for i in range(n)]
    metas = [
        {"n": i, "group": ["even", "odd"][i % 2], "flag": i % 3 == 0, "big": 2**62 + i}
        for i in range(n)
    ]
    ids = [f"d{i}" for i in range(n)]
    return texts, vecs, metas, ids


TEXTS, VECS, METAS, IDS = _corpus()


def _query(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = VECS[seed % len(VECS)] + 0.8 * rng.normal(size=DIM)
    return (q / np.linalg.norm(q)).astype(np.float32)


def _oracle(q: np.ndarray, keep: list[int] | None = None) -> list[tuple[str, float]]:
    rows = range(len(IDS)) if keep is None else keep
    scored = [(IDS[i], float(VECS[i] @ q)) for i in rows]
    return sorted(scored, key=lambda p: -p[1])


@pytest.fixture
def store(backend: Backend, collection_name: str) -> Iterator[PolyvecVectorStore]:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=DIM))
    s = PolyvecVectorStore(Collection(backend, collection_name, embedder=embedder))
    # positional ids, as every peer takes them
    s.add_embeddings(TEXTS, [v.tolist() for v in VECS], METAS, IDS)
    yield s


def _pairs(got: list[tuple[LCDocument, float]]) -> list[tuple[str | None, float]]:
    return [(d.id, s) for d, s in got]


# -- rows of the parity table -------------------------------------------------------------
def test_add_embeddings_with_positional_ids(store: PolyvecVectorStore) -> None:
    got = store.get_by_ids(["d5", "d0"])
    assert [(d.id, d.page_content, d.metadata) for d in got] == [
        ("d5", TEXTS[5], METAS[5]),
        ("d0", TEXTS[0], METAS[0]),
    ]
    stored = store.collection.get(["d7"], with_vectors=True)[0].dense
    assert stored is not None and np.allclose(stored, VECS[7], atol=1e-5)  # not re-embedded
    assert store.add_texts(["x"], [{"n": 99}], ["new"]) == ["new"]


def test_similarity_search_with_score_by_vector(store: PolyvecVectorStore) -> None:
    for seed in range(3):
        q = _query(seed)
        want = _oracle(q)[:5]
        got = _pairs(store.similarity_search_with_score_by_vector(q.tolist(), k=5))
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-4)
    assert [d.id for d in store.similarity_search_by_vector(q.tolist(), k=2)] == [
        i for i, _ in want[:2]
    ]


async def test_async_by_vector_searches_equal_sync(store: PolyvecVectorStore) -> None:
    q = _query(4).tolist()
    got = await store.asimilarity_search_with_score_by_vector(q, k=4, filter={"group": "odd"})
    want = store.similarity_search_with_score_by_vector(q, k=4, filter={"group": "odd"})
    assert [d for d, _ in got] == [d for d, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    assert await store.asimilarity_search_by_vector(q, k=3) == store.similarity_search_by_vector(
        q, k=3
    )
    assert await store.amax_marginal_relevance_search_by_vector(
        q, k=4, fetch_k=12, lambda_mult=0.3
    ) == store.max_marginal_relevance_search_by_vector(q, k=4, fetch_k=12, lambda_mult=0.3)


def test_filter_on_by_vector_search(store: PolyvecVectorStore) -> None:
    q = _query(1)
    filt = (F("group") == "even") & (F("n") > 5) & (F("flag") == True)  # noqa: E712
    keep = [i for i in range(len(IDS)) if matches(filt, METAS[i])]
    want = [i for i, _ in _oracle(q, keep)]
    got = store.similarity_search_by_vector(q.tolist(), k=10, filter=filt)
    assert [d.id for d in got] == want and want


def test_offset_pages_through_results(store: PolyvecVectorStore) -> None:
    q = _query(2)
    full = [i for i, _ in _oracle(q)]
    assert [d.id for d in store.similarity_search_by_vector(q.tolist(), k=3, offset=2)] == full[2:5]
    text = "alpha bravo document"
    by_text = store.similarity_search_with_score(text, k=8)
    paged = store.similarity_search_with_score(text, k=3, offset=4)
    assert [d for d, _ in paged] == [d for d, _ in by_text[4:7]]
    assert [s for _, s in paged] == pytest.approx([s for _, s in by_text[4:7]], abs=1e-6)
    with pytest.raises(ConfigurationError, match="offset"):
        store.similarity_search(text, k=3, offset=-1)


def test_score_threshold_on_similarity(store: PolyvecVectorStore) -> None:
    q = _query(3)
    want = _oracle(q)
    cut = (want[4][1] + want[5][1]) / 2  # between two scores: no float32 rounding at the edge
    got = store.similarity_search_with_score_by_vector(q.tolist(), k=10, score_threshold=cut)
    assert [d.id for d, _ in got] == [i for i, _ in want[:5]]


def _mmr_oracle(q: np.ndarray, k: int, fetch_k: int, lam: float) -> list[str]:
    cands = _oracle(q)[:fetch_k]
    rows = [IDS.index(i) for i, _ in cands]
    picked = maximal_marginal_relevance(q, [VECS[r] for r in rows], lambda_mult=lam, k=k)
    return [IDS[rows[p]] for p in picked]


def test_mmr_by_vector_is_langchains_mmr(store: PolyvecVectorStore) -> None:
    for seed, lam in [(5, 0.5), (6, 0.1), (7, 1.0)]:
        q = _query(seed)
        want = _mmr_oracle(q, 5, 14, lam)
        got = store.max_marginal_relevance_search_by_vector(
            q.tolist(), k=5, fetch_k=14, lambda_mult=lam
        )
        assert [d.id for d in got] == want


def test_mmr_with_score_by_vector_and_score_threshold(store: PolyvecVectorStore) -> None:
    q = _query(8)
    want = _mmr_oracle(q, 6, 16, 0.2)
    sims = dict(_oracle(q))
    got = store.max_marginal_relevance_search_with_score_by_vector(
        q.tolist(), k=6, fetch_k=16, lambda_mult=0.2
    )
    assert [d.id for d, _ in got] == want
    assert [s for _, s in got] == pytest.approx([sims[i] for i in want], abs=1e-4)
    ordered = sorted(sims[i] for i in want)
    cut = (ordered[2] + ordered[3]) / 2
    kept = store.max_marginal_relevance_search_with_score_by_vector(
        q.tolist(), k=6, fetch_k=16, lambda_mult=0.2, score_threshold=cut
    )
    assert [d.id for d, _ in kept] == [i for i in want if sims[i] >= cut]
    assert len(kept) == 3
    by_text = store.max_marginal_relevance_search_with_score("alpha", k=3, score_threshold=-1.0)
    assert len(by_text) == 3


async def test_update_documents(store: PolyvecVectorStore) -> None:
    store.update_document("d3", LCDocument(page_content="zulu yankee", metadata={"n": -3}))
    store.update_documents(
        ["d4", "d5"],
        [LCDocument(page_content="xray", metadata={}), LCDocument(page_content="whiskey")],
    )
    got = store.get_by_ids(["d3", "d4", "d5"])
    assert [(d.page_content, d.metadata) for d in got] == [
        ("zulu yankee", {"n": -3}),
        ("xray", {}),
        ("whiskey", {}),
    ]
    fake = DeterministicFakeEmbedding(size=DIM)
    hit = store.similarity_search_by_vector(fake.embed_query("zulu yankee"), k=1)[0]
    assert hit.id == "d3"  # re-embedded from the new text
    count = store.collection.count()
    with pytest.raises(InputError, match="nope"):
        store.update_documents(["d6", "nope"], [LCDocument(page_content="a")] * 2)
    assert store.get_by_ids(["d6"])[0].page_content == TEXTS[6]  # nothing written
    assert store.collection.count() == count
    await store.aupdate_documents(["d7"], [LCDocument(page_content="victor", metadata={"n": 7})])
    assert [(d.page_content, d.metadata) for d in store.get_by_ids(["d7"])] == [
        ("victor", {"n": 7})
    ]


def test_get_where_like_langchain_chroma(store: PolyvecVectorStore) -> None:
    where = {"$and": [{"group": "odd"}, {"n": {"$gte": 9}}]}
    got = store.get(where=where)
    want = {IDS[i] for i in range(len(IDS)) if matches(where, METAS[i])}
    assert set(got["ids"]) == want and got["embeddings"] is None
    assert got["metadatas"] == [METAS[IDS.index(i)] for i in got["ids"]]
    assert got["documents"] == [TEXTS[IDS.index(i)] for i in got["ids"]]
    both = store.get(ids=["d9", "d10", "d11"], where=where, include=["embeddings"])
    assert both["ids"] == ["d9", "d11"] and both["documents"] is None
    assert np.allclose(both["embeddings"][1], VECS[11], atol=1e-5)
    page = store.get(ids=IDS, limit=3, offset=2)
    assert page["ids"] == IDS[2:5]
    with pytest.raises(ConfigurationError, match="text_match"):
        store.get(where_document={"$contains": "alpha"})


async def test_delete_collection_and_reset(store: PolyvecVectorStore) -> None:
    store.delete_collection()
    with pytest.raises(CollectionNotFoundError):
        store.similarity_search("alpha", k=1)
    store.reset_collection()
    assert store.collection.count() == 0
    store.add_texts(["alpha again"], ids=["a"])
    assert [d.id for d in await store.asimilarity_search("alpha", k=1)] == ["a"]
    await store.adelete_collection()
    with pytest.raises(CollectionNotFoundError):
        store.get_by_ids(["a"])


def test_store_level_hybrid_mode(store: PolyvecVectorStore) -> None:
    from langchain_qdrant import RetrievalMode

    hybrid = PolyvecVectorStore(store.collection, retrieval_mode=RetrievalMode.HYBRID)
    query = "charlie delta"
    want = store.collection.search(query, k=5, mode="hybrid")
    got = hybrid.similarity_search_with_score(query, k=5)
    assert [(d.id, s) for d, s in got] == [(str(h.id), pytest.approx(h.score)) for h in want]
    assert [d.id for d in hybrid.as_retriever(search_kwargs={"k": 5}).invoke(query)] == [
        str(h.id) for h in want
    ]
    sparse = PolyvecVectorStore(store.collection, retrieval_mode="sparse")
    bm25 = store.collection.search(query, k=4, mode="sparse")
    assert [d.id for d in sparse.similarity_search(query, k=4)] == [str(h.id) for h in bm25]
    assert "retrieval_mode='hybrid'" in repr(hybrid)
    with pytest.raises(ConfigurationError, match="retrieval_mode"):
        PolyvecVectorStore(store.collection, retrieval_mode="fuzzy")


def test_relevance_score_fn_per_peer(store: PolyvecVectorStore) -> None:
    q = _query(9)
    raw = store.similarity_search_with_score_by_vector(q.tolist(), k=24)
    text = TEXTS[9]
    scored = store.similarity_search_with_score(text, k=24)
    default = store.similarity_search_with_relevance_scores(text, k=24)
    assert [s for _, s in default] == pytest.approx([min(1.0, max(0.0, s)) for _, s in scored])
    qdrant_like = PolyvecVectorStore(store.collection, relevance_score_fn="langchain-qdrant")
    assert [s for _, s in qdrant_like.similarity_search_with_relevance_scores(text, k=24)] == (
        pytest.approx([(1 + s) / 2 for _, s in scored])
    )
    own = PolyvecVectorStore(store.collection, relevance_score_fn=lambda s: (s + 1) / 4)
    assert [s for _, s in own.similarity_search_with_relevance_scores(text, k=3)] == (
        pytest.approx([(s + 1) / 4 for _, s in scored[:3]])
    )
    assert raw  # the by-vector path gives raw scores
    with pytest.raises(ConfigurationError, match="langchain-qdrant"):
        PolyvecVectorStore(store.collection, relevance_score_fn="nonsense")
    hybrid = PolyvecVectorStore(store.collection, retrieval_mode="hybrid")
    with pytest.raises(ConfigurationError, match="relevance_score_fn"):
        hybrid.similarity_search_with_relevance_scores(text, k=3)


def test_private_metadata_of_the_other_framework_is_hidden(
    backend: Backend, collection_name: str
) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    from polyvec.integrations.llama_index import PolyvecVectorStore as LlamaStore

    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=DIM))
    coll = Collection(backend, collection_name, embedder=embedder)
    node = TextNode(id_="n1", text="kilo lima", metadata={"page": 2})
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="src-doc")
    LlamaStore(coll).add([node])
    lc = PolyvecVectorStore(coll)
    for doc in [*lc.get_by_ids(["n1"]), *lc.similarity_search("kilo lima", k=1)]:
        assert doc.metadata == {"page": 2}
    assert lc.get(ids=["n1"])["metadatas"] == [{"page": 2}]
    with pytest.raises(InputError, match="_llama_node"):
        lc.add_texts(["x"], [{"_llama_node": "{}"}])


def test_like_filter_is_text_match_or_refused(store: PolyvecVectorStore) -> None:
    # langchain-postgres's $like: '%text%' is a case-sensitive substring, as in SQL LIKE
    q = _query(10).tolist()
    odd = [i for i in range(len(IDS)) if "dd" in METAS[i]["group"]]
    if "text_match" in store.collection.backend.capabilities.filter_operators:
        got = store.similarity_search_by_vector(q, k=len(IDS), filter={"group": {"$like": "%dd%"}})
        assert [d.id for d in got] == [i for i, _ in _oracle(_query(10), odd)] and odd
        assert store.similarity_search_by_vector(q, k=5, filter={"group": {"$like": "%DD%"}}) == []
    else:  # the backend's own refusal, naming what to do instead
        with pytest.raises(UnsupportedFilterError, match="text_match"):
            store.similarity_search_by_vector(q, k=5, filter={"group": {"$like": "%dd%"}})
    for op, pattern in [("$ilike", "%dd%"), ("$like", "o_d"), ("$like", "odd")]:
        with pytest.raises(FilterSyntaxError, match=r"\$text_match"):
            store.similarity_search("alpha", k=3, filter={"group": {op: pattern}})


def test_peer_constructor_keywords(
    engines: Any, backend_variant: str, collection_name: str
) -> None:
    from langchain_qdrant import RetrievalMode

    engine = engine_for(engines, backend_variant)
    assert engine.url is not None
    url = engine.url(backend_variant, f"t{uuid.uuid4().hex[:10]}")
    fake = DeterministicFakeEmbedding(size=DIM)
    # the call of the issue: langchain-qdrant's keywords, none falls through to the backend
    store = PolyvecVectorStore.from_texts(
        TEXTS, fake, METAS, IDS, collection_name=collection_name, url=url,
        distance="Cosine", retrieval_mode=RetrievalMode.HYBRID,
    )  # fmt: skip
    try:
        coll = store.collection
        assert (coll.name, coll.spec.distance, store.retrieval_mode, coll.count()) == (
            collection_name, "cosine", "hybrid", len(IDS),
        )  # fmt: skip
        want = coll.search("charlie delta", k=4, mode="hybrid")
        got = store.similarity_search_with_score("charlie delta", k=4)
        assert [(d.id, s) for d, s in got] == [(str(h.id), pytest.approx(h.score)) for h in want]
    finally:
        store.collection.close()
    # langchain-postgres's spellings (PGVectorStore's table_name) open the same collection;
    # qdrant+memory:// is a new store each time
    again = PolyvecVectorStore.from_texts(
        [], fake, table_name=collection_name, connection=url,
        distance_strategy="cosine", relevance_score_fn="langchain-postgres",
    )  # fmt: skip
    try:
        held = 0 if backend_variant == "qdrant-memory" else len(IDS)
        assert again.collection.count() == held and again.retrieval_mode == "dense"
    finally:
        again.collection.close()
    for given, named in [
        ({"host": "localhost"}, "url="),
        ({"sparse_embedding": object()}, "retrieval_mode"),
        ({"retrieval_mode": "fuzzy"}, "retrieval_mode"),
        ({"distance": "Manhattan"}, "cosine"),
        ({"table_name": "other"}, "two collections"),
        ({"frobnicate": 1}, "frobnicate"),  # unknown here and to the backend: named
    ]:
        with pytest.raises(ConfigurationError, match=named):
            PolyvecVectorStore(collection_name=collection_name, embedding=fake, url=url, **given)

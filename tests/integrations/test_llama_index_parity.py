"""LlamaIndex features a user of llama-index-vector-stores-qdrant (or another LlamaIndex
store) relies on, on every backend: rows of the parity table
(:mod:`polyvec.integrations.parity`). Expected answers come from polyvec's core legs
fused by :func:`polyvec.fusion.fuse`, or from numpy, never from the adapter itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from pydantic import ValidationError

from polyvec import DBSF, RRF, Convex
from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.errors import EmptyQueryError
from polyvec.filters import matches
from polyvec.fusion import fuse
from polyvec.integrations.llama_index import PolyvecEmbedding, PolyvecVectorStore
from tests.corpus import stdlib_documents

pytestmark = [pytest.mark.llamaindex, pytest.mark.models]

HYBRID = VectorStoreQueryMode.HYBRID
SPARSE = VectorStoreQueryMode.SPARSE


@pytest.fixture
def store(backend: Backend, collection_name: str, cached_embedder: Any) -> PolyvecVectorStore:
    s = PolyvecVectorStore(Collection(backend, collection_name, embedder=cached_embedder))
    s.add(
        [
            TextNode(id_=str(d.id), text=d.text, metadata=dict(d.metadata))
            for d in stdlib_documents()
        ]
    )
    return s


def _vec(store: PolyvecVectorStore, text: str) -> list[float]:
    return [float(x) for x in store.collection.embed_queries([text])[0]]


def test_sparse_top_k_is_honoured_in_hybrid(store: PolyvecVectorStore) -> None:
    coll = store.collection
    name = coll.name
    query = "compress and decompress data"
    dense = coll.embed_queries([query])[0]
    sparse = coll.encode_query_sparse(query)
    for dense_k, sparse_k, final in [(5, 8, 4), (6, 2, 5), (4, 4, 3)]:  # dense >= final
        legs = [
            coll.backend.search_dense(name, dense, dense_k),
            coll.backend.search_sparse(name, sparse, sparse_k),
        ]
        want = fuse(legs, DBSF(), final)
        got = store.query(
            VectorStoreQuery(
                query_str=query,
                query_embedding=[float(x) for x in dense],
                mode=HYBRID,
                similarity_top_k=dense_k,
                sparse_top_k=sparse_k,
                hybrid_top_k=final,
            )
        )
        assert got.ids == [str(h.id) for h in want]
        assert got.similarities == pytest.approx([h.score for h in want], abs=1e-6)
    rrf = PolyvecVectorStore(coll, fusion=RRF(k=10)).query(
        VectorStoreQuery(query_str=query, mode=HYBRID, similarity_top_k=2, sparse_top_k=6)
    )
    legs = [coll.backend.search_dense(name, dense, 2), coll.backend.search_sparse(name, sparse, 6)]
    assert rrf.ids == [str(h.id) for h in fuse(legs, RRF(k=10), 2)]


def test_get_nodes_with_limit(store: PolyvecVectorStore) -> None:
    every = [n.node_id for n in store.get_nodes()]
    assert len(every) == len(stdlib_documents())
    assert [n.node_id for n in store.get_nodes(limit=3)] == every[:3]
    page = MetadataFilters(filters=[MetadataFilter(key="group", value="compression")])
    matching = [n.node_id for n in store.get_nodes(filters=page)]
    assert [n.node_id for n in store.get_nodes(filters=page, limit=2)] == matching[:2]
    assert [n.node_id for n in store.get_nodes(["gzip", "json", "csv"], limit=2)] == [
        "gzip",
        "json",
    ]
    assert store.get_nodes(limit=0) == []


async def test_query_among_node_ids(store: PolyvecVectorStore) -> None:
    subset = ["json", "csv", "sqlite3", "bz2", "gzip", "urllib.request"]
    query = "read and write tabular data files"
    vec = _vec(store, query)
    stored = {d.id: d.dense for d in store.collection.get(subset, with_vectors=True)}
    q = np.asarray(vec)
    cos = {
        i: float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q)))
        for i, v in stored.items()
        if v is not None
    }
    want = sorted(cos, key=lambda i: -cos[i])[:3]
    got = store.query(VectorStoreQuery(query_embedding=vec, node_ids=subset, similarity_top_k=3))
    assert got.ids == want
    assert got.similarities == pytest.approx([cos[i] for i in want], abs=1e-4)
    by_text = await store.aquery(
        VectorStoreQuery(query_str=query, node_ids=subset, similarity_top_k=3)
    )
    assert by_text.ids == want
    only = MetadataFilters(filters=[MetadataFilter(key="group", value="compression")])
    filtered = store.query(
        VectorStoreQuery(query_embedding=vec, node_ids=subset, filters=only, similarity_top_k=5)
    )
    assert set(filtered.ids or []) == {"bz2", "gzip"}
    mmr = store.query(
        VectorStoreQuery(
            query_embedding=vec,
            node_ids=subset,
            similarity_top_k=3,
            mode=VectorStoreQueryMode.MMR,
            mmr_threshold=0.2,
        )
    )
    assert len(mmr.ids or []) == 3 and set(mmr.ids or []) <= set(subset)


def _kept(hits: list[Any], ids: list[str]) -> list[Any]:
    return [h for h in hits if str(h.id) in ids]


def test_sparse_and_hybrid_among_node_ids(store: PolyvecVectorStore) -> None:
    """SPARSE and HYBRID among given nodes: each leg scores them as the unrestricted search
    does (that search's hits, deep enough to see them all, kept to the nodes), and the
    hybrid fuses those two lists with the store's fusion."""
    coll = store.collection
    name, everything = coll.name, coll.count()
    query = "compress and decompress data files"
    sparse_all = store.query(
        VectorStoreQuery(query_str=query, mode=SPARSE, sparse_top_k=everything)
    )
    ranked = list(sparse_all.ids or [])
    score = dict(zip(ranked, sparse_all.similarities or []))
    unmatched = [str(d.id) for d in coll.get([str(d.id) for d in stdlib_documents()])]
    unmatched = [i for i in unmatched if i not in score]
    assert len(ranked) > 12 and unmatched  # the query must leave some nodes far down or out
    # the best, and nodes the top 3 never shows, one sharing no term with the query
    subset = [ranked[0], ranked[4], ranked[7], ranked[11], ranked[-1], unmatched[0]]
    got = store.query(VectorStoreQuery(query_str=query, mode=SPARSE, node_ids=subset,
                                       similarity_top_k=4))  # fmt: skip
    want = [i for i in ranked if i in subset][:4]
    assert got.ids == want
    assert got.similarities == pytest.approx([score[i] for i in want], abs=1e-4)

    dense_vec = coll.embed_queries([query])[0]
    dense_all = coll.backend.search_dense(name, dense_vec, everything)
    sparse_hits = coll.backend.search_sparse(name, coll.encode_query_sparse(query), everything)
    assert [str(h.id) for h in sparse_hits] == ranked  # the store's sparse search is this leg
    for fusion, sparse_k, only in [
        (DBSF(), None, None),
        (RRF(k=10), 2, None),
        (DBSF(), None, MetadataFilters(filters=[MetadataFilter(key="group", value="compression")])),
    ]:
        legs = [_kept(dense_all, subset), _kept(sparse_hits, subset)[:sparse_k]]
        if only is not None:
            legs = [
                [h for h in leg if h.document.metadata["group"] == "compression"] for leg in legs
            ]
        expected = fuse(legs, fusion, 3)
        assert len(expected) >= 2  # a comparison with something in it
        hybrid = PolyvecVectorStore(coll, fusion=fusion).query(
            VectorStoreQuery(query_str=query, mode=HYBRID, node_ids=subset, filters=only,
                             similarity_top_k=6, sparse_top_k=sparse_k, hybrid_top_k=3)
        )  # fmt: skip
        assert hybrid.ids == [str(h.id) for h in expected], (fusion, sparse_k, only)
        assert hybrid.similarities == pytest.approx([h.score for h in expected], abs=1e-4)
    # LlamaIndex's alpha: a convex combination of the two legs among the nodes
    both = [_kept(dense_all, subset), _kept(sparse_hits, subset)]
    convex = fuse(both, Convex(alpha=0.7), 3)
    by_alpha = store.query(
        VectorStoreQuery(query_str=query, mode=HYBRID, node_ids=subset, alpha=0.7,
                         similarity_top_k=6, hybrid_top_k=3)
    )  # fmt: skip
    assert by_alpha.ids == [str(h.id) for h in convex]
    assert by_alpha.similarities == pytest.approx([h.score for h in convex], abs=1e-4)
    # only stopwords: BM25 matches nothing, the dense leg among the nodes stands (fused)
    stop = "the of and it"
    dense_stop = coll.backend.search_dense(name, coll.embed_queries([stop])[0], everything)
    fused_stop = fuse([_kept(dense_stop, subset), []], DBSF(), 3)
    alone = store.query(VectorStoreQuery(query_str=stop, mode=HYBRID, node_ids=subset,
                                         similarity_top_k=6, hybrid_top_k=3))  # fmt: skip
    assert alone.ids == [str(h.id) for h in fused_stop]
    with pytest.raises(EmptyQueryError):
        store.query(VectorStoreQuery(query_str=stop, mode=SPARSE, node_ids=subset))
    # the store's score threshold cuts the fused list as it cuts an unrestricted one
    fused = fuse([_kept(dense_all, subset), _kept(sparse_hits, subset)], DBSF(), 6)
    cut = (fused[1].score + fused[2].score) / 2
    held = PolyvecVectorStore(coll, score_threshold=cut).query(
        VectorStoreQuery(query_str=query, mode=HYBRID, node_ids=subset, similarity_top_k=6)
    )
    assert held.ids == [str(h.id) for h in fused[:2]]


def test_normalised_scores_on_request(store: PolyvecVectorStore) -> None:
    query = "compress and decompress data"
    raw = store.query(VectorStoreQuery(query_str=query, mode=HYBRID, similarity_top_k=8))
    unit = store.query(
        VectorStoreQuery(query_str=query, mode=HYBRID, similarity_top_k=8),
        normalize_scores=True,
    )
    assert unit.ids == raw.ids
    assert all(0.0 <= s <= 1.0 for s in unit.similarities or [])
    assert max(raw.similarities or []) > 1.0  # DBSF sums two legs: unbounded above 1
    # DBSF with two unit weights: the raw score over 2, clipped
    assert unit.similarities == pytest.approx(
        [min(1.0, max(0.0, s / 2)) for s in raw.similarities or []]
    )
    normalised = PolyvecVectorStore(store.collection, normalize_scores=True)
    dense = normalised.query(VectorStoreQuery(query_str=query, similarity_top_k=4))
    plain = store.query(VectorStoreQuery(query_str=query, similarity_top_k=4))
    assert dense.similarities == pytest.approx(
        [min(1.0, max(0.0, s)) for s in plain.similarities or []]
    )


def test_booleans_filtered_through_vector_store_kwargs(
    store: PolyvecVectorStore, cached_embedder: Any
) -> None:
    with pytest.raises(ValidationError):  # LlamaIndex's own model refuses a bool value
        MetadataFilter(key="dotted", value=False)
    index = VectorStoreIndex.from_vector_store(store, embed_model=PolyvecEmbedding(cached_embedder))
    retriever = index.as_retriever(
        similarity_top_k=50, vector_store_kwargs={"filter": {"dotted": True}}
    )
    got = {n.node.node_id for n in retriever.retrieve("module")}
    want = {str(d.id) for d in stdlib_documents() if matches({"dotted": True}, d.metadata)}
    assert got == want and want
    both = index.as_retriever(
        similarity_top_k=50,
        filters=MetadataFilters(filters=[MetadataFilter(key="group", value="network")]),
        vector_store_kwargs={"filter": {"dotted": False}},
    )
    got = {n.node.node_id for n in both.retrieve("module")}
    want = {
        str(d.id)
        for d in stdlib_documents()
        if d.metadata["group"] == "network" and d.metadata["dotted"] is False
    }
    assert got == want and want

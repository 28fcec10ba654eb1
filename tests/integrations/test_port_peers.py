"""Port tests: the same short program against a peer store and against polyvec, on data
the peer wrote, with only the import and the constructor changed.

Each peer writes a collection with its own code (langchain-qdrant on Qdrant local mode,
langchain-postgres's PGVector and PGVectorStore on the session's PostgreSQL,
langchain-chroma on an embedded Chroma). The program then runs against the peer, and
against polyvec: opened directly where polyvec reads the peer's layout (langchain-qdrant),
or after ``polyvec migrate --from PEER`` in the same engine. Both runs must print the
same texts in the same order, and the same relevance scores where polyvec is told to use
that peer's relevance function.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.vectorstores import VectorStore

from polyvec.cli import main as polyvec_main
from polyvec.collection import Collection
from polyvec.errors import ConfigurationError
from polyvec.integrations.langchain import (
    LangChainEmbedder,
    PolyvecEmbeddings,
    PolyvecVectorStore,
)
from polyvec.types import Document
from tests.conftest import engine_for

pytestmark = [pytest.mark.langchain, pytest.mark.models]

TEXTS = [
    "Qdrant stores vectors and JSON payloads and filters them",
    "PostgreSQL with pgvector runs vector search in SQL",
    "Chroma is an embedded vector database for prototypes",
    "Milvus Lite runs the Milvus engine inside one process",
    "BM25 ranks documents by term frequency and rarity",
    "Reciprocal rank fusion merges two ranked lists",
    "Cross-encoders rerank a short list of candidates",
    "Maximal marginal relevance trades relevance for diversity",
]
METAS = [
    {"n": i, "even": i % 2 == 0, "topic": "vector database" if i < 4 else "ranking"}
    for i in range(len(TEXTS))
]
MONGO_FILTER = {"$and": [{"n": {"$gte": 1}}, {"even": {"$eq": False}}]}
"""A filter in the dict syntax langchain-postgres and langchain-chroma share with polyvec."""
IDS = [str(uuid.UUID(int=1000 + i)) for i in range(len(TEXTS))]  # langchain-qdrant takes UUIDs
NEW_ID = str(uuid.UUID(int=99))
QUERY = "which database runs vector search in SQL"


def program(
    store: VectorStore, embeddings: Any, filters: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    """What a user's code does with a store: search, search by vector, retrieve, write,
    read back, delete, relevance scores; searches with ``filters`` (dict filters, where
    the peer's syntax is polyvec's)."""
    out: dict[str, Any] = {}
    for i, filt in enumerate(filters):
        out[f"filter{i}"] = [d.page_content for d in store.similarity_search(QUERY, 4, filt)]
    out["search"] = [d.page_content for d in store.similarity_search(QUERY, k=3)]
    vec = embeddings.embed_query(QUERY)
    out["by_vector"] = [d.page_content for d in store.similarity_search_by_vector(vec, k=3)]
    out["scored"] = [d.page_content for d, _ in store.similarity_search_with_score(QUERY, k=3)]
    retriever = store.as_retriever(search_kwargs={"k": 2})
    out["retriever"] = [d.page_content for d in retriever.invoke(QUERY)]
    ids = store.add_texts(["Weaviate is a vector database with modules"], [{"n": 100}], [NEW_ID])
    out["added"] = [d.page_content for d in store.similarity_search("Weaviate modules", k=1)]
    out["get"] = [(d.page_content, d.metadata["n"]) for d in store.get_by_ids(ids)]
    store.delete(ids)
    out["deleted"] = store.get_by_ids(ids) == []
    relevance = store.similarity_search_with_relevance_scores(QUERY, k=3)
    out["relevance"] = [round(s, 4) for _, s in relevance]
    return out


@pytest.fixture
def embeddings(cached_embedder: Any) -> PolyvecEmbeddings:
    """The real offline MiniLM as LangChain embeddings, for the peers and for polyvec."""
    return PolyvecEmbeddings(cached_embedder)


def _migrate(peer: str, source: str, destination: str, name: str, to: str) -> None:
    args = ["migrate", "--from", peer, source, destination, "--collection", name,
            "--to-collection", to, "--no-progress"]  # fmt: skip
    assert polyvec_main(args) == 0


def _hybrid_as_polyvec_wrote_it(migrated: Collection, embeddings: Any) -> None:
    """The migrated collection searches as one polyvec wrote itself from the same documents
    (texts and the stored vectors) on the same engine: the same BM25 statistics, the same
    BM25 (sparse) and hybrid answers, ids and scores. Fails if the migration did not build
    BM25 vectors or statistics."""
    stored = [d for batch in migrated.backend.scroll(migrated.name, with_vectors=True)
              for d in batch]  # fmt: skip
    assert sorted(str(d.id) for d in stored) == sorted(IDS)
    ref = Collection(migrated.backend, f"ref_{uuid.uuid4().hex[:8]}",
                     embedder=LangChainEmbedder(embeddings), distance=migrated.spec.distance)  # fmt: skip
    try:
        ref.add([Document(d.id, d.text, d.metadata, dense=d.dense) for d in stored],
                progress=False)  # fmt: skip
        assert migrated.stats == ref.stats and migrated.stats.n_docs == len(TEXTS)
        for mode in ("sparse", "hybrid"):
            want = ref.search(QUERY, k=5, mode=mode)
            got = migrated.search(QUERY, k=5, mode=mode)
            assert [str(h.id) for h in got] == [str(h.id) for h in want], mode
            assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)
        store = PolyvecVectorStore(migrated, retrieval_mode="hybrid")
        top = store.similarity_search(QUERY, k=1)[0]
        assert top.page_content.startswith("PostgreSQL") and top.id == IDS[1]
    finally:
        ref.backend.drop_collection(ref.name)


def _same(peer: dict[str, Any], ours: dict[str, Any]) -> None:
    assert ours == peer
    assert peer["search"][0].startswith("PostgreSQL")  # the program did real work
    assert peer["deleted"] and peer["get"] == [("Weaviate is a vector database with modules", 100)]


# -- langchain-qdrant: read and written in place -------------------------------------------
def test_port_from_langchain_qdrant(tmp_path: Path, embeddings: PolyvecEmbeddings) -> None:
    lq = pytest.importorskip("langchain_qdrant")
    path = str(tmp_path / "qdrant")
    peer = lq.QdrantVectorStore.from_texts(
        TEXTS, embeddings, METAS, IDS, collection_name="docs", path=path
    )
    peer.client.close()

    def run(cls: Callable[..., Any]) -> dict[str, Any]:
        store = cls.from_existing_collection(collection_name="docs", embedding=embeddings,
                                             path=path, **extra.get(cls, {}))  # fmt: skip
        try:
            return program(store, embeddings)
        finally:
            client = getattr(store, "client", None) or store.collection
            client.close()

    extra: dict[Any, dict[str, Any]] = {
        PolyvecVectorStore: {"relevance_score_fn": "langchain-qdrant"}
    }
    theirs = run(lq.QdrantVectorStore)
    ours = run(PolyvecVectorStore)
    _same(theirs, ours)
    # what polyvec wrote, langchain-qdrant reads back
    store = PolyvecVectorStore.from_existing_collection(
        collection_name="docs", embedding=embeddings, path=path
    )
    store.add_texts(["written by polyvec"], [{"n": 7}], [str(uuid.UUID(int=7))])
    assert [d.id for d in store.get_by_ids(IDS[:2])] == IDS[:2]
    store.collection.close()
    peer = lq.QdrantVectorStore.from_existing_collection(
        collection_name="docs", embedding=embeddings, path=path
    )
    got = peer.get_by_ids([str(uuid.UUID(int=7))])
    assert [(d.page_content, d.metadata["n"]) for d in got] == [("written by polyvec", 7)]
    peer.client.close()


def test_hybrid_on_a_langchain_qdrant_collection_names_migrate(
    tmp_path: Path, embeddings: PolyvecEmbeddings
) -> None:
    lq = pytest.importorskip("langchain_qdrant")

    path = str(tmp_path / "qdrant")
    lq.QdrantVectorStore.from_texts(
        TEXTS, embeddings, METAS, IDS, collection_name="docs", path=path
    ).client.close()
    # polyvec's own layout (a plain URL) cannot address the peer's vector: it says how to
    with pytest.raises(
        ConfigurationError, match=r"layout=langchain.*migrate --from langchain-qdrant"
    ):
        PolyvecVectorStore.from_url(f"qdrant+local://{path}", collection="docs",
                                    embedding=embeddings)  # fmt: skip
    store = PolyvecVectorStore(collection_name="docs", embedding=embeddings, path=path,
                               retrieval_mode="hybrid")  # fmt: skip
    with pytest.raises(ConfigurationError, match="polyvec migrate --from"):
        store.similarity_search(QUERY, k=2)
    store.collection.close()
    url = f"qdrant+local://{path}"
    _migrate("langchain-qdrant", url, url, "docs", "docs_hybrid")
    hybrid = PolyvecVectorStore(collection_name="docs_hybrid", embedding=embeddings,
                                url=url, retrieval_mode="hybrid")  # fmt: skip
    try:
        got = hybrid.similarity_search(QUERY, k=2)
        assert got[0].page_content.startswith("PostgreSQL") and got[0].id == IDS[1]
        _hybrid_as_polyvec_wrote_it(hybrid.collection, embeddings)
    finally:
        hybrid.collection.close()


# -- langchain-postgres: PGVector and PGVectorStore, migrated in the same database ---------
def _pg(engines: Any, tmp_namespace: str) -> tuple[str, str]:
    engine = engine_for(engines, "pgvector")
    assert engine.url is not None
    polyvec_url = engine.url("pgvector", tmp_namespace)
    base = polyvec_url.split("&schema=")[0]
    return base, polyvec_url


def test_port_from_langchain_postgres_pgvector(engines: Any, embeddings: PolyvecEmbeddings) -> None:
    lp = pytest.importorskip("langchain_postgres")
    name = f"docs_{uuid.uuid4().hex[:8]}"
    base, url = _pg(engines, f"p{uuid.uuid4().hex[:8]}")
    sqlalchemy_url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    peer = lp.PGVector.from_texts(
        TEXTS, embeddings, METAS, ids=IDS, collection_name=name, connection=sqlalchemy_url
    )
    filters = (MONGO_FILTER, {"topic": {"$like": "%data%"}})
    theirs = program(peer, embeddings, filters)
    assert theirs["filter1"] and all(t in TEXTS[:4] for t in theirs["filter1"])
    # opened before migrating: refused, naming the command (not a new, empty collection)
    with pytest.raises(ConfigurationError, match="polyvec migrate --from langchain-postgres"):
        PolyvecVectorStore(embeddings=embeddings, collection_name=name, connection=url)
    _migrate("langchain-postgres", url, url, name, name)
    store = PolyvecVectorStore(
        embeddings=embeddings,
        collection_name=name,
        connection=url,
        relevance_score_fn="langchain-postgres",
    )
    ours = program(store, embeddings, filters)
    _same(theirs, ours)
    _hybrid_as_polyvec_wrote_it(store.collection, embeddings)


def test_port_from_langchain_postgres_pgvectorstore(
    engines: Any, embeddings: PolyvecEmbeddings
) -> None:
    v2 = pytest.importorskip("langchain_postgres.v2.vectorstores")
    from langchain_postgres import PGEngine

    table = f"t_{uuid.uuid4().hex[:8]}"
    base, url = _pg(engines, f"p{uuid.uuid4().hex[:8]}")
    engine = PGEngine.from_connection_string(
        base.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    engine.init_vectorstore_table(table, embeddings.embed_query("x").__len__())
    peer = v2.PGVectorStore.create_sync(engine, table_name=table, embedding_service=embeddings)
    peer.add_texts(TEXTS, METAS, IDS)
    theirs = program(peer, embeddings)
    with pytest.raises(ConfigurationError, match="polyvec migrate --from pgvectorstore"):
        PolyvecVectorStore(embeddings=embeddings, table_name=table, connection=url)
    _migrate("pgvectorstore", url, url, table, table)
    store = PolyvecVectorStore(
        embeddings=embeddings,
        collection_name=table,
        connection=url,
        relevance_score_fn="langchain-postgres",
    )
    ours = program(store, embeddings)
    _same(theirs, ours)
    _hybrid_as_polyvec_wrote_it(store.collection, embeddings)


# -- langchain-chroma: migrated in the same embedded store ---------------------------------
def test_port_from_langchain_chroma(tmp_path: Path, embeddings: PolyvecEmbeddings) -> None:
    lc = pytest.importorskip("langchain_chroma")
    path = str(tmp_path / "chroma")
    peer = lc.Chroma.from_texts(
        TEXTS, embeddings, METAS, IDS, collection_name="docs", persist_directory=path
    )
    theirs = program(peer, embeddings, (MONGO_FILTER,))
    with pytest.raises(ConfigurationError, match="polyvec migrate --from langchain-chroma"):
        PolyvecVectorStore(collection_name="docs", embedding_function=embeddings,
                           persist_directory=path)  # fmt: skip
    url = f"chroma+local://{path}"
    _migrate("langchain-chroma", url, url, "docs", "docs_polyvec")
    store = PolyvecVectorStore(collection_name="docs_polyvec", embedding_function=embeddings,
                               persist_directory=path, relevance_score_fn="langchain-chroma")  # fmt: skip
    ours = program(store, embeddings, (MONGO_FILTER,))
    _same(theirs, ours)
    _hybrid_as_polyvec_wrote_it(store.collection, embeddings)


# -- llama-index-vector-stores-qdrant: migrated in the same Qdrant -------------------------
def llama_program(store: Any, embed_model: Any) -> dict[str, Any]:
    """The same idea for LlamaIndex: retrieve (with scores), filter, read the source
    document of a hit, add a node, read it back, delete it."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    out: dict[str, Any] = {}
    hits = index.as_retriever(similarity_top_k=3).retrieve(QUERY)
    out["retrieve"] = [(n.node.get_content(), n.node.metadata["n"], round(n.score or 0, 4))
                       for n in hits]  # fmt: skip
    out["source"] = [n.node.ref_doc_id for n in hits]
    gte = MetadataFilters(filters=[MetadataFilter(key="n", value=2, operator=FilterOperator.GTE)])
    filtered = index.as_retriever(similarity_top_k=3, filters=gte).retrieve(QUERY)
    out["filtered"] = [n.node.get_content() for n in filtered]
    node = TextNode(id_=NEW_ID, text="Weaviate is a vector database with modules",
                    metadata={"n": 100})  # fmt: skip
    node.embedding = embed_model.get_text_embedding(node.text)
    store.add([node])
    added = index.as_retriever(similarity_top_k=1).retrieve("Weaviate modules")
    out["added"] = [n.node.node_id for n in added]
    out["get"] = [n.get_content() for n in store.get_nodes(node_ids=[NEW_ID])]
    store.delete_nodes(node_ids=[NEW_ID])
    out["deleted"] = store.get_nodes(node_ids=[NEW_ID]) == []
    return out


def test_port_from_llama_index_qdrant(tmp_path: Path, cached_embedder: Any) -> None:
    liq = pytest.importorskip("llama_index.vector_stores.qdrant")
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from qdrant_client import QdrantClient

    from polyvec.integrations.llama_index import PolyvecEmbedding
    from polyvec.integrations.llama_index import PolyvecVectorStore as LlamaStore

    embed = PolyvecEmbedding(cached_embedder)
    path = str(tmp_path / "qdrant")
    nodes = []
    for i, (text, meta) in enumerate(zip(TEXTS, METAS)):
        node = TextNode(id_=IDS[i], text=text, metadata=dict(meta))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i // 2}")
        nodes.append(node)
    client = QdrantClient(path=path)
    peer = liq.QdrantVectorStore(collection_name="docs", client=client)
    VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=peer),
                     embed_model=embed)  # fmt: skip
    theirs = llama_program(peer, embed)
    client.close()
    url = f"qdrant+local://{path}"
    with pytest.raises(ConfigurationError, match="polyvec migrate --from llama-index-qdrant"):
        LlamaStore.from_url(url, collection="docs", embed_model=embed)
    _migrate("llama-index-qdrant", url, url, "docs", "docs_polyvec")
    ours_store = LlamaStore.from_url(url, collection="docs_polyvec", embed_model=embed)
    try:
        ours = llama_program(ours_store, embed)
        _hybrid_as_polyvec_wrote_it(ours_store.collection, PolyvecEmbeddings(cached_embedder))
    finally:
        ours_store.collection.close()
    assert ours == theirs
    assert theirs["retrieve"][0][0].startswith("PostgreSQL") and theirs["deleted"]
    assert theirs["source"][0] == "doc-0" and theirs["get"] == [
        "Weaviate is a vector database with modules"
    ]

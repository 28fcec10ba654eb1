"""LangChain's own standard suites (``langchain-tests``), on every backend variant.

``VectorStoreIntegrationTests`` (sync and async) runs against :class:`PolyvecVectorStore`
and ``RetrieversIntegrationTests`` against :class:`PolyvecRetriever`, once per engine
variant in ``tests/engines`` (the ``backend`` fixture). The suites bring their own fake
embeddings (``DeterministicFakeEmbedding``, here at 384 dimensions so that fixed-dimension
engines take them too), wrapped with :class:`LangChainEmbedder`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

from polyvec.backends.base import Backend
from polyvec.collection import Collection
from polyvec.integrations.langchain import (
    LangChainEmbedder,
    PolyvecRetriever,
    PolyvecVectorStore,
)

pytestmark = pytest.mark.langchain

DIMENSION = 384
"""The suites' fake embeddings, at one dimension every engine takes: a Pinecone index has
a fixed dimension (the stand-in serves 384, MiniLM's), shared by its namespaces."""


def fake_embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=DIMENSION)


class TestPolyvecVectorStoreStandard(VectorStoreIntegrationTests):
    @staticmethod
    def get_embeddings() -> Embeddings:
        return fake_embeddings()

    @pytest.fixture
    def vectorstore(self, backend: Backend, collection_name: str) -> Iterator[PolyvecVectorStore]:
        embedder = LangChainEmbedder(self.get_embeddings())
        yield PolyvecVectorStore(Collection(backend, collection_name, embedder=embedder))


CORPUS = [
    "polyvec fuses dense and sparse retrieval",
    "Qdrant stores vectors and payloads",
    "PostgreSQL with pgvector runs vector search in SQL",
    "Chroma is an embedded vector database",
    "Milvus Lite runs the Milvus engine in process",
    "BM25 ranks documents by term frequency and rarity",
]


class TestPolyvecRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _collection(self, backend: Backend, collection_name: str) -> None:
        embedder = LangChainEmbedder(fake_embeddings())
        coll = Collection(backend, collection_name, embedder=embedder)
        coll.add_texts(CORPUS, metadatas=[{"n": i} for i in range(len(CORPUS))])
        self.collection = coll

    @property
    def retriever_constructor(self) -> type[PolyvecRetriever]:
        return PolyvecRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"collection": self.collection, "mode": "hybrid"}

    @property
    def retriever_query_example(self) -> str:
        return "which database runs vector search?"

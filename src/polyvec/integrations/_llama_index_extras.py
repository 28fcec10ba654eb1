"""LlamaIndex pieces around the store: embeddings both ways, multi-query with any LLM,
and the cross-encoder rerank node postprocessor. Import them from
:mod:`polyvec.integrations.llama_index`."""

from __future__ import annotations

import asyncio
from typing import Any

from polyvec.errors import MissingDependencyError

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
    from llama_index.core.llms import LLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "llama-index-core", "llamaindex", "the LlamaIndex integration"
    ) from exc

from polyvec.embeddings import Embedder
from polyvec.integrations._common import (
    DEFAULT_MULTI_QUERY_PROMPT,
    ForeignEmbedder,
    clean_llm_output,
    input_order_hits,
)
from polyvec.integrations._common import as_query_generator as _as_query_generator
from polyvec.multiquery import QueryGenerator

__all__ = [
    "LlamaIndexEmbedder",
    "LlamaIndexQueryGenerator",
    "PolyvecEmbedding",
    "PolyvecRerankPostprocessor",
    "as_query_generator",
]


class LlamaIndexEmbedder(ForeignEmbedder):
    """A LlamaIndex ``BaseEmbedding`` as a polyvec :class:`~polyvec.embeddings.Embedder`.

    Bring your LlamaIndex embed model to a polyvec collection::

        embedder = LlamaIndexEmbedder(Settings.embed_model)
        store = PolyvecVectorStore.from_url("qdrant+memory://", embed_model=embedder)

    ``dimension`` is probed with one query embedding on first use unless given.
    """

    def __init__(
        self, embed_model: BaseEmbedding, *, name: str | None = None, dimension: int | None = None
    ) -> None:
        if not isinstance(embed_model, BaseEmbedding):
            raise TypeError(
                f"LlamaIndexEmbedder wraps a LlamaIndex BaseEmbedding, got "
                f"{type(embed_model).__name__}"
            )
        self.embed_model = embed_model
        super().__init__(
            name or f"llama_index:{type(embed_model).__name__}:{embed_model.model_name}",
            dimension,
        )

    def _embed_texts(self, texts: list[str]) -> Any:
        return self.embed_model.get_text_embedding_batch(texts)

    def _embed_query(self, text: str) -> Any:
        return self.embed_model.get_query_embedding(text)


class PolyvecEmbedding(BaseEmbedding):
    """A polyvec :class:`~polyvec.embeddings.Embedder` as a LlamaIndex ``BaseEmbedding``,
    e.g. the offline MiniLM for ``VectorStoreIndex(embed_model=...)``::

        from polyvec.embeddings import default_embedder
        index = VectorStoreIndex.from_vector_store(store, embed_model=PolyvecEmbedding(
            default_embedder()))
    """

    embed_batch_size: int = Field(default=64, gt=0)
    _embedder: Embedder = PrivateAttr()

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", embedder.name)
        super().__init__(**kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "PolyvecEmbedding"

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_queries([query])[0]]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed_documents(texts)]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


class LlamaIndexQueryGenerator:
    """Any LlamaIndex ``LLM`` as polyvec's multi-query
    :class:`~polyvec.multiquery.QueryGenerator`.

    ``prompt`` is a template with ``{question}`` and ``{n}``; the answer is split into
    lines, list markers and repeats dropped::

        gen = LlamaIndexQueryGenerator(llm)
        gen.generate("how do I reset my password", 3)
    """

    def __init__(self, llm: LLM, prompt: str | None = None) -> None:
        if not isinstance(llm, LLM):
            raise TypeError(f"LlamaIndexQueryGenerator takes a LlamaIndex LLM, got {type(llm)}")
        self.llm = llm
        self.prompt = PromptTemplate(prompt or DEFAULT_MULTI_QUERY_PROMPT)

    def generate(self, query: str, n: int) -> list[str]:
        return clean_llm_output(query, self.llm.predict(self.prompt, question=query, n=n), n)

    async def agenerate(self, query: str, n: int) -> list[str]:
        raw = await self.llm.apredict(self.prompt, question=query, n=n)
        return clean_llm_output(query, raw, n)

    def __repr__(self) -> str:
        return f"LlamaIndexQueryGenerator(llm={type(self.llm).__name__})"


def as_query_generator(obj: Any) -> QueryGenerator | None:
    """A LlamaIndex LLM, a callable ``fn(query, n)`` or a polyvec generator, as a polyvec
    :class:`~polyvec.multiquery.QueryGenerator` (``None`` stays ``None``)."""
    return _as_query_generator(obj, LLM, LlamaIndexQueryGenerator, "a LlamaIndex LLM")


class PolyvecRerankPostprocessor(BaseNodePostprocessor):
    """polyvec's reranker (e.g. :class:`~polyvec.rerank.CrossEncoderReranker`) as a
    LlamaIndex node postprocessor: the ``top_n`` best nodes, best first, each scored by
    the model. The text reranked is the node's content without metadata, as polyvec's
    own pipeline does::

        engine = index.as_query_engine(node_postprocessors=[
            PolyvecRerankPostprocessor(reranker=CrossEncoderReranker(), top_n=3)])
    """

    reranker: Any = Field(description="a polyvec Reranker (rerank/arerank)")
    top_n: int | None = Field(default=3, description="nodes to keep (None: all)")

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def class_name(cls) -> str:
        return "PolyvecRerankPostprocessor"

    @staticmethod
    def _query(query_bundle: QueryBundle | None) -> str:
        if query_bundle is None:
            raise ValueError(
                "PolyvecRerankPostprocessor needs the query (query_bundle or query_str)"
            )
        return query_bundle.query_str

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        ranked = self.reranker.rerank(
            self._query(query_bundle),
            input_order_hits([n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]),
            top_n=self.top_n,
        )
        return [NodeWithScore(node=nodes[int(h.id)].node, score=h.score) for h in ranked]

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query = self._query(query_bundle)
        ranked = await self.reranker.arerank(
            query,
            input_order_hits([n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]),
            top_n=self.top_n,
        )
        return [NodeWithScore(node=nodes[int(h.id)].node, score=h.score) for h in ranked]

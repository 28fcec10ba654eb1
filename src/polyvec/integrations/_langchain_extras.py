"""LangChain pieces around the store: embeddings both ways, multi-query with any chat
model or LLM, and rerank as a document compressor. Import them from
:mod:`polyvec.integrations.langchain`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from polyvec.errors import MissingDependencyError

try:
    from langchain_core.documents import BaseDocumentCompressor
    from langchain_core.documents import Document as LCDocument
    from langchain_core.embeddings import Embeddings
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import BasePromptTemplate, PromptTemplate
    from langchain_core.runnables import Runnable
    from pydantic import ConfigDict
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "langchain-core", "langchain", "the LangChain integration"
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
from polyvec.types import Hit

__all__ = [
    "LangChainEmbedder",
    "LangChainQueryGenerator",
    "PolyvecEmbeddings",
    "PolyvecRerankCompressor",
    "as_query_generator",
]


# -- embeddings, both ways ----------------------------------------------------------------
class LangChainEmbedder(ForeignEmbedder):
    """A LangChain ``Embeddings`` as a polyvec :class:`~polyvec.embeddings.Embedder`.

    Bring your framework's embeddings to any polyvec collection::

        from langchain_core.embeddings import DeterministicFakeEmbedding
        embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=6))
        docs = polyvec.connect("qdrant+memory://", embedder=embedder)

    ``dimension`` is probed with one query embedding on first use unless given; ``name``
    (recorded with collections) defaults to ``langchain:<class>[:<model>]``.
    """

    def __init__(
        self, embeddings: Embeddings, *, name: str | None = None, dimension: int | None = None
    ) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(
                f"LangChainEmbedder wraps a langchain_core Embeddings, got "
                f"{type(embeddings).__name__}: pass a polyvec Embedder to polyvec directly"
            )
        self.embeddings = embeddings
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        super().__init__(
            name
            or ":".join(["langchain", type(embeddings).__name__, *([str(model)] if model else [])]),
            dimension,
        )

    def _embed_texts(self, texts: list[str]) -> Any:
        return self.embeddings.embed_documents(texts)

    def _embed_query(self, text: str) -> Any:
        return self.embeddings.embed_query(text)


class PolyvecEmbeddings(Embeddings):
    """A polyvec :class:`~polyvec.embeddings.Embedder` as a LangChain ``Embeddings``.

    >>> from polyvec.embeddings import SentenceTransformerEmbedder
    >>> PolyvecEmbeddings(SentenceTransformerEmbedder())  # doctest: +ELLIPSIS
    PolyvecEmbeddings(embedder=SentenceTransformerEmbedder(...))
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.embedder.embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed_queries([text])[0]]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)

    def __repr__(self) -> str:
        return f"PolyvecEmbeddings(embedder={self.embedder!r})"


# -- multi-query with any LangChain model -------------------------------------------------
class LangChainQueryGenerator:
    """Any LangChain chat model or LLM (any ``Runnable`` that answers a prompt) as
    polyvec's multi-query :class:`~polyvec.multiquery.QueryGenerator`.

    ``prompt`` is a template string or ``BasePromptTemplate`` with ``{question}`` and
    optionally ``{n}``; the answer is split into lines, list markers and repeats dropped::

        from langchain_core.language_models import FakeListChatModel
        gen = LangChainQueryGenerator(FakeListChatModel(responses=["a\\nb"]))
        gen.generate("question", 2)          # ['a', 'b']
    """

    def __init__(
        self, llm: Runnable[Any, Any], prompt: str | BasePromptTemplate[Any] | None = None
    ) -> None:
        if not isinstance(llm, Runnable):
            raise TypeError(
                f"LangChainQueryGenerator takes a LangChain chat model or LLM, got "
                f"{type(llm).__name__}"
            )
        template = prompt if prompt is not None else DEFAULT_MULTI_QUERY_PROMPT
        if isinstance(template, str):
            template = PromptTemplate.from_template(template)
        self.llm = llm
        self.prompt = template
        self.chain: Runnable[Any, str] = template | llm | StrOutputParser()

    def generate(self, query: str, n: int) -> list[str]:
        return clean_llm_output(query, self.chain.invoke({"question": query, "n": n}), n)

    async def agenerate(self, query: str, n: int) -> list[str]:
        return clean_llm_output(query, await self.chain.ainvoke({"question": query, "n": n}), n)

    def __repr__(self) -> str:
        return f"LangChainQueryGenerator(llm={type(self.llm).__name__})"


def as_query_generator(obj: Any) -> QueryGenerator | None:
    """A LangChain model, a callable ``fn(query, n)`` or a polyvec generator, as a polyvec
    :class:`~polyvec.multiquery.QueryGenerator` (``None`` stays ``None``)."""
    return _as_query_generator(obj, Runnable, LangChainQueryGenerator, "a LangChain chat model/LLM")


# -- rerank as a document compressor ------------------------------------------------------
class PolyvecRerankCompressor(BaseDocumentCompressor):
    """polyvec's reranker (e.g. :class:`~polyvec.rerank.CrossEncoderReranker`) as a
    LangChain document compressor: keeps the ``top_n`` best documents, best first.

    Returns the input documents themselves (metadata unchanged), unless ``score_key``
    names a metadata key for the rerank score::

        compressor = PolyvecRerankCompressor(reranker=CrossEncoderReranker(), top_n=3)
        ContextualCompressionRetriever(base_compressor=compressor, base_retriever=r)
    """

    reranker: Any
    top_n: int | None = 3
    score_key: str | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _back(self, documents: Sequence[LCDocument], ranked: Sequence[Hit]) -> list[LCDocument]:
        out = []
        for hit in ranked:
            doc = documents[int(hit.id)]
            if self.score_key is not None:
                doc = doc.model_copy(
                    update={"metadata": {**doc.metadata, self.score_key: hit.score}}
                )
            out.append(doc)
        return out

    def compress_documents(
        self, documents: Sequence[LCDocument], query: str, callbacks: Any = None
    ) -> Sequence[LCDocument]:
        ranked = self.reranker.rerank(
            query, input_order_hits([d.page_content for d in documents]), top_n=self.top_n
        )
        return self._back(documents, ranked)

    async def acompress_documents(
        self, documents: Sequence[LCDocument], query: str, callbacks: Any = None
    ) -> Sequence[LCDocument]:
        ranked = await self.reranker.arerank(
            query, input_order_hits([d.page_content for d in documents]), top_n=self.top_n
        )
        return self._back(documents, ranked)

"""The search methods of :class:`polyvec.integrations.langchain.PolyvecVectorStore`, by
text and by vector, with and without scores, similarity and MMR, sync and async.

Every method is one call of :meth:`_SearchMethods._hits` (or its async twin), which
builds one polyvec :class:`~polyvec.retriever.Retriever` and runs it: the by-text
searches in the store's retrieval mode (dense unless the store was made with
``retrieval_mode="hybrid"`` or ``"sparse"``), MMR and the by-vector searches dense (as in
every peer store). ``offset`` skips that many best hits (the engine is asked for
``k + offset``); ``score_threshold`` keeps hits whose raw score is at least that (for MMR:
the relevance score of each hit MMR selected). Import the store from
:mod:`polyvec.integrations.langchain`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.filters.parse import FilterLike
from polyvec.fusion import DBSF, RRF, Fusion
from polyvec.grouping import merged_document
from polyvec.integrations._common import check_k, split_config_options, visible_metadata
from polyvec.retriever import MMRConfig, Mode, Retriever, RetrieverConfig
from polyvec.types import Hit

try:
    from langchain_core.documents import Document as LCDocument
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "langchain-core", "langchain", "the LangChain integration"
    ) from exc

if TYPE_CHECKING:
    from polyvec.collection import Collection

__all__ = ["SearchMethods", "hits_to_lc", "to_lc", "with_scores"]

_QDRANT_ONLY = {
    "search_params": "set the engine's search parameters as collection options "
    '(options={"search": {"hnsw_ef": 128}})',
    "consistency": "polyvec reads with the engine's default consistency",
}


def to_lc(doc: Any, score: float | None = None, score_key: str | None = None) -> LCDocument:
    """A polyvec document as a LangChain one (framework-private metadata left out)."""
    metadata = visible_metadata(doc.metadata)
    if score_key is not None and score is not None:
        metadata[score_key] = score
    return LCDocument(page_content=doc.text, metadata=metadata, id=str(doc.id))


def hits_to_lc(hits: Sequence[Hit], score_key: str | None = None) -> list[LCDocument]:
    # with group_by: one Document per group, its top chunks merged in document order
    return [to_lc(merged_document(h), h.score, score_key) for h in hits]


def with_scores(hits: Sequence[Hit]) -> list[tuple[LCDocument, float]]:
    return [(to_lc(merged_document(h)), float(h.score)) for h in hits]


def _peer_fusion(value: Any) -> Fusion:
    """``hybrid_fusion=`` as langchain-qdrant takes it (a ``models.FusionQuery``) or a
    polyvec fusion."""
    if isinstance(value, (RRF, DBSF)) or type(value).__name__ == "Convex":
        return value  # type: ignore[no-any-return]
    name = str(getattr(getattr(value, "fusion", None), "value", "")).lower()
    if name == "rrf":
        return RRF(k=2)  # Qdrant's own RRF constant, as langchain-qdrant gets it
    if name == "dbsf":
        return DBSF()
    raise ConfigurationError(
        f"hybrid_fusion={value!r} is not a fusion polyvec knows: pass "
        "models.FusionQuery(fusion=models.Fusion.RRF | DBSF) or a polyvec RRF/DBSF/Convex"
    )


class SearchMethods:
    """Mixin: the LangChain search API over ``self.collection`` (see the module doc)."""

    collection: Collection
    retrieval_mode: Mode
    search_options: dict[str, Any]

    # -- one plan for every search ---------------------------------------------------------
    def _plan(
        self,
        where: str,
        k: int,
        *,
        by_vector: bool,
        mmr: tuple[int, float] | None,
        offset: int,
        score_threshold: float | None,
        extra: dict[str, Any],
    ) -> tuple[Retriever, int]:
        check_k(k, where)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ConfigurationError(f"{where}: offset must be an int >= 0, got {offset!r}")
        for name, fix in _QDRANT_ONLY.items():
            if name in extra:
                raise ConfigurationError(f"{where}() does not take {name}=: {fix}")
        options = dict(self.search_options)
        if "hybrid_fusion" in extra:
            options["fusion"] = _peer_fusion(extra.pop("hybrid_fusion"))
        config, rest = split_config_options(extra)
        if rest:
            raise TypeError(f"{where}() got unexpected options {sorted(rest)}")
        options.update(config)
        options["mode"] = "dense" if by_vector or mmr is not None else self.retrieval_mode
        if mmr is not None:
            fetch_k, lambda_mult = mmr
            depth = max(fetch_k, k)
            options["mmr"] = MMRConfig(lambda_mult=lambda_mult, fetch_k=depth)
            options["candidates"] = depth
        options["score_threshold"] = score_threshold
        return self.collection.retriever(RetrieverConfig(k=k + offset, **options)), offset

    def _hits(
        self,
        where: str,
        query: str | None,
        vector: Sequence[float] | None,
        k: int,
        filter: FilterLike,
        *,
        mmr: tuple[int, float] | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[Hit]:
        retriever, skip = self._plan(
            where, k, by_vector=query is None, mmr=mmr, offset=offset,
            score_threshold=score_threshold, extra=dict(extra or {}),
        )  # fmt: skip
        if query is None:
            assert vector is not None
            hits = retriever.search_vector(vector, filter=filter)
        else:
            hits = retriever.search(query, filter=filter)
        return hits[skip:]

    async def _ahits(self, *args: Any, **kwargs: Any) -> list[Hit]:
        return await asyncio.to_thread(lambda: self._hits(*args, **kwargs))

    # -- similarity by text ----------------------------------------------------------------
    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        offset: int = 0,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        """``(document, score)`` pairs, best first, in the store's retrieval mode; the
        score is raw and higher is better (cosine similarity for a cosine collection, the
        fused score in hybrid mode). ``kwargs``: ``hybrid_fusion`` or RetrieverConfig
        fields (``fusion``, ``candidates`` …)."""
        hits = self._hits(
            "similarity_search_with_score", query, None, k, filter,
            offset=offset, score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        offset: int = 0,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        hits = await self._ahits(
            "similarity_search_with_score", query, None, k, filter,
            offset=offset, score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    def similarity_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        pairs = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in pairs]

    # -- similarity by vector --------------------------------------------------------------
    def similarity_search_with_score_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        offset: int = 0,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        """Dense search with a query vector you embedded yourself: ``(document, raw
        score)`` pairs, best first."""
        hits = self._hits(
            "similarity_search_with_score_by_vector", None, embedding, k, filter,
            offset=offset, score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    async def asimilarity_search_with_score_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        offset: int = 0,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        hits = await self._ahits(
            "similarity_search_with_score_by_vector", None, embedding, k, filter,
            offset=offset, score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    def similarity_search_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        """Dense search with a query vector you embedded yourself."""
        pairs = self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [d for d, _ in pairs]

    async def asimilarity_search_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: FilterLike = None, **kwargs: Any
    ) -> list[LCDocument]:
        pairs = await self.asimilarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [d for d, _ in pairs]

    # -- maximal marginal relevance --------------------------------------------------------
    def max_marginal_relevance_search_with_score_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        """polyvec's MMR over the ``fetch_k`` dense candidates of ``embedding``
        (``lambda_mult=1``: relevance only, ``0``: maximal diversity — LangChain's
        meaning); each pair carries the hit's raw relevance score."""
        hits = self._hits(
            "max_marginal_relevance_search", None, embedding, k, filter,
            mmr=(fetch_k, lambda_mult), score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    async def amax_marginal_relevance_search_with_score_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        hits = await self._ahits(
            "max_marginal_relevance_search", None, embedding, k, filter,
            mmr=(fetch_k, lambda_mult), score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        pairs = self.max_marginal_relevance_search_with_score_by_vector(
            embedding, k, fetch_k, lambda_mult, filter, **kwargs
        )
        return [d for d, _ in pairs]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        pairs = await self.amax_marginal_relevance_search_with_score_by_vector(
            embedding, k, fetch_k, lambda_mult, filter, **kwargs
        )
        return [d for d, _ in pairs]

    def max_marginal_relevance_search_with_score(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        """MMR over the ``fetch_k`` dense candidates of ``query`` (see the by-vector form)."""
        hits = self._hits(
            "max_marginal_relevance_search", query, None, k, filter,
            mmr=(fetch_k, lambda_mult), score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    async def amax_marginal_relevance_search_with_score(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        hits = await self._ahits(
            "max_marginal_relevance_search", query, None, k, filter,
            mmr=(fetch_k, lambda_mult), score_threshold=score_threshold, extra=kwargs,
        )  # fmt: skip
        return with_scores(hits)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        """Dense search diversified by polyvec's MMR (``lambda_mult=1``: relevance only,
        ``0``: maximal diversity — LangChain's meaning) over ``fetch_k`` candidates."""
        pairs = self.max_marginal_relevance_search_with_score(
            query, k, fetch_k, lambda_mult, filter, **kwargs
        )
        return [d for d, _ in pairs]

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        pairs = await self.amax_marginal_relevance_search_with_score(
            query, k, fetch_k, lambda_mult, filter, **kwargs
        )
        return [d for d, _ in pairs]

    # -- hybrid, whatever the store's mode -------------------------------------------------
    def hybrid_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **options: Any
    ) -> list[LCDocument]:
        """polyvec's hybrid pipeline (dense + BM25, fused with ``DBSF()`` unless
        ``fusion=`` says otherwise); ``options`` are
        :class:`~polyvec.retriever.RetrieverConfig` fields (``fusion``, ``mmr``,
        ``reranker``, ``multi_query``, ``candidates`` …)."""
        return hits_to_lc(self._hybrid_retriever(k, options).search(query, filter=filter))

    async def ahybrid_search(
        self, query: str, k: int = 4, filter: FilterLike = None, **options: Any
    ) -> list[LCDocument]:
        return hits_to_lc(await self._hybrid_retriever(k, options).asearch(query, filter=filter))

    def _hybrid_retriever(self, k: int, options: dict[str, Any]) -> Retriever:
        from polyvec.integrations._langchain_extras import as_query_generator

        check_k(k, "hybrid_search")
        config, rest = split_config_options(options)
        if rest:
            raise TypeError(f"hybrid_search() got unexpected options {sorted(rest)}")
        config = {"mode": "hybrid", **self.search_options, **config}
        if "multi_query" in config:
            config["multi_query"] = as_query_generator(config["multi_query"])
        return self.collection.retriever(RetrieverConfig(k=k, **config))

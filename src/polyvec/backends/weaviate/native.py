"""Weaviate's own keyword and hybrid search, mixed into
:class:`~polyvec.backends.weaviate.backend.WeaviateBackend`.

These run Weaviate's BM25 over the document text (``pv_text``: Weaviate's tokenizer,
IDF, k1 and b), not polyvec's BM25 over its sparse vectors, so their scores differ from
the retriever's sparse leg; they are the native alternative for users who want
Weaviate's ranking::

    hits = backend.search_hybrid_text("docs", query_vector, "gzip file format", k=5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polyvec.backends.base import CollectionSpec, ranked_hits
from polyvec.backends.weaviate.filters import WeaviateFilter
from polyvec.backends.weaviate.schema import document_from
from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.filters.ast import Filter
from polyvec.types import Document, Hit, ScoreKind

try:
    from weaviate.classes.query import HybridFusion, MetadataQuery
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("weaviate-client", "weaviate", "the Weaviate backend") from exc

__all__ = ["NativeSearch"]


def _by_score(objects: list[Any]) -> list[tuple[Document, float]]:
    return [(document_from(o, False), float(o.metadata.score or 0.0)) for o in objects]


class NativeSearch:
    """``search_bm25`` and ``search_hybrid_text`` over the backend's query helpers."""

    def _require(self, name: str) -> CollectionSpec:
        raise NotImplementedError

    def _filter(self, name: str, filter: Filter | None) -> WeaviateFilter:
        raise NotImplementedError

    def _dense(self, spec: CollectionSpec, vector: Any, where: str) -> list[float]:
        raise NotImplementedError

    def _objects(self, collection: str, op: str, native: WeaviateFilter, **kw: Any) -> list[Any]:
        raise NotImplementedError

    def search_bm25(
        self, collection: str, text: str, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Weaviate's own BM25 over the document text (its tokenizer, IDF, k1 and b;
        not polyvec's BM25), ``kind="bm25"``."""
        self._require(collection)
        native = self._filter(collection, filter)
        if k <= 0 or native is False or not text.strip():
            return []
        found = self._objects(
            collection,
            "bm25",
            native,
            query=text,
            query_properties=["pv_text"],
            limit=k,
            return_metadata=MetadataQuery(score=True),
        )
        return ranked_hits(_by_score(found), "bm25", "sparse")

    def search_hybrid_text(
        self,
        collection: str,
        dense: np.ndarray,
        text: str,
        k: int,
        *,
        alpha: float = 0.5,
        fusion: str = "relative",
        filter: Filter | None = None,
    ) -> list[Hit]:
        """Weaviate's native hybrid: its BM25 over the text and the dense vector, fused
        in Weaviate with ``alpha`` (1 = dense only). ``fusion="relative"`` is Weaviate's
        relativeScoreFusion (min-max normalised, like :class:`~polyvec.fusion.Convex`,
        ``kind="convex"``); ``"ranked"`` its rankedFusion (``kind="rrf"``, k = 60)."""
        spec = self._require(collection)
        if not 0.0 <= alpha <= 1.0:
            raise ConfigurationError(f"alpha must be within [0, 1], got {alpha!r}")
        if fusion not in ("relative", "ranked"):
            raise ConfigurationError("fusion must be 'relative' or 'ranked'")
        query = self._dense(spec, dense, "query vector")
        native = self._filter(collection, filter)
        if k <= 0 or native is False:
            return []
        method = HybridFusion.RELATIVE_SCORE if fusion == "relative" else HybridFusion.RANKED
        found = self._objects(
            collection,
            "hybrid",
            native,
            query=text,
            vector=query,
            alpha=alpha,
            target_vector="dense",
            query_properties=["pv_text"],
            fusion_type=method,
            limit=k,
            return_metadata=MetadataQuery(score=True),
        )
        kind: ScoreKind = "convex" if fusion == "relative" else "rrf"
        return ranked_hits(_by_score(found), kind, "hybrid")

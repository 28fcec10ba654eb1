"""Rerankers: rescore retrieved hits against the query with a stronger model.

A reranker takes the query and the hits and returns the best ``top_n`` of them, best
first, each rescored with kind ``"rerank"``; the retrieval score stays in
``Hit.scores`` (``Hit.rescored`` keeps it)::

    reranker = CrossEncoderReranker()  # cross-encoder/ms-marco-MiniLM-L-6-v2
    best = reranker.rerank("how do I reset my password", hits, top_n=5)
    best = await reranker.arerank("how do I reset my password", hits, top_n=5)

Anything with ``rerank``/``arerank`` methods of these signatures is a
:class:`Reranker`; ``arerank`` runs the model in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from polyvec.errors import ConfigurationError, EmptyQueryError, MissingDependencyError
from polyvec.types import Hit

__all__ = ["DEFAULT_CROSS_ENCODER", "CrossEncoderReranker", "Reranker"]

DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L-6-v2"


@runtime_checkable
class Reranker(Protocol):
    """Reorders hits by relevance to ``query``; returns at most ``top_n`` (``None``: all)."""

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]: ...

    async def arerank(
        self, query: str, hits: Sequence[Hit], top_n: int | None = None
    ) -> list[Hit]: ...


def _check_top_n(top_n: int | None) -> None:
    if top_n is not None and (isinstance(top_n, bool) or top_n < 0):
        raise ConfigurationError(f"rerank top_n must be an int >= 0 or None (all), got {top_n!r}")


class CrossEncoderReranker:
    """Rerank with a sentence-transformers ``CrossEncoder`` (``pip install 'polyvec[models]'``).

    ``model`` is a model name or local path, loaded on first use (so constructing a
    reranker is free), or an already constructed ``CrossEncoder`` — or any object with
    its ``predict(pairs, batch_size=..., show_progress_bar=...)`` method — used as is
    (``device`` and ``max_length`` then do not apply: set them on that object).
    Pairs are scored in batches of ``batch_size``; inputs longer than ``max_length``
    tokens are truncated by the model.

    >>> reranker = CrossEncoderReranker(batch_size=64)  # loads nothing yet
    >>> reranker.model_name
    'cross-encoder/ms-marco-MiniLM-L-6-v2'

    The model must give one score per (query, text) pair (``num_labels=1``), higher
    meaning more relevant. Ties keep the retrieval order.
    """

    def __init__(
        self,
        model: str | Any = DEFAULT_CROSS_ENCODER,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
    ) -> None:
        if isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(max_length, bool) or max_length < 1:
            raise ConfigurationError(f"max_length must be an int >= 1, got {max_length!r}")
        self.device = device
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self._lock = threading.Lock()
        self._model: Any = None
        if isinstance(model, str):
            self.model_name = model
        elif callable(getattr(model, "predict", None)):
            self._model = model
            self.model_name = str(
                getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
            )
        else:
            raise ConfigurationError(
                f"CrossEncoderReranker(model=...) takes a model name, a local path or a "
                f"sentence_transformers.CrossEncoder, got {type(model).__name__}"
            )

    def __repr__(self) -> str:
        return (
            f"CrossEncoderReranker(model={self.model_name!r}, device={self.device!r}, "
            f"batch_size={self.batch_size}, max_length={self.max_length})"
        )

    @property
    def model(self) -> Any:
        """The ``CrossEncoder``, loaded on first access (once, even across threads)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise MissingDependencyError(
                "sentence-transformers", "models", "cross-encoder reranking"
            ) from exc
        try:
            return CrossEncoder(self.model_name, device=self.device, max_length=self.max_length)
        except OSError as exc:
            raise ConfigurationError(
                f"could not load the cross-encoder {self.model_name!r} ({exc}): download it "
                f"once with network access (it is cached), or pass a local path or a "
                f"CrossEncoder object"
            ) from exc

    def predict(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """The model's raw scores for ``(query, text)`` pairs, as a float array."""
        if not texts:
            return np.zeros(0)
        pairs = [(query, text) for text in texts]
        raw = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        if hasattr(raw, "detach"):  # a torch tensor, from a model set up to return one
            raw = raw.detach().float().cpu().numpy()
        scores = np.asarray(raw, dtype=np.float64)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        if scores.shape != (len(texts),):
            raise ConfigurationError(
                f"the cross-encoder {self.model_name!r} returned scores of shape "
                f"{scores.shape} for {len(texts)} pairs; a reranker needs one score per pair: "
                "use a model with num_labels=1 (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2)"
            )
        return scores

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        """The best ``top_n`` hits (``None``: all), best first, kind ``"rerank"``.

        Each returned hit is ``hit.rescored(model_score, "rerank")``: its retrieval
        score stays in ``hit.scores``. NaN scores sort last.
        """
        _check_top_n(top_n)
        if not hits or top_n == 0:
            return []
        if not query or not query.strip():
            raise EmptyQueryError("rerank needs a non-empty query: pass the user's question")
        scores = self.predict(query, [h.document.text for h in hits])
        order = sorted(
            range(len(hits)),
            key=lambda i: (-scores[i] if not math.isnan(scores[i]) else math.inf, i),
        )
        if top_n is not None:
            order = order[:top_n]
        return [hits[i].rescored(float(scores[i]), "rerank") for i in order]

    async def arerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        """:meth:`rerank` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.rerank, query, hits, top_n)

"""Score scales for the framework adapters: relevance functions per peer, and a
normalised [0, 1] score for every kind of polyvec score. No framework is imported here.

polyvec's raw scores are always higher-is-better: a cosine similarity, a dot product, a
negated L2 distance, a BM25 score, or a fused score (RRF, DBSF, convex). LangChain asks
a store for a *relevance* in [0, 1] (``similarity_search_with_relevance_scores``, the
``similarity_score_threshold`` retriever); each peer store maps its engine's number to it
its own way, and a threshold moved from one store to another selects other documents.
:data:`RELEVANCE` holds each peer's function, written over polyvec's raw score ``s``
(``d = -s`` is the L2 distance):

==========  ===================  ======================  ======================  ===================
distance    ``"polyvec"``        ``"langchain-qdrant"``  ``"langchain-postgres"``  ``"langchain-chroma"``
==========  ===================  ======================  ======================  ===================
cosine      ``clip(s, 0, 1)``    ``(1 + s) / 2``         ``s``                   ``s``
dot         ``clip(s, 0, 1)``    ``-s`` if ``s <= 0``    ``s`` if ``s >= 0``     ``s`` if ``s < 1``
                                 else ``1 - s``          else ``1 + s``          else ``s - 1``
l2          ``max(0, 1-d/√2)``   ``1 - d/√2``            ``1 - d/√2``            ``1 - d²/√2``
==========  ===================  ======================  ======================  ===================

(langchain-chroma's L2 is Chroma's squared distance; its cosine and dot read Chroma's
``1 - s`` distance back; langchain-postgres reads pgvector's cosine distance ``1 - s``
and negative inner product ``-s``.)

:func:`unit_score` maps any polyvec score onto [0, 1] for frameworks that threshold
there (LlamaIndex's ``similarity_cutoff``): see its table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from polyvec.errors import ConfigurationError
from polyvec.fusion import DBSF, RRF, Convex, Fusion
from polyvec.types import Hit

__all__ = ["RELEVANCE", "RelevanceFn", "relevance_function", "unit_score", "unit_scores"]

RelevanceFn = Callable[[float], float]

_SQRT2 = math.sqrt(2.0)


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _qdrant_dot(s: float) -> float:  # LangChain's inner-product function fed a similarity
    return 1.0 - s if s > 0 else -s


def _pg_dot(s: float) -> float:  # the same function fed pgvector's negative inner product
    return 1.0 + s if s < 0 else s


RELEVANCE: Mapping[str, Mapping[str, RelevanceFn]] = {
    "polyvec": {
        "cosine": _clip,
        "dot": _clip,
        "l2": lambda s: max(0.0, 1.0 + s / _SQRT2),
    },
    "langchain-qdrant": {
        "cosine": lambda s: (1.0 + s) / 2.0,
        "dot": _qdrant_dot,
        "l2": lambda s: 1.0 + s / _SQRT2,
    },
    "langchain-postgres": {
        "cosine": lambda s: s,
        "dot": _pg_dot,
        "l2": lambda s: 1.0 + s / _SQRT2,
    },
    "langchain-chroma": {
        "cosine": lambda s: s,
        "dot": lambda s: s if s < 1 else s - 1.0,
        "l2": lambda s: 1.0 - (s * s) / _SQRT2,
    },
}
"""Relevance functions by name and distance, each over polyvec's raw dense score (see the
module table). ``"polyvec"`` is the default: the raw similarity clipped to [0, 1], so a
threshold means what polyvec's own ``score_threshold`` means wherever it is positive."""


def relevance_function(choice: str | RelevanceFn | None, distance: str) -> RelevanceFn:
    """The relevance function ``choice`` names for ``distance`` (``None``: ``"polyvec"``);
    a callable is used as it is (it receives polyvec's raw score).

    >>> relevance_function("langchain-qdrant", "cosine")(0.5)
    0.75
    """
    if choice is None:
        choice = "polyvec"
    if callable(choice):
        return choice
    table = RELEVANCE.get(choice)
    if table is None:
        raise ConfigurationError(
            f"relevance_score_fn={choice!r} is not known: pass a function of polyvec's raw "
            f"score, or one of {sorted(RELEVANCE)}"
        )
    return table[distance]


def _fusion_top(fusion: Fusion, legs: int) -> float:
    """The highest score ``fusion`` can give a document present in ``legs`` lists."""
    if isinstance(fusion, Convex):
        return 1.0
    weights = fusion.weights or (1.0,) * legs
    if isinstance(fusion, RRF):
        return math.fsum(w / (fusion.k + 1.0) for w in weights)
    return math.fsum(weights)  # DBSF: each leg's normalised score is ~[0, 1]


def unit_score(
    hit: Hit, *, distance: str = "cosine", fusion: Fusion | None = None, top: float | None = None
) -> float:
    """``hit``'s score on [0, 1], higher is better, by its kind:

    ========== ===============================================================
    cosine      the similarity clipped to [0, 1] (what other stores report)
    dot         clipped to [0, 1] (a cosine for normalised vectors)
    l2          ``max(0, 1 - d/√2)`` (1 at distance 0, 0 from √2 — unit vectors)
    bm25        ``s / top``: relative to the best BM25 score of the same query
    rrf         ``s / Σ w_i/(k+1)``: 1 only for rank 1 in every leg
    dbsf        ``s / Σ w_i``, clipped: each leg's score is normalised to about [0, 1]
    convex      as it is (already in [0, 1])
    rerank      the logistic function of the cross-encoder's logit
    ========== ===============================================================

    ``fusion`` is the fusion that made an ``rrf``/``dbsf`` score (default: its kind with
    no weights); ``top`` is the best BM25 score of the list (:func:`unit_scores` passes it).

    >>> from polyvec import Document
    >>> unit_score(Hit(Document("a"), 1 / 61 + 1 / 61, "rrf"))
    1.0
    """
    s, kind = float(hit.score), hit.kind
    if kind in ("cosine", "dot"):
        return _clip(s)
    if kind == "l2":
        return max(0.0, 1.0 + s / _SQRT2)
    if kind == "convex":
        return _clip(s)
    if kind == "rerank":
        return 1.0 / (1.0 + math.exp(-s)) if s > -700 else 0.0
    if kind == "bm25":
        return _clip(s / top) if top else 0.0
    if kind in ("rrf", "dbsf"):
        made = fusion if fusion is not None else (RRF() if kind == "rrf" else DBSF())
        return _clip(s / _fusion_top(made, 2))
    if kind == "mmr":  # pragma: no cover - MMR keeps the relevance kind of its hits
        return _clip(s)
    raise ConfigurationError(f"no [0, 1] scale is defined for scores of kind {kind!r}")


def unit_scores(
    hits: Sequence[Hit], *, distance: str = "cosine", fusion: Fusion | None = None
) -> list[float]:
    """:func:`unit_score` of each hit of one result list (BM25 relative to its best)."""
    top = max((float(h.score) for h in hits if h.kind == "bm25"), default=None)
    return [unit_score(h, distance=distance, fusion=fusion, top=top) for h in hits]

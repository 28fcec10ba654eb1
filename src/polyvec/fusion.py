"""Score fusion: RRF, DBSF and convex combination over ranked lists of hits.

A fusion method is a small frozen config object; backends that fuse natively
receive the same object, so the meaning of ``k``, ``weights`` and ``alpha`` is the
same on the server and in the client::

    >>> from polyvec.fusion import RRF, Convex
    >>> RRF(k=60, weights=(1.0, 0.5))
    RRF(k=60, weights=(1.0, 0.5))

:func:`fuse` applies one of them client-side. Each input list is one retrieval leg
(or one query variant), **best first**; the output is one list, best first, with one
hit per document id::

    >>> from polyvec import Document, Hit
    >>> dense = [Hit(Document("a"), 0.9, "cosine"), Hit(Document("b"), 0.8, "cosine")]
    >>> sparse = [Hit(Document("b"), 7.0, "bm25"), Hit(Document("c"), 3.0, "bm25")]
    >>> [(h.id, round(h.score, 5)) for h in fuse([dense, sparse], RRF(k=60))]
    [('b', 0.03252), ('a', 0.01639), ('c', 0.01613)]

Rules shared by the three methods:

* **Dedup.** Hits are merged by document id. Within one list only the first (best)
  occurrence of an id is scored; ranks count distinct ids (``[a, a, b]`` ranks ``b``
  second). The fused hit keeps the first document seen, filling in a dense or sparse
  vector that only a later copy carries.
* **Provenance.** ``Hit.sources`` of the fused hit is every input hit's sources, in
  list order, without repeats. ``Hit.scores`` holds every score the inputs carried
  (by kind, the best one where two inputs share a kind) plus the fused score under
  ``"rrf"``, ``"dbsf"`` or ``"convex"``, which is also the new ``Hit.kind``.
* **Order.** By fused score, descending; ties by best rank in any list, then by
  first appearance (list 0 before list 1, earlier before later). Sums are computed
  with :func:`math.fsum`, so equal contributions tie exactly whatever their order.
* **Weights.** One per input list (``ConfigurationError`` otherwise); ``None`` means
  all 1. A weight of 0 keeps that list's documents (provenance) without scoring them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Union

from polyvec.errors import ConfigurationError, InputError
from polyvec.types import DocId, Document, Hit, ScoreKind, Source

__all__ = ["DBSF", "RRF", "Convex", "Fusion", "fuse"]


def _check_weights(weights: Sequence[float] | None) -> tuple[float, ...] | None:
    if weights is None:
        return None
    ws = tuple(float(w) for w in weights)
    if not ws or any(w < 0 or w != w for w in ws) or sum(ws) == 0:
        raise ConfigurationError(
            f"fusion weights must be non-negative numbers, not all zero, got {weights!r}"
        )
    return ws


@dataclass(frozen=True, slots=True)
class RRF:
    """Reciprocal rank fusion: ``score = Σ_i w_i / (k + rank_i)``, ranks from 1.

    ``k=60`` is the value of Cormack et al. (2009); it makes the fused order depend on
    ranks alone, so it needs no assumption about how each leg's scores are scaled, but
    it also drops how far apart the scores are, and two lists produce exact ties (ranks
    1 and 3 vs 3 and 1). polyvec fuses query variants with it (their scores are of one
    kind); hybrid legs default to :class:`DBSF`. ``weights`` apply per input list, in
    order (``None``: all 1).
    """

    k: float = 60.0
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.k >= 0:
            raise ConfigurationError(f"RRF k must be >= 0, got {self.k!r}")
        object.__setattr__(self, "weights", _check_weights(self.weights))


@dataclass(frozen=True, slots=True)
class DBSF:
    """Distribution-based score fusion: each list's scores are normalised with
    ``(s - (μ - 3σ)) / 6σ`` (as Qdrant does), then summed with the list weights.

    σ is the sample standard deviation (``n - 1``), as in Qdrant. A list with one hit,
    or whose scores are all equal (σ = 0), gives each of its hits 0.5 — the value of
    the mean — again as Qdrant does. Values are not clipped to [0, 1].

    polyvec's default for hybrid search (``RetrieverConfig().fusion``): parameter-free,
    scale-free per leg, and it keeps score gaps that RRF throws away.
    """

    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _check_weights(self.weights))


@dataclass(frozen=True, slots=True)
class Convex:
    """Convex combination after min-max normalisation of each list:
    ``alpha * dense + (1 - alpha) * sparse`` (two lists: dense first).

    Each list is scaled to [0, 1] by its own min and max; a list with one hit, or
    whose scores are all equal, gives each hit 1.0 (each is that list's best). A
    document missing from one list contributes 0 there.
    """

    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigurationError(f"Convex alpha must be within [0, 1], got {self.alpha!r}")


Fusion = Union[RRF, DBSF, Convex]
"""Any fusion method."""


@dataclass(slots=True)
class _Entry:
    """One document being fused: its contributions and its provenance."""

    document: Document
    first_seen: int
    best_rank: int
    terms: list[float] = field(default_factory=list)
    sources: dict[Source, None] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


def _list_weights(method: Fusion, n_lists: int) -> tuple[float, ...]:
    if isinstance(method, Convex):
        if n_lists != 2:
            raise ConfigurationError(
                f"Convex fusion combines exactly two lists (dense first, then sparse), got "
                f"{n_lists}: pass two lists, or use RRF or DBSF for any number of lists"
            )
        return (method.alpha, 1.0 - method.alpha)
    if method.weights is None:
        return (1.0,) * n_lists
    if len(method.weights) != n_lists:
        raise ConfigurationError(
            f"{type(method).__name__} has {len(method.weights)} weight(s) but {n_lists} "
            f"list(s) were given to fuse: pass one weight per list, in list order, "
            f"or weights=None for equal weights"
        )
    return method.weights


def _finite_scores(hits: Sequence[Hit], method: Fusion, index: int) -> list[float]:
    scores = [float(h.score) for h in hits]
    if not all(math.isfinite(s) for s in scores):
        raise InputError(
            f"list {index} holds a NaN or infinite score, which {type(method).__name__} "
            "cannot normalise: drop those hits, or fuse with RRF (rank-based)"
        )
    return scores


def _in_order_sum(values: Iterable[float]) -> float:
    # left to right, as SQL's sum() over an ordered window adds: pgvector computes DBSF in
    # one statement with the same float operations (fsum or Python 3.12's compensated
    # sum() would round differently there)
    total = 0.0
    for v in values:
        total += v
    return total


def _dbsf_normalise(scores: Sequence[float]) -> list[float]:
    n = len(scores)
    if n < 2:
        return [0.5] * n
    mean = _in_order_sum(scores) / n
    std = math.sqrt(_in_order_sum((s - mean) * (s - mean) for s in scores) / (n - 1))
    if std == 0.0:
        return [0.5] * n
    low = mean - 3.0 * std
    return [(s - low) / (6.0 * std) for s in scores]


def _minmax_normalise(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi == lo:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def _contributions(method: Fusion, hits: Sequence[Hit], weight: float, index: int) -> list[float]:
    """Each (deduplicated) hit's contribution from one list, in list order."""
    if isinstance(method, RRF):
        return [weight / (method.k + rank) for rank in range(1, len(hits) + 1)]
    scores = _finite_scores(hits, method, index)
    norm = _dbsf_normalise(scores) if isinstance(method, DBSF) else _minmax_normalise(scores)
    return [weight * v for v in norm]


def _merge_document(kept: Document, other: Document) -> Document:
    if (kept.dense is None and other.dense is not None) or (
        kept.sparse is None and other.sparse is not None
    ):
        return kept.with_vectors(dense=other.dense, sparse=other.sparse)
    return kept


def _record(entry: _Entry, hit: Hit) -> None:
    entry.document = _merge_document(entry.document, hit.document)
    for source in hit.sources:
        entry.sources.setdefault(source, None)
    for kind, value in (*hit.scores.items(), (hit.kind, hit.score)):
        old = entry.scores.get(kind)
        if old is None or value > old:
            entry.scores[kind] = float(value)


def fuse(lists: Sequence[Sequence[Hit]], method: Fusion, k: int | None = None) -> list[Hit]:
    """Fuse ranked lists of hits into one list, best first, one hit per document id.

    ``lists`` are the inputs, each best first (one per leg, or per query variant);
    ``method`` is :class:`RRF`, :class:`DBSF` or :class:`Convex` (exactly two lists);
    ``k`` is how many fused hits to return (``None``: all). It is not RRF's ``k``,
    which lives on the :class:`RRF` object.

    >>> from polyvec import Document, Hit
    >>> a = [Hit(Document("x"), 0.9, "cosine"), Hit(Document("y"), 0.1, "cosine")]
    >>> b = [Hit(Document("y"), 5.0, "bm25")]
    >>> [(h.id, h.score) for h in fuse([a, b], Convex(alpha=0.75))]
    [('x', 0.75), ('y', 0.25)]
    >>> fuse([a, b], RRF(weights=(1.0, 2.0)), k=1)[0].id
    'y'

    Raises ``ConfigurationError`` for a weight count that differs from ``len(lists)``,
    Convex over other than two lists, or a negative ``k``; ``InputError`` for a NaN or
    infinite score under DBSF or Convex.
    """
    if k is not None and k < 0:
        raise ConfigurationError(f"fuse(k=...) must be >= 0 or None (all), got {k!r}")
    weights = _list_weights(method, len(lists))
    kind: ScoreKind = (
        "rrf" if isinstance(method, RRF) else "dbsf" if isinstance(method, DBSF) else "convex"
    )

    entries: dict[DocId, _Entry] = {}
    for index, (hits, weight) in enumerate(zip(lists, weights)):
        firsts: dict[DocId, Hit] = {}
        for hit in hits:
            entry = entries.get(hit.id)
            if entry is None:
                entry = entries[hit.id] = _Entry(hit.document, len(entries), len(hits) + 1)
            _record(entry, hit)
            firsts.setdefault(hit.id, hit)
        ranked = list(firsts.values())
        for rank, (hit, term) in enumerate(
            zip(ranked, _contributions(method, ranked, weight, index)), start=1
        ):
            entry = entries[hit.id]
            entry.terms.append(term)
            entry.best_rank = min(entry.best_rank, rank)

    order = sorted(
        ((-math.fsum(e.terms), e.best_rank, e.first_seen, e) for e in entries.values()),
        key=lambda t: t[:3],
    )
    # hits are built for the kept entries only: candidates outnumber the k asked for
    return [
        Hit(e.document, -neg, kind, tuple(e.sources), {**e.scores, kind: -neg})
        for neg, _, _, e in (order if k is None else order[:k])
    ]

"""Maximal marginal relevance (MMR): pick hits that are relevant *and* diverse.

At each step MMR picks the candidate maximising
``lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, s) for s in selected)``
with cosine similarity. ``lambda_mult=1`` is pure relevance, ``0`` maximal diversity,
exactly as in LangChain (not as Qdrant's ``diversity``, which means the opposite).

The selection equals ``langchain_core.vectorstores.utils.maximal_marginal_relevance``
on the same inputs, ties included: the first pick is the most similar candidate
whatever ``lambda_mult`` is, and a tie goes to the lowest index. It is computed with
numpy: the query similarities once, then one similarity column per pick, keeping a
running maximum, so ``k`` picks among ``n`` candidates cost ``O(k·n·d)`` (LangChain
recomputes every pair against the whole selected set at each step).

>>> import numpy as np
>>> q = np.array([1.0, 0.0])
>>> cands = np.array([[1.0, 0.0], [1.0, 0.01], [0.6, 0.8]])
>>> mmr_select(q, cands, k=2, lambda_mult=0.3)  # the near-duplicate [1, 0.01] loses
[0, 2]
>>> mmr_select(q, cands, k=2, lambda_mult=1.0)  # pure relevance
[0, 1]

Differences from LangChain, on inputs LangChain cannot rank either: a zero-norm
query or a NaN/infinite value raises ``InvalidVectorError``; a zero-norm candidate
has similarity 0 to everything (LangChain does the same, except that it raises when
every similarity it computes in one step is undefined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from polyvec.errors import (
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
)
from polyvec.types import Hit

__all__ = ["mmr", "mmr_select"]


def _as_array(value: Any, *, ndim: int, where: str) -> np.ndarray:
    # np.array (a copy, order "K"), as LangChain does: the same memory layout gives
    # BLAS the same call, hence the same floats.
    arr = np.array(value)
    if arr.dtype.kind != "f":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidVectorError(f"{where} is not numeric: {exc}") from exc
    if arr.ndim != ndim:
        shape = "(d,)" if ndim == 1 else "(n, d)"
        raise InvalidVectorError(f"{where} must have shape {shape}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidVectorError(
            f"{where} contains NaN or infinite values: check the embedding model's output"
        )
    return arr


def _check_params(k: int, lambda_mult: float) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ConfigurationError(f"MMR k must be an int >= 0, got {k!r}")
    if not 0.0 <= lambda_mult <= 1.0:
        raise ConfigurationError(
            f"MMR lambda_mult must be within [0, 1] (1: pure relevance, 0: maximal "
            f"diversity), got {lambda_mult!r}"
        )


def _cosine(x: np.ndarray, x_norm: np.ndarray, y: np.ndarray, y_norm: np.ndarray) -> np.ndarray:
    """``cos(x_i, y_j)`` as LangChain computes it; undefined values (a zero norm) are 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sim: np.ndarray = np.dot(x, y.T) / np.outer(x_norm, y_norm)
    sim[np.isnan(sim) | np.isinf(sim)] = 0.0
    return sim


def _select(
    query: Any, candidates: Any, k: int, lambda_mult: float
) -> tuple[list[int], list[float]]:
    """Selected indices and the MMR value each had when picked.

    Exactness. LangChain recomputes ``cos(candidates, selected)`` with one matrix
    product per step, and BLAS rounds a product's last bits differently depending on
    its shape, so two candidates within a few ulps of each other can swap places
    depending on how the similarities were computed. Here each step adds one
    similarity column (a matrix-vector product) to a running maximum. Its values
    differ from LangChain's by at most ``2·γ_d`` (Higham's bound for a d-term dot
    product in any order) plus a few roundings; when the best candidate leads the
    runner-up by more than twice that, both pick it. Otherwise (exact ties such as
    duplicate vectors, or near-ties) that step is decided on LangChain's own floats,
    recomputed with the very same calls — so the picks are the same, ties included.
    """
    _check_params(k, lambda_mult)
    lam = float(lambda_mult)
    q = _as_array(query, ndim=1, where="MMR query vector")
    emb = _as_array(candidates, ndim=2, where="MMR candidate vectors")
    n = emb.shape[0]
    m = min(k, n)
    if m <= 0:
        return [], []
    if emb.shape[1] != q.shape[0]:
        raise DimensionMismatchError(emb.shape[1], q.shape[0], where="MMR query vector")
    q2 = np.array(q[None, :])
    q_norm = np.linalg.norm(q2, axis=1)
    if not q_norm[0] > 0:
        raise InvalidVectorError(
            "MMR query vector has zero norm, so no candidate is similar to it: "
            "check the embedding of the query"
        )
    norms = np.linalg.norm(emb, axis=1)
    relevance = _cosine(q2, q_norm, emb, norms)[0]
    eps = float(np.finfo(np.result_type(q.dtype, emb.dtype)).eps)
    margin = 4.0 * (emb.shape[1] + 8) * eps  # 2 x (2·γ_d + a few roundings), eps = 2u

    first = int(np.argmax(relevance))
    picked = [first]
    gains = [float(lam * relevance[first])]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    redundancy = _cosine(emb, norms, emb[first][None, :], norms[first : first + 1])[:, 0]
    while len(picked) < m:
        value = lam * relevance - (1 - lam) * redundancy
        value[taken] = -np.inf
        best = int(np.argmax(value))
        if np.count_nonzero(value >= value[best] - margin) > 1:
            chosen = emb[picked]  # LangChain's `selected`, in pick order
            exact = _cosine(emb, norms, chosen, np.linalg.norm(chosen, axis=1)).max(axis=1)
            value = lam * relevance - (1 - lam) * exact
            value[taken] = -np.inf
            best = int(np.argmax(value))
        picked.append(best)
        gains.append(float(value[best]))
        taken[best] = True
        if len(picked) < m:
            with np.errstate(divide="ignore", invalid="ignore"):
                column = np.dot(emb, emb[best]) / (norms * norms[best])
            column[np.isnan(column) | np.isinf(column)] = 0.0
            np.maximum(redundancy, column, out=redundancy)
    return picked, gains


def mmr_select(
    query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Indices of ``k`` rows of ``candidates`` (shape ``(n, d)``) chosen by MMR, in
    the order picked; fewer when ``n < k``.

    ``lambda_mult=1`` ranks by relevance alone; ``0`` picks the most similar candidate
    first, then always the one least similar to those already picked. Same indices as
    LangChain's ``maximal_marginal_relevance(query, candidates, lambda_mult, k)``.

    >>> import numpy as np
    >>> mmr_select(np.array([1.0, 0.0]), np.eye(2), k=5)
    [0, 1]
    """
    return _select(query, candidates, k, lambda_mult)[0]


def mmr(query_vec: Any, hits: Sequence[Hit], k: int, lambda_mult: float = 0.5) -> list[Hit]:
    """Reorder and cut ``hits`` to ``k`` by MMR against ``query_vec``, using each hit's
    ``document.dense`` vector.

    A returned hit keeps its relevance ``score`` and ``kind`` (so a score threshold
    still means what it meant), and gains two entries in ``scores``: ``"mmr"``, the
    MMR value it had when picked (``λ·relevance − (1−λ)·max similarity to the hits
    picked before it``; the first pick has ``λ·relevance``), and ``"mmr_rank"``, its
    1-based position in the MMR order — the one entry of ``scores`` that is a position
    (lower is better), kept so a later stage such as rerank cannot erase it.

    >>> import numpy as np
    >>> from polyvec import Document, Hit
    >>> hits = [Hit(Document(i, dense=v), s, "cosine") for i, v, s in
    ...         [("a", [1, 0], 0.9), ("a2", [1, 0.01], 0.89), ("b", [0.6, 0.8], 0.6)]]
    >>> [h.id for h in mmr(np.array([1.0, 0.0]), hits, k=2, lambda_mult=0.3)]
    ['a', 'b']

    Raises ``InputError`` when a hit has no dense vector.
    """
    _check_params(k, lambda_mult)
    if not hits or k == 0:
        return []
    missing = [h.id for h in hits if h.document.dense is None]
    if missing:
        raise InputError(
            f"MMR needs each hit's dense vector, but {len(missing)} hit(s) have none "
            f"(first: {missing[0]!r}): retrieve with vectors included, or embed the "
            f"documents (Document.with_vectors) before calling mmr"
        )
    dims = {h.document.dense.shape[0] for h in hits if h.document.dense is not None}
    if len(dims) > 1:
        raise InvalidVectorError(
            f"MMR candidates have mixed dimensions {sorted(dims)}: they must come from one "
            "embedding model"
        )
    matrix = np.stack([h.document.dense for h in hits if h.document.dense is not None])
    picked, gains = _select(query_vec, matrix, k, lambda_mult)
    out = []
    for rank, (index, gain) in enumerate(zip(picked, gains), start=1):
        hit = hits[index]
        scores = {**hit.scores}
        scores.setdefault(hit.kind, hit.score)
        scores["mmr"] = gain
        scores["mmr_rank"] = float(rank)
        out.append(replace(hit, scores=scores))
    return out

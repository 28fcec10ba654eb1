"""Score fusion: RRF, DBSF and convex combination over ranked lists of hits.

A fusion method is a small frozen config object; backends that fuse natively
receive the same object, so the meaning of ``k``, ``weights`` and ``alpha`` is the
same on the server and in the client::

    >>> from polyvec.fusion import RRF, Convex
    >>> RRF(k=60, weights=(1.0, 0.5))
    RRF(k=60, weights=(1.0, 0.5))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from polyvec.errors import ConfigurationError

__all__ = ["DBSF", "RRF", "Convex", "Fusion"]


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
    ranks alone, so it needs no assumption about how each leg's scores are scaled —
    the reason it is polyvec's default. ``weights`` apply per input list, in order
    (``None``: all 1).
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
    ``(s - (μ - 3σ)) / 6σ`` (as Qdrant does), then summed with the list weights."""

    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _check_weights(self.weights))


@dataclass(frozen=True, slots=True)
class Convex:
    """Convex combination after min-max normalisation of each list:
    ``alpha * dense + (1 - alpha) * sparse`` (two lists: dense first)."""

    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigurationError(f"Convex alpha must be within [0, 1], got {self.alpha!r}")


Fusion = Union[RRF, DBSF, Convex]
"""Any fusion method."""

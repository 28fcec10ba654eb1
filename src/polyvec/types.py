"""Core value types: :class:`Document`, :class:`SparseVector`, :class:`Hit`, :class:`Source`.

All are frozen dataclasses. Scores follow one contract everywhere: **higher is better**,
and every score says what kind it is (``Hit.kind``)::

    >>> from polyvec import Document
    >>> Document(id="a1", text="hello", metadata={"page": 3})
    Document(id='a1', text='hello', metadata={'page': 3})
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

from polyvec.errors import InputError, InvalidVectorError

__all__ = [
    "DocId",
    "Document",
    "Hit",
    "Leg",
    "ScoreKind",
    "Source",
    "SparseVector",
    "as_dense",
]

DocId = Union[str, int]
"""A user's document id: any string or int, returned exactly as given."""

ScoreKind = Literal["cosine", "dot", "l2", "bm25", "rrf", "dbsf", "convex", "rerank", "mmr"]
"""What a score means. ``l2`` is the negated distance, so that higher is better."""

Leg = Literal["dense", "sparse", "hybrid"]
"""Which retrieval leg produced a candidate (``hybrid``: fused by the engine itself)."""


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse vector: strictly increasing ``indices`` with their ``values``.

    >>> SparseVector.from_dict({7: 0.5, 2: 1.0})
    SparseVector(indices=(2, 7), values=(1.0, 0.5))
    """

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise InvalidVectorError(
                f"sparse vector has {len(self.indices)} indices but {len(self.values)} values: "
                "pass one value per index"
            )
        if any(b <= a for a, b in zip(self.indices, self.indices[1:])):
            raise InvalidVectorError(
                "sparse vector indices must be strictly increasing: build it with "
                "SparseVector.from_dict(...) to sort and merge them"
            )
        if any(i < 0 for i in self.indices[:1]):
            raise InvalidVectorError("sparse vector indices must be non-negative")
        if not all(math.isfinite(v) for v in self.values):
            raise InvalidVectorError("sparse vector contains NaN or infinite values")

    @classmethod
    def from_dict(cls, weights: Mapping[int, float]) -> SparseVector:
        """Build from ``{index: value}``; zero values are dropped."""
        items = sorted((int(i), float(v)) for i, v in weights.items() if v != 0.0)
        return cls(tuple(i for i, _ in items), tuple(v for _, v in items))

    def to_dict(self) -> dict[int, float]:
        return dict(zip(self.indices, self.values))

    def dot(self, other: SparseVector) -> float:
        mine = self.to_dict()
        return float(sum(v * mine.get(i, 0.0) for i, v in zip(other.indices, other.values)))

    def __len__(self) -> int:
        return len(self.indices)


def as_dense(vector: Sequence[float] | npt.ArrayLike, *, where: str = "vector") -> np.ndarray:
    """Return ``vector`` as a read-only 1-D float32 array, or raise ``InvalidVectorError``."""
    try:
        arr = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorError(f"{where} is not a sequence of numbers: {exc}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidVectorError(
            f"{where} must be a non-empty 1-D sequence of floats, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InvalidVectorError(
            f"{where} contains NaN or infinite values: check the embedding model's output"
        )
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True)
class Document:
    """A unit of retrieval: the user's ``id``, its ``text`` and ``metadata``.

    ``dense`` and ``sparse`` are filled by polyvec at ingest (or given by the user);
    they are not part of equality or the ``repr``.
    """

    id: DocId
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    dense: np.ndarray | None = field(default=None, compare=False, repr=False)
    sparse: SparseVector | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, (str, int)):
            raise InputError(
                f"document id must be a str or an int, got {type(self.id).__name__}: "
                "convert it with str(...)"
            )
        if not isinstance(self.text, str):
            raise InputError(f"document text must be a str, got {type(self.text).__name__}")
        if not isinstance(self.metadata, Mapping):
            raise InputError(
                f"document metadata must be a mapping, got {type(self.metadata).__name__}"
            )
        if self.dense is not None:
            object.__setattr__(self, "dense", as_dense(self.dense, where=f"document {self.id!r}"))

    def with_vectors(
        self, dense: np.ndarray | None = None, sparse: SparseVector | None = None
    ) -> Document:
        """A copy carrying the given vectors (``None`` keeps the current one)."""
        return replace(
            self,
            dense=self.dense if dense is None else dense,
            sparse=self.sparse if sparse is None else sparse,
        )


@dataclass(frozen=True, slots=True)
class Source:
    """Provenance: one retrieval leg that found a hit.

    ``variant`` is the index of the query variant (0 is the user's own query),
    ``rank`` is 1-based within that leg's list, ``score`` is that leg's raw score.
    """

    leg: Leg
    rank: int
    score: float
    kind: ScoreKind
    variant: int = 0
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved document with its score (higher is better) and where it came from.

    ``scores`` keeps every score this hit was given along the pipeline, by kind
    (e.g. ``{"cosine": 0.81, "rrf": 0.032, "rerank": 7.1}``); ``score``/``kind`` is
    the latest one, the one the list is ordered by.
    """

    document: Document
    score: float
    kind: ScoreKind
    sources: tuple[Source, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    group: tuple[Hit, ...] = ()
    """With ``group_by``: the other top hits of this hit's group (its document), best
    first; merge them in document order with :func:`polyvec.grouping.passage`."""

    @property
    def id(self) -> DocId:
        return self.document.id

    def rescored(self, score: float, kind: ScoreKind) -> Hit:
        """A copy with a new primary score, keeping the old one in ``scores``."""
        kept = dict(self.scores)
        kept.setdefault(self.kind, self.score)
        kept[kind] = score
        return replace(self, score=score, kind=kind, scores=kept)

    def __repr__(self) -> str:
        legs = ",".join(f"{s.leg}#{s.rank}" for s in self.sources)
        text = self.document.text[:40] + ("…" if len(self.document.text) > 40 else "")
        group = f", group={len(self.group)}" if self.group else ""
        return (
            f"Hit(id={self.document.id!r}, score={self.score:.4g}, kind={self.kind!r}, "
            f"legs=[{legs}]{group}, text={text!r})"
        )

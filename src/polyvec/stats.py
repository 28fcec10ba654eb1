"""What a collection holds and what its engine reports about it.

:meth:`Collection.statistics <polyvec.collection.Collection.statistics>` returns a
:class:`CollectionStats` (also shown by ``polyvec info``)::

    >>> stats = docs.statistics()  # doctest: +SKIP
    >>> stats  # doctest: +SKIP
    CollectionStats('notes' on qdrant-edge: 2 documents; engine: 2 vectors, 2 indexed,
    1 segment, index green, 1.2 MiB on disk; BM25: 2 documents, 5.5 tokens on average,
    IDF by the engine)

Every engine-side figure is ``None`` where the engine does not report it: polyvec never
estimates one. :class:`EngineStats` is what a backend's
:meth:`~polyvec.backends.base.Backend.collection_stats` returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyvec.errors import CollectionNotFoundError

if TYPE_CHECKING:
    from polyvec.backends.base import Backend
    from polyvec.sparse.bm25 import BM25
    from polyvec.sparse.stats import CorpusStats

__all__ = [
    "BM25Stats",
    "CollectionStats",
    "EngineStats",
    "collection_statistics",
    "directory_bytes",
]


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class EngineStats:
    """What the engine itself reports about one collection (``None``: not reported).

    * ``vectors``: dense vectors (points, rows, entities) stored;
    * ``indexed_vectors``: of those, how many the vector index (HNSW, IVF …) covers;
      vectors outside it are searched exactly until the engine indexes them;
    * ``segments``: the engine's storage segments (Qdrant segments, Milvus segments);
    * ``index``: the vector index and its state, in the engine's words;
    * ``disk_bytes`` / ``memory_bytes``: the collection's size on disk / in memory;
    * ``details``: anything else the engine says, under its own names.
    """

    vectors: int | None = None
    indexed_vectors: int | None = None
    segments: int | None = None
    index: str | None = None
    disk_bytes: int | None = None
    memory_bytes: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "vectors": self.vectors,
            "indexed_vectors": self.indexed_vectors,
            "segments": self.segments,
            "index": self.index,
            "disk_bytes": self.disk_bytes,
            "memory_bytes": self.memory_bytes,
            "details": dict(self.details),
        }

    def summary(self) -> str:
        parts = []
        if self.vectors is not None:
            parts.append(f"{self.vectors} vectors")
        if self.indexed_vectors is not None:
            parts.append(f"{self.indexed_vectors} indexed")
        if self.segments is not None:
            parts.append(f"{self.segments} segment{'s' if self.segments != 1 else ''}")
        if self.index is not None:
            parts.append(f"index {self.index}")
        if self.disk_bytes is not None:
            parts.append(f"{_size(self.disk_bytes)} on disk")
        if self.memory_bytes is not None:
            parts.append(f"{_size(self.memory_bytes)} in memory")
        return ", ".join(parts) or "nothing reported"


@dataclass(frozen=True)
class BM25Stats:
    """polyvec's BM25 corpus statistics for one collection."""

    documents: int
    total_length: int
    terms: int | None
    """Distinct tokens with a document frequency (``None`` where the engine keeps the
    IDF itself and polyvec does not count them)."""
    k1: float
    b: float
    idf: str
    """``"engine"`` (the engine computes IDF, e.g. Qdrant) or ``"polyvec"``."""

    @property
    def average_length(self) -> float:
        return self.total_length / self.documents if self.documents else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "total_length": self.total_length,
            "average_length": self.average_length,
            "terms": self.terms,
            "k1": self.k1,
            "b": self.b,
            "idf": self.idf,
        }


@dataclass(frozen=True)
class CollectionStats:
    """A collection's size, its engine's figures and its BM25 statistics.

    ``documents`` is the engine's count of stored documents (what ``count()`` says);
    ``bm25.documents`` is what polyvec's statistics cover (equal, unless another
    client wrote to the collection behind polyvec's back: reopening the collection
    then rebuilds them).
    """

    collection: str
    backend: str
    documents: int
    dimension: int
    distance: str
    engine: EngineStats
    bm25: BM25Stats | None
    """``None`` for a collection polyvec holds no BM25 statistics for (not written
    by polyvec)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "backend": self.backend,
            "documents": self.documents,
            "dimension": self.dimension,
            "distance": self.distance,
            "engine": self.engine.as_dict(),
            "bm25": self.bm25.as_dict() if self.bm25 is not None else None,
        }

    def __repr__(self) -> str:
        bm25 = self.bm25
        if bm25 is None:
            shown = "none kept by polyvec"
        else:
            terms = f", {bm25.terms} terms" if bm25.terms is not None else ""
            shown = (
                f"{bm25.documents} documents, {bm25.average_length:.1f} tokens on average"
                f"{terms}, IDF by {bm25.idf}"
            )
        return (
            f"CollectionStats({self.collection!r} on {self.backend}: {self.documents} "
            f"documents, dim={self.dimension} {self.distance}; engine: "
            f"{self.engine.summary()}; BM25: {shown})"
        )


def collection_statistics(
    backend: Backend,
    name: str,
    *,
    corpus: CorpusStats | None = None,
    bm25: BM25 | None = None,
) -> CollectionStats:
    """The :class:`CollectionStats` of ``name``; ``corpus`` and ``bm25`` default to the
    statistics and settings saved beside the collection (so that ``polyvec info`` needs
    no embedder)."""
    from polyvec.sparse.bm25 import BM25
    from polyvec.sparse.stats import CorpusStats

    spec = backend.get_spec(name)
    if spec is None:
        raise CollectionNotFoundError(name, backend.capabilities.backend)
    if corpus is None or bm25 is None:
        state = backend.load_state(name) or {}
        if "stats" in state and "bm25" in state:
            corpus = corpus or CorpusStats.from_dict(state["stats"])
            bm25 = bm25 or BM25.from_config(state["bm25"])
    native_idf = backend.capabilities.native_idf
    return CollectionStats(
        collection=name,
        backend=backend.capabilities.backend,
        documents=backend.count(name),
        dimension=spec.dimension,
        distance=spec.distance,
        engine=backend.collection_stats(name),
        bm25=None
        if corpus is None or bm25 is None
        else BM25Stats(
            documents=corpus.n_docs,
            total_length=corpus.total_length,
            terms=corpus.vocabulary_size if corpus.track_df else None,
            k1=bm25.k1,
            b=bm25.b,
            idf="engine" if native_idf else "polyvec",
        ),
    )


def _allocated(stat: os.stat_result) -> int:
    blocks = getattr(stat, "st_blocks", None)  # preallocated (sparse) files: real usage
    return stat.st_size if blocks is None else min(stat.st_size, blocks * 512)


def directory_bytes(path: str | os.PathLike[str]) -> int | None:
    """Disk space the files under ``path`` take (allocated blocks, so that sparse,
    preallocated files count what they use); ``None`` if ``path`` does not exist."""
    root = Path(path)
    if not root.exists():
        return None
    if root.is_file():
        return _allocated(root.stat())
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += _allocated((Path(dirpath) / name).stat())
            except OSError:  # removed while walking
                continue
    return total

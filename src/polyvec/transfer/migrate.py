"""Copy a collection between any two backends, resumably, and verify the copy.

::

    from polyvec.backends.registry import open_backend
    from polyvec.transfer import migrate

    src = open_backend("qdrant+local:///data/qdrant")
    dst = open_backend("postgresql://app@db.internal/rag")
    report = migrate(src, dst, "docs", checkpoint=".polyvec/migrate-docs.jsonl")
    print(report.copied, report.verification.ok)

Documents travel with their dense and sparse vectors, nothing is re-embedded. The
destination collection is created with the source's dimension, distance and sparse
layout (engine-specific options only when both sides are the same engine). polyvec's
own state (BM25 corpus statistics) is copied after the documents, and recomputed from
the texts when the destination needs document frequencies the source never kept. Before
the first document it is saved marked pending, so a destination opened mid-copy (or
after a killed copy) recounts its statistics from what it holds.

Resuming: with ``checkpoint=PATH`` every acknowledged batch is recorded; after an
interruption the same call skips what was already copied. Without it, re-running is
still safe (writes are idempotent by id), only slower. The checkpoint is deleted
once every batch is copied (before verification, which only reads).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.errors import CollectionNotFoundError
from polyvec.safety.crashpoints import crash_point
from polyvec.sparse.bm25 import BM25, CorpusStats
from polyvec.transfer.checkpoint import Checkpoint
from polyvec.transfer.records import doc_key
from polyvec.transfer.verify import DEFAULT_TOLERANCE, VerifyReport, compare
from polyvec.types import Document

__all__ = ["MigrationReport", "copy_spec", "migrate", "verify_copy"]


@dataclass
class MigrationReport:
    """What :func:`migrate` did. ``skipped``: documents a checkpoint said were copied."""

    collection: str
    destination_collection: str
    copied: int = 0
    skipped: int = 0
    seconds: float = 0.0
    state_copied: bool = False
    verification: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def docs_per_second(self) -> float:
        return self.copied / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "destination_collection": self.destination_collection,
            "copied": self.copied,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "state_copied": self.state_copied,
            "verification": None if self.verification is None else self.verification.as_dict(),
            "notes": list(self.notes),
        }


def _engine(backend: Backend) -> str:
    return backend.capabilities.backend


def copy_spec(
    spec: CollectionSpec, source: Backend, destination: Backend, name: str
) -> CollectionSpec:
    """The destination's spec: same layout; engine options only between equal engines."""
    same = _engine(source) == _engine(destination)
    return CollectionSpec(
        name, spec.dimension, spec.distance, spec.sparse, dict(spec.options) if same else {}
    )


class _StateCarrier:
    """Carries polyvec's state; recounts BM25 statistics when the destination needs
    document frequencies that the source's statistics do not track."""

    def __init__(self, state: dict[str, Any] | None, destination: Backend) -> None:
        self.state = state
        self.recount: CorpusStats | None = None
        self.bm25: BM25 | None = None
        if state and "stats" in state and "bm25" in state:
            keeps_df = bool(state["stats"].get("track_df", True))
            if not keeps_df and not destination.capabilities.native_idf:
                self.bm25 = BM25.from_config(state["bm25"])
                self.recount = CorpusStats(track_df=True)

    def see(self, batch: list[Document]) -> None:
        if self.recount is not None and self.bm25 is not None:
            self.recount.add_many(self.bm25.term_counts_many(d.text for d in batch))

    def mark(self) -> dict[str, Any] | None:
        """The write-ahead state to save before the first document."""
        return None if self.state is None else {**self.state, "pending": True}

    def final(self) -> dict[str, Any] | None:
        if self.state is None or self.recount is None:
            return self.state
        return {**self.state, "stats": self.recount.to_dict()}


def migrate(
    source: Backend,
    destination: Backend,
    collection: str,
    destination_collection: str | None = None,
    *,
    batch_size: int = 256,
    checkpoint: str | os.PathLike[str] | None = None,
    restart: bool = False,
    verify: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = True,
) -> MigrationReport:
    """Copy ``collection`` from ``source`` to ``destination`` (see the module doc).

    Raises ``CollectionNotFoundError`` if the source has no such collection,
    ``ConfigurationError`` if the destination has one of another dimension, and
    ``VerificationError`` (after copying) if the copy differs from the source.
    """
    target = destination_collection or collection
    started = time.perf_counter()
    spec = source.get_spec(collection)
    if spec is None:
        raise CollectionNotFoundError(collection, _engine(source))
    destination.create_collection(copy_spec(spec, source, destination, target))
    report = MigrationReport(collection, target)
    carrier = _StateCarrier(source.load_state(collection), destination)
    if carrier.recount is not None:
        report.notes.append("BM25 document frequencies recounted for the destination")
    cp = None
    if checkpoint is not None:
        identity = {
            "source": f"{source!r}/{collection}",
            "destination": f"{destination!r}/{target}",
        }
        cp = Checkpoint.open(checkpoint, identity, restart=restart)
    total = source.count(collection)
    bar = tqdm(
        total=total, desc=f"migrate {collection} → {target}", unit="doc", disable=not progress
    )
    try:
        mark = carrier.mark()
        if mark is not None:
            destination.save_state(target, mark)
        with bar:
            for batch in source.scroll(collection, batch_size=batch_size, with_vectors=True):
                carrier.see(batch)
                todo = batch if cp is None else [d for d in batch if doc_key(d.id) not in cp.done]
                report.skipped += len(batch) - len(todo)
                if todo:
                    destination.upsert(target, todo)
                    crash_point("migrate.copied")
                    if cp is not None:
                        cp.record([d.id for d in todo])
                    report.copied += len(todo)
                bar.update(len(batch))
        state = carrier.final()
        if state is not None:
            destination.save_state(target, state)
            report.state_copied = True
    finally:
        if cp is not None:
            cp.close()
    if cp is not None:  # everything is copied: a re-run needs no checkpoint any more
        cp.remove()
    if verify:
        report.verification = verify_copy(
            source, destination, collection, target, batch_size=batch_size, tolerance=tolerance
        )
        report.verification.raise_for_problems(f"the copy of {collection!r}")
    report.seconds = time.perf_counter() - started
    return report


def verify_copy(
    source: Backend,
    destination: Backend,
    collection: str,
    destination_collection: str | None = None,
    *,
    batch_size: int = 256,
    tolerance: float = DEFAULT_TOLERANCE,
) -> VerifyReport:
    """Compare the two collections document by document (see :func:`compare`)."""
    spec = source.get_spec(collection)
    if spec is None:
        raise CollectionNotFoundError(collection, _engine(source))
    target = destination_collection or collection
    if destination.get_spec(target) is None:
        raise CollectionNotFoundError(target, _engine(destination))
    batches: Iterator[list[Document]] = source.scroll(
        collection, batch_size=batch_size, with_vectors=True
    )
    return compare(
        batches, destination, target, cosine=spec.distance == "cosine", tolerance=tolerance
    )

"""Verify that a destination collection holds exactly the documents of a source.

:func:`compare` walks the source in batches, fetches the same ids from the destination
and compares each document: id (with its type), text, metadata and sparse vector
exactly, the dense vector within a tolerance (see :mod:`polyvec.transfer.records`);
then it compares the counts, so the destination has nothing the source lacks::

    report = compare(source.scroll("docs", with_vectors=True), destination, "docs")
    report.raise_for_problems()      # VerificationError naming what differs
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from polyvec.backends.base import Backend
from polyvec.errors import VerificationError
from polyvec.transfer.records import (
    Digest,
    _content_bytes,
    canonical_json,
    dense_close,
    doc_key,
    sparse_f32,
)
from polyvec.types import Document

__all__ = ["DEFAULT_TOLERANCE", "VerifyReport", "compare"]

DEFAULT_TOLERANCE = 1e-5
"""Largest absolute difference allowed between dense vector components (after
normalising, for cosine collections): far above float32 rounding, far below any
real change of an embedding."""

_MAX_PROBLEMS = 20


@dataclass
class VerifyReport:
    """What a comparison found. ``ok`` when nothing is missing, changed or extra."""

    source: Digest = field(default_factory=Digest)
    destination: Digest = field(default_factory=Digest)
    destination_count: int = 0
    missing: int = 0
    changed: int = 0
    max_dense_diff: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def dense_identical(self) -> bool:
        """The dense vectors are also bit-identical (not only within the tolerance)."""
        return self.ok and self.source.dense == self.destination.dense

    def note(self, problem: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == _MAX_PROBLEMS:
            self.problems.append("… (more differences not listed)")

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source.as_dict(),
            "destination": {**self.destination.as_dict(), "count": self.destination_count},
            "missing": self.missing,
            "changed": self.changed,
            "dense_identical": self.dense_identical,
            "max_dense_diff": self.max_dense_diff,
            "problems": list(self.problems),
        }

    def raise_for_problems(self, what: str = "the copy") -> None:
        if not self.ok:
            raise VerificationError(f"{what} differs from its source", self.problems)


def _differences(a: Document, b: Document) -> list[str]:
    if _content_bytes(a) == _content_bytes(b):
        return []
    out = []
    if a.text != b.text:
        out.append("text")
    if canonical_json(a.metadata) != canonical_json(b.metadata):  # 1 and 1.0 differ here
        out.append("metadata")
    if sparse_f32(a) != sparse_f32(b):
        out.append("sparse vector")
    return out or ["id type"]


def compare(
    source_batches: Iterable[list[Document]],
    destination: Backend,
    collection: str,
    *,
    cosine: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
) -> VerifyReport:
    """Compare every source document with the destination's copy (see module doc)."""
    report = VerifyReport()
    for batch in source_batches:
        report.source.update(batch)
        found = destination.get(collection, [d.id for d in batch], with_vectors=True)
        by_key = {doc_key(d.id): d for d in found}
        for doc in batch:
            copy = by_key.get(doc_key(doc.id))
            if copy is None:
                report.missing += 1
                report.note(f"id {doc.id!r} is missing")
                continue
            report.destination.update([copy])
            diffs = _differences(doc, copy)
            same, diff = dense_close(doc.dense, copy.dense, cosine=cosine, tolerance=tolerance)
            report.max_dense_diff = max(report.max_dense_diff, diff)
            if not same:
                diffs.append(f"dense vector (max difference {diff:.3g} > {tolerance:g})")
            if diffs:
                report.changed += 1
                report.note(f"id {doc.id!r}: {', '.join(diffs)} differ")
    report.destination_count = destination.count(collection)
    if report.destination_count != report.source.count:
        report.note(
            f"the source has {report.source.count} documents, the destination "
            f"{report.destination_count}"
        )
    return report

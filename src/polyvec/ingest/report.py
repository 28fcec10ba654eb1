"""What one sync did: documents added, updated, unchanged, removed, skipped (with
reasons) and failed, plus the chunks embedded and the time it took.

>>> r = SyncReport()
>>> r.added.append("a.md"); r.skip("b.png", "not a document type (.png)")
>>> r.ok, r.summary().splitlines()[0]
(True, 'added 1, updated 0, unchanged 0, removed 0, skipped 1, failed 0 documents; 0 chunks embedded, 0 deleted')
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SyncReport"]


@dataclass
class SyncReport:
    """The outcome of :func:`polyvec.ingest.sync_paths` / ``sync_documents``.

    Lists hold document ids. ``skipped`` and ``failed`` map an id to its reason;
    ``notes`` holds what was changed on the way (NUL characters removed, JSONL lines
    left out). ``ok`` is False when anything failed (the CLI then exits non-zero).
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    """Chunks of changed documents whose text was already stored: their embedding was
    kept, not computed again."""
    chunks_deleted: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def skip(self, doc_id: str, reason: str) -> None:
        self.skipped[doc_id] = reason

    def fail(self, doc_id: str, reason: str) -> None:
        self.failed[doc_id] = reason

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
        }

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"SyncReport({parts}, chunks_embedded={self.chunks_embedded})"

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 3),
            "skipped_reasons": dict(self.skipped),
            "failed_reasons": dict(self.failed),
            "notes": dict(self.notes),
        }

    def summary(self, *, examples: int = 3) -> str:
        """Counts on the first line, then skip reasons (grouped, with a few ids each),
        failures (each) and notes."""
        c = self.counts()
        lines = [
            f"added {c['added']}, updated {c['updated']}, unchanged {c['unchanged']}, "
            f"removed {c['removed']}, skipped {c['skipped']}, failed {c['failed']} documents; "
            f"{self.chunks_embedded} chunks embedded"
            + (f" ({self.chunks_reused} kept their embedding)" if self.chunks_reused else "")
            + f", {self.chunks_deleted} deleted"
            + (f" in {self.seconds:.1f}s" if self.seconds else "")
        ]
        by_reason: dict[str, list[str]] = defaultdict(list)
        for doc_id, reason in self.skipped.items():
            by_reason[_reason_key(reason)].append(doc_id)
        for reason, ids in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(ids[:examples]) + (" …" if len(ids) > examples else "")
            lines.append(f"  skipped {len(ids)}: {reason} ({shown})")
        for doc_id, reason in self.failed.items():
            lines.append(f"  FAILED {doc_id}: {reason}")
        for doc_id, note in list(self.notes.items())[: examples * 3]:
            lines.append(f"  note {doc_id}: {note}")
        if len(self.notes) > examples * 3:
            lines.append(f"  … and {len(self.notes) - examples * 3} more notes")
        return "\n".join(lines)


def _reason_key(reason: str) -> str:
    # "same content as X" and "alias of X" group by their kind, not by X
    for prefix in ("same content as ", "alias of ", "same document id as "):
        if reason.startswith(prefix):
            return prefix + "another file"
    return reason

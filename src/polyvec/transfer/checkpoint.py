"""A resumable copy's checkpoint: the ids already written, one fsync'd line per batch.

The first line names the copy (source, destination, collections); each later line
lists the ids of one batch, appended only after the destination acknowledged it.
A crash between the write and the line costs one batch written twice, which is
harmless (ids are idempotent). A torn last line (killed mid-write) is ignored::

    cp = Checkpoint.open(path, {"source": "...", "destination": "..."})
    for batch in batches:
        if all(doc_key(d.id) in cp.done for d in batch):
            continue
        destination.upsert(name, batch)
        cp.record([d.id for d in batch])
    cp.remove()   # after the copy is verified
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from polyvec.errors import ConfigurationError
from polyvec.transfer.records import doc_key
from polyvec.types import DocId

__all__ = ["Checkpoint"]

_FORMAT = "polyvec-checkpoint/1"


class Checkpoint:
    """Ids copied so far (``done``, keys from :func:`~polyvec.transfer.records.doc_key`)."""

    def __init__(self, path: Path, identity: Mapping[str, str], done: set[Any]) -> None:
        self.path = path
        self.identity = dict(identity)
        self.done = done
        self.resumed = len(done)
        self._file: IO[str] | None = None

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], identity: Mapping[str, str], *, restart: bool = False
    ) -> Checkpoint:
        """Resume from ``path`` if it exists for the same copy, else start it.

        A checkpoint written for another copy raises ``ConfigurationError`` (unless
        ``restart``, which discards it)."""
        p = Path(path)
        done: set[Any] = set()
        if p.exists() and not restart:
            lines = p.read_text(encoding="utf-8").splitlines()
            header = _parse(lines[0]) if lines else None
            if not header or header.get("format") != _FORMAT:
                raise ConfigurationError(
                    f"{p} is not a polyvec checkpoint: delete it, pass another --checkpoint, "
                    "or --restart"
                )
            if header.get("identity") != dict(identity):
                raise ConfigurationError(
                    f"the checkpoint {p} belongs to another copy ({header.get('identity')}): "
                    "pass --restart to discard it, or another --checkpoint path"
                )
            for line in lines[1:]:
                entry = _parse(line)
                if entry is None:  # a torn last line: that batch is simply copied again
                    continue
                done.update(doc_key(i) for i in entry["ids"])
            checkpoint = cls(p, identity, done)
            checkpoint._file = p.open("a", encoding="utf-8")
            return checkpoint
        p.parent.mkdir(parents=True, exist_ok=True)
        checkpoint = cls(p, identity, done)
        checkpoint._file = p.open("w", encoding="utf-8")
        checkpoint._write({"format": _FORMAT, "identity": dict(identity)})
        return checkpoint

    def _write(self, entry: Mapping[str, Any]) -> None:
        assert self._file is not None, "checkpoint is closed"
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def record(self, ids: Sequence[DocId]) -> None:
        """Note a batch the destination acknowledged (durably, before returning)."""
        self._write({"ids": list(ids)})
        self.done.update(doc_key(i) for i in ids)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Close and delete the file (the copy is complete and verified)."""
        self.close()
        self.path.unlink(missing_ok=True)


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None

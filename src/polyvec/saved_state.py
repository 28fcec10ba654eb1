"""A collection's saved state as one writer sees it: how concurrent writers notice
each other.

Every save of the state (BM25 statistics, settings) carries a ``generation`` — one
more than the last one this writer read or wrote — and a ``writer`` token, one per open
:class:`~polyvec.collection.Collection`. A writer whose last seen (generation, writer)
pair is no longer the stored one knows that another writer saved in between: it reloads
the statistics before it writes, and if it happened while it was writing, it does not
save a view that misses the other writer's change (it saves the statistics marked
pending, for the next open to recount). Where writers are kept apart
(:meth:`~polyvec.backends.base.Backend.write_section` yields ``True``) the second case
cannot happen. docs/data-safety.md states the guarantee.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from polyvec.backends.base import Backend

__all__ = ["SavedState"]


def _stamp(state: Mapping[str, Any] | None) -> tuple[int, str]:
    if not state:
        return (0, "")
    return (int(state.get("generation", 0)), str(state.get("writer", "")))


class SavedState:
    """The saved state of collection ``name`` on ``backend``, read and written by one
    writer that remembers the last (generation, writer) it saw."""

    def __init__(self, backend: Backend, name: str) -> None:
        self.backend = backend
        self.name = name
        self.writer = uuid.uuid4().hex
        self._seen = _stamp(None)

    def load(self) -> dict[str, Any] | None:
        """The stored state (``None`` if there is none), now the one last seen."""
        state = self.backend.load_state(self.name)
        self._seen = _stamp(state)
        return state

    def save(self, body: Mapping[str, Any], *, pending: bool) -> None:
        """Save ``body`` as the next generation, by this writer."""
        generation = self._seen[0] + 1
        stamped = {**body, "pending": pending, "generation": generation, "writer": self.writer}
        self.backend.save_state(self.name, stamped)
        self._seen = (generation, self.writer)

    def moved(self) -> dict[str, Any] | None:
        """The stored state if another writer saved since this one last read or wrote
        (it becomes the one last seen), else ``None``."""
        stored = self.backend.load_state(self.name)
        if stored is None or _stamp(stored) == self._seen:
            return None
        self._seen = _stamp(stored)
        return stored

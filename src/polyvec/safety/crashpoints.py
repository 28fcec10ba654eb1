"""Named points where the fault tests kill the process on purpose.

``POLYVEC_CRASH_AT=NAME`` (or ``NAME:N``, the N-th time it is reached) makes
:func:`crash_point` send SIGKILL to its own process there, so a test can stop a writer
exactly between two steps that a random kill would only rarely separate (e.g. between
an engine's upsert and polyvec's generation update). Unset, it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["crash_point"]

_reached: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here (SIGKILL, no clean-up) when ``POLYVEC_CRASH_AT`` names this point."""
    wanted = os.environ.get("POLYVEC_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _reached[name] = _reached.get(name, 0) + 1
        if _reached[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

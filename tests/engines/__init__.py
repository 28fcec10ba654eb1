"""Real engines for the tests, one module per engine.

Each module here defines:

* ``VARIANTS``: the backend variant names it serves (e.g. ``("qdrant-memory", "qdrant-path")``),
  each also a pytest marker's name up to the first ``-`` (``qdrant``);
* ``start(tmp_dir: pathlib.Path) -> Engine``: start the engine once per test session
  (a server process, or nothing for an embedded engine) and return an :class:`Engine`.

Engines are started lazily by ``tests/conftest.py`` the first time a test asks for
one of their variants, and stopped (by pid, for servers) at the end of the session.
If an engine cannot start, its tests are skipped — unless its name is listed in
``POLYVEC_REQUIRE`` (CI sets it), where that skip becomes a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from polyvec.backends.base import Backend


@dataclass
class Engine:
    """A started engine: ``make(variant, namespace)`` returns a fresh Backend for one
    test (``namespace`` is unique per test, for engines that share one server);
    ``stop()`` stops whatever ``start`` started."""

    make: Callable[[str, str], Backend]
    stop: Callable[[], None] = field(default=lambda: None)
    url: Callable[[str, str], str] | None = None
    """Optional: the ``polyvec.connect`` URL for a variant and namespace."""

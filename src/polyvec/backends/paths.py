"""Where an embedded store lives: checked before a URL opens (or creates) one.

A URL naming an embedded store (``qdrant-edge://``, ``qdrant+local://``,
``chroma+local://``, ``milvus+lite://``) creates the store when it does not exist yet;
a typo in its *parent* directory would otherwise create a new, empty store somewhere
unexpected and look like an empty collection. So the parent must exist (or be
polyvec's own ``.polyvec`` directory, which the default store creates)::

    >>> check_store_path("qdrant-edge:///no/such/dir/store", "/no/such/dir/store")
    Traceback (most recent call last):
    ...
    polyvec.errors.ConfigurationError: 'qdrant-edge:///no/such/dir/store' names a store in '/no/such/dir', which does not exist: ...
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from polyvec.errors import ConfigurationError
from polyvec.redaction import redact_url

__all__ = ["OWN_DIR", "check_store_path", "checked_store_url", "probe_writable"]

OWN_DIR = ".polyvec"
"""polyvec's own directory (the default store is ``./.polyvec/data``): made as needed."""


def probe_writable(folder: str | os.PathLike[str]) -> None:
    """Create and remove a file in ``folder``, or raise the ``OSError`` that says why not:
    permission bits do not tell (root passes them; read-only mounts, /proc)."""
    fd, probe = tempfile.mkstemp(prefix=".polyvec-probe-", dir=folder)
    os.close(fd)
    os.unlink(probe)


def check_store_path(url: str, path: str) -> None:
    """Raise ``ConfigurationError`` unless ``path`` exists, or its parent is a writable
    directory where it can be created."""
    where = Path(path).expanduser()
    if where.exists():
        return
    parent = where.parent
    shown = redact_url(url)
    if parent.name == OWN_DIR and parent.parent.is_dir():
        parent.mkdir(exist_ok=True)  # polyvec's own directory (the default store's)
        return
    if not parent.is_dir():
        raise ConfigurationError(
            f"{shown!r} names a store in {str(parent)!r}, which does not exist: check the "
            f"path for a typo, or create that directory first (mkdir -p {parent}) to make a "
            "new store there"
        )
    try:
        probe_writable(parent)
    except OSError as exc:
        raise ConfigurationError(
            f"{shown!r} names a new store in {str(parent)!r}, where this process cannot "
            f"create files ({exc.strerror or exc}): choose a writable directory"
        ) from exc


def checked_store_url(url: str, parsed: dict[str, Any]) -> dict[str, Any]:
    """``parsed`` (a backend's parsed URL), after :func:`check_store_path` on the store
    path it names, if any: what ``from_url`` of an embedded-capable backend opens."""
    if isinstance(parsed.get("path"), str):
        check_store_path(url, parsed["path"])
    return parsed

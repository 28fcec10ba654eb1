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

from polyvec.errors import ConfigurationError
from polyvec.redaction import redact_url

__all__ = ["OWN_DIR", "check_store_path"]

OWN_DIR = ".polyvec"
"""polyvec's own directory (the default store is ``./.polyvec/data``): made as needed."""


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
    try:  # the permission bits do not tell (root, read-only mounts, /proc): try it
        fd, probe = tempfile.mkstemp(prefix=".polyvec-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(
            f"{shown!r} names a new store in {str(parent)!r}, where this process cannot "
            f"create files ({exc.strerror or exc}): choose a writable directory"
        ) from exc

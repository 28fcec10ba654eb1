"""Find the files to ingest under some roots, each with an identity that does not depend
on how the path was typed or where the command ran.

A file's identity is its path relative to the root it was found under (a directory
argument is a root; a file argument's root is its directory), with ``/`` separators,
plus an optional caller-given prefix: ``polyvec ingest ../corpus`` and
``polyvec ingest /abs/path/corpus`` both give ``x.txt``. A file name that is not UTF-8
keeps its bytes as ``\\xNN`` escapes, so its identity is stable and printable.

Hidden directories (``.git``, ``.venv`` …) are not entered. A file whose suffix is not
a document type (:data:`~polyvec.ingest.loaders.FORMATS`, man pages) is skipped with
that reason unless an ``include`` pattern names it: then it is read as text.

>>> from polyvec.ingest.files import identity
>>> identity(b"caf\\xe9.txt".decode("utf-8", "surrogateescape"))
'caf\\\\xe9.txt'
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from polyvec.errors import InputError
from polyvec.ingest.loaders import Loaded, Skip, format_of, load_bytes

__all__ = ["FoundFile", "find_files", "identity", "read_files", "require_paths"]


@dataclass(frozen=True)
class FoundFile:
    """A file to read: ``doc_id`` (its identity), ``path`` on disk, ``fmt`` its format
    (``None``: read as text because an ``include`` pattern asked for it)."""

    doc_id: str
    path: str
    fmt: str | None


def identity(relative: str) -> str:
    """A relative path as a stable, printable identity: ``/`` separators, non-UTF-8
    bytes of the name as ``\\xNN``."""
    raw = os.fsencode(relative).replace(os.sep.encode(), b"/")
    return raw.decode("utf-8", "backslashreplace")


def _matches(patterns: Sequence[str], name: str, rel: str) -> bool:
    return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) for g in patterns)


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath, f) for f in sorted(filenames))
    return sorted(out)


def require_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` as :class:`Path` objects, or ``InputError`` naming the first that does
    not exist — checked before a store is opened or a model loaded, so a typo leaves
    nothing behind."""
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise InputError(f"{os.fsdecode(root)!r} does not exist: pass files or directories")
    return roots


def find_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    limit: int | None = None,
    id_prefix: str = "",
) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """``(files, skipped)``: the files under ``paths`` to read, in order, and
    ``(doc_id, reason)`` for each file found and not selected. ``include``/``exclude``
    are shell patterns matched against the file name and its relative path; ``limit``
    keeps the first files. A path that does not exist raises ``InputError`` before
    anything is read."""
    roots = require_paths(paths)
    files: list[FoundFile] = []
    skipped: list[tuple[str, str]] = []
    for root in roots:
        candidates = _walk(root) if root.is_dir() else [root]
        base = root if root.is_dir() else root.parent
        for path in candidates:
            doc_id = id_prefix + identity(os.path.relpath(path, base))
            name = path.name
            if include and not _matches(include, name, doc_id):
                continue  # not asked for: not reported
            if _matches(exclude, name, doc_id):
                continue
            if not path.is_file():
                skipped.append((doc_id, "not a regular file"))
                continue
            fmt = format_of(identity(name))
            if fmt is None and not include:
                suffix = path.suffix or "(no suffix)"
                skipped.append(
                    (
                        doc_id,
                        f"not a document type ({suffix}): --include '*{path.suffix}' "
                        "reads such files as text",
                    )
                )
                continue
            files.append(FoundFile(doc_id, str(path), fmt))
    if limit is not None:
        files = files[:limit]
    return files, skipped


def read_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    limit: int | None = None,
    workers: int = 4,
) -> Iterator[tuple[str, Loaded]]:
    """``(doc_id, document)`` for every document in the files under ``paths``, in order,
    read ``workers`` at a time; files that are skipped (:class:`Skip`) are left out
    silently (``polyvec.ingest.sync_paths`` reports them)::

        for doc_id, doc in read_files(["/usr/share/man/man1"], exclude=["gcloud*"]):
            print(doc_id, doc.title, len(doc.text))
    """
    files, _ = find_files(paths, include=include, exclude=exclude, limit=limit)

    def load(f: FoundFile) -> list[tuple[str, Loaded]]:
        try:
            with open(f.path, "rb") as fh:
                docs = load_bytes(fh.read(), f.doc_id, f.fmt, path=f.path)
        except Skip:
            return []
        return [(f"{f.doc_id}:{d.key}" if d.key else f.doc_id, d) for d in docs]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(files), 64):
            for found in pool.map(load, files[start : start + 64]):
                yield from found

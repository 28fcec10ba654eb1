"""Read files for ingest: plain text and Markdown as they are, man pages rendered to text.

>>> from polyvec.loaders import iter_sources
>>> callable(iter_sources)
True
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from polyvec.errors import ConfigurationError, InputError

__all__ = ["MAN_PAGE", "Source", "iter_sources", "render_man_page"]

TEXT_SUFFIXES = {".txt", ".md", ".rst", ".markdown", ".text"}
MAN_PAGE = re.compile(r"\.\d[\w]*(\.gz|\.bz2|\.xz)?$")
"""File names that look like man pages: ``ls.1.gz``, ``openssl.1ssl``."""


@dataclass(frozen=True)
class Source:
    """One loaded file: its path, a title, and its text."""

    path: str
    title: str
    text: str


def render_man_page(path: str | os.PathLike[str], width: int = 100) -> str:
    """Render a man page file to plain text with ``man -l`` (no formatting codes)."""
    if shutil.which("man") is None:
        raise ConfigurationError(
            "rendering man pages needs the `man` command: apt-get install man-db groff-base"
        )
    env = {**os.environ, "MANWIDTH": str(width), "MAN_KEEP_FORMATTING": "", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        ["man", "-l", "-E", "UTF-8", "-P", "cat", str(path)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    text = proc.stdout.decode("utf-8", "replace")
    # strip overstrike sequences (bold: c\bc, underline: _\bc) that some pagers leave in
    return re.sub(r".\x08", "", text)


def _title(path: Path) -> str:
    name = path.name
    match = MAN_PAGE.search(name)
    return name[: match.start()] if match else path.stem


def _load(path: Path) -> Source | None:
    if MAN_PAGE.search(path.name) and path.suffix not in TEXT_SUFFIXES:
        text = render_man_page(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return None  # binary file: not text to ingest
    if not text.strip():
        return None
    return Source(str(path), _title(path), text)


def _walk(
    paths: Sequence[str | os.PathLike[str]], include: Sequence[str], exclude: Sequence[str]
) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path} does not exist")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if include and not any(fnmatch.fnmatch(f.name, g) for g in include):
                continue
            if any(fnmatch.fnmatch(f.name, g) for g in exclude):
                continue
            if f.suffix.lower() in TEXT_SUFFIXES or MAN_PAGE.search(f.name):
                yield f


def iter_sources(
    paths: Sequence[str | os.PathLike[str]],
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    limit: int | None = None,
    workers: int = 4,
) -> Iterator[Source]:
    """Load text files, Markdown and man pages under ``paths`` (files or directories),
    in sorted order. ``include``/``exclude`` are shell patterns on file names."""
    files = list(_walk(paths, list(include), list(exclude)))
    if limit is not None:
        files = files[:limit]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for source in pool.map(_load, files):
            if source is not None:
                yield source

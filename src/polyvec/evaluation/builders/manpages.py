"""A BEIR dataset from the system's man pages: section 1 by default, or any sections.

* **query**: the description in the page's NAME line (``ls - list directory contents``
  → ``list directory contents``);
* **document**: the rendered page (``man -l``) without its NAME section, running
  header and footer; its title is the command name(s) from the NAME line;
* **gcloud**: most of section 1 here is Google Cloud SDK reference pages, generated
  from one template, three release tracks per command (``gcloud_alpha_…``,
  ``gcloud_beta_…`` and GA). The alpha and beta tracks are near-copies of the GA page
  and are left out; of the GA pages a fixed sample of ``gcloud`` pages (the first ones
  by SHA-1 of the file name) is kept, so that the corpus has the template-shaped
  near-duplicate family a real documentation index has, without the benchmark
  becoming a gcloud benchmark;
* **length cap**: pages longer than ``max_words`` words (default 3,000: about 17
  model windows; 137 of 1,283 pages here, e.g. bash, curl, git-config) are left out,
  page and query, to keep the benchmark's embedding cost to minutes on a CPU — they
  would be 60 % of all chunks. ``max_words=0`` keeps every page;
* **dropped descriptions**: help2man's placeholder ``manual page for …`` (not a
  description), descriptions of fewer than two words, and pages whose NAME line
  has no ``name - description`` form; then the shared rules of
  :mod:`polyvec.evaluation.builders.common` (duplicate pages merged, descriptions
  shared by several pages dropped, fixed hash split).

* **other sections**: ``man_dir`` takes several directories, e.g. sections 2, 3, 5, 7
  and 8 (system calls, C library, file formats, overviews, administration) for a second
  man-page set of another genre (``name`` keeps the two apart). Pages that are
  ``.so`` aliases of one page render to the same text and are merged as duplicates.

Usage::

    polyvec dataset manpages datasets/manpages --gcloud 300
    polyvec dataset manpages datasets/mansys --name mansys \\
        --man-dir /usr/share/man/man2 --man-dir /usr/share/man/man3 --man-dir /usr/share/man/man5 \\
        --man-dir /usr/share/man/man7 --man-dir /usr/share/man/man8
    # or
    from polyvec.evaluation.builders import build_manpages
    path = build_manpages("datasets/manpages", gcloud=300)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polyvec.evaluation.beir import write_beir
from polyvec.evaluation.builders.common import RawPair, assemble
from polyvec.ingest.loaders import MAN_PAGE, render_man_page

__all__ = ["build_manpages", "parse_page", "select_pages"]

_HEADING = re.compile(r"^[A-Z][A-Z0-9 ,&/()'-]*$")
_RUNNING = re.compile(r"\(\d[\w]*\)\s*$")
_SEPARATOR = re.compile(r"\s+[-\u2010\u2013\u2014\u2212]+\s+")
_HYPHENATED = re.compile(r"(\w)\u2010\n\s*(\w)")
_PLACEHOLDER = re.compile(r"^manual page for\b", re.IGNORECASE)


def _is_gcloud(name: str) -> bool:
    return name == "gcloud" or name.startswith("gcloud_")


def _page_name(path: Path) -> str:
    match = MAN_PAGE.search(path.name)
    base = path.name[: match.start()] if match else path.name
    suffix = match.group(0) if match else ""
    return base + re.sub(r"\.(gz|bz2|xz)$", "", suffix)


ManDirs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _dirs(man_dir: ManDirs) -> list[Path]:
    return (
        [Path(man_dir)] if isinstance(man_dir, (str, os.PathLike)) else [Path(d) for d in man_dir]
    )


def select_pages(man_dir: ManDirs, gcloud: int) -> list[Path]:
    """The page files used, sorted: every non-gcloud page, plus ``gcloud`` GA-track
    gcloud pages chosen by SHA-1 of the file name (alpha/beta tracks never).
    ``man_dir`` is one directory or several (their pages are pooled)."""
    files = sorted(
        p for d in _dirs(man_dir) for p in d.iterdir() if p.is_file() and MAN_PAGE.search(p.name)
    )
    plain = [p for p in files if not _is_gcloud(p.name.split(".")[0])]
    ga = [
        p
        for p in files
        if _is_gcloud(p.name.split(".")[0])
        and not p.name.startswith(("gcloud_alpha", "gcloud_beta"))
    ]
    ga.sort(key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    return sorted(plain + ga[: max(gcloud, 0)])


def parse_page(text: str) -> tuple[str, str, str] | None:
    """``(names, description, body)`` of a rendered page, or ``None`` when it has no
    usable NAME section. The body is the page without NAME, header and footer."""
    text = _HYPHENATED.sub(r"\1\2", text)
    lines = text.splitlines()
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if len(nonblank) < 3:
        return None
    drop = {i for i in (nonblank[0], nonblank[-1]) if _RUNNING.search(lines[i])}
    start = next((i for i, line in enumerate(lines) if line.strip() == "NAME"), None)
    if start is None:
        return None
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].strip() and not lines[i].startswith(" ") and _HEADING.match(lines[i])
        ),
        len(lines),
    )
    name_line = " ".join(" ".join(lines[start + 1 : end]).split())
    parts = _SEPARATOR.split(name_line, maxsplit=1)
    if len(parts) != 2:
        return None
    names, description = parts[0].strip(), parts[1].strip()
    body_lines = [line for i, line in enumerate(lines) if i not in drop and not start <= i < end]
    body = "\n".join(body_lines).strip()
    return names, description, body


def _usable(description: str) -> bool:
    return len(description.split()) >= 2 and not _PLACEHOLDER.match(description)


def _render_cached(path: Path, cache_dir: Path | None) -> str:
    if cache_dir is None:
        return render_man_page(path)
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    cached = cache_dir / f"{key}.txt"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    text = render_man_page(path)
    cached.write_text(text, encoding="utf-8")
    return text


def iter_pairs(
    files: list[Path], *, cache_dir: Path | None = None, workers: int = 2
) -> Iterator[RawPair]:
    """Render and parse pages; pages without a usable description are skipped."""
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        texts = pool.map(lambda p: _render_cached(p, cache_dir), files)
        for path, text in zip(files, texts):
            parsed = parse_page(text)
            if parsed is None or not _usable(parsed[1]) or len(parsed[2].split()) < 20:
                continue
            names, description, body = parsed
            page = _page_name(path)
            yield RawPair(page, names, description, body, {"file": path.name})


def build_manpages(
    out: str | os.PathLike[str],
    *,
    man_dir: ManDirs = "/usr/share/man/man1",
    gcloud: int = 300,
    max_words: int = 3000,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 2,
    name: str = "manpages",
) -> Path:
    """Build the man-page dataset into ``out`` (BEIR files, ``qrels/dev.tsv`` and
    ``qrels/test.tsv``, and ``dataset.json`` with the construction and counts).
    ``cache_dir`` keeps rendered pages between runs (rendering is ~0.1 s a page)."""
    files = select_pages(man_dir, gcloud)
    pairs = list(
        iter_pairs(files, cache_dir=Path(cache_dir) if cache_dir else None, workers=workers)
    )
    too_long = [p for p in pairs if max_words and len(p.body.split()) > max_words]
    pairs = [p for p in pairs if not (max_words and len(p.body.split()) > max_words)]
    info = {
        "source": ", ".join(str(d) for d in _dirs(man_dir)),
        "builder": "polyvec.evaluation.builders.manpages",
        "pages_considered": len(files),
        "pages_with_description": len(pairs),
        "gcloud_ga_sample": gcloud,
        "max_words": max_words,
        "pages_over_max_words": len(too_long),
        "query": "NAME line description",
        "document": "rendered page without NAME section, header and footer",
        "split": "sha1(doc id) mod 5 == 0 -> dev, else test",
    }
    dataset, splits, queries, _ = assemble(pairs, name, info)
    return write_beir(dataset, out, splits=splits, all_queries=queries)

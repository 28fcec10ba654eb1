"""A graded BEIR dataset with several relevant documents per query, from the man pages.

* **corpus**: the man pages of sections 1 to 8 pooled (section 1 with the same fixed
  ``gcloud`` sample and ``max_words`` cap as :mod:`~polyvec.evaluation.builders.manpages`),
  each the rendered page without its NAME section, header and footer, titled with the
  command or function name(s) of its NAME line;
* **query**: a page's NAME description (``stat - get file status`` → ``get file status``);
* **relevant**: the page itself, **grade 2**, and every page its ``SEE ALSO`` section
  names that is in the corpus (``ls(1)`` → ``ls.1``), **grade 1** — the page's authors'
  own list of related pages; a page whose ``SEE ALSO`` names no other page of the corpus
  gives no query (it stays in the corpus);
* then :func:`~polyvec.evaluation.builders.common.assemble_judged`: identical pages
  merged (an alias named in ``SEE ALSO`` counts as the page it renders to), query texts
  shared by pages with different judgements dropped, split by ``sha1(page id)``.

Usage::

    polyvec dataset manpages-graded datasets/mangraded --render-cache .data/man-render
    # or
    from polyvec.evaluation.builders import build_manpages_graded
    build_manpages_graded("datasets/mangraded")
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from polyvec.evaluation.beir import CorpusDoc, write_beir
from polyvec.evaluation.builders.common import JudgedQuery, assemble_judged
from polyvec.evaluation.builders.manpages import ManDirs, iter_pairs, select_pages

__all__ = ["DEFAULT_MAN_DIRS", "build_manpages_graded", "see_also"]

DEFAULT_MAN_DIRS: tuple[str, ...] = tuple(f"/usr/share/man/man{s}" for s in range(1, 9))
"""Sections 1 to 8 of the system's man pages (those that exist are used)."""

_REFERENCE = re.compile(r"([A-Za-z_][\w.+:-]*)\((\d\w*)\)")


def see_also(body: str) -> list[str]:
    """Page ids (``name.section``) named in the ``SEE ALSO`` section of a rendered page
    body, in order, without repeats.

    >>> see_also("DESCRIPTION\\n       x\\n\\nSEE ALSO\\n       ls(1), stat(2)\\n\\nBUGS\\n  y(3)")
    ['ls.1', 'stat.2']
    """
    lines = body.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "SEE ALSO"), None)
    if start is None or lines[start].startswith(" "):
        return []
    section: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            break  # the next section's heading
        section.append(line)
    names = (f"{m.group(1)}.{m.group(2)}" for m in _REFERENCE.finditer(" ".join(section)))
    return list(dict.fromkeys(names))


def build_manpages_graded(
    out: str | os.PathLike[str],
    *,
    man_dir: ManDirs = DEFAULT_MAN_DIRS,
    gcloud: int = 300,
    max_words: int = 3000,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 2,
    name: str = "mangraded",
) -> Path:
    """Build the graded man-page dataset into ``out`` (BEIR files, both splits,
    ``dataset.json``). Directories of ``man_dir`` that do not exist are skipped."""
    dirs: Sequence[str | os.PathLike[str]] = (
        [man_dir] if isinstance(man_dir, (str, os.PathLike)) else list(man_dir)
    )
    present = [d for d in dirs if Path(d).is_dir()]
    files = select_pages(present, gcloud)
    pairs = list(
        iter_pairs(files, cache_dir=Path(cache_dir) if cache_dir else None, workers=workers)
    )
    kept = [p for p in pairs if not (max_words and len(p.body.split()) > max_words)]
    ids = {p.id for p in kept}
    docs = [CorpusDoc(p.id, p.body, p.title, dict(p.metadata)) for p in kept]
    queries = []
    links = 0
    for pair in kept:
        related = [r for r in see_also(pair.body) if r in ids and r != pair.id]
        links += len(related)
        if related:
            relevant = {pair.id: 2, **{r: 1 for r in related}}
            queries.append(JudgedQuery(f"q:{pair.id}", pair.description, relevant, pair.id))
    info = {
        "source": ", ".join(str(d) for d in present),
        "builder": "polyvec.evaluation.builders.manpages_graded",
        "pages_considered": len(files),
        "pages_with_description": len(pairs),
        "pages_over_max_words": len(pairs) - len(kept),
        "gcloud_ga_sample": gcloud,
        "max_words": max_words,
        "see_also_links_in_corpus": links,
        "query": "NAME line description of a page whose SEE ALSO names pages of the corpus",
        "document": "rendered page without NAME section, header and footer",
        "relevance": "the page itself = 2, each page its SEE ALSO names = 1",
        "split": "sha1(page id) mod 5 == 0 -> dev, else test",
    }
    dataset, splits, texts, _ = assemble_judged(docs, queries, name, info)
    return write_beir(dataset, out, splits=splits, all_queries=texts)

"""A large heterogeneous BEIR dataset: the Linux kernel's ``Documentation/`` tree.

The source is the kernel's documentation sources as Debian ships them in ``linux-doc``
(``apt-get install linux-doc`` → ``/usr/share/doc/linux-doc/Documentation``, files
gzip-compressed), or the ``Documentation/`` directory of any kernel source tree
(uncompressed files are read as well). reStructuredText guides, plain-text notes,
devicetree binding schemas (YAML) and ABI descriptions, by thousands of authors.

* **corpus**: passages of at most ``passage_words`` words (default 100): each file is
  cut into sections at its reStructuredText headings, a section's text into paragraphs,
  and consecutive paragraphs of one section are joined up to the limit (a longer
  paragraph is cut); headings themselves are not in any passage. Each passage is titled
  with its file's title (the first heading, a YAML schema's ``title:``, else the path).
  ``translations/`` (not English) is left out; so are scripts, images and build files;
* **query**: a section heading below the file's title (``Describe your changes``),
  with leading numbering removed; 2 to 20 words;
* **relevant**: the passages of that section's own text (grade 1), at most
  ``max_relevant`` (default 30; larger sections give no query);
* then :func:`~polyvec.evaluation.builders.common.assemble_judged` (identical passages
  merged, a heading shared by sections with different passages dropped, split by
  ``sha1(query id)``).

Usage::

    polyvec dataset kernel-docs datasets/kerneldocs
    # or
    from polyvec.evaluation.builders import build_kernel_docs
    build_kernel_docs("datasets/kerneldocs", docs_dir="/usr/share/doc/linux-doc/Documentation")
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from polyvec.errors import InputError
from polyvec.evaluation.beir import CorpusDoc, write_beir
from polyvec.evaluation.builders.common import JudgedQuery, assemble_judged

__all__ = [
    "DEFAULT_DOCS_DIR",
    "Section",
    "build_kernel_docs",
    "passages",
    "rst_sections",
]

DEFAULT_DOCS_DIR = "/usr/share/doc/linux-doc/Documentation"
"""Where Debian's ``linux-doc`` installs the kernel's documentation sources."""

_UNDERLINE = re.compile(r"^([=\-~^\"'*+#`:.])\1{2,}\s*$")
_NUMBERING = re.compile(r"^\s*(\d+(\.\d+)*[.)]?|[A-Za-z][.)]|[IVX]+\.)\s+")
_DROP_BLOCK = re.compile(r"^(\.\. (_|SPDX|toctree::|include::|kernel-|only::|contents::)|:orphan:)")
_TEXT_SUFFIXES = (".rst", ".txt", ".yaml", "")
_YAML_TITLE = re.compile(r"^title:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    """One section of a file: heading level (0 = the file's title style), heading
    text (``""`` for text before the first heading) and its own lines."""

    level: int
    heading: str
    lines: tuple[str, ...]


def rst_sections(text: str) -> list[Section]:
    """Cut reStructuredText into sections at its headings (underlined, optionally
    overlined; levels in order of first appearance, as docutils assigns them).

    >>> [(s.level, s.heading) for s in rst_sections("Title\\n=====\\n\\nx\\n\\nPart\\n----\\ny\\n")]
    [(0, 'Title'), (1, 'Part')]
    """
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    heads: list[tuple[int, str, int, int]] = []  # level, heading, first line, body start
    i = 0
    while i < len(lines) - 1:
        line, under = lines[i], lines[i + 1]
        if (
            line.strip()
            and not line[0].isspace()
            and not _UNDERLINE.match(line)
            and _UNDERLINE.match(under)
            and len(under.rstrip()) >= len(line.rstrip()) - 1
        ):
            over = i > 0 and bool(_UNDERLINE.match(lines[i - 1])) and lines[i - 1][0] == under[0]
            style = (under[0], over)
            if style not in styles:
                styles.append(style)
            heads.append((styles.index(style), line.strip(), i - int(over), i + 2))
            i += 2
            continue
        i += 1
    out: list[Section] = []
    first = heads[0][2] if heads else len(lines)
    if any(x.strip() for x in lines[:first]):
        out.append(Section(-1, "", tuple(lines[:first])))
    for j, (level, heading, _, body) in enumerate(heads):
        end = heads[j + 1][2] if j + 1 < len(heads) else len(lines)
        out.append(Section(level, heading, tuple(lines[body:end])))
    return out


def passages(lines: tuple[str, ...] | list[str], max_words: int = 100) -> list[str]:
    """Paragraphs (blank-line separated) joined up to ``max_words`` words per passage,
    longer paragraphs cut; rst labels, comments and toctrees dropped.

    >>> passages(["one two", "", "three", "", ".. _label:"], max_words=3)
    ['one two\\nthree']
    """
    paragraphs: list[list[str]] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            if not _DROP_BLOCK.match(block[0].lstrip()):
                paragraphs.append(" ".join(" ".join(block).split()).split())
            block = []
    out: list[str] = []
    current: list[str] = []
    pieces: list[list[str]] = []
    for words in paragraphs:
        for start in range(0, len(words), max_words):
            pieces.append(words[start : start + max_words])
    lengths: list[int] = []
    for piece in pieces:
        if current and sum(lengths) + len(piece) > max_words:
            out.append("\n".join(current))
            current, lengths = [], []
        current.append(" ".join(piece))
        lengths.append(len(piece))
    if current:
        out.append("\n".join(current))
    return out


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("translations/"):
            continue
        name = rel[: -len(".gz")] if rel.endswith(".gz") else rel
        suffix = Path(name).suffix
        if suffix in _TEXT_SUFFIXES and not name.startswith("sphinx"):
            yield name, path


def _read(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8", errors="replace")


def _query_text(heading: str) -> str:
    return _NUMBERING.sub("", heading).strip().rstrip(":").strip()


def build_kernel_docs(
    out: str | os.PathLike[str],
    *,
    docs_dir: str | os.PathLike[str] = DEFAULT_DOCS_DIR,
    passage_words: int = 100,
    max_relevant: int = 30,
    name: str = "kerneldocs",
) -> Path:
    """Build the dataset into ``out`` (BEIR files, both splits, ``dataset.json``).
    ``docs_dir`` is a kernel ``Documentation/`` directory."""
    root = Path(docs_dir)
    if not root.is_dir() or not any(root.glob("process*")):
        raise InputError(
            f"{root} is not the kernel's Documentation/ directory: install it with "
            "`apt-get install linux-doc` (Debian/Ubuntu: /usr/share/doc/linux-doc/"
            "Documentation) or pass the Documentation/ directory of a kernel source tree"
        )
    docs: list[CorpusDoc] = []
    queries: list[JudgedQuery] = []
    files = too_big = 0
    kinds: dict[str, int] = {}
    for rel, path in _files(root):
        text = _read(path)
        files += 1
        suffix = Path(rel).suffix or "(none)"
        if suffix == ".yaml":
            match = _YAML_TITLE.search(text)
            title = match.group(1).strip() if match else rel
            sections = [Section(-1, "", tuple(text.splitlines()))]
        else:
            sections = rst_sections(text)
            titled = [s for s in sections if s.level == 0]
            title = titled[0].heading if titled else rel
        for number, section in enumerate(sections):
            ids = []
            for part, passage in enumerate(passages(section.lines, passage_words)):
                doc_id = f"{rel}#{number}.{part}"
                docs.append(CorpusDoc(doc_id, passage, title, {"file": rel, "kind": suffix}))
                kinds[suffix] = kinds.get(suffix, 0) + 1
                ids.append(doc_id)
            query = _query_text(section.heading)
            if section.level <= 0 or not ids or not 2 <= len(query.split()) <= 20:
                continue
            if not re.search(r"[A-Za-z]{2}", query):
                continue
            if len(ids) > max_relevant:
                too_big += 1
                continue
            qid = f"q:{rel}#{number}"
            queries.append(JudgedQuery(qid, query, dict.fromkeys(ids, 1), qid))
    info = {
        "source": f"{root} (linux-doc; translations/ left out)",
        "builder": "polyvec.evaluation.builders.kernel_docs",
        "files": files,
        "passages_by_file_kind": dict(sorted(kinds.items())),
        "passage_words": passage_words,
        "max_relevant": max_relevant,
        "sections_over_max_relevant": too_big,
        "query": "a section heading below the file's title (numbering removed)",
        "document": "a passage of at most passage_words words; headings are in none",
        "relevance": "the passages of the section's own text = 1",
        "split": "sha1(query id) mod 5 == 0 -> dev, else test",
    }
    dataset, splits, texts, _ = assemble_judged(docs, queries, name, info)
    return write_beir(dataset, out, splits=splits, all_queries=texts)

"""A BEIR dataset of deep content in long documents: Python's HTML documentation.

The source is the HTML build of the Python documentation that Debian ships in
``python3-doc`` (``apt-get install python3-doc`` → ``/usr/share/doc/python3/html``; any
Sphinx HTML build of the CPython docs has the same shape, e.g. ``make html`` in
CPython's ``Doc/``).

* **corpus**: one document per page of the library reference, the C API, the language
  reference, the HOWTOs, the tutorial, the FAQ, "using" and "extending" (not the
  changelogs of "what's new"), as the text of the page's main body; titled with the
  page's heading (``json — JSON encoder and decoder``). Pages are long (the library
  reference: 2,800 words on average);
* **query**: the first sentence of the description of a function, method, class or
  exception documented on a library page (``os.getcwd`` → ``Return a string
  representing the current working directory.``), or of a C API function;
* **relevant**: the page that documents it (grade 1), **with that sentence removed**
  from the page (every occurrence of it) so the query is not found verbatim;
* **deep**: only sentences at least ``min_offset`` words (default 256) into the page
  — past the first window of a small embedding model (all-MiniLM-L6-v2 reads 256 word
  pieces) — are queries, so answering needs the content deep in the page;
* sentences of 4 to 40 words; a sentence found on another page too (``Return the
  number of items.``), as a description or anywhere in its text, is ambiguous and
  dropped; the split is by ``sha1(object id)``, so one
  page's queries fall in both splits (the corpus is shared, as in every split).

Usage::

    polyvec dataset pyref datasets/pyref
    # or
    from polyvec.evaluation.builders import build_pyref
    build_pyref("datasets/pyref", html_dir="/usr/share/doc/python3/html")
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from polyvec.errors import InputError
from polyvec.evaluation.beir import CorpusDoc, write_beir
from polyvec.evaluation.builders.common import JudgedQuery, assemble_judged, description_key

__all__ = [
    "DEFAULT_HTML_DIR",
    "PAGE_DIRS",
    "Page",
    "build_pyref",
    "first_sentence",
    "parse_page",
]

DEFAULT_HTML_DIR = "/usr/share/doc/python3/html"
"""Where Debian's ``python3-doc`` installs the HTML documentation."""

PAGE_DIRS = ("library", "c-api", "reference", "howto", "tutorial", "faq", "using", "extending")
"""Subdirectories whose pages form the corpus (``whatsnew``, the changelogs, is left out)."""

_ENTRY = re.compile(r"\b(py (function|method|class|exception)|c function)\b")
_BLOCK = {
    "p", "pre", "div", "section", "li", "dt", "dd", "dl", "ul", "ol", "table", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "br", "hr", "caption",
}  # fmt: skip
_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "source"}
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "resp.", "No.")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[A-Z0-9*_`])")


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph (the whole paragraph when it has one).

    >>> first_sentence("Return the cwd. Raises OSError, e.g. when it was removed.")
    'Return the cwd.'
    >>> first_sentence("Like f(), e.g. Foo, but faster. More.")
    'Like f(), e.g. Foo, but faster.'
    """
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.end()]
        if not head.endswith(_ABBREVIATIONS):
            return head
    return text


@dataclass
class _Paragraph:
    """The description paragraph of one documented object, filled in while parsing."""

    object_id: str
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


@dataclass
class _Entry:
    kind: str
    object_id: str = ""
    state: str = "dt"  # dt -> dd (waiting for its first child) -> done


class _PageParser(HTMLParser):
    """The text of a Sphinx page's main body, with description paragraphs marked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str | _Paragraph] = []
        self.title = ""
        self._main_depth = 0  # open <div>s since role="main" (0: outside)
        self._stack: list[str] = []
        self._entries: list[_Entry] = []
        self._paragraph: _Paragraph | None = None
        self._skip = 0
        self._pre = 0
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if not self._main_depth:
            if tag == "div" and a.get("role") == "main":
                self._main_depth = 1
            return
        if tag == "div":
            self._main_depth += 1
        if self._skip or tag in ("script", "style") or "headerlink" in a.get("class", ""):
            if tag not in _VOID:
                self._skip += 1
            return
        if tag in _BLOCK:
            self._emit("\n")
        top = self._entries[-1] if self._entries else None
        if top is not None and top.state == "dd" and self._stack and self._stack[-1] == "dd":
            top.state = "done"
            if tag == "p" and top.object_id:
                self._paragraph = _Paragraph(top.object_id)
                self.out.append(self._paragraph)
        if tag == "dl":
            match = _ENTRY.search(a.get("class", ""))
            self._entries.append(_Entry(match.group(0) if match else ""))
        elif tag == "dt" and self._entries and self._entries[-1].state == "dt":
            if a.get("id") and not self._entries[-1].object_id:
                self._entries[-1].object_id = a["id"] if self._entries[-1].kind else ""
        elif tag == "dd" and self._entries and self._entries[-1].state == "dt":
            self._entries[-1].state = "dd"
        elif tag == "pre":
            self._pre += 1
        elif tag == "h1" and not self.title:
            self._in_h1 = True
        if tag not in _VOID:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._main_depth:
            return
        if tag == "div":
            self._main_depth -= 1
        if self._skip:
            if tag not in _VOID:
                self._skip -= 1
            return
        if tag not in _VOID and tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass
        if tag == "p" and self._paragraph is not None:
            self._paragraph = None
        elif tag == "dl" and self._entries:
            self._entries.pop()
        elif tag == "pre":
            self._pre -= 1
        elif tag == "h1":
            self._in_h1 = False
        if tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._main_depth or self._skip:
            return
        if self._in_h1:
            self.title += data
        self._emit(data if self._pre else re.sub(r"\s+", " ", data))

    def _emit(self, text: str) -> None:
        if self._paragraph is not None:
            self._paragraph.parts.append(text)
        else:
            self.out.append(text)


@dataclass(frozen=True)
class Page:
    """One parsed page: its id (path under the HTML root), title, and body text with
    the description paragraphs (object id → paragraph) marked for removal."""

    id: str
    title: str
    pieces: tuple[str | tuple[str, str], ...]

    def descriptions(self) -> Iterator[tuple[str, str, int]]:
        """``(object id, first sentence, words before it)`` per described object."""
        offset = 0
        for piece in self.pieces:
            if isinstance(piece, tuple):
                sentence = first_sentence(piece[1])
                yield piece[0], sentence, offset
                offset += len(piece[1].split())
            else:
                offset += len(piece.split())

    def text(self, removed: set[str]) -> str:
        """The page text without the sentences in ``removed`` (wherever they occur)."""
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, tuple):
                para = piece[1]
                head = first_sentence(para)
                out.append(para[len(head) :].strip() if head in removed else para)
            else:
                out.append(piece)
        blocks = (" ".join(b.split()) for b in re.split(r"\n\s*\n|\n", "".join(out)))
        text = "\n".join(b for b in blocks if b)
        for sentence in removed:
            text = text.replace(sentence, "")
        return re.sub(r"[ \t]{2,}", " ", text).strip()


def parse_page(html: str, page_id: str) -> Page:
    """Parse one Sphinx HTML page (only its ``role="main"`` body is read)."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    pieces: list[str | tuple[str, str]] = []
    for item in parser.out:
        if isinstance(item, _Paragraph):
            pieces.extend(["\n", (item.object_id, item.text), "\n"])
        else:
            pieces.append(item)
    return Page(page_id, " ".join(parser.title.split()), tuple(pieces))


def _pages(root: Path) -> list[Page]:
    files = sorted(p for d in PAGE_DIRS for p in (root / d).glob("*.html") if p.is_file())
    return [
        parse_page(p.read_text(encoding="utf-8", errors="replace"), p.relative_to(root).as_posix())
        for p in files
    ]


def _elsewhere(plain: str, sentence: str, starts: list[int], page: int) -> bool:
    """Whether ``sentence`` occurs in the text of a page other than ``page``."""
    at = plain.find(sentence)
    while at >= 0:
        if bisect.bisect_right(starts, at) - 1 != page:
            return True
        at = plain.find(sentence, at + 1)
    return False


def build_pyref(
    out: str | os.PathLike[str],
    *,
    html_dir: str | os.PathLike[str] = DEFAULT_HTML_DIR,
    min_offset: int = 256,
    name: str = "pyref",
) -> Path:
    """Build the dataset into ``out`` (BEIR files, both splits, ``dataset.json``).
    ``html_dir`` is the root of a Python HTML documentation build."""
    root = Path(html_dir)
    if not (root / "library").is_dir():
        raise InputError(
            f"{root} is not a Python HTML documentation build (no library/ inside): "
            "install it with `apt-get install python3-doc` (Debian/Ubuntu) and pass "
            "html_dir=/usr/share/doc/python3/html, or build CPython's Doc/ with `make html`"
        )
    pages = _pages(root)
    full_texts = [p.text(set()) for p in pages]
    plain = "\x00".join(full_texts)
    starts = [0]
    for text in full_texts[:-1]:
        starts.append(starts[-1] + len(text) + 1)
    candidates: dict[str, list[tuple[str, str, str, int]]] = {}
    shallow = short = ambiguous = 0
    for page in pages:
        if not page.id.startswith(("library/", "c-api/")):
            continue
        for object_id, sentence, offset in page.descriptions():
            if not 4 <= len(sentence.split()) <= 40:
                short += 1
            elif offset < min_offset:
                shallow += 1
            else:
                key = description_key(sentence)
                candidates.setdefault(key, []).append((page.id, object_id, sentence, offset))
    owner = {p.id: i for i, p in enumerate(pages)}
    queries: list[JudgedQuery] = []
    removed: dict[str, set[str]] = {}
    offsets: list[int] = []
    for found in candidates.values():
        page_id, object_id, sentence, _ = found[0]
        if len({pid for pid, *_ in found}) > 1 or _elsewhere(
            plain, sentence, starts, owner[page_id]
        ):
            ambiguous += len(found)
            continue
        queries.append(JudgedQuery(f"q:{object_id}", sentence, {page_id: 1}, object_id))
        offsets.extend(o for *_, o in found)
        for pid, _, s, _ in found:
            removed.setdefault(pid, set()).add(s)
    docs = [
        CorpusDoc(p.id, p.text(removed.get(p.id, set())), p.title, {"section": p.id.split("/")[0]})
        for p in pages
    ]
    docs = [d for d in docs if len(d.text.split()) >= 20]
    offsets.sort()
    info = {
        "source": f"{root} (Sphinx HTML, sections {', '.join(PAGE_DIRS)})",
        "builder": "polyvec.evaluation.builders.pyref",
        "query": "first sentence of a documented function/method/class/exception description",
        "document": "the page's main body text, with every query sentence removed from it",
        "min_offset_words": min_offset,
        "descriptions_too_short_or_long": short,
        "descriptions_before_min_offset": shallow,
        "descriptions_on_other_pages_too": ambiguous,
        "query_offset_words_median": offsets[len(offsets) // 2] if offsets else 0,
        "document_words_mean": round(sum(len(d.text.split()) for d in docs) / max(len(docs), 1)),
        "split": "sha1(object id) mod 5 == 0 -> dev, else test",
    }
    dataset, splits, texts, _ = assemble_judged(docs, queries, name, info)
    return write_beir(dataset, out, splits=splits, all_queries=texts)

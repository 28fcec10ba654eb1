"""Turn one file's bytes into text: plain text in any common encoding, Markdown, HTML,
PDF, JSONL records and man pages; binaries are recognised and refused with a reason.

Each loader raises :class:`Skip` (the file is not something to ingest, with the reason)
or returns :class:`Loaded` documents. Text is cleaned the same way for every format:
NUL characters (PostgreSQL cannot store them) are removed and counted, lone surrogates
become U+FFFD.

>>> load_bytes(b"plain text", "notes.txt")[0].text
'plain text'
>>> try:
...     load_bytes(b"\\x7fELF\\x02\\x01\\x01" + bytes(100), "libfake.so.6")
... except Skip as skip:
...     print(skip.reason)
binary file (ELF executable or library)
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from polyvec.errors import ConfigurationError, PolyvecError

__all__ = [
    "FORMATS",
    "LOADER_VERSION",
    "MAN_PAGE",
    "Loaded",
    "Skip",
    "clean_text",
    "format_of",
    "load_bytes",
    "render_man_page",
]

LOADER_VERSION = 1
"""Bumped when a loader would read the same bytes into other text."""

MAN_PAGE = re.compile(r"\.\d[\w]*(\.gz|\.bz2|\.xz)?$")
"""File names that look like man pages: ``ls.1.gz``, ``openssl.1ssl``."""

FORMATS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""Suffix → format of the files a directory walk picks by default. Other files are
skipped with a reason, unless ``include`` patterns name them: they are then read as text
(when they are text)."""

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "ELF executable or library"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive (or an office document)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ", "xz archive"),
    (b"7z\xbc\xaf", "7z archive"),
    (b"%PDF", "PDF"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\xca\xfe\xba\xbe", "Java class or Mach-O file"),
    (b"MZ", "Windows executable"),
    (b"\x00asm", "WebAssembly module"),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class Skip(PolyvecError):
    """A file (or record) that is not ingested, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Loaded:
    """Text read from a file: ``key`` tells records of one file apart (``""`` for a
    one-document file), ``raw`` is what the content hash is taken of."""

    text: str
    title: str
    markdown: bool = False
    key: str = ""
    raw: bytes = b""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    nuls_removed: int = 0
    notes: tuple[str, ...] = ()
    """What was left out or changed (e.g. JSONL lines without the text field)."""


def format_of(name: str) -> str | None:
    """The format a file name picks by default (``None``: not a document type).

    >>> format_of("ls.1.gz"), format_of("README.md"), format_of("x.py")
    ('man', 'markdown', None)
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if MAN_PAGE.search(name):
        return "man"
    return None


def clean_text(text: str) -> tuple[str, int]:
    """``text`` without NUL characters and with lone surrogates replaced; the number of
    NULs removed."""
    nuls = text.count("\x00")
    if nuls:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text, nuls


def _binary_kind(raw: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    head = raw[:8192]
    nuls = head.count(b"\x00")
    if nuls and not head.startswith(_BOMS):
        utf16 = nuls * 2 >= len(head) * 0.8 and len(head) % 2 == 0
        if utf16:
            return None  # BOM-less UTF-16: charset-normalizer decodes it
        # a few stray NULs in text (they are removed and counted) vs binary data
        if nuls * 100 > len(head) or not _texty(head.replace(b"\x00", b"")):
            return "binary data with NUL bytes"
    return None


def _texty(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3:  # not just a character cut at the end of the head
            return False
    return True


def decode_text(raw: bytes) -> str:
    """Bytes as text: UTF-8 (with or without BOM), else the encoding charset-normalizer
    detects (Latin-1, cp1252, UTF-16, Shift-JIS …); :class:`Skip` for binaries."""
    kind = _binary_kind(raw)
    if kind is not None:
        raise Skip(f"binary file ({kind})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError as exc:
        raise Skip(
            "not UTF-8, and detecting its encoding needs charset-normalizer: "
            "pip install 'polyvec[ingest]'"
        ) from exc
    best = from_bytes(raw).best()
    if best is None:
        raise Skip("binary file (no text encoding fits its bytes)")
    return str(best)


def _title(name: str) -> str:
    base = PurePosixPath(name).name
    match = MAN_PAGE.search(base)
    return base[: match.start()] if match else PurePosixPath(base).stem


def _one(text: str, title: str, raw: bytes, *, markdown: bool = False) -> list[Loaded]:
    text, nuls = clean_text(text)
    if not text.strip():
        raise Skip("no text (empty, or whitespace only)")
    return [Loaded(text, title, markdown, raw=raw, nuls_removed=nuls)]


def _load_text(raw: bytes, name: str) -> list[Loaded]:
    return _one(decode_text(raw), _title(name), raw)


def _load_markdown(raw: bytes, name: str) -> list[Loaded]:
    text = decode_text(raw)
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return _one(text, heading.group(1) if heading else _title(name), raw, markdown=True)


def _load_html(raw: bytes, name: str) -> list[Loaded]:
    try:
        from bs4 import BeautifulSoup
    except ImportError as exc:
        raise Skip("HTML needs beautifulsoup4: pip install 'polyvec[ingest]'") from exc
    if _binary_kind(raw) is not None:
        raise Skip(f"binary file ({_binary_kind(raw)})")
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    text = soup.get_text("\n")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
    return _one(text, title or _title(name), raw)


def _load_pdf(raw: bytes, name: str) -> list[Loaded]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:
        raise Skip("PDF needs pypdf: pip install 'polyvec[ingest]'") from exc
    if not raw.startswith(b"%PDF"):
        raise Skip("named .pdf but is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Skip("encrypted PDF (a password is needed)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta = reader.metadata
        title = str(meta.title) if meta is not None and meta.title else ""
    except PdfReadError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from exc
    return _one("\n\n".join(p for p in pages if p), title or _title(name), raw)


def _load_jsonl(raw: bytes, name: str, text_field: str = "text") -> list[Loaded]:
    text = decode_text(raw)
    out: list[Loaded] = []
    problems: list[str] = []
    keys: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
            problems.append(f"line {lineno}: no string field {text_field!r}")
            continue
        rid = record.get("id")
        key = str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else ""
        if not key or key in keys:
            key = f"L{lineno}"
        keys.add(key)
        body, nuls = clean_text(record[text_field])
        if not body.strip():
            problems.append(f"line {lineno}: empty {text_field!r}")
            continue
        meta = {
            k: v
            for k, v in record.items()
            if k not in (text_field, "id") and isinstance(v, (str, int, float, bool))
        }
        title = str(record.get("title") or f"{_title(name)}:{key}")
        out.append(
            Loaded(body, title, False, key, line.encode("utf-8", "surrogatepass"), meta, nuls)
        )
    if not out:
        detail = "; ".join(problems[:3]) or "no records"
        raise Skip(f"JSONL with no usable record ({detail})")
    if problems:
        out[0] = replace(out[0], notes=tuple(problems))
    return out


def _decompress(raw: bytes, name: str) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(raw)
    if name.endswith(".bz2"):
        return bz2.decompress(raw)
    if name.endswith(".xz"):
        return lzma.decompress(raw)
    return raw


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


def _load_man(raw: bytes, name: str, path: str | None = None) -> list[Loaded]:
    kind = _binary_kind(raw)
    if kind is not None and not (kind.endswith("archive") and name.endswith(_COMPRESSED)):
        raise Skip(f"binary file ({kind})")
    try:
        source = _decompress(raw, name)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise Skip(f"named like a compressed man page but does not decompress ({exc})") from exc
    kind = _binary_kind(source)
    if kind is not None:
        raise Skip(f"binary file ({kind})")
    head = source.lstrip()[:400]
    alias = re.match(rb"\.so\s+(\S+)\s*$", source.strip())
    if alias:
        raise Skip(f"alias of {alias.group(1).decode('utf-8', 'replace')} (.so link)")
    if not (head.startswith((b".", b"'")) or b"\n." in head):
        raise Skip("named like a man page but is not roff source")
    if path is not None:
        text = render_man_page(path)
    else:
        suffix = "".join(PurePosixPath(name).suffixes[-1:])
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            tmp.write(raw)
            tmp.flush()
            text = render_man_page(tmp.name)
    return _one(text, _title(name), raw)


_COMPRESSED = (".gz", ".bz2", ".xz")

LOADERS: dict[str, Callable[[bytes, str], list[Loaded]]] = {
    "text": _load_text,
    "markdown": _load_markdown,
    "html": _load_html,
    "pdf": _load_pdf,
    "jsonl": _load_jsonl,
    "man": _load_man,
}


def load_bytes(
    raw: bytes,
    name: str,
    fmt: str | None = None,
    *,
    path: str | None = None,
    text_field: str = "text",
) -> list[Loaded]:
    """The documents in a file's bytes (``name`` picks the format unless ``fmt`` is
    given; an unknown format is read as text; ``path``, where the bytes came from, lets
    man pages render from it; ``text_field`` is JSONL's text field). Raises :class:`Skip` with the reason, or
    ``ValueError``/``OSError`` when a file of its format cannot be read."""
    chosen = fmt or format_of(name) or "text"
    if chosen == "man":
        return _load_man(raw, name, path)
    if chosen == "jsonl":
        return _load_jsonl(raw, name, text_field)
    return LOADERS[chosen](raw, name)

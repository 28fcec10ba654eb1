"""Loaders and file discovery on real files the test writes: encodings, HTML, PDF, JSONL,
binaries, NUL bytes, non-UTF-8 names, man pages."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from polyvec.errors import InputError
from polyvec.ingest.files import find_files, identity
from polyvec.ingest.loaders import Skip, clean_text, format_of, load_bytes

LATIN = "Le propriétaire du fichier change: chown modifie l'utilisateur propriétaire."


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with ``text`` in Helvetica (what pypdf extracts)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_text_in_legacy_encodings_is_decoded(encoding):
    text = LATIN * 3
    (doc,) = load_bytes(text.encode(encoding), "notes.txt")
    assert doc.text == text


def test_binaries_are_skipped_with_the_kind_named():
    cases = {
        "libfake.so.6": b"\x7fELF\x02\x01\x01\x00" + bytes(200),  # looks like a man page
        "photo.txt": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "blob.txt": bytes(range(256)) * 8,
    }
    reasons = {}
    for name, raw in cases.items():
        with pytest.raises(Skip) as info:
            load_bytes(raw, name)
        reasons[name] = info.value.reason
    assert "ELF" in reasons["libfake.so.6"]
    assert "PNG" in reasons["photo.txt"]
    assert reasons["blob.txt"].startswith("binary")


def test_stray_nul_characters_are_removed_and_counted():
    raw = ("x" * 500 + "\x00" + "y" * 500).encode()
    (doc,) = load_bytes(raw, "log.txt")
    assert "\x00" not in doc.text and doc.nuls_removed == 1
    assert clean_text("a\x00b\ud800c") == ("ab\ufffdc", 1)


def test_markdown_html_pdf_and_jsonl():
    (md,) = load_bytes(b"intro\n\n# The Title\n\ntext", "a.md")
    assert md.markdown and md.title == "The Title"
    html = (
        b"<html><head><title>Owners</title><style>p{}</style><script>var x=1;</script>"
        b"</head><body><h1>chown</h1><p>changes the <b>owner</b> of a file</p></body></html>"
    )
    (page,) = load_bytes(html, "page.html")
    assert page.title == "Owners"
    assert "changes the" in page.text and "owner" in page.text
    assert "var x" not in page.text and "p{}" not in page.text
    (pdf,) = load_bytes(_pdf("Rotate the logs every night"), "guide.pdf")
    assert "Rotate the logs every night" in pdf.text
    with pytest.raises(Skip, match="not a PDF"):
        load_bytes(b"plain text", "fake.pdf")
    lines = [
        b'{"id": "q1", "text": "first", "lang": "en", "nested": {"no": 1}}',
        b'{"text": "second"}',
        b"not json",
        b'{"body": "no text field"}',
    ]
    records = load_bytes(b"\n".join(lines), "data.jsonl")
    assert [(r.key, r.text) for r in records] == [("q1", "first"), ("L2", "second")]
    assert records[0].metadata == {"lang": "en"}
    assert len(records[0].notes) == 2  # the two unusable lines, each with its reason
    with pytest.raises(Skip, match="no usable record"):
        load_bytes(b"garbage\n", "bad.jsonl")


def test_empty_and_whitespace_files_are_skipped():
    with pytest.raises(Skip, match="no text"):
        load_bytes(b"  \n\n\t", "empty.md")


@pytest.mark.skipif(shutil.which("man") is None, reason="needs the man command")
def test_man_pages_render_and_so_aliases_are_skipped(tmp_path):
    page = b".TH DEMO 1\n.SH NAME\ndemo \\- rotate the logs\n.SH DESCRIPTION\nIt rotates.\n"
    (doc,) = load_bytes(gzip.compress(page), "demo.1.gz")
    assert "rotate the logs" in doc.text and doc.title == "demo"
    with pytest.raises(Skip, match=r"alias of man1/demo\.1"):
        load_bytes(gzip.compress(b".so man1/demo.1\n"), "other.1.gz")
    with pytest.raises(Skip, match="not roff"):
        load_bytes(b"just some words", "notes.1")


def test_identity_is_relative_and_stable(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.md").write_text("b")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "tool.py").write_text("print(1)")
    name = os.fsdecode(b"caf\xe9.txt")  # a Latin-1 file name, not UTF-8
    (root / name).write_text("café")
    monkeypatch.chdir(tmp_path)
    rel, skipped = find_files(["corpus"])
    monkeypatch.chdir(root / "sub")
    absolute, _ = find_files([str(root)])
    assert [f.doc_id for f in rel] == [f.doc_id for f in absolute]
    assert [f.doc_id for f in rel] == ["a.txt", "caf\\xe9.txt", "sub/b.md"]
    assert skipped == [
        ("tool.py", "not a document type (.py): --include '*.py' reads such files as text")
    ]
    included, _ = find_files([str(root)], include=["*.py"], id_prefix="kb/")
    assert [(f.doc_id, f.fmt) for f in included] == [("kb/tool.py", None)]
    only_file, _ = find_files([str(root / "sub" / "b.md")])
    assert [f.doc_id for f in only_file] == ["b.md"]
    assert identity(os.path.join("x", "y.txt")) == "x/y.txt"
    with pytest.raises(InputError, match="does not exist"):
        find_files([str(tmp_path / "missing")])


def test_formats_by_name():
    assert format_of("a.HTML") == "html"
    assert format_of("ls.1.gz") == "man"
    assert format_of("data.ndjson") == "jsonl"
    assert format_of("Makefile") is None
    assert Path("x").name  # keep Path import used

from __future__ import annotations

import pytest

from polyvec.chunking import chunk_document, chunk_text
from polyvec.errors import ConfigurationError


def test_long_paragraph_is_windowed_with_overlap():
    words = [f"w{i}" for i in range(500)]
    chunks = [c.split() for c in chunk_text(" ".join(words), size=200, overlap=20)]
    assert [len(c) for c in chunks] == [200, 200, 140]
    assert chunks[1][:20] == chunks[0][-20:]
    assert chunks[2][-1] == "w499"


def test_paragraphs_are_packed_whole_while_they_fit():
    text = "a b c\n\nd e f\n\ng h i j"
    assert chunk_text(text, size=6, overlap=0) == ["a b c d e f", "g h i j"]


def test_every_word_is_kept_and_no_chunk_is_only_overlap():
    text = "\n\n".join(" ".join(f"p{p}w{i}" for i in range(37)) for p in range(9))
    chunks = chunk_text(text, size=50, overlap=10)
    seen = {w for c in chunks for w in c.split()}
    assert seen == set(text.split())
    assert all(len(c.split()) <= 50 for c in chunks)
    assert len(chunks[-1].split()) > 10


def test_short_text_is_one_chunk_and_empty_text_none():
    assert chunk_text("just a few words") == ["just a few words"]
    assert chunk_text("   \n\n  ") == []


def test_bad_sizes_are_refused():
    with pytest.raises(ConfigurationError):
        chunk_text("x", size=10, overlap=10)


def test_chunk_document_ids_and_metadata():
    docs = list(
        chunk_document("ls.1", "one two three four five", {"title": "ls"}, size=3, overlap=1)
    )
    assert [d.id for d in docs] == ["ls.1#0", "ls.1#1"]
    assert docs[1].metadata == {"title": "ls", "doc_id": "ls.1", "chunk": 1}

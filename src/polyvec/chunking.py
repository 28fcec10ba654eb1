"""Split long texts into overlapping chunks that fit an embedding model's window.

Chunks are cut on word boundaries, preferring paragraph ends, so that each fits
``size`` words (all-MiniLM-L6-v2 reads 256 word pieces: about 180 English words)::

    >>> from polyvec.chunking import chunk_text
    >>> [len(c.split()) for c in chunk_text("word " * 500, size=200, overlap=20)]
    [200, 200, 140]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from polyvec.errors import ConfigurationError
from polyvec.types import DocId, Document

__all__ = ["chunk_document", "chunk_text"]

_PARAGRAPH = re.compile(r"\n\s*\n")


def chunk_text(text: str, *, size: int = 180, overlap: int = 30) -> list[str]:
    """Chunks of at most ``size`` words; consecutive chunks share ``overlap`` words.

    Paragraphs are packed whole while they fit; a paragraph longer than ``size`` is
    cut into windows. Whitespace inside a chunk is normalised to single spaces within
    lines.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ConfigurationError(f"need size >= 1 and 0 <= overlap < size, got {size}, {overlap}")
    words_per_par = [p.split() for p in _PARAGRAPH.split(text) if p.strip()]
    chunks: list[list[str]] = []
    current: list[str] = []
    for words in words_per_par:
        if len(current) + len(words) <= size:
            current.extend(words)
            continue
        if current:
            chunks.append(current)
            current = current[-overlap:] if overlap else []
            if len(current) + len(words) <= size:
                current.extend(words)
                continue
        stream = current + words
        step = size - overlap
        start = 0
        while len(stream) - start > size:
            chunks.append(stream[start : start + size])
            start += step
        current = stream[start:]
    # a tail that is only the previous chunk's overlap adds nothing
    if current and not (chunks and current == chunks[-1][-len(current) :]):
        chunks.append(current)
    return [" ".join(c) for c in chunks]


def chunk_document(
    doc_id: DocId,
    text: str,
    metadata: Mapping[str, Any] | None = None,
    *,
    size: int = 180,
    overlap: int = 30,
) -> Iterator[Document]:
    """Documents ``"{doc_id}#{i}"`` for each chunk, with ``metadata`` plus ``doc_id`` and
    ``chunk`` (its index), so hits can be grouped back by document."""
    base = dict(metadata or {})
    for i, chunk in enumerate(chunk_text(text, size=size, overlap=overlap)):
        yield Document(f"{doc_id}#{i}", chunk, {**base, "doc_id": str(doc_id), "chunk": i})

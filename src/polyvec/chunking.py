"""Split long texts into chunks that fit an embedding model's window, in its own tokens.

Each chunk is an exact slice ``text[start:end]`` of the input (no whitespace rewritten),
so chunks can be shown, highlighted and merged back by their character spans. Sizes are
counted in the model's tokens when a token counter is given (``embedder.count_tokens``,
see :mod:`polyvec.tokens`), else with :func:`polyvec.tokens.approx_count_tokens`::

    >>> from polyvec.chunking import chunk_text
    >>> chunks = chunk_text("word " * 500, size=200, overlap=20)
    >>> [len(c.split()) for c in chunks]
    [200, 200, 140]

What the chunker guarantees (property-tested):

* every non-whitespace character of the input is in some chunk;
* no chunk's span contains another's: each chunk starts after the previous one starts
  and ends after it ends, so the overlap never re-emits a whole earlier chunk and no
  chunk is a prefix or a duplicate of its neighbour;
* a chunk holds at most ``size`` tokens (one word longer than that is cut by characters);
* cuts prefer, in order, a Markdown heading (with ``markdown=True``: ``#`` lines outside
  code fences), a blank line, a sentence end, a line end, when the chunk is then at
  least half full (a quarter for a heading); otherwise the chunk is filled to ``size``;
* ``overlap`` tokens are repeated only where a cut falls inside a paragraph: a chunk
  that starts at a paragraph or heading needs no context from the one before.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyvec.errors import ConfigurationError
from polyvec.tokens import APPROX_COUNTER_NAME, TokenCounter, approx_count_tokens, counter_of
from polyvec.types import DocId, Document

__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_SIZE",
    "Chunk",
    "Chunker",
    "chunk_document",
    "chunk_text",
]

DEFAULT_CHUNK_SIZE = 250
"""Tokens per chunk when neither ``size`` nor a model window is given (all-MiniLM-L6-v2
reads 256 tokens, two of them special)."""

DEFAULT_CHUNK_OVERLAP = 32
"""Tokens repeated from the previous chunk when a cut falls inside a paragraph."""

CHUNKER_VERSION = 2
"""Bumped when the same text and settings would give other chunks (it invalidates
``polyvec ingest``'s record of unchanged documents)."""

# break strength before a word
_WORD, _LINE, _SENTENCE, _PARAGRAPH, _HEADING = 0, 1, 2, 3, 4
_MIN_FILL = {_HEADING: 0.25, _PARAGRAPH: 0.5, _SENTENCE: 0.5, _LINE: 0.5}
_PIECE = 16  # characters: a longer word is cut into pieces this long
_WORDS = re.compile(r"\S+")
_HEADING_LINE = re.compile(r"#{1,6}(\s|$)")
_FENCE = re.compile(r"(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?][\"'\)\]]*\Z")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: ``text == source[start:end]`` and its size in tokens."""

    text: str
    start: int
    end: int
    tokens: int


def _atoms(text: str, markdown: bool) -> tuple[list[int], list[int], list[int]]:
    """Word (or word-piece) spans and the break strength before each."""
    starts: list[int] = []
    ends: list[int] = []
    breaks: list[int] = []
    fenced = after_fence = False
    prev_end = 0
    for m in _WORDS.finditer(text):
        s, e = m.span()
        nl = text.count("\n", prev_end, s)  # the gap is whitespace only
        strength = _WORD
        if starts:
            if nl >= 2:
                strength = _PARAGRAPH
            elif _SENTENCE_END.search(text, max(prev_end - 4, 0), prev_end):
                strength = _SENTENCE
            elif nl:
                strength = _LINE
        if markdown and (nl or not starts):
            if _FENCE.match(text, s):
                if not fenced:
                    strength = max(strength, _PARAGRAPH)
                else:
                    strength = min(strength, _LINE)
                    after_fence = True
                fenced = not fenced
            elif fenced:
                strength = min(strength, _LINE)
            elif _HEADING_LINE.match(text, s):
                strength, after_fence = _HEADING, False
            elif after_fence:
                strength, after_fence = max(strength, _PARAGRAPH), False
        elif fenced:
            strength = min(strength, _LINE)
        # a word longer than _PIECE characters becomes pieces, so that one word alone
        # can be cut when it would not fit
        for p in range(s, e, _PIECE):
            starts.append(p)
            ends.append(min(p + _PIECE, e))
            breaks.append(strength if p == s else _WORD)
        prev_end = e
    return starts, ends, breaks


def _check_sizes(size: int, overlap: int) -> None:
    if not isinstance(size, int) or size < 1 or not isinstance(overlap, int):
        raise ConfigurationError(f"chunk size must be an int >= 1, got {size!r}")
    if not 0 <= overlap < size:
        raise ConfigurationError(
            f"chunk overlap must be >= 0 and below the size ({size}), got {overlap!r}: "
            "pass a smaller overlap"
        )


class Chunker:
    """Chunks text by a token budget (see the module docstring for the guarantees).

    ``count_tokens`` counts tokens of a batch of texts (default: the documented
    approximation); ``counter_name`` names it in :attr:`fingerprint`. Counts of words
    are cached, so one Chunker reused across many documents tokenizes each distinct
    word once::

        chunker = Chunker(size=254, overlap=32, count_tokens=embedder.count_tokens)
        chunks = chunker.split(open("README.md").read(), markdown=True)
    """

    def __init__(
        self,
        size: int | None = DEFAULT_CHUNK_SIZE,
        overlap: int = DEFAULT_CHUNK_OVERLAP,
        *,
        count_tokens: TokenCounter | None = None,
        counter_name: str | None = None,
        window: Callable[[], int] | None = None,
    ) -> None:
        if size is not None:
            _check_sizes(size, overlap)
        elif not isinstance(overlap, int) or overlap < 0:
            raise ConfigurationError(f"chunk overlap must be an int >= 0, got {overlap!r}")
        self._size = size
        self._resolved: int | None = None
        self._window = window
        self.overlap = overlap
        self._count = count_tokens or approx_count_tokens
        self.counter_name = counter_name or (
            APPROX_COUNTER_NAME if count_tokens is None else "custom"
        )
        self._cache: dict[str, int] = {}

    @classmethod
    def for_embedder(
        cls, embedder: Any, size: int | None = None, overlap: int = DEFAULT_CHUNK_OVERLAP
    ) -> Chunker:
        """A chunker counting in ``embedder``'s own tokens when it can count them
        (:class:`polyvec.tokens.TokenCounting`), else approximately. ``size=None`` is
        the model's window less its special tokens (all-MiniLM-L6-v2: 254; read on the
        first split, so nothing loads until there is text to chunk), or
        :data:`DEFAULT_CHUNK_SIZE` without a tokenizer."""
        count, name, window = counter_of(embedder)
        return cls(size, overlap, count_tokens=count, counter_name=name, window=window)

    @property
    def size(self) -> int:
        """Tokens per chunk (with ``size=None``: the model's window, read now)."""
        if self._size is not None:
            return self._size
        if self._resolved is None:  # the declared size (None) stays in the fingerprint
            size = self._window() if self._window is not None else DEFAULT_CHUNK_SIZE
            _check_sizes(size, self.overlap)
            self._resolved = size
        return self._resolved

    def __repr__(self) -> str:
        size = self._size if self._size is not None else "window"
        return f"Chunker(size={size}, overlap={self.overlap}, tokens={self.counter_name!r})"

    @property
    def fingerprint(self) -> str:
        """Everything that decides the chunks (settings, counter, algorithm version);
        it does not load a model (a window size is named, not read)."""
        size = self._size if self._size is not None else "window"
        raw = f"v{CHUNKER_VERSION}|{size}|{self.overlap}|{self.counter_name}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def _token_counts(self, words: Sequence[str]) -> list[int]:
        todo = list(dict.fromkeys(w for w in words if w not in self._cache))
        if todo:
            counts = list(self._count(todo))
            if len(counts) != len(todo):
                raise ConfigurationError(
                    f"the token counter returned {len(counts)} counts for {len(todo)} texts"
                )
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache.update(zip(todo, (max(0, int(c)) for c in counts)))
        return [self._cache[w] for w in words]

    def split(self, text: str, *, markdown: bool = False) -> list[Chunk]:
        """The chunks of ``text``, in order; ``markdown=True`` also cuts at headings and
        keeps fenced code blocks whole where they fit."""
        starts, ends, breaks = _atoms(text, markdown)
        n = len(starts)
        if n == 0:
            return []
        counts = self._token_counts([text[s:e] for s, e in zip(starts, ends)])
        prefix = [0]
        for c in counts:
            prefix.append(prefix[-1] + c)
        size, chunks = self.size, []
        s, last_cut = 0, 0
        while True:
            # the most atoms from s that fit (at least one, and past the last cut)
            e = bisect.bisect_right(prefix, prefix[s] + size) - 1
            e = max(e, s + 1, last_cut + 1)
            cut = n if e >= n else self._cut(prefix, breaks, s, max(s, last_cut) + 1, e)
            chunks.append(
                Chunk(
                    text[starts[s] : ends[cut - 1]],
                    starts[s],
                    ends[cut - 1],
                    prefix[cut] - prefix[s],
                )
            )
            if cut >= n:
                return chunks
            nxt = cut
            if breaks[cut] < _PARAGRAPH and self.overlap:
                # the shortest tail of this chunk within `overlap` tokens, never all of it,
                # and short enough that the next chunk can reach past this one's end
                room = min(self.overlap, size - counts[cut])
                nxt = bisect.bisect_left(prefix, prefix[cut] - room, s + 1, cut + 1)
                nxt = min(max(nxt, s + 1), cut)
            s, last_cut = nxt, cut

    def _cut(self, prefix: list[int], breaks: list[int], s: int, lo: int, e: int) -> int:
        """Where the chunk starting at atom ``s`` ends: the latest strongest break in
        ``[lo, e]`` that leaves the chunk full enough, else ``e``."""
        best, best_strength = e, _WORD
        for c in range(e, lo - 1, -1):
            strength = breaks[c]
            if (
                strength > best_strength
                and prefix[c] - prefix[s] >= _MIN_FILL[strength] * self.size
            ):
                best, best_strength = c, strength
                if strength == _HEADING:
                    break
        return best


def chunk_text(
    text: str,
    *,
    size: int = DEFAULT_CHUNK_SIZE,
    overlap: int = DEFAULT_CHUNK_OVERLAP,
    count_tokens: TokenCounter | None = None,
    markdown: bool = False,
) -> list[str]:
    """The texts of :meth:`Chunker.split`: chunks of at most ``size`` tokens."""
    chunker = Chunker(size, overlap, count_tokens=count_tokens)
    return [c.text for c in chunker.split(text, markdown=markdown)]


def chunk_document(
    doc_id: DocId,
    text: str,
    metadata: Mapping[str, Any] | None = None,
    *,
    size: int = DEFAULT_CHUNK_SIZE,
    overlap: int = DEFAULT_CHUNK_OVERLAP,
    count_tokens: TokenCounter | None = None,
    markdown: bool = False,
    chunker: Chunker | None = None,
) -> Iterator[Document]:
    """Documents ``"{doc_id}#{i}"`` for each chunk, with ``metadata`` plus ``doc_id``,
    ``chunk`` (its index) and ``start``/``end`` (its character span in ``text``), so hits
    can be grouped back by document and neighbouring chunks merged. A given ``chunker``
    replaces ``size``/``overlap``/``count_tokens``."""
    base = dict(metadata or {})
    chunker = chunker or Chunker(size, overlap, count_tokens=count_tokens)
    for i, chunk in enumerate(chunker.split(text, markdown=markdown)):
        yield Document(
            f"{doc_id}#{i}",
            chunk.text,
            {**base, "doc_id": str(doc_id), "chunk": i, "start": chunk.start, "end": chunk.end},
        )

"""Counting text in an embedding model's own tokens, for the chunker.

An embedder that can count tokens provides two members (:class:`TokenCounting`):
``count_tokens(texts) -> list[int]`` (tokens of each text, special tokens excluded) and
``max_tokens`` (how many tokens of one input the model reads, special tokens excluded).
:class:`~polyvec.embeddings.SentenceTransformerEmbedder` provides both from the model's
own tokenizer; any embedder built on a Hugging Face ``tokenizers`` tokenizer (an ONNX
one, say) can provide them the same way::

    def count_tokens(self, texts):
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts),
                                                                add_special_tokens=False)]

Without a tokenizer the chunker counts with :func:`approx_count_tokens`, a documented
approximation (see there).

>>> approx_count_tokens(["the quick brown fox", "--no-preserve-root", ""])
[4, 8, 0]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "APPROX_COUNTER_NAME",
    "TokenCounter",
    "TokenCounting",
    "approx_count_tokens",
    "counter_of",
]

TokenCounter = Callable[[Sequence[str]], Sequence[int]]
"""Counts the tokens of each text of a batch (special tokens excluded)."""

APPROX_COUNTER_NAME = "approx-v1"
"""The name :func:`counter_of` gives the approximation (recorded in chunk fingerprints)."""

_PIECES = re.compile(r"[^\W_]+|[^\w\s]|_", re.UNICODE)


@runtime_checkable
class TokenCounting(Protocol):
    """What an embedder provides so that chunks are sized in its own tokens."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    @property
    def max_tokens(self) -> int: ...


def approx_count_tokens(texts: Sequence[str]) -> list[int]:
    """Approximate word-piece counts: each punctuation mark is one token, each run of
    letters and digits ``ceil(len / 6)`` tokens (so ``"the"`` is 1, ``"compression"``
    2), CJK and other unspaced scripts one token per 6 characters.

    Measured against all-MiniLM-L6-v2's tokenizer on rendered man pages it comes within
    a few percent in total and over-counts more often than it under-counts, so a chunk
    sized with it rarely passes the model's window (docs/ingest.md has the figures).
    Pass the model's own counter (``embedder.count_tokens``) for exact sizes.
    """
    out = []
    for text in texts:
        n = 0
        for piece in _PIECES.findall(text):
            n += -(-len(piece) // 6) if piece[0].isalnum() else 1
        out.append(n)
    return out


def counter_of(embedder: Any) -> tuple[TokenCounter, str]:
    """``(count, name)`` for an embedder: its own tokenizer when it provides
    :class:`TokenCounting`, else :func:`approx_count_tokens`. Nothing is loaded until
    ``count`` is first called."""
    if callable(getattr(embedder, "count_tokens", None)):  # never reads max_tokens (loads)
        name = f"tokenizer:{getattr(embedder, 'name', type(embedder).__name__)}"
        return embedder.count_tokens, name
    return approx_count_tokens, APPROX_COUNTER_NAME

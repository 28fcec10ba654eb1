"""Embedders: the protocol polyvec needs, a sentence-transformers implementation, a cache.

>>> from polyvec.embeddings import Embedder
>>> isinstance(object(), Embedder)
False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into dense vectors.

    ``name`` identifies the model (it keys caches and is recorded with collections);
    ``dimension`` is the vector length. Both methods return a float32 array of shape
    ``(len(texts), dimension)``.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

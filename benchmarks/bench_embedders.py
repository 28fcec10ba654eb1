"""The embedding step, in one run: ONNX Runtime (fp32, int8) against PyTorch
(sentence-transformers), all-MiniLM-L6-v2, the same threads, methods interleaved.

Three parts (``--part``, repeatable; default all):

* ``latency``: one query at a time (``embed_queries([q])``), every method taking turns
  query by query; p50/p95 and p50 ÷ PyTorch's p50 (target ≤ 0.6).
* ``throughput``: ``embed_documents`` of ``--n`` real passages in rounds of ``--round``,
  the methods taking turns round by round; documents/s, ratio to PyTorch (targets ≥ 1.1
  fp32, ≥ 1.4 int8), and how close each method's vectors are to PyTorch's (mean and min
  cosine), plus int8's drift between a passage embedded alone and in a batch.
* ``startup``: a fresh ``polyvec search`` process on the embedded default store
  (qdrant-edge, ``--docs`` passages ingested first) — ONNX (the default), ONNX int8,
  PyTorch (``--embedder torch``, what ``polyvec search`` did before), and ONNX again
  with the query already in the query cache — interleaved, ``--repeats`` each; median
  and min wall seconds (target ≤ 2 s idle).

::

    python -m benchmarks.bench_embedders --threads 1 --threads 2 --queries 200 \\
        --n 2000 --repeats 7 --out docs/benchmarks/embedders.md

Passages are real man-page and docstring text (``benchmarks/corpus.py``); queries are
their first eight words. Prints the machine's load (``/proc/loadavg``) before and after.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import passages
from benchmarks.timing import p50_p95, race
from polyvec.embeddings import SentenceTransformerEmbedder
from polyvec.hardware import cpu_flags, local_int8_recipe
from polyvec.onnx_embedder import OnnxEmbedder

PARTS = ("latency", "throughput", "startup")


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def embedders(threads: int) -> dict[str, Any]:
    """The three methods at ``threads`` threads (torch's is process-wide: set here)."""
    import torch

    torch.set_num_threads(threads)
    return {
        "pytorch (sentence-transformers)": SentenceTransformerEmbedder(device="cpu"),
        "onnx fp32": OnnxEmbedder(variant="fp32", device="cpu", threads=threads),
        f"onnx {local_int8_recipe()}": OnnxEmbedder(variant="int8", device="cpu", threads=threads),
    }


def latency(texts: list[str], queries: int, threads: int) -> list[str]:
    methods = embedders(threads)
    rng = np.random.default_rng(0)
    picked = [" ".join(texts[i].split()[:8]) for i in rng.choice(len(texts), queries, False)]
    calls: dict[str, Callable[[str], Any]] = {
        name: (lambda q, e=e: e.embed_queries([q])) for name, e in methods.items()
    }
    runs = race(calls, picked, warmup=10)
    base = p50_p95(next(iter(runs.values())))[0]
    rows = [
        f"#### One query, {threads} thread(s): {queries} queries, methods taking turns\n",
        "| method | p50 ms | p95 ms | p50 ÷ PyTorch p50 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, samples in runs.items():
        p50, p95 = p50_p95(samples)
        rows.append(f"| {name} | {p50 * 1e3:.1f} | {p95 * 1e3:.1f} | {p50 / base:.2f}× |")
    return rows


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def throughput(texts: list[str], round_size: int, threads: int) -> list[str]:
    methods = embedders(threads)
    for emb in methods.values():
        emb.embed_documents(texts[:16])  # load and warm up
    seconds = dict.fromkeys(methods, 0.0)
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    names = list(methods)
    for r, start in enumerate(range(0, len(texts), round_size)):
        part = texts[start : start + round_size]
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            vectors[name].append(methods[name].embed_documents(part))
            seconds[name] += time.perf_counter() - t0
    ref_name = names[0]
    ref = np.vstack(vectors[ref_name])
    lengths = methods[names[1]].count_tokens(texts)
    rows = [
        f"#### Documents, {threads} thread(s): {len(texts)} passages (median "
        f"{int(statistics.median(lengths))} word pieces, {sum(n > 256 for n in lengths)} "
        f"over the 256 window), rounds of {round_size}, methods taking turns\n",
        "| method | docs/s | ÷ PyTorch | mean cosine to PyTorch | min cosine |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        got = np.vstack(vectors[name])
        cos = cosines(got, ref)
        rate = len(texts) / seconds[name]
        ratio = seconds[ref_name] / seconds[name]
        rows.append(f"| {name} | {rate:.1f} | {ratio:.2f}× | {cos.mean():.5f} | {cos.min():.5f} |")
    onnx = methods[names[1]]
    t0 = time.perf_counter()
    onnx.tokenizer.encode_batch(onnx.files.prepare(texts))
    tokenize = time.perf_counter() - t0
    rows.append(
        f"\nTokenizing all {len(texts)} passages (fast tokenizer, truncated at the window): "
        f"{tokenize:.2f} s = {100 * tokenize / seconds[names[1]]:.1f} % of {names[1]}'s time "
        "(so it is not overlapped with inference)."
    )
    int8_name = names[2]
    sample = texts[:64]
    alone = np.vstack([methods[int8_name].embed_documents([t]) for t in sample])
    batch = methods[int8_name].embed_documents(sample)
    drift = cosines(alone, batch)
    rows.append(
        f"\n{int8_name}: a passage embedded alone vs in a batch of 64: mean cosine "
        f"{drift.mean():.5f}, min {drift.min():.5f} (dynamic quantization scales per batch)."
    )
    return rows


def startup(texts: list[str], docs: int, repeats: int) -> list[str]:
    """Fresh ``polyvec search`` processes on the embedded default store."""
    exe = [sys.executable, "-m", "polyvec.cli"]
    env = dict(os.environ, POLYVEC_URL="")
    env.pop("POLYVEC_URL")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for i, text in enumerate(texts[:docs]):
            (src / f"p{i:05d}.txt").write_text(text)
        for coll, spec in (("fp32", "onnx"), ("int8", "onnx:int8")):
            subprocess.run(
                [*exe, "ingest", str(src), "--collection", coll, "--embedder", spec,
                 "--no-progress"],
                cwd=tmp, env=env, check=True, capture_output=True,
            )  # fmt: skip
        query = "compress files with gzip"
        cases = {
            "onnx fp32 (default)": ["--collection", "fp32", "--no-query-cache"],
            "onnx int8": ["--collection", "int8", "--no-query-cache"],
            "pytorch (--embedder torch)": [
                "--collection", "fp32", "--embedder", "torch", "--no-query-cache"
            ],
            "onnx fp32, query cached": ["--collection", "fp32"],
        }  # fmt: skip
        subprocess.run([*exe, "search", query, "--collection", "fp32"], cwd=tmp, env=env, check=True, capture_output=True)  # fmt: skip
        walls: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, extra in cases.items():
                t0 = time.perf_counter()
                subprocess.run(
                    [*exe, "search", query, "--k", "3", *extra],
                    cwd=tmp, env=env, check=True, capture_output=True,
                )  # fmt: skip
                walls[name].append(time.perf_counter() - t0)
    base = statistics.median(walls["pytorch (--embedder torch)"])
    rows = [
        f"#### Cold `polyvec search` (a fresh process: imports, model load, one hybrid "
        f"query) on the embedded default store ({docs} passages), {repeats} runs each, "
        "interleaved\n",
        "| method | median s | min s | ÷ PyTorch median |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, samples in walls.items():
        med = statistics.median(samples)
        rows.append(f"| {name} | {med:.2f} | {min(samples):.2f} | {med / base:.2f}× |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", action="append", choices=PARTS, default=None)
    ap.add_argument("--threads", action="append", type=int, default=None)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--n", type=int, default=2000, help="passages for throughput")
    ap.add_argument("--round", type=int, default=250, help="passages per timed call")
    ap.add_argument("--docs", type=int, default=500, help="passages in the startup store")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None, help="also write the tables to this file")
    args = ap.parse_args()
    parts = args.part or list(PARTS)
    threads = args.threads or [1, 2]
    texts = passages(max(args.n, args.docs, 1000))
    vnni = "yes" if {"avx512_vnni", "avx_vnni"} & cpu_flags() else "no"
    out = [
        f"CPU: {os.cpu_count()} cores, AVX-512 VNNI: {vnni}, int8 recipe: "
        f"{local_int8_recipe()}; load before: {load()}\n"
    ]
    if "startup" in parts:  # first: nothing of this process is warm in the page cache yet
        out += [*startup(texts, args.docs, args.repeats), ""]
    for t in threads:
        if "latency" in parts:
            out += [*latency(texts, args.queries, t), ""]
        if "throughput" in parts:
            out += [*throughput(texts[: args.n], args.round, t), ""]
    out.append(f"load after: {load()}")
    text = "\n".join(out)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Ingest end to end, in one run: ``polyvec ingest`` (ONNX fp32, the default; ONNX int8)
against langchain-qdrant's ``add_texts`` with ``HuggingFaceEmbeddings``
(langchain-huggingface, PyTorch), on the same passages and the same engine
(qdrant-client's local mode on disk), each step a fresh process as a user runs it.

The ``--n`` passages are cut into ``--parts`` parts; part by part, each system ingests
the part into its own collection in a fresh process, the systems taking turns (so load
from other processes hits all alike). Reported per system: the time the ingest call
itself took (documents/s) and the wall time of the whole processes (imports, model
load, ingest, closing), with ratios to langchain-qdrant. polyvec writes a dense and a
BM25 vector per passage; langchain-qdrant (its default, dense mode) only the dense one.

::

    pip install langchain-qdrant langchain-huggingface    # the peer only
    python -m benchmarks.bench_ingest_peers --n 10000 --parts 4

A step for one system alone (what the run starts): ``python -m
benchmarks.bench_ingest_peers --step langchain --texts FILE --store DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYSTEMS = ("polyvec onnx fp32", "polyvec onnx int8", "langchain")
_COLLECTION = "bench"


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def langchain_step(texts_file: Path, store: Path) -> float:
    """langchain-qdrant add_texts with HuggingFaceEmbeddings; seconds of the add call."""
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    from polyvec.embeddings_base import local_default_model

    texts = json.loads(texts_file.read_text())
    embeddings = HuggingFaceEmbeddings(
        model_name=local_default_model(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    client = QdrantClient(path=str(store))
    if not client.collection_exists(_COLLECTION):
        client.create_collection(
            _COLLECTION,
            vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE),
        )
    vs = QdrantVectorStore(client=client, collection_name=_COLLECTION, embedding=embeddings)
    start = time.perf_counter()
    vs.add_texts(texts, metadatas=[{"n": i} for i in range(len(texts))])
    took = time.perf_counter() - start
    client.close()
    return took


def polyvec_step(texts_file: Path, store: Path, spec: str) -> float:
    """``polyvec ingest`` of the part (one file per passage); seconds of the whole sync
    from its own summary (reading and hashing the files, chunking, embedding, writing;
    the model loads inside it, on first use) — the process's wall time is measured
    outside."""
    import contextlib
    import io
    import re

    texts = json.loads(texts_file.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts):
            (Path(tmp) / f"p{i:05d}.txt").write_text(text)
        from polyvec.cli import main as cli

        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            code = cli(
                ["ingest", tmp, "--url", f"qdrant+local://{store}", "--collection", _COLLECTION,
                 "--embedder", spec, "--no-progress", "--chunk-size", "100000"]
            )  # fmt: skip
    found = re.search(r" in ([0-9.]+)s$", report.getvalue(), re.MULTILINE)
    if code != 0 or found is None:
        raise SystemExit(f"polyvec ingest failed ({code}): {report.getvalue()}")
    return float(found.group(1))


def run(n: int, parts: int, systems: list[str]) -> str:
    from benchmarks.corpus import passages

    texts = passages(n)
    size = -(-n // parts)
    inner = dict.fromkeys(systems, 0.0)
    wall = dict.fromkeys(systems, 0.0)
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        for p in range(parts):
            part_file = Path(tmp) / f"part{p}.json"
            part_file.write_text(json.dumps(texts[p * size : (p + 1) * size]))
            order = systems[p % len(systems) :] + systems[: p % len(systems)]
            for system in order:
                store = Path(tmp) / system.replace(" ", "-")
                cmd = [sys.executable, "-m", "benchmarks.bench_ingest_peers", "--step", system,
                       "--texts", str(part_file), "--store", str(store)]  # fmt: skip
                start = time.perf_counter()
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                wall[system] += time.perf_counter() - start
                inner[system] += float(done.stdout.strip().splitlines()[-1])
                print(f"part {p + 1}/{parts} {system}: {wall[system]:.0f} s so far", flush=True)
    ref = "langchain"
    rows = [
        f"#### Ingest {n} passages, {parts} parts, systems taking turns part by part, each "
        f"part a fresh process (load before {before}, after {load()})\n",
        "| system | ingest call docs/s | ÷ langchain-qdrant | whole processes s | "
        "÷ langchain-qdrant |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for system in systems:
        name = "langchain-qdrant add_texts + HuggingFaceEmbeddings" if system == ref else system
        rows.append(
            f"| {name} | {n / inner[system]:.1f} | {inner[ref] / inner[system]:.2f}× | "
            f"{wall[system]:.0f} | {wall[ref] / wall[system]:.2f}× |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--system", action="append", choices=SYSTEMS, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--step", choices=SYSTEMS, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--texts", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step is not None:
        assert args.texts is not None and args.store is not None
        if args.step == "langchain":
            took = langchain_step(args.texts, args.store)
        else:
            took = polyvec_step(args.texts, args.store, "onnx:" + args.step.rsplit(" ", 1)[1])
        print(took)
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    text = run(args.n, args.parts, args.system or list(SYSTEMS))
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

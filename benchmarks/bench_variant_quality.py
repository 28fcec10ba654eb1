"""Does int8 keep retrieval quality? nDCG@10 of the default hybrid configuration (and
dense alone) with each embedder variant, on every dataset given, in one run.

int8 may become the default embedder only if the default hybrid configuration's
nDCG@10 stays within ``--tolerance`` (0.005) of the PyTorch path on every dataset
(issue 22). Every variant ingests the same units (truncated documents, polyvec's
default) into its own in-memory Qdrant collection and answers every query of the
``test`` split; document vectors are cached on disk per variant (``--cache``).

::

    python -m benchmarks.bench_variant_quality .data/datasets/manpages \\
        .data/datasets/mansys .data/datasets/pydocs --out docs/benchmarks/variants.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from polyvec.embeddings import CachedEmbedder, make_embedder
from polyvec.evaluation import IngestOptions, evaluate, load_beir

SPECS = ("torch@cpu", "onnx:fp32@cpu", "onnx:int8-vnni@cpu", "onnx:int8-avx2@cpu")
CONFIGS = ("hybrid", "dense")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--spec", action="append", default=None, help=f"default: {' '.join(SPECS)}")
    ap.add_argument("--cache", default=".data/embcache-variants")
    ap.add_argument("--tolerance", type=float, default=0.005)
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    specs = args.spec or list(SPECS)
    ref = specs[0]
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for path in args.datasets:
        data = load_beir(path, "test")
        print(data.summary(), file=sys.stderr, flush=True)
        scores[data.name] = {}
        for spec in specs:
            start = time.perf_counter()
            embedder = CachedEmbedder(make_embedder(spec), directory=args.cache)
            report = evaluate(data, list(CONFIGS), embedder=embedder, options=IngestOptions())
            scores[data.name][spec] = {r.name: r.metrics["ndcg@10"] for r in report.results}
            print(
                f"  {spec:<22} {scores[data.name][spec]} ({time.perf_counter() - start:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    lines = [
        f"nDCG@10 on the test splits; Δ against {ref} (tolerance {args.tolerance})\n",
        "| dataset | config | " + " | ".join(specs) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in specs) + " |",
    ]
    worst: dict[str, float] = dict.fromkeys(specs, 0.0)
    for name, per_spec in scores.items():
        for config in CONFIGS:
            base = per_spec[ref][config]
            cells = []
            for spec in specs:
                value = per_spec[spec][config]
                delta = value - base
                if config == "hybrid":
                    worst[spec] = min(worst[spec], delta)
                cells.append(f"{value:.4f}" if spec == ref else f"{value:.4f} ({delta:+.4f})")
            lines.append(f"| {name} | {config} | " + " | ".join(cells) + " |")
    lines.append("")
    for spec in specs[1:]:
        ok = worst[spec] >= -args.tolerance
        lines.append(
            f"- {spec}: worst hybrid Δ {worst[spec]:+.4f} → "
            f"{'within' if ok else 'outside'} the tolerance"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.json:
        record: dict[str, Any] = {"scores": scores, "tolerance": args.tolerance}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

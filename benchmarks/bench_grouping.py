"""Answers per document: grouped (``group_by="doc_id"``) vs ungrouped chunk retrieval on
a BEIR dataset stored as chunks (``IngestOptions(doc_mode="chunks")``).

What a RAG user sees for ``k`` results:

* **ungrouped**: the top ``k`` chunks; the documents they come from, in order of first
  appearance (often fewer than ``k``: several chunks of one document);
* **grouped**: the top ``k`` documents, each its best chunk with its next best.

Both are scored per document with ranx (nDCG@k, recall@k, MRR@k), with the mean number
of distinct documents among the ``k`` results. Queries and configurations run on the
same collection, default hybrid retriever (DBSF).

    python -m benchmarks.bench_grouping .data/datasets/manpages --k 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from polyvec.evaluation.beir import load_beir
from polyvec.evaluation.metrics import ranked_run, score_run
from polyvec.evaluation.runner import IngestOptions, doc_ids, ingest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", nargs="+", help="BEIR directories")
    ap.add_argument("--k", type=int, default=10, help="results shown per query")
    ap.add_argument("--queries", type=int, default=None, help="only the first N queries")
    ap.add_argument("--url", default="qdrant+memory://")
    ap.add_argument("--json", default=None, help="write the rows here too")
    args = ap.parse_args(argv)
    k = args.k
    metrics = (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}")
    rows = []
    for path in args.dataset:
        data = load_beir(path, split="test")
        if args.queries:
            data.queries = dict(list(data.queries.items())[: args.queries])
            data.qrels = {q: data.qrels[q] for q in data.queries}
        coll = ingest(data, args.url, options=IngestOptions(doc_mode="chunks"), progress=True)
        plain = coll.retriever()
        grouped = coll.retriever(group_by="doc_id")
        ranked: dict[str, dict[str, list[str]]] = {"ungrouped": {}, "grouped": {}}
        for qid, text in data.queries.items():
            ranked["ungrouped"][qid] = list(dict.fromkeys(doc_ids(plain.search(text, k=k))))
            ranked["grouped"][qid] = doc_ids(grouped.search(text, k=k))
        for name, run in ranked.items():
            scores = score_run(data.qrels, ranked_run(run), metrics)
            distinct = statistics.mean(len(v) for v in run.values())
            row = {
                "dataset": Path(path).name,
                "mode": name,
                **{m: round(v, 4) for m, v in scores.items()},
                "documents shown": round(distinct, 2),
                "chunks stored": coll.count(),
                "queries": len(run),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
        coll.close()
    print(f"\n| dataset | results | nDCG@{k} | recall@{k} | MRR@{k} | documents shown (of {k}) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['dataset']} ({r['chunks stored']} chunks, {r['queries']} queries) | "
            f"{r['mode']} | {r[metrics[0]]:.4f} | {r[metrics[1]]:.4f} | {r[metrics[2]]:.4f} | "
            f"{r['documents shown']:.2f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

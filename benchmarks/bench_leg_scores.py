"""What carrying each leg's score on natively fused hits costs (Qdrant fuses in one call
and returns only the fused score; polyvec searches both legs again, narrowed to the
``k`` fused points). One interleaved run on qdrant-edge: ``search_hybrid`` as shipped
against the same call with the leg look-up switched off, per query, as a ratio::

    python -m benchmarks.bench_leg_scores --n 5000 --queries 200

Vectors are the test suite's hashed-trigram embedder over generated documents, and the
queries carry random dense and 4-term sparse vectors, so only the engine work is timed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import numpy as np

import polyvec
from polyvec.backends.qdrant._shared import QdrantBase
from polyvec.fusion import DBSF
from polyvec.types import SparseVector


def main(argv: list[str] | None = None) -> None:
    from tests.transfer.data import HashEmbedder, make_docs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        coll = polyvec.connect(f"qdrant-edge://{tmp}/store", collection="kb",
                               embedder=HashEmbedder())  # fmt: skip
        coll.add(make_docs(args.n), progress=False)
        rng = np.random.default_rng(0)
        queries = [
            (rng.normal(size=coll.dimension),
             SparseVector.from_dict({int(t): 1.0 for t in rng.choice(200, 4, replace=False)}))
            for _ in range(args.queries)
        ]  # fmt: skip
        shipped = QdrantBase._leg_scores

        def without(self: Any, collection: str, spec: Any, d: Any, s: Any, recs: Any, nf: Any
                    ) -> dict[str, dict[str, float]]:  # fmt: skip
            return {rec.point_id: {} for rec in recs}

        ms: dict[str, list[float]] = {"with leg scores": [], "fused score only": []}
        try:
            for _ in range(args.rounds):
                for label, impl in (("with leg scores", shipped), ("fused score only", without)):
                    setattr(QdrantBase, "_leg_scores", impl)  # noqa: B010
                    start = time.perf_counter()
                    for dense, sparse in queries:
                        coll.backend.search_hybrid("kb", dense, sparse, 10, fusion=DBSF(),
                                                   candidates=40)  # fmt: skip
                    ms[label].append((time.perf_counter() - start) / len(queries) * 1000)
        finally:
            setattr(QdrantBase, "_leg_scores", shipped)  # noqa: B010
            coll.close()
    for label, values in ms.items():
        print(f"{label:18s} median {statistics.median(values):.3f} ms/query")
    ratio = statistics.median(ms["with leg scores"]) / statistics.median(ms["fused score only"])
    print(f"ratio {ratio:.2f} ({args.n} points, {args.queries} queries x {args.rounds} rounds)")


if __name__ == "__main__":
    main()

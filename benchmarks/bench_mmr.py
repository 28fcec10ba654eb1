"""MMR speed: polyvec.mmr.mmr_select vs langchain-core's maximal_marginal_relevance.

Same inputs, same picks (checked), best-of-N wall time for each::

    python benchmarks/bench_mmr.py --fetch-k 200 --dim 384 --k 20
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from polyvec.mmr import mmr_select


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fetch-k", type=int, default=200)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--lambda-mult", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(args.fetch_k, args.dim)).astype(np.float32)
    query = rng.normal(size=args.dim).astype(np.float32)
    lam, k = args.lambda_mult, args.k
    assert mmr_select(query, emb, k, lam) == maximal_marginal_relevance(query, emb, lam, k)

    for label, cands in (("ndarray", emb), ("list of lists", emb.tolist())):
        ours = best_of(lambda c=cands: mmr_select(query, c, k, lam), args.repeat)
        theirs = best_of(lambda c=cands: maximal_marginal_relevance(query, c, lam, k), args.repeat)
        print(
            f"{label:>14}: fetch_k={args.fetch_k} d={args.dim} k={k}  "
            f"polyvec {ours * 1e3:.3f} ms  langchain-core {theirs * 1e3:.3f} ms  "
            f"ratio {theirs / ours:.1f}x"
        )


if __name__ == "__main__":
    main()

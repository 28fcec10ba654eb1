"""Timing helpers the benchmarks share: one call timed, contenders raced interleaved
(so load from other processes on a shared machine hits every contender alike), and
the p50/p95 of the samples.

    >>> runs = race({"a": lambda q: q * 2, "b": lambda q: q + 1}, [1, 2, 3], warmup=1)
    >>> sorted(runs), [len(s) for s in runs.values()]
    (['a', 'b'], [3, 3])
    >>> p50_p95([3.0, 1.0, 2.0, 4.0])
    (2.5, 3.0)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["p50_p95", "race", "timed"]

T = TypeVar("T")


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race(
    fns: Mapping[str, Callable[[T], Any]], items: Sequence[T], *, warmup: int = 10
) -> dict[str, list[float]]:
    """Seconds per call of every contender on each item, the contenders taking turns
    item by item; each first runs on the first ``warmup`` items, untimed."""
    for item in items[:warmup]:
        for fn in fns.values():
            fn(item)
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for item in items:
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(item)
            runs[name].append(time.perf_counter() - start)
    return runs


def p50_p95(samples: Sequence[float]) -> tuple[float, float]:
    """The median and the 95th percentile (the sample at index ``int(0.95 * (n - 1))``
    of the sorted samples), in the samples' unit."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]

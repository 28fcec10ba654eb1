"""Evaluation reports: a markdown table, JSON, and a matplotlib plot.

::

    report = EvalReport(dataset="manpages [test]", setup={...}, results=[...])
    print(report.markdown())
    report.write_json("results/manpages.json")
    report.plot("results/manpages.png")          # needs matplotlib
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyvec.errors import MissingDependencyError
from polyvec.evaluation.metrics import DEFAULT_METRICS
from polyvec.evaluation.runner import RunResult

__all__ = ["EvalReport", "markdown_table"]


def _fmt(value: float, digits: int = 3) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def markdown_table(
    results: Sequence[RunResult],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    latency: bool = True,
) -> str:
    """One row per run: metrics, queries, and p50/p95 latency in milliseconds."""
    head = ["configuration", *metrics, "queries"] + (["p50 ms", "p95 ms"] if latency else [])
    lines = [
        "| " + " | ".join(head) + " |",
        "| --- |" + " ---: |" * (len(head) - 1),
    ]
    for r in results:
        cells = [r.name, *(_fmt(r.metrics.get(m, float("nan"))) for m in metrics)]
        cells.append(str(len(r.run)))
        if latency:
            cells += [_fmt(r.p50_ms, 1), _fmt(r.p95_ms, 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class EvalReport:
    """Results of one evaluation: what was run (``setup``) and one row per configuration."""

    dataset: str
    setup: dict[str, Any]
    results: list[RunResult] = field(default_factory=list)
    metrics: tuple[str, ...] = DEFAULT_METRICS

    def markdown(self) -> str:
        return f"### {self.dataset}\n\n" + markdown_table(self.results, self.metrics)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "setup": self.setup,
            "metrics": list(self.metrics),
            "results": [r.as_dict() for r in self.results],
        }

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")
        return out

    def plot(self, path: str | os.PathLike[str], metric: str = "ndcg@10") -> Path:
        """A horizontal bar chart of ``metric`` per configuration, p50 latency in the
        labels. Written with matplotlib's Agg backend (no display needed)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise MissingDependencyError("matplotlib", "eval", "plots") from exc
        names = [r.name for r in self.results]
        values = [r.metrics.get(metric, 0.0) for r in self.results]
        labels = [f"{r.name} ({r.p50_ms:.0f} ms)" if r.latencies else r.name for r in self.results]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.2))
        bars = ax.barh(range(len(names)), values, color="#4c72b0")
        ax.set_yticks(range(len(names)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} (label: p50 query latency)")
        ax.set_title(self.dataset, fontsize=10)
        for bar, value in zip(bars, values):
            ax.text(
                value, bar.get_y() + bar.get_height() / 2, f" {value:.3f}", va="center", fontsize=7
            )
        ax.set_xlim(0, max([*values, 0.01]) * 1.15)
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return out

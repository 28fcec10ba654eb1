"""The ``polyvec tune`` subcommand (registered with :mod:`polyvec.cli`).

::

    polyvec tune --collection docs                      # no labels: pseudo-queries
    polyvec tune --collection docs --labels labels.jsonl

A labels file has one JSON object a line: ``{"query": "...", "relevant": ["id", ...]}``
or ``{"query": "...", "relevant": {"id": grade, ...}}``, ids being the stored ids (or the
``doc_id`` metadata of chunks). The result says which fusion and how many candidates
per leg to pass to ``polyvec search`` (``--fusion``, ``--alpha``, ``--rrf-k``,
``--dense-weight``, ``--candidates``) or to ``RetrieverConfig``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyvec.errors import InputError

__all__ = ["read_labels", "register", "run_tune", "search_options"]


def register(
    sub: argparse._SubParsersAction[Any],
    add_common_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Add ``tune`` to the ``polyvec`` command's subparsers."""
    p = sub.add_parser("tune", help="choose hybrid fusion for a collection (labels optional)")
    if add_common_options is not None:
        add_common_options(p)
    p.add_argument("--labels", default=None, metavar="JSONL", help="labelled queries (optional)")
    p.add_argument("--queries", type=int, default=300, help="units sampled for pseudo-queries")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--top", type=int, default=10, help="candidates shown")
    p.add_argument("--json", default=None, metavar="PATH", help="write the result as JSON")
    p.set_defaults(handler=run_tune)


def read_labels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a labels file (see the module docstring) into ``{query: {id: grade}}``."""
    labels: dict[str, dict[str, int]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                query, relevant = row["query"], row["relevant"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    f'{path}:{lineno}: expected {{"query": ..., "relevant": [...]}} ({exc})'
                ) from exc
            if not isinstance(query, str) or not query.strip():
                raise InputError(f"{path}:{lineno}: 'query' must be a non-empty string")
            if isinstance(relevant, list):
                grades = {str(d): 1 for d in relevant}
            elif isinstance(relevant, dict):
                grades = {str(d): int(g) for d, g in relevant.items()}
            else:
                raise InputError(f"{path}:{lineno}: 'relevant' must be a list or an object")
            labels.setdefault(query, {}).update(grades)
    if not labels:
        raise InputError(f"{path} holds no labelled query")
    return labels


def search_options(config: Any) -> str:
    """The ``polyvec search`` options that reproduce a tuned configuration."""
    from polyvec.fusion import DBSF, Convex

    fusion = config.fusion
    parts = []
    if isinstance(fusion, Convex):
        parts.append(f"--fusion convex --alpha {fusion.alpha:g}")
    elif isinstance(fusion, DBSF):
        parts.append("--fusion dbsf")
    else:
        parts.append(f"--fusion rrf --rrf-k {fusion.k:g}")
    weights = getattr(fusion, "weights", None)
    if weights is not None:
        parts.append(f"--dense-weight {weights[0] / sum(weights):g}")
    if config.candidates is not None:
        parts.append(f"--candidates {config.candidates}")
    return " ".join(parts)


def run_tune(args: argparse.Namespace) -> int:
    from polyvec.backends.registry import open_backend
    from polyvec.collection import Collection
    from polyvec.tuning.tune import tune

    labels = read_labels(args.labels) if args.labels else None  # fail before connecting
    backend = open_backend(args.url)
    try:
        coll = Collection(backend, args.collection, create=False)

        def progress(done: int, total: int) -> None:
            if done == total or done % 50 == 0:
                print(f"\r  {done}/{total} queries", end="", file=sys.stderr, flush=True)

        result = tune(coll, labels, queries=args.queries, seed=args.seed, progress=progress)
        print(file=sys.stderr)
    finally:
        backend.close()
    print(result.table(args.top))
    print(f"\nchosen: {result.chosen} ({result.queries} {result.source} queries)")
    print(f"polyvec search QUERY {search_options(result.config)}")
    print(
        f"RetrieverConfig(fusion={result.config.fusion!r}, candidates={result.config.candidates})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0

"""The ``polyvec eval`` and ``polyvec dataset`` subcommands (registered with
:mod:`polyvec.cli` through ``COMMAND_MODULES``).

::

    polyvec dataset manpages datasets/manpages --gcloud 300
    polyvec dataset pydocs datasets/pydocs
    polyvec dataset manpages-graded datasets/mangraded      # SEE ALSO pages relevant too
    polyvec dataset pyref datasets/pyref                    # needs python3-doc
    polyvec dataset kernel-docs datasets/kerneldocs         # needs linux-doc
    polyvec eval datasets/manpages --config bm25 --config dense --config hybrid \\
        --config convex:alpha=0.3 --json out/manpages.json --plot out/manpages.png
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["register", "run_dataset", "run_eval"]

DEFAULT_CONFIGS = ("bm25", "dense", "hybrid")
EVAL_URL = "qdrant-edge://"
"""The embedded engine (Qdrant's Rust engine in-process) in a temporary directory."""


def register(
    sub: argparse._SubParsersAction[Any],
    add_common_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Add ``eval`` and ``dataset`` to the ``polyvec`` command's subparsers. ``eval`` has
    its own ``--url`` (default: the embedded engine, qdrant-edge, in a temporary
    directory, so an evaluation leaves nothing behind) and ``--collection``, so
    ``add_common_options`` is not used."""
    ev = sub.add_parser("eval", help="evaluate retriever configurations on a BEIR dataset")
    ev.add_argument("dataset", help="BEIR directory (corpus.jsonl, queries.jsonl, qrels/)")
    ev.add_argument("--split", default="test", help="qrels split (default: test)")
    ev.add_argument(
        "--url",
        default=EVAL_URL,
        help="backend URL (default: %(default)s, the embedded engine in a temporary "
        "directory removed at the end)",
    )
    ev.add_argument("--collection", default=None, help="collection name (default: derived)")
    ev.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="SPEC",
        help="bm25 | dense | hybrid | rrf|dbsf|convex[:k=..,alpha=..,mmr=..,prf=..,rerank=..]"
        f" (repeatable; default: {' '.join(DEFAULT_CONFIGS)})",
    )
    ev.add_argument(
        "--doc-mode",
        choices=["truncate", "chunks"],
        default="truncate",
        help="one unit per document (the model reads its first window; default) or "
        "chunks scored per document by their best chunk",
    )
    ev.add_argument(
        "--chunk-size", type=int, default=250, help="tokens per chunk (approximate word pieces)"
    )
    ev.add_argument("--chunk-overlap", type=int, default=32, help="tokens of overlap")
    ev.add_argument("--depth", type=int, default=100, help="documents ranked per query")
    ev.add_argument("--queries", type=int, default=None, help="only the first N queries")
    ev.add_argument(
        "--cache-dir",
        default=".polyvec/embcache",
        help="disk cache of document embeddings (queries are never cached)",
    )
    ev.add_argument("--no-cache", action="store_true", help="no embedding cache")
    ev.add_argument(
        "--embedder",
        default=None,
        metavar="SPEC",
        help="onnx[:fp32|int8|...] or torch[:fp32|fp16][@cpu|@cuda|@auto] "
        "(default: $POLYVEC_EMBEDDER, else onnx)",
    )
    ev.add_argument("--json", default=None, metavar="PATH", help="write results as JSON")
    ev.add_argument("--plot", default=None, metavar="PATH", help="write a PNG bar chart")
    ev.set_defaults(handler=run_eval)

    ds = sub.add_parser("dataset", help="build a BEIR dataset from offline text")
    ds.add_argument("source", choices=list(SOURCES))
    ds.add_argument("out", help="output directory")
    ds.add_argument(
        "--man-dir",
        action="append",
        default=None,
        help="man page directory, repeatable (default: /usr/share/man/man1; "
        "manpages-graded: man1 to man8)",
    )
    ds.add_argument(
        "--html-dir", default=None, help="pyref: Python HTML docs (python3-doc's by default)"
    )
    ds.add_argument(
        "--docs-dir", default=None, help="kernel-docs: a Documentation/ tree (linux-doc's)"
    )
    ds.add_argument(
        "--min-offset", type=int, default=256, help="pyref: words a query sentence lies deep"
    )
    ds.add_argument("--passage-words", type=int, default=100, help="kernel-docs: passage size")
    ds.add_argument("--name", default=None, help="dataset name (default: the source's)")
    ds.add_argument("--gcloud", type=int, default=300, help="GA gcloud pages kept (manpages)")
    ds.add_argument(
        "--max-words", type=int, default=3000, help="leave out longer pages (0: keep all)"
    )
    ds.add_argument("--render-cache", default=None, help="keep rendered man pages here")
    ds.add_argument("--workers", type=int, default=2, help="man pages rendered at once")
    ds.set_defaults(handler=run_dataset)


SOURCES = {
    "manpages": "manpages",
    "pydocs": "pydocs",
    "manpages-graded": "mangraded",
    "pyref": "pyref",
    "kernel-docs": "kerneldocs",
}
"""``polyvec dataset`` sources and the dataset name each one gets by default."""


def _build(args: argparse.Namespace) -> Any:
    name = args.name or SOURCES[args.source]
    if args.source == "manpages-graded":
        from polyvec.evaluation.builders.manpages_graded import (
            DEFAULT_MAN_DIRS,
            build_manpages_graded,
        )

        return build_manpages_graded(
            args.out,
            man_dir=args.man_dir or DEFAULT_MAN_DIRS,
            gcloud=args.gcloud,
            max_words=args.max_words,
            cache_dir=args.render_cache,
            workers=args.workers,
            name=name,
        )
    if args.source == "pyref":
        from polyvec.evaluation.builders.pyref import DEFAULT_HTML_DIR, build_pyref

        return build_pyref(
            args.out,
            html_dir=args.html_dir or DEFAULT_HTML_DIR,
            min_offset=args.min_offset,
            name=name,
        )
    from polyvec.evaluation.builders.kernel_docs import DEFAULT_DOCS_DIR, build_kernel_docs

    return build_kernel_docs(
        args.out,
        docs_dir=args.docs_dir or DEFAULT_DOCS_DIR,
        passage_words=args.passage_words,
        name=name,
    )


def run_dataset(args: argparse.Namespace) -> int:
    from polyvec.evaluation.beir import load_beir

    if args.source not in ("manpages", "pydocs"):
        root = _build(args)
    elif args.source == "manpages":
        from polyvec.evaluation.builders.manpages import build_manpages

        root = build_manpages(
            args.out,
            man_dir=args.man_dir or "/usr/share/man/man1",
            gcloud=args.gcloud,
            max_words=args.max_words,
            cache_dir=args.render_cache,
            workers=args.workers,
            name=args.name or "manpages",
        )
    else:
        from polyvec.evaluation.builders.pydocs import build_pydocs

        root = build_pydocs(args.out, name=args.name or "pydocs")
    for split in ("dev", "test"):
        print(load_beir(root, split).summary())
    print(f"written to {root}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from polyvec.embeddings import CachedEmbedder, default_embedder, make_embedder
    from polyvec.evaluation.beir import load_beir
    from polyvec.evaluation.evaluate import evaluate
    from polyvec.evaluation.runner import IngestOptions, QueryEmbedderSplit, ingest

    data = load_beir(args.dataset, args.split).sample(args.queries)
    print(data.summary(), file=sys.stderr)
    base = make_embedder(args.embedder) if args.embedder else default_embedder()
    docs = base if args.no_cache else CachedEmbedder(base, directory=args.cache_dir)
    options = IngestOptions(args.doc_mode, args.chunk_size, args.chunk_overlap)
    coll = ingest(
        data,
        args.url,
        collection=args.collection,
        embedder=QueryEmbedderSplit(docs, base),
        options=options,
        progress=True,
    )
    try:
        report = evaluate(
            data,
            args.config or list(DEFAULT_CONFIGS),
            collection=coll,
            options=options,
            depth=args.depth,
            verbose=True,
        )
    finally:
        coll.close()
    print(report.markdown())
    if args.json:
        print(f"JSON: {report.write_json(args.json)}", file=sys.stderr)
    if args.plot:
        print(f"plot: {report.plot(args.plot)}", file=sys.stderr)
    return 0

"""The ``polyvec`` command: ``ingest``, ``search``, ``info``, ``migrate``, ``verify``,
``export``, ``import``, ``snapshot``, ``dataset``, ``eval`` and ``tune``.

::

    polyvec ingest ./handbook --delete-missing        # add, update, remove: in step
    polyvec search "rotate logs" --k 5 --group-by doc_id
    polyvec info
    polyvec tune --collection documents               # choose fusion without labels

Every command takes ``--url`` (default: ``$POLYVEC_URL``, else the embedded store in
``./.polyvec``) and ``--collection``. ``ingest`` and ``search`` also take ``--read-only``
(refuse every write) and ``--encrypt FIELD`` (repeatable: metadata fields stored
Fernet-encrypted; the key from ``$POLYVEC_ENCRYPTION_KEY`` or ``--key-file``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from polyvec.errors import CollectionNotFoundError, PolyvecError

__all__ = ["COMMAND_MODULES", "main"]

COMMAND_MODULES: list[str] = [
    "polyvec.transfer.cli",
    "polyvec.evaluation.cli",
    "polyvec.tuning.cli",
]
"""Modules that add subcommands: each has ``register(subparsers, add_common_options)``
that adds its parsers and sets ``handler`` (``args -> exit code``) as their default."""


DESCRIPTION = """\
polyvec: one retrieval core (BM25 + dense hybrid, fusion, MMR, rerank) over Qdrant,
pgvector, Chroma, Milvus, Pinecone and Weaviate.

examples:
  polyvec ingest ./handbook --delete-missing      keep a collection in step with a folder
  polyvec search "rotate logs" --k 5 --group-by doc_id
  polyvec info
  polyvec tune                                     choose the fusion for a collection
  polyvec export backup.jsonl.gz                   then: polyvec import backup.jsonl.gz
  polyvec COMMAND --help                           options of one command
"""

_GENERIC_HELP = {
    "--batch-size": "documents per batch",
    "--no-progress": "no progress bar",
    "--no-verify": "skip the final comparison",
    "--json": "machine-readable output",
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and shows each option's default (unless it is
    empty, off, or already in the help text)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, [], argparse.SUPPRESS)
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def format_help(self) -> str:
        for action in self._actions:  # options another module added without help
            if action.help is None and action.option_strings:
                action.help = _GENERIC_HELP.get(action.option_strings[-1])
        return super().format_help()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=None,
        help="backend URL (default: $POLYVEC_URL, else the embedded store in ./.polyvec)",
    )
    p.add_argument("--collection", default="documents", help="collection name")


def _safety(p: argparse.ArgumentParser) -> None:
    p.add_argument("--read-only", action="store_true", help="refuse every write (ReadOnlyError)")
    p.add_argument(
        "--encrypt",
        action="append",
        default=[],
        metavar="FIELD",
        help="metadata field stored encrypted (repeatable; a.b for nested fields)",
    )
    p.add_argument(
        "--key-file",
        default=None,
        help="file with the Fernet key(s), one per line, newest first "
        "(default: $POLYVEC_ENCRYPTION_KEY)",
    )


def _embedder_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--embedder",
        default=None,
        metavar="SPEC",
        help="onnx[:fp32|int8|int8-vnni|int8-avx2|fp16] or torch[:fp32|fp16], optionally "
        "@cpu|@cuda|@auto (default: $POLYVEC_EMBEDDER, else onnx; an existing collection "
        "keeps the variant it was built with)",
    )


def _open_collection(args: argparse.Namespace, *, create: bool) -> Any:
    """The collection, through the safety layers ``--read-only`` / ``--encrypt`` ask for."""
    from polyvec.backends.registry import open_backend
    from polyvec.collection import Collection
    from polyvec.safety import guard

    keys = None
    if args.encrypt:
        from polyvec.safety.encryption import load_keys

        keys = load_keys(args.key_file)  # before connecting: a missing key fails fast
    backend = open_backend(args.url)
    try:
        guarded = guard(backend, read_only=args.read_only, encrypt_fields=args.encrypt, key=keys)
        return Collection(
            guarded, args.collection, create=create, embedder=getattr(args, "embedder", None)
        )
    except BaseException:
        backend.close()
        raise


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="polyvec", description=DESCRIPTION)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    ing = sub.add_parser(
        "ingest",
        help="read, chunk, embed and store files; re-runs only embed what changed",
        description="Keep a collection in step with files and folders. A document's id "
        "is its path relative to the folder given (or the file's name), so re-running "
        "from anywhere finds the same documents: unchanged ones are not embedded again, "
        "changed ones replace their chunks, and --delete-missing removes documents whose "
        "files are gone. Reads text in any common encoding, Markdown, HTML, PDF, JSONL "
        "and man pages; other files are skipped with a reason. Exit code 1 if any file "
        "failed.",
    )
    _common(ing)
    ing.add_argument("paths", nargs="+", help="files or directories to ingest")
    ing.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only files whose name or relative path matches (repeatable); also reads "
        "files of other types as text, e.g. --include '*.py'",
    )
    ing.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files whose name or relative path matches (repeatable)",
    )
    ing.add_argument("--limit", type=int, default=None, help="at most this many files")
    ing.add_argument(
        "--delete-missing",
        action="store_true",
        help="remove stored documents whose files are no longer found (only ids under "
        "--id-prefix, when given); files that fail to load keep theirs",
    )
    ing.add_argument(
        "--id-prefix",
        default="",
        help="prepended to every document id, e.g. 'handbook/' to keep two folders apart "
        "in one collection",
    )
    ing.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="tokens per chunk, in the embedding model's tokens (default: the model's "
        "window, 254 for all-MiniLM-L6-v2)",
    )
    ing.add_argument(
        "--chunk-overlap",
        type=int,
        default=32,
        help="tokens repeated from the previous chunk when a cut falls inside a paragraph",
    )
    ing.add_argument("--text-field", default="text", help="the text field of JSONL records")
    ing.add_argument(
        "--batch-size", type=int, default=128, help="chunks embedded and written at a time"
    )
    ing.add_argument("--no-progress", action="store_true", help="no progress bar")
    ing.add_argument("--json", action="store_true", help="print the report as JSON")
    _embedder_option(ing)
    _safety(ing)

    se = sub.add_parser("search", help="search a collection")
    _common(se)
    se.add_argument("query", help="what to search for, in words")
    se.add_argument("--k", type=int, default=5, help="how many hits (documents with --group-by)")
    se.add_argument(
        "--mode",
        choices=["dense", "sparse", "hybrid"],
        default="hybrid",
        help="dense (embeddings), sparse (BM25) or both fused",
    )
    se.add_argument(
        "--fusion",
        choices=["rrf", "dbsf", "convex"],
        default="dbsf",
        help="hybrid fusion (default: dbsf, as RetrieverConfig)",
    )
    se.add_argument("--rrf-k", type=float, default=60.0, help="RRF's k for --fusion rrf")
    se.add_argument("--alpha", type=float, default=0.5, help="dense weight for --fusion convex")
    se.add_argument(
        "--dense-weight",
        type=float,
        default=None,
        help="dense leg weight in (0, 1) for rrf/dbsf (sparse gets 1 - it; default: equal)",
    )
    se.add_argument(
        "--candidates", type=int, default=None, help="candidates per leg (default: max(50, 4k))"
    )
    se.add_argument("--filter", default=None, help='JSON filter, e.g. \'{"page": {"$gte": 3}}\'')
    se.add_argument("--mmr", type=float, default=None, metavar="LAMBDA", help="diversify (0..1)")
    se.add_argument(
        "--rerank",
        nargs="?",
        const="cross-encoder/ms-marco-MiniLM-L-6-v2",
        default=None,
        metavar="MODEL",
        help="rerank with a cross-encoder (model name or path; "
        "cross-encoder/ms-marco-MiniLM-L-6-v2 when none is named)",
    )
    se.add_argument(
        "--group-by",
        default=None,
        metavar="FIELD",
        help="one answer per value of this metadata field, e.g. doc_id: the best chunk of "
        "each document with its other top chunks; --k counts documents",
    )
    se.add_argument("--json", action="store_true", help="machine-readable hits")
    se.add_argument(
        "--no-query-cache",
        action="store_true",
        help="embed the query even if it was embedded before (the cache of query vectors "
        "lives in $POLYVEC_CACHE_DIR, else ~/.cache/polyvec; POLYVEC_QUERY_CACHE=0 also "
        "turns it off)",
    )
    _embedder_option(se)
    _safety(se)

    inf = sub.add_parser("info", help="collections, counts and what the backend does natively")
    _common(inf)
    inf.add_argument("--json", action="store_true", help="machine-readable output")
    inf.set_defaults(handler=_info)
    ing.set_defaults(handler=_ingest)
    se.set_defaults(handler=_search)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, _common)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    from polyvec.chunking import Chunker
    from polyvec.errors import ReadOnlyError
    from polyvec.ingest import sync_paths
    from polyvec.ingest.files import require_paths

    if args.read_only:  # refused before a file is read or a chunk embedded
        raise ReadOnlyError("ingest documents", f"collection {args.collection!r}")
    require_paths(args.paths)  # a missing path must not leave an empty collection behind
    coll = _open_collection(args, create=True)
    try:
        chunker = Chunker.for_embedder(coll.embedder, args.chunk_size, args.chunk_overlap)
        report = sync_paths(
            coll,
            args.paths,
            include=args.include,
            exclude=args.exclude,
            limit=args.limit,
            id_prefix=args.id_prefix,
            delete_missing=args.delete_missing,
            chunker=chunker,
            text_field=args.text_field,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
        if report.chunks_embedded or report.removed:
            coll.optimize()  # engines without a background optimizer index new points now
        total = coll.count()
    finally:
        coll.close()
    if args.json:
        print(json.dumps({**report.as_dict(), "collection_chunks": total}, ensure_ascii=False))
    else:
        print(report.summary())
        print(f"collection {args.collection!r} now holds {total} chunks")
    return 0 if report.ok else 1


def _hit_json(hit: Any) -> dict[str, Any]:
    out = {
        "id": hit.id,
        "score": hit.score,
        "kind": hit.kind,
        "scores": dict(hit.scores),
        "text": hit.document.text,
        "metadata": dict(hit.document.metadata),
        "sources": [
            {"leg": s.leg, "rank": s.rank, "score": s.score, "kind": s.kind, "variant": s.variant}
            for s in hit.sources
        ],
    }
    if hit.group:
        from polyvec.grouping import passage

        out["group"] = [_hit_json(h) for h in hit.group]
        out["passage"] = passage(hit)
    return out


def _search(args: argparse.Namespace) -> int:
    from polyvec.errors import ConfigurationError
    from polyvec.filters import parse_filter
    from polyvec.fusion import DBSF, RRF, Convex, Fusion
    from polyvec.retriever import MMRConfig, RetrieverConfig

    weights = None
    if args.dense_weight is not None:
        if args.fusion == "convex" or not 0.0 < args.dense_weight < 1.0:
            raise ConfigurationError(
                "--dense-weight takes a number in (0, 1) with --fusion rrf or dbsf "
                "(convex fusion weighs the legs with --alpha)"
            )
        weights = (args.dense_weight, 1.0 - args.dense_weight)
    fusions: dict[str, Fusion] = {
        "rrf": RRF(k=args.rrf_k, weights=weights),
        "dbsf": DBSF(weights=weights),
        "convex": Convex(args.alpha),
    }
    fusion = fusions[args.fusion]
    reranker = None
    if args.rerank:
        from polyvec.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(args.rerank)
    config = RetrieverConfig(
        mode=args.mode,
        k=args.k,
        fusion=fusion,
        candidates=args.candidates,
        mmr=MMRConfig(lambda_mult=args.mmr) if args.mmr is not None else None,
        reranker=reranker,
        group_by=args.group_by,
    )
    filt = parse_filter(json.loads(args.filter)) if args.filter else None  # fail before connecting
    with _open_collection(args, create=False) as coll:
        query_cache = _query_cache(coll, enabled=not args.no_query_cache)
        try:
            hits = coll.retriever(config).search(args.query, filter=filt)
        finally:
            if query_cache is not None:
                query_cache.close()
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], ensure_ascii=False, default=str))
        return 0
    grouped = f", one answer per {args.group_by}" if args.group_by else ""
    print(f"query: {args.query!r}  ({args.mode}, {args.fusion}{grouped})")
    for rank, hit in enumerate(hits, 1):
        meta = hit.document.metadata
        title = str(meta.get("title", ""))
        legs = " ".join(f"{s.leg}#{s.rank}" for s in hit.sources)
        if hit.group:
            from polyvec.grouping import passage

            chunks = ",".join(
                str(h.document.metadata.get("chunk", h.id)) for h in (hit, *hit.group)
            )
            legs = f"chunks {chunks}"
            snippet = " ".join(passage(hit).split())[:100]
        else:
            snippet = " ".join(hit.document.text.split())[:100]
        print(f"{rank:>2}. {hit.score:8.4f} {hit.kind:<6} {title:<18} [{legs}] {snippet}")
    return 0


def _query_cache(coll: Any, *, enabled: bool) -> Any:
    """Wrap the collection's embedder in a persistent cache of query vectors (a repeated
    query is then answered without loading the model); None when it is turned off."""
    import os

    if not enabled or os.environ.get("POLYVEC_QUERY_CACHE", "1").strip() in ("0", "false", "no"):
        return None
    from polyvec.embedding_cache import CachedEmbedder, cache_root

    cached = CachedEmbedder(coll.embedder, max_entries=64, directory=cache_root() / "queries")
    coll.embedder = cached
    return cached


def _info(args: argparse.Namespace) -> int:
    from polyvec.backends.registry import open_backend, resolve_url
    from polyvec.safety.secrets import redact_url
    from polyvec.stats import collection_statistics

    backend = open_backend(args.url)
    shown: dict[str, str] = {}
    try:
        warnings = list(backend.warnings)
        caps = backend.capabilities.as_dict()
        collections = {}
        for name in backend.list_collections():
            stats = collection_statistics(backend, name)
            collections[name] = {
                "count": stats.documents,
                "dimension": stats.dimension,
                "distance": stats.distance,
                "statistics": stats.as_dict(),
            }
            shown[name] = repr(stats)
    finally:
        backend.close()
    info = {
        "url": redact_url(resolve_url(args.url)),
        "collections": collections,
        "capabilities": caps,
        "warnings": warnings,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"backend: {caps['backend']}  url: {info['url']}")
    for warning in warnings:
        print(f"  warning: {warning}")
    for name in collections:
        print(f"  {shown[name]}")
    print("native capabilities:")
    for key, value in caps.items():
        if key != "backend":
            listed = ", ".join(value) if isinstance(value, list) else value
            print(f"  {key:<17} {listed}")
    return 0


def _secrets(args: argparse.Namespace) -> list[str]:
    """Every credential the command's URLs (and ``$POLYVEC_URL``) carry."""
    from polyvec.backends.registry import URL_ENV
    from polyvec.redaction import secrets_in_url

    urls = [getattr(args, name, None) for name in ("url", "source", "destination")]
    urls.append(os.environ.get(URL_ENV))
    return [s for url in urls if url for s in secrets_in_url(url)]


def main(argv: Sequence[str] | None = None) -> int:
    from polyvec.redaction import scrub

    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # the model libraries' own bars ("Loading weights") are noise on a command line
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return handler(args)
    except CollectionNotFoundError as exc:
        print(
            f"polyvec: error: collection {exc.collection!r} does not exist: create it with "
            f"`polyvec ingest PATH --collection {exc.collection}`, or see the collections "
            "there with `polyvec info`",
            file=sys.stderr,
        )
        return 2
    except PolyvecError as exc:
        print(f"polyvec: error: {scrub(str(exc), _secrets(args))}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"polyvec: error: --filter is not valid JSON: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``polyvec migrate``, ``export``, ``import`` and ``verify``.

::

    polyvec migrate qdrant+local://./old postgresql://app@db/rag --collection docs
    polyvec migrate --from langchain-postgres postgresql://app@db/rag postgresql://app@db/rag \
        --collection docs          # a peer store's collection, rebuilt in place with BM25
    polyvec export --url qdrant+local://./old --collection docs backup.jsonl.gz
    polyvec export --url qdrant+local://./old --collection docs backup.parquet
    polyvec import backup.jsonl.gz --url chroma://127.0.0.1:8000 --collection docs
    polyvec verify qdrant+local://./old postgresql://app@db/rag --collection docs
    polyvec snapshot create --url qdrants://db:6333 --collection docs docs.snapshot

Every backend call is retried on transient errors (``--retries``). No password or API
key from a URL (or ``$POLYVEC_URL``) is ever printed: URLs are shown redacted and
error messages are scrubbed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from polyvec.backends.base import Backend
from polyvec.errors import PolyvecError
from polyvec.safety.retry import RetryPolicy
from polyvec.safety.secrets import redact_url, scrub, secrets_in_url

__all__ = ["register"]

Handler = Callable[[argparse.Namespace], int]

PEER_NAMES = ("langchain-qdrant", "langchain-postgres", "pgvectorstore", "langchain-chroma",
              "llama-index-qdrant")  # fmt: skip
"""``--from`` layouts (:data:`polyvec.transfer.peers.PEERS`; named here so that the CLI
imports no engine client before it runs)."""


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add the transfer subcommands to the ``polyvec`` parser."""
    mig = subparsers.add_parser("migrate", help="copy a collection to another backend, verified")
    _pair(mig)
    mig.add_argument("--batch-size", type=int, default=256)
    mig.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint file for resuming (default: .polyvec/checkpoints/<copy>.jsonl)",
    )
    mig.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    mig.add_argument("--no-verify", action="store_true", help="skip the final comparison")
    mig.add_argument("--no-progress", action="store_true")
    mig.add_argument(
        "--from",
        dest="peer",
        default=None,
        choices=sorted(PEER_NAMES),
        help="the source is a collection (a PGVectorStore table) a peer store wrote",
    )
    mig.add_argument(
        "--distance",
        choices=["cosine", "dot", "l2"],
        default=None,
        help="--from langchain-postgres/pgvectorstore: the store's distance (default cosine)",
    )
    mig.set_defaults(handler=_safe(_migrate))

    ver = subparsers.add_parser("verify", help="compare a collection with its copy")
    _pair(ver)
    ver.add_argument("--batch-size", type=int, default=256)
    ver.set_defaults(handler=_safe(_verify))

    exp = subparsers.add_parser("export", help="write a collection to JSONL or Parquet")
    add_common_options(exp)
    exp.add_argument("output", help="file (.jsonl, .jsonl.gz, .parquet) or - for stdout (JSONL)")
    exp.add_argument(
        "--format",
        choices=["jsonl", "parquet"],
        default=None,
        help="file format (default: from the name; .parquet → parquet, else jsonl)",
    )
    exp.add_argument("--batch-size", type=int, default=256)
    exp.add_argument("--no-progress", action="store_true")
    _shared(exp)
    exp.set_defaults(handler=_safe(_export))

    imp = subparsers.add_parser("import", help="load a `polyvec export` file, verified")
    add_common_options(imp)
    imp.add_argument("input", help="a file written by `polyvec export` (JSONL or Parquet)")
    imp.add_argument("--batch-size", type=int, default=256)
    imp.add_argument("--no-verify", action="store_true")
    imp.add_argument("--no-progress", action="store_true")
    _shared(imp)
    imp.set_defaults(handler=_safe(_import), collection=None)

    snap = subparsers.add_parser(
        "snapshot", help="the engine's native snapshot of a collection (Qdrant server only)"
    )
    add_common_options(snap)
    snap.add_argument("action", choices=["create", "restore"])
    snap.add_argument("file", help="snapshot file to write (create) or read (restore)")
    _shared(snap)
    snap.set_defaults(handler=_safe(_snapshot))


def _pair(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="source backend URL")
    p.add_argument("destination", help="destination backend URL")
    p.add_argument("--collection", default="documents", help="source collection")
    p.add_argument("--to-collection", default=None, help="destination name (default: same)")
    p.add_argument("--tolerance", type=float, default=1e-5, help="dense vector tolerance")
    _shared(p)


def _shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retries", type=int, default=5, help="retries per call on transient errors")
    p.add_argument("--json", action="store_true", help="machine-readable report")


def _urls(args: argparse.Namespace) -> list[str]:
    found = [getattr(args, name, None) for name in ("source", "destination", "url")]
    found.append(os.environ.get("POLYVEC_URL"))
    return [u for u in found if u]


def _safe(handler: Handler) -> Handler:
    """Run ``handler``; print any error scrubbed of every secret the URLs carry."""

    def run(args: argparse.Namespace) -> int:
        secrets = [s for url in _urls(args) for s in secrets_in_url(url)]
        try:
            return handler(args)
        except KeyboardInterrupt:
            print("polyvec: interrupted; re-run the same command to resume", file=sys.stderr)
            return 130
        except PolyvecError as exc:
            print(f"polyvec: error: {scrub(str(exc), secrets)}", file=sys.stderr)
            return 2
        except Exception as exc:  # a client's own error: shown, never with a secret
            message = scrub(f"{type(exc).__name__}: {exc}", secrets)
            print(f"polyvec: error: {message}", file=sys.stderr)
            return 1

    return run


def _policy(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(attempts=max(1, args.retries + 1))


@contextmanager
def _backend(
    url: str | None, policy: RetryPolicy, opened: Backend | None = None
) -> Iterator[Backend]:
    from polyvec.backends.registry import open_backend
    from polyvec.safety import guard

    raw = opened or policy.call(lambda: open_backend(url), "connect")
    try:
        yield guard(raw, retry=policy)
    finally:
        raw.close()


def _emit(args: argparse.Namespace, report: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print("\n".join(lines))


def _default_checkpoint(args: argparse.Namespace) -> Path:
    key = "\0".join(
        [redact_url(args.source), redact_url(args.destination), args.collection,
         args.to_collection or args.collection]
    )  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(".polyvec") / "checkpoints" / f"migrate-{args.collection}-{digest}.jsonl"


def _migrate_peer(args: argparse.Namespace) -> int:
    from polyvec.transfer.peers import migrate_from_peer, open_reader

    policy = _policy(args)
    reader = open_reader(args.peer, args.source, args.collection, distance=args.distance)
    try:
        shared = reader.same_store(args.destination)  # e.g. one Qdrant local-mode folder
        with _backend(args.destination, policy, shared) as dst:
            report = migrate_from_peer(
                reader, dst, args.to_collection or args.collection, batch_size=args.batch_size,
                verify=not args.no_verify, progress=not args.no_progress,
            )  # fmt: skip
    finally:
        reader.close()
    lines = [
        f"migrated the {args.peer} collection {args.collection!r} from "
        f"{redact_url(args.source)} to {redact_url(args.destination)} as "
        f"{report.destination_collection!r}: {report.copied} documents with their vectors, "
        f"BM25 built, {report.seconds:.1f}s",
    ]
    if report.verification is not None:
        lines.append(
            f"verified: {report.verification.destination_count} documents, texts, metadata, "
            "dense and BM25 vectors match"
        )
    _emit(args, report.as_dict(), lines)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from polyvec.errors import VerificationError

    if args.peer is not None:
        return _migrate_peer(args)
    from polyvec.transfer.migrate import migrate

    checkpoint = Path(args.checkpoint) if args.checkpoint else _default_checkpoint(args)
    policy = _policy(args)
    with ExitStack() as stack:
        src = stack.enter_context(_backend(args.source, policy))
        dst = stack.enter_context(_backend(args.destination, policy))
        try:
            report = migrate(
                src, dst, args.collection, args.to_collection, batch_size=args.batch_size,
                checkpoint=checkpoint, restart=args.restart, verify=not args.no_verify,
                tolerance=args.tolerance, progress=not args.no_progress,
            )  # fmt: skip
        except VerificationError:
            raise
        except BaseException:
            if checkpoint.exists():
                print(f"polyvec: progress saved in {checkpoint}; re-run to resume",
                      file=sys.stderr)  # fmt: skip
            raise
    check = report.verification
    lines = [
        f"migrated {args.collection!r} from {redact_url(args.source)} to "
        f"{redact_url(args.destination)} as {report.destination_collection!r}: "
        f"{report.copied} copied, {report.skipped} already there (checkpoint), "
        f"{report.seconds:.1f}s",
    ]
    if check is not None:
        exact = "bit-identical" if check.dense_identical else f"max diff {check.max_dense_diff:.2g}"
        lines.append(
            f"verified: {check.source.count} = {check.destination_count} documents, content "
            f"checksum {check.source.content[:16]}… matches, dense vectors {exact}"
        )
    _emit(args, report.as_dict(), lines)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from polyvec.transfer.migrate import verify_copy

    policy = _policy(args)
    with _backend(args.source, policy) as src, _backend(args.destination, policy) as dst:
        check = verify_copy(
            src, dst, args.collection, args.to_collection,
            batch_size=args.batch_size, tolerance=args.tolerance,
        )  # fmt: skip
    status = "identical" if check.ok else "DIFFERENT"
    lines = [f"{status}: {check.source.count} source documents, {check.destination_count} copies"]
    lines += [f"  - {p}" for p in check.problems]
    _emit(args, check.as_dict(), lines)
    return 0 if check.ok else 3


def _export(args: argparse.Namespace) -> int:
    from polyvec.transfer.jsonl import export_collection

    progress = not args.no_progress and args.output != "-"
    with _backend(args.url, _policy(args)) as backend:
        report = export_collection(
            backend, args.collection, args.output, batch_size=args.batch_size, progress=progress,
            format=args.format,
        )  # fmt: skip
    if args.output != "-":
        _emit(args, report.as_dict(), [
            f"exported {report.digest.count} documents of {args.collection!r} to "
            f"{report.path} (content checksum {report.digest.content[:16]}…)"
        ])  # fmt: skip
    return 0


def _import(args: argparse.Namespace) -> int:
    from polyvec.transfer.jsonl import import_collection

    with _backend(args.url, _policy(args)) as backend:
        report = import_collection(
            backend, args.input, collection=args.collection, batch_size=args.batch_size,
            verify=not args.no_verify, progress=not args.no_progress,
        )  # fmt: skip
    verified = " and verified against the file" if report.verification else ""
    _emit(args, report.as_dict(), [
        f"imported {report.count} documents into {report.collection!r}{verified}"
    ])  # fmt: skip
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    from polyvec.transfer.snapshot import create_snapshot, restore_snapshot

    with _backend(args.url, _policy(args)) as backend:
        if args.action == "create":
            name = create_snapshot(backend, args.collection, args.file)
            line = f"snapshot {name!r} of {args.collection!r} written to {args.file}"
        else:
            restore_snapshot(backend, args.collection, args.file)
            name, line = "", f"restored {args.collection!r} from the snapshot {args.file}"
    _emit(args, {"action": args.action, "collection": args.collection, "file": args.file,
                 "snapshot": name}, [line])  # fmt: skip
    return 0

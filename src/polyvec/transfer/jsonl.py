"""Export a collection to JSON Lines with its vectors, and import it back exactly.

File layout (UTF-8, one JSON object per line; ``.gz`` names are gzip-compressed)::

    {"format": "polyvec-jsonl/1", "collection": "docs", "spec": {...}, "engine": "qdrant",
     "state": {...}}                                   # header: layout + BM25 state
    {"id": 7, "text": "...", "metadata": {...}, "dense": [...], "sparse": {...}}
    ...                                                # one line per document
    {"end": {"count": 2, "content": "<hex>", "dense": "<hex>"}}   # trailer

The trailer's digests (:class:`~polyvec.transfer.records.Digest`) let an import refuse a
truncated or edited file before it writes anything. Usage::

    export_collection(backend, "docs", "backup.jsonl.gz")
    import_collection(other_backend, "backup.jsonl.gz", collection="docs_restored")

The same functions write and read Parquet (``format="parquet"``, or a name ending in
``.parquet``; see :mod:`polyvec.transfer.parquet`): same content, same checks.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from tqdm.auto import tqdm

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.backends.paths import probe_writable
from polyvec.errors import CollectionNotFoundError, InputError
from polyvec.transfer.records import Digest, from_record, record_line
from polyvec.transfer.verify import DEFAULT_TOLERANCE, VerifyReport, compare
from polyvec.types import Document

__all__ = [
    "FORMAT",
    "FORMATS",
    "ExportReport",
    "ImportReport",
    "check_file",
    "export_collection",
    "import_collection",
]

FORMAT = "polyvec-jsonl/1"
FORMATS = ("jsonl", "parquet")
PathLike = str | os.PathLike[str]


@dataclass
class ExportReport:
    collection: str
    path: str
    digest: Digest
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "path": self.path,
            **self.digest.as_dict(),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class ImportReport:
    collection: str
    count: int = 0
    seconds: float = 0.0
    state_restored: bool = False
    verification: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "state_restored": self.state_restored,
            "verification": None if self.verification is None else self.verification.as_dict(),
            "notes": list(self.notes),
        }


@contextmanager
def _open(path: PathLike, mode: str) -> Iterator[IO[str]]:
    name = os.fspath(path)
    if name == "-":
        stream = sys.stdout if mode == "w" else sys.stdin
        yield stream
        if mode == "w":
            stream.flush()
        return
    if name.endswith(".gz"):
        with gzip.open(name, mode + "t", encoding="utf-8") as gz:
            yield gz  # type: ignore[misc]
        return
    with open(name, mode, encoding="utf-8") as plain:
        yield plain


def _format_of(name: str, format: str | None) -> str:
    chosen = format or ("parquet" if name.endswith((".parquet", ".pq")) else "jsonl")
    if chosen not in FORMATS:
        raise InputError(f"unknown export format {chosen!r}: use one of {', '.join(FORMATS)}")
    if chosen == "parquet" and name == "-":
        raise InputError("Parquet is written to a file, not stdout: name the output file")
    return chosen


def _check_output(name: str) -> None:
    """``InputError`` before the collection is read when ``name`` cannot be written: a
    missing folder, one where no file can be created (the file goes beside it first), or
    a folder as the name."""
    if name == "-":
        return
    folder = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(folder):
        raise InputError(
            f"cannot export to {name!r}: the folder {folder!r} does not exist — create it "
            "or choose another path"
        )
    try:
        probe_writable(folder)
    except OSError as exc:
        raise InputError(
            f"cannot export to {name!r}: cannot create files in {folder!r} "
            f"({exc.strerror or exc}) — choose a folder you can write to"
        ) from exc
    if os.path.isdir(name):
        raise InputError(f"cannot export to {name!r}: it is a folder — name a file in it")


def export_collection(
    backend: Backend,
    collection: str,
    path: PathLike,
    *,
    batch_size: int = 256,
    progress: bool = False,
    format: str | None = None,
) -> ExportReport:
    """Write ``collection`` (documents, vectors, state) to ``path`` (``-``: stdout).

    ``format``: ``"jsonl"`` or ``"parquet"`` (default: from the name, ``.parquet`` →
    Parquet, else JSONL). The file is written beside its final name and renamed when
    complete, so a crash never leaves a file that looks finished."""
    started = time.perf_counter()
    spec = backend.get_spec(collection)
    if spec is None:
        raise CollectionNotFoundError(collection, backend.capabilities.backend)
    name = os.fspath(path)
    kind = _format_of(name, format)
    _check_output(name)
    partial = name if name == "-" else f"{name}.partial{'.gz' if name.endswith('.gz') else ''}"
    digest = Digest()
    header = {
        "format": FORMAT,
        "collection": collection,
        "engine": backend.capabilities.backend,
        "spec": {
            "dimension": spec.dimension,
            "distance": spec.distance,
            "sparse": spec.sparse,
            "options": dict(spec.options),
        },
        "state": backend.load_state(collection),
    }
    bar = tqdm(total=backend.count(collection), unit="doc", desc=f"export {collection}",
               disable=not progress)  # fmt: skip
    pages = backend.scroll(collection, batch_size=batch_size, with_vectors=True)
    if kind == "parquet":
        from polyvec.transfer.parquet import write_parquet

        with bar:
            digest = write_parquet(partial, header, pages, on_batch=bar.update)
        os.replace(partial, name)
        return ExportReport(collection, name, digest, time.perf_counter() - started)
    with bar, _open(partial, "w") as out:
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for batch in pages:
            digest.update(batch)
            buf = io.StringIO()
            for doc in batch:
                buf.write(record_line(doc))
            out.write(buf.getvalue())
            bar.update(len(batch))
        out.write(json.dumps({"end": digest.as_dict()}) + "\n")
    if name != "-":
        os.replace(partial, name)
    return ExportReport(collection, name, digest, time.perf_counter() - started)


def _read(path: PathLike, batch_size: int) -> tuple[dict[str, Any], Iterator[list[Document]]]:
    """The header, and the documents in batches (the trailer is checked at the end)."""
    name = os.fspath(path)
    from polyvec.transfer.parquet import is_parquet, read_parquet

    if name != "-" and is_parquet(name):
        return read_parquet(name, batch_size)
    with _open(path, "r") as stream:
        first = stream.readline()
    header = _json(first, name, 1)
    if header.get("format") != FORMAT:
        raise InputError(
            f"{name} is not a polyvec export (format {header.get('format')!r}, expected "
            f"{FORMAT!r}): write it with `polyvec export`"
        )

    def batches() -> Iterator[list[Document]]:
        batch: list[Document] = []
        digest = Digest()
        end: dict[str, Any] | None = None
        with _open(path, "r") as stream:
            stream.readline()
            for number, line in enumerate(stream, start=2):
                if end is not None:
                    raise InputError(
                        f"{name}:{number}: data after the end line: the file is damaged"
                    )
                entry = _json(line, name, number)
                if "end" in entry and "id" not in entry:
                    end = entry["end"]
                    continue
                batch.append(from_record(entry, f"{name}:{number}"))
                if len(batch) >= batch_size:
                    digest.update(batch)
                    yield batch
                    batch = []
        if batch:
            digest.update(batch)
            yield batch
        if end is None:
            raise InputError(
                f"{name} has no end line: the export was interrupted or the file truncated; "
                "export it again"
            )
        if end != digest.as_dict():
            raise InputError(
                f"{name} does not match its own digest ({digest.as_dict()} vs {end}): the "
                "file was edited or damaged; export it again"
            )

    return header, batches()


def _json(line: str, name: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{number} is not valid JSON ({exc}): the file is damaged") from exc
    if not isinstance(value, dict):
        raise InputError(f"{name}:{number} is not a JSON object: the file is damaged")
    return value


def check_file(path: PathLike, *, batch_size: int = 1024) -> Digest:
    """Read the whole file and check it against its trailer (``InputError`` if not)."""
    _, batches = _read(path, batch_size)
    digest = Digest()
    for batch in batches:
        digest.update(batch)
    return digest


def import_collection(
    backend: Backend,
    path: PathLike,
    *,
    collection: str | None = None,
    batch_size: int = 256,
    verify: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = False,
) -> ImportReport:
    """Load an export into ``backend`` (as ``collection``, default: the exported name).

    The file is checked against its digest before anything is written. Re-running an
    import is safe (ids are idempotent). With ``verify`` the collection is compared
    with the file afterwards (``VerificationError`` if it differs)."""
    started = time.perf_counter()
    name = os.fspath(path)
    if name == "-":
        raise InputError("import reads a file (it is read twice: check, then write), not stdin")
    if not os.path.isfile(name):
        raise InputError(f"cannot import {name!r}: no such file — check the path")
    header, _ = _read(path, batch_size)
    expected = check_file(path)
    target = collection or str(header["collection"])
    raw = header["spec"]
    same = header.get("engine") == backend.capabilities.backend
    backend.create_collection(
        CollectionSpec(target, int(raw["dimension"]), raw["distance"], bool(raw["sparse"]),
                       dict(raw.get("options") or {}) if same else {})
    )  # fmt: skip
    report = ImportReport(target)
    if header.get("state") is not None:
        # write-ahead: a collection opened while (or after) this import dies mid-way
        # sees the mark and recounts its BM25 statistics from what arrived
        backend.save_state(target, {**header["state"], "pending": True})
    bar = tqdm(total=expected.count, unit="doc", desc=f"import {target}", disable=not progress)
    with bar:
        for batch in _read(path, batch_size)[1]:
            backend.upsert(target, batch)
            report.count += len(batch)
            bar.update(len(batch))
    if header.get("state") is not None:
        backend.save_state(target, header["state"])
        report.state_restored = True
    if verify:
        report.verification = compare(
            _read(path, batch_size)[1],
            backend,
            target,
            cosine=raw["distance"] == "cosine",
            tolerance=tolerance,
        )
        report.verification.raise_for_problems(f"the import of {name}")
    report.seconds = time.perf_counter() - started
    return report

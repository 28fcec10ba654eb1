"""Keep a collection in step with a folder (or any set of documents with stable ids).

::

    import polyvec
    from polyvec.ingest import sync_paths

    docs = polyvec.connect(collection="handbook")
    report = sync_paths(docs, ["handbook/"], delete_missing=True)
    print(report.summary())        # added 3, updated 1, unchanged 212, removed 1 …

How it decides, per document (``doc_id``: the path relative to the root, or the id the
caller gives):

* its **content hash** covers the source bytes (or text and metadata), the loader and
  chunker versions and settings, and the embedder's name;
* **unchanged** when the store holds exactly chunks ``doc_id#0 … doc_id#(n-1)``, each
  carrying that hash and ``n_chunks == n``: nothing is read, chunked or embedded;
* otherwise it is chunked, its chunks upserted, and then its stored chunks that the new
  version does not have are deleted (a shorter file leaves nothing behind); a chunk whose
  text the document already had keeps its stored embedding, so an edit re-embeds only
  the chunks it changed;
* with ``delete_missing=True``, stored documents (with ids under ``id_prefix``) that
  this run did not find are removed, except those whose files failed to load.

The record of what is stored is the store itself, read at the start of every run, so
there is no side file to go stale: a run that crashes between any two writes leaves
chunks whose hashes or counts do not match, and the next run redoes those documents and
converges. Writes go through :meth:`Collection.add` / :meth:`Collection.delete`, whose
BM25 statistics survive a crash (see :mod:`polyvec.collection`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from polyvec.chunking import Chunker
from polyvec.errors import InputError
from polyvec.ingest.files import find_files
from polyvec.ingest.loaders import LOADER_VERSION, Loaded, Skip, clean_text, load_bytes
from polyvec.ingest.report import SyncReport
from polyvec.types import DocId, Document

if TYPE_CHECKING:
    from polyvec.collection import Collection

__all__ = [
    "SourceDocument",
    "async_documents",
    "async_paths",
    "sync_documents",
    "sync_paths",
]

RESERVED = ("doc_id", "chunk", "n_chunks", "start", "end", "content_hash", "source")
"""Metadata keys sync writes on every chunk (a document's own metadata cannot set them)."""


@dataclass(frozen=True)
class SourceDocument:
    """A document a caller syncs by its own stable ``id`` (a database key, a URL …)."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    markdown: bool = False


@dataclass
class _Item:
    doc_id: str
    content_hash: str
    load: Callable[[], Loaded]
    source: str


@dataclass
class _Stored:
    ids: set[DocId] = field(default_factory=set)  # as stored (a str, or a user's int)
    hashes: set[str] = field(default_factory=set)
    counts: set[int] = field(default_factory=set)
    by_text: dict[str, DocId] = field(default_factory=dict)  # text digest → a chunk's id

    def matches(self, doc_id: str, content_hash: str) -> bool:
        if self.hashes != {content_hash} or len(self.counts) != 1:
            return False
        n = next(iter(self.counts))
        return self.ids == {f"{doc_id}#{i}" for i in range(n)}


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def _stored_state(collection: Collection) -> dict[str, _Stored]:
    """What the store holds, by ``doc_id`` (chunks without one are their own document)."""
    stored: dict[str, _Stored] = {}
    for batch in collection.scroll(batch_size=1024):
        for doc in batch:
            meta = doc.metadata
            doc_id = meta.get("doc_id")
            key = doc_id if isinstance(doc_id, str) else str(doc.id)
            entry = stored.setdefault(key, _Stored())
            entry.ids.add(doc.id)
            entry.by_text.setdefault(_digest(doc.text), doc.id)
            entry.hashes.add(str(meta.get("content_hash", "")))
            n = meta.get("n_chunks")
            entry.counts.add(n if isinstance(n, int) and not isinstance(n, bool) else -1)
    return stored


class _Progress:
    """A bar over documents to embed, moved after each embedding batch (docs/s, ETA)."""

    def __init__(self, total: int, enabled: bool, name: str) -> None:
        self.bar = tqdm(
            total=total,
            desc=f"polyvec sync → {name}",
            unit="doc",
            disable=not enabled or total == 0,
            dynamic_ncols=True,
        )
        self.chunks = 0

    def advance(self, docs: int, chunks: int) -> None:
        self.chunks += chunks
        self.bar.set_postfix(chunks=self.chunks, refresh=False)
        self.bar.update(docs)

    def close(self) -> None:
        self.bar.close()


def _run(
    collection: Collection,
    items: Sequence[_Item],
    report: SyncReport,
    *,
    protected: Sequence[str] = (),
    chunker: Chunker,
    delete_missing: bool,
    id_prefix: str,
    batch_size: int,
    progress: bool,
    workers: int,
    started: float,
) -> SyncReport:
    stored = _stored_state(collection)
    todo = [
        it
        for it in items
        if not (it.doc_id in stored and stored[it.doc_id].matches(it.doc_id, it.content_hash))
    ]
    changed = {it.doc_id for it in todo}
    report.unchanged.extend(it.doc_id for it in items if it.doc_id not in changed)
    bar = _Progress(len(todo), progress, collection.name)
    buffer: list[tuple[_Item, list[Document]]] = []

    def flush() -> None:
        if not buffer:
            return
        chunks = _reuse_vectors(collection, stored, buffer)
        collection.add(chunks, batch_size=batch_size, progress=False)
        new_ids: set[DocId] = {c.id for c in chunks}
        stale = [
            i
            for item, _ in buffer
            if item.doc_id in stored
            for i in stored[item.doc_id].ids
            if i not in new_ids
        ]
        if stale:
            collection.delete(sorted(stale, key=str))
        for item, _ in buffer:
            (report.updated if item.doc_id in stored else report.added).append(item.doc_id)
        reused = sum(1 for c in chunks if c.dense is not None)
        report.chunks_embedded += len(chunks) - reused
        report.chunks_reused += reused
        report.chunks_deleted += len(stale)
        bar.advance(len(buffer), len(chunks))
        buffer.clear()

    pending = 0
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for item, loaded in _load_all(pool, todo, report):
                if loaded is None:
                    bar.advance(1, 0)
                    continue
                chunks = _chunk(item, loaded, chunker)
                notes = [*loaded.notes[:3]]
                if len(loaded.notes) > 3:
                    notes.append(f"+{len(loaded.notes) - 3} more")
                if loaded.nuls_removed:
                    notes.append(f"{loaded.nuls_removed} NUL characters removed")
                if notes:
                    report.notes[item.doc_id] = "; ".join(notes)
                buffer.append((item, chunks))
                pending += len(chunks)
                if pending >= batch_size:
                    flush()
                    pending = 0
            flush()
    finally:
        bar.close()
    if delete_missing:
        kept = set(report.added) | set(report.updated) | set(report.unchanged)
        # a file that failed to load keeps its stored chunks (and a JSONL file's records)
        keep = {*protected, *(it.doc_id for it in items if it.doc_id in report.failed)}
        gone = sorted(
            doc_id
            for doc_id in stored
            if doc_id.startswith(id_prefix)
            and doc_id not in kept
            and doc_id not in keep
            and doc_id.rpartition(":")[0] not in keep
        )
        ids = [i for doc_id in gone for i in sorted(stored[doc_id].ids, key=str)]
        for start in range(0, len(ids), 1024):
            collection.delete(ids[start : start + 1024])
        report.removed.extend(gone)
        report.chunks_deleted += len(ids)
    report.seconds = time.perf_counter() - started
    return report


def _reuse_vectors(
    collection: Collection,
    stored: Mapping[str, _Stored],
    buffer: Sequence[tuple[_Item, list[Document]]],
) -> list[Document]:
    """The buffered chunks, those whose text a stored chunk of the same document already
    has carrying that chunk's dense vector (so an edit re-embeds only the chunks it
    changed; BM25 vectors are recomputed, they are cheap)."""
    wanted: dict[int, DocId] = {}
    chunks = [c for _, cs in buffer for c in cs]
    position = 0
    for item, cs in buffer:
        old = stored.get(item.doc_id)
        for c in cs:
            if old is not None and (hit := old.by_text.get(_digest(c.text))) is not None:
                wanted[position] = hit
            position += 1
    if not wanted:
        return chunks
    found = collection.get(list(dict.fromkeys(wanted.values())), with_vectors=True)
    vectors = {(type(d.id), d.id): d.dense for d in found if d.dense is not None}
    out = []
    for i, chunk in enumerate(chunks):
        vec = vectors.get((type(wanted[i]), wanted[i])) if i in wanted else None
        out.append(chunk if vec is None else chunk.with_vectors(dense=vec))
    return out


def _load_all(
    pool: ThreadPoolExecutor, todo: Sequence[_Item], report: SyncReport
) -> Iterator[tuple[_Item, Loaded | None]]:
    """Each item with its loaded text (or None, reported), loaded ahead in ``pool`` a
    window at a time so memory stays bounded."""

    def load(item: _Item) -> Loaded | str:
        try:
            return item.load()
        except Skip as skip:
            return "skip:" + skip.reason
        except (OSError, ValueError, UnicodeError, RuntimeError) as exc:
            return f"fail:{type(exc).__name__}: {exc}"

    window = 32
    for start in range(0, len(todo), window):
        part = todo[start : start + window]
        for item, result in zip(part, pool.map(load, part)):
            if isinstance(result, Loaded):
                yield item, result
                continue
            kind, _, reason = result.partition(":")
            (report.skip if kind == "skip" else report.fail)(item.doc_id, reason)
            yield item, None


def _chunk(item: _Item, loaded: Loaded, chunker: Chunker) -> list[Document]:
    spans = chunker.split(loaded.text, markdown=loaded.markdown)
    base = {k: v for k, v in loaded.metadata.items() if k not in RESERVED}
    base.update({"source": item.source, "title": loaded.title})
    return [
        Document(
            f"{item.doc_id}#{i}",
            span.text,
            {
                **base,
                "doc_id": item.doc_id,
                "chunk": i,
                "n_chunks": len(spans),
                "start": span.start,
                "end": span.end,
                "content_hash": item.content_hash,
            },
        )
        for i, span in enumerate(spans)
    ]


def _settings(collection: Collection, chunker: Chunker) -> str:
    return f"loader{LOADER_VERSION}|chunker:{chunker.fingerprint}|{collection.embedder.name}"


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _file_items(
    collection: Collection,
    paths: Sequence[str | os.PathLike[str]],
    report: SyncReport,
    chunker: Chunker,
    include: Sequence[str],
    exclude: Sequence[str],
    limit: int | None,
    id_prefix: str,
    text_field: str,
) -> tuple[list[_Item], list[str]]:
    found, skipped = find_files(
        paths, include=include, exclude=exclude, limit=limit, id_prefix=id_prefix
    )
    for doc_id, reason in skipped:
        report.skip(doc_id, reason)
    settings = _settings(collection, chunker)
    items: list[_Item] = []
    unreadable: list[str] = []
    first_with: dict[str, str] = {}
    for f in found:
        try:
            raw = _read(f.path)
        except OSError as exc:
            report.fail(f.doc_id, f"cannot read: {exc.strerror or exc}")
            unreadable.append(f.doc_id)
            continue
        raw_hash = _digest(raw)
        if raw_hash in first_with:
            report.skip(f.doc_id, f"same content as {first_with[raw_hash]}")
            continue
        first_with[raw_hash] = f.doc_id
        if f.fmt == "jsonl":
            items.extend(_jsonl_items(f.doc_id, raw, report, settings, text_field))
            continue
        content_hash = _digest(settings, f.fmt or "text", raw_hash)
        items.append(
            _Item(
                f.doc_id,
                content_hash,
                _loader(f.path, f.doc_id, f.fmt),
                f.doc_id,
            )
        )
    return items, unreadable


def _loader(path: str, doc_id: str, fmt: str | None) -> Callable[[], Loaded]:
    def load() -> Loaded:
        docs = load_bytes(_read(path), doc_id, fmt or "text", path=path)
        return docs[0]

    return load


def _jsonl_items(
    doc_id: str, raw: bytes, report: SyncReport, settings: str, text_field: str
) -> list[_Item]:
    try:
        records = load_bytes(raw, doc_id, "jsonl", text_field=text_field)
    except Skip as skip:
        report.skip(doc_id, skip.reason)
        return []
    except (ValueError, UnicodeError) as exc:
        report.fail(doc_id, f"{type(exc).__name__}: {exc}")
        return []
    if records[0].notes:
        notes = records[0].notes
        report.notes[doc_id] = f"{len(notes)} lines left out: " + "; ".join(notes[:3])
        records[0] = replace(records[0], notes=())
    return [
        _Item(
            f"{doc_id}:{rec.key}",
            _digest(settings, "jsonl", rec.raw),
            (lambda rec=rec: rec),  # type: ignore[misc]
            doc_id,
        )
        for rec in records
    ]


def sync_paths(
    collection: Collection,
    paths: Sequence[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    limit: int | None = None,
    id_prefix: str = "",
    delete_missing: bool = False,
    chunker: Chunker | None = None,
    text_field: str = "text",
    batch_size: int = 128,
    progress: bool = False,
    workers: int = 4,
) -> SyncReport:
    """Bring ``collection`` in step with the files under ``paths`` (see the module
    docstring); returns what was done.

    ``include``/``exclude`` are shell patterns on file names or relative paths (an
    ``include`` also selects files of no document type, read as text); ``limit`` keeps
    the first files; ``id_prefix`` is prepended to every document id (and scopes
    ``delete_missing`` to ids that start with it); ``chunker`` defaults to
    :meth:`Chunker.for_embedder` of the collection's embedder (its window, its tokens);
    ``text_field`` is the JSONL field holding the text; ``batch_size`` chunks are
    embedded and written at a time, and the ``progress`` bar moves after each batch.
    Nothing is written before every path is found to exist (``InputError``)::

        report = sync_paths(docs, ["notes/"], delete_missing=True)
        assert report.ok, report.summary()
    """
    started = time.perf_counter()
    _check_batch(batch_size)
    chunker = chunker or Chunker.for_embedder(collection.embedder)
    report = SyncReport()
    items, unreadable = _file_items(
        collection, paths, report, chunker, include, exclude, limit, id_prefix, text_field
    )
    return _run(
        collection,
        items,
        report,
        protected=unreadable,
        chunker=chunker,
        delete_missing=delete_missing,
        id_prefix=id_prefix,
        batch_size=batch_size,
        progress=progress,
        workers=workers,
        started=started,
    )


def sync_documents(
    collection: Collection,
    documents: Iterable[SourceDocument],
    *,
    id_prefix: str = "",
    delete_missing: bool = False,
    chunker: Chunker | None = None,
    batch_size: int = 128,
    progress: bool = False,
) -> SyncReport:
    """:func:`sync_paths` for documents the caller already has, each with its own
    stable id: unchanged ones (same text, metadata and settings) are not embedded
    again; with ``delete_missing=True`` stored documents not given (ids under
    ``id_prefix``) are removed::

        sync_documents(docs, [SourceDocument("faq/1", "How do I …", {"lang": "en"})])
    """
    started = time.perf_counter()
    _check_batch(batch_size)
    chunker = chunker or Chunker.for_embedder(collection.embedder)
    settings = _settings(collection, chunker)
    report = SyncReport()
    items: list[_Item] = []
    seen: set[str] = set()
    for doc in documents:
        if not isinstance(doc, SourceDocument):
            raise InputError(
                f"sync_documents takes SourceDocument objects, got {type(doc).__name__}"
            )
        doc_id = id_prefix + str(doc.id)
        if doc_id in seen:
            raise InputError(f"document id {doc_id!r} appears twice: ids must be unique")
        seen.add(doc_id)
        text, nuls = clean_text(doc.text)
        if not text.strip():
            report.skip(doc_id, "no text (empty, or whitespace only)")
            continue
        meta = json.dumps(dict(doc.metadata), sort_keys=True, default=str)
        loaded = Loaded(
            text, doc.title or doc_id, doc.markdown, metadata=doc.metadata, nuls_removed=nuls
        )
        content_hash = _digest(settings, "document", text, meta, doc.title, str(doc.markdown))
        items.append(_Item(doc_id, content_hash, (lambda d=loaded: d), doc_id))  # type: ignore[misc]
    return _run(
        collection,
        items,
        report,
        chunker=chunker,
        delete_missing=delete_missing,
        id_prefix=id_prefix,
        batch_size=batch_size,
        progress=progress,
        workers=1,
        started=started,
    )


async def async_paths(
    collection: Collection, paths: Sequence[str | os.PathLike[str]], **options: Any
) -> SyncReport:
    """The async twin of :func:`sync_paths` (``a`` + ``sync_paths``), off the event loop."""
    return await asyncio.to_thread(lambda: sync_paths(collection, paths, **options))


async def async_documents(
    collection: Collection, documents: Iterable[SourceDocument], **options: Any
) -> SyncReport:
    """The async twin of :func:`sync_documents`, off the event loop."""
    docs = list(documents)
    return await asyncio.to_thread(lambda: sync_documents(collection, docs, **options))


def _check_batch(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        from polyvec.errors import ConfigurationError

        raise ConfigurationError(f"batch_size must be an int >= 1, got {batch_size!r}")

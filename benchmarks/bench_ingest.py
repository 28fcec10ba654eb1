"""Incremental ingest: polyvec's folder sync against LangChain's ``index()`` with a
``SQLRecordManager``, on the same folder, store and embedder.

The folder is real text: section-1 man pages (less gcloud's), rendered to ``.txt``
files until it holds about ``--chunks`` chunks. Three phases, each run by both sides
in turn (so machine load drifting hits both alike):

1. **first ingest** into an empty collection;
2. **unchanged re-ingest** of the same folder;
3. **one file changed** (a paragraph appended to one file), re-ingested.

polyvec: ``polyvec.ingest.sync_paths`` (reads the files, hashes them, reads what the
store holds; chunks and embeds only what changed). LangChain: what its indexing docs
describe — load every file, split it (with polyvec's chunker, so both sides embed the
very same chunks), then ``index(docs, record_manager, vector_store,
cleanup="incremental", source_id_key="source")`` into polyvec's LangChain vector store
over a second collection of the same store. Both use one all-MiniLM-L6-v2 instance,
wrapped to count the texts it embeds.

    python -m benchmarks.bench_ingest --chunks 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyvec.backends.registry import open_backend
from polyvec.chunking import Chunker
from polyvec.collection import Collection
from polyvec.embeddings import default_embedder
from polyvec.ingest import sync_paths
from polyvec.ingest.files import read_files


class CountingEmbedder:
    """The default model, counting the document texts it embeds."""

    def __init__(self) -> None:
        self.inner = default_embedder()
        self.embedded = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_seq_length(self) -> int:
        return self.inner.max_seq_length

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


def build_folder(folder: Path, target: int, chunker: Chunker) -> tuple[int, int]:
    """Rendered man pages as .txt files until about ``target`` chunks; (files, chunks).

    A page whose text equals one already written (``.so`` aliases) is left out: polyvec
    would skip it as "same content as" the first while LangChain's ``index()`` stores
    it again under its own source, and the two stores would not hold the same chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    files = chunks = 0
    seen: set[str] = set()
    for doc_id, doc in read_files(["/usr/share/man/man1"], exclude=["gcloud*"]):
        if doc.text in seen:
            continue
        seen.add(doc.text)
        n = len(chunker.split(doc.text))
        if chunks + n > target * 1.02:
            continue
        (folder / f"{Path(doc_id).name}.txt").write_text(doc.text)
        files, chunks = files + 1, chunks + n
        if chunks >= target:
            break
    return files, chunks


def langchain_side(folder: Path, store: Any, record_manager: Any, chunker: Chunker) -> Any:
    from langchain_classic.indexes import index
    from langchain_core.documents import Document as LCDocument

    def run() -> dict[str, Any]:
        docs = [
            LCDocument(page_content=chunk.text, metadata={"source": doc_id})
            for doc_id, doc in read_files([folder])
            for chunk in chunker.split(doc.text)
        ]
        return dict(
            index(
                docs,
                record_manager,
                store,
                cleanup="incremental",
                source_id_key="source",
                batch_size=128,
            )
        )

    return run


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=2000, help="chunks in the folder")
    ap.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--json", default=None, help="write the results here too")
    args = ap.parse_args(argv)
    from langchain_classic.indexes import SQLRecordManager

    from polyvec.integrations.langchain import PolyvecVectorStore

    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-ingest-"))
    embedder = CountingEmbedder()
    chunker = Chunker.for_embedder(embedder)
    embedder.embed_documents(["warm up the model"])
    files, chunks = build_folder(work / "folder", args.chunks, chunker)
    print(f"folder: {files} files, {chunks} chunks ({chunker!r})", file=sys.stderr)
    backend = open_backend(f"qdrant-edge://{work / 'store'}")
    ours = Collection(backend, "polyvec_sync", embedder=embedder)
    theirs = Collection(backend, "langchain_index", embedder=embedder)
    record_manager = SQLRecordManager("bench", db_url=f"sqlite:///{work / 'records.sqlite'}")
    record_manager.create_schema()
    lc_run = langchain_side(work / "folder", PolyvecVectorStore(theirs), record_manager, chunker)
    embedder.embedded = 0

    results: list[dict[str, Any]] = []

    def phase(name: str) -> None:
        for side, fn in (
            ("polyvec sync_paths", lambda: sync_paths(ours, [work / "folder"], chunker=chunker)),
            ("LangChain index() + SQLRecordManager", lc_run),
        ):
            before = embedder.embedded
            start = time.perf_counter()
            outcome = fn()
            seconds = time.perf_counter() - start
            row = {
                "phase": name,
                "side": side,
                "seconds": round(seconds, 3),
                "embedded": embedder.embedded - before,
                "outcome": outcome if isinstance(outcome, dict) else outcome.counts(),
            }
            results.append(row)
            print(json.dumps(row), file=sys.stderr)

    phase("first ingest")
    phase("unchanged re-ingest")
    changed = sorted((work / "folder").iterdir())[files // 2]
    changed.write_text(changed.read_text() + "\n\nA paragraph added to this page today.\n")
    phase("one file changed")
    assert ours.count() == theirs.count(), (ours.count(), theirs.count())

    print(f"\n{files} files, {chunks} chunks; qdrant-edge; all-MiniLM-L6-v2\n")
    print(
        "| phase | polyvec s | LangChain s | polyvec ÷ LangChain | embedded (polyvec / LangChain) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for i in range(0, len(results), 2):
        a, b = results[i], results[i + 1]
        ratio = a["seconds"] / b["seconds"] if b["seconds"] else float("nan")
        print(
            f"| {a['phase']} | {a['seconds']:.3f} | {b['seconds']:.3f} | {ratio:.3f}× | "
            f"{a['embedded']} / {b['embedded']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"files": files, "chunks": chunks, "rows": results}))
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Child processes for the derived-state fault tests (real processes, killed for real).

``python -m tests.safety.bm25_child write URL COLLECTION START N BATCH [SEED]``: add
``make_docs(N, SEED, START)`` in batches of BATCH (re-adding an existing id replaces
it), running one BM25 search after each batch so that an emulated sparse index (Chroma)
is built (or loaded from disk) first and kept current; prints ``ACK n`` after each batch and ``DONE`` at the end.

``python -m tests.safety.bm25_child check URL COLLECTION``: open the collection as a
user would, then print one JSON line: the stored documents that BM25 does not find by
their own text, the statistics (as saved, and once opened) and a recount of what the
store holds. With ``BM25_CHILD_WAIT=1`` a writer prints ``READY`` once open and waits
for a line on stdin before it writes (the concurrency tests start two at once).

``python -m tests.safety.bm25_child migrate SOURCE_URL COLLECTION DEST_URL BATCH``:
``polyvec.transfer.migrate`` the collection, in batches of BATCH.
"""

from __future__ import annotations

import json
import os
import sys

from polyvec import Collection
from polyvec.backends.registry import open_backend
from polyvec.sparse.bm25 import CorpusStats
from polyvec.transfer import migrate
from tests.transfer.data import HashEmbedder, make_docs


def write(url: str, name: str, start: int, n: int, size: int, seed: int) -> None:
    coll = Collection(open_backend(url), name, embedder=HashEmbedder(), batch_size=size)
    docs = make_docs(n, seed, start)
    if os.environ.get("BM25_CHILD_WAIT"):  # start writing together with another child
        print("READY", flush=True)
        sys.stdin.readline()
    if coll.count():  # an application that searches before it writes loads the cache
        coll.backend.search_sparse(name, coll.encode_query_sparse(docs[0].text), 1)
    for number, first in enumerate(range(0, len(docs), size)):
        batch = docs[first : first + size]
        coll.add(batch, progress=False)
        coll.backend.search_sparse(name, coll.encode_query_sparse(batch[0].text), 1)
        print(f"ACK {number}", flush=True)
    coll.close()
    print("DONE", flush=True)


def check(url: str, name: str) -> None:
    backend = open_backend(url)
    saved = backend.load_state(name) or {}  # as the writers left it, before any recount
    coll = Collection(backend, name, embedder=HashEmbedder(), create=False)
    try:
        recount = CorpusStats(track_df=coll.stats.track_df)
        stored = [d for batch in coll.backend.scroll(name, batch_size=500) for d in batch]
        recount.add_many(coll.bm25.term_counts_many(d.text for d in stored))
        missing = []
        for doc in stored:
            query = coll.encode_query_sparse(doc.text)
            found = coll.backend.search_sparse(name, query, len(stored))
            if not any(type(h.id) is type(doc.id) and h.id == doc.id for h in found):
                missing.append(repr(doc.id))
        report = {
            "stored": len(stored),
            "missing": missing,
            "stats_equal": coll.stats == recount,
            "saved_equal": "stats" in saved and CorpusStats.from_dict(saved["stats"]) == recount,
            "saved_pending": bool(saved.get("pending")),
            "stats": repr(coll.stats),
            "recount": repr(recount),
        }
    finally:
        coll.close()
    print(json.dumps(report), flush=True)


def main() -> None:
    command, url, name = sys.argv[1:4]
    if command == "write":
        start, n, size = (int(x) for x in sys.argv[4:7])
        seed = int(sys.argv[7]) if len(sys.argv) > 7 else 0
        write(url, name, start, n, size, seed)
    elif command == "check":
        check(url, name)
    elif command == "migrate":  # URL is the source, the destination comes after NAME
        source, destination = open_backend(url), open_backend(sys.argv[4])
        migrate(source, destination, name, batch_size=int(sys.argv[5]), progress=False)
        print("DONE", flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}: use write, check or migrate")


if __name__ == "__main__":
    main()

"""A child process for the crash tests: ingest batches, print ``ACK n`` after each.

``python -m tests.safety.ingest_child URL COLLECTION N_DOCS BATCH``; the parent kills
it with SIGKILL after some acknowledgements.
"""

from __future__ import annotations

import sys

from polyvec import Collection
from polyvec.backends.registry import open_backend
from tests.transfer.data import HashEmbedder, make_docs


def ingest(url: str, name: str, n: int, size: int, *, ack: bool = False) -> None:
    """Add ``make_docs(n)`` to ``name`` a batch of ``size`` at a time (``ACK k`` printed
    after batch k is acknowledged, with ``ack``)."""
    coll = Collection(open_backend(url), name, embedder=HashEmbedder(), batch_size=size)
    docs = make_docs(n)
    for number, start in enumerate(range(0, len(docs), size)):
        coll.add(docs[start : start + size], progress=False)
        if ack:
            print(f"ACK {number}", flush=True)
    coll.close()


def main() -> None:
    ingest(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), ack=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()

"""A child process for the crash tests: ingest batches, print ``ACK n`` after each.

``python -m tests.safety.ingest_child URL COLLECTION N_DOCS BATCH``; the parent kills
it with SIGKILL after some acknowledgements.
"""

from __future__ import annotations

import sys

from polyvec import Collection
from polyvec.backends.registry import open_backend
from tests.transfer.data import HashEmbedder, make_docs


def main() -> None:
    url, name, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    coll = Collection(open_backend(url), name, embedder=HashEmbedder(), batch_size=size)
    docs = make_docs(n)
    for number, start in enumerate(range(0, len(docs), size)):
        coll.add(docs[start : start + size], progress=False)
        print(f"ACK {number}", flush=True)
    coll.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()

"""A child process for the creation-race tests: open a store (creating it), add
batches, print ``ACK n`` after each acknowledged one.

``python -m tests.safety.race_child URL WRITER GO_FILE`` (URL ``-``: the default store
in the working directory). It prints ``READY`` once imported, waits for ``GO_FILE`` so
that both writers open the store at the same moment, and prints ``ERR <class>
<message>`` (exit 3) if anything fails. ``OPENED t`` / ``CLOSING t`` (the system-wide
monotonic clock) show when it held the store.
"""

from __future__ import annotations

import os
import sys
import time

import polyvec
from polyvec.types import Document
from tests.transfer.data import HashEmbedder, make_docs

BATCHES, BATCH = 5, 10


def writer_docs(writer: int) -> list[Document]:
    """The documents of one writer; ids never overlap another writer's."""
    return make_docs(BATCHES * BATCH, seed=writer, start=writer * 1000)[: BATCHES * BATCH]


def main() -> None:
    url, writer, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print("READY", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    docs = writer_docs(writer)
    try:
        coll = polyvec.connect(None if url == "-" else url, collection="kb",
                               embedder=HashEmbedder(), batch_size=BATCH)  # fmt: skip
        print(f"OPENED {time.monotonic_ns()}", flush=True)
        for number in range(BATCHES):
            coll.add(docs[number * BATCH : (number + 1) * BATCH], progress=False)
            print(f"ACK {number}", flush=True)
        print(f"CLOSING {time.monotonic_ns()}", flush=True)  # before the lock goes
        coll.close()
    except Exception as exc:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        print(f"ERR {kind} {str(exc)[:400]!r}", flush=True)
        sys.exit(3)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()

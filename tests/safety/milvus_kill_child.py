"""A child process for the Milvus Lite half-creation tests: ingest into a new
collection and (optionally) die by SIGKILL right after its k-th engine step.

``python -m tests.safety.milvus_kill_child URL N_DOCS BATCH KILL_AFTER``: the steps
counted are the engine calls that create and fill a collection (create collection,
create index, load, upsert rows), in order; ``KILL_AFTER`` 0 kills nowhere, ``-k``
kills *during* step k (from another thread, while the call is in flight). It prints
``STEP k name`` before each step's call, ``ACK n`` after each acknowledged batch.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from typing import Any

from pymilvus.client.grpc_handler import GrpcHandler

from polyvec import Collection
from polyvec.backends.registry import open_backend
from tests.transfer.data import HashEmbedder, make_docs

STEPS = ("create_collection", "create_index", "load_collection", "upsert_rows", "insert_rows")


def _counted(kill_after: int) -> None:
    done = [0]

    def wrap(name: str, call: Any) -> Any:
        @functools.wraps(call)
        def step(*args: Any, **kwargs: Any) -> Any:
            print(f"STEP {done[0] + 1} {name}", flush=True)
            if done[0] + 1 == -kill_after:
                threading.Timer(0.002, os.kill, (os.getpid(), signal.SIGKILL)).start()
            result = call(*args, **kwargs)
            done[0] += 1
            if done[0] == kill_after:  # the step returned: die before the next
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return step

    for name in STEPS:
        setattr(GrpcHandler, name, wrap(name, getattr(GrpcHandler, name)))


def main() -> None:
    url, n, size, kill_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    backend = open_backend(url)
    _counted(kill_after)
    print("OPENED", flush=True)
    coll = Collection(backend, "kb", embedder=HashEmbedder(), batch_size=size)
    docs = make_docs(n)
    for number, start in enumerate(range(0, len(docs), size)):
        coll.add(docs[start : start + size], progress=False)
        print(f"ACK {number}", flush=True)
    coll.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()

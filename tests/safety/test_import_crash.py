"""A ``polyvec import`` killed (SIGKILL, a real process) at a random point: the
destination, opened afterwards, holds BM25 statistics equal to a recount of what arrived
— the saved state's write-ahead mark is written before the first row."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from polyvec import Collection
from polyvec.sparse.stats import CorpusStats
from polyvec.transfer import export_collection
from tests.transfer.conftest import fill, opened
from tests.transfer.data import HashEmbedder

TRIALS = int(os.environ.get("POLYVEC_FAULT_TRIALS", "2"))
CHILD = """
import sys
from polyvec.backends.registry import open_backend
from polyvec.transfer import import_collection
backend = open_backend(sys.argv[1])
print("START", flush=True)
import_collection(backend, sys.argv[2], batch_size=5, verify=False)
backend.close()
print("DONE", flush=True)
"""


def _recount(coll: Collection) -> CorpusStats:
    stats = CorpusStats(track_df=not coll.backend.capabilities.native_idf)
    for page in coll.backend.scroll(coll.name, batch_size=500):
        stats.add_many(coll.bm25.term_counts_many(d.text for d in page))
    return stats


@pytest.mark.slow
@pytest.mark.qdrant
@pytest.mark.parametrize("trial", range(TRIALS))
def test_import_killed_anywhere_leaves_statistics_a_recount_of_what_arrived(
    engine_url, tmp_path, trial
):
    src_url = engine_url("qdrant-edge")
    source = fill(opened(src_url), "kb", 600)
    export_collection(source.backend, "kb", tmp_path / "kb.jsonl")
    source.close()
    dst_url = engine_url("qdrant-edge")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, dst_url, str(tmp_path / "kb.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().startswith("START")
    time.sleep(random.Random(trial).uniform(0.0, 1.5))  # a random kill point
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    coll = Collection(opened(dst_url), "kb", embedder=HashEmbedder(), create=False)
    try:
        assert coll.stats == _recount(coll), (
            f"after a kill with {coll.count()} documents imported, the saved statistics "
            f"count {coll.stats.n_docs}: they do not describe what the collection holds"
        )
    finally:
        coll.close()

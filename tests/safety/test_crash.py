"""kill -9 in the middle of an ingest (real processes), at a random point: after restart
every acknowledged batch is there, intact, the BM25 statistics equal a recount of what
the store holds, and re-running the same ingest converges.

``POLYVEC_FAULT_TRIALS`` sets the trials per backend (1 in CI; more on demand)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from polyvec import Collection
from polyvec.backends.registry import open_backend
from polyvec.sparse.stats import CorpusStats
from polyvec.transfer.records import doc_key
from tests.safety.ingest_child import ingest
from tests.transfer.data import HashEmbedder, make_docs

N, BATCH = 400, 10
TRIALS = int(os.environ.get("POLYVEC_FAULT_TRIALS", "1"))
VARIANTS = [
    pytest.param("qdrant-local", marks=pytest.mark.qdrant),
    pytest.param("qdrant-edge", marks=pytest.mark.qdrant),
    pytest.param("pgvector", marks=pytest.mark.pgvector),
    pytest.param("chroma-local", marks=pytest.mark.chroma),
    pytest.param("chroma-server", marks=pytest.mark.chroma),
    pytest.param("milvus-lite", marks=pytest.mark.milvus),
]


def recount(coll: Collection) -> CorpusStats:
    """The BM25 statistics of what ``coll`` holds, counted afresh from the store."""
    stats = CorpusStats(track_df=not coll.backend.capabilities.native_idf)
    for page in coll.backend.scroll(coll.name, batch_size=500):
        stats.add_many(coll.bm25.term_counts_many(d.text for d in page))
    return stats


def _child(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.safety.ingest_child", url, "kb", str(N), str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_kill_9_mid_ingest_loses_no_acknowledged_batch(engine_url, variant, trial, tmp_path):
    url = engine_url(variant)
    if variant == "milvus-lite":  # a file of its own: the test process holds the shared
        url = f"milvus+lite://{tmp_path / 'crash.db'}"  # one (and its lock) until it exits
    rng = random.Random(f"{variant}/{trial}")
    # a random kill point: after 1-12 acknowledged batches, then up to one batch's time
    # more, so the kill lands before, inside or after the next write
    wanted, extra = rng.randint(1, 12), rng.uniform(0.0, 0.2)
    child = _child(url)
    assert child.stdout is not None
    acked: list[int] = []
    while True:  # the child is bounded: N documents, then DONE
        line = child.stdout.readline()
        if line.startswith("ACK"):
            acked.append(int(line.split()[1]))
            if len(acked) >= wanted:
                break
        elif not line or line.startswith("DONE"):
            break
    time.sleep(extra)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert len(acked) >= wanted, child.stderr.read() if child.stderr else ""
    docs = make_docs(N)
    expected = {doc_key(d.id): d for d in docs}
    backend = open_backend(url)
    try:  # after the crash: every acknowledged batch, intact
        must = [d.id for n in acked for d in docs[n * BATCH : (n + 1) * BATCH]]
        found = backend.get("kb", must)
        assert len(found) == len(must)
        print(f"fault {variant} trial {trial}: killed after {len(acked)} acknowledged batches, "
              f"{len(must)} acknowledged documents checked, lost {len(must) - len(found)}")  # fmt: skip
        for doc in found:
            want = expected[doc_key(doc.id)]
            assert (doc.text, dict(doc.metadata)) == (want.text, dict(want.metadata))
        # derived state: the statistics a fresh open holds describe the store exactly
        coll = Collection(backend, "kb", embedder=HashEmbedder(), create=False)
        assert coll.stats == recount(coll), (
            f"after the kill the statistics count {coll.stats.n_docs} documents of length "
            f"{coll.stats.total_length}; the store holds {recount(coll)!r}"
        )
    finally:
        backend.close()
    # the same ingest again, to completion (in this process: Milvus Lite keeps a file
    # this process opened in use by its server until the process exits)
    ingest(url, "kb", N, BATCH)
    coll = Collection(open_backend(url), "kb", embedder=HashEmbedder(), create=False)
    try:
        ids = [doc_key(d.id) for page in coll.scroll(batch_size=200) for d in page]
        assert len(ids) == len(set(ids)) == len(docs)
        assert set(ids) == set(expected)
        # BM25 statistics converge too: equal to a recount after the re-run
        assert coll.stats == recount(coll), (
            f"corpus statistics count {coll.stats.n_docs} documents, the collection holds "
            f"{len(docs)}: the crash left them out of step"
        )
    finally:
        coll.close()

"""kill -9 in the middle of an ingest (real processes): after restart every
acknowledged batch is there, and re-running the same ingest converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from polyvec import Collection
from polyvec.backends.registry import open_backend
from polyvec.transfer.records import doc_key
from tests.transfer.data import HashEmbedder, make_docs

N, BATCH = 400, 10
VARIANTS = [
    pytest.param("qdrant-local", marks=pytest.mark.qdrant),
    pytest.param("qdrant-edge", marks=pytest.mark.qdrant),
    pytest.param("pgvector", marks=pytest.mark.pgvector),
]


def _child(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.safety.ingest_child", url, "kb", str(N), str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_kill_9_mid_ingest_loses_no_acknowledged_batch(engine_url, variant):
    url = engine_url(variant)
    child = _child(url)
    assert child.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("ACK"):
            acked.append(int(line.split()[1]))
            if len(acked) >= 4:
                break
        elif not line:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert len(acked) >= 4, child.stderr.read() if child.stderr else ""
    docs = make_docs(N)
    expected = {doc_key(d.id): d for d in docs}
    backend = open_backend(url)
    try:  # after the crash: every acknowledged batch, intact
        must = [d.id for n in acked for d in docs[n * BATCH : (n + 1) * BATCH]]
        found = backend.get("kb", must)
        assert len(found) == len(must)
        for doc in found:
            want = expected[doc_key(doc.id)]
            assert (doc.text, dict(doc.metadata)) == (want.text, dict(want.metadata))
    finally:
        backend.close()
    rerun = _child(url)  # the same ingest again, to completion
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and out.strip().endswith("DONE"), err[-2000:]
    coll = Collection(open_backend(url), "kb", embedder=HashEmbedder(), create=False)
    try:
        ids = [doc_key(d.id) for page in coll.scroll(batch_size=200) for d in page]
        assert len(ids) == len(set(ids)) == len(docs)
        assert set(ids) == set(expected)
        # BM25 statistics converge too: N matches the collection after the re-run
        assert coll.stats.n_docs == len(docs), (
            f"corpus statistics count {coll.stats.n_docs} documents, the collection holds "
            f"{len(docs)}: the crash left them out of step"
        )
    finally:
        coll.close()

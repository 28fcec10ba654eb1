"""A Milvus Lite collection whose creation a kill -9 interrupted (issue 17 item 3):
reopening finishes it (the missing index, the load), so dense, sparse and hybrid search
work, every acknowledged batch is there, and re-ingesting converges with BM25
statistics that match the collection.

Real kills: a child dies by SIGKILL right after its k-th engine step (deterministic:
between the two index creations, in the state collection's creation, in the first
write), or after a random delay (``POLYVEC_FAULT_TRIALS`` trials, 1 by default).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import polyvec
from polyvec import Collection
from polyvec.backends.milvus.lite_lock import lite_file_in_use
from polyvec.backends.registry import open_backend
from polyvec.transfer.records import doc_key
from tests.transfer.data import HashEmbedder, make_docs

pytestmark = pytest.mark.milvus

N, BATCH = 40, 10
TRIALS = int(os.environ.get("POLYVEC_FAULT_TRIALS", "1"))
ROOT = Path(__file__).resolve().parents[2]
SRC = Path(polyvec.__file__).resolve().parents[1]
# The child's engine steps: 1 create kb, 2 dense index, 3 sparse index, 4 load kb,
# 5 create pvx_state, 6 its index, 7 its load, 8... upserts (state and documents).
STEPS = [
    pytest.param(2, id="between-the-two-indexes"),
    pytest.param(6, id="state-collection-without-index"),
    pytest.param(1, id="collection-without-indexes", marks=pytest.mark.slow),
    pytest.param(3, id="indexes-not-loaded", marks=pytest.mark.slow),
    pytest.param(5, id="state-collection-created", marks=pytest.mark.slow),
    pytest.param(9, id="during-the-first-write", marks=pytest.mark.slow),
    pytest.param(10, id="after-the-first-write", marks=pytest.mark.slow),
]


def _child(url: str, kill_after: int) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "tests.safety.milvus_kill_child", url, str(N), str(BATCH),
         str(kill_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _acked(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("ACK")]


def _wait_free(db: Path) -> None:
    # The killed child's Milvus Lite server exits on its own once its parent's lock is
    # gone; it holds the file until then (a reopen would be refused, correctly).
    for _ in range(600):
        if not lite_file_in_use(str(db)):
            return
        time.sleep(0.05)
    raise AssertionError(f"the killed child's Milvus Lite server still holds {db}")


def _check_after_kill(url: str, acked: list[int]) -> None:
    docs = make_docs(N)
    backend = open_backend(url)
    try:
        if "kb" not in backend.list_collections():
            assert not acked
            return
        coll = Collection(backend, "kb", embedder=HashEmbedder(), create=False)
        must = [d for n in acked for d in docs[n * BATCH : (n + 1) * BATCH]]
        found = {doc_key(d.id): d for d in backend.get("kb", [d.id for d in must])}
        assert len(found) == len(must), "an acknowledged batch was lost"
        for doc in must:
            got = found[doc_key(doc.id)]
            assert (got.text, dict(got.metadata)) == (doc.text, dict(doc.metadata))
        for mode in ("dense", "sparse", "hybrid"):  # each raised before the repair
            coll.search("vector database backup", k=3, mode=mode)
        assert sum(len(page) for page in coll.scroll()) == coll.count()
    finally:
        backend.close()


def _rerun_converges(url: str) -> None:
    # in this process: pymilvus keeps a Milvus Lite file until the process that opened
    # it exits, so a child could not open it after the check above
    with Collection(open_backend(url), "kb", embedder=HashEmbedder(), batch_size=BATCH) as coll:
        coll.add(make_docs(N), progress=False)
    docs = make_docs(N)
    coll = Collection(open_backend(url), "kb", embedder=HashEmbedder(), create=False)
    try:
        keys = [doc_key(d.id) for page in coll.scroll(batch_size=16) for d in page]
        assert sorted(keys, key=repr) == sorted((doc_key(d.id) for d in docs), key=repr)
        target = docs[7]
        for mode in ("dense", "sparse", "hybrid"):
            hits = coll.search(target.text, k=3, mode=mode)
            assert doc_key(hits[0].document.id) == doc_key(target.id), mode
        assert coll.stats.n_docs == len(docs)  # derived state matches the collection
    finally:
        coll.close()


def _kill_and_check(db: Path, child: subprocess.Popen[str]) -> None:
    out, err = child.communicate(timeout=600)
    lines = out.splitlines()
    assert child.returncode in (0, -signal.SIGKILL), err[-3000:]
    url = f"milvus+lite://{db}"
    _wait_free(db)
    _check_after_kill(url, _acked(lines))
    _rerun_converges(url)


@pytest.fixture
def lite_db(engine_url, tmp_path) -> Path:
    engine_url("milvus-lite")  # skips, or fails, without Milvus Lite
    return tmp_path / "kill.db"  # a file of its own: the session's is open here


@pytest.mark.parametrize("kill_after", STEPS)
def test_reopening_repairs_a_collection_killed_at_a_step(lite_db, kill_after):
    child = _child(f"milvus+lite://{lite_db}", kill_after)
    _kill_and_check(lite_db, child)
    assert child.returncode == -signal.SIGKILL  # it did die at that step


def test_reopening_repairs_a_collection_killed_at_random(tmp_path, lite_db):
    seed = int(os.environ.get("POLYVEC_FAULT_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    for trial in range(TRIALS):
        db = tmp_path / f"random{trial}.db"
        child = _child(f"milvus+lite://{db}", 0)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "OPENED", (
            child.stderr.read() if child.stderr else ""
        )
        time.sleep(rng.uniform(0.0, 1.5))  # the kill point, not a time limit
        os.kill(child.pid, signal.SIGKILL)
        try:
            _kill_and_check(db, child)
        except AssertionError as exc:
            raise AssertionError(f"trial {trial}, POLYVEC_FAULT_SEED={seed}: {exc}") from exc

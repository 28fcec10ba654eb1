"""``migrate`` between real engines: everything arrives, verified; resumable after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from polyvec import Collection
from polyvec.backends.base import CollectionSpec
from polyvec.errors import CollectionNotFoundError, ConfigurationError, VerificationError
from polyvec.transfer import migrate, verify_copy
from polyvec.transfer.records import doc_key
from tests.transfer.conftest import fill, opened
from tests.transfer.data import HashEmbedder

PAIRS = [
    pytest.param("qdrant-local", "pgvector", marks=[pytest.mark.qdrant, pytest.mark.pgvector]),
    pytest.param("chroma-local", "qdrant-edge", marks=[pytest.mark.chroma, pytest.mark.qdrant]),
    pytest.param("pgvector", "chroma-server", marks=[pytest.mark.chroma, pytest.mark.pgvector]),
    pytest.param("qdrant-edge", "qdrant-local", marks=[pytest.mark.qdrant]),
]


@pytest.mark.parametrize(("src_variant", "dst_variant"), PAIRS)
def test_migrate_copies_everything_and_verifies(engine_url, tmp_path, src_variant, dst_variant):
    src, dst = opened(engine_url(src_variant)), opened(engine_url(dst_variant))
    try:
        coll = fill(src, "kb", 120)
        report = migrate(src, dst, "kb", "kb2", batch_size=25, progress=False,
                         checkpoint=tmp_path / "cp.jsonl")  # fmt: skip
        assert report.copied == 121 and report.skipped == 0
        assert report.verification is not None and report.verification.ok
        assert report.verification.destination_count == 121
        assert report.state_copied
        assert not (tmp_path / "cp.jsonl").exists()  # removed once complete
        # ids keep their type: 5 and "5" are two documents
        got = dst.get("kb2", [5, "5"])
        assert sorted((type(d.id).__name__, d.text) for d in got) == [
            ("int", next(d.text for d in coll.get([5]))),
            ("str", "string five"),
        ]
        # the copy searches like the original (dense leg; BM25 statistics came along)
        copy = Collection(dst, "kb2", embedder=HashEmbedder(), create=False)
        assert copy.stats.n_docs == coll.stats.n_docs == 121
        for query in ("backup restore", "crash retry shard"):
            a = [h.id for h in coll.search(query, k=5, mode="dense")]
            b = [h.id for h in copy.search(query, k=5, mode="dense")]
            assert a == b
        # re-running converges: nothing new, still verified
        again = migrate(src, dst, "kb", "kb2", batch_size=40, progress=False)
        assert again.verification is not None and again.verification.ok
        assert dst.count("kb2") == 121
    finally:
        src.close()
        dst.close()


@pytest.mark.qdrant
def test_verify_names_missing_changed_and_extra_documents(engine_url):
    src, dst = opened(engine_url("qdrant-local")), opened(engine_url("qdrant-edge"))
    try:
        fill(src, "kb", 30)
        migrate(src, dst, "kb", progress=False)
        one = dst.get("kb", [1], with_vectors=True)[0]
        dst.upsert("kb", [one.__class__(1, "tampered", one.metadata, one.dense, one.sparse)])
        dst.delete("kb", ids=[2])
        report = verify_copy(src, dst, "kb")
        assert not report.ok and report.missing == 1 and report.changed == 1
        assert any("id 1: text differ" in p for p in report.problems)
        assert any("id 2 is missing" in p for p in report.problems)
        with pytest.raises(VerificationError, match="re-run the copy"):
            report.raise_for_problems()
    finally:
        src.close()
        dst.close()


@pytest.mark.qdrant
def test_migrate_refuses_missing_source_and_other_dimension(engine_url):
    src, dst = opened(engine_url("qdrant-memory")), opened(engine_url("qdrant-edge"))
    try:
        with pytest.raises(CollectionNotFoundError):
            migrate(src, dst, "nope", progress=False)
        fill(src, "kb", 5)
        dst.create_collection(CollectionSpec("kb", 7))
        with pytest.raises(ConfigurationError):
            migrate(src, dst, "kb", progress=False)
    finally:
        src.close()
        dst.close()


@pytest.mark.qdrant
@pytest.mark.pgvector
@pytest.mark.slow
def test_migrate_resumes_after_kill_9(engine_url, tmp_path):
    """A real `polyvec migrate` process killed mid-copy resumes from its checkpoint."""
    src_url, dst_url = engine_url("qdrant-local"), engine_url("pgvector")
    src = opened(src_url)
    fill(src, "kb", 600, batch_size=200)
    src.close()  # qdrant local mode: one process at a time
    checkpoint = tmp_path / "cp.jsonl"
    cmd = [sys.executable, "-m", "polyvec.cli", "migrate", src_url, dst_url, "--collection",
           "kb", "--batch-size", "5", "--checkpoint", str(checkpoint), "--no-progress"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if checkpoint.exists() and len(checkpoint.read_text().splitlines()) >= 6:
            break
        time.sleep(0.01)
    assert child.poll() is None, child.communicate()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    done = {doc_key(i) for line in checkpoint.read_text().splitlines()[1:] if line.strip()
            for i in json.loads(line).get("ids", [])}  # fmt: skip
    assert 25 <= len(done) < 601
    dst = opened(dst_url)
    try:  # every acknowledged batch is in the destination
        present = {doc_key(d.id) for page in dst.scroll("kb") for d in page}
        assert done <= present
    finally:
        dst.close()
    out = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["skipped"] >= len(done)
    assert report["copied"] + report["skipped"] == 601
    assert report["verification"]["ok"] and report["verification"]["destination"]["count"] == 601
    assert not checkpoint.exists()

"""Export/import to JSONL with vectors: exact round trips on real engines, damaged
files refused before anything is written, and the CLI commands."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from polyvec import Collection, Document
from polyvec.cli import main
from polyvec.errors import InputError
from polyvec.transfer import export_collection, from_record, import_collection, to_record
from polyvec.transfer.records import Digest, doc_key, record_line
from tests.transfer.conftest import fill, opened
from tests.transfer.data import HashEmbedder, make_docs


def _docs_of(path: Path) -> dict[object, dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return {doc_key(r["id"]): r for r in lines[1:-1]}


def test_records_round_trip_exactly():
    docs = make_docs(20)
    rng = np.random.default_rng(1)
    for doc in docs:
        dense = rng.normal(size=7).astype(np.float32)
        back = from_record(json.loads(json.dumps(to_record(doc.with_vectors(dense=dense)))))
        assert back == doc and type(back.id) is type(doc.id)
        assert back.dense is not None and back.dense.tobytes() == dense.tobytes()
    bad = Document(1, "x", {"bad": float("nan")})
    with pytest.raises(InputError, match="cannot be written as JSON"):
        record_line(bad)
    with pytest.raises(InputError, match="cannot be written as JSON"):
        Digest().update([bad])


@pytest.mark.pgvector
def test_pgvector_export_import_export_is_identical(engine_url, tmp_path):
    a, b = opened(engine_url("pgvector")), opened(engine_url("pgvector"))
    try:
        fill(a, "kb", 80)
        first = export_collection(a, "kb", tmp_path / "a.jsonl")
        got = import_collection(b, tmp_path / "a.jsonl")
        assert got.count == 81 and got.state_restored
        assert got.verification is not None and got.verification.dense_identical
        second = export_collection(b, "kb", tmp_path / "b.jsonl")
        assert _docs_of(tmp_path / "a.jsonl") == _docs_of(tmp_path / "b.jsonl")  # bit for bit
        assert first.digest.as_dict() == second.digest.as_dict()
        assert a.load_state("kb") == b.load_state("kb")
    finally:
        a.close()
        b.close()


@pytest.mark.chroma
@pytest.mark.qdrant
def test_chroma_to_file_to_qdrant(engine_url, tmp_path):
    a, b = opened(engine_url("chroma-local")), opened(engine_url("qdrant-local"))
    try:
        coll = fill(a, "kb", 60)
        path = tmp_path / "kb.jsonl.gz"
        export_collection(a, "kb", path)
        report = import_collection(b, path, collection="restored")
        assert report.verification is not None and report.verification.ok
        assert report.verification.max_dense_diff < 1e-5
        copy = Collection(b, "restored", embedder=HashEmbedder(), create=False)
        assert copy.count() == 61 and copy.stats.n_docs == coll.stats.n_docs
        assert [h.id for h in copy.search("retry secret", k=3, mode="dense")] == [
            h.id for h in coll.search("retry secret", k=3, mode="dense")
        ]
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
def test_damaged_files_are_refused_before_any_write(engine_url, tmp_path):
    a, b = opened(engine_url("qdrant-memory")), opened(engine_url("qdrant-edge"))
    try:
        fill(a, "kb", 30)
        good = tmp_path / "kb.jsonl"
        export_collection(a, "kb", good)
        lines = good.read_text(encoding="utf-8").splitlines(keepends=True)
        truncated = tmp_path / "truncated.jsonl"
        truncated.write_text("".join(lines[:-3]), encoding="utf-8")
        with pytest.raises(InputError, match="no end line"):
            import_collection(b, truncated)
        edited = tmp_path / "edited.jsonl"
        record = json.loads(lines[4])
        record["text"] += " (edited)"
        edited.write_text("".join([*lines[:4], json.dumps(record) + "\n", *lines[5:]]))
        with pytest.raises(InputError, match="does not match its own digest"):
            import_collection(b, edited)
        torn = tmp_path / "torn.jsonl"
        torn.write_text("".join(lines[:6]) + lines[6][:20], encoding="utf-8")
        with pytest.raises(InputError, match="not valid JSON"):
            import_collection(b, torn)
        assert "kb" not in b.list_collections()  # nothing was written
        import_collection(b, good)
        import_collection(b, good)  # idempotent
        assert b.count("kb") == 31
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
def test_cli_export_import_and_verify(engine_url, tmp_path, capsys):
    src_url, dst_url = engine_url("qdrant-edge"), engine_url("qdrant-memory")
    src = opened(src_url)
    fill(src, "kb", 25)
    src.close()
    path = tmp_path / "kb.jsonl"
    assert main(["export", "--url", src_url, "--collection", "kb", str(path), "--no-progress"]) == 0
    assert "exported 26 documents" in capsys.readouterr().out
    # qdrant+memory lives in this process only, so import and verify against a path store
    dst_url = engine_url("qdrant-local")
    assert main(["import", str(path), "--url", dst_url, "--no-progress"]) == 0
    assert "imported 26 documents into 'kb' and verified" in capsys.readouterr().out
    assert main(["verify", src_url, dst_url, "--collection", "kb"]) == 0
    assert capsys.readouterr().out.startswith("identical: 26 source documents")
    assert main(["import", str(tmp_path / "missing.jsonl"), "--url", dst_url]) != 0
    assert "missing.jsonl" in capsys.readouterr().err

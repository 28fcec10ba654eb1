"""Export/import in Parquet: exact round trips (ids of both types, float32 vectors bit
for bit, sparse vectors, nested metadata), the same digests as JSONL, damaged files
refused before anything is written, and ``polyvec export --format parquet``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyvec import Document
from polyvec.cli import main
from polyvec.errors import InputError
from polyvec.transfer import export_collection, import_collection
from polyvec.transfer.parquet import read_parquet, write_parquet
from polyvec.transfer.records import Digest, doc_key
from polyvec.types import SparseVector
from tests.transfer.conftest import fill, opened
from tests.transfer.data import make_docs

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DIM = 8


def _tricky() -> list[Document]:
    """Every kind of id, vector and metadata value an export must keep exactly."""
    rng = np.random.default_rng(3)
    special = np.array(
        [0.0, -0.0, 1e-45, -3.4028235e38, 3.4028235e38, np.pi, 1 / 3, -1e-38], np.float32
    )
    docs = [
        Document(5, "int five", {"n": 1, "f": 1.0}, dense=special),
        Document("5", "str five", {"n": 1.0}),  # no vectors at all
        Document(2**62 + 7, "a big int id", {}, dense=rng.normal(size=DIM).astype(np.float32)),
        Document(-3, "negative id", {"none": None, "empty": {}, "list": []}),
        Document(
            "ünï-✓ id",
            "",
            {"nested": {"deep": {"x": [1, "a", None, True, 2.5]}}},
            sparse=SparseVector((3, 17, 4_000_000_000), (0.1, 1e-300, 12345.678)),
        ),
        Document(
            "dates",
            "iso datetimes are strings",
            {
                "created": "2024-02-29T23:59:59.999999+00:00",
                "day": "2024-01-01",
                "naive": "2023-12-31T08:00:00",
            },
        ),
    ]
    for doc in make_docs(30, seed=9):
        docs.append(
            doc.with_vectors(
                dense=rng.normal(size=DIM).astype(np.float32),
                sparse=SparseVector((1, 2), (0.5, 0.25)) if hash(doc.text) % 2 else None,
            )
        )
    return docs


def _header() -> dict:
    return {
        "collection": "kb",
        "engine": "none",
        "state": None,
        "spec": {"dimension": DIM, "distance": "cosine", "sparse": True, "options": {}},
    }


def _assert_same(got: list[Document], want: list[Document]) -> None:
    assert [doc_key(d.id) for d in got] == [doc_key(d.id) for d in want]
    for a, b in zip(got, want):
        assert type(a.id) is type(b.id) and a.id == b.id
        assert a.text == b.text
        assert json.dumps(a.metadata, sort_keys=True) == json.dumps(b.metadata, sort_keys=True)
        assert a.metadata == b.metadata
        if b.dense is None:
            assert a.dense is None
        else:
            assert a.dense is not None and a.dense.dtype == np.float32
            assert a.dense.tobytes() == b.dense.tobytes()  # bit for bit, -0.0 included
        assert a.sparse == b.sparse


def test_parquet_records_round_trip_exactly(tmp_path):
    docs = _tricky()
    path = tmp_path / "t.parquet"
    written = write_parquet(path, _header(), [docs[:7], docs[7:]])
    header, batches = read_parquet(path, batch_size=5)
    assert header["format"] == "polyvec-parquet/1" and header["spec"]["dimension"] == DIM
    got = [d for batch in batches for d in batch]
    _assert_same(got, docs)
    again = Digest()
    again.update(got)
    assert again.as_dict() == written.as_dict()
    table = pq.read_table(path)  # readable by any Parquet tool, as plain columns
    assert table.schema.field("dense").type == pa.list_(pa.float32(), DIM)
    assert table.column("id_is_int").to_pylist()[:3] == [True, False, True]


def test_parquet_refuses_unwritable_metadata(tmp_path):
    import datetime as dt

    bad = Document(1, "x", {"when": dt.datetime(2024, 1, 1)})  # store dates as ISO strings
    with pytest.raises(InputError, match="cannot be written as JSON"):
        write_parquet(tmp_path / "bad.parquet", _header(), [[bad]])


@pytest.mark.pgvector
def test_pgvector_parquet_round_trip_equals_jsonl(engine_url, tmp_path):
    a, b = opened(engine_url("pgvector")), opened(engine_url("pgvector"))
    try:
        fill(a, "kb", 80)
        as_jsonl = export_collection(a, "kb", tmp_path / "a.jsonl")
        first = export_collection(a, "kb", tmp_path / "a.parquet")
        assert first.digest.as_dict() == as_jsonl.digest.as_dict()  # same content, both formats
        got = import_collection(b, tmp_path / "a.parquet")
        assert got.count == 81 and got.state_restored
        assert got.verification is not None and got.verification.dense_identical
        second = export_collection(b, "kb", tmp_path / "b.bin", format="parquet")
        assert second.digest.as_dict() == first.digest.as_dict()
        assert (
            pq.read_table(tmp_path / "a.parquet")
            .sort_by("id")
            .equals(pq.read_table(tmp_path / "b.bin").sort_by("id"))
        )  # column for column, vectors bit for bit
        assert a.load_state("kb") == b.load_state("kb")
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
def test_damaged_parquet_files_are_refused_before_any_write(engine_url, tmp_path):
    a, b = opened(engine_url("qdrant-memory")), opened(engine_url("qdrant-edge"))
    try:
        fill(a, "kb", 30)
        good = tmp_path / "kb.parquet"
        export_collection(a, "kb", good)
        data = good.read_bytes()
        truncated = tmp_path / "truncated.parquet"
        truncated.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError, match="not a complete Parquet file"):
            import_collection(b, truncated)
        table = pq.read_table(good)  # an edit that keeps the file's metadata
        texts = table.column("text").to_pylist()
        texts[3] += " (edited)"
        edited = table.set_column(
            table.schema.get_field_index("text"), "text", pa.array(texts, pa.string())
        )
        pq.write_table(edited, tmp_path / "edited.parquet")
        with pytest.raises(InputError, match="polyvec metadata"):
            import_collection(b, tmp_path / "edited.parquet")  # lost the end digest
        meta = pq.ParquetFile(good).metadata.metadata
        pq.write_table(edited.replace_schema_metadata(meta), tmp_path / "edited2.parquet")
        with pytest.raises(InputError, match="does not match its own digest"):
            import_collection(b, tmp_path / "edited2.parquet")
        assert "kb" not in b.list_collections()  # nothing was written
        import_collection(b, good)
        import_collection(b, good)  # idempotent
        assert b.count("kb") == 31
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
def test_cli_export_parquet_and_import(engine_url, tmp_path: Path, capsys):
    src_url, dst_url = engine_url("qdrant-edge"), engine_url("qdrant-local")
    src = opened(src_url)
    fill(src, "kb", 25)
    src.close()
    path = tmp_path / "kb.out"
    argv = [
        "export",
        "--url",
        src_url,
        "--collection",
        "kb",
        str(path),
        "--format",
        "parquet",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "exported 26 documents" in capsys.readouterr().out
    assert path.read_bytes()[:4] == b"PAR1"
    assert main(["import", str(path), "--url", dst_url, "--no-progress"]) == 0
    assert "imported 26 documents into 'kb' and verified" in capsys.readouterr().out
    assert main(["verify", src_url, dst_url, "--collection", "kb"]) == 0
    assert capsys.readouterr().out.startswith("identical: 26 source documents")
    assert main(["export", "--url", src_url, "--collection", "kb", "-", "--format", "parquet"]) == 2
    assert "not stdout" in capsys.readouterr().err

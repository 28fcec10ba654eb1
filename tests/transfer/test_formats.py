"""What export/import promise in both file formats (JSONL and Parquet): an export,
import and re-export on a real engine is identical, damaged files are refused before
anything is written, and the CLI's ``export``/``import``/``verify`` round trip."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyvec.cli import main
from polyvec.errors import InputError
from polyvec.transfer import export_collection, import_collection
from polyvec.transfer.records import doc_key
from tests.transfer.conftest import fill, opened

FORMATS = ["jsonl", "parquet"]


def _pq() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or the test is skipped."""
    return pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")


def _docs_of(path: Path) -> dict[object, dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return {doc_key(r["id"]): r for r in lines[1:-1]}


def _same_jsonl(one: Path, two: Path) -> bool:
    return _docs_of(one) == _docs_of(two)  # record for record, vectors bit for bit


def _same_parquet(one: Path, two: Path) -> bool:
    _, pq = _pq()
    # column for column, vectors bit for bit
    return bool(pq.read_table(one).sort_by("id").equals(pq.read_table(two).sort_by("id")))


def _damaged_jsonl(good: Path, tmp: Path) -> list[tuple[Path, str]]:
    lines = good.read_text(encoding="utf-8").splitlines(keepends=True)
    truncated = tmp / "truncated.jsonl"
    truncated.write_text("".join(lines[:-3]), encoding="utf-8")
    edited = tmp / "edited.jsonl"
    record = json.loads(lines[4])
    record["text"] += " (edited)"
    edited.write_text("".join([*lines[:4], json.dumps(record) + "\n", *lines[5:]]))
    torn = tmp / "torn.jsonl"
    torn.write_text("".join(lines[:6]) + lines[6][:20], encoding="utf-8")
    return [
        (truncated, "no end line"),
        (edited, "does not match its own digest"),
        (torn, "not valid JSON"),
    ]


def _damaged_parquet(good: Path, tmp: Path) -> list[tuple[Path, str]]:
    pa, pq = _pq()
    data = good.read_bytes()
    truncated = tmp / "truncated.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    table = pq.read_table(good)  # an edit that keeps the file's metadata
    texts = table.column("text").to_pylist()
    texts[3] += " (edited)"
    edited = table.set_column(
        table.schema.get_field_index("text"), "text", pa.array(texts, pa.string())
    )
    pq.write_table(edited, tmp / "edited.parquet")
    meta = pq.ParquetFile(good).metadata.metadata
    pq.write_table(edited.replace_schema_metadata(meta), tmp / "edited2.parquet")
    return [
        (truncated, "not a complete Parquet file"),
        (tmp / "edited.parquet", "polyvec metadata"),  # lost the end digest
        (tmp / "edited2.parquet", "does not match its own digest"),
    ]


SAME: dict[str, Callable[[Path, Path], bool]] = {"jsonl": _same_jsonl, "parquet": _same_parquet}
DAMAGED: dict[str, Callable[[Path, Path], list[tuple[Path, str]]]] = {
    "jsonl": _damaged_jsonl,
    "parquet": _damaged_parquet,
}


@pytest.mark.pgvector
@pytest.mark.parametrize("fmt", FORMATS)
def test_pgvector_export_import_export_is_identical(fmt, engine_url, tmp_path):
    if fmt == "parquet":
        _pq()
    a, b = opened(engine_url("pgvector")), opened(engine_url("pgvector"))
    try:
        fill(a, "kb", 80)
        first = export_collection(a, "kb", tmp_path / f"a.{fmt}")
        if fmt != "jsonl":  # same content, same digest, whatever the format
            as_jsonl = export_collection(a, "kb", tmp_path / "a.jsonl")
            assert first.digest.as_dict() == as_jsonl.digest.as_dict()
        got = import_collection(b, tmp_path / f"a.{fmt}")
        assert got.count == 81 and got.state_restored
        assert got.verification is not None and got.verification.dense_identical
        second = export_collection(b, "kb", tmp_path / "b.bin", format=fmt)
        assert second.digest.as_dict() == first.digest.as_dict()
        assert SAME[fmt](tmp_path / f"a.{fmt}", tmp_path / "b.bin")
        assert a.load_state("kb") == b.load_state("kb")
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_files_are_refused_before_any_write(fmt, engine_url, tmp_path):
    if fmt == "parquet":
        _pq()
    a, b = opened(engine_url("qdrant-memory")), opened(engine_url("qdrant-edge"))
    try:
        fill(a, "kb", 30)
        good = tmp_path / f"kb.{fmt}"
        export_collection(a, "kb", good)
        for damaged, why in DAMAGED[fmt](good, tmp_path):
            with pytest.raises(InputError, match=why):
                import_collection(b, damaged)
        assert "kb" not in b.list_collections()  # nothing was written
        import_collection(b, good)
        import_collection(b, good)  # idempotent
        assert b.count("kb") == 31
    finally:
        a.close()
        b.close()


@pytest.mark.qdrant
@pytest.mark.parametrize(
    ("fmt", "name", "options"),
    [("jsonl", "kb.jsonl", []), ("parquet", "kb.out", ["--format", "parquet"])],
)  # the format from the file name, or named
def test_cli_export_import_and_verify(fmt, name, options, engine_url, tmp_path, capsys):
    if fmt == "parquet":
        _pq()
    src_url, dst_url = engine_url("qdrant-edge"), engine_url("qdrant-local")
    src = opened(src_url)
    fill(src, "kb", 25)
    src.close()
    path = tmp_path / name
    argv = ["export", "--url", src_url, "--collection", "kb", str(path), *options, "--no-progress"]
    assert main(argv) == 0
    assert "exported 26 documents" in capsys.readouterr().out
    if fmt == "parquet":
        assert path.read_bytes()[:4] == b"PAR1"
    assert main(["import", str(path), "--url", dst_url, "--no-progress"]) == 0
    assert "imported 26 documents into 'kb' and verified" in capsys.readouterr().out
    assert main(["verify", src_url, dst_url, "--collection", "kb"]) == 0
    assert capsys.readouterr().out.startswith("identical: 26 source documents")
    assert main(["import", str(tmp_path / f"missing.{fmt}"), "--url", dst_url]) == 2
    assert f"missing.{fmt}': no such file" in capsys.readouterr().err
    # an output that cannot be written is refused, typed, before the collection is read
    for bad, why in [
        (tmp_path / "no-dir" / name, "does not exist"),
        (tmp_path, "is a folder"),
        (Path("/proc") / name, "cannot create files in '/proc'"),  # root passes the bits
    ]:
        assert main(["export", "--url", src_url, "--collection", "kb", str(bad), *options]) == 2
        assert why in capsys.readouterr().err
    src = opened(src_url)
    try:
        with pytest.raises(InputError, match="does not exist — create it"):
            export_collection(src, "kb", tmp_path / "no-dir" / name)
    finally:
        src.close()
    if fmt == "parquet":
        assert main(["export", "--url", src_url, "--collection", "kb", "-", *options]) == 2
        assert "not stdout" in capsys.readouterr().err

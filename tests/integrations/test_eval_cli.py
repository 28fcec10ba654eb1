"""``polyvec dataset`` and ``polyvec eval`` end to end: a tiny BEIR dataset, the real
offline MiniLM model, Qdrant local mode and qdrant-edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ranx")
pytest.importorskip("sentence_transformers")
pytest.importorskip("qdrant_client")

from polyvec.cli import main
from polyvec.evaluation import BeirDataset, CorpusDoc, load_beir, write_beir

pytestmark = [pytest.mark.models, pytest.mark.qdrant]

DOCS = {
    "gzip": "gzip reduces the size of files using Lempel-Ziv coding and writes .gz files.",
    "ls": "ls lists information about the files in a directory, sorted alphabetically.",
    "ping": "ping sends ICMP echo requests to network hosts and reports round-trip times.",
    "grep": "grep searches the named input files for lines matching a regular expression.",
    "tar": "tar saves many files together into a single tape or disk archive.",
}
QUERIES = {
    "q1": ("compress files", "gzip"),
    "q2": ("list directory contents", "ls"),
    "q3": ("print lines that match patterns", "grep"),
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    corpus = {d: CorpusDoc(d, text, d) for d, text in DOCS.items()}
    data = BeirDataset(
        corpus,
        {q: text for q, (text, _) in QUERIES.items()},
        {q: {doc: 1} for q, (_, doc) in QUERIES.items()},
        name="tiny",
    )
    return write_beir(data, tmp_path / "tiny")


def test_eval_cli_table_json_plot(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    code = main(
        [
            "eval",
            str(dataset),
            "--config",
            "bm25",
            "--config",
            "dense",
            "--config",
            "hybrid",
            "--config",
            "convex:alpha=0.3",
            "--config",
            "hybrid:prf=1,prf_docs=2",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "| configuration | ndcg@10 |" in table and "| hybrid |" in table
    data = json.loads(out_json.read_text())
    names = [r["name"] for r in data["results"]]
    assert names == ["bm25", "dense", "hybrid", "convex:alpha=0.3", "hybrid:prf=1,prf_docs=2"]
    for row in data["results"]:
        assert row["queries"] == 3 and 0.0 <= row["metrics"]["ndcg@10"] <= 1.0
    # these queries are easy: BM25 finds gzip and ls, dense all three
    assert data["results"][1]["metrics"]["recall@10"] == 1.0
    assert data["setup"]["ingest"] == "truncate"
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_eval_cli_chunks_on_qdrant_edge(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("qdrant_edge")
    url = f"qdrant-edge://{tmp_path / 'edge'}"
    args = ["eval", str(dataset), "--url", url, "--doc-mode", "chunks", "--chunk-size", "8"]
    args += ["--chunk-overlap", "2", "--no-cache"]
    assert main([*args, "--queries", "2"]) == 0
    assert "| hybrid |" in capsys.readouterr().out
    # a second run reuses the stored collection
    assert main(args) == 0


def test_dataset_cli_pydocs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "pydocs", str(tmp_path / "py")]) == 0
    assert "written to" in capsys.readouterr().out
    test = load_beir(tmp_path / "py", "test")
    dev = load_beir(tmp_path / "py", "dev")
    assert len(test.queries) > 4 * len(dev.queries) / 2 > 0
    assert not set(test.queries) & set(dev.queries)
    info = json.loads((tmp_path / "py" / "dataset.json").read_text())
    assert info["name"] == "pydocs" and info["counts"]["queries"] == len(test.queries) + len(
        dev.queries
    )

"""BEIR files: round trip, validation, splits, subsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyvec.errors import InputError
from polyvec.evaluation import BeirDataset, CorpusDoc, list_splits, load_beir, write_beir


def _tiny() -> BeirDataset:
    corpus = {
        "d1": CorpusDoc("d1", "gzip compresses files", "gzip", {"section": 1}),
        "d2": CorpusDoc("d2", "ls lists directory contents", "ls"),
        "d3": CorpusDoc("d3", "no title here"),
    }
    return BeirDataset(
        corpus,
        {"q1": "compress a file", "q2": "list a directory"},
        {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 1}},
        name="tiny",
        info={"name": "tiny", "note": "unit test"},
    )


def test_round_trip(tmp_path: Path) -> None:
    data = _tiny()
    root = write_beir(data, tmp_path / "tiny")
    back = load_beir(root)
    assert back.corpus == data.corpus
    assert back.queries == data.queries
    assert back.qrels == data.qrels
    assert back.name == "tiny" and back.info["note"] == "unit test"
    assert list_splits(root) == ["test"]
    # deterministic bytes
    first = (root / "corpus.jsonl").read_bytes()
    write_beir(data, tmp_path / "again")
    assert (tmp_path / "again" / "corpus.jsonl").read_bytes() == first


def test_full_text_joins_title() -> None:
    data = _tiny()
    assert data.corpus["d1"].full_text == "gzip\n\ngzip compresses files"
    assert data.corpus["d3"].full_text == "no title here"


def test_reads_plain_beir_files(tmp_path: Path) -> None:
    """Files as BEIR publishes them: header line, extra columns, zero grades."""
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(
        '{"_id": "1", "title": "T", "text": "x"}\n\n{"_id": "2", "text": "y"}\n'
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "a", "text": "qa"}\n{"_id": "b", "text": "qb"}\n'
    )
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\na\t1\t1\na\t2\t0\nb\t2\t2\n"
    )
    data = load_beir(tmp_path)
    assert data.qrels == {"a": {"1": 1}, "b": {"2": 2}}
    assert data.corpus["2"].title == ""
    assert data.name == tmp_path.name


def test_only_judged_queries_are_loaded(tmp_path: Path) -> None:
    data = _tiny()
    root = write_beir(
        data,
        tmp_path,
        splits={"dev": {"q1": {"d1": 1}}, "test": {"q2": {"d2": 1}}},
        all_queries=data.queries,
    )
    assert list_splits(root) == ["dev", "test"]
    assert list(load_beir(root, "dev").queries) == ["q1"]
    assert list(load_beir(root, "test").queries) == ["q2"]
    with pytest.raises(InputError, match="no split 'train'"):
        load_beir(root, "train")


def test_mismatched_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not in the corpus"):
        BeirDataset({}, {"q": "x"}, {"q": {"missing": 1}})
    with pytest.raises(InputError, match="no text"):
        BeirDataset({"d": CorpusDoc("d", "t")}, {}, {"q": {"d": 1}})
    with pytest.raises(InputError, match="not a BEIR dataset"):
        load_beir(tmp_path)
    (tmp_path / "corpus.jsonl").write_text("not json\n")
    (tmp_path / "queries.jsonl").write_text("")
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("")
    with pytest.raises(InputError, match="not valid JSON"):
        load_beir(tmp_path)


def test_sample_and_subset_are_deterministic() -> None:
    data = _tiny()
    assert list(data.sample(1).queries) == ["q1"]
    assert data.sample(None) is data
    assert list(data.subset(["q2", "nope"]).qrels) == ["q2"]
    assert "2 queries" in data.summary()


def test_metadata_survives(tmp_path: Path) -> None:
    root = write_beir(_tiny(), tmp_path)
    rows = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()]
    assert rows[0]["metadata"] == {"section": 1}
    assert "metadata" not in rows[1]


@pytest.mark.parametrize(
    "name",
    [
        "polyvec.evaluation.beir",
        "polyvec.evaluation.builders.common",
        "polyvec.evaluation.builders.pydocs",
        "polyvec.evaluation.specs",
        "polyvec.multiquery",
    ],
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

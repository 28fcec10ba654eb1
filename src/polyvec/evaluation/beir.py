"""Datasets in BEIR's file format: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

The format of the BEIR benchmark (Thakur et al., 2021), so that public datasets
(SciFact, NFCorpus, FiQA …) drop in where they can be downloaded::

    corpus.jsonl      {"_id": "d1", "title": "…", "text": "…", "metadata": {…}}  one per line
    queries.jsonl     {"_id": "q1", "text": "…", "metadata": {…}}               one per line
    qrels/test.tsv    query-id<TAB>corpus-id<TAB>score, after a header line

Usage::

    from polyvec.evaluation import load_beir, write_beir
    data = load_beir("datasets/manpages", split="test")
    len(data.corpus), len(data.queries), data.qrels["q1"]
    write_beir(data, "copy/", split="test")

``metadata`` is optional (BEIR files have none); a dataset built by polyvec also writes
``dataset.json`` (how it was built) beside the files, read back into ``info``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyvec.errors import InputError

__all__ = ["BeirDataset", "CorpusDoc", "list_splits", "load_beir", "write_beir"]


@dataclass(frozen=True)
class CorpusDoc:
    """One corpus document: id, title, text and optional metadata."""

    id: str
    text: str
    title: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """What gets indexed: ``title`` and ``text`` separated by a blank line (the usual
        BEIR practice), or the text alone when there is no title."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text


@dataclass
class BeirDataset:
    """A corpus, queries and graded relevance judgements (``qrels[qid][doc_id] = grade``).

    ``queries`` holds only queries that have judgements in the loaded split.
    """

    corpus: dict[str, CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    name: str = "dataset"
    split: str = "test"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing_q = sorted(set(self.qrels) - set(self.queries))
        if missing_q:
            raise InputError(
                f"{len(missing_q)} judged query id(s) have no text in queries, e.g. "
                f"{missing_q[0]!r}: the files do not belong together"
            )
        unknown = sorted({d for rel in self.qrels.values() for d in rel} - set(self.corpus))
        if unknown:
            raise InputError(
                f"{len(unknown)} judged document id(s) are not in the corpus, e.g. "
                f"{unknown[0]!r}: the files do not belong together"
            )

    def subset(self, query_ids: Iterable[str]) -> BeirDataset:
        """The same corpus with only the given queries (in the given order)."""
        ids = [q for q in query_ids if q in self.qrels]
        return BeirDataset(
            self.corpus,
            {q: self.queries[q] for q in ids},
            {q: self.qrels[q] for q in ids},
            self.name,
            self.split,
            dict(self.info),
        )

    def sample(self, n: int | None) -> BeirDataset:
        """The first ``n`` queries in id order (deterministic; ``None``: all)."""
        if n is None or n >= len(self.qrels):
            return self
        return self.subset(sorted(self.qrels)[:n])

    def summary(self) -> str:
        n_rel = sum(len(r) for r in self.qrels.values())
        return (
            f"{self.name} [{self.split}]: {len(self.corpus)} documents, "
            f"{len(self.queries)} queries, {n_rel} judgements"
        )


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno} is not valid JSON: {exc}") from exc
            if not isinstance(row, dict) or "_id" not in row:
                raise InputError(f"{path}:{lineno} has no '_id' field")
            yield row


def list_splits(path: str | os.PathLike[str]) -> list[str]:
    """The splits a dataset directory has (``qrels/*.tsv``), sorted."""
    return sorted(p.stem for p in (Path(path) / "qrels").glob("*.tsv"))


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for lineno, row in enumerate(reader, 1):
            if not row or (lineno == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            if len(row) < 3:
                raise InputError(f"{path}:{lineno}: expected query-id, corpus-id, score")
            qid, did, score = row[0], row[1], row[-1]
            try:
                grade = int(score)
            except ValueError as exc:
                raise InputError(f"{path}:{lineno}: score {score!r} is not an integer") from exc
            if grade > 0:  # BEIR convention: only positive grades count as relevant
                qrels.setdefault(qid, {})[did] = grade
    return qrels


def load_beir(path: str | os.PathLike[str], split: str = "test") -> BeirDataset:
    """Load a BEIR-format directory; only queries judged in ``split`` are kept."""
    root = Path(path)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (root / name).is_file():
            raise InputError(f"{root} is not a BEIR dataset: {name} is missing")
    qrels_file = root / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        have = ", ".join(list_splits(root)) or "none"
        raise InputError(f"{root} has no split {split!r} (qrels/{split}.tsv); splits: {have}")
    corpus = {
        str(r["_id"]): CorpusDoc(
            str(r["_id"]),
            str(r.get("text", "")),
            str(r.get("title") or ""),
            r.get("metadata") or {},
        )
        for r in _read_jsonl(root / "corpus.jsonl")
    }
    qrels = _read_qrels(qrels_file)
    queries = {
        str(r["_id"]): str(r["text"])
        for r in _read_jsonl(root / "queries.jsonl")
        if str(r["_id"]) in qrels
    }
    info_file = root / "dataset.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    return BeirDataset(corpus, queries, qrels, info.get("name", root.name), split, info)


def write_beir(
    dataset: BeirDataset,
    path: str | os.PathLike[str],
    *,
    splits: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    all_queries: Mapping[str, str] | None = None,
) -> Path:
    """Write ``dataset`` as a BEIR directory (created if needed); returns its path.

    ``splits`` writes several qrels files at once (``{"dev": qrels, "test": qrels}``;
    default: the dataset's own split), with ``all_queries`` holding every split's query
    texts (default: the dataset's). ``dataset.info`` goes to ``dataset.json``. Rows are
    written in sorted id order, so the same dataset always gives the same bytes.
    """
    root = Path(path)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for did in sorted(dataset.corpus):
            doc = dataset.corpus[did]
            row: dict[str, Any] = {"_id": doc.id, "title": doc.title, "text": doc.text}
            if doc.metadata:
                row["metadata"] = dict(doc.metadata)
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    queries = all_queries if all_queries is not None else dataset.queries
    with (root / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid in sorted(queries):
            fh.write(json.dumps({"_id": qid, "text": queries[qid]}, ensure_ascii=False) + "\n")
    for split, qrels in (splits or {dataset.split: dataset.qrels}).items():
        with (root / "qrels" / f"{split}.tsv").open("w", encoding="utf-8", newline="") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for qid in sorted(qrels):
                for did in sorted(qrels[qid]):
                    fh.write(f"{qid}\t{did}\t{int(qrels[qid][did])}\n")
    if dataset.info:
        (root / "dataset.json").write_text(
            json.dumps(dataset.info, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
            encoding="utf-8",
        )
    return root

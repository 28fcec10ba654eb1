"""The harness without an engine: units, searchers, timing, specs, reports, PRF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyvec.errors import ConfigurationError
from polyvec.evaluation import BeirDataset, CorpusDoc, IngestOptions, RunResult, units
from polyvec.evaluation.report import EvalReport, markdown_table
from polyvec.evaluation.runner import QueryEmbedderSplit, doc_ids, time_searchers
from polyvec.evaluation.specs import build_config, parse_spec
from polyvec.fusion import DBSF, RRF, Convex
from polyvec.multiquery import PseudoRelevanceGenerator
from polyvec.retriever import RetrieverConfig
from polyvec.types import Document, Hit

LONG = " ".join(f"w{i}" for i in range(400))


def _data() -> BeirDataset:
    corpus = {
        "a": CorpusDoc("a", LONG, "Title A"),
        "b": CorpusDoc("b", "short text about b"),
    }
    return BeirDataset(
        corpus, {"q1": "find a", "q2": "find b"}, {"q1": {"a": 1}, "q2": {"b": 1}}, "toy"
    )


def test_units_chunks_and_truncate() -> None:
    chunks = units(_data(), IngestOptions("chunks", chunk_size=180, chunk_overlap=30))
    ids = [u.id for u in chunks]
    assert ids[-1] == "b#0" and ids[:-1] == [f"a#{i}" for i in range(len(ids) - 1)]
    assert len(ids) >= 4  # 402 words in chunks of 180 tokens with 30 overlap
    assert {u.metadata["doc_id"] for u in chunks} == {"a", "b"}
    assert chunks[0].text.startswith("Title A")
    whole = units(_data())  # truncate is the default
    assert [u.id for u in whole] == ["a", "b"]
    assert whole[0].text == "Title A\n\n" + LONG
    assert IngestOptions().label() == "truncate"
    assert IngestOptions("chunks").label() == "chunks250/32"


def test_doc_ids_aggregate_by_first_occurrence() -> None:
    hits = [
        Hit(Document("a#2", "", {"doc_id": "a"}), 0.9, "cosine"),
        Hit(Document("b#0", "", {"doc_id": "b"}), 0.8, "cosine"),
        Hit(Document("a#0", "", {"doc_id": "a"}), 0.7, "cosine"),
        Hit(Document(7, ""), 0.1, "cosine"),
    ]
    assert doc_ids(hits) == ["a", "b", "a", "7"]


pytest.importorskip("ranx")


def test_run_searcher_max_over_chunks_and_depth() -> None:
    from polyvec.evaluation import run_searcher

    def search(query: str) -> list[str]:
        return ["b", "a", "b", "a"] if query == "find a" else ["b"]

    result = run_searcher("toy", search, _data(), depth=1)
    assert result.run["q1"] == {"b": 1.0}  # depth 1: only the best document
    assert result.metrics["recall@10"] == 0.5
    result = run_searcher("toy", search, _data())
    assert list(result.run["q1"]) == ["b", "a"]
    assert result.metrics["mrr@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert len(result.latencies) == 2 and result.p50_ms >= 0
    assert result.as_dict()["queries"] == 2


def test_time_searchers_interleaves() -> None:
    calls: list[str] = []
    searchers = {
        "x": lambda q: calls.append("x" + q) or [],
        "y": lambda q: calls.append("y" + q) or [],
    }
    times = time_searchers(searchers, ["1", "2"], warmup=0)
    assert calls == ["x1", "y1", "x2", "y2"]
    assert [len(v) for v in times.values()] == [2, 2]


def test_query_embedder_split() -> None:
    class Const:
        def __init__(self, value: float) -> None:
            self.value = value
            self.name, self.dimension = f"c{value}", 2

        def embed_documents(self, texts: list[str]) -> np.ndarray:
            return np.full((len(texts), 2), self.value, dtype=np.float32)

        embed_queries = embed_documents

    split = QueryEmbedderSplit(Const(1.0), Const(2.0))
    assert split.name == "c1.0" and split.dimension == 2
    assert split.embed_documents(["a"])[0, 0] == 1.0
    assert split.embed_queries(["a"])[0, 0] == 2.0


def test_specs() -> None:
    assert build_config(parse_spec("bm25")).mode == "sparse"
    assert build_config(parse_spec("dense")).mode == "dense"
    hybrid = build_config(parse_spec("hybrid"))
    assert hybrid.mode == "hybrid" and hybrid.fusion == RetrieverConfig().fusion == DBSF()
    assert build_config(parse_spec("rrf")).fusion == RRF()
    assert build_config(parse_spec("rrf:k=20")).fusion == RRF(k=20)
    for misplaced in ("hybrid:k=20", "dbsf:k=5", "rrf:alpha=0.3", "hybrid:alpha=0.7"):
        with pytest.raises(ConfigurationError, match="belongs to"):
            build_config(parse_spec(misplaced))
    assert build_config(parse_spec("dbsf")).fusion == DBSF()
    assert build_config(parse_spec("convex:alpha=0.3")).fusion == Convex(0.3)
    mmr = build_config(parse_spec("hybrid:mmr=0.7,fetch_k=30")).mmr
    assert mmr is not None and (mmr.lambda_mult, mmr.fetch_k) == (0.7, 30)
    prf = build_config(parse_spec("hybrid:prf=2"), feedback=lambda q, n: ["x y z"])
    assert prf.n_variants == 2 and isinstance(prf.multi_query, PseudoRelevanceGenerator)
    assert parse_spec("hybrid:rerank=m,queries=5").query_limit == 5
    assert parse_spec("convex:alpha=0.3").name == "convex:alpha=0.3"
    with pytest.raises(ConfigurationError, match="unknown configuration"):
        parse_spec("bogus")
    with pytest.raises(ConfigurationError, match="bad option"):
        parse_spec("hybrid:nope=1")
    with pytest.raises(ConfigurationError, match="prf needs"):
        build_config(parse_spec("hybrid:prf=1"))


def test_report_outputs(tmp_path: Path) -> None:
    result = RunResult("hybrid", {"q1": {"a": 1.0}}, [0.01, 0.03], {"ndcg@10": 0.5})
    table = markdown_table([result], ["ndcg@10"])
    assert "| hybrid | 0.500 | 1 | 20.0 | 30.0 |" in table
    report = EvalReport("toy [test]", {"backend": "x"}, [result], ("ndcg@10",))
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    assert data["results"][0]["metrics"] == {"ndcg@10": 0.5}
    pytest.importorskip("matplotlib")
    png = report.plot(tmp_path / "r.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_prf_generator() -> None:
    texts = ["gzip compresses files with Lempel-Ziv coding 1999", "zip archives compress"]
    seen: list[tuple[str, int]] = []

    def search(q: str, n: int) -> list[str]:
        seen.append((q, n))
        return texts[:n]

    gen = PseudoRelevanceGenerator(search, docs=2, terms=2)
    variants = gen.generate("compress files", 2)
    assert seen == [("compress files", 2)]
    assert len(variants) == 2 and all(v.startswith("compress files ") for v in variants)
    extra = " ".join(v.removeprefix("compress files ") for v in variants).split()
    assert "compresses" not in extra and "1999" not in extra  # query stems, numbers
    assert gen.generate("compress files", 0) == []
    # idf reorders the terms
    idf = {"gzip": 10.0}
    ranked = PseudoRelevanceGenerator(search, docs=2, terms=1, idf=lambda t: idf.get(t, 1.0))
    assert ranked.expansion_terms("compress files", 1) == ["gzip"]
    with pytest.raises(ConfigurationError):
        PseudoRelevanceGenerator(search, docs=0)

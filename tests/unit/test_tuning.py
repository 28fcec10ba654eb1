"""Leg sets, document scoring and label-free tuning on a real (in-process) engine."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from polyvec import connect
from polyvec.errors import ConfigurationError, InputError
from polyvec.evaluation.legs import LegSet, Method, rank_documents, score_methods
from polyvec.fusion import DBSF, RRF, Convex
from polyvec.retriever import RetrieverConfig
from polyvec.tuning import candidate_methods, draw_pseudo_queries, fusion_spec, pseudo_legs, tune
from polyvec.tuning.cli import read_labels, search_options
from polyvec.tuning.pseudo import PseudoQuery, make_queries
from polyvec.tuning.tune import choose
from polyvec.types import Document
from tests.transfer.data import HashEmbedder

pytest.importorskip("ranx")

TOPICS = {
    "tar": "archive files into one tape archive and extract them again later on",
    "gzip": "compress or expand files with the deflate algorithm and keep the name",
    "ls": "list directory contents sorted by name with sizes and modes of each file",
    "cp": "copy files and directories from a source path to a destination path",
    "kill": "send a signal to a process by its identifier or terminate the process",
    "ping": "send echo requests to network hosts and report the round trip times",
}


def _docs(chunks: bool = False) -> list[Document]:
    rng = random.Random(3)
    out = []
    for name, topic in TOPICS.items():
        words = topic.split()
        body = [" ".join(rng.sample(words, len(words))) for _ in range(6)]
        text = f"{topic}. " + ". ".join(body) + "."
        if chunks:
            half = len(text) // 2
            for i, part in enumerate((text[:half], text[half:])):
                meta = {"doc_id": name, "title": f"{name} command manual"}
                out.append(Document(f"{name}#{i}", part, meta))
        else:
            out.append(Document(name, text, {"title": f"{name} command manual"}))
    return out


@pytest.fixture
def coll():  # type: ignore[no-untyped-def]
    c = connect("qdrant+memory://", collection="tune", embedder=HashEmbedder())
    c.add(_docs())
    yield c
    c.close()


QUERIES = {"q1": "compress files", "q2": "list the directory", "q3": "signal a process"}
QRELS = {"q1": {"gzip": 1}, "q2": {"ls": 1}, "q3": {"kill": 1}}


def test_legset_fusion_equals_the_retriever(coll) -> None:  # type: ignore[no-untyped-def]
    legs = LegSet.collect(coll, QUERIES, depth=6)
    for fusion in (DBSF(), Convex(0.3), RRF(k=10, weights=(0.7, 0.3))):
        method = Method("m", fusion=fusion, candidates=4)
        retriever = coll.retriever(RetrieverConfig(fusion=fusion, candidates=4))
        for qid, text in QUERIES.items():
            expected = [str(h.id) for h in retriever.search(text, k=4)]
            assert rank_documents(legs, qid, method, depth=4) == expected
    dense = Method("dense", legs=("dense",), candidates=6)
    got = rank_documents(legs, "q1", dense)
    assert got == [str(h.id) for h in coll.retriever(RetrieverConfig(mode="dense")).search(
        QUERIES["q1"], k=6)]  # fmt: skip
    with pytest.raises(ConfigurationError, match="searched 6 deep"):
        rank_documents(legs, "q1", Method("deep", fusion=DBSF(), candidates=50))


def test_legset_round_trips_through_a_file(coll, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    legs = LegSet.collect(coll, QUERIES, depth=5)
    legs.save(tmp_path / "legs.json.gz")
    back = LegSet.load(tmp_path / "legs.json.gz")
    assert back.legs == legs.legs and back.kinds == legs.kinds and back.depth == 5
    a = score_methods(legs, QRELS, [Method("d", fusion=DBSF(), candidates=5)])
    b = score_methods(back, QRELS, [Method("d", fusion=DBSF(), candidates=5)])
    assert a[0].metrics == b[0].metrics


def _hand_legs(
    dense: list[tuple[str, float]] | None = None, sparse: list[tuple[str, float]] | None = None
) -> LegSet:
    # chunks a#0 a#1 a#2 (doc a), b#0 (doc b), c#0 (doc c)
    dense = dense or [("a#0", 0.9), ("b#0", 0.8), ("a#1", 0.3), ("a#2", 0.2), ("c#0", 0.1)]
    sparse = sparse or [("a#1", 9.0), ("c#0", 8.0), ("b#0", 1.0)]
    doc_of = {f"a#{i}": "a" for i in range(3)} | {"b#0": "b", "c#0": "c"}
    return LegSet(5, {"dense": {"q": dense}, "sparse": {"q": sparse}},
                  {"dense": "cosine", "sparse": "bm25"}, doc_of)  # fmt: skip


def test_document_scoring_max_mean_grouped() -> None:
    rrf = RRF(k=1)
    # a's three chunks fill the dense leg's top: chunk-level fusion pushes c and b down
    # there; grouped by document first, a counts once per leg
    legs = _hand_legs(
        [("a#0", 0.9), ("a#1", 0.85), ("a#2", 0.8), ("c#0", 0.5), ("b#0", 0.45)],
        [("b#0", 9.0), ("c#0", 8.5), ("a#2", 1.0)],
    )
    assert rank_documents(legs, "q", Method("max", fusion=rrf, candidates=5)) == ["b", "c", "a"]
    grouped = Method("g", fusion=rrf, candidates=5, scoring="grouped")
    assert rank_documents(legs, "q", grouped) == ["a", "b", "c"]  # a ties b: seen first
    # max: a ranks at its best chunk; mean: a's weak third chunk drags it below b and c
    legs = _hand_legs()
    assert rank_documents(legs, "q", Method("max", fusion=rrf, candidates=5))[0] == "a"
    mean = rank_documents(legs, "q", Method("mean", fusion=rrf, candidates=5, scoring="mean"))
    assert mean[-1] == "a"
    with pytest.raises(ConfigurationError, match="need a fusion"):
        Method("x", legs=("dense", "sparse"))


def test_make_queries_kinds() -> None:
    doc = Document("d#3", "Short. This is the first real sentence here. More" + " w" * 60,
                   {"doc_id": "d", "title": "The d manual"})  # fmt: skip
    qs = {q.kind: q for q in make_queries(doc, random.Random(1))}
    assert qs["title"].text == "The d manual"
    assert qs["sentence"].text == "This is the first real sentence here."
    assert len(qs["span"].text.split()) in range(6, 15)
    assert {q.document for q in qs.values()} == {"d"} and qs["span"].unit == "d#3"
    assert make_queries(Document("x", "too short"), random.Random(0)) == []


def test_draw_pseudo_queries_is_seeded(coll) -> None:  # type: ignore[no-untyped-def]
    a = draw_pseudo_queries(coll, 3, seed=7)
    assert a == draw_pseudo_queries(coll, 3, seed=7)
    assert len({q.unit for q in a}) == 3
    empty = connect("qdrant+memory://", collection="empty", embedder=HashEmbedder())
    with pytest.raises(InputError, match="empty"):
        draw_pseudo_queries(empty, 3)


def test_pseudo_legs_leave_the_span_out() -> None:
    docs = _docs(chunks=False)
    source = docs[1]  # gzip
    span = "compress or expand files with the deflate algorithm"
    assert span in source.text
    coll = connect("qdrant+memory://", collection="full", embedder=HashEmbedder())
    coll.add(docs)
    query = PseudoQuery("span:gzip", span, "span", "gzip", "gzip")
    legs, qrels = pseudo_legs(coll, [query], depth=6)
    assert qrels == {"span:gzip": {"gzip": 1}}
    # the same collection with the span removed from that document, as a reference
    cut = " ".join(source.text.split()).replace(span, " ")
    ref = connect("qdrant+memory://", collection="cut", embedder=HashEmbedder())
    ref.add([d if d.id != "gzip" else Document("gzip", cut, d.metadata) for d in docs])
    dense = dict(legs.legs["dense"]["span:gzip"])
    ref_dense = {str(h.id): h.score for h in ref.retriever(RetrieverConfig(mode="dense")).search(
        span, k=6)}  # fmt: skip
    assert dense["gzip"] == pytest.approx(ref_dense["gzip"], abs=1e-5)
    full_dense = {str(h.id): h.score for h in coll.retriever(RetrieverConfig(mode="dense")).search(
        span, k=6)}  # fmt: skip
    assert full_dense["gzip"] > dense["gzip"]  # the verbatim match is gone
    for unit in full_dense.keys() - {"gzip"}:
        assert dense[unit] == pytest.approx(full_dense[unit])
    sparse = dict(legs.legs["sparse"]["span:gzip"])
    ref_sparse = {str(h.id): h.score for h in ref.retriever(RetrieverConfig(mode="sparse")).search(
        span, k=6)}  # fmt: skip
    # the reference's corpus statistics differ a little (the span's words left it)
    assert sparse.get("gzip", 0.0) == pytest.approx(ref_sparse.get("gzip", 0.0), rel=0.15)
    assert [d for d, _ in legs.legs["dense"]["span:gzip"]] == sorted(dense, key=lambda u: -dense[u])


def test_choose_keeps_the_default_unless_clearly_beaten() -> None:
    legs = _hand_legs()
    qrels = {"q": {"c": 1}}
    default = Method("default", fusion=DBSF(), candidates=5)
    better = Method("sparse-heavy", fusion=DBSF(weights=(0.1, 0.9)), candidates=5)
    chosen, scores, base = choose(legs, qrels, [better], default=default)
    assert scores["sparse-heavy"] > base
    assert chosen is default  # one query: no standard error to beat it by
    many = LegSet(5, {leg: {f"q{i}": v["q"] for i in range(20)} for leg, v in legs.legs.items()},
                  legs.kinds, legs.doc_of)  # fmt: skip
    chosen, _, _ = choose(many, {f"q{i}": {"c": 1} for i in range(20)}, [better], default=default)
    assert chosen is better


def test_tune_with_labels_and_without(coll) -> None:  # type: ignore[no-untyped-def]
    grid = {"dbsf_dense_weight": (0.5,), "convex_alpha": (0.3, 0.7), "rrf_k": (60.0,),
            "rrf_dense_weight": (0.5,), "candidates": (4, 6)}  # fmt: skip
    labelled = tune(coll, {QUERIES[q]: QRELS[q] for q in QUERIES}, grid=grid)
    assert labelled.source == "labels" and labelled.queries == 3
    assert set(labelled.scores) == {m.name for m in candidate_methods(grid)}
    assert labelled.chosen in {*labelled.scores, "default"}
    free = tune(coll, queries=6, grid=grid, seed=1)
    assert free.source == "pseudo" and free.queries >= 6
    assert "(chosen)" in free.table() or free.chosen == "default"
    assert json.loads(json.dumps(free.as_dict()))["source"] == "pseudo"
    with pytest.raises(InputError, match="no document relevant"):
        tune(coll, {"q": {"gzip": 0}}, grid=grid)


def test_fusion_spec_and_search_options() -> None:
    assert fusion_spec(RRF(k=10, weights=(0.7, 0.3)), 20) == "rrf k=10 w=0.7 c=20"
    cfg = RetrieverConfig(fusion=DBSF(weights=(0.6, 0.4)), candidates=100)
    assert search_options(cfg) == "--fusion dbsf --dense-weight 0.6 --candidates 100"
    assert search_options(RetrieverConfig(fusion=Convex(0.7))) == "--fusion convex --alpha 0.7"
    assert len(candidate_methods()) == 4 * (7 + 9 + 9)


def test_read_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"query": "a", "relevant": ["x", 7]}\n\n{"query": "b", "relevant": {"y": 2}}\n'
    )
    assert read_labels(path) == {"a": {"x": 1, "7": 1}, "b": {"y": 2}}
    path.write_text('{"query": "a"}\n')
    with pytest.raises(InputError, match=r"labels\.jsonl:1"):
        read_labels(path)
    path.write_text("")
    with pytest.raises(InputError, match="no labelled query"):
        read_labels(path)


def test_cli_tune_prints_a_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import polyvec.embeddings as emb
    from polyvec.cli import main

    url = f"qdrant-edge://{tmp_path / 'store'}"
    with connect(url, collection="docs", embedder=HashEmbedder()) as c:
        c.add(_docs(chunks=True))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(
        json.dumps({"query": QUERIES[q], "relevant": list(QRELS[q])}) + "\n" for q in QUERIES))  # fmt: skip
    monkeypatch.setattr(emb, "default_embedder", HashEmbedder)  # the store's embedder
    code = main(["tune", "--url", url, "--collection", "docs", "--labels", str(labels),
                 "--json", str(tmp_path / "out.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "chosen:" in out and "polyvec search QUERY --fusion" in out
    assert json.loads((tmp_path / "out.json").read_text())["queries"] == 3
    assert np.isfinite(json.loads((tmp_path / "out.json").read_text())["default_score"])

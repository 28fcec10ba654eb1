from __future__ import annotations

from polyvec import Document, Hit
from polyvec.chunking import chunk_document
from polyvec.grouping import group_hits, passage


def _hit(doc: Document, score: float) -> Hit:
    return Hit(doc, score, "dbsf")


def test_k_counts_groups_and_each_group_keeps_its_best_hits():
    hits = [
        _hit(Document("a#2", "a2", {"doc_id": "a", "chunk": 2}), 0.9),
        _hit(Document("a#0", "a0", {"doc_id": "a", "chunk": 0}), 0.8),
        _hit(Document("b#0", "b0", {"doc_id": "b", "chunk": 0}), 0.7),
        _hit(Document("a#1", "a1", {"doc_id": "a", "chunk": 1}), 0.6),
        _hit(Document("a#3", "a3", {"doc_id": "a", "chunk": 3}), 0.5),
        _hit(Document("c#0", "c0", {"doc_id": "c", "chunk": 0}), 0.4),
        _hit(Document(7, "no doc id"), 0.3),
    ]
    groups = group_hits(hits, "doc_id", k=2, size=3)
    assert [g.id for g in groups] == ["a#2", "b#0"]
    assert [h.id for h in groups[0].group] == ["a#0", "a#1"]  # size 3: best three of a
    assert groups[1].group == ()
    everything = group_hits(hits, "doc_id", k=10, size=1)
    assert [g.id for g in everything] == ["a#2", "b#0", "c#0", 7]  # no field: own group


def test_identical_texts_are_dropped_by_default():
    hits = [
        _hit(Document("bzip2#0", "compress files", {"doc_id": "bzip2"}), 0.9),
        _hit(Document("bunzip2#0", "compress files", {"doc_id": "bunzip2"}), 0.9),
        _hit(Document("gzip#0", "gzip compresses", {"doc_id": "gzip"}), 0.5),
    ]
    assert [g.id for g in group_hits(hits, "doc_id", 3)] == ["bzip2#0", "gzip#0"]
    assert len(group_hits(hits, "doc_id", 3, dedup=False)) == 3


def test_nested_and_list_fields_group():
    hits = [
        _hit(Document(1, "x", {"src": {"file": "f"}}), 0.9),
        _hit(Document(2, "y", {"src": {"file": "f"}}), 0.8),
        _hit(Document(3, "z", {"src": {"file": 1}}), 0.7),  # 1 is not "1"
        _hit(Document(4, "w", {"src": {"file": "1"}}), 0.6),
    ]
    assert [g.id for g in group_hits(hits, "src.file", 5)] == [1, 3, 4]


def test_passage_merges_overlapping_chunks_in_document_order():
    text = " ".join(f"w{i}" for i in range(100))
    chunks = list(chunk_document("d", text, size=30, overlap=8))
    assert len(chunks) >= 3
    best, *rest = [_hit(c, 1.0 - i / 10) for i, c in enumerate(reversed(chunks))]
    merged = passage(Hit(best.document, 1.0, "dbsf", group=tuple(h for h in rest)))
    assert merged == text  # every chunk, overlaps joined, nothing repeated
    # chunks 0 and 2 only: a gap marked by the separator
    gap = passage(Hit(chunks[2], 1.0, "dbsf", group=(_hit(chunks[0], 0.5),)))
    assert gap == chunks[0].text + "\n…\n" + chunks[2].text

"""Pseudo-queries drawn from a collection's own documents, for tuning without labels.

A stored unit (document or chunk) is sampled, and a short text is taken from it as a
query — its title, its first sentence, or a span of words from inside it — with its
document as the one relevant answer. Taken alone this is too easy: the query is in
the answer word for word, so BM25 would always find it and tuning would learn to trust
BM25. The span is therefore **left out** of the index for that query: every candidate
unit whose text contains the span (the source, and a neighbouring chunk that shares
it through overlap) is scored again — dense and BM25 — on its text *without* the span
and moved to where that score ranks it in each leg (or out, below the leg's depth).
The other candidates keep the scores the engine gave them. This is the inverse cloze
task (Lee et al., 2019) applied to evaluation: what is left to match is the context
around the removed text, as for a real query.

::

    from polyvec.tuning.pseudo import draw_pseudo_queries, pseudo_legs

    queries = draw_pseudo_queries(collection, n=300, seed=0)
    legs, qrels = pseudo_legs(collection, queries, depth=200)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from polyvec.collection import Collection
from polyvec.errors import EmptyQueryError, InputError
from polyvec.evaluation.legs import LegSet, leg_kinds
from polyvec.similarity import similarities
from polyvec.sparse.stats import CorpusStats
from polyvec.types import Document, Hit

__all__ = [
    "QUERY_KINDS",
    "PseudoQuery",
    "QueryKind",
    "draw_pseudo_queries",
    "make_queries",
    "pseudo_legs",
]

QueryKind = Literal["title", "sentence", "span"]
QUERY_KINDS: tuple[QueryKind, ...] = ("title", "sentence", "span")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class PseudoQuery:
    """A query taken from a stored unit: its text, its kind, the unit it came from and
    the document that counts as its answer (``metadata["doc_id"]``, else the unit)."""

    id: str
    text: str
    kind: QueryKind
    unit: str
    document: str


def _words(text: str) -> list[str]:
    return text.split()


def make_queries(
    doc: Document,
    rng: random.Random,
    *,
    kinds: Sequence[QueryKind] = QUERY_KINDS,
    title_field: str = "title",
    span_words: tuple[int, int] = (6, 14),
) -> list[PseudoQuery]:
    """The pseudo-queries one stored unit gives: at most one of each kind in ``kinds``.

    * ``title``: ``metadata[title_field]`` when it has 2 to 20 words;
    * ``sentence``: the first sentence of 4 to 30 words;
    * ``span``: ``span_words`` consecutive words from a random place, when the unit has
      at least three times as many words (so that context is left around it).

    >>> import random
    >>> doc = Document("d1", "Intro line here. The quick brown fox jumps over the lazy dog.")
    >>> [(q.kind, q.text) for q in make_queries(doc, random.Random(0), kinds=["sentence"])]
    [('sentence', 'The quick brown fox jumps over the lazy dog.')]
    """
    unit = str(doc.id)
    document = str(doc.metadata.get("doc_id", unit))
    text = " ".join(doc.text.split())
    out: list[PseudoQuery] = []
    for kind in kinds:
        query: str | None = None
        if kind == "title":
            title = doc.metadata.get(title_field)
            if isinstance(title, str) and 2 <= len(_words(title)) <= 20:
                query = " ".join(title.split())
        elif kind == "sentence":
            query = next((s for s in _SENTENCE.split(text) if 4 <= len(_words(s)) <= 30), None)
        else:
            words = _words(text)
            size = rng.randint(*span_words)
            if len(words) >= 3 * size:
                start = rng.randrange(0, len(words) - size + 1)
                query = " ".join(words[start : start + size])
        if query:
            out.append(PseudoQuery(f"{kind}:{unit}", query, kind, unit, document))
    return out


def draw_pseudo_queries(
    collection: Collection,
    n: int = 300,
    *,
    seed: int = 0,
    kinds: Sequence[QueryKind] = QUERY_KINDS,
    title_field: str = "title",
    batch_size: int = 1024,
) -> list[PseudoQuery]:
    """Sample ``n`` stored units uniformly (one pass over the collection, reservoir
    sampling with ``seed``) and make each one's pseudo-queries (:func:`make_queries`).
    Raises ``InputError`` for an empty collection."""
    rng = random.Random(seed)
    sample: list[Document] = []
    seen = 0
    for batch in collection.scroll(batch_size=batch_size):
        for doc in batch:
            seen += 1
            if len(sample) < n:
                sample.append(doc)
            else:
                j = rng.randrange(seen)
                if j < n:
                    sample[j] = doc
    if not sample:
        raise InputError(f"collection {collection.name!r} is empty: nothing to tune on")
    sample.sort(key=lambda d: str(d.id))
    return [
        q for doc in sample for q in make_queries(doc, rng, kinds=kinds, title_field=title_field)
    ]


def _idf_stats(collection: Collection, batch_size: int) -> CorpusStats:
    """Document frequencies for query IDF: the collection's own, or counted here when the
    engine keeps IDF itself (one pass over the stored texts)."""
    if collection.stats.track_df:
        return collection.stats
    stats = CorpusStats()
    for batch in collection.scroll(batch_size=batch_size):
        stats.add_many(collection.bm25.term_counts_many(d.text for d in batch))
    return stats


def _dense_scores(collection: Collection, query: np.ndarray, texts: Sequence[str]) -> list[float]:
    docs = collection.embedder.embed_documents(list(texts))
    return [float(v) for v in similarities(collection.spec.distance, query, docs)]


def _reinsert(hits: list[Hit], changed: Mapping[str, float], depth: int) -> list[tuple[str, float]]:
    """The leg with ``changed`` units moved to their new scores (dropped when they fall
    below a full leg's last score)."""
    kept = [(str(h.id), float(h.score)) for h in hits if str(h.id) not in changed]
    floor = kept[-1][1] if len(hits) >= depth and kept else float("-inf")
    for unit, score in changed.items():
        if score >= floor:
            kept.append((unit, score))
    kept.sort(key=lambda t: -t[1])
    return kept[:depth]


def pseudo_legs(
    collection: Collection,
    queries: Sequence[PseudoQuery],
    depth: int = 200,
    *,
    batch_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[LegSet, dict[str, dict[str, int]]]:
    """Search both legs of every pseudo-query ``depth`` deep, leave its text out of the
    units that contain it (see the module docstring), and return the legs with the
    judgements (``{query id: {document: 1}}``). Queries whose BM25 encoding is empty
    are skipped."""
    backend, name = collection.backend, collection.name
    stats = _idf_stats(collection, batch_size)
    vectors = collection.embed_queries([q.text for q in queries])
    dense_legs: dict[str, list[tuple[str, float]]] = {}
    sparse_legs: dict[str, list[tuple[str, float]]] = {}
    doc_of: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, (query, vec) in enumerate(zip(queries, vectors)):
        try:
            qsparse = collection.bm25.encode_query(query.text, stats)
        except EmptyQueryError:
            continue
        engine_q = collection.encode_query_sparse(query.text)
        dense = backend.search_dense(name, vec, depth, None)
        sparse = backend.search_sparse(name, engine_q, depth, None)
        texts: dict[str, str] = {}
        for h in (*dense, *sparse):
            unit = str(h.id)
            doc_of.setdefault(unit, str(h.document.metadata.get("doc_id", unit)))
            texts.setdefault(unit, " ".join(h.document.text.split()))
        holders = {u: t.replace(query.text, " ") for u, t in texts.items() if query.text in t}
        new_dense = dict(zip(holders, _dense_scores(collection, vec, list(holders.values()))))
        new_sparse = {
            u: qsparse.dot(collection.bm25.encode_document(t, collection.stats))
            for u, t in holders.items()
        }
        dense_legs[query.id] = _reinsert(dense, new_dense, depth)
        sparse_legs[query.id] = _reinsert(sparse, new_sparse, depth)
        doc_of.setdefault(query.unit, query.document)
        qrels[query.id] = {query.document: 1}
        if progress is not None:
            progress(i + 1, len(queries))
    kinds = leg_kinds(collection)
    legs = LegSet(depth, {"dense": dense_legs, "sparse": sparse_legs}, kinds, doc_of)
    return legs, qrels

"""What both builders share: (description, document) pairs → a BEIR dataset.

The construction rules, applied in this order (see ``docs/benchmarks.md``):

1. documents whose text is identical after whitespace normalisation are one document
   (the first by id keeps it; e.g. a man page installed under two names);
2. a description (compared ignoring case, spacing and punctuation) that belongs to more
   than one distinct document is dropped as a query — its answer is ambiguous — but the
   documents stay in the corpus as distractors;
3. each remaining query has exactly one relevant document (grade 1);
4. the split is fixed by a hash of the document id: ``sha1(id) mod 5 == 0`` is ``dev``
   (20 %, for choosing parameters such as RRF's k or convex alpha), the rest ``test``.

>>> split_of("ls.1")
'test'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from polyvec.evaluation.beir import BeirDataset, CorpusDoc

__all__ = [
    "JudgedQuery",
    "RawPair",
    "assemble",
    "assemble_judged",
    "description_key",
    "split_of",
]

_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class RawPair:
    """One source unit: its id, title, the description (the query) and the body."""

    id: str
    title: str
    description: str
    body: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def split_of(doc_id: str, dev_every: int = 5) -> str:
    """``"dev"`` for one id in ``dev_every`` (by SHA-1), else ``"test"``."""
    digest = hashlib.sha1(doc_id.encode("utf-8")).digest()
    return "dev" if int.from_bytes(digest[:8], "big") % dev_every == 0 else "test"


def description_key(text: str) -> str:
    """A description compared ignoring case, spacing and punctuation.

    >>> description_key("List  directory contents.") == description_key("list directory CONTENTS")
    True
    """
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def _body_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()


def assemble(
    pairs: Iterable[RawPair], name: str, info: Mapping[str, Any]
) -> tuple[BeirDataset, dict[str, dict[str, dict[str, int]]], dict[str, str], dict[str, int]]:
    """Apply the rules above. Returns the dataset (its ``qrels``: the test split), the
    qrels of every split, every query's text, and counts of what each rule removed."""
    corpus: dict[str, CorpusDoc] = {}
    by_body: dict[str, str] = {}
    descriptions: dict[str, set[str]] = {}
    text_of: dict[str, str] = {}
    stats = {"pairs": 0, "duplicate_bodies": 0, "ambiguous_queries": 0}
    for pair in sorted(pairs, key=lambda p: p.id):
        stats["pairs"] += 1
        key = _body_key(pair.body)
        doc_id = by_body.get(key)
        if doc_id is None:
            doc_id = by_body[key] = pair.id
            corpus[doc_id] = CorpusDoc(doc_id, pair.body, pair.title, dict(pair.metadata))
        else:
            stats["duplicate_bodies"] += 1
        dkey = description_key(pair.description)
        if dkey:
            descriptions.setdefault(dkey, set()).add(doc_id)
            text_of.setdefault(dkey, pair.description.strip())
    splits: dict[str, dict[str, dict[str, int]]] = {"dev": {}, "test": {}}
    queries: dict[str, str] = {}
    for dkey, doc_ids in sorted(descriptions.items(), key=lambda kv: min(kv[1])):
        if len(doc_ids) > 1:
            stats["ambiguous_queries"] += len(doc_ids)
            continue
        (doc_id,) = doc_ids
        qid = f"q:{doc_id}"
        queries[qid] = text_of[dkey]
        splits[split_of(doc_id)][qid] = {doc_id: 1}
    stats.update(
        documents=len(corpus),
        queries=len(queries),
        dev_queries=len(splits["dev"]),
        test_queries=len(splits["test"]),
    )
    full_info = {**info, "name": name, "counts": dict(stats)}
    test = {q: splits["test"][q] for q in splits["test"]}
    dataset = BeirDataset(corpus, {q: queries[q] for q in test}, test, name, "test", full_info)
    return dataset, splits, queries, stats


@dataclass(frozen=True)
class JudgedQuery:
    """A query with graded judgements (``{doc id: grade}``, grades > 0), for builders
    whose queries have several relevant documents or share one document.
    ``split_key`` decides its split (:func:`split_of`)."""

    id: str
    text: str
    relevant: Mapping[str, int]
    split_key: str


def assemble_judged(
    docs: Iterable[CorpusDoc], queries: Iterable[JudgedQuery], name: str, info: Mapping[str, Any]
) -> tuple[BeirDataset, dict[str, dict[str, dict[str, int]]], dict[str, str], dict[str, int]]:
    """The rules of :func:`assemble` for graded, many-to-many judgements:

    1. documents with identical normalised text are one document (the first by id); the
       judgements of a merged document move to the one kept (the higher grade wins);
    2. a query text (compared with :func:`description_key`) that comes with different
       judgements from two sources is dropped (ambiguous); repeats with the same
       judgements are one query;
    3. judgements naming a document not in the corpus are dropped; a query left
       without any is dropped;
    4. ``split_of(query.split_key)`` assigns the split.

    Returns what :func:`assemble` returns."""
    corpus: dict[str, CorpusDoc] = {}
    by_body: dict[str, str] = {}
    alias: dict[str, str] = {}
    stats = {"duplicate_bodies": 0, "ambiguous_queries": 0, "unjudged_queries": 0}
    for doc in sorted(docs, key=lambda d: d.id):
        key = _body_key(doc.text)
        kept = by_body.setdefault(key, doc.id)
        alias[doc.id] = kept
        if kept == doc.id:
            corpus[doc.id] = doc
        else:
            stats["duplicate_bodies"] += 1
    grouped: dict[str, list[tuple[JudgedQuery, dict[str, int]]]] = {}
    for query in sorted(queries, key=lambda q: q.id):
        rel: dict[str, int] = {}
        for did, grade in query.relevant.items():
            target = alias.get(did)
            if target is not None and grade > 0:
                rel[target] = max(rel.get(target, 0), int(grade))
        dkey = description_key(query.text)
        if not rel or not dkey:
            stats["unjudged_queries"] += 1
            continue
        grouped.setdefault(dkey, []).append((query, rel))
    splits: dict[str, dict[str, dict[str, int]]] = {"dev": {}, "test": {}}
    texts: dict[str, str] = {}
    for _, group in sorted(grouped.items(), key=lambda kv: kv[1][0][0].id):
        if any(rel != group[0][1] for _, rel in group):
            stats["ambiguous_queries"] += len(group)
            continue
        query, rel = group[0]
        texts[query.id] = query.text.strip()
        splits[split_of(query.split_key)][query.id] = rel
    stats.update(
        documents=len(corpus),
        queries=len(texts),
        dev_queries=len(splits["dev"]),
        test_queries=len(splits["test"]),
        judgements=sum(len(r) for s in splits.values() for r in s.values()),
    )
    full_info = {**info, "name": name, "counts": dict(stats)}
    test = splits["test"]
    dataset = BeirDataset(corpus, {q: texts[q] for q in test}, test, name, "test", full_info)
    return dataset, splits, texts, stats

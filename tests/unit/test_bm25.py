"""BM25 parity with bm25s on real text: the Python standard library's docstrings.

The corpus is collected at test time with ``ast`` from the stdlib sources (no imports,
no side effects); the queries are the docstrings' first lines plus a few hand-written
ones. polyvec's scores are sparse dot products of its query and document vectors.
"""

from __future__ import annotations

import ast
import sysconfig
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from polyvec.sparse import BM25, ENGLISH_STOPWORDS, CorpusStats, token_id
from polyvec.types import SparseVector

bm25s = pytest.importorskip("bm25s")
Stemmer = pytest.importorskip("Stemmer")

N_TEXTS = 600
HANDWRITTEN = [
    "parse command line arguments",
    "compress data with gzip",
    "thread lock lock acquire",  # a repeated query token
    "Return the absolute path of a file",
    "decode base64 encoded bytes",
    "calendar month names",
    "asynchronous coroutine event loop",
    "CSV reader dialect quoting",
]


def _stdlib_docstrings(limit: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for path in sorted(root.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 80:
                    texts.append(doc)
        if len(texts) >= limit:
            return texts[:limit]
    return texts


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    texts = _stdlib_docstrings(N_TEXTS)
    if len(texts) < 300:
        pytest.skip(f"only {len(texts)} stdlib docstrings found")
    return texts


@pytest.fixture(scope="module")
def queries(corpus: list[str]) -> list[str]:
    firsts = [t.strip().splitlines()[0] for t in corpus[::4]]
    bm25 = BM25()
    usable = [q for q in firsts if bm25.tokenize(q)]
    return usable + HANDWRITTEN


def _our_scores(query: SparseVector, docs: Sequence[dict[int, float]]) -> np.ndarray:
    pairs = list(zip(query.indices, query.values))
    return np.array([sum(v * d.get(t, 0.0) for t, v in pairs) for d in docs])


def _assert_same_top(ours: np.ndarray, theirs: np.ndarray, k: int = 10) -> None:
    """Top-k equal; among near-ties (|Δ| < 1e-5) the order is free."""
    top_theirs = [int(i) for i in np.argsort(-theirs, kind="stable")[:k] if theirs[i] > 0]
    top_ours = [int(i) for i in np.argsort(-ours, kind="stable")[:k] if ours[i] > 0]
    assert len(top_ours) == len(top_theirs)
    np.testing.assert_allclose(ours[top_ours], theirs[top_theirs], rtol=1e-5, atol=1e-5)
    for pos, (mine, ref) in enumerate(zip(top_ours, top_theirs)):
        if mine != ref:  # allowed only when bm25s itself cannot tell them apart
            assert abs(float(theirs[mine]) - float(theirs[ref])) < 1e-5, (pos, mine, ref)


def test_stopwords_are_bm25s_english_list() -> None:
    assert set(bm25s.stopwords.STOPWORDS_EN) == ENGLISH_STOPWORDS


def test_tokens_match_bm25s_tokenizer(corpus: list[str]) -> None:
    ours = [BM25().tokenize(t) for t in corpus]
    theirs = bm25s.tokenize(
        corpus,
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )
    assert ours == theirs


def test_tokens_match_bm25s_without_stemming_or_stopwords(corpus: list[str]) -> None:
    ours = [BM25(stem=False, stopwords=False).tokenize(t) for t in corpus[:100]]
    theirs = bm25s.tokenize(corpus[:100], stopwords=None, return_ids=False, show_progress=False)
    assert ours == theirs


def test_term_counts_are_hashed_tokens(corpus: list[str]) -> None:
    bm25 = BM25()
    for text, counts in zip(corpus[:50], bm25.term_counts_many(corpus[:50])):
        expected: dict[int, int] = {}
        for tok in bm25.tokenize(text):
            expected[token_id(tok)] = expected.get(token_id(tok), 0) + 1
        assert dict(counts) == expected == dict(bm25.term_counts(text))


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (1.5, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_scores_and_rankings_match_bm25s(
    corpus: list[str], queries: list[str], k1: float, b: float
) -> None:
    bm25 = BM25(k1=k1, b=b)
    counts = bm25.term_counts_many(corpus)
    stats = CorpusStats()
    stats.add_many(counts)
    doc_vectors = bm25.encode_documents(counts, stats)
    docs = [v.to_dict() for v in doc_vectors]

    # bm25s on the very same token stream (token ids as strings): exact, collisions included
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    hashed = [[str(token_id(t)) for t in bm25.tokenize(text)] for text in corpus]
    retriever.index(hashed, show_progress=False)

    for query in queries:
        qv = bm25.encode_query(query, stats)
        q_tokens = [str(token_id(t)) for t in bm25.tokenize(query)]
        theirs = retriever.get_scores(q_tokens).astype(np.float64)
        ours = _our_scores(qv, docs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=query)
        _assert_same_top(ours, theirs)
    # the public dot product agrees with the fast path used above
    qv = bm25.encode_query(queries[0], stats)
    assert [qv.dot(d) for d in doc_vectors[:50]] == pytest.approx(
        list(_our_scores(qv, docs[:50])), rel=1e-12
    )


def test_rankings_match_bm25s_on_stem_strings(corpus: list[str], queries: list[str]) -> None:
    """bm25s with its own tokenizer and vocabulary: only hash collisions could differ."""
    bm25 = BM25()
    stems = {s for text in corpus for s in bm25.tokenize(text)}
    by_id: dict[int, set[str]] = {}
    for s in stems:
        by_id.setdefault(token_id(s), set()).add(s)
    colliding = {s for group in by_id.values() if len(group) > 1 for s in group}

    counts = bm25.term_counts_many(corpus)
    stats = CorpusStats()
    stats.add_many(counts)
    docs = [v.to_dict() for v in bm25.encode_documents(counts, stats)]
    tokenize = {"stopwords": "en", "stemmer": Stemmer.Stemmer("english"), "show_progress": False}
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(corpus, **tokenize), show_progress=False)

    checked = 0
    for query in queries:
        q_tokens = bm25s.tokenize([query], return_ids=False, **tokenize)[0]
        if colliding & set(q_tokens):
            continue
        known = [t for t in q_tokens if t in retriever.vocab_dict]
        theirs = retriever.get_scores(known).astype(np.float64) if known else np.zeros(len(corpus))
        ours = _our_scores(bm25.encode_query(query, stats), docs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=query)
        _assert_same_top(ours, theirs)
        checked += 1
    assert checked >= len(queries) - 5


def test_native_idf_query_weights_are_counts(corpus: list[str]) -> None:
    bm25 = BM25()
    stats = CorpusStats()
    stats.add_many(bm25.term_counts_many(corpus))
    plain = bm25.encode_query("lock the thread lock", None)
    weighted = bm25.encode_query("lock the thread lock", stats)
    assert plain.indices == weighted.indices
    assert sorted(plain.values) == [1.0, 2.0]
    for t, count, w in zip(plain.indices, plain.values, weighted.values):
        assert w == pytest.approx(count * stats.idf(t))


def test_incremental_stats_give_same_vectors_as_from_scratch(corpus: list[str]) -> None:
    bm25 = BM25()
    counts = bm25.term_counts_many(corpus[:200])
    grown = CorpusStats()
    grown.add_many(counts)
    grown.remove_many(counts[:50])
    grown.add_many(counts[:10])
    keep = counts[:10] + counts[50:]
    scratch = CorpusStats()
    scratch.add_many(keep)
    assert grown == scratch
    query = "format a string"
    assert bm25.encode_query(query, grown) == bm25.encode_query(query, scratch)
    assert bm25.encode_documents(keep, grown) == bm25.encode_documents(keep, scratch)

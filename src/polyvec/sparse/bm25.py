"""BM25 as portable sparse vectors: the document side carries TF, the query side IDF.

Lucene's BM25 (the ``bm25s`` default, ``method="lucene"``) scores a document ``d`` for
a query ``q`` as::

    score(q, d) = Σ_{t ∈ q}  idf(t) · tf(t, d) / (tf(t, d) + k1 · (1 - b + b · |d| / avgdl))

which splits into a dot product of two sparse vectors over hashed token ids:

- **document vector**: ``tf / (tf + k1 · (1 - b + b · |d| / avgdl))`` per token — stored
  in the engine at ingest (``avgdl`` from :class:`~polyvec.sparse.CorpusStats`);
- **query vector**: ``idf(t)`` per query token from the corpus statistics (a token
  repeated in the query counts once per occurrence, as in bm25s), or ``1.0`` per
  occurrence when the engine applies IDF itself (Qdrant's ``Modifier.IDF``).

Any engine with sparse dot-product search then ranks exactly like bm25s::

    >>> from polyvec.sparse import BM25, CorpusStats
    >>> bm25 = BM25()
    >>> texts = ["the quick brown fox", "a lazy brown dog", "foxes and dogs"]
    >>> counts = bm25.term_counts_many(texts)
    >>> stats = CorpusStats()
    >>> stats.add_many(counts)                    # keep up to date on upsert/delete
    >>> docs = bm25.encode_documents(counts, stats)
    >>> query = bm25.encode_query("brown foxes", stats)
    >>> [round(query.dot(d), 4) for d in docs]
    [0.4065, 0.2032, 0.238]

Document vectors keep the ``avgdl`` of the moment they were encoded; as a corpus grows
the stored vectors drift slightly from a from-scratch index (as in every engine that
stores BM25 document weights). Re-encode (``encode_documents(counts, stats)``) to
refresh them exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from polyvec.errors import ConfigurationError, EmptyQueryError, InputError
from polyvec.sparse.stats import CorpusStats
from polyvec.sparse.tokenize import SPARSE_DIMENSION, Tokenizer
from polyvec.types import SparseVector

__all__ = ["BM25", "CorpusStats"]  # CorpusStats re-exported for convenience

_HASH = "blake2b64-mod-2^29"
_EMPTY = SparseVector((), ())


@dataclass(frozen=True)
class BM25:
    """A BM25 sparse encoder with a frozen configuration.

    ``k1=1.2`` and ``b=0.75`` are Lucene's, Elasticsearch's and Qdrant's defaults
    (``bm25s.BM25()`` defaults to ``k1=1.5``: pass ``k1=1.2`` to it when comparing,
    or ``BM25(k1=1.5)`` here). ``language``
    picks the Snowball stemmer; ``stopwords`` is ``True`` (the built-in English list,
    the one bm25s uses), ``False``, or your own words; ``stem=False`` turns stemming off.

    >>> BM25(k1=1.5, b=0.8, stopwords=False)
    BM25(k1=1.5, b=0.8, language='english', stopwords=False, stem=True)
    """

    k1: float = 1.2
    b: float = 0.75
    language: str = "english"
    stopwords: bool | Collection[str] = True
    stem: bool = True
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.k1, (int, float)) and self.k1 >= 0):
            raise ConfigurationError(f"BM25 k1 must be a number >= 0, got {self.k1!r}")
        if not (isinstance(self.b, (int, float)) and 0 <= self.b <= 1):
            raise ConfigurationError(f"BM25 b must be a number in [0, 1], got {self.b!r}")
        if not isinstance(self.stopwords, bool):
            object.__setattr__(self, "stopwords", tuple(sorted(set(self.stopwords))))
        tokenizer = Tokenizer(language=self.language, stopwords=self.stopwords, stem=self.stem)
        object.__setattr__(self, "tokenizer", tokenizer)

    # -- configuration -------------------------------------------------------------

    @property
    def dimension(self) -> int:
        """Size of the token id space (``2**29``): the ``sparsevec`` dimension."""
        return SPARSE_DIMENSION

    def config(self) -> dict[str, Any]:
        """The settings as a JSON-able dict; record it with a collection.

        ``BM25.from_config(config)`` rebuilds an encoder producing the same vectors.
        """
        return {
            "kind": "bm25",
            "k1": self.k1,
            "b": self.b,
            "language": self.language,
            "stopwords": self.stopwords
            if isinstance(self.stopwords, bool)
            else list(self.stopwords),
            "stem": self.stem,
            "pattern": self.tokenizer.pattern,
            "hash": _HASH,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BM25:
        """Rebuild an encoder from :meth:`config` output."""
        if config.get("kind") != "bm25" or config.get("hash", _HASH) != _HASH:
            raise ConfigurationError(
                f"not a BM25 configuration this polyvec version can rebuild: {dict(config)!r}"
            )
        return cls(
            k1=float(config["k1"]),
            b=float(config["b"]),
            language=str(config["language"]),
            stopwords=config["stopwords"],
            stem=bool(config["stem"]),
        )

    # -- tokens --------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text`` (stopwords removed, stemmed), in order."""
        return self.tokenizer.tokens(_text(text))

    def term_counts(self, text: str) -> dict[int, int]:
        """``{token id: count}`` of one text; its BM25 length is ``sum(counts.values())``."""
        return self.tokenizer.term_counts(_text(text))

    def term_counts_many(self, texts: Iterable[str]) -> list[dict[int, int]]:
        """:meth:`term_counts` for many texts."""
        return self.tokenizer.term_counts_many([_text(t) for t in texts])

    # -- vectors -------------------------------------------------------------------

    def encode_documents(
        self,
        docs: Iterable[str | Mapping[int, int]],
        stats: CorpusStats,
        *,
        avgdl: float | None = None,
    ) -> list[SparseVector]:
        """Document vectors: ``tf / (tf + k1·(1 - b + b·|d|/avgdl))`` per token id.

        ``docs`` are texts or term counts (from :meth:`term_counts`; pass those to
        avoid tokenizing twice). ``avgdl`` defaults to ``stats.avgdl``: add the
        documents to ``stats`` before encoding them. A document with no tokens gets an
        empty vector.
        """
        docs = list(docs)
        texts = [d for d in docs if isinstance(d, str)]
        tokenized = iter(self.tokenizer.term_counts_many(texts) if texts else ())
        mean = stats.avgdl if avgdl is None else float(avgdl)
        k1, b = float(self.k1), float(self.b)
        out: list[SparseVector] = []
        for doc in docs:
            counts = next(tokenized) if isinstance(doc, str) else doc
            if not isinstance(counts, Mapping):
                raise InputError(
                    f"documents must be texts or term counts, got {type(doc).__name__}"
                )
            if not counts:
                out.append(_EMPTY)
                continue
            length = sum(counts.values())
            if mean <= 0:
                raise InputError(
                    "cannot encode documents against corpus statistics with no tokens "
                    f"({stats!r}): add the documents first (stats.add_many(counts)), "
                    "then encode them"
                )
            norm = k1 * (1.0 - b + b * length / mean)
            items = sorted(counts.items())
            if min(counts.values()) <= 0:
                items = [(t, c) for t, c in items if c > 0]
            out.append(
                SparseVector(
                    tuple(t for t, _ in items),
                    tuple(c / (c + norm) for _, c in items),
                )
            )
        return out

    def encode_document(self, doc: str | Mapping[int, int], stats: CorpusStats) -> SparseVector:
        """:meth:`encode_documents` for one document."""
        return self.encode_documents([doc], stats)[0]

    def encode_query(self, text: str, stats: CorpusStats | None = None) -> SparseVector:
        """The query vector: ``count · idf`` per query token id.

        With ``stats=None`` each token weighs its count (``1.0`` per occurrence), for
        engines that apply IDF themselves. Tokens that no counted document contains
        keep their (maximal) IDF: they match nothing, so scores are unchanged.

        Raises :class:`~polyvec.errors.EmptyQueryError` when nothing searchable is
        left after lowercasing, stopword removal and stemming.
        """
        ids = self.tokenizer.ids(_text(text))
        if not ids:
            raise EmptyQueryError(self._empty_message(text))
        counts = Counter(ids)
        if stats is None:
            weights = {t: float(c) for t, c in counts.items()}
        else:
            idf = stats.idf
            weights = {t: c * idf(t) for t, c in counts.items()}
        items = sorted(weights.items())
        return SparseVector(tuple(t for t, _ in items), tuple(v for _, v in items))

    def encode_queries(
        self, texts: Iterable[str], stats: CorpusStats | None = None
    ) -> list[SparseVector]:
        """:meth:`encode_query` for many queries."""
        return [self.encode_query(t, stats) for t in texts]

    def _empty_message(self, text: str) -> str:
        words = self.tokenizer.words(text)
        if not text.strip():
            why = "it is empty"
        elif not words:
            why = "it has no word of two or more letters or digits"
        else:
            why = f"every word in it is a stopword ({', '.join(sorted(set(words))[:8])})"
        return (
            f"the query {text[:80]!r} has nothing BM25 can search for: {why}. Use "
            "content words, turn stopwords off (BM25(stopwords=False)), or search with "
            "the dense leg only"
        )


def _text(text: Any) -> str:
    if not isinstance(text, str):
        raise InputError(f"expected text (str), got {type(text).__name__}")
    return text

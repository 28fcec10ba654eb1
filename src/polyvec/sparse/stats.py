"""Corpus statistics for BM25, kept up to date on upsert and delete.

BM25 needs three corpus-wide numbers: the number of documents ``N``, the average
document length ``avgdl`` (from the total length), and each token's document
frequency ``df`` (for IDF). :class:`CorpusStats` keeps them incrementally::

    >>> from polyvec.sparse import BM25, CorpusStats
    >>> bm25 = BM25()
    >>> counts = bm25.term_counts_many(["a cat sat", "a dog ran", "the cat ran"])
    >>> stats = CorpusStats()
    >>> stats.add_many(counts)
    >>> stats.n_docs, stats.total_length, round(stats.avgdl, 3)
    (3, 6, 2.0)
    >>> stats.remove(counts[1])          # the "dog" document was deleted
    >>> CorpusStats.from_dict(stats.to_dict()) == stats
    True

Engines with a native IDF (Qdrant's ``Modifier.IDF``) only need ``N`` and the total
length: ``CorpusStats(track_df=False)`` skips the per-token table.

Not thread-safe: guard concurrent writers with a lock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from polyvec.errors import ConfigurationError, InputError

__all__ = ["CorpusStats"]

_FORMAT = "polyvec.bm25.stats/1"


class CorpusStats:
    """``N``, total document length and per-token document frequencies.

    Documents are given as term counts (``{token id: count}``, what
    :meth:`polyvec.sparse.BM25.term_counts` returns); a document's length is the sum
    of its counts.
    """

    __slots__ = ("_df", "n_docs", "total_length", "track_df")

    def __init__(self, *, track_df: bool = True) -> None:
        self.n_docs = 0
        self.total_length = 0
        self.track_df = track_df
        self._df: Counter[int] = Counter()

    # -- reading -------------------------------------------------------------------

    @property
    def avgdl(self) -> float:
        """Average document length (0.0 for an empty corpus)."""
        return self.total_length / self.n_docs if self.n_docs else 0.0

    @property
    def vocabulary_size(self) -> int:
        """Number of distinct token ids with a non-zero document frequency."""
        return len(self._df)

    def df(self, token: int) -> int:
        """Document frequency of a token id (0 if no counted document has it)."""
        self._need_df("df")
        return self._df.get(token, 0)

    def idf(self, token: int) -> float:
        """BM25 IDF, ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Lucene, bm25s, Qdrant).

        Always positive; a token no document has gets the largest value.
        """
        self._need_df("idf")
        df = self._df.get(token, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def _need_df(self, what: str) -> None:
        if not self.track_df:
            raise ConfigurationError(
                f"these corpus statistics do not track document frequencies, so {what}() "
                "is unavailable: create them with CorpusStats(track_df=True), or let the "
                "engine compute IDF (encode queries with stats=None)"
            )

    # -- writing -------------------------------------------------------------------

    def add(self, term_counts: Mapping[int, int]) -> None:
        """Count one document in."""
        length = _length(term_counts)
        self.n_docs += 1
        self.total_length += length
        if self.track_df:
            self._df.update(term_counts.keys())

    def add_many(self, docs: Iterable[Mapping[int, int]]) -> None:
        """Count many documents in."""
        for counts in docs:
            self.add(counts)

    def remove(self, term_counts: Mapping[int, int]) -> None:
        """Count one (previously added) document out.

        Pass the same term counts the document was added with. Raises ``InputError``,
        changing nothing, when the document cannot have been counted here.
        """
        length = _length(term_counts)
        if self.n_docs < 1 or length > self.total_length:
            raise InputError(
                "cannot remove a document from corpus statistics that do not contain it "
                f"(n_docs={self.n_docs}, total_length={self.total_length}, document length "
                f"{length}): remove only documents that were added, with the same term counts"
            )
        df = self._df
        if self.track_df:
            missing = [t for t in term_counts if t not in df]
            if missing:
                raise InputError(
                    f"cannot remove a document whose token id {missing[0]} has no document "
                    "frequency in these statistics: remove only documents that were added, "
                    "with the same term counts (and the same tokenizer)"
                )
        self.n_docs -= 1
        self.total_length -= length
        if self.track_df:
            for t in term_counts:
                left = df[t] - 1
                if left:
                    df[t] = left
                else:
                    del df[t]

    def remove_many(self, docs: Iterable[Mapping[int, int]]) -> None:
        """Count many documents out (stops at the first one that cannot be removed)."""
        for counts in docs:
            self.remove(counts)

    def copy(self) -> CorpusStats:
        """An independent copy."""
        new = CorpusStats(track_df=self.track_df)
        new.n_docs = self.n_docs
        new.total_length = self.total_length
        new._df = self._df.copy()
        return new

    # -- serialization -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able dict.

        Token ids are sorted and delta-encoded (``ids[0], ids[1] - ids[0], ...``),
        document frequencies listed in the same order.
        """
        ids = sorted(self._df)
        deltas = [b - a for a, b in zip([0, *ids], ids)]
        return {
            "format": _FORMAT,
            "n_docs": self.n_docs,
            "total_length": self.total_length,
            "track_df": self.track_df,
            "ids": deltas,
            "df": [self._df[t] for t in ids],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CorpusStats:
        """Rebuild statistics from :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InputError(
                f"not polyvec corpus statistics (format {got!r}, expected {_FORMAT!r}): "
                "pass the dict that CorpusStats.to_dict() returned"
            )
        try:
            stats = cls(track_df=bool(data["track_df"]))
            stats.n_docs = int(data["n_docs"])
            stats.total_length = int(data["total_length"])
            deltas = [int(d) for d in data["ids"]]
            dfs = [int(d) for d in data["df"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed corpus statistics: {exc!r}") from exc
        if len(deltas) != len(dfs):
            raise InputError(
                f"malformed corpus statistics: {len(deltas)} ids but {len(dfs)} frequencies"
            )
        ids, acc = [], 0
        for d in deltas:
            acc += d
            ids.append(acc)
        if any(d <= 0 for d in deltas[1:]) or any(f <= 0 or f > stats.n_docs for f in dfs):
            raise InputError(
                "malformed corpus statistics: ids must be increasing and frequencies "
                "between 1 and n_docs"
            )
        if stats.n_docs < 0 or stats.total_length < 0:
            raise InputError("malformed corpus statistics: negative counts")
        stats._df = Counter(dict(zip(ids, dfs)))
        return stats

    # -- dunder --------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CorpusStats):
            return NotImplemented
        return (
            self.n_docs == other.n_docs
            and self.total_length == other.total_length
            and self.track_df == other.track_df
            and dict(self._df) == dict(other._df)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        vocab = f", vocabulary_size={len(self._df)}" if self.track_df else ", track_df=False"
        return (
            f"CorpusStats(n_docs={self.n_docs}, total_length={self.total_length}, "
            f"avgdl={self.avgdl:.4g}{vocab})"
        )


def _length(term_counts: Mapping[int, int]) -> int:
    if not isinstance(term_counts, Mapping):
        raise InputError(
            f"expected term counts ({{token id: count}}), got {type(term_counts).__name__}: "
            "use BM25.term_counts(text)"
        )
    try:
        length = int(sum(term_counts.values()))
    except (TypeError, ValueError) as exc:
        raise InputError(f"term counts must be integers: {exc}") from exc
    if length < 0:
        raise InputError("term counts must be non-negative integers")
    return length

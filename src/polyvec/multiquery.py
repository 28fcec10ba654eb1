"""Multi-query retrieval: the pieces. Rewrite the query into variants, retrieve each,
fuse the lists with weighted RRF while recording which variant found what.

A generator returns variants only, never the original query::

    >>> gen = StaticGenerator({"reset password": ["forgot my password", "change login"]})
    >>> expand_query(gen, "reset password", n=2)
    ['reset password', 'forgot my password', 'change login']

Any callable works as a generator, e.g. around an LLM; a string answer is split into
lines and list markers (``1.``, ``-``, ``*``) are stripped::

    >>> gen = CallableGenerator(lambda q, n: "1. forgot password\\n2. change login")
    >>> gen.generate("reset password", 3)
    ['forgot password', 'change login']

The retriever runs one search per query (variant 0 is the user's query) and hands
the lists to :func:`fuse_variants`.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from polyvec.errors import ConfigurationError, InputError
from polyvec.fusion import RRF, fuse
from polyvec.types import Hit, Leg, Source

__all__ = [
    "CallableGenerator",
    "PseudoRelevanceGenerator",
    "QueryGenerator",
    "StaticGenerator",
    "aexpand_query",
    "clean_variants",
    "expand_query",
    "fuse_variants",
]


@runtime_checkable
class QueryGenerator(Protocol):
    """Rewrites a query into at most ``n`` other queries (not including the original).

    A generator may also define ``async def agenerate(query, n)``; :func:`aexpand_query`
    uses it when present and otherwise runs ``generate`` in a worker thread.
    """

    def generate(self, query: str, n: int) -> list[str]: ...


_MARKER = re.compile(r"^\s*(?:[-*•]|\(?\d{1,3}[.)])\s+")


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def clean_variants(query: str, variants: Iterable[str], n: int) -> list[str]:
    """Tidy raw variants: strip whitespace, drop empty ones, repeats and the original
    query (compared ignoring case and spacing), keep the first ``n``.

    >>> clean_variants("Reset password", ["  reset  PASSWORD", "", "a", "a", "b"], 5)
    ['a', 'b']
    """
    if isinstance(n, bool) or n < 0:
        raise ConfigurationError(f"the number of query variants must be an int >= 0, got {n!r}")
    seen = {_key(query)}
    out: list[str] = []
    if n == 0:
        return out
    for variant in variants:
        if not isinstance(variant, str):
            raise InputError(
                f"a query generator returned {type(variant).__name__} instead of str: "
                "make it return a list of strings"
            )
        text = variant.strip()
        key = _key(text)
        if not text or key in seen:
            continue
        seen.add(key)
        out.append(text)
        if len(out) == n:
            break
    return out


def _split_lines(text: str) -> list[str]:
    return [_MARKER.sub("", line) for line in text.splitlines()]


class CallableGenerator:
    """A generator from ``fn(query, n)`` returning strings (or one string, one per line).

    Wrap an LLM call, a thesaurus lookup, anything; the output goes through
    :func:`clean_variants`.

    >>> CallableGenerator(lambda q, n: [q.upper(), q + "?"][:n]).generate("hi", 2)
    ['hi?']
    """

    def __init__(self, fn: Callable[[str, int], Iterable[str] | str]) -> None:
        if not callable(fn):
            raise ConfigurationError(
                f"CallableGenerator needs a callable fn(query, n), got {type(fn).__name__}"
            )
        self.fn = fn

    def generate(self, query: str, n: int) -> list[str]:
        raw = self.fn(query, n)
        return clean_variants(query, _split_lines(raw) if isinstance(raw, str) else raw, n)


class StaticGenerator:
    """A deterministic offline generator: variants looked up in ``mapping`` by query
    (exact text first, then ignoring case and spacing); ``default`` otherwise.

    For tests, demos, and known query rewrites (acronyms, product names).

    >>> StaticGenerator({"k8s": ["kubernetes"]}).generate("K8S", 3)
    ['kubernetes']
    """

    def __init__(self, mapping: Mapping[str, Sequence[str]], default: Sequence[str] = ()) -> None:
        self.mapping = {q: tuple(v) for q, v in mapping.items()}
        self._folded = {_key(q): v for q, v in reversed(list(self.mapping.items()))}
        self.default = tuple(default)

    def generate(self, query: str, n: int) -> list[str]:
        found = self.mapping.get(query)
        if found is None:
            found = self._folded.get(_key(query), self.default)
        return clean_variants(query, found, n)


class PseudoRelevanceGenerator:
    """A deterministic offline generator: pseudo-relevance feedback (RM3-like).

    ``search(query, n)`` returns the texts of the top ``n`` hits for ``query`` (e.g. a
    BM25-only retriever); the ``docs`` best are the feedback documents. Each candidate
    term (lowercased word, no stopword, no query term, not a number) is weighed by
    ``Σ_d tf(t, d) / |d| · 1/rank(d)`` times ``idf(stem)`` when ``idf`` is given
    (recommended: without it, words common to every document rank high). The
    variants are the query plus the best ``terms`` terms, the query plus the next
    ``terms``, and so on (``n`` variants); terms are compared by their stem.

    >>> texts = ["gzip compresses files with Lempel-Ziv coding", "zip archives and compresses"]
    >>> gen = PseudoRelevanceGenerator(lambda q, n: texts[:n], terms=2)
    >>> gen.generate("compress files", 2)
    ['compress files archives coding', 'compress files gzip lempel']

    With a polyvec collection::

        bm25 = collection.retriever(mode="sparse")
        prf = PseudoRelevanceGenerator(
            lambda q, n: [h.document.text for h in bm25.search(q, k=n)])
        retriever = collection.retriever(multi_query=prf, n_variants=1)
    """

    def __init__(
        self,
        search: Callable[[str, int], Sequence[str]],
        *,
        docs: int = 5,
        terms: int = 5,
        idf: Callable[[str], float] | None = None,
        language: str = "english",
    ) -> None:
        if docs < 1 or terms < 1:
            raise ConfigurationError(f"docs and terms must be >= 1, got {docs} and {terms}")
        from polyvec.sparse.tokenize import Tokenizer

        self.search = search
        self.docs = docs
        self.terms = terms
        self.idf = idf
        self._tokenizer = Tokenizer(language=language)

    def __repr__(self) -> str:
        return f"PseudoRelevanceGenerator(docs={self.docs}, terms={self.terms})"

    def _stem(self, word: str) -> str:
        stems = self._tokenizer.tokens(word)
        return stems[0] if stems else ""

    def expansion_terms(self, query: str, m: int) -> list[str]:
        """The ``m`` best feedback terms for ``query`` (surface forms), best first."""
        tok = self._tokenizer
        seen = set(tok.tokens(query))
        weights: dict[str, float] = {}
        surface: dict[str, str] = {}
        for rank, text in enumerate(self.search(query, self.docs)[: self.docs], start=1):
            words = [w for w in tok.words(text) if w not in tok.stopwords and not w.isdigit()]
            if not words:
                continue
            for word in words:
                stem = surface.get(word) or self._stem(word)
                surface[word] = stem
                if stem and stem not in seen:
                    weights[stem] = weights.get(stem, 0.0) + 1.0 / (len(words) * rank)
        if self.idf is not None:
            weights = {t: w * self.idf(t) for t, w in weights.items()}
        best = sorted(weights, key=lambda t: (-weights[t], t))[:m]
        first_word: dict[str, str] = {}
        for word, stem in surface.items():
            first_word.setdefault(stem, word)
        return [first_word[t] for t in best]

    def generate(self, query: str, n: int) -> list[str]:
        if n <= 0:
            return []
        found = self.expansion_terms(query, n * self.terms)
        groups = [found[i : i + self.terms] for i in range(0, len(found), self.terms)]
        return clean_variants(query, [f"{query} {' '.join(g)}" for g in groups if g], n)


def expand_query(generator: QueryGenerator, query: str, n: int) -> list[str]:
    """``[query, *variants]``: the user's query first (variant 0), then up to ``n``
    cleaned variants from ``generator``."""
    return [query, *clean_variants(query, generator.generate(query, n), n)]


async def aexpand_query(generator: QueryGenerator, query: str, n: int) -> list[str]:
    """Async :func:`expand_query`: awaits ``generator.agenerate`` if it has one,
    else runs ``generator.generate`` in a worker thread."""
    agenerate = getattr(generator, "agenerate", None)
    if agenerate is not None and inspect.iscoroutinefunction(agenerate):
        raw = await agenerate(query, n)
    else:
        raw = await asyncio.to_thread(generator.generate, query, n)
    return [query, *clean_variants(query, raw, n)]


def _leg_of(hit: Hit) -> Leg:
    if hit.kind == "bm25":
        return "sparse"
    if hit.kind in ("rrf", "dbsf", "convex"):
        return "hybrid"
    return "dense"


def _stamp(hits: Sequence[Hit], variant: int, query: str) -> list[Hit]:
    out = []
    for rank, hit in enumerate(hits, start=1):
        sources: tuple[Source, ...] = hit.sources or (
            Source(_leg_of(hit), rank, float(hit.score), hit.kind),
        )
        stamped = tuple(replace(s, variant=variant, query=query) for s in sources)
        out.append(replace(hit, sources=stamped))
    return out


def fuse_variants(
    per_variant: Sequence[Sequence[Hit]],
    queries: Sequence[str],
    fusion: RRF | None = None,
    *,
    original_weight: float | None = None,
    k: int | None = None,
) -> list[Hit]:
    """Fuse one result list per query variant into one list, best first, one hit per id.

    ``per_variant[i]`` holds the hits (best first) retrieved for ``queries[i]``;
    ``queries[0]`` is the user's own query. Each hit's sources are stamped with
    ``variant=i`` and ``query=queries[i]`` (a hit without sources gets one, its leg
    guessed from its kind: ``bm25`` sparse, fused kinds hybrid, others dense); then
    the lists are fused with ``fusion`` (default ``RRF()``, k=60). ``original_weight``
    weighs the user's query against the variants (weight 1 each) — e.g. ``2.0`` — and
    cannot be combined with ``fusion.weights``, which give one weight per query.
    ``k`` caps the number of hits returned.

    >>> from polyvec import Document, Hit
    >>> a, b = Document("a"), Document("b")
    >>> lists = [[Hit(a, 0.9, "cosine")], [Hit(b, 0.8, "cosine"), Hit(a, 0.7, "cosine")]]
    >>> fused = fuse_variants(lists, ["q", "q2"], original_weight=2.0)
    >>> [(h.id, [(s.variant, s.query) for s in h.sources]) for h in fused]
    [('a', [(0, 'q'), (1, 'q2')]), ('b', [(1, 'q2')])]
    """
    if len(per_variant) != len(queries):
        raise InputError(
            f"fuse_variants got {len(per_variant)} result list(s) for {len(queries)} "
            "queries: pass one list per query, the user's query first"
        )
    if not queries:
        return []
    method = RRF() if fusion is None else fusion
    if not isinstance(method, RRF):
        raise ConfigurationError(
            f"fuse_variants fuses query variants with RRF, got {type(method).__name__}: "
            "pass RRF(k=..., weights=...), or call polyvec.fusion.fuse directly"
        )
    if original_weight is not None:
        if method.weights is not None:
            raise ConfigurationError(
                "give either original_weight or RRF(weights=...) to fuse_variants, not both"
            )
        if not (math.isfinite(original_weight) and original_weight >= 0):
            raise ConfigurationError(
                f"original_weight must be a finite number >= 0, got {original_weight!r}"
            )
        weights: Any = (float(original_weight),) + (1.0,) * (len(queries) - 1)
        method = RRF(k=method.k, weights=weights)
    stamped = [_stamp(hits, i, q) for i, (hits, q) in enumerate(zip(per_variant, queries))]
    return fuse(stamped, method, k=k)

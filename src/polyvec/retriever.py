"""The retrieval pipeline (DESIGN §1), sync and async, written once.

::

    query ─ variants (multi-query, optional)
          ─ per variant, concurrently: dense leg + sparse leg, or one native hybrid call
          ─ fusion (RRF | DBSF | Convex) across legs, then weighted RRF across variants
          ─ MMR (optional) ─ rerank (optional) ─ top k

Usage::

    from polyvec import RRF
    from polyvec.retriever import Retriever, RetrieverConfig, MMRConfig

    retriever = Retriever(collection, RetrieverConfig(mode="hybrid", fusion=RRF(k=60)))
    hits = retriever.search("how do I list files?", k=5, filter={"section": "1"})

The async twins (``asearch``, ``asearch_batch``) run the same code in a worker thread;
legs and query variants run concurrently in a shared thread pool, so a hybrid query over
a network engine costs one round trip of wall time, not two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from polyvec.errors import (
    ConfigurationError,
    DimensionMismatchError,
    EmptyQueryError,
    InputError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import DBSF, RRF, Convex, Fusion, fuse
from polyvec.grouping import group_hits
from polyvec.mmr import mmr
from polyvec.multiquery import QueryGenerator, fuse_variants
from polyvec.rerank import Reranker
from polyvec.tracing import Hits, Recorder, recorder
from polyvec.types import Hit, as_dense

if TYPE_CHECKING:
    from polyvec.collection import Collection, FilterLike

__all__ = ["MMRConfig", "Mode", "Retriever", "RetrieverConfig"]

Mode = Literal["dense", "sparse", "hybrid"]

_T = TypeVar("_T")
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="polyvec")


def _fusion_name(fusion: Fusion) -> str:
    return {RRF: "rrf", DBSF: "dbsf", Convex: "convex"}[type(fusion)]


@dataclass(frozen=True)
class MMRConfig:
    """Maximal marginal relevance over the fused candidates.

    ``lambda_mult=1`` is pure relevance and ``0`` maximal diversity, as in LangChain.
    ``fetch_k`` candidates are diversified down to ``k``.
    """

    lambda_mult: float = 0.5
    fetch_k: int = 50

    def __post_init__(self) -> None:
        if not 0.0 <= self.lambda_mult <= 1.0:
            raise ConfigurationError(f"lambda_mult must be within [0, 1], got {self.lambda_mult}")
        if self.fetch_k < 1:
            raise ConfigurationError(f"fetch_k must be >= 1, got {self.fetch_k}")


@dataclass(frozen=True)
class RetrieverConfig:
    """Everything that shapes a search. Defaults are chosen to hold across datasets:

    * ``mode="hybrid"`` with ``DBSF()``: each leg's scores are standardised by their own
      mean and spread over the candidates, so no calibration of BM25 against cosine
      scores is needed, yet how far apart two hits score still counts (RRF keeps only
      the order). On three offline datasets of two kinds it beat ``RRF(k=60)`` on the
      dev and the test split of each, with no parameter to tune (docs/benchmarks.md);
      it needs no ties broken by the engine, and Qdrant and pgvector fuse it natively.
      ``RRF()`` and ``Convex()`` remain one argument away;
    * ``candidates`` per leg: ``max(50, 4·k)`` (deep enough for fusion and rerank);
    * ``native=True``: fuse in the engine when it can fuse this way, else in polyvec
      (both give the same ranking — tested per backend).
    """

    mode: Mode = "hybrid"
    k: int = 10
    fusion: Fusion = field(default_factory=DBSF)
    candidates: int | None = None
    native: bool = True
    mmr: MMRConfig | None = None
    reranker: Reranker | None = None
    rerank_candidates: int | None = None
    multi_query: QueryGenerator | None = None
    n_variants: int = 3
    original_weight: float = 1.0
    score_threshold: float | None = None
    trace: bool = False
    """Attach a :class:`~polyvec.tracing.Trace` (per-stage timings) to every result
    (``hits.trace``); see :mod:`polyvec.tracing`. Off, nothing is measured."""
    group_by: str | None = None
    """Metadata field (e.g. ``"doc_id"``) to answer per group: ``k`` counts groups, each
    the best hit with its group's next best in ``Hit.group`` (:mod:`polyvec.grouping`)."""
    group_size: int = 3
    """Hits kept per group with ``group_by`` (the best one and ``group_size - 1`` more)."""
    dedup: bool = True
    """With ``group_by``: drop hits whose text repeats a better hit's text exactly."""
    sparse_candidates: int | None = None
    """Depth of the sparse (BM25) leg when it should differ from the dense leg's
    (LlamaIndex's ``sparse_top_k``); such a hybrid search fuses its two legs in polyvec."""

    def __post_init__(self) -> None:
        if self.mode not in ("dense", "sparse", "hybrid"):
            raise ConfigurationError(
                f"mode must be 'dense', 'sparse' or 'hybrid', got {self.mode!r}"
            )
        if self.k < 1:
            raise ConfigurationError(f"k must be >= 1, got {self.k}")
        if self.candidates is not None and self.candidates < 1:
            raise ConfigurationError(f"candidates must be >= 1, got {self.candidates}")
        if self.sparse_candidates is not None and self.sparse_candidates < 1:
            raise ConfigurationError(
                f"sparse_candidates must be >= 1, got {self.sparse_candidates}"
            )
        if not isinstance(self.fusion, (RRF, DBSF, Convex)):
            raise ConfigurationError(
                f"fusion must be RRF(...), DBSF(...) or Convex(...), got {self.fusion!r}"
            )
        if self.n_variants < 0:
            raise ConfigurationError(f"n_variants must be >= 0, got {self.n_variants}")
        if self.group_by is not None and (not isinstance(self.group_by, str) or not self.group_by):
            raise ConfigurationError(
                f"group_by must be a metadata field name such as 'doc_id', got {self.group_by!r}"
            )
        if not isinstance(self.group_size, int) or self.group_size < 1:
            raise ConfigurationError(f"group_size must be an int >= 1, got {self.group_size!r}")

    def leg_depth(self, k: int) -> int:
        depth = self.candidates or max(50, 4 * k)
        if self.group_by is not None and self.candidates is None:
            depth = max(depth, 4 * k * self.group_size)  # several chunks per group
        if self.mmr is not None:
            depth = max(depth, self.mmr.fetch_k)
        if self.reranker is not None:
            depth = max(depth, self.rerank_candidates or 0)
        return max(depth, k)


class Retriever:
    """Runs :class:`RetrieverConfig`'s pipeline over a :class:`~polyvec.collection.Collection`."""

    def __init__(self, collection: Collection, config: RetrieverConfig | None = None) -> None:
        self.collection = collection
        self.config = config or RetrieverConfig()

    def __repr__(self) -> str:
        return f"Retriever(collection={self.collection.name!r}, config={self.config!r})"

    def with_config(self, **changes: Any) -> Retriever:
        return Retriever(self.collection, replace(self.config, **changes))

    # -- public API --------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        filter: FilterLike = None,
        vector: Sequence[float] | np.ndarray | None = None,
        trace: bool | None = None,
    ) -> Hits:
        """The top ``k`` hits for ``query`` (``k`` defaults to ``config.k``).

        ``vector`` is the query's dense embedding when the caller already has it (e.g. a
        framework that embeds queries itself); multi-query variants are still embedded
        by the collection's embedder. ``trace`` (default ``config.trace``) attaches
        per-stage timings as ``hits.trace`` (:mod:`polyvec.tracing`)."""
        vectors = None if vector is None else [vector]
        return self.search_batch([query], k=k, filter=filter, vectors=vectors, trace=trace)[0]

    def _run_grouped(
        self,
        queries: Sequence[str],
        k: int,
        filter: FilterLike,
        vectors: Sequence[Sequence[float] | np.ndarray | None] | None,
        rec: Recorder | None,
    ) -> list[list[Hit]]:
        """:meth:`_run`; with ``group_by``, queries that found fewer than ``k`` groups at
        the usual depth are searched once more, four times deeper."""
        out = self._run(queries, k, filter, vectors, rec)
        short = [i for i, hits in enumerate(out) if len(hits) < k]
        if not short or self.config.group_by is None:
            return out
        deeper = self.with_config(candidates=4 * self.config.leg_depth(k))
        again = deeper._run(
            [queries[i] for i in short],
            k,
            filter,
            None if vectors is None else [vectors[i] for i in short],
            rec,
        )
        for i, hits in zip(short, again):
            if len(hits) > len(out[i]):
                out[i] = hits
        return out

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        k: int | None = None,
        filter: FilterLike = None,
        vectors: Sequence[Sequence[float] | np.ndarray | None] | None = None,
        trace: bool | None = None,
    ) -> list[Hits]:
        """Search several queries at once: query embeddings are computed in one batch and
        every leg of every query variant runs concurrently. ``vectors`` optionally gives
        one precomputed dense embedding (or ``None``) per query. With ``trace``, every
        result carries the :class:`~polyvec.tracing.Trace` of the whole batch (its
        stages name the ``query`` they belong to)."""
        k = _check_k(self.config.k if k is None else k)
        rec = recorder(self.config.trace if trace is None else trace)
        if rec is None:
            return [Hits(hits) for hits in self._run_grouped(queries, k, filter, vectors, None)]
        coll, cfg = self.collection, self.config
        names = (coll.backend.capabilities.backend, coll.name, cfg.mode)
        with rec.search(
            backend=names[0],
            collection=names[1],
            mode=names[2],
            k=k,
            fusion=_fusion_name(cfg.fusion),
            queries=len(queries),
        ):
            lists = self._run_grouped(queries, k, filter, vectors, rec)
            rec.finish(hits=sum(len(hits) for hits in lists))
        done = rec.trace(*names, k, sum(len(hits) for hits in lists))
        return [Hits(hits, done) for hits in lists]

    def _run(
        self,
        queries: Sequence[str],
        k: int,
        filter: FilterLike,
        vectors: Sequence[Sequence[float] | np.ndarray | None] | None,
        rec: Recorder | None,
    ) -> list[list[Hit]]:
        parsed = self.collection.prepare_filter(filter)
        with _stage(rec if self.config.multi_query is not None else None, "variants") as a:
            plans = [self._variants(q) for q in queries]
            a["variants"] = sum(len(plan) for plan in plans)
        flat = [v for plan in plans for v in plan]
        given: dict[int, np.ndarray] = {}
        if vectors is not None:
            if len(vectors) != len(queries):
                raise InputError(
                    f"search_batch got {len(vectors)} vectors for {len(queries)} queries: "
                    "pass one vector (or None) per query"
                )
            start = 0
            for plan, vec in zip(plans, vectors):
                if vec is not None:
                    given[start] = as_dense(vec, where="query vector")
                start += len(plan)
        embeds = rec is not None and len(given) < len(flat)
        embeds = embeds and (self.config.mode != "sparse" or self.config.mmr is not None)
        with _stage(rec if embeds else None, "embed", queries=len(flat) - len(given)):
            dense = self._embed(flat, given)
        depth = self.config.leg_depth(k)
        # One flat list of leaf calls (engine round trips), run concurrently; leaves
        # never wait on other tasks, so the shared pool cannot deadlock.
        calls: list[Callable[[], list[Hit]]] = []
        legs_per_variant: list[int] = []
        kept: list[int] = []
        for plan in plans:
            # fused hits a variant hands on: the final k when nothing comes after fusion
            # (fewer documents read and converted); later stages need all ``depth``
            alone = (
                len(plan) == 1
                and self.config.mmr is None
                and self.config.reranker is None
                and self.config.group_by is None
            )
            kept.extend([k if alone else depth] * len(plan))
        for i, text in enumerate(flat):
            vec = dense[i] if dense is not None else None
            legs = self._legs(text, vec, depth, parsed, kept[i])
            if rec is not None:
                legs = [_timed(rec, leg, variant=i, candidates=depth) for leg in legs]
            calls.extend(legs)
            legs_per_variant.append(len(legs))
        results = iter(_parallel(calls))
        per_variant = []
        for i, n in enumerate(legs_per_variant):
            legs_out = [next(results) for _ in range(n)]
            if n == 1:
                per_variant.append(legs_out[0])
                continue
            with _stage(rec, "fusion", method=_fusion_name(self.config.fusion), variant=i) as a:
                per_variant.append(self._combine(legs_out, kept[i]))
                a["hits"] = len(per_variant[-1])
        out, offset = [], 0
        for q, plan in enumerate(plans):
            lists = per_variant[offset : offset + len(plan)]
            qdense = dense[offset] if dense is not None else None
            offset += len(plan)
            out.append(self._finish(plan, lists, qdense, k, depth, rec, q))
        return out

    def search_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        *,
        k: int | None = None,
        filter: FilterLike = None,
    ) -> list[Hit]:
        """The top ``k`` hits for a query embedding alone (no text): a dense search, then
        MMR and the score threshold when the config has them. Hybrid, sparse, rerank and
        multi-query need the query text, so a config with any of them is refused."""
        cfg = self.config
        if cfg.mode != "dense" or cfg.reranker is not None or cfg.multi_query is not None:
            raise ConfigurationError(
                "a search by vector alone is a dense search: hybrid and sparse modes, rerank "
                "and multi-query need the query text (use search(text, vector=...))"
            )
        k = _check_k(cfg.k if k is None else k)
        dense = as_dense(vector, where="query vector")
        if dense.shape[0] != self.collection.dimension:
            raise DimensionMismatchError(self.collection.dimension, dense.shape[0], "query vector")
        depth = cfg.leg_depth(k) if cfg.mmr is not None else k
        coll = self.collection
        hits = coll.backend.search_dense(coll.name, dense, depth, coll.prepare_filter(filter))
        return self._finish([""], [hits], dense, k, depth)

    async def asearch(
        self,
        query: str,
        *,
        k: int | None = None,
        filter: FilterLike = None,
        vector: Sequence[float] | np.ndarray | None = None,
        trace: bool | None = None,
    ) -> Hits:
        return await asyncio.to_thread(
            lambda: self.search(query, k=k, filter=filter, vector=vector, trace=trace)
        )

    async def asearch_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        *,
        k: int | None = None,
        filter: FilterLike = None,
    ) -> list[Hit]:
        return await asyncio.to_thread(lambda: self.search_vector(vector, k=k, filter=filter))

    async def asearch_batch(
        self,
        queries: Sequence[str],
        *,
        k: int | None = None,
        filter: FilterLike = None,
        vectors: Sequence[Sequence[float] | np.ndarray | None] | None = None,
        trace: bool | None = None,
    ) -> list[Hits]:
        return await asyncio.to_thread(
            lambda: self.search_batch(queries, k=k, filter=filter, vectors=vectors, trace=trace)
        )

    # -- stages ------------------------------------------------------------------------
    def _variants(self, query: str) -> list[str]:
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError("the query is empty: pass some text to search for")
        variants = [query]
        gen = self.config.multi_query
        if gen is not None and self.config.n_variants > 0:
            for v in gen.generate(query, self.config.n_variants):
                if v.strip() and v not in variants:
                    variants.append(v)
        return variants

    def _embed(self, texts: Sequence[str], given: dict[int, np.ndarray]) -> np.ndarray | None:
        """Query embeddings, one row per text; rows in ``given`` are used as they are."""
        if self.config.mode == "sparse" and self.config.mmr is None:
            return None
        if not given:
            return self.collection.embed_queries(texts)
        dim = self.collection.dimension
        for vec in given.values():
            if vec.shape[0] != dim:
                raise DimensionMismatchError(dim, vec.shape[0], "query vector")
        todo = [i for i in range(len(texts)) if i not in given]
        rows = np.empty((len(texts), dim), dtype=np.float32)
        if todo:
            rows[todo] = self.collection.embed_queries([texts[i] for i in todo])
        for i, vec in given.items():
            rows[i] = vec
        return rows

    def _legs(
        self,
        query: str,
        dense: np.ndarray | None,
        depth: int,
        filt: Filter | None,
        keep: int,
    ) -> list[Callable[[], list[Hit]]]:
        """The engine calls one query variant needs: one (dense, sparse or native hybrid)
        or two (dense and sparse, fused by :meth:`_combine`). Each leg searches ``depth``
        candidates; a native hybrid call returns the best ``keep`` of them fused."""
        cfg = self.config
        backend, name = self.collection.backend, self.collection.name
        if cfg.mode == "dense":
            assert dense is not None
            return [partial(backend.search_dense, name, dense, depth, filt)]
        if cfg.mode == "sparse":
            sparse = self.collection.encode_query_sparse(query)
            return [partial(backend.search_sparse, name, sparse, depth, filt)]
        assert dense is not None
        try:
            sparse = self.collection.encode_query_sparse(query)
        except EmptyQueryError:
            # Only stopwords: BM25 matches nothing, so the sparse leg is an empty list
            # (fused, the dense ranking stands). The query text itself was checked.
            return [partial(backend.search_dense, name, dense, depth, filt), list]
        sdepth = cfg.sparse_candidates or depth
        if (
            sdepth == depth
            and cfg.native
            and _fusion_name(cfg.fusion) in backend.capabilities.hybrid_fusions
        ):
            return [
                partial(
                    backend.search_hybrid,
                    name,
                    dense,
                    sparse,
                    keep,
                    fusion=cfg.fusion,
                    candidates=depth,
                    filter=filt,
                )
            ]
        return [
            partial(backend.search_dense, name, dense, depth, filt),
            partial(backend.search_sparse, name, sparse, sdepth, filt),
        ]

    def _combine(self, legs: list[list[Hit]], keep: int) -> list[Hit]:
        return legs[0] if len(legs) == 1 else fuse(legs, self.config.fusion, keep)

    def _finish(
        self,
        variants: Sequence[str],
        lists: list[list[Hit]],
        dense: np.ndarray | None,
        k: int,
        depth: int,
        rec: Recorder | None = None,
        query: int = 0,
    ) -> list[Hit]:
        cfg = self.config
        if len(lists) == 1:
            hits = lists[0]
        else:
            with _stage(rec, "fusion", method="rrf", variants=len(lists), query=query) as a:
                hits = fuse_variants(lists, variants, original_weight=cfg.original_weight)
                hits = hits[:depth]
                a["hits"] = len(hits)
        if cfg.mmr is not None and dense is not None:
            with _stage(rec, "mmr", candidates=len(hits), query=query) as a:
                hits = self._diversify(dense, hits, k if cfg.reranker is None else depth)
                a["hits"] = len(hits)
        if cfg.reranker is not None:
            pool = hits[: cfg.rerank_candidates or depth]
            top = depth if cfg.group_by is not None else k
            with _stage(rec, "rerank", candidates=len(pool), query=query) as a:
                hits = cfg.reranker.rerank(variants[0], pool, top_n=top)
                a["hits"] = len(hits)
        if cfg.score_threshold is not None:
            hits = [h for h in hits if h.score >= cfg.score_threshold]
        if cfg.group_by is not None:
            hits = [_with_score(h) for h in hits]
            return group_hits(hits, cfg.group_by, k, size=cfg.group_size, dedup=cfg.dedup)
        return [_with_score(h) for h in hits[:k]]

    def _diversify(self, query_vec: np.ndarray, hits: list[Hit], k: int) -> list[Hit]:
        assert self.config.mmr is not None
        pool = hits[: self.config.mmr.fetch_k]
        missing = [h.id for h in pool if h.document.dense is None]
        if missing:
            with_vecs = {
                (type(d.id), d.id): d for d in self.collection.get(missing, with_vectors=True)
            }
            pool = [
                replace(h, document=with_vecs.get((type(h.id), h.id), h.document))
                if h.document.dense is None
                else h
                for h in pool
            ]
        if any(h.document.dense is None for h in pool):
            raise InputError(
                "MMR needs the candidates' dense vectors, and the backend returned none"
            )
        return mmr(query_vec, pool, k, self.config.mmr.lambda_mult)


class _Off:
    """The stage context when nothing is recorded: yields a scratch dict, times nothing."""

    def __enter__(self) -> dict[str, Any]:
        return {}

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()
_LEG_NAMES = {"search_dense": "dense", "search_sparse": "sparse", "search_hybrid": "hybrid"}


def _stage(
    rec: Recorder | None, name: str, **attributes: Any
) -> AbstractContextManager[dict[str, Any]]:
    return _OFF if rec is None else rec.stage(name, **attributes)


def _timed(
    rec: Recorder, leg: Callable[[], list[Hit]], **attributes: Any
) -> Callable[[], list[Hit]]:
    """An engine call wrapped in its stage (``dense``/``sparse``/``hybrid``); a leg that
    is no engine call (the empty sparse leg of a stopword-only query) is left as is."""
    name = _LEG_NAMES.get(getattr(getattr(leg, "func", None), "__name__", ""))
    return leg if name is None else rec.timed(name, leg, **attributes)


def _with_score(hit: Hit) -> Hit:
    """``hit`` with its own score among ``scores`` (an engine's fused hit has only it)."""
    if hit.kind in hit.scores:
        return hit
    return replace(hit, scores={**hit.scores, hit.kind: hit.score})


def _parallel(calls: Sequence[Callable[[], _T]]) -> list[_T]:
    """Run calls concurrently in the shared pool; results in order; first error raised."""
    if len(calls) == 1:
        return [calls[0]()]
    futures = [_POOL.submit(c) for c in calls[1:]]
    first = calls[0]()
    return [first, *(f.result() for f in futures)]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive int, got {k!r}")
    return k

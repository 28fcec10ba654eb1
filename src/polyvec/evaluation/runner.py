"""Run retriever configurations over a BEIR dataset and score them with ranx.

Documents longer than the embedding model's window are handled one of two ways, both
scored per document:

* ``IngestOptions(doc_mode="truncate")`` — **the default**: one stored unit per
  document; the embedding model reads its first window (all-MiniLM-L6-v2: 256 word
  pieces), BM25 indexes the whole text;
* ``doc_mode="chunks"``: chunks of ``chunk_size`` tokens stored with their ``doc_id``; a
  query retrieves chunks and a document scores its best chunk (its first appearance in
  the ranked chunk list: max over chunks).

Truncation is the default because hybrid search scored better with it than with
max-over-chunks on all three offline datasets (``docs/benchmarks.md``, nDCG@10: man
pages +0.024, system man pages +0.025, standard-library docstrings +0.017; the dense leg
alone +0.021, +0.014 and −0.002). Their queries summarise the head of the document (a
NAME line, a docstring summary), which the first window holds; where queries ask about
details deep inside long documents, measure ``chunks``.

::

    from polyvec import RetrieverConfig
    from polyvec.evaluation import evaluate, load_beir

    data = load_beir("datasets/manpages", split="test")
    report = evaluate(data, {"bm25": RetrieverConfig(mode="sparse"),
                             "hybrid": RetrieverConfig()}, url="qdrant-edge://")
    print(report.markdown())

Query latency is wall time per query, one query at a time, including the query
embedding (document embeddings may come from a disk cache; query embeddings never do).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from polyvec.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, chunk_document
from polyvec.collection import Collection, connect
from polyvec.embeddings_base import Embedder, embedder_variant
from polyvec.errors import EmptyQueryError
from polyvec.evaluation.beir import BeirDataset
from polyvec.evaluation.metrics import DEFAULT_METRICS, ranked_run, score_run
from polyvec.fusion import Fusion, fuse
from polyvec.retriever import RetrieverConfig
from polyvec.sparse.bm25 import BM25
from polyvec.types import Document, Hit

__all__ = [
    "DocMode",
    "IngestOptions",
    "QueryEmbedderSplit",
    "RunResult",
    "doc_ids",
    "evaluate_searchers",
    "fusion_sweep",
    "ingest",
    "retriever_searcher",
    "run_searcher",
    "time_searchers",
    "units",
]

DocMode = Literal["chunks", "truncate"]
Searcher = Callable[[str], Sequence[str]]
"""A search function under test: query text → document ids, best first (repeats allowed:
the first occurrence of an id counts, i.e. max over a document's chunks)."""


@dataclass(frozen=True)
class IngestOptions:
    """How documents become stored units (see the module docstring for the measurements).

    ``doc_mode="truncate"`` (default): one unit per document; the embedding model reads
    only its first window (all-MiniLM-L6-v2: 256 word pieces), BM25 the whole text.
    ``"chunks"``: chunks of ``chunk_size`` tokens (approximate word pieces,
    :func:`polyvec.tokens.approx_count_tokens`) with up to ``chunk_overlap`` tokens of
    overlap (:func:`polyvec.chunking.chunk_document`), scored per document by the max
    over its chunks.
    """

    doc_mode: DocMode = "truncate"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP

    def label(self) -> str:
        if self.doc_mode == "truncate":
            return "truncate"
        return f"chunks{self.chunk_size}/{self.chunk_overlap}"


class QueryEmbedderSplit:
    """Documents from ``documents`` (e.g. a disk-cached embedder), queries from
    ``queries`` (uncached, so that query latency includes embedding). ``queries`` may be
    swapped at any time, e.g. to a cached embedder for a quality-only pass."""

    def __init__(self, documents: Embedder, queries: Embedder) -> None:
        self.documents = documents
        self.queries = queries

    @property
    def name(self) -> str:
        return self.documents.name

    @property
    def dimension(self) -> int:
        return self.documents.dimension

    @property
    def variant(self) -> str | None:
        return embedder_variant(self.documents)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.documents.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.queries.embed_queries(texts)


def units(dataset: BeirDataset, options: IngestOptions | None = None) -> list[Document]:
    """The documents to index: chunks (id ``"{doc}#{i}"``) or whole documents, each with
    ``metadata["doc_id"]``; in corpus id order."""
    options = options or IngestOptions()
    out: list[Document] = []
    for did in sorted(dataset.corpus):
        doc = dataset.corpus[did]
        if options.doc_mode == "truncate":
            out.append(Document(did, doc.full_text, {"doc_id": did}))
        else:
            out.extend(
                chunk_document(
                    did,
                    doc.full_text,
                    size=options.chunk_size,
                    overlap=options.chunk_overlap,
                )
            )
    return out


def ingest(
    dataset: BeirDataset,
    url: str = "qdrant-edge://",
    *,
    collection: str | None = None,
    embedder: Embedder | None = None,
    options: IngestOptions | None = None,
    bm25: BM25 | None = None,
    progress: bool = False,
) -> Collection:
    """Index ``dataset`` into a collection (reused when it already holds every unit).
    The default URL is the embedded engine in a temporary directory."""
    options = options or IngestOptions()
    name = collection or f"eval_{dataset.name}_{options.doc_mode}".replace("-", "_")
    coll = connect(url, collection=name, embedder=embedder, bm25=bm25)
    todo = units(dataset, options)
    if coll.count() != len(todo):
        if coll.count():
            coll.drop()
            coll.close()
            coll = connect(url, collection=name, embedder=embedder, bm25=bm25)
        coll.add(todo, progress=progress)
    return coll


def doc_ids(hits: Iterable[Hit]) -> list[str]:
    """Document ids of hits (``metadata["doc_id"]``, else the hit id), repeats kept."""
    return [str(h.document.metadata.get("doc_id", h.id)) for h in hits]


def retriever_searcher(collection: Collection, config: RetrieverConfig, k: int) -> Searcher:
    """A :data:`Searcher` running polyvec's Retriever for ``k`` units per query."""
    retriever = collection.retriever(config)
    return lambda query: doc_ids(retriever.search(query, k=k))


@dataclass
class RunResult:
    """One configuration's run: ranked documents per query, latencies, metrics."""

    name: str
    run: dict[str, dict[str, float]]
    latencies: list[float]
    metrics: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def p50_ms(self) -> float:
        return 1e3 * statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p95_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1e3 * ordered[round(0.95 * (len(ordered) - 1))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": self.metrics,
            "queries": len(self.run),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "notes": self.notes,
        }


def run_searcher(
    name: str,
    search: Searcher,
    dataset: BeirDataset,
    *,
    depth: int = 100,
    metrics: Sequence[str] = DEFAULT_METRICS,
    notes: str = "",
) -> RunResult:
    """Run ``search`` on every query of ``dataset`` (one at a time, timed), keep the
    first ``depth`` distinct documents per query, and score the run."""
    ranked: dict[str, list[str]] = {}
    latencies: list[float] = []
    for qid, text in dataset.queries.items():
        start = time.perf_counter()
        ids = search(text)
        latencies.append(time.perf_counter() - start)
        ranked[qid] = list(dict.fromkeys(ids))[:depth]
    run = ranked_run(ranked)
    result = RunResult(name, run, latencies, notes=notes)
    result.metrics = score_run(dataset.qrels, run, metrics)
    return result


def time_searchers(
    searchers: Mapping[str, Searcher], queries: Sequence[str], *, warmup: int = 3
) -> dict[str, list[float]]:
    """Per-query wall times of each searcher, interleaved (query 1 on every searcher,
    then query 2 …) so that load drifting on a shared machine hits all of them alike.
    The first ``warmup`` queries are run on every searcher untimed."""
    for query in queries[:warmup]:
        for search in searchers.values():
            search(query)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for query in queries:
        for name, search in searchers.items():
            start = time.perf_counter()
            search(query)
            times[name].append(time.perf_counter() - start)
    return times


def evaluate_searchers(
    dataset: BeirDataset,
    searchers: Mapping[str, Searcher],
    *,
    depth: int = 100,
    metrics: Sequence[str] = DEFAULT_METRICS,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """:func:`run_searcher` for each named searcher, in order."""
    out = []
    for name, search in searchers.items():
        result = run_searcher(name, search, dataset, depth=depth, metrics=metrics)
        if progress is not None:
            progress(result)
        out.append(result)
    return out


def fusion_sweep(
    collection: Collection,
    dataset: BeirDataset,
    fusions: Mapping[str, Fusion],
    *,
    k: int,
    depth: int = 100,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> list[RunResult]:
    """Score many fusion settings cheaply: each query's dense and BM25 legs are fetched
    once (at the depth the Retriever uses for ``k``), then fused with
    :func:`polyvec.fusion.fuse` per setting and cut to ``k`` — the Retriever's own
    client-side path, which ranks as the engines' native fusion does (tested per
    backend). No latency is recorded."""
    leg_depth = RetrieverConfig().leg_depth(k)
    dense = collection.retriever(RetrieverConfig(mode="dense"))
    sparse = collection.retriever(RetrieverConfig(mode="sparse"))
    legs: dict[str, tuple[list[Hit], list[Hit]]] = {}
    for qid, text in dataset.queries.items():
        d = dense.search(text, k=leg_depth)
        s: list[Hit]
        try:
            s = sparse.search(text, k=leg_depth)
        except EmptyQueryError:  # stopwords only: the sparse leg is empty
            s = []
        legs[qid] = (d, s)
    out = []
    for name, fusion in fusions.items():
        ranked = {
            qid: list(dict.fromkeys(doc_ids(fuse([d, s], fusion)[:k])))[:depth]
            for qid, (d, s) in legs.items()
        }
        run = ranked_run(ranked)
        out.append(RunResult(name, run, [], score_run(dataset.qrels, run, metrics)))
    return out

"""Each retrieval leg fetched once per query, then fused in many ways: cheap sweeps.

A hybrid configuration differs from another only in what happens *after* the legs
are searched: the fusion method and its parameters, how many candidates each leg
hands to fusion, and how chunk hits become document scores. :class:`LegSet` holds
every query's candidate lists (unit id and score, best first) for each leg, searched
once at a fixed ``depth`` on the real engine; :func:`rank_documents` then fuses them
with :func:`polyvec.fusion.fuse` — the Retriever's own client-side fusion, which ranks
as the engines' native fusion does (tested per backend) — for any :class:`Method`.
A leg cut to its first ``c`` candidates is what the engine returns for ``c``.

::

    from polyvec.evaluation.legs import LegSet, Method, score_methods
    from polyvec.fusion import DBSF, Convex

    legs = LegSet.collect(collection, dataset.queries, depth=200)
    legs.save("legs/manpages-truncate.json.gz")
    results = score_methods(legs, dataset.qrels, [
        Method("dbsf", fusion=DBSF()),
        Method("convex a=0.7 c=100", fusion=Convex(0.7), candidates=100),
        Method("dense", legs=("dense",)),
    ])

Document scoring for chunked collections (``Method.scoring``):

* ``"max"`` — fuse the chunk lists, a document ranks at its best chunk (MaxP);
* ``"mean"`` — a document scores the mean fused score of its chunks among the fused
  candidates (AvgP: rewards documents that match in several places, penalises a single
  lucky chunk);
* ``"grouped"`` — group each leg by document first (a document keeps its best chunk's
  score and rank in that leg, as an engine's group-by query returns), then fuse the
  document lists: fusion normalises scores over ``candidates`` *documents*, not chunks.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from polyvec.errors import ConfigurationError, EmptyQueryError
from polyvec.evaluation.metrics import DEFAULT_METRICS, ranked_run, score_run
from polyvec.evaluation.runner import RunResult
from polyvec.fusion import Fusion, fuse
from polyvec.types import Document, Hit, ScoreKind

if TYPE_CHECKING:
    from polyvec.collection import Collection

__all__ = [
    "DocScoring",
    "LegSet",
    "Method",
    "leg_kinds",
    "rank_documents",
    "score_methods",
]

DocScoring = Literal["max", "mean", "grouped"]
Candidates = list[tuple[str, float]]


@dataclass
class LegSet:
    """Candidates of each leg per query: ``legs[leg][qid] = [(unit id, score), ...]``,
    best first, searched at ``depth``; ``doc_of`` maps a unit (chunk) to its document."""

    depth: int
    legs: dict[str, dict[str, Candidates]]
    kinds: dict[str, str]
    doc_of: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    _hits: dict[tuple[str, str], list[Hit]] = field(default_factory=dict, repr=False)

    @classmethod
    def collect(
        cls,
        collection: Collection,
        queries: Mapping[str, str],
        depth: int,
        *,
        batch: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> LegSet:
        """Search the dense and the BM25 leg of every query once, ``depth`` units each,
        on the collection's engine (as the Retriever searches them: one engine call per
        leg, no filter). A query whose BM25 encoding is empty (stopwords only) has an
        empty sparse leg, as in the Retriever."""
        backend, name = collection.backend, collection.name
        dense: dict[str, Candidates] = {}
        sparse: dict[str, Candidates] = {}
        doc_of: dict[str, str] = {}
        ids = list(queries)

        def record(hits: Sequence[Hit]) -> Candidates:
            out = []
            for h in hits:
                unit = str(h.id)
                doc_of.setdefault(unit, str(h.document.metadata.get("doc_id", unit)))
                out.append((unit, float(h.score)))
            return out

        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            vectors = collection.embed_queries([queries[q] for q in chunk])
            for qid, vec in zip(chunk, vectors):
                dense[qid] = record(backend.search_dense(name, vec, depth, None))
                try:
                    sv = collection.encode_query_sparse(queries[qid])
                except EmptyQueryError:
                    sparse[qid] = []
                    continue
                sparse[qid] = record(backend.search_sparse(name, sv, depth, None))
            if progress is not None:
                progress(min(start + batch, len(ids)), len(ids))
        return cls(depth, {"dense": dense, "sparse": sparse}, leg_kinds(collection), doc_of)

    def add_leg(self, leg: str, kind: str, lists: Mapping[str, Candidates]) -> None:
        """Add another leg (e.g. a title field) searched for the same queries."""
        self.legs[leg] = dict(lists)
        self.kinds[leg] = kind

    def hits(self, leg: str, qid: str) -> list[Hit]:
        """The leg's candidates of ``qid`` as hits (built once, then reused)."""
        key = (leg, qid)
        found = self._hits.get(key)
        if found is None:
            kind: ScoreKind = self.kinds[leg]  # type: ignore[assignment]
            found = [
                Hit(Document(unit, metadata={"doc_id": self.doc_of.get(unit, unit)}), s, kind)
                for unit, s in self.legs[leg].get(qid, [])
            ]
            self._hits[key] = found
        return found

    def doc(self, unit: str) -> str:
        return self.doc_of.get(unit, unit)

    def save(self, path: str | os.PathLike[str]) -> None:
        data = {
            "depth": self.depth,
            "legs": self.legs,
            "kinds": self.kinds,
            "doc_of": {u: d for u, d in self.doc_of.items() if u != d},
            "info": self.info,
        }
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump(data, fh)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LegSet:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        legs = {
            leg: {q: [(str(u), float(s)) for u, s in lst] for q, lst in per_q.items()}
            for leg, per_q in data["legs"].items()
        }
        return cls(data["depth"], legs, data["kinds"], data["doc_of"], data.get("info", {}))


def leg_kinds(collection: Collection) -> dict[str, str]:
    """The score kind of each leg of ``collection`` (its dense distance, and ``bm25``)."""
    distance = collection.spec.distance
    dense = {"cosine": "cosine", "dot": "dot"}.get(distance, "l2")
    return {"dense": dense, "sparse": "bm25"}


@dataclass(frozen=True)
class Method:
    """One way to turn the legs into a ranking: ``legs`` searched, ``fusion`` (needed for
    two legs or more), ``candidates`` per leg (``None``: the Retriever's default depth
    for k=10, 50), and ``scoring`` (how chunk hits become document scores)."""

    name: str
    legs: tuple[str, ...] = ("dense", "sparse")
    fusion: Fusion | None = None
    candidates: int | None = None
    scoring: DocScoring = "max"

    def __post_init__(self) -> None:
        if len(self.legs) > 1 and self.fusion is None:
            raise ConfigurationError(f"method {self.name!r}: several legs need a fusion")
        if self.scoring not in ("max", "mean", "grouped"):
            raise ConfigurationError(f"method {self.name!r}: unknown scoring {self.scoring!r}")


def _grouped(hits: Sequence[Hit], legs: LegSet) -> list[Hit]:
    """One hit per document (its best chunk's score and rank), as a group-by returns."""
    seen: dict[str, Hit] = {}
    for h in hits:
        doc = legs.doc(str(h.id))
        if doc not in seen:
            seen[doc] = Hit(Document(doc, metadata={"doc_id": doc}), h.score, h.kind)
    return list(seen.values())


def rank_documents(legs: LegSet, qid: str, method: Method, depth: int = 100) -> list[str]:
    """Document ids for ``qid`` under ``method``, best first, at most ``depth``."""
    candidates = method.candidates or 50
    if candidates > legs.depth:
        raise ConfigurationError(
            f"method {method.name!r} asks for {candidates} candidates per leg, but the legs "
            f"were searched {legs.depth} deep: collect them deeper"
        )
    lists = [legs.hits(leg, qid) for leg in method.legs]
    if method.scoring == "grouped":
        lists = [_grouped(hits, legs)[:candidates] for hits in lists]
    else:
        lists = [hits[:candidates] for hits in lists]
    if len(lists) == 1:
        fused = lists[0]
    else:
        assert method.fusion is not None
        fused = fuse(lists, method.fusion)
    if method.scoring == "mean":
        sums: dict[str, list[float]] = {}
        for h in fused:
            sums.setdefault(legs.doc(str(h.id)), []).append(h.score)
        order = sorted(sums, key=lambda d: -sum(sums[d]) / len(sums[d]))
        return order[:depth]
    ranked = [legs.doc(str(h.id)) for h in fused]
    return list(dict.fromkeys(ranked))[:depth]


def score_methods(
    legs: LegSet,
    qrels: Mapping[str, Mapping[str, int]],
    methods: Sequence[Method],
    *,
    depth: int = 100,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> list[RunResult]:
    """Score each method over the judged queries in ``qrels`` (queries without legs
    count as retrieving nothing). No latency is recorded."""
    out = []
    for method in methods:
        ranked = {
            q: rank_documents(legs, q, method, depth) for q in qrels if q in legs.legs["dense"]
        }
        run = ranked_run(ranked)
        out.append(RunResult(method.name, run, [], score_run(qrels, run, metrics)))
    return out

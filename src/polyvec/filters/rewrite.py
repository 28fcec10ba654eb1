"""Operators defined by others, rewritten into them; shared by the backends.

``is_null``, ``contains_any`` and ``contains_all`` mean exactly a small tree of the core
operators, so a backend without a native form translates the rewritten tree instead
(the capability table calls that *rewritten*)::

    >>> from polyvec.filters import F
    >>> rewrite(F("tags").contains_any(["a", "b"]))
    Or(children=(Comparison(field='tags', op=<Op.CONTAINS: 'contains'>, value='a'), \
Comparison(field='tags', op=<Op.CONTAINS: 'contains'>, value='b')))
    >>> rewrite(F("a").is_null())
    Comparison(field='a', op=<Op.EXISTS: 'exists'>, value=False)

:func:`text_match_unsupported` is the one error a backend without an exact substring
search raises for ``text_match``.
"""

from __future__ import annotations

from polyvec.errors import UnsupportedFilterError
from polyvec.filters.ast import And, Comparison, Filter, Op, Or

__all__ = ["REWRITTEN", "rewrite", "text_match_unsupported"]

REWRITTEN = frozenset({Op.IS_NULL, Op.CONTAINS_ANY, Op.CONTAINS_ALL})
"""The operators :func:`rewrite` expands."""


def rewrite(c: Comparison) -> Filter:
    """The equivalent tree of core operators for ``c`` (``c`` itself if there is none):
    ``is_null(flag)`` is ``exists(not flag)``, ``contains_any(vs)`` is ``Or`` of
    ``contains(v)``, ``contains_all(vs)`` is ``And`` of ``contains(v)``."""
    if c.op is Op.IS_NULL:
        return Comparison(c.field, Op.EXISTS, not c.value)
    if c.op is Op.CONTAINS_ANY:
        return Or(tuple(Comparison(c.field, Op.CONTAINS, v) for v in c.value))
    if c.op is Op.CONTAINS_ALL:
        return And(tuple(Comparison(c.field, Op.CONTAINS, v) for v in c.value))
    return c


def text_match_unsupported(backend: str, why: str = "") -> UnsupportedFilterError:
    """The error for ``text_match`` on a backend that cannot run it exactly."""
    reason = why or f"{backend} has no exact, case-sensitive substring test on metadata"
    return UnsupportedFilterError(
        backend,
        Op.TEXT_MATCH.value,
        f"{reason}; filter on whole values with eq/in/contains instead, run the query on "
        "a backend whose capabilities list text_match (qdrant, pgvector), or narrow the "
        "results client-side with polyvec.filters.select",
    )

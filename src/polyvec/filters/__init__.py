"""The portable filter language: AST and builder, dict parser, reference evaluator.

    >>> from polyvec.filters import F, matches, parse_filter, to_dict
    >>> f = parse_filter({"page": {"$gte": 3}, "lang": {"$in": ["en", "de"]}})
    >>> f == (F("page") >= 3) & F("lang").is_in(["en", "de"])
    True
    >>> matches(f, {"page": 5, "lang": "de"})
    True
    >>> to_dict(F("draft") != True)
    {'draft': {'$ne': True}}

See docs/filters.md for the operators and the semantics table.
"""

from polyvec.filters.ast import And, Comparison, F, Filter, Not, Op, Or
from polyvec.filters.evaluate import matches, select
from polyvec.filters.parse import FilterLike, parse_filter, to_dict

__all__ = [
    "And",
    "Comparison",
    "F",
    "Filter",
    "FilterLike",
    "Not",
    "Op",
    "Or",
    "matches",
    "parse_filter",
    "select",
    "to_dict",
]

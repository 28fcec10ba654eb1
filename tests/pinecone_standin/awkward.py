"""The awkward-values table shared by the Pinecone (stand-in) and Weaviate translation
tests: metadata that trips engines up (nulls, empty lists, nested and mixed lists,
bools vs ints, numeric strings, big ints, dates with offsets, odd keys) and filters
over it. Every backend must select exactly what the reference evaluator selects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Not, Or

__all__ = ["AWKWARD", "AWKWARD_FILTERS"]

AWKWARD: list[dict[str, Any]] = [
    {"x": 3},
    {"x": 3.0},
    {"x": "3"},
    {"x": True},
    {"x": 1},
    {"x": None},
    {},
    {"x": []},
    {"x": [3, "a"]},
    {"x": [None]},
    {"x": {"y": 3}},
    {"x": [{"y": 3}]},
    {"x": [[3]]},
    {"x": "2024-01-02T00:00:00Z"},
    {"x": "2024-01-02"},
    {"x": 3.5},
    {"x": ["3"]},
    {"x": False},
    {"x": 0},
    {"x": "2024-01-02T00:00:00+01:00"},
    {"x": [None, 3]},
    {"x": {}},
    {"x": [True, 1]},
    {"x": [[3], 3]},
    {"x": {"y": None}},
    {"x": {"y": []}},
    {"x": [2.5, 7]},
    {"x": 2**60},
    {"x": 2**60 + 1},
    {"x": 10**400},
    {"x": ["2024-01-01", "2024-03-01"]},
    {"x": " a "},
    {"x": "a"},
    {"a-b": 1, "a b": 2, "ü": 3, "x$": 4, "1": 5, "a.b": 6, "a": {"b": 7}, "h#sh": 8},
    {"n": {"m": {"k": ["deep"]}}},
]
WHEN = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
AWKWARD_FILTERS: list[Filter] = [
    *(F("x") == v for v in (3, 3.0, "3", True, False, 1, 0, "a", " a ", WHEN, 2.5)),
    *(F("x") == v for v in (2**60, 2**60 + 1, 10**400, float(2**60))),
    *(F("x") != v for v in (3, True, "3", WHEN, 2**60)),
    F("x").is_in([3, "a", True]),
    F("x").is_in(["3", "a", "b"]),
    F("x").is_in([]),
    F("x").not_in([3, 1]),
    F("x").not_in([3, "3", False]),
    F("x").not_in([]),
    F("x").exists(),
    ~F("x").exists(),
    F("x.y").exists(),
    F("x.y") == 3,
    *(F("x").contains(v) for v in (3, "3", True, 1, "a", 2.5, WHEN)),
    *(~F("x").contains(v) for v in (3, "a")),
    F("x") > 2,
    F("x") >= 3,
    F("x") < 1,
    F("x") <= 0.5,
    F("x") > 2**52,
    ~(F("x") > 2),
    F("x") >= WHEN,
    F("x") < WHEN,
    F("x") > dt.date(2024, 1, 1),
    F("x") > dt.date(2024, 2, 1),
    ~(F("x") < WHEN),
    And(()),
    Or(()),
    Not(Or(())),
    Not(And(())),
    Or((F("x") == 3, ~F("x").exists())),
    And((F("x") >= 0, Not(F("x") == 1))),
    Not(Or((F("x") == 3, F("x") == "a"))),
    F("a-b") == 1,
    F("a b") == 2,
    F("ü") == 3,
    F("x$") == 4,
    F("1") == 5,
    F("a.b") == 7,
    F("a.b") == 6,
    F("n.m.k").contains("deep"),
    F("n.m").exists(),
    F("n.m.k.z").exists(),
]

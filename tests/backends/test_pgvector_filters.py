"""pgvector filters: SQL over jsonb must select exactly what the reference evaluator
(``polyvec.filters.evaluate``) selects — for hypothesis-generated metadata and filter
trees, and for a table of awkward values — and no key or value ever becomes SQL text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from polyvec.backends.base import CollectionSpec
from polyvec.filters import F, Filter
from polyvec.filters.ast import And, Comparison, Not, Op, Or
from polyvec.filters.evaluate import select
from polyvec.types import Document
from tests.conftest import engine_for
from tests.strategies import sample_value

pytestmark = pytest.mark.pgvector

psycopg = pytest.importorskip("psycopg")
from polyvec.backends.pgvector import PgVectorBackend  # noqa: E402
from polyvec.backends.pgvector.filters import Params, to_sql  # noqa: E402


@pytest.fixture(scope="module")
def pg(engines) -> Iterator[PgVectorBackend]:
    backend = engine_for(engines, "pgvector").make("pgvector", f"f{uuid.uuid4().hex[:10]}")
    assert isinstance(backend, PgVectorBackend)
    try:
        yield backend
    finally:
        backend.close()


def load(pg: PgVectorBackend, metadata: list[dict[str, Any]], **options: Any) -> str:
    name = f"f_{uuid.uuid4().hex[:8]}"
    pg.create_collection(
        CollectionSpec(name, 2, "dot", sparse=False, options={"index": "none", **options})
    )
    pg.upsert(name, [Document(i, "", m, np.array([1.0, i])) for i, m in enumerate(metadata)])
    return name


def check(pg: PgVectorBackend, name: str, metadata: list[dict[str, Any]], f: Filter) -> None:
    want = sorted(select(f, dict(enumerate(metadata))))
    got = sorted(d.id for page in pg.scroll(name, filter=f, batch_size=500) for d in page)
    assert got == want, f"{f!r}: SQL selects {got}, the evaluator {want}"
    assert pg.count(name, f) == len(want), f
    hits = pg.search_dense(name, np.array([1.0, 0.0]), max(len(metadata), 1), f)
    assert sorted(int(h.id) for h in hits) == want, f


# Random metadata and random filter trees over every operator, on every engine: the
# shared suite tests/conformance/test_filter_differential.py. Below: what it does not
# cover (awkward values, hostile strings and keys, translation details).


# -- awkward values -------------------------------------------------------------------
WHEN = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
AWKWARD: list[dict[str, Any]] = [
    {"x": 3},
    {"x": 3.0},
    {"x": "3"},
    {"x": True},
    {"x": 1},
    {"x": 0},
    {"x": False},
    {"x": None},
    {},
    {"x": []},
    {"x": {}},
    {"x": [3, "a"]},
    {"x": [None]},
    {"x": [None, 3]},
    {"x": [[3]]},
    {"x": [[3], 3]},
    {"x": [True, 1]},
    {"x": {"y": 3}},
    {"x": {"y": None}},
    {"x": {"y": []}},
    {"x": [{"y": 3}]},
    {"x": 3.5},
    {"x": [2.5, 7]},
    {"x": ["3"]},
    {"x": 2**60},
    {"x": 1e300},
    {"x": -1e-300},
    {"x": "2024-01-02"},
    {"x": "2024-01-02T00:00:00Z"},
    {"x": "2024-01-02T01:00:00+01:00"},
    {"x": "2024-01-01T23:30:00-00:30"},
    {"x": "20240102"},
    {"x": "2024-W01-2"},
    {"x": ["nope", "2024-01-02T00:00"]},
    {"x": "2024-02-30"},
    {"x": "' OR '1'='1"},
    {"a-b": 1, "a b": 2, "ü": 3, "x$": 4, "1": 5, "a.b": 6, "a": {"b": 7}},
    {"it's": 1, 'say "hi"': 2, "a\\b": 3, "ключ": {"键": 4}, "x') OR TRUE --": 5},
]
AWKWARD_FILTERS: list[Filter] = [
    *(F("x") == v for v in (3, 3.0, "3", True, False, 1, 0, "a", WHEN, 2.5, 2**60, 1e300)),
    *(F("x") != v for v in (3, True, "3", WHEN)),
    F("x").is_in([3, "a", True]),
    F("x").is_in(["3", "a", "b", WHEN]),
    F("x").is_in([]),
    F("x").not_in([3, 1]),
    F("x").not_in([]),
    F("x").exists(),
    ~F("x").exists(),
    F("x").exists(False),
    F("x.y").exists(),
    F("x.y") == 3,
    F("x.0") == 3,
    *(F("x").contains(v) for v in (3, "3", True, 1, "a", 2.5, WHEN)),
    F("x") > 2,
    F("x") >= 3,
    F("x") < 1,
    F("x") <= 0.5,
    F("x") > 2**59,
    F("x") < -1e-301,
    F("x") >= WHEN,
    F("x") > WHEN,
    F("x") < WHEN,
    F("x") <= dt.datetime(2024, 1, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-1))),
    F("x") > dt.date(2024, 1, 1),
    And(()),
    Or(()),
    Not(Or(())),
    Not(And(())),
    Or((F("x") == 3, ~F("x").exists())),
    And((F("x") >= 0, Not(F("x") == 1))),
    Not(Not(F("x") == 3)),
    F("a-b") == 1,
    F("a b") == 2,
    F("ü") == 3,
    F("x$") == 4,
    F("1") == 5,
    F("a.b") == 7,
    F("a.b") == 6,
    F("it's") == 1,
    F('say "hi"') == 2,
    F("a\\b") == 3,
    F("ключ.键") == 4,
    F("x') OR TRUE --") == 5,
    F("x") == "' OR '1'='1",
    F("x") == "'; DROP TABLE polyvec_collections; --",
    F("x'; DROP TABLE polyvec_collections; --") != 1,
    F("nul\x00key") != 1,
    F("nul\x00key").exists(),
    *(F("x").text_match(v) for v in ("3", "a", "'", "%", "_", "2024-01", "\\", "nul\x00", "0Z")),
    ~F("x").text_match("a"),
    F("x").contains_any([3, "a", True]),
    F("x").contains_all([3, "a"]),
    F("x").contains_all([]),
    F("x").is_null(),
    F("x").is_null(False),
]


@pytest.mark.parametrize("filterable", [(), ("x", "x.y", "a.b", "it's")], ids=["plain", "gin"])
def test_awkward_values_match_the_evaluator(pg: PgVectorBackend, filterable) -> None:
    name = load(pg, AWKWARD, filterable=list(filterable))
    try:
        for f in AWKWARD_FILTERS:
            check(pg, name, AWKWARD, f)
        assert name in pg.list_collections()  # and nothing was dropped by the attempts
    finally:
        pg.drop_collection(name)


# -- no key or value in the SQL text ----------------------------------------------------
INJECTIONS = [
    "x'); DROP TABLE users; --",
    'x"; DROP SCHEMA public CASCADE; --',
    "x$1",
    "%s",
    "%(p0)s",
    "a.b'c",
    "\\'; SELECT pg_sleep(10); --",
]


def _everything(key: str, value: str) -> Filter:
    return (
        (F(key) == value)
        | F(key).is_in([value, 3])
        | F(key).contains(value)
        | (F(key) >= 3)
        | ~F(key).exists()
        | (F(key) != value)
    )


@pytest.mark.parametrize("payload", INJECTIONS)
def test_keys_and_values_are_parameters(pg: PgVectorBackend, payload: str) -> None:
    """The SQL text is the same whatever the key and value: both are bind parameters."""
    benign = ".".join(f"k{i}" for i, _ in enumerate(payload.split(".")))
    got, want = Params(), Params()
    text = to_sql(_everything(payload, payload), got).as_string(None)
    assert text == to_sql(_everything(benign, "v"), want).as_string(None)
    assert set(payload.split(".")) <= {v for v in got.values.values() if isinstance(v, str)}
    metadata = [{payload: payload}, {"other": 1}, {payload.split(".")[0]: {"x": 1}}]
    name = load(pg, metadata)
    try:
        check(pg, name, metadata, _everything(payload, payload))
        check(pg, name, metadata, F(payload) == payload)
    finally:
        pg.drop_collection(name)


def test_every_operator_translates() -> None:
    for op in Op:
        params = Params()
        assert to_sql(Comparison("k", op, sample_value(op)), params).as_string(None)
    assert to_sql(None, Params()).as_string(None) == "TRUE"
    assert to_sql(And(()), Params()).as_string(None) == "TRUE"
    assert to_sql(Or(()), Params()).as_string(None) == "FALSE"


def test_gin_index_serves_declared_keys(pg: PgVectorBackend) -> None:
    from psycopg import sql

    metadata = [{"tags": [f"t{i % 2000}", "all"], "n": i} for i in range(20000)]
    name = load(pg, metadata, filterable=["tags"])
    try:
        layout = pg._layout(name)
        pg._session.run(lambda c: c.execute(sql.SQL("ANALYZE {}").format(layout.qualified)))
        params = Params()
        where = to_sql(F("tags").contains("t3"), params)
        query = sql.SQL("EXPLAIN SELECT id FROM {} WHERE {}").format(layout.qualified, where)
        plan = "\n".join(
            r[0] for r in pg._session.run(lambda c: c.execute(query, params.values).fetchall())
        )
        assert "Bitmap Index Scan" in plan and f"{layout.table}_f_" in plan, plan
    finally:
        pg.drop_collection(name)

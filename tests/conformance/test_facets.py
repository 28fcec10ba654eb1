"""Facet counts on every backend equal the reference evaluator's.

The count of a value ``v`` of ``field`` under a filter ``f`` must be
``len(select(f & (F(field) == v), docs))`` — the definition in :mod:`polyvec.facets` —
for every value any document holds, on the differential suite's random corpus (lists,
nulls, missing keys, nested dicts, unicode, numeric strings) under random filter trees,
and on a hand-made corpus of the values that break facet counts elsewhere: ``True`` vs
``1`` vs ``1.0`` vs ``"1"``, ints beyond 2**53, NFC vs NFD, duplicates inside lists,
lists inside lists, dicts, ``null`` and ``[]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from polyvec.backends.base import Backend
from polyvec.backends.values import plain_metadata
from polyvec.errors import (
    ConfigurationError,
    FilterSyntaxError,
    ScanLimitError,
    UnsupportedFilterError,
)
from polyvec.facets import Facets, facet_key
from polyvec.filters import F, Filter, select
from tests.conformance.test_filter_differential import CORPUS, _load
from tests.conftest import _Engines, engine_for, variants_for
from tests.strategies import FILTER_FIELDS, filters

MIXED: list[dict[str, Any]] = [
    {"v": True},
    {"v": 1},
    {"v": 1.0},
    {"v": "1"},
    {"v": [1, 1, "1", True, [1], {"a": 1}, None]},
    {"v": None},
    {"v": []},
    {},
    {"v": {"x": 1}},
    {"v": 2**53 + 1},
    {"v": float(2**53)},
    {"v": 2**53},
    {"v": "\u00e9"},  # é, NFC
    {"v": "e\u0301"},  # é, NFD: another string
    {"v": 2.5},
    {"v": ""},
    {"v": False},
    {"v": 0},
]
"""Values facet counts must keep apart (or together) exactly as ``==`` filters do."""

MIXED_EXPECTED: list[tuple[Any, int]] = [
    (1, 3),  # 1, 1.0 and the list holding 1 (once, though it holds 1 twice)
    (True, 2),
    (2**53, 2),  # the int and the float 2**53 are one number
    ("1", 2),
    (False, 1),
    (0, 1),
    (2.5, 1),
    (2**53 + 1, 1),
    ("", 1),
    ("e\u0301", 1),
    ("\u00e9", 1),
]
"""Written out by hand (and checked against the evaluator below): by count, ties as
booleans, numbers, strings by code point."""


@dataclass
class Loaded:
    variant: str
    backend: Backend
    docs: str
    mixed: str
    stored: list[Mapping[str, Any]]
    """The random corpus as the engine stores it (qdrant-edge changes some floats in
    the last digit, and then filters by the changed value): the reference is the
    evaluator over what the engine holds; round trips are the conformance suite's."""


@pytest.fixture(scope="module", params=variants_for())
def loaded(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[Loaded]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"f{uuid.uuid4().hex[:10]}")
    try:
        docs = _load(backend, CORPUS)
        held = {int(d.id): d.metadata for b in backend.scroll(docs, batch_size=500) for d in b}
        stored = [held[i] for i in range(len(CORPUS))]
        # an int the engine refuses at write (beyond ±2**53 on Qdrant) is left out
        mixed = [m if _storable(backend, m.get("v")) else {} for m in MIXED]
        yield Loaded(variant, backend, docs, _load(backend, mixed), stored)
    finally:
        backend.close()


def _storable(backend: Backend, value: Any) -> bool:
    limit = backend.max_exact_int
    big = isinstance(value, int) and not isinstance(value, bool) and abs(value) > (limit or 0)
    return limit is None or not big


def reference(
    field: str, filter: Filter | None, metadatas: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, int]]:
    """Facet counts by the definition: for every scalar value any document holds (as
    stored), the documents that ``filter & F(field) == value`` selects; ranked as
    documented. Independent of :func:`polyvec.facets.count_values`."""
    stored = {i: plain_metadata(m, "metadata") for i, m in enumerate(metadatas)}
    values: dict[Any, Any] = {}
    for meta in stored.values():
        node: Any = meta
        for part in field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        for item in node if isinstance(node, list) else [node]:
            key = facet_key(item)
            if key is not None and not isinstance(item, (list, dict)):
                values.setdefault(key, item)
    out = []
    for key, value in values.items():
        eq = F(field) == value
        n = len(select(eq if filter is None else filter & eq, stored))
        if n:
            out.append((key, n))
    out.sort(key=lambda kv: (-kv[1], kv[0]))
    return [(key[1], n) for key, n in out]


def _typed(items: list[tuple[Any, int]]) -> list[tuple[str, Any, int]]:
    """Items with the value's type class, so that ``True`` never passes for ``1``."""
    kind = {0: "bool", 1: "number", 2: "str"}
    return [(kind[facet_key(v)[0]], v, n) for v, n in items]  # type: ignore[index]


def _check(
    loaded: Loaded, name: str, metadata: Sequence[Mapping[str, Any]], field: str, f: Any
) -> bool:
    try:
        got = loaded.backend.facet(name, field, filter=f, limit=None)
    except UnsupportedFilterError as exc:  # only what the filter suites allow
        support = loaded.backend.capabilities.filter_support(exc.operator)
        assert support in ("unsupported", "restricted"), (loaded.variant, exc)
        return False
    want = reference(field, f, metadata)
    assert _typed(got.items()) == _typed(want), f"{loaded.variant}: facet {field!r} under {f!r}"
    assert not got.more
    native = loaded.backend.capabilities.feature_support("facet") == "native"
    assert got.method == ("native" if native else "scan")
    return True


def test_facet_mixed_values(loaded: Loaded) -> None:
    want = reference("v", None, MIXED)
    assert _typed(want) == _typed(MIXED_EXPECTED)  # the hand-written answer is the definition's
    got = loaded.backend.facet(loaded.mixed, "v", limit=None)
    assert isinstance(got, Facets)
    expected = [(v, n) for v, n in MIXED_EXPECTED if _storable(loaded.backend, v)]
    assert _typed(got.items()) == _typed(expected), loaded.variant
    assert got.count_of(1.0) == 3 and got.count_of(True) == 2 and got.count_of("x") == 0


def test_facet_limit_keeps_the_first_values_and_says_more(loaded: Loaded) -> None:
    full = loaded.backend.facet(loaded.mixed, "v", limit=None).items()
    for limit in (1, 3, 4, len(full), len(full) + 5):
        got = loaded.backend.facet(loaded.mixed, "v", limit=limit)
        assert _typed(got.items()) == _typed(full[:limit])
        assert got.more is (limit < len(full))


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(f=filters(max_leaves=5))
def test_facet_random_filters_match_the_evaluator(loaded: Loaded, f: Filter) -> None:
    """Every field of the random corpus (lists, nested keys, a field never present)
    under a random filter tree."""
    for field in (*FILTER_FIELDS, "meta"):
        if not _check(loaded, loaded.docs, loaded.stored, field, f):
            return


def test_facet_without_filter_and_on_nested_fields(loaded: Loaded) -> None:
    for field in (*FILTER_FIELDS, "meta"):
        assert _check(loaded, loaded.docs, loaded.stored, field, None)
    assert loaded.backend.facet(loaded.docs, "absent", limit=None).items() == []


def test_facet_scan_limit_raises_before_counting(loaded: Loaded) -> None:
    backend = loaded.backend
    few = F("v") == 1  # three documents
    support = backend.capabilities.feature_support("facet")
    assert support in ("native", "emulated"), backend.capabilities.backend
    if support == "native":  # counted by the engine: no scan, no cap
        assert backend.facet(loaded.mixed, "v", scan_limit=0).count_of(1) == 3
        return
    with pytest.raises(ScanLimitError) as info:
        backend.facet(loaded.mixed, "v", scan_limit=len(MIXED) - 1)
    assert info.value.matching == len(MIXED) and info.value.limit == len(MIXED) - 1
    assert backend.capabilities.backend in str(info.value)
    got = backend.facet(loaded.mixed, "v", filter=few, scan_limit=3)
    assert got.method == "scan" and got.scanned == 3
    assert _typed(got.items()) == _typed(reference("v", few, MIXED))
    with pytest.raises(ScanLimitError):
        backend.facet(loaded.mixed, "v", filter=few, scan_limit=2)


def test_facet_refuses_bad_arguments(loaded: Loaded) -> None:
    backend = loaded.backend
    with pytest.raises(FilterSyntaxError):
        backend.facet(loaded.mixed, "")
    with pytest.raises(FilterSyntaxError):
        backend.facet(loaded.mixed, "a..b")
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigurationError):
            backend.facet(loaded.mixed, "v", limit=bad)
    with pytest.raises(ConfigurationError):
        backend.facet(loaded.mixed, "v", scan_limit=-1)

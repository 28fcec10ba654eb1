"""Randomized: LlamaIndex filters through polyvec against LlamaIndex's own ``SimpleVectorStore``.

The same random metadata (lists, empty lists, ``None``, strings, ints, floats, bools,
dotted keys) goes into a real ``SimpleVectorStore`` and, through the LlamaIndex adapter's
``node_to_document``, into polyvec's reference evaluator; the same random
``MetadataFilters`` (every ``FilterOperator``, ``and``/``or``/``not``) select from both.
Every disagreement must be one of :data:`DIFFERENCES`, each listed in docs/filters.md;
polyvec may refuse a filter only for a reason in :func:`refusable`; where
``SimpleVectorStore`` raises ``TypeError`` it defines no answer to compare with.

``POLYVEC_LLAMA_EXAMPLES=20000`` runs a large comparison on demand (default 200, about 1 s,
plus the cases of issue 16 as explicit examples).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from polyvec.errors import FilterError
from polyvec.filters import matches
from polyvec.filters.ast import parse_iso_datetime
from polyvec.integrations._common import visible_metadata
from polyvec.integrations.llama_index import metadata_filters_to_ast, node_to_document

pytestmark = pytest.mark.llamaindex

EXAMPLES = int(os.environ.get("POLYVEC_LLAMA_EXAMPLES", "200"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "filters.md"

Op = FilterOperator
RANGES = {Op.GT, Op.GTE, Op.LT, Op.LTE}

# -- what may differ, and why (each phrase is in docs/filters.md) --------------------------
DIFFERENCES = {
    "list_whole_value": "`==`, `!=`, `in`, `nin` on a list field",
    "bool_is_not_a_number": "a bool never equals or orders with a number",
    "substring_contains": "`contains`, `any`, `all` on a string field",
    "is_empty_empty_string": '`is_empty` on `""`',
    "range_on_strings": "a range between two strings",
    "dotted_key_prefix": "`is_empty` on the first part of a dotted key",
}


def _numbers(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items)


def difference(f: MetadataFilter, metadata: dict[str, Any]) -> str | None:
    """The documented difference that lets polyvec answer ``f`` otherwise, if any."""
    op, value, mv = f.operator, f.value, metadata.get(f.key)
    if op in (Op.EQ, Op.NE, Op.IN, Op.NIN) and isinstance(mv, list) and mv:
        return "list_whole_value"
    bools = mv if isinstance(mv, list) else [mv]
    if any(isinstance(b, bool) for b in bools) and _numbers(value):
        return "bool_is_not_a_number"
    if op in (Op.CONTAINS, Op.ANY, Op.ALL) and isinstance(mv, str):
        return "substring_contains"
    if op is Op.IS_EMPTY and mv == "":
        return "is_empty_empty_string"
    if op in RANGES and isinstance(mv, str) and isinstance(value, str):
        return "range_on_strings"
    if op is Op.IS_EMPTY and any(k.startswith(f"{f.key}.") for k in metadata):
        return "dotted_key_prefix"
    return None


def refusable(f: MetadataFilter) -> bool:
    """Filters polyvec refuses with a typed error instead of answering otherwise."""
    op, value = f.operator, f.value
    if op is Op.TEXT_MATCH_INSENSITIVE or (value is None and op is not Op.IS_EMPTY):
        return True
    if op is Op.TEXT_MATCH and value == "":
        return True
    if op is Op.ALL and value == []:
        return True
    return op in RANGES and isinstance(value, str) and parse_iso_datetime(value) is None


# -- random metadata and filters -----------------------------------------------------------
KEYS = ["a", "b", "file.name"]
STRINGS = ["", "x", "xy", "2024-05-01", "2024-05-01T00:00:00Z"]
meta_value = st.one_of(
    st.none(),
    st.sampled_from(STRINGS),
    st.integers(-2, 2),
    st.sampled_from([0.5, 1.0, -1.5]),
    st.booleans(),
    st.lists(st.sampled_from(["", "x", "y"]), max_size=3),
    st.lists(st.integers(-2, 2), max_size=3),
    st.lists(st.booleans(), max_size=2),
)
metadata = st.dictionaries(st.sampled_from(KEYS), meta_value, max_size=3)
scalar = st.one_of(st.sampled_from(STRINGS), st.integers(-2, 2), st.sampled_from([0.5, 1.0]))
many = st.one_of(
    st.lists(st.sampled_from(["", "x", "y"]), max_size=3), st.lists(st.integers(-2, 2), max_size=3)
)
VALUES: dict[Op, Any] = {
    **dict.fromkeys((Op.EQ, Op.NE, Op.CONTAINS), st.one_of(scalar, st.none())),
    **dict.fromkeys(RANGES, st.one_of(st.integers(-2, 2), st.sampled_from([0.5, "x", *STRINGS]))),
    **dict.fromkeys((Op.IN, Op.NIN, Op.ANY, Op.ALL), many),
    **dict.fromkeys((Op.TEXT_MATCH, Op.TEXT_MATCH_INSENSITIVE), st.sampled_from(["x", "", "2024"])),
    Op.IS_EMPTY: st.none(),
}
assert set(VALUES) == set(FilterOperator)  # a new operator must be added here


@st.composite
def one_filter(draw: st.DrawFn) -> MetadataFilter:
    op = draw(st.sampled_from(list(FilterOperator)))
    key = draw(st.sampled_from([*KEYS, "file"]))
    return MetadataFilter(key=key, operator=op, value=draw(VALUES[op]))


filters_st = st.builds(
    lambda fs, cond: MetadataFilters(filters=fs, condition=cond),
    st.lists(one_filter(), min_size=1, max_size=3),
    st.sampled_from(["and", "or", "not"]),
)


def f(key: str, op: str, value: Any = None) -> MetadataFilter:
    return MetadataFilter(key=key, operator=op, value=value)


# -- the two sides -------------------------------------------------------------------------
def theirs_leaf(f: MetadataFilter, meta: dict[str, Any]) -> bool | None:
    """LlamaIndex's own answer for one filter; ``None`` where it raises TypeError."""
    fn = build_metadata_filter_fn(lambda _: meta, MetadataFilters(filters=[f]))
    try:
        return fn("n")
    except TypeError:
        return None


def ours(filters: MetadataFilters, meta: dict[str, Any]) -> bool:
    doc = node_to_document(TextNode(id_="n", text="t", metadata=meta))
    return matches(metadata_filters_to_ast(filters), visible_metadata(doc.metadata))


def simple_store(metas: list[dict[str, Any]]) -> SimpleVectorStore:
    store = SimpleVectorStore()
    store.add(
        [
            TextNode(id_=f"n{i}", text="t", metadata=m, embedding=[1.0, 0.0])
            for i, m in enumerate(metas)
        ]
    )
    return store


def theirs_all(store: SimpleVectorStore, filters: MetadataFilters, i: int) -> bool:
    """Whether the real ``SimpleVectorStore`` query returns node ``i`` (raises TypeError)."""
    query = VectorStoreQuery(
        query_embedding=[1.0, 0.0], similarity_top_k=50, filters=filters, node_ids=[f"n{i}"]
    )
    return f"n{i}" in (store.query(query).ids or [])


def compare(metas: list[dict[str, Any]], filters: MetadataFilters) -> None:
    try:
        metadata_filters_to_ast(filters)
    except FilterError:
        assert any(refusable(f) for f in filters.filters), filters
        return
    store = simple_store(metas)
    for i, meta in enumerate(metas):
        agree = True
        for f in filters.filters:
            theirs = theirs_leaf(f, meta)
            mine = ours(MetadataFilters(filters=[f]), meta)
            if theirs is None:
                agree = False  # LlamaIndex defines no answer; polyvec still gives one
            elif mine != theirs:
                agree = False
                why = difference(f, meta)
                assert why is not None, f"undocumented difference: {f!r} on {meta!r}"
        if agree:  # every leaf agrees: and/or/not must too, through the real store
            assert ours(filters, meta) == theirs_all(store, filters, i), (filters, meta)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=EXAMPLES <= 200,
)
@given(st.lists(metadata, min_size=1, max_size=4), filters_st)
@example(  # issue 16: is_empty on a list holding "" is not empty
    [{"a": ["", "x"]}, {"file.name": [""]}],
    MetadataFilters(filters=[f("a", "is_empty"), f("file.name", "is_empty")], condition="or"),
)
@example(  # issue 16: a dotted key written through the adapter is found by a filter on it
    [{"file.name": "a.pdf"}, {"file.name": "b.pdf", "a": 1}],
    MetadataFilters(filters=[f("file.name", "==", "a.pdf"), f("file.name", "nin", ["b.pdf"])]),
)
def test_every_filter_operator_agrees_with_simple_vector_store_or_is_documented(
    metas: list[dict[str, Any]], filters: MetadataFilters
) -> None:
    compare(metas, filters)


# -- each listed difference is real, and in the docs --------------------------------------
EXAMPLES_OF = {
    "list_whole_value": (f("a", "==", "x"), {"a": ["x", "y"]}),
    "bool_is_not_a_number": (f("a", "==", 1), {"a": True}),
    "substring_contains": (f("a", "contains", "x"), {"a": "xy"}),
    "is_empty_empty_string": (f("a", "is_empty"), {"a": ""}),
    "range_on_strings": (f("a", ">", "2024-05-01"), {"a": "x"}),
    "dotted_key_prefix": (f("file", "is_empty"), {"file.name": "a.pdf"}),
}


@pytest.mark.parametrize("reason", sorted(DIFFERENCES))
def test_each_listed_difference_is_real_and_documented(reason: str) -> None:
    flt, meta = EXAMPLES_OF[reason]
    assert theirs_leaf(flt, meta) is not None
    assert ours(MetadataFilters(filters=[flt]), meta) != theirs_leaf(flt, meta)
    assert difference(flt, meta) == reason
    assert DIFFERENCES[reason] in DOCS.read_text(encoding="utf-8"), reason


def test_the_issue_cases_now_agree() -> None:
    # is_empty on ["", "x"] and a dotted key written through the adapter (issue 16)
    for flt, meta in [
        (f("a", "is_empty"), {"a": ["", "x"]}),
        (f("file.name", "==", "a.pdf"), {"file.name": "a.pdf"}),
        (f("file.name", "is_empty"), {"file.name": "a.pdf"}),
    ]:
        assert ours(MetadataFilters(filters=[flt]), meta) == theirs_leaf(flt, meta), flt

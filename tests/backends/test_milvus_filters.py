"""Milvus filter translation, on the real engine (Milvus Lite): every read
path must return exactly the ids the reference evaluator (``polyvec.filters.evaluate``)
selects — for hypothesis-generated metadata and filter trees, and for a table of
awkward values (nulls, empty lists, nested lists and dicts, bools vs ints, numeric
strings, dates with offsets), and hostile strings that try to escape a literal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.backends.milvus.filters import NOTHING, quote, safe_key, to_expr
from polyvec.errors import InputError, UnsupportedFilterError
from polyvec.filters import F
from polyvec.filters.ast import And, Not, Or
from polyvec.filters.evaluate import select
from polyvec.types import Document
from tests.backends.engine_filters import (
    HOSTILE,
    assert_awkward_values_filter_exactly,
    assert_hostile_strings_match_only_themselves,
    load,
)
from tests.backends.test_chroma_shadow_index import AWKWARD
from tests.conftest import _Engines, engine_for, variants_for


@pytest.fixture(params=variants_for("milvus"))
def mb(engines: _Engines, request: pytest.FixtureRequest) -> Iterator[Backend]:
    variant = str(request.param)
    backend = engine_for(engines, variant).make(variant, f"f{uuid.uuid4().hex[:10]}")
    try:
        yield backend
    finally:
        backend.close()


# Random metadata and random filter trees over every operator, on every engine: the
# shared suite tests/conformance/test_filter_differential.py. Below: what it does not
# cover (awkward values, hostile strings and keys, translation details).


def test_awkward_values_on_the_engine(mb: Backend) -> None:
    # Milvus JSON holds 64-bit integers: the one awkward value beyond them is refused
    # (test_integers_beyond_64_bits_are_refused); the rest must filter exactly.
    awkward = [m for m in AWKWARD if m.get("a") != 2**63 + 1]
    assert_awkward_values_filter_exactly(mb, awkward)


def test_hostile_strings_match_only_themselves(mb: Backend) -> None:
    assert_hostile_strings_match_only_themselves(mb)


def test_text_match_escapes_like_wildcards(mb: Backend) -> None:
    metadata = [{"s": h, "tags": [h, "x"]} for h in HOSTILE] + [
        {"s": "50%_off"},
        {"s": "50xyoff"},
        {"s": ["a\\b", "c"]},
        {"s": 5},
    ]
    name = load(mb, metadata)
    for text in ["%", "_", "\\", '"', "0%_o", "0x", "%_", "a b", "日本", "\\b", " or 1==1", "$"]:
        for f in (F("s").text_match(text), F("tags").text_match(text)):
            want = select(f, dict(enumerate(metadata)))
            assert sorted(int(d.id) for b in mb.scroll(name, filter=f) for d in b) == want, f
    # a control character cannot be written in a Milvus literal, and like has no negation
    for refused in (F("s").text_match("new\nline"), ~F("s").text_match("x")):
        with pytest.raises(UnsupportedFilterError, match="text_match"):
            mb.count(name, refused)


def test_hostile_field_names(mb: Backend) -> None:
    keys = ['q"k', "b\\k", "k$and", "#document", "sp ace", "ünï", "a[0]", "x/y"]
    metadata = [{k: i} for i, k in enumerate(keys)]
    name = load(mb, metadata)
    for i, k in enumerate(keys):
        assert [d.id for b in mb.scroll(name, filter=F(k) == i) for d in b] == [i], k
        assert mb.count(name, F(k).exists()) == 1


def test_constant_filters_skip_the_engine() -> None:
    assert to_expr(Or([])) == NOTHING
    assert to_expr(And([])) is None
    assert to_expr(Not(Or([]))) is None
    assert to_expr(None) is None


def test_expression_escapes_every_string() -> None:
    expr = to_expr(F('we"ird\\key') == '" or 1==1 or "')
    assert expr == 'pv["t"]["we\\"ird\\\\key"]["s:\\" or 1==1 or \\""] == 1'
    assert quote("\\") == '"\\\\"'
    assert quote('"') == '"\\""'
    # a string Milvus cannot hold in a literal is hex-encoded, injectively
    assert safe_key("a\nb") == "~x610a62" and safe_key("~x610a62") != "~x610a62"
    assert safe_key("") == "~x"
    assert "\n" not in (to_expr(F("s") == "new\nline") or "")


def test_hostile_ids_round_trip(mb: Backend) -> None:
    name = f"f_{uuid.uuid4().hex[:8]}"
    mb.create_collection(CollectionSpec(name, 2, "dot"))
    ids: list[str | int] = [*HOSTILE, "i:7", "s:x", "x:00", 7, -(2**63), 2**63 - 1]
    docs = [Document(i, str(i), {}, np.array([1.0, n])) for n, i in enumerate(ids)]
    mb.upsert(name, docs)
    got = mb.get(name, list(reversed(ids)))
    assert [(type(d.id), d.id) for d in got] == [(type(i), i) for i in reversed(ids)]
    mb.delete(name, ids=['" or 1==1 or "'])
    assert mb.count(name) == len(ids) - 1


def test_integers_beyond_64_bits_are_refused(mb: Backend) -> None:
    name = f"f_{uuid.uuid4().hex[:8]}"
    mb.create_collection(CollectionSpec(name, 2, "dot"))
    with pytest.raises(InputError, match="64-bit"):
        mb.upsert(name, [Document(1, "", {"a": 2**63 + 1}, np.array([1.0, 0.0]))])
    assert mb.count(name) == 0

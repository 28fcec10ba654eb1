"""Export/import in Parquet: exact round trips (ids of both types, float32 vectors bit
for bit, sparse vectors, nested metadata) readable as plain columns. What both formats
promise (the same digests, re-export identical, damaged files refused, the CLI) is in
``test_formats.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polyvec import Document
from polyvec.errors import InputError
from polyvec.transfer.parquet import read_parquet, write_parquet
from polyvec.transfer.records import Digest, doc_key
from polyvec.types import SparseVector
from tests.transfer.data import make_docs

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DIM = 8


def _tricky() -> list[Document]:
    """Every kind of id, vector and metadata value an export must keep exactly."""
    rng = np.random.default_rng(3)
    special = np.array(
        [0.0, -0.0, 1e-45, -3.4028235e38, 3.4028235e38, np.pi, 1 / 3, -1e-38], np.float32
    )
    docs = [
        Document(5, "int five", {"n": 1, "f": 1.0}, dense=special),
        Document("5", "str five", {"n": 1.0}),  # no vectors at all
        Document(2**62 + 7, "a big int id", {}, dense=rng.normal(size=DIM).astype(np.float32)),
        Document(-3, "negative id", {"none": None, "empty": {}, "list": []}),
        Document(
            "ünï-✓ id",
            "",
            {"nested": {"deep": {"x": [1, "a", None, True, 2.5]}}},
            sparse=SparseVector((3, 17, 4_000_000_000), (0.1, 1e-300, 12345.678)),
        ),
        Document(
            "dates",
            "iso datetimes are strings",
            {
                "created": "2024-02-29T23:59:59.999999+00:00",
                "day": "2024-01-01",
                "naive": "2023-12-31T08:00:00",
            },
        ),
    ]
    for doc in make_docs(30, seed=9):
        docs.append(
            doc.with_vectors(
                dense=rng.normal(size=DIM).astype(np.float32),
                sparse=SparseVector((1, 2), (0.5, 0.25)) if hash(doc.text) % 2 else None,
            )
        )
    return docs


def _header() -> dict:
    return {
        "collection": "kb",
        "engine": "none",
        "state": None,
        "spec": {"dimension": DIM, "distance": "cosine", "sparse": True, "options": {}},
    }


def _assert_same(got: list[Document], want: list[Document]) -> None:
    assert [doc_key(d.id) for d in got] == [doc_key(d.id) for d in want]
    for a, b in zip(got, want):
        assert type(a.id) is type(b.id) and a.id == b.id
        assert a.text == b.text
        assert json.dumps(a.metadata, sort_keys=True) == json.dumps(b.metadata, sort_keys=True)
        assert a.metadata == b.metadata
        if b.dense is None:
            assert a.dense is None
        else:
            assert a.dense is not None and a.dense.dtype == np.float32
            assert a.dense.tobytes() == b.dense.tobytes()  # bit for bit, -0.0 included
        assert a.sparse == b.sparse


def test_parquet_records_round_trip_exactly(tmp_path):
    docs = _tricky()
    path = tmp_path / "t.parquet"
    written = write_parquet(path, _header(), [docs[:7], docs[7:]])
    header, batches = read_parquet(path, batch_size=5)
    assert header["format"] == "polyvec-parquet/1" and header["spec"]["dimension"] == DIM
    got = [d for batch in batches for d in batch]
    _assert_same(got, docs)
    again = Digest()
    again.update(got)
    assert again.as_dict() == written.as_dict()
    table = pq.read_table(path)  # readable by any Parquet tool, as plain columns
    assert table.schema.field("dense").type == pa.list_(pa.float32(), DIM)
    assert table.column("id_is_int").to_pylist()[:3] == [True, False, True]


def test_parquet_refuses_unwritable_metadata(tmp_path):
    import datetime as dt

    bad = Document(1, "x", {"when": dt.datetime(2024, 1, 1)})  # store dates as ISO strings
    with pytest.raises(InputError, match="cannot be written as JSON"):
        write_parquet(tmp_path / "bad.parquet", _header(), [[bad]])

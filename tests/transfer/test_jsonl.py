"""Export/import to JSONL with vectors: exact record round trips, and Chroma to a
gzipped file to Qdrant. What both formats promise (re-export identical, damaged files
refused, the CLI) is in ``test_formats.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polyvec import Collection, Document
from polyvec.errors import InputError
from polyvec.transfer import export_collection, from_record, import_collection, to_record
from polyvec.transfer.records import Digest, record_line
from tests.transfer.conftest import fill, opened
from tests.transfer.data import HashEmbedder, make_docs


def test_records_round_trip_exactly():
    docs = make_docs(20)
    rng = np.random.default_rng(1)
    for doc in docs:
        dense = rng.normal(size=7).astype(np.float32)
        back = from_record(json.loads(json.dumps(to_record(doc.with_vectors(dense=dense)))))
        assert back == doc and type(back.id) is type(doc.id)
        assert back.dense is not None and back.dense.tobytes() == dense.tobytes()
    bad = Document(1, "x", {"bad": float("nan")})
    with pytest.raises(InputError, match="cannot be written as JSON"):
        record_line(bad)
    with pytest.raises(InputError, match="cannot be written as JSON"):
        Digest().update([bad])


@pytest.mark.chroma
@pytest.mark.qdrant
def test_chroma_to_file_to_qdrant(engine_url, tmp_path):
    a, b = opened(engine_url("chroma-local")), opened(engine_url("qdrant-local"))
    try:
        coll = fill(a, "kb", 60)
        path = tmp_path / "kb.jsonl.gz"
        export_collection(a, "kb", path)
        report = import_collection(b, path, collection="restored")
        assert report.verification is not None and report.verification.ok
        assert report.verification.max_dense_diff < 1e-5
        copy = Collection(b, "restored", embedder=HashEmbedder(), create=False)
        assert copy.count() == 61 and copy.stats.n_docs == coll.stats.n_docs
        assert [h.id for h in copy.search("retry secret", k=3, mode="dense")] == [
            h.id for h in coll.search("retry secret", k=3, mode="dense")
        ]
    finally:
        a.close()
        b.close()

"""The stored form of user ids, pinned per backend: data written by one polyvec release
must stay readable by the next, so these encodings never change."""

from __future__ import annotations

import doctest
from collections.abc import Callable

import pytest

from polyvec.backends import ids
from polyvec.backends.chroma import layout as chroma
from polyvec.backends.milvus import layout as milvus
from polyvec.backends.pgvector import codec as pgvector
from polyvec.backends.pinecone import codec as pinecone
from polyvec.backends.qdrant._shared import point_id
from polyvec.backends.weaviate.schema import object_id
from polyvec.errors import InputError
from polyvec.types import DocId

IDS: list[DocId] = [7, "7", -3, "", "ключ", "it's", "a b%c", "tab\there", 10**20]

TAGGED = ["i:7", "s:7", "i:-3", "s:", "s:ключ", "s:it's", "s:a b%c", "s:tab\there",
          "i:100000000000000000000"]  # fmt: skip
PINECONE = ["i:7", "s:7", "i:-3", "s:", "s:%D0%BA%D0%BB%D1%8E%D1%87", "s:it's", "s:a b%25c",
            "s:tab%09here", "i:100000000000000000000"]  # fmt: skip
MILVUS = ["i:7", "s:7", "i:-3", "s:", "s:ключ", "x:69742773", "s:a b%c", "x:7461620968657265",
          "i:100000000000000000000"]  # fmt: skip
UUIDS = [
    "91ad8c92-81a0-5d17-b05a-22fd4d487179",
    "e7303745-03f4-55da-9ca1-9c99ee502a75",
    "330bad49-70c7-5b2a-a63d-8f695ad3660f",
    "95a96698-093a-5eba-a9e5-36d67649be56",
    "16f36a95-0301-5dc2-a8f7-7a9947525ec8",
    "24472a97-2211-5092-a15e-abcb6854abbc",
    "de26d7c4-0e2c-5c96-a69c-c1fc6687f729",
    "5cf5927c-04fa-58a2-be84-596355abc77d",
    "0383e307-caff-5181-87d5-8b5a1db43c78",
]

CODECS = [
    pytest.param(chroma.encode_id, chroma.decode_id, TAGGED, id="chroma"),
    pytest.param(pgvector.encode_id, pgvector.decode_id, TAGGED, id="pgvector"),
    pytest.param(pinecone.encode_id, pinecone.decode_id, PINECONE, id="pinecone"),
    pytest.param(milvus.encode_id, milvus.decode_id, MILVUS, id="milvus"),
]


@pytest.mark.parametrize(("encode", "decode", "stored"), CODECS)
def test_tagged_ids_are_pinned_and_round_trip(
    encode: Callable[[DocId], str], decode: Callable[[str], DocId], stored: list[str]
) -> None:
    assert [encode(i) for i in IDS] == stored
    back = [decode(s) for s in stored]
    assert back == IDS and [type(b) for b in back] == [type(i) for i in IDS]


@pytest.mark.parametrize("to_uuid", [point_id, object_id], ids=["qdrant", "weaviate"])
def test_uuid_ids_are_pinned(to_uuid: Callable[[DocId], str]) -> None:
    assert [to_uuid(i) for i in IDS] == UUIDS


@pytest.mark.parametrize(
    "encode",
    [chroma.encode_id, pgvector.encode_id, pinecone.encode_id, milvus.encode_id, point_id,
     object_id],
    ids=["chroma", "pgvector", "pinecone", "milvus", "qdrant", "weaviate"],
)  # fmt: skip
@pytest.mark.parametrize("bad", [True, 1.5, None, b"7"])
def test_ids_other_than_str_or_int_are_refused(encode: Callable[[DocId], str], bad: object) -> None:
    with pytest.raises(InputError, match="str or"):
        encode(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("decode", [chroma.decode_id, pinecone.decode_id, milvus.decode_id])
def test_keys_polyvec_did_not_write_come_back_as_they_are(
    decode: Callable[[str], DocId],
) -> None:
    assert decode("plain-id") == "plain-id"


def test_docstring_examples() -> None:
    result = doctest.testmod(ids)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["docs", "my docs", "日本語", "pvx-looks-encoded", "a.b-c_d"])
def test_collection_names_round_trip_through_chroma_and_milvus(name: str) -> None:
    from polyvec.backends.chroma import layout as chroma
    from polyvec.backends.milvus import layout as milvus

    # chroma's physical name carries no prefix; milvus's does
    assert chroma.logical_name(chroma.physical_name(name), "") == name
    assert milvus.logical_name(milvus.physical_name(name, "pv_"), "pv_") == name
    assert chroma.logical_name(chroma.STATE_COLLECTION, "") is None
    assert milvus.logical_name("pv_" + milvus.STATE_COLLECTION, "pv_") is None
    assert milvus.logical_name("other_docs", "pv_") is None

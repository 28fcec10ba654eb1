"""How polyvec documents become Pinecone records and back (no SDK needed here).

**Ids.** Pinecone ids are ASCII strings of at most 512 characters, so a user id is
written with its type and percent-encoded outside printable ASCII::

    >>> encode_id("7"), encode_id(7), encode_id("ключ")
    ('s:7', 'i:7', 's:%D0%BA%D0%BB%D1%8E%D1%87')
    >>> decode_id("i:7"), decode_id("s:%D0%BA%D0%BB%D1%8E%D1%87")
    (7, 'ключ')

Ids that polyvec did not write (no ``s:``/``i:`` tag) come back unchanged, as strings.

**Metadata.** A record's metadata holds ``#doc`` (the text and the user's metadata as
one JSON string: the exact round trip) and the typed projection of the metadata that
filters run on (see :mod:`polyvec.backends.projection` and :mod:`.filters`); a record
over Pinecone's 40 KB of metadata is refused before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from polyvec.backends.base import CollectionSpec
from polyvec.backends.ids import tagged, untagged
from polyvec.backends.pinecone.filters import RESERVED, facet_key
from polyvec.backends.projection import project, stored_document
from polyvec.backends.values import plain_metadata
from polyvec.errors import (
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
)
from polyvec.types import DocId, Document, SparseVector, as_dense

__all__ = [
    "DOC_KEY",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_SPARSE_VALUES",
    "build_record",
    "check_sparse",
    "decode_id",
    "decode_metadata",
    "dense_values",
    "encode_id",
    "encode_name",
    "record_metadata",
    "request_batches",
]

DOC_KEY = "#doc"
MAX_ID_LENGTH = 512
MAX_METADATA_BYTES = 40 * 1024
MAX_SPARSE_VALUES = 1000
"""Non-zero values Pinecone accepts in one sparse vector of a sparse-dense record."""
REQUEST_BYTES = 1_800_000
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def _escape(text: str) -> str:
    return quote(text, safe=_SAFE)


def encode_id(doc_id: DocId) -> str:
    """The Pinecone record id of a user id (``"7"`` and ``7`` are two records)."""
    raw = tagged(doc_id, _escape)
    if len(raw) > MAX_ID_LENGTH:
        raise InputError(
            f"document id {doc_id!r:.60} is {len(raw)} characters once encoded for Pinecone, "
            f"which allows {MAX_ID_LENGTH}: use a shorter id (e.g. a hash of this one)"
        )
    return raw


def decode_id(raw: str) -> DocId:
    """The user id of a Pinecone record id (the inverse of :func:`encode_id`)."""
    return untagged(raw, unquote)


def encode_name(name: str) -> str:
    """A collection name as namespace text (printable ASCII, percent-encoded beyond)."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"collection name must be a non-empty str, got {name!r}")
    return _escape(name)


def record_metadata(doc: Document, *, limit: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    """The Pinecone metadata of one document: ``#doc`` plus the filter projection."""
    meta = plain_metadata(dict(doc.metadata), f"document {doc.id!r} metadata")
    out: dict[str, Any] = {DOC_KEY: json.dumps({"t": doc.text, "m": meta}, ensure_ascii=False)}
    for path, facets in project(meta, RESERVED).items():
        for facet, value in facets.items():
            out[facet_key(path, facet)] = value
    size = len(json.dumps(out, ensure_ascii=False).encode())
    if size > limit:
        raise InputError(
            f"document {doc.id!r} needs {size} bytes of Pinecone metadata (its text, its "
            f"metadata and their filter keys), over Pinecone's limit of {limit}: split the "
            "text into smaller chunks or drop large metadata values"
        )
    return out


def decode_metadata(metadata: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """``(text, user metadata)`` of a record; a record polyvec did not write gives its
    ``text`` key (LangChain's layout) and its metadata as they are."""
    meta = dict(metadata or {})
    doc = stored_document(meta.get(DOC_KEY))
    if doc is not None:
        text = doc.get("t")
        return (text if isinstance(text, str) else ""), doc["m"]
    text = meta.pop("text", "")
    return (text if isinstance(text, str) else ""), meta


# -- records -------------------------------------------------------------------------
def dense_values(spec: CollectionSpec, vector: Any, where: str) -> list[float]:
    """A dense vector as Pinecone stores it: checked, and L2-normalised for cosine
    collections (so the index's dot product is the cosine)."""
    arr = as_dense(vector, where=where)
    if arr.shape[0] != spec.dimension:
        raise DimensionMismatchError(spec.dimension, int(arr.shape[0]), where)
    norm = float(np.linalg.norm(arr.astype(np.float64)))
    if norm == 0.0:
        raise InvalidVectorError(
            f"{where} is all zeros: Pinecone rejects zero dense vectors (and a zero "
            "vector has no cosine); check the embedding model's output"
        )
    if spec.distance == "cosine":
        arr = (arr.astype(np.float64) / norm).astype(np.float32)
    return [float(x) for x in arr.tolist()]


def check_sparse(sparse: SparseVector, where: str) -> None:
    """Refuse a sparse vector Pinecone would refuse."""
    if len(sparse) > MAX_SPARSE_VALUES:
        raise InputError(
            f"{where} has a sparse vector of {len(sparse)} non-zero values; Pinecone takes "
            f"at most {MAX_SPARSE_VALUES}: split the text into smaller chunks"
        )
    if sparse.indices and sparse.indices[-1] >= 2**32:
        raise InvalidVectorError(f"{where}: Pinecone sparse indices must be below 2**32")


def build_record(spec: CollectionSpec, doc: Document) -> dict[str, Any]:
    """The upsert record of one document (id, values, sparse_values, metadata)."""
    if doc.dense is None:
        raise InvalidVectorError(
            f"document {doc.id!r} has no dense vector: embed it first "
            "(Collection.add does) or pass Document(..., dense=vector)"
        )
    record: dict[str, Any] = {
        "id": encode_id(doc.id),
        "values": dense_values(spec, doc.dense, f"document {doc.id!r}"),
        "metadata": record_metadata(doc),
    }
    sparse = doc.sparse
    if sparse is not None and len(sparse):
        if not spec.sparse:
            raise ConfigurationError(
                f"collection {spec.name!r} was created without sparse vectors "
                f"(sparse=False) but document {doc.id!r} has one"
            )
        check_sparse(sparse, f"document {doc.id!r}")
        record["sparse_values"] = {"indices": list(sparse.indices), "values": list(sparse.values)}
    return record


def request_batches(records: list[dict[str, Any]], batch_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` slices of at most ``batch_size`` records and ~1.8 MB of JSON
    (Pinecone caps an upsert request at 2 MB)."""
    start, size = 0, 0
    for i, record in enumerate(records):
        weight = len(json.dumps(record, ensure_ascii=False)) + 2
        if i > start and (i - start >= batch_size or size + weight > REQUEST_BYTES):
            yield start, i
            start, size = i, 0
        size += weight
    if start < len(records):
        yield start, len(records)

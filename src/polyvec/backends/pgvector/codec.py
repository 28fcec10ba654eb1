"""Values between Python and PostgreSQL: ids, metadata JSON, the date shadow, vectors.

Pure functions plus the psycopg adapters for pgvector's ``vector``, ``halfvec`` and
``sparsevec`` types (polyvec needs no other client library for them)::

    >>> encode_id("7"), encode_id(7), decode_id("i:7")
    ('s:7', 'i:7', 7)
    >>> dump_json({"n": 1.5, "big": 1e300})[:20]
    '{"n": 1.5, "big": 10'

**Ids.** The ``id`` column holds the id *with its type*: ``s:<text>`` for a str and
``i:<digits>`` for an int, so ``"7"`` and ``7`` are two documents and each comes back
as it went in.

**Numbers.** ``jsonb`` keeps numbers as exact decimals and drops the int/float
distinction of a value written in exponent form (``1e16`` would come back as the int
``10000000000000000``). :func:`dump_json` therefore writes every float with a decimal
point: its shortest repr below 2**53 (exact for every comparison with ints, which are
all exactly representable there), and its exact integer value from 2**53 up. Floats
and ints thus round-trip with their type, and SQL comparisons agree with Python's.

**Dates.** Filters on datetimes must match ISO-8601 strings exactly as Python's
``datetime.fromisoformat`` reads them (``polyvec.filters.evaluate``). Rather than
re-implement that parser in SQL, :func:`polyvec.backends.values.date_shadow` reads each string once at ingest
and stores its instant (microseconds since the epoch, UTC) in a ``dates`` column that
mirrors the metadata's shape; datetime filters compare those integers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from psycopg import adapt, pq
from psycopg.abc import AdaptContext

from polyvec.backends.ids import tagged, untagged
from polyvec.errors import InputError, InvalidVectorError
from polyvec.types import DocId, Document, SparseVector

__all__ = [
    "SPARSE_DIM",
    "TermIds",
    "TermWeights",
    "decode_id",
    "document_from_row",
    "dump_json",
    "encode_id",
    "register_vector_types",
]

SPARSE_DIM = 2**29
"""The dimension of every ``sparsevec`` column: hashed BM25 token ids are below 2**29."""

SPARSE_MAX_NNZ = 16_000
"""pgvector's limit on the non-zero entries of one ``sparsevec``."""

_EXACT_FLOAT_LIMIT = 2.0**53


# -- ids ------------------------------------------------------------------------------
def encode_id(doc_id: DocId) -> str:
    """The ``id`` column's text for a user id (``s:`` str, ``i:`` int)."""
    if isinstance(doc_id, str) and "\x00" in doc_id:
        raise InputError(
            f"document id {doc_id!r} contains a NUL character, which PostgreSQL cannot store"
        )
    return tagged(doc_id)


def decode_id(stored: str) -> DocId:
    """The user id back from the ``id`` column."""
    return untagged(stored)


def document_from_row(row: Sequence[Any], with_vectors: bool = False) -> Document:
    """A Document from ``(id, text, metadata[, embedding[, sparse]])``."""
    doc = Document(decode_id(row[0]), row[1], row[2])
    if with_vectors:
        sparse = row[4] if len(row) > 4 else None
        doc = doc.with_vectors(dense=np.asarray(row[3], dtype=np.float32), sparse=sparse)
    return doc


# -- metadata JSON --------------------------------------------------------------------
def _check_text(value: str, where: str) -> str:
    if "\x00" in value:
        raise InputError(
            f"{where} contains a NUL character (\\x00), which jsonb cannot store: remove it"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where} is not valid Unicode ({exc.reason}): remove lone surrogates"
        ) from None
    return value


def _float_text(value: float, where: str) -> str:
    if not math.isfinite(value):
        raise InputError(
            f"{where} is {value!r}: JSON (and jsonb) cannot store NaN or infinity; use None "
            "or a large finite number"
        )
    if abs(value) >= _EXACT_FLOAT_LIMIT:
        return f"{int(value)}.0"
    return repr(value)  # always has "." or "e": stays a float after the round trip


def _dump(value: Any, out: list[str], where: str) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, (bool, np.bool_)):
        out.append("true" if value else "false")
    elif isinstance(value, str):
        out.append(json.dumps(_check_text(value, where), ensure_ascii=False))
    elif isinstance(value, numbers.Integral):
        out.append(str(int(value)))
    elif isinstance(value, numbers.Real):
        out.append(_float_text(float(value), where))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise InputError(
                    f"{where} has the key {key!r} of type {type(key).__name__}: metadata keys "
                    "must be strings"
                )
            if i:
                out.append(", ")
            out.append(
                json.dumps(_check_text(key, f"the key {key!r} in {where}"), ensure_ascii=False)
            )
            out.append(": ")
            _dump(item, out, f"{where}[{key!r}]")
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _dump(item, out, f"{where}[{i}]")
        out.append("]")
    elif isinstance(value, (dt.date, dt.datetime)):
        out.append(json.dumps(value.isoformat()))
    else:
        raise InputError(
            f"{where} is a {type(value).__name__} ({value!r}), which JSON cannot hold: convert "
            "it to str, int, float, bool, None, a list or a dict"
        )


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` writes ``value`` exactly as :func:`_dump` would (builtin
    types only, string keys, floats finite and below 2**53)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return bool(-_EXACT_FLOAT_LIMIT < value < _EXACT_FLOAT_LIMIT)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return False


def dump_json(value: Any, where: str = "metadata") -> str:
    """JSON text for ``value`` (see the module docstring for how floats are written).

    Dates and datetimes become ISO-8601 strings, tuples become arrays; anything else
    that JSON cannot hold raises ``InputError`` naming where it is.
    """
    if _plain(value):  # the common case, in C
        text = json.dumps(value, ensure_ascii=False)
        if "\\u0000" not in text:
            try:
                text.encode("utf-8")
                return text
            except UnicodeEncodeError:
                pass
    out: list[str] = []
    _dump(value, out, where)
    return "".join(out)


# -- vectors --------------------------------------------------------------------------
def sparse_text(vector: SparseVector) -> str:
    """pgvector's text form (1-based indices) of a polyvec sparse vector."""
    body = ",".join(f"{i + 1}:{float(v)!r}" for i, v in zip(vector.indices, vector.values))
    return f"{{{body}}}/{SPARSE_DIM}"


def check_sparse(vector: SparseVector, where: str) -> SparseVector:
    """Refuse what a ``sparsevec`` column cannot store."""
    if len(vector) > SPARSE_MAX_NNZ:
        raise InvalidVectorError(
            f"{where} has {len(vector)} non-zero entries; pgvector's sparsevec holds at most "
            f"{SPARSE_MAX_NNZ}: shorten the text or split the document"
        )
    if vector.indices and vector.indices[-1] >= SPARSE_DIM:
        raise InvalidVectorError(
            f"{where} has the index {vector.indices[-1]}; sparse indices must be below "
            f"2**29 (polyvec's hashed token ids are)"
        )
    return vector


class TermIds:
    """The token ids of a sparse vector, for the ``terms int4[]`` column."""

    __slots__ = ("indices",)

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = indices


class _TermIdsBinaryDumper(adapt.Dumper):
    format = pq.Format.BINARY
    oid = 1007  # int4[]

    def dump(self, obj: TermIds) -> bytes:
        n = len(obj.indices)
        if not n:
            return struct.pack(">iii", 0, 0, 23)
        body = np.empty((n, 2), dtype=">i4")
        body[:, 0] = 4
        body[:, 1] = obj.indices
        return struct.pack(">iiiii", 1, 0, 23, n, 1) + body.tobytes()


class TermWeights:
    """The values of a sparse vector, for the staging table's ``weights float4[]``."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values


class _TermWeightsBinaryDumper(adapt.Dumper):
    format = pq.Format.BINARY
    oid = 1021  # float4[]

    def dump(self, obj: TermWeights) -> bytes:
        n = len(obj.values)
        if not n:
            return struct.pack(">iii", 0, 0, 700)
        body = np.empty(n, dtype=[("len", ">i4"), ("value", ">f4")])
        body["len"] = 4
        body["value"] = obj.values
        return struct.pack(">iiiii", 1, 0, 700, n, 1) + body.tobytes()


class _VectorTextDumper(adapt.Dumper):
    format = pq.Format.TEXT

    def dump(self, obj: Any) -> bytes:
        arr = np.asarray(obj, dtype=np.float32)
        return ("[" + ",".join(map(repr, arr.tolist())) + "]").encode()


class _VectorBinaryDumper(adapt.Dumper):
    format = pq.Format.BINARY

    def dump(self, obj: Any) -> bytes:
        arr = np.asarray(obj, dtype=">f4")
        return struct.pack(">HH", arr.shape[0], 0) + arr.tobytes()


class _SparseTextDumper(adapt.Dumper):
    format = pq.Format.TEXT

    def dump(self, obj: SparseVector) -> bytes:
        return sparse_text(obj).encode()


class _SparseBinaryDumper(adapt.Dumper):
    format = pq.Format.BINARY

    def dump(self, obj: SparseVector) -> bytes:
        n = len(obj.indices)
        return (
            struct.pack(">iii", SPARSE_DIM, n, 0)
            + np.asarray(obj.indices, dtype=">i4").tobytes()
            + np.asarray(obj.values, dtype=">f4").tobytes()
        )


def _as_bytes(data: Any) -> bytes:
    return bytes(data)


class _VectorTextLoader(adapt.Loader):
    format = pq.Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        text = _as_bytes(data).decode()[1:-1]
        return np.array(text.split(",") if text else [], dtype=np.float32)


class _VectorBinaryLoader(adapt.Loader):
    format = pq.Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        raw = _as_bytes(data)
        (dim,) = struct.unpack_from(">H", raw)
        return np.frombuffer(raw, dtype=">f4", count=dim, offset=4).astype(np.float32)


class _HalfvecBinaryLoader(adapt.Loader):
    format = pq.Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        raw = _as_bytes(data)
        (dim,) = struct.unpack_from(">H", raw)
        return np.frombuffer(raw, dtype=">f2", count=dim, offset=4).astype(np.float32)


class _SparseTextLoader(adapt.Loader):
    format = pq.Format.TEXT

    def load(self, data: Any) -> SparseVector:
        body = _as_bytes(data).decode().split("}", 1)[0][1:]
        pairs = [item.split(":") for item in body.split(",")] if body else []
        return SparseVector(tuple(int(i) - 1 for i, _ in pairs), tuple(float(v) for _, v in pairs))


class _SparseBinaryLoader(adapt.Loader):
    format = pq.Format.BINARY

    def load(self, data: Any) -> SparseVector:
        raw = _as_bytes(data)
        _, nnz, _ = struct.unpack_from(">iii", raw)
        idx = np.frombuffer(raw, dtype=">i4", count=nnz, offset=12)
        val = np.frombuffer(raw, dtype=">f4", count=nnz, offset=12 + 4 * nnz)
        return SparseVector(tuple(int(i) for i in idx), tuple(float(v) for v in val))


def register_vector_types(context: AdaptContext, oids: Mapping[str, int]) -> None:
    """Teach a psycopg connection (or adapters map) pgvector's types, given their oids
    (``{"vector": …, "halfvec": …, "sparsevec": …}``): numpy arrays dump as ``vector``,
    polyvec ``SparseVector`` as ``sparsevec``; all three load back as numpy / polyvec."""
    adapters = context.adapters
    adapters.register_dumper(TermIds, _TermIdsBinaryDumper)
    adapters.register_dumper(TermWeights, _TermWeightsBinaryDumper)
    vector, sparse = oids["vector"], oids.get("sparsevec")
    for base in (_VectorTextDumper, _VectorBinaryDumper):
        adapters.register_dumper(np.ndarray, type(base.__name__, (base,), {"oid": vector}))
    adapters.register_loader(vector, _VectorTextLoader)
    adapters.register_loader(vector, _VectorBinaryLoader)
    if "halfvec" in oids:
        adapters.register_loader(oids["halfvec"], _VectorTextLoader)
        adapters.register_loader(oids["halfvec"], _HalfvecBinaryLoader)
    if sparse is not None:
        for sbase in (_SparseTextDumper, _SparseBinaryDumper):
            adapters.register_dumper(SparseVector, type(sbase.__name__, (sbase,), {"oid": sparse}))
        adapters.register_loader(sparse, _SparseTextLoader)
        adapters.register_loader(sparse, _SparseBinaryLoader)

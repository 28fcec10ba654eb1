"""polyvec filters as Chroma ``where`` clauses, and the record layout they run against.

Chroma's own comparisons do not mean what polyvec's do (``$eq`` does not look inside
lists, ``$gt`` compares an int field with a float operand after truncating it, ISO
dates are plain strings, and there is no ``$not``). So every record carries, beside
the user's metadata (kept verbatim as JSON under ``pv:meta``), the shadow index of
:mod:`polyvec.backends.metaindex` as ordinary Chroma metadata, and filters are
translated against it::

    pv:meta           '{"page": 3, "tags": ["a"]}'       the user's metadata, verbatim
    pv:h              ["k:page", "n:page", "k:tags"]      markers (present, numeric, date)
    pv:t:<path>       ["n:3"] / ["Ls:a", "s:a"]           typed value tokens ($contains)
    pv:nmin:<path>    3.0      pv:nmax:<path>  3.0        least/greatest number (float)
    pv:dmin:<path>    1714521600000000 ...                least/greatest date (µs, int)
    pv:sparse         "<n>:<base64>"                      the BM25 sparse vector

Only ``$contains``/``$not_contains`` on string arrays (the negative form is true where
the key is missing, which is what ``ne``/``nin`` need) and ``$gt``… on floats and ints
of one type are used, whose meaning is plain. ``text_match`` is refused: Chroma has no
substring test on metadata. One key per field path keeps Chroma's
collection schema small (a key per value would make every call slower as values grow)::

    >>> from polyvec.filters import F
    >>> to_where((F("page") >= 3) & (F("lang") != "en"))
    {'$and': [{'pv:nmax:page': {'$gte': 3.0}}, {'pv:t:lang': {'$not_contains': 's:en'}}]}
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from polyvec.backends.metaindex import (
    TRUE,
    Bound,
    Const,
    Flat,
    Marker,
    Node,
    Text,
    Token,
    emit,
    plan,
)
from polyvec.errors import InvalidVectorError
from polyvec.filters.ast import Filter
from polyvec.filters.rewrite import text_match_unsupported
from polyvec.types import SparseVector

__all__ = [
    "META_KEY",
    "NOTHING",
    "SPARSE_KEY",
    "decode_sparse",
    "encode_sparse",
    "flat_metadata",
    "is_reserved",
    "to_where",
]

META_KEY = "pv:meta"
MARKERS_KEY = "pv:h"
SPARSE_KEY = "pv:sparse"
_PREFIX = "pv:"

NOTHING: dict[str, Any] = {"$polyvec": "matches nothing"}
"""What :func:`to_where` returns for a filter no record can match (never sent)."""


def is_reserved(key: str) -> bool:
    """Whether a Chroma metadata key belongs to polyvec's layout."""
    return key.startswith(_PREFIX)


def flat_metadata(meta_json: str, flat: Flat) -> dict[str, Any]:
    """The Chroma metadata of one record (without the sparse vector)."""
    out: dict[str, Any] = {META_KEY: meta_json}
    if flat.markers:
        out[MARKERS_KEY] = flat.markers
    for path, tokens in flat.tokens.items():
        out[f"pv:t:{path}"] = tokens
    for stat in ("nmin", "nmax", "dmin", "dmax"):
        for path, value in getattr(flat, stat).items():
            out[f"pv:{stat}:{path}"] = value
    return out


_FANOUT = 16
"""Children per ``$and``/``$or``: Chroma's SQLite nests a list as deep as it is long
and refuses past ~1,000 levels, so even 40 nested levels of groups stay far below."""


def _leaf(node: Node) -> dict[str, Any]:
    if isinstance(node, Token):
        return {f"pv:t:{node.path}": {"$contains" if node.present else "$not_contains": node.token}}
    if isinstance(node, Marker):
        return {MARKERS_KEY: {"$contains" if node.present else "$not_contains": node.marker}}
    if isinstance(node, Bound):
        return {f"pv:{node.stat}:{node.path}": {f"${node.op}": node.value}}
    if isinstance(node, Text):
        raise text_match_unsupported(
            "chroma", "Chroma tests substrings of documents only, never of metadata"
        )
    raise AssertionError(f"constants are handled by to_where, got {node!r}")  # pragma: no cover


def _join(conjunctive: bool, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$and" if conjunctive else "$or": parts}


def to_where(filter: Filter | None) -> dict[str, Any] | None:
    """The ``where`` clause of ``filter``: ``None`` when it matches everything,
    :data:`NOTHING` when it matches nothing (callers skip the engine call)."""
    node = plan(filter, "chroma")
    if isinstance(node, Const):
        return None if node == TRUE else NOTHING
    return emit(node, "chroma", _leaf, _join, _FANOUT)


# -- the sparse vector, compactly: base64 of little-endian uint32 indices + float32 values
def encode_sparse(vector: SparseVector) -> str:
    """``"<n>:<base64>"``: the vector's indices (uint32) then values (float32)."""
    idx = np.asarray(vector.indices, dtype="<u4").tobytes()
    val = np.asarray(vector.values, dtype="<f4").tobytes()
    return f"{len(vector)}:" + base64.b64encode(idx + val).decode("ascii")


def decode_sparse(text: str) -> SparseVector:
    """The inverse of :func:`encode_sparse`."""
    try:
        count_text, _, payload = text.partition(":")
        count = int(count_text)
        raw = base64.b64decode(payload.encode("ascii"), validate=True)
        indices = np.frombuffer(raw[: 4 * count], dtype="<u4")
        values = np.frombuffer(raw[4 * count :], dtype="<f4")
        if indices.size != count or values.size != count:
            raise ValueError("length mismatch")
    except (ValueError, TypeError) as exc:
        raise InvalidVectorError(
            f"a stored sparse vector is corrupt ({exc}): re-add the document"
        ) from exc
    return SparseVector(tuple(int(i) for i in indices), tuple(float(v) for v in values))

"""How polyvec lays collections, ids and rows out in Milvus (no pymilvus import).

* **fields**: ``id`` (VARCHAR primary key), ``dense`` (FLOAT_VECTOR), ``sparse``
  (SPARSE_FLOAT_VECTOR, when the spec has sparse vectors), ``text`` (VARCHAR, up to
  65,535 bytes), ``metadata`` (JSON, the user's metadata verbatim) and ``pv`` (JSON, the
  shadow index filters run on: :mod:`polyvec.backends.milvus.filters`);
* **ids**: type-tagged primary keys, ``"s:<str>"`` / ``"i:<int>"`` (``"7"`` and ``7``
  are two documents); a string Milvus literals cannot carry (control characters), or
  with a single quote (Milvus Lite splices primary keys into SQL), is stored as
  ``"x:<hex>"``. Every id comes back exactly as given;
* **names**: a Milvus-valid name (``[A-Za-z_][A-Za-z0-9_]*``, at most 255) is used as is
  (after the backend's ``prefix``); any other becomes ``pvx_<hex of its UTF-8>``;
* **spec**: JSON in the collection schema's description; polyvec's state lives in a
  ``pvx_state`` collection, never beside the documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from polyvec.backends import ids
from polyvec.backends.base import CollectionSpec
from polyvec.backends.ids import tagged, untagged
from polyvec.backends.milvus.filters import safe_key
from polyvec.backends.values import plain_metadata
from polyvec.errors import ConfigurationError, InputError
from polyvec.types import DocId

__all__ = [
    "MAX_TEXT_BYTES",
    "STATE_COLLECTION",
    "decode_id",
    "encode_id",
    "logical_name",
    "physical_name",
    "spec_from_description",
    "spec_to_description",
]

STATE_COLLECTION = "pvx_state"
MAX_TEXT_BYTES = 65535
_HEX = "pvx_"
_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPTION_KEYS = frozenset({"index", "search", "consistency_level"})
METRICS = {"cosine": "COSINE", "dot": "IP", "l2": "L2"}


def check_prefix(prefix: str) -> str:
    if prefix and not _VALID.match(prefix):
        raise ConfigurationError(
            f"Milvus prefix {prefix!r} must match [A-Za-z_][A-Za-z0-9_]* (a letter or _ first)"
        )
    return prefix


def physical_name(name: str, prefix: str) -> str:
    """The Milvus name of a polyvec collection.

    >>> physical_name("docs", ""), physical_name("my-docs", "t1_")
    ('docs', 't1_pvx_6d792d646f6373')
    """
    plain = prefix + name
    if _VALID.match(plain) and not name.startswith(_HEX) and len(plain) <= 255:
        return plain
    encoded = prefix + _HEX + name.encode("utf-8").hex()
    if len(encoded) > 255:
        raise ConfigurationError(
            f"collection name {name[:40]!r}… is too long for Milvus once encoded: use at most "
            "120 bytes, or only [A-Za-z0-9_] starting with a letter"
        )
    return encoded


def logical_name(physical: str, prefix: str) -> str | None:
    """The polyvec name of a Milvus collection (``None``: not one of ours)."""
    return ids.logical_name(physical, prefix, state=STATE_COLLECTION, marker=_HEX)


def encode_id(doc_id: DocId) -> str:
    """The primary key of a user id: ``"s:7"``, ``"i:7"`` or ``"x:<hex>"``."""
    key = tagged(doc_id)
    if isinstance(doc_id, int):
        return key
    # Milvus Lite splices string primary keys into SQL when it deletes (upsert, delete):
    # a single quote breaks that statement, so such ids are stored hex-encoded too.
    if safe_key(key) == key and "'" not in key:
        return key
    return "x:" + doc_id.encode("utf-8", "surrogatepass").hex()


def decode_id(key: str) -> DocId:
    if key.startswith("x:"):
        return bytes.fromhex(key[2:]).decode("utf-8", "surrogatepass")
    return untagged(key)


def check_options(spec: CollectionSpec) -> dict[str, Any]:
    """Validated ``CollectionSpec.options``: ``index`` (``{"index_type": "HNSW",
    "params": {...}}`` for the dense field), ``search`` (search ``params``) and
    ``consistency_level`` (default ``"Strong"``)."""
    unknown = sorted(set(spec.options) - _OPTION_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown Milvus collection option(s) {unknown}; known: "
            f"{', '.join(sorted(_OPTION_KEYS))} (see docs/backends/milvus.md)"
        )
    options = dict(spec.options)
    for key in ("index", "search"):
        if key in options and not isinstance(options[key], Mapping):
            raise ConfigurationError(f"Milvus option {key!r} must be a dict, got {options[key]!r}")
    return options


def spec_to_description(spec: CollectionSpec) -> str:
    try:
        options = plain_metadata(dict(spec.options), "CollectionSpec.options")
    except InputError as exc:
        raise ConfigurationError(f"{exc}: collection options must be plain JSON") from exc
    return json.dumps(
        {"polyvec": 1, "dimension": spec.dimension, "distance": spec.distance,
         "sparse": spec.sparse, "options": options}
    )  # fmt: skip


def spec_from_description(name: str, description: str) -> CollectionSpec | None:
    try:
        raw = json.loads(description)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("polyvec") != 1:
        return None
    return CollectionSpec(
        name, int(raw["dimension"]), raw["distance"], bool(raw["sparse"]), raw["options"]
    )

"""How polyvec lays documents, ids, names and specs out in Chroma (no chromadb import).

* **ids**: Chroma ids are strings, so a user id is stored type-tagged: ``"s:<str>"`` or
  ``"i:<int>"`` — ``"7"`` and ``7`` are two documents, and each comes back as given;
* **metadata**: verbatim JSON under ``pv:meta`` plus the shadow index (see
  :mod:`polyvec.backends.chroma.filters`); **text**: Chroma's document;
* **names**: a collection name Chroma accepts (3–512 of ``[A-Za-z0-9._-]``, alphanumeric
  at both ends) is used as is; any other is stored as ``pvx-<hex of its UTF-8>``;
* **spec and state**: the spec in the collection's metadata (``pv:spec``, with the write
  generation ``pv:gen``); polyvec's state in a separate ``pvx-state`` collection.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from polyvec.backends import ids
from polyvec.backends.base import CollectionSpec, ranked_hits
from polyvec.backends.chroma.filters import (
    META_KEY,
    SPARSE_KEY,
    decode_sparse,
    encode_sparse,
    flat_metadata,
    is_reserved,
)
from polyvec.backends.ids import tagged as encode_id
from polyvec.backends.ids import untagged as decode_id
from polyvec.backends.metaindex import dump_metadata, flatten
from polyvec.backends.values import plain_metadata
from polyvec.errors import (
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
)
from polyvec.types import DocId, Document, Hit, SparseVector, as_dense

__all__ = [
    "GEN_KEY",
    "SPEC_KEY",
    "STATE_COLLECTION",
    "Record",
    "check_prefix",
    "decode_id",
    "documents",
    "encode_id",
    "logical_name",
    "parse_url",
    "physical_name",
    "records",
]

SPEC_KEY = "pv:spec"
GEN_KEY = "pv:gen"
STATE_COLLECTION = "pvx-state"
_HEX = "pvx-"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_HNSW_KEYS = frozenset(
    {"ef_construction", "ef_search", "max_neighbors", "num_threads", "batch_size",
     "sync_threshold", "resize_factor"}
)  # fmt: skip


_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_PARAMS = ("tenant", "database", "ssl", "verify", "token", "prefix", "batch_size")


# -- URLs -------------------------------------------------------------------------------
def parse_url(url: str) -> dict[str, Any]:
    """``ChromaBackend`` keyword arguments for a ``chroma*://`` URL.

    >>> parse_url("chroma://db.internal:9000?database=rag")
    {'host': 'db.internal', 'database': 'rag', 'port': 9000}
    >>> parse_url("chroma+local://./data")
    {'path': './data'}
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _PARAMS:
            raise ConfigurationError(
                f"unknown URL parameter {key!r} for Chroma; known: {', '.join(_PARAMS)}"
            )
        if key == "ssl":
            if value.lower() not in _BOOL:
                raise ConfigurationError("URL parameter ssl must be true or false")
            opts[key] = _BOOL[value.lower()]
        elif key == "verify":  # TLS: true, false, or a CA certificate file
            if value.lower() in _BOOL:
                opts[key] = _BOOL[value.lower()]
            elif os.path.isfile(os.path.expanduser(value)):
                opts[key] = os.path.expanduser(value)
            else:
                raise ConfigurationError(
                    f"URL parameter verify={value!r} is neither true/false nor a CA "
                    "certificate file: pass the PEM file of the CA that signed the server's "
                    "certificate"
                )
        elif key == "batch_size":
            try:
                opts[key] = int(value)
            except ValueError:
                raise ConfigurationError("URL parameter batch_size must be an integer") from None
        else:
            opts[key] = value
    if scheme == "chroma+memory":
        return {"memory": True, **opts}
    if scheme == "chroma+local":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigurationError(
                f"{url!r} names no directory: write chroma+local:///abs/dir or "
                "chroma+local://./rel/dir (or chroma+memory:// for no files)"
            )
        return {"path": os.path.expanduser(path), **opts}
    if scheme not in ("chroma", "chromas", "chroma+https"):
        raise ConfigurationError(
            f"{scheme!r} is not a Chroma URL scheme: use chroma://host:port, "
            "chroma+local:///dir or chroma+memory://"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{scheme}:// URL needs a host, e.g. chroma://localhost:8000")
    if scheme != "chroma":
        opts.setdefault("ssl", True)
    if parts.port is not None:
        opts["port"] = parts.port
    return {"host": parts.hostname, **opts}


# -- names ------------------------------------------------------------------------------
def _valid(name: str) -> bool:
    return bool(_VALID.match(name)) and ".." not in name and not _IPV4.match(name)


def physical_name(name: str) -> str:
    """The Chroma name of a polyvec collection name.

    >>> physical_name("docs"), physical_name("my docs")
    ('docs', 'pvx-6d7920646f6373')
    """
    if _valid(name) and not name.startswith(_HEX):
        return name
    encoded = _HEX + name.encode("utf-8").hex()
    if len(encoded) > 500:
        raise ConfigurationError(
            f"collection name {name[:40]!r}… is too long for Chroma once encoded: "
            "use at most 240 bytes, or only [A-Za-z0-9._-]"
        )
    return encoded


def logical_name(physical: str, prefix: str) -> str | None:
    """The polyvec name of a Chroma collection (``None``: not one of ours)."""
    return ids.logical_name(physical, prefix, state=STATE_COLLECTION, marker=_HEX)


def check_prefix(prefix: str) -> str:
    if prefix and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", prefix):
        raise ConfigurationError(
            f"Chroma prefix {prefix!r} must start with a letter or digit and hold only "
            "[A-Za-z0-9._-]"
        )
    return prefix


# -- specs ------------------------------------------------------------------------------
def hnsw_options(spec: CollectionSpec) -> dict[str, Any]:
    """Validated ``CollectionSpec.options`` (only ``{"hnsw": {...}}`` is understood)."""
    unknown = sorted(set(spec.options) - {"hnsw"})
    if unknown:
        raise ConfigurationError(
            f"unknown Chroma collection option(s) {unknown}: only 'hnsw' is understood "
            "(e.g. options={'hnsw': {'ef_search': 200}})"
        )
    hnsw = dict(spec.options.get("hnsw") or {})
    bad = sorted(set(hnsw) - _HNSW_KEYS)
    if bad:
        raise ConfigurationError(
            f"unknown Chroma hnsw setting(s) {bad}; known: {', '.join(sorted(_HNSW_KEYS))}"
        )
    return hnsw


def spec_to_json(spec: CollectionSpec) -> str:
    try:
        options = plain_metadata(dict(spec.options), "CollectionSpec.options")
    except InputError as exc:
        raise ConfigurationError(f"{exc}: collection options must be plain JSON") from exc
    return json.dumps(
        {"dimension": spec.dimension, "distance": spec.distance, "sparse": spec.sparse,
         "options": options}
    )  # fmt: skip


def spec_of(name: str, metadata: Mapping[str, Any] | None) -> CollectionSpec | None:
    text = (metadata or {}).get(SPEC_KEY)
    if not isinstance(text, str):
        return None
    raw = json.loads(text)
    return CollectionSpec(
        name, int(raw["dimension"]), raw["distance"], bool(raw["sparse"]), raw["options"]
    )


# -- records ----------------------------------------------------------------------------
def check_vector(spec: CollectionSpec, vector: Any, where: str) -> np.ndarray:
    arr = as_dense(vector, where=where)
    if arr.shape[0] != spec.dimension:
        raise DimensionMismatchError(spec.dimension, int(arr.shape[0]), where)
    return arr


def check_sparse(spec: CollectionSpec, vector: Any) -> None:
    if not isinstance(vector, SparseVector):
        raise InvalidVectorError(
            f"a sparse query must be a polyvec SparseVector, got {type(vector).__name__}"
        )
    if not spec.sparse:
        raise ConfigurationError(
            f"collection {spec.name!r} has no sparse vectors (created with sparse=False): "
            "search it densely, or re-create it with sparse=True"
        )
    if vector.indices and vector.indices[-1] >= 2**32:
        raise InvalidVectorError("sparse indices must be below 2**32")


@dataclass
class Record:
    """One document as Chroma stores it."""

    id: DocId
    key: str
    dense: np.ndarray
    text: str
    metadata: dict[str, Any]
    sparse: SparseVector | None


def records(spec: CollectionSpec, docs: Sequence[Document]) -> list[Record]:
    """Validate and lay out documents (a repeated id: the last one wins)."""
    out: dict[str, Record] = {}
    for doc in docs:
        if not isinstance(doc, Document):
            raise InputError(f"upsert takes polyvec Documents, got {type(doc).__name__}")
        where = f"document {doc.id!r}"
        if doc.dense is None:
            raise InvalidVectorError(
                f"{where} has no dense vector: embed it first (Collection.add does)"
            )
        dense = check_vector(spec, doc.dense, where)
        meta = plain_metadata(dict(doc.metadata), f"{where} metadata")
        metadata = flat_metadata(dump_metadata(meta), flatten(meta))
        sparse = doc.sparse if spec.sparse and doc.sparse is not None else None
        if sparse is not None:
            check_sparse(spec, sparse)
            metadata[SPARSE_KEY] = encode_sparse(sparse)
        key = encode_id(doc.id)
        out.pop(key, None)
        out[key] = Record(doc.id, key, dense, doc.text, metadata, sparse)
    return list(out.values())


def documents(got: Mapping[str, Any], with_vectors: bool) -> dict[str, Document]:
    """Chroma ``get``/``query`` columns as ``{chroma id: Document}``, in their order."""
    keys = list(got["ids"])
    texts = got.get("documents") or [None] * len(keys)
    metas = got.get("metadatas") or [None] * len(keys)
    embeddings = got.get("embeddings") if with_vectors else None
    out: dict[str, Document] = {}
    for i, key in enumerate(keys):
        raw = metas[i] or {}
        text = raw.get(META_KEY)
        if isinstance(text, str):
            metadata = json.loads(text)
        else:  # a record polyvec did not write: its plain metadata
            metadata = {k: v for k, v in raw.items() if not is_reserved(k)}
        doc = Document(decode_id(key), texts[i] or "", metadata)
        if with_vectors:
            dense = None if embeddings is None else np.asarray(embeddings[i], dtype=np.float32)
            coded = raw.get(SPARSE_KEY)
            sparse = decode_sparse(coded) if isinstance(coded, str) else None
            doc = doc.with_vectors(dense, sparse)
        out[key] = doc
    return out


def hits(scored: Sequence[tuple[Document, float]], kind: Any, leg: Any) -> list[Hit]:
    return ranked_hits(scored, kind, leg)

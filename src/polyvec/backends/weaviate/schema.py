"""How polyvec documents become Weaviate objects (no client needed here).

Weaviate properties have one fixed type each and GraphQL-style names, so a document's
metadata is stored twice, as for Pinecone: verbatim in ``pv_doc`` (JSON, not indexed:
the exact round trip) and as the typed projection of
:mod:`polyvec.backends.projection`, one property per field path and facet::

    >>> facet_property("info.rank", "n")
    'm_info_rank_ca47367da6_n'

==============  ==================  ===================================================
facet           Weaviate type       notes
==============  ==================  ===================================================
``e``, ``l``    ``boolean``         ``True`` when present / a list; null otherwise
``s``           ``text[]``          ``field`` tokenization (exact), each string wrapped
                                    in ``|...|`` so Weaviate's whitespace trimming
                                    cannot merge ``" a"`` and ``"a"``
``n b d``       ``text[]``          canonical numbers / ``true``-``false`` / UTC instants
``min max``     ``number``          smallest / largest number
``dmin dmax``   ``number``          earliest / latest date, µs since 1970
==============  ==================  ===================================================

Fixed properties: ``pv_id`` (the id as text, filterable), ``pv_doc`` (JSON: id, text,
metadata), ``pv_text`` (the text, ``word``-tokenized for Weaviate's own BM25),
``pv_sparse_i``/``pv_sparse_v`` (polyvec's sparse vector, for the client-side sparse
leg). Object UUIDs are UUIDv5 of the typed id (``"str:7"``/``"int:7"``), the same
derivation as the Qdrant backend's point ids.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from polyvec.backends.ids import ID_NAMESPACE
from polyvec.backends.ids import id_uuid as object_id
from polyvec.backends.projection import project, stored_document
from polyvec.backends.values import plain_metadata
from polyvec.errors import ConfigurationError
from polyvec.types import DocId, Document, SparseVector

__all__ = [
    "FACET_TYPES",
    "FIXED_PROPERTIES",
    "ID_NAMESPACE",
    "class_name",
    "collection_name",
    "decode_doc",
    "document_from",
    "facet_property",
    "object_id",
    "object_properties",
    "wrap",
]

FACET_TYPES: dict[str, str] = {
    "e": "boolean",
    "l": "boolean",
    "s": "text[]",
    "n": "text[]",
    "b": "text[]",
    "d": "text[]",
    "min": "number",
    "max": "number",
    "dmin": "number",
    "dmax": "number",
}
"""The Weaviate data type of each facet property."""

FIXED_PROPERTIES: dict[str, str] = {
    "pv_id": "text",
    "pv_doc": "text",
    "pv_text": "text",
    "pv_sparse_i": "int[]",
    "pv_sparse_v": "number[]",
}

_CLASS = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
_PLAIN = re.compile(r"[A-Za-z0-9]")


def facet_property(path: str, facet: str) -> str:
    """The property of one facet of a metadata field path (readable part + hash)."""
    readable = re.sub(r"[^A-Za-z0-9]", "_", path)[:32]
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"m_{readable}_{digest}_{facet}"


def wrap(text: str) -> str:
    """A string as stored in an ``s`` facet (exact under ``field`` tokenization)."""
    return f"|{text}|"


def class_name(prefix: str, collection: str) -> str:
    """The Weaviate collection of a polyvec collection: ``Polyvec_`` + the name with
    every byte outside ``[A-Za-z0-9]`` written ``_hh``.

    >>> class_name("Polyvec", "my docs")
    'Polyvec_my_20docs'
    """
    if not _CLASS.match(prefix):
        raise ConfigurationError(
            f"Weaviate collection prefix {prefix!r} must start with an uppercase letter and "
            "hold only letters and digits"
        )
    if not isinstance(collection, str) or not collection:
        raise ConfigurationError(f"collection name must be a non-empty str, got {collection!r}")
    body = "".join(
        ch if _PLAIN.match(ch) else "".join(f"_{b:02x}" for b in ch.encode()) for ch in collection
    )
    return f"{prefix}_{body}"


def collection_name(prefix: str, weaviate_class: str) -> str | None:
    """The polyvec collection of a Weaviate collection (``None``: not one of ours)."""
    head = f"{prefix}_"
    if not weaviate_class.startswith(head):
        return None
    body, out, i = weaviate_class[len(head) :], bytearray(), 0
    while i < len(body):
        if body[i] == "_":
            try:
                out.append(int(body[i + 1 : i + 3], 16))
            except ValueError:
                return None
            i += 3
        else:
            out.extend(body[i].encode())
            i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        return None


def object_properties(doc: Document) -> dict[str, Any]:
    """Every property of one document's object (see the module docstring)."""
    meta = plain_metadata(dict(doc.metadata), f"document {doc.id!r} metadata")
    props: dict[str, Any] = {
        "pv_id": str(doc.id),
        "pv_doc": json.dumps({"id": doc.id, "t": doc.text, "m": meta}, ensure_ascii=False),
        "pv_text": doc.text,
    }
    if doc.sparse is not None and len(doc.sparse):
        props["pv_sparse_i"] = list(doc.sparse.indices)
        props["pv_sparse_v"] = list(doc.sparse.values)
    for path, facets in project(meta).items():
        for facet, value in facets.items():
            if facet == "s":
                value = [wrap(s) for s in value]
            props[facet_property(path, facet)] = value
    return props


def decode_doc(props: Mapping[str, Any], fallback_id: str) -> tuple[DocId, str, dict[str, Any]]:
    """``(id, text, metadata)`` of an object; objects polyvec did not write give their
    UUID, their ``text`` property (LangChain's layout) and their other properties."""
    doc = stored_document(props.get("pv_doc"))
    if doc is not None:
        ident = doc.get("id")
        if isinstance(ident, (str, int)) and not isinstance(ident, bool):
            text = doc.get("t")
            return ident, (text if isinstance(text, str) else ""), doc["m"]
    meta = {k: v for k, v in props.items() if k != "text"}
    text = props.get("text")
    return fallback_id, (text if isinstance(text, str) else ""), meta


def document_from(obj: Any, with_vectors: bool) -> Document:
    """The polyvec document of a Weaviate object returned by a query."""
    props = obj.properties or {}
    ident, text, meta = decode_doc(props, str(obj.uuid))
    doc = Document(ident, text, meta)
    if with_vectors:
        vectors = getattr(obj, "vector", None) or {}
        dense = vectors.get("dense") if isinstance(vectors, Mapping) else None
        idx, val = props.get("pv_sparse_i"), props.get("pv_sparse_v")
        sparse = SparseVector.from_dict(dict(zip(idx, val))) if idx and val else None
        doc = doc.with_vectors(np.asarray(dense, dtype=np.float32) if dense else None, sparse)
    return doc

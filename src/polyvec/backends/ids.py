"""Typed document ids as engines store them: ``7`` and ``"7"`` stay two documents.

A user id is a ``str`` or an ``int``; every backend keeps its type in what the engine
stores, in one of two forms:

* **tagged text** (Chroma, pgvector, Milvus, Pinecone): ``"i:<int>"`` or ``"s:<str>"``;
  a backend whose engine cannot hold every string passes ``escape``/``unescape``
  (Pinecone percent-encodes) or adds its own form beside these (Milvus's ``"x:<hex>"``);
* **UUIDs** (Qdrant, Weaviate): UUIDv5 of ``"int:<int>"`` / ``"str:<str>"`` in
  :data:`ID_NAMESPACE`, the same for both engines.

What is stored must never change: collections written earlier are read by these
functions (``tests/unit/test_id_encodings.py`` pins the forms).

    >>> tagged(7), tagged("7"), untagged("i:7"), untagged("s:7"), untagged("no-tag")
    ('i:7', 's:7', 7, '7', 'no-tag')
    >>> id_uuid("7") != id_uuid(7)
    True
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from polyvec.errors import InputError
from polyvec.types import DocId

__all__ = [
    "ID_NAMESPACE",
    "check_id",
    "id_uuid",
    "logical_name",
    "tagged",
    "untagged",
]

ID_NAMESPACE = uuid.UUID("c92a3c3d-64cd-5f8d-bbc9-8d0b206555e5")
"""UUIDv5 namespace of polyvec point/object ids (never change it: ids are derived from it)."""


def _same(text: str) -> str:
    return text


def check_id(doc_id: object) -> DocId:
    """``doc_id`` if it is a ``str`` or an ``int`` (not a ``bool``); else :class:`InputError`."""
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise InputError(f"document ids are str or int, got {type(doc_id).__name__}")
    return doc_id


def tagged(doc_id: DocId, escape: Callable[[str], str] = _same) -> str:
    """``"i:7"`` for ``7``, ``"s:" + escape("7")`` for ``"7"``."""
    doc_id = check_id(doc_id)
    return f"i:{doc_id}" if isinstance(doc_id, int) else "s:" + escape(doc_id)


def untagged(key: str, unescape: Callable[[str], str] = _same) -> DocId:
    """The user id of a :func:`tagged` key; a key polyvec did not write comes back as is."""
    if key.startswith("i:"):
        try:
            return int(key[2:])
        except ValueError:
            return key
    return unescape(key[2:]) if key.startswith("s:") else key


def id_uuid(doc_id: DocId) -> str:
    """The UUID of a user id (Qdrant points, Weaviate objects): ``id_uuid("7") != id_uuid(7)``."""
    tag = "int" if isinstance(check_id(doc_id), int) else "str"
    return str(uuid.uuid5(ID_NAMESPACE, f"{tag}:{doc_id}"))


def logical_name(physical: str, prefix: str, *, state: str, marker: str) -> str | None:
    """The polyvec name of an engine's collection ``physical`` (``None``: not one of
    ours, or polyvec's ``state`` collection). Names an engine cannot hold are stored as
    ``prefix + marker + hex(utf-8)`` (Chroma, Milvus); a hex part that does not decode
    is returned as it is.

    >>> logical_name("pv_x_6e6f", "pv_", state="x_state", marker="x_")
    'no'
    """
    if not physical.startswith(prefix):
        return None
    rest = physical[len(prefix) :]
    if rest == state:
        return None
    if rest.startswith(marker):
        try:
            return bytes.fromhex(rest[len(marker) :]).decode("utf-8")
        except ValueError:
            return rest
    return rest

"""Answers per document: hits grouped by a metadata field, best group first.

``RetrieverConfig(group_by="doc_id")`` (or ``search(..., group_by="doc_id")``) runs
:func:`group_hits` on the ranked candidates: each group is represented by its best hit,
which carries the group's other top hits in :attr:`Hit.group <polyvec.types.Hit.group>`;
``k`` counts groups. Hits whose text repeats a better hit's text exactly (the same page
stored under two names, a boilerplate paragraph) are dropped first, so the k answers are
k different texts. :func:`passage` merges a group's chunks, in document order, into one
context passage (overlapping chunks are joined on their character spans, so nothing is
repeated).

>>> from polyvec import Document, Hit
>>> def hit(i, doc, score, text, start):
...     meta = {"doc_id": doc, "start": start, "end": start + len(text)}
...     return Hit(Document(i, text, meta), score, "dbsf")
>>> hits = [hit("a#1", "a", 0.9, "two three", 4), hit("b#0", "b", 0.8, "other", 0),
...         hit("a#0", "a", 0.7, "one two", 0), hit("c#0", "c", 0.6, "other", 0)]
>>> groups = group_hits(hits, "doc_id", k=5)
>>> [(g.id, [h.id for h in g.group]) for g in groups]
[('a#1', ['a#0']), ('b#0', [])]
>>> passage(groups[0])
'one two three'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from polyvec.types import Document, Hit

__all__ = ["group_hits", "group_key", "merged_document", "passage"]


def group_key(hit: Hit, field: str) -> Any:
    """The value ``hit`` is grouped by: ``metadata[field]`` (dotted keys reach into
    nested metadata), else the hit's own id, so a hit without the field is its own
    group."""
    value: Any = hit.document.metadata
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return ("id", type(hit.id).__name__, hit.id)
        value = value[part]
    if isinstance(value, (list, dict)):
        return ("json", repr(value))
    return ("value", type(value).__name__, value)


def _text_key(hit: Hit) -> bytes:
    return hashlib.blake2b(hit.document.text.strip().encode("utf-8", "replace")).digest()


def group_hits(
    hits: Sequence[Hit], field: str, k: int, *, size: int = 3, dedup: bool = True
) -> list[Hit]:
    """The best ``k`` groups of ``hits`` (ranked best first), each as its best hit with
    up to ``size - 1`` more of its group's hits in ``Hit.group`` (best first).
    ``dedup`` drops hits whose text repeats an earlier hit's text."""
    seen_text: set[bytes] = set()
    order: list[Any] = []
    groups: dict[Any, list[Hit]] = {}
    for hit in hits:
        if dedup:
            key = _text_key(hit)
            if key in seen_text:
                continue
            seen_text.add(key)
        g = group_key(hit, field)
        members = groups.get(g)
        if members is None:
            if len(order) >= k:
                continue
            order.append(g)
            groups[g] = [hit]
        elif len(members) < size:
            members.append(hit)
    return [replace(groups[g][0], group=tuple(groups[g][1:])) for g in order]


def _span(hit: Hit) -> tuple[int, int] | None:
    meta = hit.document.metadata
    start, end = meta.get("start"), meta.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end:
        return start, end
    return None


def passage(hit: Hit, *, separator: str = "\n…\n") -> str:
    """The texts of ``hit`` and its :attr:`~polyvec.types.Hit.group`, merged in
    document order: by character span (``start``/``end`` metadata, written by
    :func:`polyvec.chunking.chunk_document` and ``polyvec ingest``) where chunks overlap
    or touch, else by ``chunk`` index; ``separator`` marks the gaps."""
    members = [hit, *hit.group]
    if any(_span(h) is None for h in members):
        members.sort(key=lambda h: h.document.metadata.get("chunk", 0))
        return separator.join(h.document.text for h in members)
    members.sort(key=lambda h: _span(h) or (0, 0))
    parts: list[str] = []
    reach, last_chunk = -1, None
    for h in members:
        start, end = _span(h) or (0, 0)
        text = h.document.text
        chunk = h.document.metadata.get("chunk")
        if parts and start <= reach:
            if end > reach:
                parts[-1] += text[reach - start :]
                reach = end
        else:
            if parts:
                # neighbouring chunks are separated by whitespace only (chunk_document
                # keeps every other character), anything else by the separator
                nxt = isinstance(chunk, int) and last_chunk == chunk - 1
                parts.append("\n" if nxt else separator)
            parts.append(text)
            reach = end
        last_chunk = chunk
    return "".join(parts)


def merged_document(hit: Hit) -> Document:
    """The document a framework adapter returns for ``hit``: with a group, one document
    per group whose text is :func:`passage` (metadata, id: the best hit's); else the
    hit's own document."""
    if not hit.group:
        return hit.document
    return Document(hit.document.id, passage(hit), hit.document.metadata)

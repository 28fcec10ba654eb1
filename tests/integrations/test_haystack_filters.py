"""Haystack 2.x's own document-store filter suite, run through polyvec's Haystack parser.

``PolyvecFilterStore`` is a minimal real Haystack ``DocumentStore``: it keeps Haystack
``Document`` objects and answers ``filter_documents`` with
:func:`polyvec.filters.from_haystack.from_haystack` and the reference evaluator
(:func:`polyvec.filters.select`), which every polyvec backend is tested against. A polyvec
``FilterError`` becomes Haystack's ``FilterError``, as a Haystack store must raise.
Haystack's ``FilterDocumentsTest`` then runs unchanged; the deliberate differences from
Haystack's in-memory matcher (docs/filters.md) are pinned at the end of this file.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("haystack")

from haystack import Document
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy
from haystack.errors import FilterError as HaystackFilterError
from haystack.testing.document_store import (
    CountDocumentsTest,
    DeleteDocumentsTest,
    FilterDocumentsTest,
    WriteDocumentsTest,
)

from polyvec.errors import FilterError
from polyvec.filters import select
from polyvec.filters.from_haystack import from_haystack


class PolyvecFilterStore:
    """A Haystack ``DocumentStore`` whose filters are polyvec's (parser + reference evaluator)."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "init_parameters": {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolyvecFilterStore:
        return cls()

    def count_documents(self) -> int:
        return len(self._docs)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        try:
            node = from_haystack(filters)
        except FilterError as exc:  # the Haystack protocol: a bad filter is its FilterError
            raise HaystackFilterError(str(exc)) from exc
        return select(node, list(self._docs.values()), metadata=lambda d: d.meta)

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise ValueError(f"write_documents takes a list of Documents, got {documents!r}")
        written = 0
        for doc in documents:
            if doc.id in self._docs:
                if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                    raise DuplicateDocumentError(f"document {doc.id} already exists")
                if policy is DuplicatePolicy.SKIP:
                    continue
            self._docs[doc.id] = doc
            written += 1
        return written

    def delete_documents(self, document_ids: list[str]) -> None:
        for doc_id in document_ids:
            self._docs.pop(doc_id, None)


class TestHaystackSuite(
    CountDocumentsTest, DeleteDocumentsTest, FilterDocumentsTest, WriteDocumentsTest
):
    """Haystack's own tests, every one of them, unchanged."""

    @pytest.fixture
    def document_store(self) -> PolyvecFilterStore:
        return PolyvecFilterStore()

    def test_write_documents(self, document_store: PolyvecFilterStore) -> None:
        # Haystack leaves the default policy to each store: here NONE fails, as in memory
        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc])
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])


# -- the deliberate differences, each pinned against Haystack's own in-memory store -------
def both(meta: list[dict[str, Any]], filters: dict[str, Any]) -> tuple[list[int], list[int]]:
    """The indices of ``meta`` that Haystack's in-memory store and polyvec select."""
    docs = [Document(id=str(i), content=f"d{i}", meta=m) for i, m in enumerate(meta)]
    theirs = InMemoryDocumentStore()
    theirs.write_documents(docs)
    ours = PolyvecFilterStore()
    ours.write_documents(docs)
    return (
        sorted(int(d.id) for d in theirs.filter_documents(filters)),
        sorted(int(d.id) for d in ours.filter_documents(filters)),
    )


def c(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


@pytest.mark.parametrize(
    ("why", "meta", "filters", "haystack", "polyvec"),
    [
        (
            "list fields: polyvec tests each element, Haystack the whole list",
            [{"t": ["a", "b"]}, {"t": "a"}],
            c("meta.t", "==", "a"),
            [1],
            [0, 1],
        ),
        ("list fields, in", [{"t": ["a", "b"]}], c("meta.t", "in", ["a"]), [], [0]),
        ("list fields, !=", [{"t": ["a", "b"]}], c("meta.t", "!=", "a"), [0], []),
        ("[] is null in polyvec", [{"t": []}, {}], c("meta.t", "==", None), [1], [0, 1]),
        ("a bool is not a number", [{"n": True}, {"n": 1}], c("meta.n", "==", 1), [0, 1], [1]),
        (
            "a naive datetime is UTC in polyvec; Haystack gives it the other side's zone",
            [{"d": "2024-05-01T12:00:00+02:00"}],
            c("meta.d", "<", "2024-05-01T11:00:00"),
            [],
            [0],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_documented_differences_from_haystack(
    why: str, meta: list[dict[str, Any]], filters: dict[str, Any], haystack: Any, polyvec: Any
) -> None:
    assert both(meta, filters) == (haystack, polyvec), why


def test_refusals_where_haystack_would_guess() -> None:
    # Haystack parses a loose date string with dateutil; polyvec refuses all but ISO-8601
    loose = c("meta.d", ">", "May 1 2023")
    theirs = InMemoryDocumentStore()
    theirs.write_documents([Document(content="x", meta={"d": "2024-05-01"})])
    assert len(theirs.filter_documents(loose)) == 1
    with pytest.raises(HaystackFilterError, match="ISO-8601"):
        PolyvecFilterStore().filter_documents(loose)

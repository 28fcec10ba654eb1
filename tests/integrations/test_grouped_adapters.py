"""group_by through the framework adapters: one LangChain Document / LlamaIndex node per
source document, its text the document's top chunks merged in order (real MiniLM,
embedded Qdrant)."""

from __future__ import annotations

from typing import Any

import pytest

from polyvec.collection import connect
from polyvec.grouping import passage
from polyvec.ingest import SourceDocument, sync_documents

pytestmark = [pytest.mark.qdrant, pytest.mark.models]

OWNER = " ".join(f"chown changes the owner of file number {i}." for i in range(80))
MODE = " ".join(f"chmod changes the mode bits of file number {i}." for i in range(80))
GZIP = "gzip compresses files with DEFLATE and keeps their owners."


@pytest.fixture
def coll(embedder: Any, tmp_path: Any) -> Any:
    c = connect("qdrant+memory://", collection="grouped", embedder=embedder)
    docs = [
        SourceDocument("chown", OWNER),
        SourceDocument("chmod", MODE),
        SourceDocument("gzip", GZIP),
    ]
    report = sync_documents(c, docs)
    assert report.ok and c.count() > 6  # the long documents are several chunks each
    return c


def test_langchain_returns_one_document_per_source(coll: Any) -> None:
    pytest.importorskip("langchain_core")
    from polyvec.integrations.langchain import PolyvecRetriever, PolyvecVectorStore

    store = PolyvecVectorStore(coll)
    plain = store.hybrid_search("change the owner of a file", k=3)
    assert {d.metadata["doc_id"] for d in plain} == {"chown"}  # three chunks of one page
    retriever = store.as_retriever(
        search_type="hybrid", search_kwargs={"k": 3, "group_by": "doc_id"}
    )
    docs = retriever.invoke("change the owner of a file")
    assert docs[0].metadata["doc_id"] == "chown"
    assert len({d.metadata["doc_id"] for d in docs}) == 3
    hits = coll.search("change the owner of a file", k=3, group_by="doc_id")
    assert docs[0].page_content == passage(hits[0]) != hits[0].document.text
    assert docs[0].page_content in OWNER  # chunks merged in order, nothing repeated
    pipeline = PolyvecRetriever(collection=coll, k=2, group_by="doc_id")
    assert [d.metadata["doc_id"] for d in pipeline.invoke("change the owner of a file")] == [
        d.metadata["doc_id"] for d in docs[:2]
    ]


def test_llama_index_returns_one_node_per_source(coll: Any) -> None:
    pytest.importorskip("llama_index.core")
    from polyvec.integrations.llama_index import PolyvecRetriever

    nodes = PolyvecRetriever(coll, k=3, group_by="doc_id").retrieve("change the owner of a file")
    assert len({n.node.metadata["doc_id"] for n in nodes}) == 3
    assert nodes[0].node.metadata["doc_id"] == "chown"
    assert nodes[0].node.get_content() in OWNER

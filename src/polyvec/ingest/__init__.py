"""Ingest a folder of documents and keep a collection in step with it.

* :func:`sync_paths` — files under some roots (text in any common encoding, Markdown,
  HTML, PDF, JSONL, man pages), each a document whose id is its path relative to the
  root; unchanged documents are not embedded again, changed ones replace their chunks,
  ``delete_missing=True`` removes documents whose files are gone;
* :func:`sync_documents` — the same for documents the caller already has, with ids;
* :class:`SyncReport` — added / updated / unchanged / removed / skipped (with reasons) /
  failed.

::

    import polyvec
    from polyvec.ingest import sync_paths

    docs = polyvec.connect(collection="handbook")
    print(sync_paths(docs, ["handbook/"], delete_missing=True).summary())

The command line does the same: ``polyvec ingest handbook/ --delete-missing``.
"""

from polyvec.ingest.report import SyncReport
from polyvec.ingest.sync import (
    SourceDocument,
    async_documents,
    async_paths,
    sync_documents,
    sync_paths,
)

__all__ = [
    "SourceDocument",
    "SyncReport",
    "async_documents",
    "async_paths",
    "sync_documents",
    "sync_paths",
]

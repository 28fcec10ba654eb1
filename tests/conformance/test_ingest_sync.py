"""Folder sync on every backend: identity across working directories, edits, shrinks,
deletes, a crash between any two writes, and answers grouped per document.

The embedder is the hashed-trigram test embedder wrapped to count what it embeds, so
"not embedded again" is checked by counting, on the real engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from polyvec.backends.base import Backend
from polyvec.chunking import Chunker
from polyvec.collection import Collection
from polyvec.errors import WriteError
from polyvec.ingest import SourceDocument, sync_documents, sync_paths
from polyvec.retriever import RetrieverConfig
from tests.transfer.data import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """Hashed trigrams padded with zeros to 384 dimensions (a Pinecone index has one
    dimension for all its namespaces: the MiniLM one), counting documents embedded."""

    dimension = 384

    def __init__(self) -> None:
        self.embedded = 0

    def _padded(self, texts: Sequence[str]) -> np.ndarray:
        small = super().embed_documents(texts)
        return np.hstack([small, np.zeros((len(small), 384 - small.shape[1]), np.float32)])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self._padded(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._padded(texts)


CHUNKER = Chunker(24, 4)


def _sentences(topic: str, n: int) -> str:
    return " ".join(f"The {topic} note number {i} explains {topic} in detail." for i in range(n))


def _folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs.md").write_text("# Logs\n\n" + _sentences("logrotate", 6))
    (root / "owners.txt").write_text(_sentences("chown", 8))
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "disks.txt").write_text(_sentences("mount", 5))
    (root / "latin.txt").write_bytes(("propriétaire " * 30).encode("latin-1"))
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    return root


def _state(coll: Collection) -> dict[str, tuple[str, str]]:
    return {
        str(d.id): (d.text, str(d.metadata.get("content_hash")))
        for batch in coll.scroll(batch_size=500)
        for d in batch
    }


def _coll(backend: Backend, name: str, embedder: CountingEmbedder) -> Collection:
    return Collection(backend, name, embedder=embedder)


def test_sync_skips_unchanged_and_follows_edits_shrinks_and_deletes(
    backend: Backend, collection_name: str, tmp_path: Path, monkeypatch
):
    emb = CountingEmbedder()
    coll = _coll(backend, collection_name, emb)
    root = _folder(tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    first = sync_paths(coll, ["corpus"], chunker=CHUNKER)
    assert sorted(first.added) == ["latin.txt", "logs.md", "owners.txt", "sub/disks.txt"]
    assert "photo.png" in first.skipped and first.ok
    n_chunks = coll.count()
    assert emb.embedded == first.chunks_embedded == n_chunks > 4
    owners = [i for i in _state(coll) if i.startswith("owners.txt#")]
    assert len(owners) >= 3

    # the same folder, typed another way from another directory: nothing to do
    monkeypatch.chdir(root / "sub")
    again = sync_paths(coll, [str(root.resolve())], chunker=CHUNKER)
    assert sorted(again.unchanged) == sorted(first.added)
    assert again.added == again.updated == [] and emb.embedded == n_chunks
    assert coll.count() == n_chunks

    # edit one file, shrink another to one chunk, delete a third
    (root / "logs.md").write_text("# Logs\n\n" + _sentences("journald", 6))
    (root / "owners.txt").write_text("chown changes owners.")
    (root / "sub" / "disks.txt").unlink()
    before = emb.embedded
    third = sync_paths(coll, [root], chunker=CHUNKER)
    assert sorted(third.updated) == ["logs.md", "owners.txt"]
    assert third.unchanged == ["latin.txt", "sub/disks.txt"][:1] and third.removed == []
    state = _state(coll)
    assert [i for i in state if i.startswith("owners.txt#")] == ["owners.txt#0"]
    assert state["owners.txt#0"][0] == "chown changes owners."
    assert any("journald" in text for i, (text, _) in state.items() if i.startswith("logs.md"))
    assert not any("logrotate" in text for text, _ in state.values())
    assert emb.embedded - before == third.chunks_embedded
    assert any(i.startswith("sub/disks.txt#") for i in state)  # kept without the option

    # a paragraph appended to a long file: only the chunks it changed are embedded
    (root / "latin.txt").write_bytes(
        ("propriétaire " * 30 + "\n\nA new closing paragraph.").encode("latin-1")
    )
    before = emb.embedded
    appended = sync_paths(coll, [root], chunker=CHUNKER)
    assert appended.updated == ["latin.txt"] and appended.chunks_reused >= 1
    assert emb.embedded - before == appended.chunks_embedded >= 1
    assert appended.chunks_embedded < appended.chunks_reused + appended.chunks_embedded

    fourth = sync_paths(coll, [root], chunker=CHUNKER, delete_missing=True)
    assert fourth.removed == ["sub/disks.txt"]
    assert not any(i.startswith("sub/disks.txt#") for i in _state(coll))
    assert coll.stats.n_docs == coll.count()  # BM25 statistics follow every write


class Crash(RuntimeError):
    pass


def _crash_at(backend: Backend, n: int, monkeypatch) -> list[int]:
    """Make the n-th write (upsert, delete or state save) raise, once."""
    calls = [0]
    for name in ("upsert", "delete", "save_state"):
        real = getattr(backend, name)

        def wrapped(*args, _real=real, **kwargs):
            calls[0] += 1
            if calls[0] == n:
                raise Crash(f"write {n}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(backend, name, wrapped)
    return calls


def test_a_crash_between_any_two_writes_converges_on_rerun(
    backend: Backend, collection_name: str, tmp_path: Path
):
    root = _folder(tmp_path / "corpus")
    emb = CountingEmbedder()
    name = collection_name
    sync_paths(_coll(backend, name, emb), [root], chunker=CHUNKER, batch_size=8)
    (root / "logs.md").write_text("# Logs\n\n" + _sentences("journald", 9))
    (root / "owners.txt").write_text("chown changes owners.")
    (root / "sub" / "disks.txt").unlink()
    (root / "new.txt").write_text(_sentences("rsync", 4))
    # the state a clean run reaches, in a second collection
    ref = _coll(backend, name + "_ref", emb)
    sync_paths(ref, [root], chunker=CHUNKER, batch_size=8)  # from scratch, then:
    want = _state(ref)
    ref.drop()
    crashed = 0
    for n in range(1, 60):
        fresh = f"{name}_{n}"
        sync_paths(_coll(backend, fresh, emb), [_folder(tmp_path / f"c{n}")], chunker=CHUNKER)
        # same tree as root (the files' names and texts), then crash at write n
        for f in ("logs.md", "owners.txt", "new.txt"):
            (tmp_path / f"c{n}" / f).write_text((root / f).read_text())
        (tmp_path / f"c{n}" / "sub" / "disks.txt").unlink()
        with pytest.MonkeyPatch.context() as mp:
            _crash_at(backend, n, mp)
            try:
                sync_paths(
                    _coll(backend, fresh, emb),
                    [tmp_path / f"c{n}"],
                    chunker=CHUNKER,
                    batch_size=8,
                    delete_missing=True,
                )
            except Crash:
                crashed += 1
            except WriteError as stopped:  # an add that wrote some batches first
                assert isinstance(stopped.__cause__, Crash) and stopped.written, stopped
                crashed += 1
            else:
                break  # n passed the number of writes a run makes
        coll = _coll(backend, fresh, emb)  # reopened, as after a restart
        report = sync_paths(
            coll, [tmp_path / f"c{n}"], chunker=CHUNKER, batch_size=8, delete_missing=True
        )
        assert report.ok
        got = _state(coll)
        assert {i: t for i, (t, _) in got.items()} == {i: t for i, (t, _) in want.items()}, n
        assert coll.stats.n_docs == coll.count(), n
        coll.drop()
    assert crashed >= 5  # the writes of a sync were really interrupted, one by one


def test_sync_documents_with_caller_ids(backend: Backend, collection_name: str):
    emb = CountingEmbedder()
    coll = _coll(backend, collection_name, emb)
    docs = [
        SourceDocument("faq/1", _sentences("backup", 4), {"lang": "en"}),
        SourceDocument("faq/2", _sentences("restore", 4), {"lang": "en"}),
        SourceDocument("faq/3", "\x00 short answer with a NUL", {"lang": "de"}),
    ]
    first = sync_documents(coll, docs, chunker=CHUNKER)
    assert sorted(first.added) == ["faq/1", "faq/2", "faq/3"] and "faq/3" in first.notes
    coll.add_texts(["added by hand, with an int id"], metadatas=[{"lang": "en"}], ids=[5])
    embedded = emb.embedded
    changed = [docs[0], SourceDocument("faq/2", docs[1].text, {"lang": "fr"})]
    second = sync_documents(coll, changed, chunker=CHUNKER, delete_missing=True)
    assert second.unchanged == ["faq/1"] and second.updated == ["faq/2"]
    assert second.removed == ["5", "faq/3"] and coll.get([5]) == []  # the int id itself
    assert emb.embedded - embedded == second.chunks_embedded
    assert {d.metadata["lang"] for b in coll.scroll() for d in b} == {"en", "fr"}


def test_grouped_search_answers_per_document(
    backend: Backend, collection_name: str, tmp_path: Path
):
    coll = _coll(backend, collection_name, CountingEmbedder())
    root = _folder(tmp_path / "corpus")
    (root / "copy.txt").write_text((root / "owners.txt").read_text() + " ")  # same chunks
    sync_paths(coll, [root], chunker=CHUNKER)
    plain = coll.search("chown note explains chown", k=3)
    assert len({h.document.metadata["doc_id"] for h in plain}) < 3  # chunks of one file
    for config in (
        RetrieverConfig(group_by="doc_id"),
        RetrieverConfig(mode="dense", group_by="doc_id"),
    ):
        hits = coll.retriever(config).search("chown note explains chown", k=3)
        doc_ids = [h.document.metadata["doc_id"] for h in hits]
        assert len(hits) == 3 and len(set(doc_ids)) == 3
        assert doc_ids[0] in ("owners.txt", "copy.txt")
        for hit in hits:
            assert hit.kind in hit.scores
            assert all(
                g.document.metadata["doc_id"] == hit.document.metadata["doc_id"] for g in hit.group
            )
        texts = [h.document.text for h in hits] + [g.document.text for h in hits for g in h.group]
        assert len(texts) == len(set(texts))  # identical chunk texts are dropped
    undeduped = coll.retriever(group_by="doc_id", dedup=False).search("chown note", k=2)
    texts = [h.document.text for h in undeduped] + [
        g.document.text for h in undeduped for g in h.group
    ]
    assert len(texts) > len(set(texts))  # owners.txt and copy.txt: the same chunks twice


def test_add_embeds_and_writes_a_batch_at_a_time(backend: Backend, collection_name: str):
    """The progress bar of Collection.add moves per batch: each model call embeds at
    most batch_size texts (it embedded a whole 4,096-document window before)."""
    calls: list[int] = []

    class Recording(CountingEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
            calls.append(len(texts))
            return super().embed_documents(texts)

    coll = _coll(backend, collection_name, Recording())
    texts = [_sentences(f"topic{i}", 1 + i % 5) for i in range(20)]
    coll.add_texts(texts, ids=[f"d{i}" for i in range(20)], batch_size=6)
    assert calls == [6, 6, 6, 2]
    assert coll.count() == 20 == coll.stats.n_docs
    assert {d.text for b in coll.scroll() for d in b} == set(texts)

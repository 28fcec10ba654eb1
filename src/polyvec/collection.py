"""A :class:`Collection`: documents in one backend collection, embedded and BM25-encoded.

The collection owns what a backend does not: embedding documents, BM25 encoding,
the corpus statistics BM25 needs (kept current on upsert and delete, and persisted
beside the collection), and validation. Searching is :class:`~polyvec.retriever.Retriever`'s
job; :meth:`Collection.search` is a shortcut to it::

    import polyvec
    docs = polyvec.connect("qdrant+memory://", collection="notes")
    docs.add(["Qdrant is a vector database", "PostgreSQL has pgvector"])
    hits = docs.search("which database stores vectors?", k=1)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from polyvec.backends.base import Backend, CollectionSpec, Distance
from polyvec.embeddings_base import Embedder, embedder_variant, require_same_embedder
from polyvec.errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    WriteError,
)
from polyvec.facets import DEFAULT_SCAN_LIMIT, Facets, check_facet_args
from polyvec.filters.ast import Filter
from polyvec.filters.parse import parse_filter
from polyvec.saved_state import SavedState
from polyvec.schema import MetadataSchema
from polyvec.sparse.bm25 import BM25, CorpusStats
from polyvec.stats import CollectionStats, collection_statistics
from polyvec.tracing import Hits
from polyvec.types import DocId, Document, SparseVector, as_dense

if TYPE_CHECKING:
    from polyvec.retriever import Retriever, RetrieverConfig

__all__ = ["Collection", "FilterLike", "connect"]

FilterLike = Filter | Mapping[str, Any] | None
"""A filter AST node, a dict in the filter syntax, or ``None``."""

log = logging.getLogger("polyvec")

STATE_VERSION = 1
EMBED_WINDOW = 4096
"""Documents whose statistics are saved together during ``add`` (one write-ahead mark
per window); they are embedded and written ``batch_size`` at a time."""


def _choose_embedder(embedder: Embedder | str | None, state: Mapping[str, Any] | None) -> Embedder:
    """The embedder a collection uses: the one given (an :class:`Embedder` or a spec such
    as ``"torch"`` or ``"onnx:int8"``), else the default one in the variant the collection
    was built with."""
    if isinstance(embedder, str):
        from polyvec.embeddings import make_embedder

        return make_embedder(embedder)
    if embedder is not None:
        return embedder
    from polyvec.embeddings import default_embedder

    recorded = state.get("embedder_variant") if state else None
    return default_embedder(recorded) if isinstance(recorded, str) else default_embedder()


def _as_document(item: Document | str, index: int) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        raise InputError(
            "add() got a str without an id: use add_texts(texts, ids=...) or pass "
            f"Document(id=..., text=...) objects (item {index})"
        )
    raise InputError(f"add() takes Document objects, got {type(item).__name__} (item {index})")


def _stopped_part_way(
    name: str, docs: Sequence[Document], written: list[DocId], exc: Exception
) -> WriteError:
    """The error of an ``add`` that failed after some of its documents were written:
    which ids are in the store (``.written``) and which are not (``.failed``)."""
    if isinstance(exc, WriteError):  # the failing batch's own written part
        written = written + exc.written
    done = {(type(i), i) for i in written}
    failed = [d.id for d in docs if (type(d.id), d.id) not in done]
    return WriteError(
        f"add() to collection {name!r} stopped part-way ({type(exc).__name__}: {exc})",
        written=written,
        failed=failed,
    )


class Collection:
    """One collection in one backend, with the embedder and BM25 settings it was built with.

    Use :func:`polyvec.connect` to make one. ``embedder`` defaults to the offline
    all-MiniLM-L6-v2 model; ``bm25`` to ``BM25()`` (k1=1.2, b=0.75, English).
    ``schema`` (a :class:`~polyvec.schema.MetadataSchema`) declares metadata types: it
    normalises metadata on ``add``, checks every filter, indexes ``indexed=True`` fields
    when the collection is created, and is saved with the collection (reopen it without
    ``schema=`` to get the saved one back).
    Safe to share across threads: writes are serialised, searches are not.
    """

    def __init__(
        self,
        backend: Backend,
        name: str,
        *,
        embedder: Embedder | str | None = None,
        bm25: BM25 | None = None,
        distance: Distance | None = None,
        options: Mapping[str, Any] | None = None,
        batch_size: int = 256,
        create: bool = True,
        schema: MetadataSchema | None = None,
    ) -> None:
        if schema is not None and not isinstance(schema, MetadataSchema):
            raise ConfigurationError(
                f"schema must be a polyvec.MetadataSchema, got {type(schema).__name__}: "
                "wrap the dict as MetadataSchema({...})"
            )
        self.backend = backend
        self.name = name
        self.batch_size = batch_size
        self._write_lock = threading.RLock()
        self._saved = SavedState(backend, name)
        self._doubtful = False  # the statistics may miss another writer's change
        self._contended = False  # another writer was seen (no lock): saves stay pending
        self._spec = backend.get_spec(name)
        state = self._saved.load() if self._spec is not None else None
        embedder = _choose_embedder(embedder, state)
        if state:
            require_same_embedder(state, embedder, name)
        self.embedder = embedder
        if self._spec is None:
            if not create:
                raise CollectionNotFoundError(name, type(backend).__name__)
            opts = dict(options or {})
            if schema is not None:
                opts = schema.collection_options(backend.capabilities.backend, opts)
            self._spec = CollectionSpec(
                name, embedder.dimension, distance or "cosine", sparse=True, options=opts
            )
            backend.create_collection(self._spec)
            created = True
        else:
            created = False
            if distance is not None and distance != self._spec.distance:
                raise CollectionMismatchError(
                    name,
                    "distance",
                    self._spec.distance,
                    distance,
                    "open it without distance=..., or re-ingest into a new collection",
                )
        if self._spec.dimension != embedder.dimension:
            raise DimensionMismatchError(
                self._spec.dimension, embedder.dimension, where=f"embedder {embedder.name!r}"
            )
        if state:
            saved_bm25 = BM25.from_config(state["bm25"])
            if bm25 is not None and bm25 != saved_bm25:
                raise ConfigurationError(
                    f"collection {name!r} was built with {saved_bm25!r}, not {bm25!r}: "
                    "open it without bm25=..., or re-ingest into a new collection"
                )
            self.bm25 = saved_bm25
            self.stats = CorpusStats.from_dict(state["stats"])
        else:
            self.bm25 = bm25 or BM25()
            self.stats = CorpusStats(track_df=not backend.capabilities.native_idf)
        self.schema = self._schema(schema, state)
        if created and schema is not None:
            self._save_state()  # the schema is part of the collection from the start
        stale = state is not None and (
            state.get("pending") or backend.count(name) != self.stats.n_docs
        )
        if stale and self._spec.sparse:  # without BM25 vectors the statistics serve nothing
            self.rebuild_statistics()

    def _schema(
        self, given: MetadataSchema | None, state: Mapping[str, Any] | None
    ) -> MetadataSchema | None:
        saved = (state or {}).get("schema")
        if saved is None:
            return given
        stored = MetadataSchema.from_dict(saved)
        if given is not None and given != stored:
            raise ConfigurationError(
                f"collection {self.name!r} was created with {stored!r}, not {given!r}: open "
                "it without schema=..., or re-ingest into a new collection"
            )
        return stored

    def prepare_filter(self, filter: FilterLike) -> Filter | None:
        """``filter`` parsed and, with a schema, checked against it (ISO strings compared
        with ``datetime`` fields become dates); what every search, count, scroll and
        delete of this collection runs."""
        parsed = parse_filter(filter)
        return parsed if self.schema is None else self.schema.check_filter(parsed)

    def rebuild_statistics(self) -> None:
        """Recount the BM25 corpus statistics from the stored documents.

        Done automatically on open when a write was interrupted (a crash between
        writing documents and saving the statistics), so BM25 scores stay exact.
        """
        with self._write_lock, self.backend.write_section(self.name):
            self._recount("an earlier write was interrupted")

    def _recount(self, reason: str) -> None:
        stats = CorpusStats(track_df=not self.backend.capabilities.native_idf)
        for batch in self.backend.scroll(self.name, batch_size=1024):
            stats.add_many(self.bm25.term_counts_many(d.text for d in batch))
        log.warning(
            "polyvec: BM25 statistics of collection %r were rebuilt from %d stored documents (%s)",
            self.name,
            stats.n_docs,
            reason,
        )
        self.stats, self._doubtful = stats, False
        self._save_state()

    def _catch_up(self, exclusive: bool) -> bool:
        """Start a write from the statistics another writer saved since this one's;
        whether there were any."""
        stored = self._saved.moved()
        if stored is None:
            return False
        if stored.get("pending"):  # its writer is inside a write, or died in one
            if exclusive:  # nobody else is inside: it died, and its rows are uncounted
                self._recount("a writer of this collection was interrupted")
                return True
            self._doubtful = True
        self._contended = self._contended or not exclusive
        self.stats = CorpusStats.from_dict(stored["stats"])
        return True

    def _settle(self, exclusive: bool) -> None:
        """End a write: save the statistics, or — when another writer may have written
        meanwhile — never save a view that misses its change: recount them under a lock;
        without one, save them marked pending, so that the next open recounts (a recount
        here could itself miss a write still under way)."""
        if exclusive:
            if self._doubtful:
                self._recount("they missed a change by another writer")
            else:
                self._save_state()
            return
        if self._doubtful or self._saved.moved() is not None:
            if not self._contended:
                log.warning(
                    "polyvec: another process writes collection %r at the same time; its "
                    "BM25 statistics will be recounted when it is next opened (or call "
                    "rebuild_statistics() once the writers are done)",
                    self.name,
                )
            self._contended = True
        # once writers met, every save may miss the other's latest change
        self._save_state(pending=self._contended)

    def _count_out(self, counts: Iterable[Any]) -> None:
        for one in counts:
            try:
                self.stats.remove(one)
            except InputError:  # never counted here: this view missed another writer's add
                self._doubtful = True

    # -- info --------------------------------------------------------------------------
    @property
    def spec(self) -> CollectionSpec:
        assert self._spec is not None
        return self._spec

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    def __repr__(self) -> str:
        return (
            f"Collection(name={self.name!r}, backend={self.backend!r}, "
            f"embedder={self.embedder.name!r}, dimension={self.dimension}, "
            f"documents={self.stats.n_docs})"
        )

    def statistics(self) -> CollectionStats:
        """Documents, the engine's own figures (vectors, indexed vectors, segments,
        index state, size on disk and in memory, each ``None`` where the engine does not
        report it) and the BM25 statistics; ``polyvec info`` shows them::

            print(docs.statistics())

        (``Collection.stats`` is the BM25 :class:`~polyvec.sparse.CorpusStats` itself.)
        """
        return collection_statistics(self.backend, self.name, corpus=self.stats, bm25=self.bm25)

    def facet(
        self,
        field: str,
        *,
        filter: FilterLike = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        """How many documents (matching ``filter``) hold each value of ``field``,
        highest count first; ``limit=None`` returns every value. Native where the engine
        counts (``capabilities.feature_support("facet") == "native"``), else polyvec
        reads the matching documents, and raises ``ScanLimitError`` rather than read
        more than ``scan_limit``. What a count means for lists, missing fields, numbers
        and booleans: :mod:`polyvec.facets`::

            for value, count in docs.facet("section", filter={"lang": "en"}).items():
                print(value, count)
        """
        check_facet_args(field, limit, scan_limit)
        return self.backend.facet(
            self.name,
            field,
            filter=self.prepare_filter(filter),
            limit=limit,
            scan_limit=scan_limit,
        )

    def info(self) -> dict[str, Any]:
        """Name, size, embedder, BM25 settings, metadata schema and the backend's
        capabilities."""
        return {
            "collection": self.name,
            "count": self.count(),
            "dimension": self.dimension,
            "distance": self.spec.distance,
            "embedder": self.embedder.name,
            "bm25": self.bm25.config(),
            "schema": self.schema.to_dict() if self.schema is not None else None,
            "capabilities": self.backend.capabilities.as_dict(),
        }

    # -- writes ------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any]] | None = None,
        ids: Iterable[DocId] | None = None,
        **kwargs: Any,
    ) -> list[DocId]:
        """Add plain texts; ``ids`` default to ``0, 1, 2 …`` offset by the current count."""
        texts = list(texts)
        metas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        if ids is None:
            start = self.count()
            id_list: list[DocId] = list(range(start, start + len(texts)))
        else:
            id_list = list(ids)
        if not len(texts) == len(metas) == len(id_list):
            raise InputError(
                f"add_texts got {len(texts)} texts, {len(metas)} metadatas and "
                f"{len(id_list)} ids: pass one of each per document"
            )
        docs = [Document(i, t, m) for i, t, m in zip(id_list, texts, metas)]
        return self.add(docs, **kwargs)

    def add(
        self,
        documents: Iterable[Document],
        *,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> list[DocId]:
        """Embed, BM25-encode and upsert ``documents`` in batches; returns their ids.

        Re-adding an id replaces that document (and its BM25 statistics). Documents
        that carry ``dense``/``sparse`` vectors keep them. ``progress`` shows a bar
        (default: when there is more than one batch).
        """
        docs = [_as_document(d, i) for i, d in enumerate(documents)]
        if not docs:
            return []
        if self.schema is not None:
            schema = self.schema
            docs = [replace(d, metadata=schema.normalize(d.metadata, doc_id=d.id)) for d in docs]
        seen: set[tuple[type, DocId]] = set()
        for d in docs:
            key = (type(d.id), d.id)
            if key in seen:
                raise InputError(f"id {d.id!r} appears twice in one add(): ids must be unique")
            seen.add(key)
            if d.dense is not None and d.dense.shape[0] != self.dimension:
                raise DimensionMismatchError(self.dimension, d.dense.shape[0], f"document {d.id!r}")
        # Everything the engine would refuse is refused here, before the first write.
        self.backend.check_documents(docs)
        size = batch_size or self.batch_size
        bar = tqdm(
            total=len(docs),
            desc=f"polyvec add → {self.name}",
            unit="doc",
            disable=not (progress if progress is not None else len(docs) > size),
        )
        with self._write_lock, bar:
            counts = self.bm25.term_counts_many(d.text for d in docs)
            # Document-side BM25 uses the average length the collection will have once
            # this call is done, so that one add() of a corpus matches bm25s exactly.
            final = self.stats.copy()
            for replaced in self._existing_counts([d.id for d in docs]).values():
                with contextlib.suppress(InputError):  # a stale view: the window rechecks
                    final.remove(replaced)
            final.add_many(counts)
            # A window is embedded and written a batch of ``size`` at a time (in the
            # given order), so the bar moves per batch; the embedder sorts each batch by
            # length itself.
            window = max(size, EMBED_WINDOW)
            written: list[DocId] = []
            try:
                for wstart in range(0, len(docs), window):
                    part = slice(wstart, wstart + window)
                    self._write_window(docs[part], counts[part], final, size, bar, written)
            except Exception as exc:
                if not written:
                    raise  # nothing of this call is in the store: the error as it came
                raise _stopped_part_way(self.name, docs, written, exc) from exc
        return [d.id for d in docs]

    def _write_window(
        self,
        docs: Sequence[Document],
        counts: Sequence[Any],
        final: CorpusStats,
        size: int,
        bar: Any,
        written: list[DocId],
    ) -> None:
        """Embed and write one window of an ``add`` (``size`` documents at a time) in
        one write section, between a pending mark and the saved statistics; the ids
        acknowledged so far go to ``written``."""
        with self.backend.write_section(self.name) as exclusive:
            self._catch_up(exclusive)
            # what this window replaces, read inside the section: another writer may
            # have replaced it since the caller's view
            old = self._existing_counts([d.id for d in docs])
            if not exclusive:  # one more look right before the mark replaces the
                self._catch_up(exclusive)  # stored state: a save since would go unseen
            # Write-ahead mark: if the process dies before the statistics below are
            # saved, the next open sees it and recounts them from the store.
            self._save_state(pending=True)
            for start in range(0, len(docs), size):
                batch = self._vectorise(
                    docs[start : start + size], counts[start : start + size], final
                )
                self.backend.upsert(self.name, batch)
                written.extend(d.id for d in batch)
                self._count_out(old[key] for d in batch if (key := (type(d.id), d.id)) in old)
                self.stats.add_many(counts[start : start + size])
                bar.update(len(batch))
            self._settle(exclusive)

    def _existing_counts(self, ids: Sequence[DocId]) -> dict[tuple[type, DocId], Any]:
        if self.stats.n_docs == 0:
            return {}
        found: dict[tuple[type, DocId], Any] = {}
        for start in range(0, len(ids), 1024):
            for doc in self.backend.get(self.name, ids[start : start + 1024]):
                found[(type(doc.id), doc.id)] = self.bm25.term_counts(doc.text)
        return found

    def _vectorise(
        self, batch: Sequence[Document], counts: Sequence[Any], stats: CorpusStats
    ) -> list[Document]:
        need = [d.text for d in batch if d.dense is None]
        dense = iter(self.embedder.embed_documents(need) if need else np.empty((0, 0)))
        sparse = iter(self.bm25.encode_documents(counts, stats))
        out = []
        for doc in batch:
            vec = doc.dense if doc.dense is not None else as_dense(next(dense))
            sv: SparseVector = next(sparse)
            if vec.shape[0] != self.dimension:
                raise DimensionMismatchError(self.dimension, vec.shape[0], f"document {doc.id!r}")
            # a collection made without sparse vectors (another store's) takes dense only
            keep = (doc.sparse or sv) if self.spec.sparse else None
            out.append(doc.with_vectors(dense=vec, sparse=keep))
        return out

    def delete(self, ids: Sequence[DocId] | None = None, *, filter: FilterLike = None) -> None:
        """Delete by ids, or every document matching ``filter`` (exactly one of them)."""
        parsed = self.prepare_filter(filter)
        if (ids is None) == (parsed is None):
            raise InputError("delete() takes ids or filter=..., exactly one of them")
        with self._write_lock, self.backend.write_section(self.name) as exclusive:
            self._catch_up(exclusive)
            if ids is not None:
                removed = self.backend.get(self.name, list(ids))
            else:
                removed = [
                    d for batch in self.backend.scroll(self.name, filter=parsed) for d in batch
                ]
            self._save_state(pending=True)
            self.backend.delete(self.name, ids=ids, filter=parsed)
            self._count_out(self.bm25.term_counts_many(d.text for d in removed))
            self._settle(exclusive)

    def _save_state(self, *, pending: bool = False) -> None:
        self._saved.save(
            {
                "version": STATE_VERSION,
                "embedder": self.embedder.name,
                "embedder_variant": embedder_variant(self.embedder),
                "bm25": self.bm25.config(),
                "stats": self.stats.to_dict(),
                **({"schema": self.schema.to_dict()} if self.schema is not None else {}),
            },
            pending=pending,
        )

    # -- reads -------------------------------------------------------------------------
    def get(self, ids: Sequence[DocId], *, with_vectors: bool = False) -> list[Document]:
        """The documents with these ids that exist, in the order given."""
        return self.backend.get(self.name, list(ids), with_vectors=with_vectors)

    def count(self, filter: FilterLike = None) -> int:
        return self.backend.count(self.name, self.prepare_filter(filter))

    def scroll(
        self, *, filter: FilterLike = None, batch_size: int = 256, with_vectors: bool = False
    ) -> Iterator[list[Document]]:
        return self.backend.scroll(
            self.name,
            filter=self.prepare_filter(filter),
            batch_size=batch_size,
            with_vectors=with_vectors,
        )

    def drop(self) -> None:
        """Delete the whole collection and its polyvec state."""
        with self._write_lock:
            self.backend.drop_collection(self.name)
            self.stats = CorpusStats(track_df=not self.backend.capabilities.native_idf)

    # -- query encoding (used by the retriever) ---------------------------------------
    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        vectors = self.embedder.embed_queries(list(queries))
        if vectors.shape[1] != self.dimension:
            raise DimensionMismatchError(self.dimension, vectors.shape[1], "query vector")
        return vectors

    def encode_query_sparse(self, query: str) -> SparseVector:
        """BM25 query vector: IDF weights from our statistics, or 1s where the engine
        applies IDF itself."""
        if not self.spec.sparse:
            raise ConfigurationError(
                f"collection {self.name!r} has no BM25 vectors (another store made it, e.g. "
                "langchain-qdrant in dense mode): search it in dense mode, or rebuild it with "
                "BM25 in place: polyvec migrate --from <peer> URL URL --collection "
                f"{self.name} --to-collection <new name>"
            )
        native = self.backend.capabilities.native_idf
        return self.bm25.encode_query(query, None if native else self.stats)

    # -- search shortcuts --------------------------------------------------------------
    def retriever(self, config: RetrieverConfig | None = None, **options: Any) -> Retriever:
        """A :class:`~polyvec.retriever.Retriever` over this collection."""
        from polyvec.retriever import Retriever, RetrieverConfig

        if config is None:
            config = RetrieverConfig(**options)
        elif options:
            raise ConfigurationError("pass either config=... or keyword options, not both")
        return Retriever(self, config)

    def search(self, query: str, *, k: int = 10, filter: FilterLike = None, **options: Any) -> Hits:
        """Search with a default (hybrid, DBSF) retriever; ``options`` go to RetrieverConfig
        (``trace=True`` attaches per-stage timings as ``hits.trace``)."""
        return self.retriever(**options).search(query, k=k, filter=filter)

    # -- async twins -------------------------------------------------------------------
    async def aadd(self, documents: Iterable[Document], **kwargs: Any) -> list[DocId]:
        docs = list(documents)
        return await asyncio.to_thread(lambda: self.add(docs, **kwargs))

    async def aadd_texts(self, texts: Iterable[str], **kwargs: Any) -> list[DocId]:
        items = list(texts)
        return await asyncio.to_thread(lambda: self.add_texts(items, **kwargs))

    async def adelete(
        self, ids: Sequence[DocId] | None = None, *, filter: FilterLike = None
    ) -> None:
        await asyncio.to_thread(lambda: self.delete(ids, filter=filter))

    async def aget(self, ids: Sequence[DocId], *, with_vectors: bool = False) -> list[Document]:
        return await asyncio.to_thread(lambda: self.get(ids, with_vectors=with_vectors))

    async def acount(self, filter: FilterLike = None) -> int:
        return await asyncio.to_thread(self.count, filter)

    async def afacet(
        self,
        field: str,
        *,
        filter: FilterLike = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        return await asyncio.to_thread(
            lambda: self.facet(field, filter=filter, limit=limit, scan_limit=scan_limit)
        )

    async def astatistics(self) -> CollectionStats:
        return await asyncio.to_thread(self.statistics)

    async def asearch(
        self, query: str, *, k: int = 10, filter: FilterLike = None, **options: Any
    ) -> Hits:
        return await self.retriever(**options).asearch(query, k=k, filter=filter)

    def optimize(self) -> bool:
        """Build the engine's indexes now, after a bulk ingest, where the engine has no
        background optimizer (qdrant-edge, the embedded default: until then new points
        are searched by full scan — correct, but slower at scale). Elsewhere a no-op.
        True if anything changed::

            docs.add(many_documents)
            docs.optimize()
        """
        return self.backend.optimize(self.name)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    url: str | None = None,
    *,
    collection: str = "documents",
    embedder: Embedder | str | None = None,
    bm25: BM25 | None = None,
    distance: Distance | None = None,
    options: Mapping[str, Any] | None = None,
    create: bool = True,
    schema: MetadataSchema | None = None,
    **backend_options: Any,
) -> Collection:
    """Open (or create) a collection on the backend a URL names.

    The backend is chosen by the URL's scheme (``qdrant+memory://``,
    ``qdrant+local:///path``, ``qdrant-edge:///path``, ``postgresql://…``,
    ``chroma+local:///path``, ``milvus+lite:///file.db`` …); with no URL, ``$POLYVEC_URL``,
    else the embedded default (a store under ``./.polyvec``). ``backend_options`` go
    to the backend; ``options`` (HNSW, quantization, indexes …) to the collection;
    ``create=False`` raises ``CollectionNotFoundError`` instead of creating it;
    ``schema`` declares metadata types (:class:`~polyvec.schema.MetadataSchema`)::

        docs = polyvec.connect("qdrant+memory://", collection="notes")
    """
    from polyvec.backends.registry import open_backend

    backend = open_backend(url, **backend_options)
    try:
        return Collection(
            backend,
            collection,
            embedder=embedder,
            bm25=bm25,
            distance=distance,
            options=options,
            create=create,
            schema=schema,
        )
    except BaseException:
        backend.close()
        raise

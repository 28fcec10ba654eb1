"""``QdrantEdgeBackend``: polyvec over qdrant-edge-py, Qdrant's Rust engine in-process
(no server, no network). polyvec's embedded default::

    from polyvec.backends.qdrant import QdrantEdgeBackend
    backend = QdrantEdgeBackend.from_url("qdrant-edge://./.polyvec/data")

URLs: ``qdrant-edge:///abs/dir``, ``qdrant-edge://./rel/dir`` (relative to the working
directory), and ``qdrant-edge://`` (a temporary directory, deleted on ``close()``).
Parameters: ``batch_size``, ``progress``.

On disk, each collection is one Edge shard plus polyvec's two small JSON files::

    <dir>/<collection>/shard/        the EdgeShard (segments, WAL)
    <dir>/<collection>/spec.json     the CollectionSpec
    <dir>/<collection>/state.json    polyvec's state (BM25 statistics)

Points, payloads, ids and filters are exactly as in :class:`QdrantBackend` (the same
translation, emitted as ``qdrant_edge`` objects). An Edge shard is opened by one
process at a time. Large collections search faster after :meth:`optimize` builds
the HNSW index.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Capabilities,
    CollectionSpec,
)
from polyvec.backends.paths import check_store_path
from polyvec.backends.qdrant._shared import (
    Layout,
    NativeFusion,
    PointData,
    QdrantBase,
    Rec,
    spec_from_json,
)
from polyvec.backends.qdrant.filters import to_edge_filter
from polyvec.backends.qdrant.options import QdrantOptions, parse_options
from polyvec.backends.store_lock import acquire
from polyvec.backends.translate import translated
from polyvec.errors import (
    BackendError,
    CollectionNotFoundError,
    ConfigurationError,
    MissingDependencyError,
    PolyvecError,
)
from polyvec.filters.ast import Filter
from polyvec.stats import EngineStats, directory_bytes
from polyvec.types import SparseVector

try:
    import qdrant_edge as qe
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "qdrant-edge-py", "qdrant-edge", "the Qdrant Edge backend"
    ) from exc

__all__ = ["QdrantEdgeBackend"]

_DISTANCES = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "l2": qe.Distance.Euclid}
_SCHEMAS = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
    "datetime": qe.PayloadSchemaType.Datetime,
    "text": qe.PayloadSchemaType.Text,
    "uuid": qe.PayloadSchemaType.Uuid,
}
_COMPRESSION = {f"x{n}": getattr(qe.CompressionRatio, f"X{n}") for n in (4, 8, 16, 32, 64)}


def _dir_name(collection: str) -> str:
    name = quote(collection, safe="-_")
    return name.replace(".", "%2E") if name.strip(".") == "" else name


def _edge_options(opts: QdrantOptions) -> dict[str, Any]:
    """EdgeConfig keyword arguments for the validated collection options."""
    out: dict[str, Any] = {}
    try:
        if opts.hnsw:
            h = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, **opts.hnsw}
            out["hnsw_config"] = qe.HnswIndexConfig(**h)
        if opts.quantization:
            kind, raw = next(iter(opts.quantization.items()))
            cfg = dict(raw or {})
            if kind == "scalar":
                cfg["type"] = qe.ScalarType.Int8
                out["quantization_config"] = qe.ScalarQuantizationConfig(**cfg)
            elif kind == "product":
                cfg["compression"] = _COMPRESSION[str(cfg.get("compression", "x16")).lower()]
                out["quantization_config"] = qe.ProductQuantizationConfig(**cfg)
            else:
                out["quantization_config"] = qe.BinaryQuantizationConfig(
                    always_ram=cfg.get("always_ram")
                )
        if opts.optimizers:
            out["optimizers"] = qe.EdgeOptimizersConfig(**opts.optimizers)
        if opts.on_disk_payload is not None:
            out["on_disk_payload"] = opts.on_disk_payload
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"bad Qdrant Edge collection option: {exc!r}") from exc
    if opts.server:
        raise ConfigurationError(
            f"{sorted(opts.server)} are Qdrant server options; an Edge shard has no replicas"
        )
    return out


def _search_params(search: dict[str, Any] | None) -> Any:
    if not search:
        return None
    try:
        quant = search.get("quantization")
        return qe.SearchParams(
            hnsw_ef=search.get("hnsw_ef"),
            exact=bool(search.get("exact", False)),
            quantization=qe.QuantizationSearchParams(**quant) if quant else None,
            indexed_only=bool(search.get("indexed_only", False)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad Qdrant Edge search option: {exc!r}") from exc


class QdrantEdgeBackend(QdrantBase):
    """polyvec over an in-process Qdrant Edge store in ``path`` (a directory; ``None``
    makes a temporary one that ``close()`` deletes). Every call holds a lock, so one
    backend can be shared by threads."""

    engine_name = "qdrant-edge"
    schemes: ClassVar[tuple[str, ...]] = ("qdrant-edge",)
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="qdrant-edge",
        sparse=True,
        native_idf=True,
        hybrid_fusions=frozenset({"rrf", "dbsf", "convex"}),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS,
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot", "l2"}),
        emulated=frozenset({"facet"}),
        feature_notes=(
            (
                "facet",
                "Qdrant's facet API needs a keyword/integer/bool payload index and counts "
                "only values of that type, so polyvec scans to keep its facet semantics",
            ),
        ),
        notes=(
            "Qdrant's Rust engine in-process: the same filters, IDF and fusion as a server",
            "hybrid RRF/DBSF run in one query (two Prefetch); Convex, unequal weights, a "
            "fractional RRF k and DBSF over l2 are fused by polyvec over two payload-free "
            "searches, then the top k are read (Qdrant's formulas differ there)",
            "no background optimizer in-process: Collection.optimize() (called by `polyvec "
            "ingest`) merges segments and builds HNSW; until then new points are full-scanned",
        ),
    )

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 256,
        progress: bool = False,
    ) -> None:
        super().__init__(
            layout=Layout(), batch_size=batch_size, progress=progress, thread_lock=True
        )
        self._temporary = path is None
        self.root = Path(tempfile.mkdtemp(prefix="polyvec-edge-") if path is None else path)
        self.root = self.root.expanduser()
        # before any shard exists: two processes creating one shard lose writes
        self._store_lock = None if self._temporary else acquire(self.root, "Qdrant Edge", self)
        self._shards: dict[str, Any] = {}
        self._params: dict[str, Any] = {}
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> QdrantEdgeBackend:
        """``qdrant-edge:///abs/dir``, ``qdrant-edge://./rel/dir`` or ``qdrant-edge://``."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "qdrant-edge":
            raise ConfigurationError(f"{url!r} is not a qdrant-edge:// URL")
        kwargs: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query):
            if key == "batch_size" and value.isdigit():
                kwargs[key] = int(value)
            elif key == "progress" and value.lower() in ("true", "false", "1", "0"):
                kwargs[key] = value.lower() in ("true", "1")
            else:
                raise ConfigurationError(
                    f"unknown or malformed URL parameter {key}={value!r} for qdrant-edge; "
                    "known: batch_size=<int>, progress=true|false"
                )
        path = unquote(parts.netloc + parts.path)
        if path:
            check_store_path(url, path)
        return cls(path or None, **{**kwargs, **options})

    def __repr__(self) -> str:
        where = "temporary " if self._temporary else ""
        return f"<QdrantEdgeBackend {where}qdrant-edge://{self.root}>"

    def close(self) -> None:
        """Flush and close every open shard (and delete a temporary directory)."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            for shard in self._shards.values():
                with contextlib.suppress(Exception):
                    shard.flush()
                with contextlib.suppress(Exception):
                    shard.close()
            self._shards.clear()
            if self._temporary:
                shutil.rmtree(self.root, ignore_errors=True)
            if self._store_lock is not None:
                self._store_lock.release()

    def optimize(self, collection: str) -> bool:
        """Build indexes and merge segments now (blocking). True if anything changed."""
        self._require(collection)
        with self._guard, self._errors(collection, "optimize"):
            return bool(self._shard(collection).optimize())

    def collection_stats(self, collection: str) -> EngineStats:
        """The shard's info (points, indexed vectors, segments, payload indexes) and the
        size of its directory."""
        self._require(collection)
        with self._guard, self._errors(collection, "info"):
            info = self._shard(collection).info()
        indexed, points = int(info.indexed_vectors_count), int(info.points_count)
        return EngineStats(
            vectors=points,
            indexed_vectors=indexed,
            segments=int(info.segments_count),
            index="hnsw"
            if indexed >= points
            else f"hnsw over {indexed} of {points} points "
            "(the others are scanned exactly: small segments, or not optimized yet)",
            disk_bytes=directory_bytes(self._dir(collection)),
            details={"payload_indexes": sorted(info.payload_schema or {})},
        )

    # -- files and shards -------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.root / _dir_name(name)

    def _shard(self, name: str) -> Any:
        if self._closed:
            raise BackendError(f"{self!r} is closed: open a new backend")
        shard = self._shards.get(name)
        if shard is None:
            where = self._dir(name) / "shard"
            if not where.is_dir():
                raise CollectionNotFoundError(name, "qdrant-edge")
            with self._errors(name, "open shard"):
                shard = qe.EdgeShard.load(str(where))
            self._shards[name] = shard
        return shard

    def _errors(self, collection: str | None, op: str) -> AbstractContextManager[None]:
        def translate(exc: Exception) -> PolyvecError:
            text = str(exc)
            if "WouldBlock" in text:
                return BackendError(
                    f"the Qdrant Edge store {self.root} ({collection}) is open in another "
                    "backend or process: close that one first (one writer per shard)"
                )
            return BackendError(f"Qdrant Edge {op} failed in {self.root}: {text[:500]}")

        return translated(translate)

    @staticmethod
    def _write_json(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    # -- engine calls -----------------------------------------------------------------
    def _e_filter(self, filter: Filter | None) -> Any:
        return to_edge_filter(
            filter,
            root=self.layout.metadata_key,
            dates_root=self.layout.dates_key,
            numbers_root=self.layout.numbers_key,
        )

    def _e_only_ids(self, native_filter: Any, ids: Sequence[str | int]) -> Any:
        only = qe.HasIdCondition(set(ids))
        return qe.Filter(must=[only] if native_filter is None else [only, native_filter])

    def _e_create(self, spec: CollectionSpec, spec_json: str) -> None:
        opts = parse_options(spec.options)
        vector = qe.EdgeVectorParams(
            size=spec.dimension, distance=_DISTANCES[spec.distance], on_disk=opts.on_disk
        )
        sparse = {self.layout.sparse: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
        config = qe.EdgeConfig(
            vectors={self.layout.dense: vector},
            sparse_vectors=sparse if spec.sparse else None,
            **_edge_options(opts),
        )
        _search_params(opts.search)  # validate now rather than at the first query
        base = self._dir(spec.name)
        if (base / "shard").exists():
            shutil.rmtree(base / "shard")  # left over from a failed create: no spec.json
        base.mkdir(parents=True, exist_ok=True)
        with self._errors(spec.name, "create shard"):
            shard = qe.EdgeShard.create(str(base / "shard"), config)
            for name, schema in opts.payload_indexes.items():
                for path, kind in self._index_targets(name, schema, "qdrant-edge"):
                    shard.update(qe.UpdateOperation.create_field_index(path, _SCHEMAS[kind]))
        self._shards[spec.name] = shard
        self._write_json(base / "spec.json", spec_json)

    def _e_spec(self, name: str) -> CollectionSpec | None:
        path = self._dir(name) / "spec.json"
        if not path.is_file():
            return None
        stored = spec_from_json(path.read_text(encoding="utf-8"))
        return CollectionSpec(
            name, stored.dimension, stored.distance, stored.sparse, stored.options
        )

    def _e_list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = []
        for child in self.root.iterdir():
            spec = child / "spec.json"
            if spec.is_file():
                names.append(str(json.loads(spec.read_text(encoding="utf-8"))["name"]))
        return names

    def _e_drop(self, name: str) -> None:
        self._params.pop(name, None)
        shard = self._shards.pop(name, None)
        if shard is not None:
            with contextlib.suppress(Exception):
                shard.close()
        shutil.rmtree(self._dir(name), ignore_errors=True)

    def _e_upsert(self, name: str, points: list[PointData]) -> None:
        native = []
        for pid, dense, sparse, payload in points:
            vector: dict[str, Any] = {self.layout.dense: dense}
            if sparse is not None and len(sparse):
                vector[self.layout.sparse] = qe.SparseVector(
                    list(sparse.indices), list(sparse.values)
                )
            native.append(qe.Point(pid, vector, payload))
        shard = self._shard(name)
        with self._errors(name, "upsert"):
            shard.update(qe.UpdateOperation.upsert_points(native))

    def _rec(self, point: Any) -> Rec:
        vectors = point.vector
        dense: Any = None
        sparse: Any = None
        if isinstance(vectors, dict):
            dense = vectors.get(self.layout.dense)
            sv = vectors.get(self.layout.sparse)
            if sv is not None:
                sparse = (sv.indices, sv.values)
        score = getattr(point, "score", 0.0)
        return Rec(str(point.id), point.payload or {}, dense, sparse, score)

    def _e_retrieve(self, name: str, ids: Sequence[str | int], with_vectors: bool) -> list[Rec]:
        shard = self._shard(name)
        with self._errors(name, "retrieve"):
            found = shard.retrieve(list(ids), with_payload=True, with_vector=with_vectors)
        return [self._rec(p) for p in found]

    def _e_delete(self, name: str, ids: list[str] | None, native_filter: Any) -> None:
        op = (
            qe.UpdateOperation.delete_points(list(ids))
            if ids is not None
            else qe.UpdateOperation.delete_points_by_filter(native_filter or qe.Filter())
        )
        shard = self._shard(name)
        with self._errors(name, "delete"):
            shard.update(op)

    def _e_count(self, name: str, native_filter: Any) -> int:
        shard = self._shard(name)
        with self._errors(name, "count"):
            return int(shard.count(qe.CountRequest(exact=True, filter=native_filter)))

    def _e_scroll(
        self, name: str, native_filter: Any, limit: int, offset: Any, with_vectors: bool
    ) -> tuple[list[Rec], Any]:
        shard = self._shard(name)
        request = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=native_filter,
            with_payload=True,
            with_vector=with_vectors,
        )
        with self._errors(name, "scroll"):
            found, next_offset = shard.scroll(request)
        return [self._rec(p) for p in found], next_offset

    def _search_params(self, name: str) -> Any:
        if name not in self._params:
            self._params[name] = _search_params(parse_options(self._require(name).options).search)
        return self._params[name]

    def _nearest(self, using: str, query: Any) -> Any:
        if isinstance(query, SparseVector):
            query = qe.SparseVector(list(query.indices), list(query.values))
        return qe.Query.Nearest(query, using=using)

    def _e_search(
        self,
        name: str,
        using: str,
        query: Any,
        limit: int,
        native_filter: Any,
        payload: bool = True,
    ) -> list[Rec]:
        request = qe.QueryRequest(
            limit=limit,
            query=self._nearest(using, query),
            filter=native_filter,
            params=self._search_params(name),
            with_payload=payload,
        )
        shard = self._shard(name)
        with self._errors(name, "query"):
            return [self._rec(p) for p in shard.query(request)]

    def _e_fused(
        self,
        name: str,
        dense: list[float],
        sparse: SparseVector,
        fusion: NativeFusion,
        k: int,
        candidates: int,
        native_filter: Any,
    ) -> list[Rec]:
        params = self._search_params(name)
        prefetches = [
            qe.Prefetch(
                limit=candidates,
                query=self._nearest(using, query),
                filter=native_filter,
                params=params,
            )
            for using, query in ((self.layout.dense, dense), (self.layout.sparse, sparse))
        ]
        fused: Any = (
            qe.Fusion.Rrf(k=fusion.qdrant_k or 0) if fusion.method == "rrf" else qe.Fusion.Dbsf()
        )
        request = qe.QueryRequest(
            limit=k, query=fused, prefetches=prefetches, filter=native_filter, with_payload=True
        )
        shard = self._shard(name)
        with self._errors(name, "query"):
            return [self._rec(p) for p in shard.query(request)]

    def _e_shadow_mark(self, name: str) -> int:
        path = self._dir(name) / "shadows.json"
        if not path.is_file():
            return 0
        return int(json.loads(path.read_text(encoding="utf-8")).get("version", 0))

    def _e_set_shadow_mark(self, name: str, version: int) -> None:
        self._write_json(self._dir(name) / "shadows.json", json.dumps({"version": version}))

    def _e_read_state(self, name: str) -> str | None:
        path = self._dir(name) / "state.json"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def _e_write_state(self, name: str, state_json: str) -> None:
        self._write_json(self._dir(name) / "state.json", state_json)

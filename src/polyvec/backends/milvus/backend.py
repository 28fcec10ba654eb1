"""``MilvusBackend``: polyvec over pymilvus — Milvus Lite (the real engine, in-process,
in one file) or a Milvus server::

    from polyvec.backends.milvus import MilvusBackend
    backend = MilvusBackend.from_url("milvus+lite://./milvus.db")
    backend = MilvusBackend.from_url("milvus://localhost:19530?db_name=rag")

URLs (``from_url``; ``polyvec.connect`` takes the same):

=====================================  ================================================
``milvus+lite:///abs/file.db``         Milvus Lite in a local file (``milvus+lite://./x.db``)
``milvus://host[:19530]``              a server over HTTP/gRPC
``milvus+https://host[:443]``          a server over TLS (Zilliz Cloud: ``?token=...``)
=====================================  ================================================

Query parameters: ``token`` (else ``MILVUS_TOKEN``; ``milvus://user:password@host``
works too; never shown in ``repr`` or errors), ``db_name``, ``prefix`` (prepended to
collection names), ``batch_size``, ``timeout`` (seconds per call, default 30),
``native_hybrid`` (``true``: Milvus fuses hybrid RRF itself, see below).

Dense and sparse vectors live in the same row. Hybrid search is fused by polyvec
(:func:`~polyvec.fusion.fuse`) over the two legs by default; with ``native_hybrid=True``
(``?native_hybrid=true``) Milvus' ``hybrid_search`` with ``RRFRanker`` fuses unweighted
RRF in one call — the same scores, but exact ties in Milvus' order (by primary key).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import warnings
from contextlib import AbstractContextManager
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Backend,
    Capabilities,
    CollectionSpec,
)
from polyvec.backends.milvus import indexes, layout
from polyvec.backends.milvus.filters import NOTHING, to_expr
from polyvec.backends.milvus.lite_lock import lite_file_in_use
from polyvec.backends.milvus.rows import MILVUS_MAX_INT, MilvusRows
from polyvec.backends.paths import checked_store_url
from polyvec.backends.store_lock import acquire
from polyvec.backends.translate import describe, translated
from polyvec.errors import (
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    MissingDependencyError,
    PolyvecError,
    StoreLockedError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import RRF, Fusion, fuse
from polyvec.redaction import redact_url
from polyvec.stats import EngineStats
from polyvec.types import Hit, SparseVector

try:
    from pymilvus import AnnSearchRequest, DataType, MilvusClient, RRFRanker
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("pymilvus", "milvus", "the Milvus backend") from exc

__all__ = ["MilvusBackend", "native_rrf_k", "parse_url"]

_INT_PARAMS = ("batch_size",)
_BOOL_PARAMS = ("native_hybrid",)
_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_FLOAT_PARAMS = ("timeout",)
_STR_PARAMS = ("token", "db_name", "prefix")
MAX_TOPK = 16384


def parse_url(url: str) -> dict[str, Any]:
    """``MilvusBackend`` keyword arguments for a ``milvus*://`` URL.

    >>> parse_url("milvus://db:19530?db_name=rag")
    {'uri': 'http://db:19530', 'db_name': 'rag'}
    >>> parse_url("milvus+lite://./data/milvus.db")
    {'path': './data/milvus.db'}
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            if key in _INT_PARAMS:
                opts[key] = int(value)
            elif key in _FLOAT_PARAMS:
                opts[key] = float(value)
            elif key in _STR_PARAMS:
                opts[key] = value
            elif key in _BOOL_PARAMS and value.lower() in _BOOL:
                opts[key] = _BOOL[value.lower()]
            else:
                known = ", ".join((*_INT_PARAMS, *_FLOAT_PARAMS, *_STR_PARAMS, *_BOOL_PARAMS))
                raise ConfigurationError(
                    f"unknown URL parameter {key!r} for Milvus; known: {known}"
                )
        except ValueError:
            raise ConfigurationError(f"URL parameter {key} must be a number") from None
    if scheme == "milvus+lite":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigurationError(
                f"{url!r} names no file: write milvus+lite:///abs/file.db or "
                "milvus+lite://./rel/file.db"
            )
        return {"path": os.path.expanduser(path), **opts}
    if scheme not in ("milvus", "milvus+https"):
        raise ConfigurationError(
            f"{scheme!r} is not a Milvus URL scheme: use milvus://host:19530, "
            "milvus+https://host or milvus+lite:///file.db"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{scheme}:// URL needs a host, e.g. milvus://localhost:19530")
    if parts.username and "token" not in opts:
        opts["token"] = unquote(parts.username) + ":" + unquote(parts.password or "")
    https = scheme == "milvus+https"
    port = parts.port or (443 if https else 19530)
    return {"uri": f"{'https' if https else 'http'}://{parts.hostname}:{port}", **opts}


def native_rrf_k(fusion: Fusion) -> int | None:
    """Milvus ``RRFRanker(k)`` scores ``Σ 1 / (k + rank)``, ranks from 1: polyvec's RRF
    with no weights (or equal ones, which only scale it) and an integer ``k`` in Milvus'
    range. Anything else (unequal weights, DBSF, Convex) is fused client-side."""
    if not isinstance(fusion, RRF):
        return None
    weights = fusion.weights
    if weights is not None and (len(weights) != 2 or weights[0] != weights[1]):
        return None
    if fusion.k != int(fusion.k) or not 0 < fusion.k < MAX_TOPK:
        return None
    return int(fusion.k)


class MilvusBackend(MilvusRows, Backend):
    """polyvec over pymilvus. Give one of ``path`` (a Milvus Lite file), ``uri`` (a
    server, ``http://host:19530``) or ``client`` (your own ``MilvusClient``).

    ``prefix`` is prepended to every collection name; ``batch_size`` rows go per
    write; ``timeout`` bounds every call (pymilvus otherwise retries some errors for
    a long time). ``native_hybrid=True`` lets Milvus fuse hybrid RRF itself (one call;
    equal scores then come in Milvus' order, by primary key, not polyvec's). A write that fails part-way raises ``WriteError`` with the ids that
    were and were not written; re-running it is safe.
    """

    engine_name = "milvus"
    max_exact_int = MILVUS_MAX_INT
    schemes: ClassVar[tuple[str, ...]] = ("milvus", "milvus+lite", "milvus+https")
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="milvus",
        sparse=True,
        native_idf=False,
        hybrid_fusions=frozenset(),
        mmr=False,
        filter_operators=ALL_FILTER_OPERATORS,
        filter_rewritten=REWRITTEN_FILTER_OPERATORS,
        filter_restrictions=(
            (
                "text_match",
                "where it is negated (under `not`), since Milvus has no negated `like`, and "
                "for a text holding a control character, which a Milvus string literal "
                "cannot carry",
            ),
        ),
        delete_by_filter=True,
        native_async=False,
        distances=frozenset({"cosine", "dot", "l2"}),
        emulated=frozenset({"facet"}),
        notes=(
            "hybrid search is fused client-side by default: Milvus' RRFRanker gives the same "
            "scores but orders ties by primary key; native_hybrid=True lets Milvus fuse "
            "unweighted RRF (WeightedRanker normalises with arctan, never as Convex does)",
            "filters run in Milvus against a typed shadow index (the pv JSON field), so "
            "they mean exactly what polyvec's evaluator says; every string is escaped",
            "text is a VARCHAR: at most 65,535 bytes per document",
        ),
    )

    def __init__(
        self,
        uri: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        token: str | None = None,
        db_name: str | None = None,
        client: Any = None,
        prefix: str = "",
        batch_size: int = 512,
        timeout: float = 30.0,
        native_hybrid: bool = False,
    ) -> None:
        given = [x for x in (uri, path, client) if x is not None]
        if len(given) > 1:
            raise ConfigurationError("give one of uri=, path= or client= to MilvusBackend")
        self.prefix = layout.check_prefix(prefix)
        self.batch_size = max(1, int(batch_size))
        self.timeout = float(timeout)
        self._secret = token or (os.environ.get("MILVUS_TOKEN") if uri else None) or None
        self._specs: dict[str, CollectionSpec] = {}
        self._ready: set[str] = set()  # collections whose indexes and load were checked
        self._closed = False
        self.native_hybrid = bool(native_hybrid)
        if self.native_hybrid:  # this instance declares Milvus' RRF as native
            self.__dict__["capabilities"] = dataclasses.replace(
                type(self).capabilities, hybrid_fusions=frozenset({"rrf"})
            )
        self._owns_client = client is None
        self._store_lock = None
        self._lite_file: str | None = None
        if client is not None:
            self.client = client
            self.display_url = "milvus (client given)"
            return
        if path is not None:
            target = self._lite_file = str(path)
            self.display_url = f"milvus+lite://{target}"
            # Before Milvus Lite opens the file; held until this process exits, as
            # pymilvus keeps the Milvus Lite server (and the file) until then.
            self._store_lock = acquire(target, "Milvus Lite")
            if lite_file_in_use(target):  # by a program other than polyvec
                self._store_lock.release()
                raise StoreLockedError(target, "Milvus Lite")
            with warnings.catch_warnings():  # milvus-lite warns that pkg_resources is old
                warnings.simplefilter("ignore")
                with contextlib.suppress(ImportError):
                    import milvus_lite  # noqa: F401
        else:
            target = uri or "http://localhost:19530"
            self.display_url = redact_url(target)
        kwargs: dict[str, Any] = {"uri": target, "timeout": self.timeout}
        if self._secret:
            kwargs["token"] = self._secret
        if db_name:
            kwargs["db_name"] = db_name
        try:
            self.client = self._connect(kwargs)
        except BaseException:
            if self._store_lock is not None:
                self._store_lock.release()
            raise

    def _connect(self, kwargs: dict[str, Any], attempts: int = 3) -> Any:
        """A MilvusClient, retried briefly: gRPC shares one transport per target, and a
        server that sent it GOAWAY (Milvus Lite answers idle keepalive pings with
        "too many pings") fails the next connect once before the transport recovers."""
        for attempt in range(attempts):
            try:
                return MilvusClient(**kwargs)
            except Exception as exc:
                if attempt == attempts - 1 or "Fail connecting" not in str(exc):
                    raise self._translate(exc, None, "connect") from exc
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MilvusBackend:
        """Open the backend a ``milvus*://`` URL names (see the module docstring);
        keyword ``options`` override the URL's query parameters."""
        return cls(**{**checked_store_url(url, parse_url(url)), **options})

    def __repr__(self) -> str:
        key = " token=***" if self._secret else ""
        return f"<MilvusBackend {self.display_url}{key}>"

    def close(self) -> None:
        """Close the client this backend opened (a client given to it stays open). A
        Milvus Lite file stays this process's until it exits: pymilvus keeps its server."""
        if not self._closed:
            self._closed = True
            if self._owns_client:
                with contextlib.suppress(Exception):
                    self.client.close()

    # -- errors -----------------------------------------------------------------------
    def _translate(self, exc: BaseException, collection: str | None, op: str) -> PolyvecError:
        text = describe(exc, self._secret)
        name = type(exc).__name__
        message = str(exc)
        if (
            name in ("MilvusUnavailableException", "ConnectError")
            or isinstance(exc, (ConnectionError, TimeoutError))
            or "Fail connecting" in message
            or "UNAVAILABLE" in message
        ):
            return BackendUnavailableError(
                f"cannot reach Milvus at {self.display_url} ({text[:200]}): start the server, "
                "check host, port and token, or use milvus+lite:///file.db for an embedded one"
            )
        if collection is not None and (
            name == "CollectionNotExistException" or "can't find collection" in str(exc)
        ):
            self._specs.pop(collection, None)
            return CollectionNotFoundError(collection, "milvus")
        if "Growing segment loss raw data" in message:  # seen after a kill mid-write
            return BackendError(
                f"Milvus {op} failed on {self.display_url}: the engine lost the unflushed "
                f"rows of {collection!r} when a process writing it was killed; re-add the "
                "documents written last (re-running that ingest repairs it), or restore a "
                f"backup ({text[:200]})"
            )
        lite_failed = "Open local milvus failed" in message and "not exists" not in message
        if self._lite_file is not None and lite_failed:
            return BackendError(
                f"Milvus Lite could not open {self._lite_file}: most often another program "
                "has it open (Milvus Lite serves a file to one process at a time; close that "
                "program, or use a Milvus server for several); else run with LOG_LEVEL=INFO "
                "to see Milvus Lite's reason"
            )
        return BackendError(f"Milvus {op} failed on {self.display_url}: {text[:500]}")

    def _errors(self, collection: str | None, op: str) -> AbstractContextManager[None]:
        return translated(lambda exc: self._translate(exc, collection, op))

    # -- collections ------------------------------------------------------------------
    def _physical(self, name: str) -> str:
        return layout.physical_name(name, self.prefix)

    def create_collection(self, spec: CollectionSpec) -> None:
        options = layout.check_options(spec)
        existing = self.get_spec(spec.name)
        if existing is not None:
            existing.require_compatible(spec, sparse=False)
            return
        schema = MilvusClient.create_schema(
            auto_id=False,
            enable_dynamic_field=False,
            description=layout.spec_to_description(spec),
        )
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=65535)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=spec.dimension)
        if spec.sparse:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("text", DataType.VARCHAR, max_length=layout.MAX_TEXT_BYTES)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("pv", DataType.JSON)
        params = indexes.index_params(self.client, indexes.needed(spec, options))
        with self._errors(spec.name, "create_collection"):
            self.client.create_collection(
                self._physical(spec.name),
                schema=schema,
                index_params=params,
                consistency_level=options.get("consistency_level", "Strong"),
                timeout=self.timeout,
            )

    def get_spec(self, name: str) -> CollectionSpec | None:
        physical = self._physical(name)
        with self._errors(name, "describe_collection"):
            if not self.client.has_collection(physical, timeout=self.timeout):
                self._specs.pop(name, None)
                self._ready.discard(name)
                return None
            described = self.client.describe_collection(physical, timeout=self.timeout)
        spec = layout.spec_from_description(name, str(described.get("description", "")))
        if spec is None:
            raise ConfigurationError(
                f"Milvus collection {physical!r} was not created by polyvec (its description "
                "holds no polyvec spec): create it with polyvec, or use another name"
            )
        if name not in self._ready:
            self._repair(name, spec)
        self._specs[name] = spec
        return spec

    def _repair(self, name: str, spec: CollectionSpec) -> None:
        """Finish a collection (and the state collection) that a killed process left
        half-created: a missing index is created, an unloaded collection loaded."""
        physical, state = self._physical(name), self.prefix + layout.STATE_COLLECTION
        with self._errors(name, "repair"):
            needed = indexes.needed(spec, layout.check_options(spec))
            indexes.ensure_ready(self.client, physical, needed, self.timeout)
            if self.client.has_collection(state, timeout=self.timeout):
                indexes.ensure_ready(self.client, state, indexes.STATE_INDEXES, self.timeout)
        self._ready.add(name)

    def _require(self, name: str) -> CollectionSpec:
        spec = self._specs.get(name) or self.get_spec(name)
        if spec is None:
            raise CollectionNotFoundError(name, "milvus")
        return spec

    def list_collections(self) -> list[str]:
        with self._errors(None, "list_collections"):
            found = self.client.list_collections(timeout=self.timeout)
        return sorted(
            n for n in (layout.logical_name(str(x), self.prefix) for x in found) if n is not None
        )

    def drop_collection(self, name: str) -> None:
        physical = self._physical(name)
        with self._errors(name, "drop_collection"):
            if self.client.has_collection(physical, timeout=self.timeout):
                self.client.drop_collection(physical, timeout=self.timeout)
        self._specs.pop(name, None)
        self._ready.discard(name)
        self._drop_state(physical)

    def collection_stats(self, collection: str) -> EngineStats:
        """Milvus's row count (deleted rows leave it at the next compaction), the dense
        index as ``describe_index`` reports it, and the load state."""
        self._require(collection)
        physical = self._physical(collection)
        with self._errors(collection, "get_collection_stats"):
            rows = self.client.get_collection_stats(physical, timeout=self.timeout)
            index = self.client.describe_index(physical, "dense", timeout=self.timeout)
            load = self.client.get_load_state(physical, timeout=self.timeout)
        state = getattr(load.get("state"), "name", load.get("state"))
        return EngineStats(
            vectors=int(rows["row_count"]),
            indexed_vectors=int(index["indexed_rows"]) if "indexed_rows" in index else None,
            index=f"{index.get('index_type')} {index.get('state', '')}, {state}".strip(),
            details={
                k: index[k]
                for k in ("total_rows", "pending_index_rows", "metric_type")
                if k in index
            },
        )

    # -- search -----------------------------------------------------------------------
    def _search(
        self, name: str, field: str, query: Any, k: int, expr: str | None, metric: str
    ) -> list[dict[str, Any]]:
        with self._errors(name, "search"):
            found = self.client.search(
                self._physical(name),
                data=[query],
                anns_field=field,
                limit=k,
                filter=expr or "",
                output_fields=["id", "text", "metadata"],
                search_params={"metric_type": metric, "params": self._search_params(name)},
                timeout=self.timeout,
            )
        return list(found[0]) if found else []

    def _search_params(self, name: str) -> dict[str, Any]:
        return dict(self._require(name).options.get("search") or {})

    @staticmethod
    def _check_k(k: int) -> None:
        if k > MAX_TOPK:
            raise ConfigurationError(
                f"Milvus returns at most {MAX_TOPK} hits per search, asked for {k}: lower k "
                "(or candidates)"
            )

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by the collection's distance: cosine similarity, dot product or the
        negated Euclidean distance (Milvus' squared L2 is converted)."""
        spec = self._require(collection)
        query = self._check_vector(spec, vector, "query vector")
        expr = to_expr(filter)
        if k <= 0 or expr == NOTHING:
            return []
        self._check_k(k)
        rows = self._search(collection, "dense", query, k, expr, layout.METRICS[spec.distance])
        return self._hits(rows, spec.distance, "dense")

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product (``kind="bm25"``), in Milvus."""
        spec = self._require(collection)
        self._check_sparse(spec, vector)
        expr = to_expr(filter)
        if k <= 0 or not len(vector) or expr == NOTHING:
            return []
        self._check_k(k)
        rows = self._search(collection, "sparse", vector.to_dict(), k, expr, "IP")
        return self._hits(rows, "bm25", "sparse")

    def search_hybrid(
        self,
        collection: str,
        dense: np.ndarray,
        sparse: SparseVector,
        k: int,
        *,
        fusion: Fusion,
        candidates: int,
        filter: Filter | None = None,
    ) -> list[Hit]:
        """Dense and sparse top-``candidates``, fused.

        With ``native_hybrid=True`` and an RRF Milvus computes exactly
        (:func:`native_rrf_k`), one ``hybrid_search`` call with ``RRFRanker(k)``: the
        same scores as polyvec's, but Milvus orders equal scores by primary key where
        :func:`~polyvec.fusion.fuse` orders them by best rank, then first appearance.
        Otherwise (the default) both legs run and ``fuse`` combines them, exactly."""
        spec = self._require(collection)
        query = self._check_vector(spec, dense, "query vector")
        self._check_sparse(spec, sparse)
        expr = to_expr(filter)
        if k <= 0 or candidates <= 0 or expr == NOTHING:
            return []
        rrf_k = native_rrf_k(fusion) if self.native_hybrid else None
        if rrf_k is None or not len(sparse):
            legs = [
                self.search_dense(collection, dense, candidates, filter),
                self.search_sparse(collection, sparse, candidates, filter),
            ]
            return fuse(legs, fusion, k)
        rows = self._native_rrf(collection, spec, query, sparse, k, candidates, expr, rrf_k)
        weights = fusion.weights if isinstance(fusion, RRF) else None
        scale = weights[0] if weights else 1.0
        for row in rows:
            row["distance"] = float(row["distance"]) * scale
        return self._hits(rows, "rrf", "hybrid")

    def _native_rrf(
        self,
        collection: str,
        spec: CollectionSpec,
        query: list[float],
        sparse: SparseVector,
        k: int,
        candidates: int,
        expr: str | None,
        rrf_k: int,
    ) -> list[dict[str, Any]]:
        """Milvus' own RRF over the two legs, top ``k``."""
        self._check_k(max(k, candidates))
        params = self._search_params(collection)
        requests = [
            AnnSearchRequest(
                [query],
                "dense",
                {"metric_type": layout.METRICS[spec.distance], "params": params},
                candidates,
                expr=expr or None,
            ),
            AnnSearchRequest(
                [sparse.to_dict()], "sparse", {"metric_type": "IP"}, candidates, expr=expr or None
            ),
        ]
        with self._errors(collection, "hybrid_search"):
            found = self.client.hybrid_search(
                self._physical(collection),
                requests,
                RRFRanker(rrf_k),
                limit=k,
                output_fields=["id", "text", "metadata"],
                timeout=self.timeout,
            )
        return list(found[0]) if found else []

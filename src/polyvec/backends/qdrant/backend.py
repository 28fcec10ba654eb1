"""``QdrantBackend``: polyvec over qdrant-client — a Qdrant server (HTTP or gRPC, with an
API key, over https) or its local mode (``":memory:"`` or ``path=``)::

    from polyvec.backends.qdrant import QdrantBackend
    backend = QdrantBackend.from_url("qdrant+local://./data")      # embedded, on disk
    backend = QdrantBackend.from_url("qdrants://xyz.cloud.qdrant.io?api_key=...")

URLs (``from_url``; ``polyvec.connect`` takes the same):

=================================  ======================================================
``qdrant+memory://``               local mode in memory
``qdrant+local:///abs/dir``        local mode on disk (``qdrant+local://./rel/dir`` too)
``qdrant://host[:6333][/prefix]``  server over HTTP
``qdrants://host[:6333]``          server over HTTPS
``qdrant+grpc://host[:6334]``      server over gRPC (``?https=true`` for TLS)
=================================  ======================================================

Query parameters: ``api_key`` (else ``QDRANT_API_KEY``; ``qdrant://:KEY@host`` works
too), ``https``, ``verify`` (TLS: ``true``, ``false``, or the path of a CA certificate
file for a private CA; REST only), ``prefer_grpc``, ``port``, ``grpc_port``, ``prefix``, ``timeout``,
``batch_size``, ``progress``, ``vector_name``, ``sparse_vector_name``, ``layout``
(``langchain``: collections as langchain-qdrant writes them, read and written in place —
its unnamed dense vector, ids as point ids). The API key never
appears in ``repr`` or in error messages. Needs Qdrant server 1.16 or later (collection
metadata, ``RrfQuery`` with ``k``).
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from polyvec.backends.base import (
    ALL_FILTER_OPERATORS,
    REWRITTEN_FILTER_OPERATORS,
    Capabilities,
    CollectionSpec,
)
from polyvec.backends.paths import checked_store_url
from polyvec.backends.qdrant._shared import (
    LANGCHAIN_LAYOUT,
    Layout,
    NativeFusion,
    PointData,
    QdrantBase,
    Rec,
    _engine_id,
    spec_from_json,
)
from polyvec.backends.qdrant.filters import to_qdrant_filter
from polyvec.backends.qdrant.options import parse_options
from polyvec.backends.store_lock import acquire
from polyvec.backends.translate import describe, translated
from polyvec.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    MissingDependencyError,
    PolyvecError,
)
from polyvec.filters.ast import Filter
from polyvec.stats import EngineStats, directory_bytes
from polyvec.types import SparseVector

try:
    from qdrant_client import QdrantClient, models
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("qdrant-client", "qdrant", "the Qdrant backend") from exc

__all__ = ["QdrantBackend", "parse_url"]

_SPEC_KEY = "polyvec_spec"
_STATE_KEY = "polyvec_state"
_SHADOWS_KEY = "polyvec_shadows"
_DISTANCES = {"cosine": "Cosine", "dot": "Dot", "l2": "Euclid"}
_BACK = {v: k for k, v in _DISTANCES.items()}
_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_INT_PARAMS = ("port", "grpc_port", "timeout", "batch_size")
_BOOL_PARAMS = ("https", "prefer_grpc", "progress")
_STR_PARAMS = ("api_key", "prefix", "vector_name", "sparse_vector_name", "layout")


def _verify(value: str) -> bool | ssl.SSLContext:
    """``verify=``: true/false, or a CA certificate file (an SSL context trusting it)."""
    if value.lower() in _BOOL:
        return _BOOL[value.lower()]
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(value))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"URL parameter verify={value!r} is neither true/false nor a readable CA "
            f"certificate file ({exc}): pass the PEM file of the CA that signed the server's "
            "certificate"
        ) from None


def _query_options(query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        key = key.replace("-", "_")
        if key == "verify":
            out[key] = _verify(value)
        elif key in _INT_PARAMS:
            try:
                out[key] = int(value)
            except ValueError:
                raise ConfigurationError(f"URL parameter {key} must be an integer") from None
        elif key in _BOOL_PARAMS:
            if value.lower() not in _BOOL:
                raise ConfigurationError(f"URL parameter {key} must be true or false")
            out[key] = _BOOL[value.lower()]
        elif key in _STR_PARAMS:
            out[key] = value
        else:
            known = ", ".join((*_INT_PARAMS, *_BOOL_PARAMS, *_STR_PARAMS, "verify"))
            raise ConfigurationError(f"unknown URL parameter {key!r} for Qdrant; known: {known}")
    return out


def parse_url(url: str) -> dict[str, Any]:
    """``QdrantBackend`` keyword arguments for a polyvec Qdrant URL.

    >>> parse_url("qdrant+grpc://db:7000?api_key=s3cret")["grpc_port"]
    7000
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    opts = _query_options(parts.query)
    if scheme == "qdrant+memory":
        return {"location": ":memory:", **opts}
    if scheme == "qdrant+local":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigurationError(
                f"{url!r} names no directory: write qdrant+local:///abs/dir or "
                "qdrant+local://./rel/dir (or qdrant+memory:// for no files)"
            )
        return {"path": os.path.expanduser(path), **opts}
    if scheme not in ("qdrant", "qdrants", "qdrant+grpc"):
        raise ConfigurationError(
            f"{scheme!r} is not a Qdrant URL scheme: use qdrant://, qdrants://, "
            "qdrant+grpc://, qdrant+local:// or qdrant+memory://"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{scheme}:// URL needs a host, e.g. {scheme}://localhost")
    if parts.password and "api_key" not in opts:
        opts["api_key"] = unquote(parts.password)
    if scheme == "qdrants":
        opts.setdefault("https", True)
    if scheme == "qdrant+grpc":
        opts["prefer_grpc"] = True
        if parts.port is not None:
            opts["grpc_port"] = parts.port
    elif parts.port is not None:
        opts["port"] = parts.port
    if parts.path.strip("/"):
        opts.setdefault("prefix", parts.path.strip("/"))
    return {"host": parts.hostname, **opts}


class QdrantBackend(QdrantBase):
    """polyvec over qdrant-client. Give one of ``location`` (``":memory:"``),
    ``path`` (a directory), ``host``/``url`` (a server) or ``client`` (your own
    ``QdrantClient``); none means ``":memory:"``.

    ``vector_name``/``sparse_vector_name`` name the two vectors (``""`` is Qdrant's
    unnamed vector). ``layout="langchain"`` reads and writes collections as
    langchain-qdrant does: its unnamed dense vector, UUID and integer ids as the point
    ids, ``page_content``/``metadata`` payloads; its own sparse vectors (another model's)
    are not used, so hybrid search on such a collection needs ``polyvec migrate --from
    langchain-qdrant`` first (a collection polyvec creates in this layout has BM25 under
    ``langchain-sparse``). Upserts go in batches of ``batch_size``, with a tqdm
    bar when ``progress=True``. In local mode every call holds a lock, so one backend
    can be shared by threads.
    """

    engine_name = "qdrant"
    schemes: ClassVar[tuple[str, ...]] = (
        "qdrant",
        "qdrants",
        "qdrant+grpc",
        "qdrant+local",
        "qdrant+memory",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        backend="qdrant",
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
            "sparse vectors use Qdrant's IDF modifier (the engine computes IDF)",
            "hybrid RRF/DBSF run in one query_points call (two Prefetch); Convex, unequal "
            "weights, a fractional RRF k and DBSF over l2 are fused by polyvec over two "
            "payload-free searches, then the top k are read (Qdrant's formulas differ there)",
            "cosine collections store normalised vectors: get(with_vectors=True) returns them",
        ),
    )

    LOCAL_MODE_WARNING: ClassVar[str] = (
        "qdrant-client's local mode (qdrant+memory://, qdrant+local://) is a pure-Python "
        "engine for tiny tests only: every search scans all points in Python (a sparse "
        "search is O(N) per query, over 100x slower than qdrant-edge on 63,632 documents: "
        "docs/backends/qdrant.md); use the embedded default qdrant-edge:// (Qdrant's Rust engine) or a Qdrant server for "
        "real data"
    )

    @property
    def warnings(self) -> tuple[str, ...]:
        return (self.LOCAL_MODE_WARNING,) if self._local else ()

    def __init__(
        self,
        location: str | None = None,
        *,
        path: str | None = None,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        grpc_port: int | None = None,
        prefer_grpc: bool = False,
        https: bool | None = None,
        api_key: str | None = None,
        prefix: str | None = None,
        timeout: int | None = None,
        client: QdrantClient | None = None,
        vector_name: str | None = None,
        sparse_vector_name: str | None = None,
        layout: str = "polyvec",
        batch_size: int = 256,
        progress: bool = False,
        **client_options: Any,
    ) -> None:
        given = [x for x in (location, path, url or host, client) if x is not None]
        if len(given) > 1:
            raise ConfigurationError(
                "give one of location=, path=, url=/host= or client= to QdrantBackend"
            )
        remote = url is not None or host is not None
        if api_key is None and remote:
            api_key = os.environ.get("QDRANT_API_KEY") or None
        self._secret = api_key
        if client is not None:
            local = type(getattr(client, "_client", None)).__name__ == "QdrantLocal"
            self.display_url = "qdrant (client given)"
        elif path is not None:
            local = True
            self.display_url = f"qdrant+local://{path}"
        elif remote:
            local = False
            self.display_url = self._remote_display(url, host, port, grpc_port, prefer_grpc, https)
        else:
            local, location = True, location or ":memory:"
            self.display_url = "qdrant+memory://" if location == ":memory:" else str(location)
        if layout not in ("polyvec", "langchain"):
            raise ConfigurationError(f"layout must be 'polyvec' or 'langchain', got {layout!r}")
        if client_options and (local or client is not None):  # qdrant-client drops them
            raise ConfigurationError(
                f"QdrantBackend got {sorted(client_options)}: qdrant-client passes such "
                "options to a Qdrant server only, so "
                + ("a client given as it is" if client is not None else "a local store")
                + " would ignore them; drop them (see QdrantBackend's keywords), or name a "
                "server (qdrant://host:6333)"
            )
        base = LANGCHAIN_LAYOUT if layout == "langchain" else Layout()
        lay = replace(
            base,
            dense=base.dense if vector_name is None else vector_name,
            sparse=base.sparse if sparse_vector_name is None else sparse_vector_name,
        )
        super().__init__(
            layout=lay,
            batch_size=batch_size,
            progress=progress,
            thread_lock=local,
        )
        self._closed = False
        self._local = local
        self._path = path
        self._search_params: dict[str, Any] = {}
        self._store_lock = None
        if client is not None:
            self.client = client
            return
        if path is not None:  # before qdrant-client creates the directory
            self._store_lock = acquire(path, "Qdrant local", self)
        kwargs: dict[str, Any] = dict(client_options)
        if local:
            kwargs["force_disable_check_same_thread"] = True  # calls are serialised by a lock
        else:
            kwargs.setdefault("check_compatibility", False)
            if port is not None:
                kwargs["port"] = port
            if grpc_port is not None:
                kwargs["grpc_port"] = grpc_port
        try:
            self.client = QdrantClient(
                location=location,
                path=path,
                url=url,
                host=host,
                prefer_grpc=prefer_grpc,
                https=https,
                api_key=api_key,
                prefix=prefix,
                timeout=timeout,
                **kwargs,
            )
        except Exception as exc:
            if self._store_lock is not None:
                self._store_lock.release()
            if isinstance(exc, PolyvecError):
                raise
            raise self._translate(exc, None, "open") from exc

    @staticmethod
    def _remote_display(
        url: str | None,
        host: str | None,
        port: int | None,
        grpc_port: int | None,
        grpc: bool,
        https: bool | None,
    ) -> str:
        if url is not None:
            parts = urlsplit(url)
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            return f"{parts.scheme or 'http'}://{netloc}{parts.path}"
        if grpc:
            tls = "?https=true" if https else ""
            return f"qdrant+grpc://{host}:{grpc_port or 6334}{tls}"
        return f"{'qdrants' if https else 'qdrant'}://{host}:{port or 6333}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> QdrantBackend:
        """Open the backend a ``qdrant*://`` URL names (see the module docstring);
        keyword ``options`` override the URL's query parameters."""
        return cls(**{**checked_store_url(url, parse_url(url)), **options})

    def __repr__(self) -> str:
        key = " api_key=***" if self._secret else ""
        return f"<QdrantBackend {self.display_url}{key}>"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.client.close()
            if self._store_lock is not None:
                self._store_lock.release()

    # -- native snapshots (server only; see polyvec.transfer.snapshot) -----------------
    def supports_snapshots(self) -> bool:
        """Native snapshots need a Qdrant server (local mode has none)."""
        return not self._local

    def _rest(self) -> tuple[str, dict[str, Any], Any]:
        """The server's REST base URL, headers (API key) and TLS verification setting."""
        remote: Any = self.client._client
        args = dict(getattr(remote, "_rest_args", {}))
        return (
            str(remote.rest_uri).rstrip("/"),
            dict(args.get("headers") or {}),
            args.get("verify", True),
        )

    def create_snapshot(self, collection: str, path: str | os.PathLike[str]) -> str:
        """Take a server snapshot of ``collection``, download it to ``path`` (written
        beside it, renamed when complete), delete it on the server; returns its name.

        Not run against a real server in polyvec's tests (none runs there)."""
        import httpx

        if self._local:
            raise ConfigurationError("native snapshots need a Qdrant server, not local mode")
        with self._errors(collection, "create_snapshot"):
            made = self.client.create_snapshot(collection, wait=True)
            if made is None:
                raise BackendError(f"Qdrant at {self.display_url} made no snapshot")
            base, headers, verify = self._rest()
            target = os.fspath(path)
            url = f"{base}/collections/{collection}/snapshots/{made.name}"
            try:
                with httpx.stream("GET", url, headers=headers, verify=verify, timeout=None) as r:
                    r.raise_for_status()
                    with open(target + ".partial", "wb") as out:
                        for chunk in r.iter_bytes():
                            out.write(chunk)
                os.replace(target + ".partial", target)
            finally:
                self.client.delete_snapshot(collection, made.name, wait=True)
        return str(made.name)

    def restore_snapshot(self, collection: str, path: str | os.PathLike[str]) -> None:
        """Upload a snapshot file and recover ``collection`` from it (its data and
        configuration replace what the collection holds).

        Not run against a real server in polyvec's tests (none runs there)."""
        import httpx

        if self._local:
            raise ConfigurationError("native snapshots need a Qdrant server, not local mode")
        base, headers, verify = self._rest()
        url = f"{base}/collections/{collection}/snapshots/upload"
        with self._errors(collection, "restore_snapshot"), open(path, "rb") as snapshot:
            reply = httpx.post(url, params={"priority": "snapshot", "wait": "true"},
                               headers=headers, verify=verify, timeout=None,
                               files={"snapshot": (os.path.basename(path), snapshot)})  # fmt: skip
            reply.raise_for_status()

    # -- errors -----------------------------------------------------------------------
    def _translate(self, exc: BaseException, collection: str | None, op: str) -> PolyvecError:
        details = getattr(exc, "details", None)
        reason = details() if callable(details) else str(exc)  # gRPC errors: the short form
        text = describe(exc, self._secret, reason)
        status = getattr(exc, "status_code", None)
        code = getattr(exc, "code", None)
        grpc_code = str(code() if callable(code) else "")
        unreachable = (
            type(exc).__name__ in ("ResponseHandlingException", "ConnectError", "ConnectTimeout")
            or isinstance(exc, (ConnectionError, TimeoutError))
            or "UNAVAILABLE" in grpc_code
            or "DEADLINE_EXCEEDED" in grpc_code
        )
        if unreachable:
            return BackendUnavailableError(
                f"cannot reach Qdrant at {self.display_url} ({text[:200]}): start the server "
                "(e.g. docker run -p 6333:6333 qdrant/qdrant), check host, port and https, "
                "or use qdrant+local:// for an embedded store"
            )
        if status in (401, 403) or "UNAUTHENTICATED" in grpc_code:
            return AuthenticationError(
                f"Qdrant at {self.display_url} refused the request ({status or grpc_code}): "
                "set the API key with ?api_key=... or QDRANT_API_KEY"
            )
        not_found = status == 404 or "NOT_FOUND" in grpc_code or "not found" in str(exc).lower()
        if collection is not None and not_found:
            return CollectionNotFoundError(collection, "qdrant")
        return BackendError(f"Qdrant {op} failed on {self.display_url}: {text[:500]}")

    def _errors(self, collection: str | None, op: str) -> AbstractContextManager[None]:
        return translated(lambda exc: self._translate(exc, collection, op))

    # -- engine calls -----------------------------------------------------------------
    def _e_filter(self, filter: Filter | None) -> Any:
        return to_qdrant_filter(
            filter,
            root=self.layout.metadata_key,
            dates_root=self.layout.dates_key,
            numbers_root=self.layout.numbers_key,
        )

    def _e_only_ids(self, native_filter: Any, ids: Sequence[str | int]) -> Any:
        only = models.HasIdCondition(has_id=list(ids))
        return models.Filter(must=[only] if native_filter is None else [only, native_filter])

    def _vectors_config(self, spec: CollectionSpec, opts: Any) -> Any:
        params = models.VectorParams(
            size=spec.dimension,
            distance=models.Distance(_DISTANCES[spec.distance]),
            on_disk=opts.on_disk,
        )
        return params if self.layout.dense == "" else {self.layout.dense: params}

    def _e_create(self, spec: CollectionSpec, spec_json: str) -> None:
        opts = parse_options(spec.options)
        try:
            hnsw = models.HnswConfigDiff(**opts.hnsw) if opts.hnsw else None
            quant: Any = None
            if opts.quantization:
                kind = next(iter(opts.quantization))
                model: Any = {
                    "scalar": models.ScalarQuantization,
                    "binary": models.BinaryQuantization,
                    "product": models.ProductQuantization,
                }[kind]
                quant = model.model_validate(opts.quantization)
            optim = models.OptimizersConfigDiff(**opts.optimizers) if opts.optimizers else None
            if opts.search:
                models.SearchParams.model_validate(opts.search)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"bad Qdrant collection option: {exc}") from exc
        sparse = (
            {self.layout.sparse: models.SparseVectorParams(modifier=models.Modifier.IDF)}
            if spec.sparse
            else None
        )
        with self._errors(spec.name, "create_collection"):
            self.client.create_collection(
                spec.name,
                vectors_config=self._vectors_config(spec, opts),
                sparse_vectors_config=sparse,
                hnsw_config=hnsw,
                quantization_config=quant,
                optimizers_config=optim,
                on_disk_payload=opts.on_disk_payload,
                metadata={_SPEC_KEY: spec_json},
                **opts.server,
            )
            # Local mode searches by brute force: payload indexes would only warn.
            for name, schema in () if self._local else opts.payload_indexes.items():
                for path, kind in self._index_targets(name, schema, "qdrant"):
                    self.client.create_payload_index(
                        spec.name, path, field_schema=models.PayloadSchemaType(kind)
                    )

    def _e_spec(self, name: str) -> CollectionSpec | None:
        with self._errors(name, "get_collection"):
            if not self.client.collection_exists(name):
                return None
            config = self.client.get_collection(name).config
        meta = config.metadata or {}
        if isinstance(meta.get(_SPEC_KEY), str):
            stored = spec_from_json(meta[_SPEC_KEY])
            return CollectionSpec(
                name, stored.dimension, stored.distance, stored.sparse, stored.options
            )
        vectors = config.params.vectors
        dense: models.VectorParams | None = None
        if isinstance(vectors, models.VectorParams):  # unnamed: the layout must say ""
            dense = vectors if self.layout.dense == "" else None
        elif isinstance(vectors, Mapping):
            dense = vectors.get(self.layout.dense)
        if dense is None:
            names = list(vectors) if isinstance(vectors, Mapping) else [""]
            raise ConfigurationError(
                f"collection {name!r} has no dense vector named {self.layout.dense!r} "
                f"(it has {names}): {self._peer_advice(name)}"
            )
        distance = _BACK.get(str(dense.distance.value))
        if distance is None:
            raise ConfigurationError(
                f"collection {name!r} uses the {dense.distance.value} distance, which polyvec "
                "does not support (cosine, dot, l2)"
            )
        sparse = self.layout.foreign_sparse and self.layout.sparse in (
            config.params.sparse_vectors or {}
        )
        return CollectionSpec(name, dense.size, distance, sparse)  # type: ignore[arg-type]

    def _peer_advice(self, name: str) -> str:
        """What to do with a collection polyvec did not create: the peer store that wrote
        it, known by its first point's payload, names the way to open or migrate it."""
        with self._errors(name, "scroll"):
            points, _ = self.client.scroll(name, limit=1, with_payload=True, with_vectors=False)
        payload = dict(points[0].payload or {}) if points else {}
        if "_node_content" in payload:
            return (
                "llama-index-vector-stores-qdrant wrote it: rebuild it once as a polyvec "
                "collection (nodes, relationships and stored vectors kept, BM25 built) with "
                "`polyvec migrate --from llama-index-qdrant QDRANT_URL QDRANT_URL --collection "
                f"{name} --to-collection NEW`, then open NEW"
            )
        if self.layout.content_key in payload:
            return (
                "langchain-qdrant wrote it: open it in its layout to read and write it in "
                "place (PolyvecVectorStore(path=…) / client=…, or ?layout=langchain in the "
                "URL), or rebuild it with BM25 for hybrid search: `polyvec migrate --from "
                f"langchain-qdrant QDRANT_URL QDRANT_URL --collection {name} --to-collection NEW`"
            )
        return "open it with vector_name=<one of those>"

    def _e_list(self) -> list[str]:
        with self._errors(None, "list_collections"):
            return [c.name for c in self.client.get_collections().collections]

    def _e_drop(self, name: str) -> None:
        self._search_params.pop(name, None)
        with self._errors(name, "delete_collection"):
            self.client.delete_collection(name)

    def _e_upsert(self, name: str, points: list[PointData]) -> None:
        structs = []
        for pid, dense, sparse, payload in points:
            vector: dict[str, Any] = {self.layout.dense: dense}
            if sparse is not None and len(sparse):
                vector[self.layout.sparse] = models.SparseVector(
                    indices=list(sparse.indices), values=list(sparse.values)
                )
            structs.append(models.PointStruct(id=_engine_id(pid), vector=vector, payload=payload))
        with self._errors(name, "upsert"):
            self.client.upsert(name, structs, wait=True)

    def _rec(self, point: Any) -> Rec:
        vectors = point.vector
        dense: Any = None
        sparse: Any = None
        if isinstance(vectors, Mapping):
            dense = vectors.get(self.layout.dense)
            sv = vectors.get(self.layout.sparse)
            if sv is not None:
                sparse = (sv.indices, sv.values)
        elif isinstance(vectors, list):
            dense = vectors
        return Rec(str(point.id), point.payload or {}, dense, sparse, getattr(point, "score", 0.0))

    def _with_vectors(self, with_vectors: bool) -> Any:
        if not with_vectors:
            return False
        return True if self.layout.dense == "" else [self.layout.dense, self.layout.sparse]

    def _e_retrieve(self, name: str, ids: Sequence[str | int], with_vectors: bool) -> list[Rec]:
        with self._errors(name, "retrieve"):
            points = self.client.retrieve(
                name,
                [i if isinstance(i, int) else _engine_id(i) for i in ids],
                with_payload=True,
                with_vectors=self._with_vectors(with_vectors),
            )
        return [self._rec(p) for p in points]

    def _e_delete(self, name: str, ids: list[str] | None, native_filter: Any) -> None:
        selector: Any = (
            models.PointIdsList(points=[_engine_id(i) for i in ids])
            if ids is not None
            else models.FilterSelector(filter=native_filter)
        )
        with self._errors(name, "delete"):
            self.client.delete(name, points_selector=selector, wait=True)

    def collection_stats(self, collection: str) -> EngineStats:
        """Qdrant's collection info: points, indexed vectors, segments, status; local
        mode (which never builds an index) also its files' size on disk."""
        self._require(collection)
        with self._guard, self._errors(collection, "get_collection"):
            info = self.client.get_collection(collection)
        disk = None
        if self._local and self._path is not None:
            disk = directory_bytes(Path(self._path) / "collection" / collection)
        status = getattr(info.status, "value", info.status)
        return EngineStats(
            vectors=info.points_count,
            indexed_vectors=info.indexed_vectors_count,
            segments=info.segments_count,
            index="none (local mode searches exactly)" if self._local else f"hnsw, {status}",
            disk_bytes=disk,
            details={
                "status": str(status),
                "optimizer_status": str(getattr(info.optimizer_status, "value", "")),
                "payload_indexes": sorted(info.payload_schema or {}),
            },
        )

    def _e_count(self, name: str, native_filter: Any) -> int:
        with self._errors(name, "count"):
            return int(self.client.count(name, count_filter=native_filter, exact=True).count)

    def _e_scroll(
        self, name: str, native_filter: Any, limit: int, offset: Any, with_vectors: bool
    ) -> tuple[list[Rec], Any]:
        with self._errors(name, "scroll"):
            points, next_offset = self.client.scroll(
                name,
                scroll_filter=native_filter,
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=self._with_vectors(with_vectors),
            )
        return [self._rec(p) for p in points], next_offset

    def _params(self, name: str) -> Any:
        if self._local:
            return None  # local mode is exact (brute force): search params only warn
        if name not in self._search_params:
            spec = self._require(name)
            search = parse_options(spec.options).search
            self._search_params[name] = (
                models.SearchParams.model_validate(search) if search else None
            )
        return self._search_params[name]

    def _query(self, using: str, query: Any) -> tuple[Any, str | None]:
        if isinstance(query, SparseVector):
            native = models.SparseVector(indices=list(query.indices), values=list(query.values))
            return native, using
        return query, (using or None)

    def _e_search(
        self,
        name: str,
        using: str,
        query: Any,
        limit: int,
        native_filter: Any,
        payload: bool = True,
    ) -> list[Rec]:
        native, vector_name = self._query(using, query)
        with self._errors(name, "query_points"):
            found = self.client.query_points(
                name,
                query=native,
                using=vector_name,
                query_filter=native_filter,
                search_params=self._params(name),
                limit=limit,
                with_payload=payload,
            ).points
        return [self._rec(p) for p in found]

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
        prefetch = []
        for using, query in ((self.layout.dense, dense), (self.layout.sparse, sparse)):
            native, vector_name = self._query(using, query)
            prefetch.append(
                models.Prefetch(
                    query=native,
                    using=vector_name,
                    limit=candidates,
                    filter=native_filter,
                    params=self._params(name),
                )
            )
        fused: Any = (
            models.RrfQuery(rrf=models.Rrf(k=fusion.qdrant_k))
            if fusion.method == "rrf"
            else models.FusionQuery(fusion=models.Fusion.DBSF)
        )
        with self._errors(name, "query_points"):
            found = self.client.query_points(
                name,
                prefetch=prefetch,
                query=fused,
                query_filter=native_filter,
                limit=k,
                with_payload=True,
            ).points
        return [self._rec(p) for p in found]

    def _e_shadow_mark(self, name: str) -> int:
        with self._errors(name, "get_collection"):
            meta = self.client.get_collection(name).config.metadata or {}
        mark = meta.get(_SHADOWS_KEY)
        return mark if isinstance(mark, int) else 0

    def _e_set_shadow_mark(self, name: str, version: int) -> None:
        with self._errors(name, "update_collection"):
            self.client.update_collection(name, metadata={_SHADOWS_KEY: version})

    def _e_read_state(self, name: str) -> str | None:
        with self._errors(name, "get_collection"):
            meta = self.client.get_collection(name).config.metadata or {}
        state = meta.get(_STATE_KEY)
        return state if isinstance(state, str) else None

    def _e_write_state(self, name: str, state_json: str) -> None:
        with self._errors(name, "update_collection"):
            self.client.update_collection(name, metadata={_STATE_KEY: state_json})

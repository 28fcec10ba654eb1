"""Connecting to Weaviate: ``weaviate://`` URLs, the client, and client errors turned
into polyvec errors (the API key redacted)::

    >>> parse_url("weaviate://localhost?grpc_port=50052")["grpc_port"]
    50052
    >>> parse_url("weaviate://abc.c0.europe-west3.gcp.weaviate.cloud")["grpc_host"]
    'grpc-abc.c0.europe-west3.gcp.weaviate.cloud'

Hosts default to plain HTTP on 8080 with gRPC on 50051 (``secure=true`` for TLS);
``*.weaviate.cloud`` / ``*.weaviate.network`` hosts to Weaviate Cloud (HTTPS on 443,
gRPC on ``grpc-HOST:443``). An API key in the URL is refused: it belongs in
``WEAVIATE_API_KEY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

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

try:
    import weaviate
    from weaviate.classes.config import (
        Configure,
        DataType,
        Property,
        Tokenization,
        VectorDistances,
    )
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout
    from weaviate.exceptions import (
        AuthenticationFailedError,
        UnexpectedStatusCodeError,
        WeaviateBaseError,
        WeaviateConnectionError,
        WeaviateGRPCUnavailableError,
        WeaviateStartUpError,
        WeaviateTimeoutError,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("weaviate-client", "weaviate", "the Weaviate backend") from exc

__all__ = ["Calls", "collection_config", "connect", "parse_url", "weaviate_property"]

_T = TypeVar("_T")
_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_CLOUD = (".weaviate.cloud", ".weaviate.network")
_TYPES = {
    "text": DataType.TEXT,
    "text[]": DataType.TEXT_ARRAY,
    "int": DataType.INT,
    "int[]": DataType.INT_ARRAY,
    "number": DataType.NUMBER,
    "number[]": DataType.NUMBER_ARRAY,
    "boolean": DataType.BOOL,
}
_DISTANCES = {"cosine": "cosine", "dot": "dot", "l2": "l2-squared"}
_KNOWN = "grpc_port, grpc_host, secure, prefix, timeout, batch_size, skip_init_checks"


def _bool(value: str, key: str) -> bool:
    if value.lower() not in _BOOL:
        raise ConfigurationError(f"URL parameter {key} must be true or false")
    return _BOOL[value.lower()]


def _number(value: str, key: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"URL parameter {key} must be a number") from None


def parse_url(url: str) -> dict[str, Any]:
    """``WeaviateBackend`` keyword arguments for a ``weaviate://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "weaviate":
        raise ConfigurationError(
            f"{parts.scheme!r} is not the Weaviate URL scheme: use weaviate://"
        )
    secret = "put the Weaviate API key in WEAVIATE_API_KEY (or api_key=...), not in the URL"
    if parts.username or parts.password:
        raise ConfigurationError(secret)
    host = parts.hostname
    if not host:
        raise ConfigurationError("weaviate:// URL needs a host, e.g. weaviate://localhost:8080")
    if parts.path.strip("/"):
        raise ConfigurationError(f"weaviate:// URLs have no path (got {parts.path!r})")
    cloud = host.endswith(_CLOUD)
    opts: dict[str, Any] = {}
    secure: bool | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "secure":
            secure = _bool(value, key)
        elif key in ("grpc_port", "batch_size"):
            opts[key] = _number(value, key, int)
        elif key == "timeout":
            opts[key] = _number(value, key, float)
        elif key in ("grpc_host", "prefix"):
            opts[key] = value
        elif key == "skip_init_checks":
            opts[key] = _bool(value, key)
        elif key == "api_key":
            raise ConfigurationError(secret)
        else:
            raise ConfigurationError(f"unknown URL parameter {key!r} for Weaviate; known: {_KNOWN}")
    if secure is None:
        secure = cloud
    opts.setdefault("grpc_host", f"grpc-{host}" if cloud else host)
    opts.setdefault("grpc_port", 443 if secure else 50051)
    return {
        "http_host": host,
        "http_port": parts.port or (443 if secure else 8080),
        "http_secure": secure,
        **opts,
    }


class Calls:
    """Client calls with polyvec's errors: unreachable → ``BackendUnavailableError``,
    refused credentials → ``BackendError`` naming ``WEAVIATE_API_KEY``."""

    def __init__(self, display_url: str, secret: str | None) -> None:
        self.display_url = display_url
        self.secret = secret

    def translate(self, exc: BaseException, collection: str | None, op: str) -> PolyvecError:
        text = describe(exc, self.secret)[:500]
        down = (
            WeaviateConnectionError,
            WeaviateGRPCUnavailableError,
            WeaviateStartUpError,
            WeaviateTimeoutError,
            OSError,
        )
        if isinstance(exc, down):
            return BackendUnavailableError(
                f"cannot reach Weaviate at {self.display_url} ({text[:200]}): start the server "
                "(e.g. docker run -p 8080:8080 -p 50051:50051 cr.weaviate.io/semitechnologies/"
                "weaviate), check host, ports and secure="
            )
        status = getattr(exc, "status_code", None)
        if isinstance(exc, AuthenticationFailedError) or status in (401, 403):
            return AuthenticationError(
                f"Weaviate at {self.display_url} refused the request ({text[:200]}): set "
                "WEAVIATE_API_KEY (or api_key=...)"
            )
        if collection is not None and status == 404:
            return CollectionNotFoundError(collection, "weaviate")
        return BackendError(f"Weaviate {op} failed on {self.display_url}: {text}")

    def __call__(self, op: str, fn: Callable[..., _T], **kwargs: Any) -> _T:
        catch = (WeaviateBaseError, UnexpectedStatusCodeError, OSError)
        with translated(lambda exc: self.translate(exc, None, op), catch):
            return fn(**kwargs)


def connect(
    calls: Calls,
    *,
    http_host: str,
    http_port: int,
    http_secure: bool,
    grpc_host: str | None,
    grpc_port: int,
    grpc_secure: bool | None,
    timeout: float | None,
    skip_init_checks: bool,
) -> Any:
    """A connected ``weaviate.WeaviateClient`` (``calls.secret`` is the API key)."""
    extra = AdditionalConfig(timeout=Timeout(init=timeout)) if timeout else None
    try:
        return weaviate.connect_to_custom(
            http_host=http_host,
            http_port=http_port,
            http_secure=http_secure,
            grpc_host=grpc_host or http_host,
            grpc_port=grpc_port,
            grpc_secure=http_secure if grpc_secure is None else grpc_secure,
            auth_credentials=Auth.api_key(calls.secret) if calls.secret else None,
            additional_config=extra,
            skip_init_checks=skip_init_checks,
        )
    except (WeaviateBaseError, OSError) as exc:
        raise calls.translate(exc, None, "connect") from exc


def weaviate_property(name: str, kind: str) -> Any:
    """The ``Property`` of one of polyvec's properties: ``pv_text`` searchable (Weaviate
    BM25), ``pv_id`` and the facets filterable (``field`` tokenization: exact), the rest
    stored only."""
    if name == "pv_text":
        return Property(
            name=name,
            data_type=DataType.TEXT,
            tokenization=Tokenization.WORD,
            index_searchable=True,
            index_filterable=False,
        )
    text = kind in ("text", "text[]")
    indexed = name == "pv_id" or name.startswith("m_")
    return Property(
        name=name,
        data_type=_TYPES[kind],
        tokenization=Tokenization.FIELD if text and indexed else None,
        index_filterable=indexed,
        index_searchable=False if text else None,
        index_range_filters=True if kind == "number" and indexed else None,
    )


def collection_config(
    distance: str, hnsw: Mapping[str, Any], properties: Mapping[str, str]
) -> dict[str, Any]:
    """``collections.create`` arguments: the named vector ``dense`` (``self_provided``,
    HNSW with the collection's distance) and the properties."""
    try:
        index = Configure.VectorIndex.hnsw(
            distance_metric=VectorDistances(_DISTANCES[distance]), **dict(hnsw)
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad Weaviate hnsw option: {exc}") from exc
    return {
        "properties": [weaviate_property(n, t) for n, t in properties.items()],
        "vector_config": Configure.Vectors.self_provided(name="dense", vector_index_config=index),
    }

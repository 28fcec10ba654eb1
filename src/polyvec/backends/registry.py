"""URL scheme → backend class, imported on first use.

Built-in schemes are listed in ``_BUILTIN`` as ``"module:Class"`` strings, so importing
polyvec imports no database client. Third parties add theirs with
:func:`register_backend` or an entry point in the group ``polyvec.backends``
(name = scheme, value = ``"module:Class"``)::

    >>> from polyvec.backends.registry import known_schemes
    >>> "postgresql" in known_schemes()
    True
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Union
from urllib.parse import urlsplit

from polyvec.backends.base import Backend
from polyvec.errors import ConfigurationError, MissingDependencyError
from polyvec.redaction import redact_url

__all__ = [
    "DEFAULT_URL",
    "URL_ENV",
    "known_schemes",
    "open_backend",
    "register_backend",
    "resolve_url",
    "url_scheme",
]

URL_ENV = "POLYVEC_URL"
"""Environment variable naming the backend URL when none is passed."""

DEFAULT_URL = "qdrant-edge://./.polyvec/data"
"""The embedded default: a local store in the working directory (see docs/backends/qdrant.md
for why this engine was chosen)."""

Factory = Union[str, Callable[..., Backend]]

# scheme -> ("module:Class", extra that installs its client)
_BUILTIN: dict[str, tuple[str, str]] = {
    "qdrant": ("polyvec.backends.qdrant.backend:QdrantBackend", "qdrant"),
    "qdrants": ("polyvec.backends.qdrant.backend:QdrantBackend", "qdrant"),
    "qdrant+grpc": ("polyvec.backends.qdrant.backend:QdrantBackend", "qdrant"),
    "qdrant+memory": ("polyvec.backends.qdrant.backend:QdrantBackend", "qdrant"),
    "qdrant+local": ("polyvec.backends.qdrant.backend:QdrantBackend", "qdrant"),
    "qdrant-edge": ("polyvec.backends.qdrant.edge:QdrantEdgeBackend", "qdrant-edge"),
    "postgresql": ("polyvec.backends.pgvector.backend:PgVectorBackend", "pgvector"),
    "postgres": ("polyvec.backends.pgvector.backend:PgVectorBackend", "pgvector"),
    "postgresql+embedded": (
        "polyvec.backends.pgvector.embedded:open_embedded",
        "pgvector-embedded",
    ),
    "chroma": ("polyvec.backends.chroma.backend:ChromaBackend", "chroma"),
    "chromas": ("polyvec.backends.chroma.backend:ChromaBackend", "chroma"),
    "chroma+https": ("polyvec.backends.chroma.backend:ChromaBackend", "chroma"),
    "chroma+local": ("polyvec.backends.chroma.backend:ChromaBackend", "chroma"),
    "chroma+memory": ("polyvec.backends.chroma.backend:ChromaBackend", "chroma"),
    "milvus": ("polyvec.backends.milvus.backend:MilvusBackend", "milvus"),
    "milvus+lite": ("polyvec.backends.milvus.backend:MilvusBackend", "milvus"),
    "milvus+https": ("polyvec.backends.milvus.backend:MilvusBackend", "milvus"),
    "pinecone": ("polyvec.backends.pinecone.backend:PineconeBackend", "pinecone"),
    "weaviate": ("polyvec.backends.weaviate.backend:WeaviateBackend", "weaviate"),
}

_registered: dict[str, Factory] = {}


def register_backend(scheme: str, factory: Factory) -> None:
    """Make ``connect("SCHEME://…")`` use ``factory``: a Backend subclass (its
    ``from_url`` is called), any callable ``(url, **options) -> Backend``, or a
    ``"module:Class"`` string imported on first use."""
    _registered[scheme.lower()] = factory


def known_schemes() -> list[str]:
    schemes = set(_BUILTIN) | set(_registered)
    schemes |= {ep.name for ep in entry_points(group="polyvec.backends")}
    return sorted(schemes)


def resolve_url(url: str | None) -> str:
    """The URL to use: the one given, else ``$POLYVEC_URL``, else :data:`DEFAULT_URL`."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def _import(target: str, extra: str | None) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        if extra is None:
            raise
        raise MissingDependencyError(exc.name or module_name, extra) from exc
    return getattr(module, attr)


def _factory_for(scheme: str) -> Callable[..., Backend]:
    found: Any = _registered.get(scheme)
    extra: str | None = None
    if found is None and scheme in _BUILTIN:
        found, extra = _BUILTIN[scheme]
    if found is None:
        for ep in entry_points(group="polyvec.backends"):
            if ep.name == scheme:
                found = ep.load()
                break
    if found is None:
        hint = difflib.get_close_matches(scheme, known_schemes(), n=1)
        also = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigurationError(
            f"no backend for the URL scheme {scheme!r}{also}; known schemes: "
            f"{', '.join(known_schemes())} (or register one with "
            "polyvec.backends.registry.register_backend)"
        )
    if isinstance(found, str):
        found = _import(found, extra)
    if isinstance(found, type) and issubclass(found, Backend):
        return found.from_url  # type: ignore[attr-defined,no-any-return]
    return found  # type: ignore[no-any-return]


_DSN = re.compile(r"^\s*[A-Za-z_]+\s*=")
_SCHEME = re.compile(r"^([A-Za-z][\w+.-]*)://")


def url_scheme(url: str) -> str:
    """The scheme of a backend URL, lower-cased (``""`` when it has none); a libpq
    ``key=value`` connection string counts as ``postgresql``.

    >>> url_scheme("qdrant-edge://./x"), url_scheme("host=db dbname=rag")
    ('qdrant-edge', 'postgresql')
    """
    found = _SCHEME.match(url)
    if found:
        return found.group(1).lower()
    if _DSN.match(url) and "://" not in url:
        return "postgresql"
    return urlsplit(url).scheme.lower()


def _check_form(url: str, scheme: str) -> None:
    if not scheme:
        near = url.split(":", 1)[0].lower() if ":" in url else ""
        hint = difflib.get_close_matches(near, known_schemes(), n=1) if near else []
        also = f" (did you mean {hint[0]}://?)" if hint else ""
        raise ConfigurationError(
            f"{redact_url(url)!r} has no scheme{also}: write e.g. 'qdrant+local:///path/to/dir' "
            "or 'postgresql://user@host/db'"
        )
    if "://" not in url and scheme != "postgresql":
        raise ConfigurationError(
            f"{redact_url(url)!r} lacks the // after {scheme}: — write {scheme}:///abs/path "
            f"or {scheme}://./relative/path (or {scheme}://host for a server)"
        )


def open_backend(url: str | None = None, **options: Any) -> Backend:
    """Open the backend a URL names (see :func:`resolve_url` for the default)::

    backend = open_backend("qdrant+memory://")
    """
    resolved = resolve_url(url)
    scheme = url_scheme(resolved)
    _check_form(resolved, scheme)
    return _factory_for(scheme)(resolved, **options)

"""``pinecone://`` URLs: which index host, which namespaces, which options.

    >>> parse_url("pinecone://127.0.0.1:5081?prefix=t1-&namespace.docs=legacy")
    {'host': 'http://127.0.0.1:5081', 'prefix': 't1-', 'namespaces': {'docs': 'legacy'}}

Loopback hosts (Pinecone Local, test stand-ins) default to plain HTTP, others to HTTPS
(``tls=`` overrides). An API key in the URL is refused: it belongs in
``PINECONE_API_KEY``, where it cannot leak into logs.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from polyvec.errors import ConfigurationError

__all__ = ["is_loopback", "parse_url"]

_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def parse_url(url: str) -> dict[str, Any]:
    """``PineconeBackend`` keyword arguments for a ``pinecone://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "pinecone":
        raise ConfigurationError(
            f"{parts.scheme!r} is not the Pinecone URL scheme: use pinecone://"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "put the Pinecone API key in PINECONE_API_KEY (or api_key=...), not in the URL"
        )
    if not parts.hostname:
        raise ConfigurationError(
            "pinecone:// URL needs the index host, e.g. pinecone://my-index-abc123.svc."
            "aped-4627.pinecone.io (see the index in the Pinecone console)"
        )
    if parts.path.strip("/"):
        raise ConfigurationError(
            f"pinecone:// URLs have no path (got {parts.path!r}): collections are namespaces"
        )
    out: dict[str, Any] = {}
    namespaces: dict[str, str] = {}
    tls: bool | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.startswith("namespace."):
            namespaces[key[len("namespace.") :]] = value
        elif key == "prefix":
            out["prefix"] = value
        elif key == "tls":
            if value.lower() not in _BOOL:
                raise ConfigurationError("URL parameter tls must be true or false")
            tls = _BOOL[value.lower()]
        elif key in ("timeout", "batch_size"):
            try:
                out[key] = float(value) if key == "timeout" else int(value)
            except ValueError:
                raise ConfigurationError(f"URL parameter {key} must be a number") from None
        elif key == "api_key":
            raise ConfigurationError(
                "put the Pinecone API key in PINECONE_API_KEY (or api_key=...), not in the URL"
            )
        else:
            raise ConfigurationError(
                f"unknown URL parameter {key!r} for Pinecone; known: prefix, "
                "namespace.<collection>, tls, timeout, batch_size"
            )
    if tls is None:
        tls = not is_loopback(parts.hostname)
    host = f"{'https' if tls else 'http'}://{parts.netloc}"
    result: dict[str, Any] = {"host": host, **out}
    if namespaces:
        result["namespaces"] = namespaces
    return result

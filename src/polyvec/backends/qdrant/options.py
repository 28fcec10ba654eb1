"""``CollectionSpec.options`` understood by both Qdrant backends (plain JSON, so they are
stored with the collection and come back from ``get_spec``)::

    CollectionSpec("docs", 384, options={
        "hnsw": {"m": 32, "ef_construct": 200},            # HNSW graph
        "quantization": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
        "on_disk": True,                                   # dense vectors memory-mapped
        "on_disk_payload": True,
        "optimizers": {"indexing_threshold": 20000},
        "payload_indexes": {"page": "float", "lang": "keyword"},   # metadata fields
        "search": {"hnsw_ef": 128, "exact": False,
                   "quantization": {"rescore": True, "oversampling": 2.0}},
    })

``quantization`` takes one of ``{"scalar": {...}}``, ``{"binary": {...}}`` or
``{"product": {"compression": "x16"}}``, as in Qdrant's API. ``payload_indexes`` names
metadata fields (dotted, as in filters) and a Qdrant schema: keyword, integer, float,
bool, datetime, text, uuid. An ``integer`` index on a field that also holds floats
hides those floats from filters: prefer ``float`` for numbers. Unknown keys are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyvec.errors import ConfigurationError

__all__ = ["SCHEMAS", "QdrantOptions", "parse_options"]

_QUANT_KINDS = ("scalar", "binary", "product")
SCHEMAS = ("keyword", "integer", "float", "bool", "datetime", "text", "uuid")
_KNOWN = (
    "hnsw",
    "quantization",
    "on_disk",
    "on_disk_payload",
    "optimizers",
    "payload_indexes",
    "search",
    "shard_number",
    "replication_factor",
)


@dataclass(frozen=True)
class QdrantOptions:
    """The validated options (each ``None``/empty when not given)."""

    hnsw: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    on_disk: bool | None = None
    on_disk_payload: bool | None = None
    optimizers: dict[str, Any] | None = None
    payload_indexes: dict[str, str] = field(default_factory=dict)
    search: dict[str, Any] | None = None
    server: dict[str, Any] = field(default_factory=dict)


def _dict(options: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"collection option {key!r} must be a dict, got {value!r}")
    return dict(value)


def _bool(options: Mapping[str, Any], key: str) -> bool | None:
    value = options.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigurationError(f"collection option {key!r} must be true or false, got {value!r}")
    return value


def parse_options(options: Mapping[str, Any]) -> QdrantOptions:
    """Validate ``CollectionSpec.options`` for a Qdrant backend."""
    unknown = sorted(set(options) - set(_KNOWN))
    if unknown:
        raise ConfigurationError(
            f"unknown Qdrant collection option(s) {unknown}; known: {', '.join(_KNOWN)} "
            "(see docs/backends/qdrant.md)"
        )
    quant = _dict(options, "quantization")
    if quant is not None and (len(quant) != 1 or next(iter(quant)) not in _QUANT_KINDS):
        raise ConfigurationError(
            f"quantization must be one of {{'scalar': {{...}}}}, {{'binary': {{...}}}} or "
            f"{{'product': {{...}}}}, got {quant!r}"
        )
    indexes = _dict(options, "payload_indexes") or {}
    for name, schema in indexes.items():
        if schema not in SCHEMAS:
            raise ConfigurationError(
                f"payload index {name!r} has schema {schema!r}; use one of {', '.join(SCHEMAS)}"
            )
    server = {k: options[k] for k in ("shard_number", "replication_factor") if k in options}
    return QdrantOptions(
        hnsw=_dict(options, "hnsw"),
        quantization=quant,
        on_disk=_bool(options, "on_disk"),
        on_disk_payload=_bool(options, "on_disk_payload"),
        optimizers=_dict(options, "optimizers"),
        payload_indexes={str(k): str(v) for k, v in indexes.items()},
        search=_dict(options, "search"),
        server=server,
    )

"""The indexes a polyvec Milvus collection needs, and the repair of a half-created one.

pymilvus creates a collection in steps (the collection, then one index per vector
field, then the load): a process killed between them leaves a collection that exists
but cannot be searched or loaded ("No index found in field [sparse]"), and stays so
even after re-ingesting. So the backend builds its index parameters here, and on
opening a collection creates whichever index is missing and loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyvec.backends.base import CollectionSpec
from polyvec.backends.milvus import layout

__all__ = ["STATE_INDEXES", "ensure_ready", "index_params"]

STATE_INDEXES: dict[str, dict[str, Any]] = {"v": {"index_type": "AUTOINDEX", "metric_type": "L2"}}
"""The one index of polyvec's ``pvx_state`` collection (a 2-d placeholder vector)."""


def needed(spec: CollectionSpec, options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``add_index`` arguments of every vector field of a collection, by field."""
    index = dict(options.get("index") or {})
    out = {
        "dense": {
            "index_type": index.get("index_type", "AUTOINDEX"),
            "metric_type": layout.METRICS[spec.distance],
            "params": dict(index.get("params") or {}),
        }
    }
    if spec.sparse:
        out["sparse"] = {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}
    return out


def index_params(client: Any, fields: Mapping[str, Mapping[str, Any]]) -> Any:
    params = client.prepare_index_params()
    for field, args in fields.items():
        params.add_index(field, **args)
    return params


def ensure_ready(
    client: Any, physical: str, fields: Mapping[str, Mapping[str, Any]], timeout: float
) -> list[str]:
    """Create the indexes of ``fields`` that ``physical`` lacks and load it if it is not
    loaded; returns the fields whose index was missing (usually none: one cheap call)."""
    missing = [f for f in fields if not client.list_indexes(physical, field_name=f)]
    if missing:
        client.create_index(
            physical, index_params(client, {f: fields[f] for f in missing}), timeout=timeout
        )
    state = client.get_load_state(physical, timeout=timeout).get("state")
    if missing or getattr(state, "name", str(state)) != "Loaded":
        client.load_collection(physical, timeout=timeout)
    return missing

"""Dotted metadata keys of framework nodes, stored as nested fields.

LlamaIndex metadata keys are plain strings, so ``{"file.name": "a.pdf"}`` is common; in a
polyvec filter ``"file.name"`` is a nested path. Stored as it is, such a key could never
be found by a filter on it. So an adapter stores it nested (``{"file": {"name": ...}}``),
which every backend filters by path, and restores the flat key when reading the node back:

    >>> meta, folded = fold({"file.name": "a.pdf", "page": 3})
    >>> meta, folded
    ({'page': 3, 'file': {'name': 'a.pdf'}}, ['file.name'])
    >>> unfold(meta, folded)
    {'page': 3, 'file.name': 'a.pdf'}

A dotted key whose path another key also uses (``file`` beside ``file.name``) is refused
(:class:`~polyvec.errors.InputError`): nesting one would change or hide the other. Keys
with an empty segment (``a..b``, ``.a``) stay as they are: no filter path can name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from polyvec.errors import InputError

__all__ = ["fold", "unfold"]


def _foldable(key: str) -> bool:
    return "." in key and all(key.split("."))


def fold(metadata: Mapping[str, Any], where: str = "node") -> tuple[dict[str, Any], list[str]]:
    """``metadata`` with its dotted keys nested, and the keys that were (for :func:`unfold`)."""
    dotted = sorted(k for k in metadata if isinstance(k, str) and _foldable(k))
    if not dotted:
        return dict(metadata), []
    out = {k: v for k, v in metadata.items() if k not in dotted}
    made: set[int] = set()  # ids of the dicts fold created: only those may be shared
    for key in dotted:
        *parents, leaf = key.split(".")
        level = out
        for depth, part in enumerate(parents):
            if part not in level:
                level[part] = {}
                made.add(id(level[part]))
            if id(level[part]) not in made:
                _clash(key, ".".join(parents[: depth + 1]), where)
            level = level[part]
        if leaf in level:
            _clash(key, f"{'.'.join(parents)}.{leaf}", where)
        level[leaf] = metadata[key]
    return out, dotted


def _clash(key: str, other: str, where: str) -> None:
    raise InputError(
        f"{where} has the metadata key {key!r} and also {other!r} (as a key or a prefix of "
        f"another dotted key): polyvec stores {key!r} as the nested field it names in a "
        "filter, and the two would collide; rename one of them (e.g. 'file_name')"
    )


def unfold(metadata: Mapping[str, Any], folded: Iterable[str]) -> dict[str, Any]:
    """Undo :func:`fold`: each key in ``folded`` back at the top level, flat."""
    out = dict(metadata)
    for key in folded:
        *parents, leaf = key.split(".")
        chain: list[dict[str, Any]] = [out]
        for part in parents:
            nxt = chain[-1].get(part)
            if not isinstance(nxt, dict):
                break
            chain.append(nxt := dict(nxt))
            chain[-2][part] = nxt  # copy on the way down: the stored document is not changed
        else:
            if leaf in chain[-1]:
                out[key] = chain[-1].pop(leaf)
        # drop the dicts that fold created and that are now empty
        for part, level, parent in zip(
            reversed(parents[: len(chain) - 1]), reversed(chain[1:]), reversed(chain[:-1])
        ):
            if not level and parent.get(part) is level:
                del parent[part]
    return out

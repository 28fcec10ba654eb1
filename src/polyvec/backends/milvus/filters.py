"""polyvec filters as Milvus boolean expressions, every value escaped.

Milvus compares JSON values with its own rules (a missing key is neither equal nor
unequal to anything, lists are not searched element-wise, ISO dates are strings) and
milvus-lite has no ``not`` at all. So each row carries, beside the user's ``metadata``
(a JSON field, verbatim), the shadow index of :mod:`polyvec.backends.metaindex` in a
second JSON field, ``pv``, laid out as objects so that every test is ``== 1`` or
``!= 1`` on a key (``!=`` is true where the key is missing, which is what polyvec's
``ne``/``nin`` need) or a number comparison::

    pv = {"h": {"k:page": 1, "n:page": 1},             markers
          "t": {"page": {"n:3": 1}},                    value tokens per field
          "nmin": {"page": 3.0}, "nmax": {"page": 3.0}, "dmin": {...}, "dmax": {...},
          "x": {"lang": "\x1fen\x1f"}}                   strings, for text_match (``like``)

``text_match`` is ``like "%…%"`` on ``x`` (``%``, ``_`` and ``\\`` escaped); it cannot be
negated (milvus-lite has no ``not``, and ``like`` no negative form) and refuses a text
with a control character.

    >>> from polyvec.filters import F
    >>> to_expr((F("page") >= 3) & (F("lang") != 'x" or 1==1 or "'))
    '(pv["nmax"]["page"] >= 3.0 and pv["t"]["lang"]["s:x\\\\" or 1==1 or \\\\""] != 1)'

**Escaping.** Every string that reaches an expression (field paths, value tokens, ids)
goes through :func:`quote`: backslashes and double quotes are escaped, and a string
Milvus cannot carry in a literal at all (control characters: its parser has no escape
for them) or that is empty is replaced — at write time and at query time alike — by
``"~x" + hex(utf-8)`` (:func:`safe_key`), an injective encoding. No user string can end
a literal early, so none can change an expression's meaning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from polyvec.backends.metaindex import (
    TRUE,
    Bound,
    Const,
    Flat,
    Marker,
    Node,
    Text,
    Token,
    emit,
    plan,
)
from polyvec.filters.rewrite import text_match_unsupported

__all__ = ["NOTHING", "ids_expr", "like_pattern", "pv_payload", "quote", "safe_key", "to_expr"]

NOTHING = "<polyvec: matches nothing>"
"""What :func:`to_expr` returns for a filter no row can match (never sent)."""

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HEX = "~x"
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def safe_key(text: str) -> str:
    """``text`` itself if a Milvus string literal can hold it, else ``~x<hex>``.

    >>> safe_key("café"), safe_key("two\\nlines")
    ('café', '~x74776f0a6c696e6573')
    """
    if text and not _UNSAFE.search(text) and not text.startswith(_HEX):
        return text
    return _HEX + text.encode("utf-8", "surrogatepass").hex()


def quote(text: str) -> str:
    """A Milvus double-quoted string literal of ``text`` (``safe_key`` applied).

    >>> print(quote('say "hi" \\\\ bye'))
    "say \\"hi\\" \\\\ bye"
    """
    safe = safe_key(text)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(value: float | int) -> str:
    """A numeric literal: ints as they are, floats always with a dot or an exponent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Milvus expressions hold finite numbers, got {value!r}")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    return str(value)


def pv_payload(flat: Flat) -> dict[str, Any]:
    """The ``pv`` JSON field of one row."""
    out: dict[str, Any] = {}
    if flat.markers:
        out["h"] = {safe_key(m): 1 for m in flat.markers}
    if flat.tokens:
        out["t"] = {
            safe_key(path): {safe_key(t): 1 for t in tokens} for path, tokens in flat.tokens.items()
        }
    for stat in ("nmin", "nmax", "dmin", "dmax"):
        values = getattr(flat, stat)
        if values:
            out[stat] = {safe_key(path): value for path, value in values.items()}
    if flat.texts:
        out["x"] = {safe_key(path): text for path, text in flat.texts.items()}
    return out


def like_pattern(text: str) -> str:
    """The ``like`` literal for "contains ``text``": ``%`` and ``_`` escaped, then quoted.

    >>> print(like_pattern("50%_off"))
    "%50\\\\%\\\\_off%"
    """
    if _UNSAFE.search(text):
        raise text_match_unsupported(
            "milvus",
            f"the text {text!r} holds a control character, which a Milvus string literal "
            "cannot carry",
        )
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return quote("%" + escaped + "%")


def _leaf(node: Node) -> str:
    if isinstance(node, Token):
        test = "==" if node.present else "!="
        return f'pv["t"][{quote(node.path)}][{quote(node.token)}] {test} 1'
    if isinstance(node, Marker):
        return f'pv["h"][{quote(node.marker)}] {"==" if node.present else "!="} 1'
    if isinstance(node, Bound):
        return f'pv["{node.stat}"][{quote(node.path)}] {_OPS[node.op]} {number(node.value)}'
    if isinstance(node, Text):
        return f'pv["x"][{quote(node.path)}] like {like_pattern(node.text)}'
    raise AssertionError(f"constants are handled by to_expr, got {node!r}")  # pragma: no cover


def _join(conjunctive: bool, parts: list[str]) -> str:
    return "(" + (" and " if conjunctive else " or ").join(parts) + ")"


def to_expr(filter: Any) -> str | None:
    """The Milvus expression of a polyvec filter: ``None`` when it matches everything,
    :data:`NOTHING` when it matches nothing (callers skip the engine call)."""
    node = plan(filter, "milvus")
    if isinstance(node, Const):
        return None if node == TRUE else NOTHING
    # milvus-lite parses "a or b or c" as nested pairs and refuses ~45 levels of them
    # ("unsupported expr proto node"): join in balanced pairs, log2(n) levels
    return emit(node, "milvus", _leaf, _join, 2)


def ids_expr(keys: Sequence[str], field: str = "id") -> str:
    """``id in ["…", …]`` for primary keys (already made safe by the caller)."""
    return f"{field} in [" + ", ".join(quote(k) for k in keys) + "]"

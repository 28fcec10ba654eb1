"""What a stored value may be, checked once for every backend before the first write.

Every backend keeps the user's metadata as plain JSON (:func:`plain_metadata`): dates
and datetimes become their ``isoformat()`` strings, tuples lists, numpy scalars Python
numbers. Refused, with an ``InputError`` that names the field and the fix:

* NaN and infinity, non-str keys, types JSON cannot hold;
* strings (text, ids, keys, values) with a lone surrogate such as ``"\\ud800"``, which
  no engine can encode as UTF-8;
* integers beyond ``±max_int``, where the engine would not store or compare them
  exactly: Qdrant and Milvus store 64-bit ints (qdrant-edge rounds larger ones to a
  float on write); Qdrant without its number shadow (langchain-qdrant's layout)
  compares them as float64, where ``2**53 + 1 == 2**53``. Where polyvec filters on a
  shadow it writes, larger ints compare exactly: equality by their exact text, ranges
  by :func:`range_float` (Chroma, Milvus, Pinecone, Weaviate) or by bounds kept
  strictly inside ±2**53 (Qdrant).

Dates: :func:`date_shadow` turns every date string (the grammar of
:func:`polyvec.filters.ast.parse_iso_datetime`) into its instant, so that engines
compare integers instead of parsing strings with their own date grammars::

    >>> date_shadow({"day": "1970-01-02", "tags": ["x", "1970-01-01T00:00:01Z"], "n": 3})
    {'day': 86400000000, 'tags': [None, 1000000]}
    >>> try:
    ...     plain_metadata({"n": 2**53 + 1}, "metadata", max_int=2**53, engine="qdrant")
    ... except InputError as exc:
    ...     print(str(exc).split(":")[0])
    metadata.n is 9007199254740993, beyond ±2**53, the integers qdrant stores and compares exactly
    >>> range_float(2**53 + 1) > 2**53  # float(2**53 + 1) == 2**53
    True
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from polyvec.errors import InputError, InvalidTextError
from polyvec.filters.ast import parse_iso_datetime
from polyvec.types import Document

__all__ = [
    "EXACT_FLOAT_INT",
    "canon_number",
    "check_document",
    "check_str",
    "date_shadow",
    "epoch_us",
    "number_shadow",
    "plain_metadata",
    "range_float",
    "shadow_of",
    "utc_from_us",
]

EXACT_FLOAT_INT = 2**53
"""The largest magnitude up to which float64 holds every integer exactly."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def epoch_us(value: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC of a datetime (naive means UTC), exactly."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def range_float(value: int | float) -> float:
    """A number as the float64 a range shadow holds for it: the number itself within
    ±2**53; beyond, a float on the same side of every bound within ±2**53 (``2**53 + 1``
    rounds to ``2**53``, so it is held as ``2**53 + 2``). Range bounds are kept within
    ±2**53, so ranges over these floats are exact."""
    if isinstance(value, float):
        return value
    try:
        near = float(value)
    except OverflowError:  # beyond float64 altogether
        return sys.float_info.max if value > 0 else -sys.float_info.max
    if value > EXACT_FLOAT_INT >= near:
        return math.nextafter(float(EXACT_FLOAT_INT), math.inf)
    if value < -EXACT_FLOAT_INT <= near:
        return math.nextafter(-float(EXACT_FLOAT_INT), -math.inf)
    return near


def check_str(value: str, where: str) -> str:
    """``value``, or :class:`~polyvec.errors.InvalidTextError` (an ``InputError``) when
    it is not valid Unicode (a lone surrogate)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start : exc.end]
        raise InvalidTextError(
            f"{where} contains the lone surrogate {bad!r} at position {exc.start}, which no "
            "engine can store: decode the source text with errors='replace' or remove it"
        ) from None
    return value


def _int_text(limit: int) -> str:
    if limit == 2**63 - 1:
        return "the signed 64-bit range"
    return "±2**53" if limit == EXACT_FLOAT_INT else f"±{limit}"


def plain_metadata(
    value: Any, where: str, *, max_int: int | None = None, engine: str = "this engine"
) -> Any:
    """``value`` as plain JSON data (see the module docstring for what is refused).

    ``max_int``: ints beyond ``±max_int`` are refused (``None``: any int is kept).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_str(value, where)
    if isinstance(value, int):
        if max_int is not None and not -max_int <= value <= max_int:
            raise InputError(
                f"{where} is {value}, beyond {_int_text(max_int)}, the integers {engine} "
                "stores and compares exactly: store it as a str (or use a backend that "
                "compares any int exactly: pgvector, chroma, pinecone, weaviate)"
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(
                f"{where} is {value!r}: metadata cannot hold NaN or infinity; use None or a "
                "large finite number"
            )
        return value
    if isinstance(value, np.generic):
        return plain_metadata(value.item(), where, max_int=max_int, engine=engine)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(
                    f"{where} has the non-str key {key!r}: metadata keys must be strings"
                )
            check_str(key, f"a key in {where}")
            out[key] = plain_metadata(item, f"{where}.{key}", max_int=max_int, engine=engine)
        return out
    if isinstance(value, (list, tuple)):
        return [
            plain_metadata(x, f"{where}[{i}]", max_int=max_int, engine=engine)
            for i, x in enumerate(value)
        ]
    raise InputError(
        f"{where} is a {type(value).__name__} ({value!r:.60}), which polyvec cannot store: "
        "convert it to a str, a number, a bool, a list or a dict"
    )


def check_document(doc: Document, *, max_int: int | None, engine: str) -> None:
    """Raise ``InputError`` when ``doc`` cannot be stored exactly (id, text, metadata)."""
    if not isinstance(doc, Document):
        raise InputError(f"upsert takes polyvec Documents, got {type(doc).__name__}")
    where = f"document {doc.id!r}"
    if isinstance(doc.id, str):
        check_str(doc.id, "a document id")
    check_str(doc.text, f"the text of {where}")
    plain_metadata(dict(doc.metadata), f"{where} metadata", max_int=max_int, engine=engine)


def _instant(value: Any) -> int | None:
    if isinstance(value, str):
        parsed = parse_iso_datetime(value)
        return None if parsed is None else epoch_us(parsed)
    if isinstance(value, dt.datetime):
        return epoch_us(value)
    if isinstance(value, dt.date):
        return epoch_us(dt.datetime(value.year, value.month, value.day))
    return None


def shadow_of(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """A metadata value with the same nesting, every scalar replaced by ``leaf(scalar)``
    and the ``None`` results left out (kept as ``None`` inside lists, to keep
    positions). ``None`` when no scalar gave anything."""
    kind = type(value)
    if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
        out = {}
        for key, item in value.items():
            shadow = shadow_of(item, leaf)
            if shadow is not None:
                out[key] = shadow
        return out or None
    if isinstance(value, (list, tuple)):
        items = [None if isinstance(item, (list, tuple, Mapping)) else leaf(item) for item in value]
        return items if any(i is not None for i in items) else None
    return leaf(value)


def date_shadow(value: Any, form: Callable[[int], Any] | None = None) -> Any:
    """:func:`shadow_of` with every date string (or date) as its instant in
    microseconds (or ``form(µs)``): what date filters compare on engines that would
    otherwise parse date strings with their own grammar."""

    def instant(item: Any) -> Any:
        when = _instant(item)
        return when if when is None or form is None else form(when)

    return shadow_of(value, instant)


def canon_number(value: int | float) -> str:
    """Equal numbers, equal text: ``canon_number(3) == canon_number(3.0) == "3"``."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)


def number_shadow(value: Any) -> Any:
    """:func:`shadow_of` with every number (not bool) as its :func:`canon_number` text:
    what exact number equality compares on engines that hold some floats only to within
    one unit in the last place (qdrant-edge)."""
    return shadow_of(
        value,
        lambda item: (
            canon_number(item)
            if isinstance(item, (int, float)) and not isinstance(item, bool)
            else None
        ),
    )


def utc_from_us(when: int) -> dt.datetime:
    """The aware UTC datetime ``when`` microseconds after 1970 (inverse of :func:`epoch_us`)."""
    return _EPOCH + dt.timedelta(microseconds=when)

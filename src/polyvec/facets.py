"""Facet counts: how many documents hold each value of one metadata field.

:meth:`Collection.facet <polyvec.collection.Collection.facet>` answers "how many
documents per section / author / tag", under a filter, for a filter UI::

    sections = docs.facet("section", filter={"lang": "en"}, limit=10)
    for value, count in sections.items():
        print(value, count)

What a count means is decided once, by the filter language: the count of a value ``v``
is the number of documents (matching ``filter``) for which ``F(field) == v`` holds in the
reference evaluator (:func:`polyvec.filters.matches`). So:

* a **list-valued** field counts the document once under each distinct element
  (``tags: ["a", "b", "a"]`` adds 1 to ``"a"`` and 1 to ``"b"``);
* a **missing** field, ``null`` and ``[]`` count under no value (nor do dict values,
  lists inside lists, or other non-scalar elements: no ``==`` filter matches them);
* **numbers** compare by value: ``3`` and ``3.0`` are one value, shown as ``3`` (an
  integral float is shown as the int it equals); ints beyond 2**53 stay exact;
* **booleans are not numbers**: ``True`` and ``1`` are two values;
* **strings** are compared exactly (no case folding, no Unicode normalisation; an
  ISO-8601 date string is a string). Date objects given to polyvec are stored as their
  ``isoformat()`` string on every backend, and counted as that string.

Values come back by count, highest first; ties in the order booleans (``False`` first),
numbers (ascending), strings (by code point) — the same on every backend. ``limit``
keeps the first ``limit`` values; :attr:`Facets.more` says whether any were left out
(the counts shown are always exact).

Where the engine has no native facet counts (``Capabilities.facet`` is false) polyvec
reads the matching documents and counts them itself; that scan refuses to read more
than ``scan_limit`` documents and raises :class:`~polyvec.errors.ScanLimitError`
instead, before the first read: a count is never silently truncated.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

from polyvec.errors import ConfigurationError, ScanLimitError
from polyvec.filters.ast import validate_field
from polyvec.filters.evaluate import _MISSING, _lookup

if TYPE_CHECKING:
    from polyvec.backends.base import Backend
    from polyvec.filters.ast import Filter
    from polyvec.types import Document

__all__ = [
    "DEFAULT_SCAN_LIMIT",
    "FacetCount",
    "FacetKey",
    "FacetValue",
    "Facets",
    "check_facet_args",
    "count_values",
    "facet_key",
    "ranked",
    "scan_facet",
]

FacetValue = Union[str, int, float, bool]
"""A value a facet counts: a string, a number or a boolean."""

DEFAULT_SCAN_LIMIT = 100_000
"""Documents a client-side facet scan reads at most before it raises ``ScanLimitError``."""

_BOOL, _NUMBER, _STRING = 0, 1, 2
FacetKey = tuple[int, Any]
"""A facet bucket: ``(type rank, canonical value)`` (see :func:`facet_key`)."""


def facet_key(value: Any) -> FacetKey | None:
    """The bucket one metadata value falls in: ``(type rank, canonical value)``, or
    ``None`` for a value no ``==`` filter matches (dicts, lists, ``None``, NaN).

    >>> facet_key(3.0) == facet_key(3), facet_key(True) == facet_key(1)
    (True, False)
    """
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, numbers.Real):
        if isinstance(value, numbers.Integral):
            return (_NUMBER, int(value))
        number = float(value)
        if not math.isfinite(number):
            return None
        return (_NUMBER, int(number) if number.is_integer() else number)
    if isinstance(value, str):
        return (_STRING, value)
    if isinstance(value, dt.date):  # stored as its ISO string by every backend
        return (_STRING, value.isoformat())
    return None


def document_keys(metadata: Mapping[str, Any], field: str) -> set[FacetKey]:
    """The distinct buckets one document counts in for ``field``."""
    value = _lookup(metadata, field)
    if value is _MISSING:
        return set()
    items = value if isinstance(value, (list, tuple)) else (value,)
    return {key for item in items if (key := facet_key(item)) is not None}


def count_values(metadatas: Iterable[Mapping[str, Any]], field: str) -> dict[FacetKey, int]:
    """Documents per bucket of ``field`` over ``metadatas`` (the scan, and the oracle)."""
    counts: dict[FacetKey, int] = {}
    for metadata in metadatas:
        for key in document_keys(metadata, field):
            counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class FacetCount:
    """One value of a facet and the number of documents that hold it."""

    value: FacetValue
    count: int


@dataclass(frozen=True)
class Facets:
    """The counts of one field's values, highest first (see the module doc).

    ``more`` is true when values beyond ``limit`` were left out; ``method`` says how
    they were counted (``"native"``: by the engine; ``"scan"``: polyvec read
    ``scanned`` documents).

    >>> f = Facets("lang", (FacetCount("en", 3), FacetCount("de", 1)), False, "scan", 4)
    >>> f
    Facets('lang': 'en'=3, 'de'=1; scan of 4 documents)
    >>> dict(f.items())["en"], f.values()
    (3, ['en', 'de'])
    """

    field: str
    counts: tuple[FacetCount, ...]
    more: bool = False
    method: Literal["native", "scan"] = "native"
    scanned: int | None = None

    def __iter__(self) -> Iterator[FacetCount]:
        return iter(self.counts)

    def __len__(self) -> int:
        return len(self.counts)

    def items(self) -> list[tuple[FacetValue, int]]:
        """``(value, count)`` pairs, highest count first (a list: ``True`` and ``1``
        are two values, which a dict would merge)."""
        return [(c.value, c.count) for c in self.counts]

    def values(self) -> list[FacetValue]:
        return [c.value for c in self.counts]

    def count_of(self, value: Any) -> int:
        """The count of ``value`` (0 when it is not among the values returned)."""
        key = facet_key(value)
        return next((c.count for c in self.counts if facet_key(c.value) == key), 0)

    def __repr__(self) -> str:
        shown = ", ".join(f"{c.value!r}={c.count}" for c in self.counts[:10])
        if len(self.counts) > 10:
            shown += f", … {len(self.counts) - 10} more shown"
        if self.more:
            shown += ", … (more values beyond limit)"
        how = f"scan of {self.scanned} documents" if self.method == "scan" else "native"
        return f"Facets({self.field!r}: {shown or 'no values'}; {how})"


def ranked(
    counts: Mapping[FacetKey, int],
    field: str,
    limit: int | None,
    *,
    method: Literal["native", "scan"],
    scanned: int | None = None,
) -> Facets:
    """:class:`Facets` from bucket counts: by count, ties in the documented order,
    cut at ``limit``."""
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = order if limit is None else order[:limit]
    return Facets(
        field,
        tuple(FacetCount(key[1], n) for key, n in kept if n > 0),
        more=len(kept) < len(order),
        method=method,
        scanned=scanned,
    )


def check_facet_args(field: str, limit: int | None, scan_limit: int) -> None:
    """Validate a facet request before anything is read."""
    validate_field(field)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigurationError(f"facet limit must be a positive int or None, got {limit!r}")
    if isinstance(scan_limit, bool) or not isinstance(scan_limit, int) or scan_limit < 0:
        raise ConfigurationError(f"scan_limit must be a non-negative int, got {scan_limit!r}")


def scan_facet(
    backend: Backend,
    collection: str,
    field: str,
    *,
    filter: Filter | None,
    limit: int | None,
    scan_limit: int,
) -> Facets:
    """Facet counts by reading every matching document (for engines without native
    facet counts). Raises ``ScanLimitError`` before reading when more than
    ``scan_limit`` documents match, and while reading if more appear meanwhile."""
    check_facet_args(field, limit, scan_limit)
    matching = backend.count(collection, filter)
    if matching > scan_limit:
        raise ScanLimitError(
            f"facet({field!r})", matching, scan_limit, backend.capabilities.backend
        )
    seen = 0

    def metadatas(batches: Iterable[list[Document]]) -> Iterator[Mapping[str, Any]]:
        nonlocal seen
        for batch in batches:
            seen += len(batch)
            if seen > scan_limit:
                raise ScanLimitError(
                    f"facet({field!r})", seen, scan_limit, backend.capabilities.backend
                )
            for doc in batch:
                yield doc.metadata

    counts = count_values(
        metadatas(backend.scroll(collection, filter=filter, batch_size=1024)), field
    )
    return ranked(counts, field, limit, method="scan", scanned=seen)

"""A typed metadata schema: declared fields drive writes, filters and indexes.

    >>> import polyvec
    >>> from polyvec import F, Field, MetadataSchema
    >>> schema = MetadataSchema({
    ...     "published": Field("datetime", indexed=True),
    ...     "tags": Field("list[str]"),
    ...     "page": "int",                          # shorthand for Field("int")
    ...     "note": Field("str", filterable=False),
    ... })
    >>> schema.normalize({"published": "2024-05-01", "tags": "linux", "page": 3.0}, doc_id="a")
    {'published': '2024-05-01T00:00:00Z', 'tags': ['linux'], 'page': 3}
    >>> schema.check_filter(F("published") == "2024-05-01")  # a date, not a string
    Comparison(field='published', op=<Op.EQ: 'eq'>, value=datetime.datetime(2024, 5, 1, 0, 0, \
tzinfo=datetime.timezone.utc))

Pass it when opening a collection (``polyvec.connect(url, schema=schema)`` or
``Collection(backend, name, schema=schema)``); it is saved with the collection's state.

* **Writes** (:meth:`MetadataSchema.normalize`, run by ``Collection.add``): datetimes,
  dates and ISO-8601 strings become one UTC ISO string (``2024-05-01T10:00:00Z``), the
  form every backend compares as a date; a scalar given to a list field becomes a
  one-element list; integral floats become ints for ``int`` fields. Anything else of
  the wrong type raises :class:`~polyvec.errors.SchemaError` naming the document id and
  the field. ``None`` (and a missing key) stays missing. Undeclared keys pass unchanged.
* **Filters** (:meth:`MetadataSchema.check_filter`, run on every filter a collection
  is given): an ISO string compared with a ``datetime`` field is read as a date; a value
  that can never match the declared type (a number for a date, a string for an int, a
  range on a ``str`` field, ``contains`` on a scalar field) raises
  :class:`~polyvec.errors.FilterValueError`; a filter on a field declared
  ``filterable=False`` raises :class:`~polyvec.errors.FilterError`.
* **Indexes** (:meth:`MetadataSchema.index_options`): fields declared ``indexed=True``
  become Qdrant payload indexes and pgvector GIN indexes when the collection is created.

Without a schema nothing is coerced: filters and writes keep polyvec's inferred,
type-strict semantics (docs/filters.md).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from polyvec.errors import ConfigurationError, FilterError, FilterValueError, SchemaError
from polyvec.filters.ast import (
    And,
    Comparison,
    Filter,
    Not,
    Op,
    Or,
    _to_datetime,
    parse_iso_datetime,
    validate_field,
)

__all__ = ["Field", "FieldType", "MetadataSchema"]

FieldType = Literal[
    "str",
    "int",
    "float",
    "bool",
    "datetime",
    "list[str]",
    "list[int]",
    "list[float]",
    "list[bool]",
    "list[datetime]",
]
"""The types a metadata field may be declared with."""

TYPES: tuple[str, ...] = get_args(FieldType)

_QDRANT_INDEX = {
    "str": "keyword",
    "int": "float",  # polyvec compares every number as a Range, which a float index serves
    "float": "float",
    "bool": "bool",
    "datetime": "datetime",
}
"""Qdrant payload-index schema per element type."""


@dataclass(frozen=True)
class Field:
    """One declared metadata field: its type, whether filters may use it, whether the
    backend should index it.

    >>> Field("list[str]")
    Field(type='list[str]', filterable=True, indexed=False)
    """

    type: FieldType
    filterable: bool = True
    indexed: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ConfigurationError(
                f"unknown metadata field type {self.type!r}; use one of {', '.join(TYPES)}"
            )
        if self.indexed and not self.filterable:
            raise ConfigurationError(
                "a field declared filterable=False cannot be indexed=True: an index only "
                "serves filters"
            )

    @property
    def is_list(self) -> bool:
        """Declared as ``list[...]``."""
        return self.type.startswith("list[")

    @property
    def element(self) -> str:
        """The scalar type (of the elements, for a list field)."""
        return self.type[5:-1] if self.is_list else self.type


class _Bad(Exception):
    """A value that does not fit a declared type (``str(exc)`` says why)."""


def iso_utc(value: dt.date) -> str:
    """The stored form of a date or datetime: UTC ISO-8601 with ``Z`` (naive = UTC).

    >>> iso_utc(dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '2024-05-01T10:30:00Z'
    """
    utc = _to_datetime(value).astimezone(dt.timezone.utc)
    return utc.replace(tzinfo=None).isoformat() + "Z"


def _coerce(kind: str, value: Any) -> Any:
    """``value`` as the stored form of the scalar type ``kind``, or raise ``_Bad``."""
    if kind == "datetime":
        if isinstance(value, dt.date):
            return iso_utc(value)
        if isinstance(value, str) and (parsed := parse_iso_datetime(value)) is not None:
            return iso_utc(parsed)
        raise _Bad("needs a date, a datetime or an ISO-8601 string such as '2024-05-01'")
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _Bad("needs True or False")
    if kind == "str":
        if isinstance(value, str):
            return str.__str__(value)
        raise _Bad("needs a string (convert the value with str() if that is what you mean)")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Bad(f"needs an int or a float, not {type(value).__name__}")
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise _Bad("needs a whole number (declare the field 'float' for fractions)")
    number = float(value)
    if not math.isfinite(number):
        raise _Bad("needs a finite number (no backend stores NaN or infinity alike)")
    return number


def _coerce_field(spec: Field, value: Any) -> Any:
    if not spec.is_list:
        if isinstance(value, (list, tuple, set, frozenset)):
            raise _Bad(f"is declared {spec.type!r}, got a list: declare it 'list[{spec.type}]'")
        return _coerce(spec.type, value)
    if isinstance(value, (set, frozenset)):
        raise _Bad("needs a list (a set has no order: pass sorted(values))")
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if any(item is None for item in items):
        raise _Bad("holds None among its elements: drop the nulls")
    return [_coerce(spec.element, item) for item in items]


def _value_ok(spec: Field, op: Op, value: Any) -> Any:
    """A filter value checked (and, for dates, converted) against the declared type."""
    kind = spec.element
    if kind == "datetime":
        if isinstance(value, str):
            parsed = parse_iso_datetime(value)
            if parsed is None:
                raise _Bad(f"compares the datetime field with the non-date string {value!r}")
            return parsed
        if not isinstance(value, dt.datetime):
            raise _Bad(f"compares the datetime field with {type(value).__name__} ({value!r})")
        return value
    if isinstance(value, dt.datetime):
        raise _Bad(f"compares the {spec.type} field with a date")
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"compares the {spec.type} field with {type(value).__name__} ({value!r})")
        return value
    if op.is_range:
        raise _Bad(f"is a range on the {spec.type} field: ranges need numbers or dates")
    expected = bool if kind == "bool" else str
    if not isinstance(value, expected):
        raise _Bad(f"compares the {spec.type} field with {type(value).__name__} ({value!r})")
    return value


_LIST_ONLY = (Op.CONTAINS, Op.CONTAINS_ANY, Op.CONTAINS_ALL)


def _check_comparison(name: str, spec: Field, node: Comparison) -> Comparison:
    op = node.op
    if not spec.filterable:
        raise FilterError(
            f"filter on {name!r}: the schema declares this field filterable=False; declare "
            f"it Field({spec.type!r}, filterable=True) or drop the condition"
        )
    if op.takes_flag:
        return node
    if op in _LIST_ONLY and not spec.is_list:
        raise _Bad(
            f"{op.value} tests list elements but the field is declared {spec.type!r} "
            "(it would never match): use == or in"
        )
    if op is Op.TEXT_MATCH:
        if spec.element != "str":
            raise _Bad(f"text_match needs a str field, the field is declared {spec.type!r}")
        return node
    if op.takes_list:
        return Comparison(name, op, tuple(_value_ok(spec, op, v) for v in node.value))
    return Comparison(name, op, _value_ok(spec, op, node.value))


class MetadataSchema(Mapping[str, Field]):
    """Declared metadata fields: ``{name: Field(...) or "type"}``; a mapping of ``Field``.

    Names are field paths as in filters (``"meta.author"`` is the key ``author`` inside
    the dict ``meta``). See the module docstring for what a schema does.

    >>> MetadataSchema({"page": "int", "tags": "list[str]"})
    MetadataSchema({'page': Field('int'), 'tags': Field('list[str]')})
    """

    def __init__(self, fields: Mapping[str, Field | str]) -> None:
        if not isinstance(fields, Mapping):
            raise ConfigurationError(
                f"MetadataSchema takes a dict of field name -> Field, got {type(fields).__name__}"
            )
        declared: dict[str, Field] = {}
        for name, spec in fields.items():
            try:
                validate_field(name)
            except FilterError as exc:
                raise ConfigurationError(f"bad schema field name: {exc}") from None
            declared[name] = Field(spec) if isinstance(spec, str) else spec  # type: ignore[arg-type]
            if not isinstance(declared[name], Field):
                raise ConfigurationError(
                    f"schema field {name!r} must be a Field or a type name, got {spec!r}"
                )
        for name in declared:
            for other in declared:
                if other.startswith(name + "."):
                    raise ConfigurationError(
                        f"schema fields {name!r} and {other!r} overlap: {name!r} is declared "
                        "a scalar but holds a nested field"
                    )
        self._fields = declared

    # -- mapping ------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetadataSchema):
            return NotImplemented
        return self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        def one(f: Field) -> str:
            flags = "".join(
                [", filterable=False" if not f.filterable else "", ", indexed=True" * f.indexed]
            )
            return f"Field({f.type!r}{flags})"

        inner = ", ".join(f"{k!r}: {one(f)}" for k, f in self._fields.items())
        return f"MetadataSchema({{{inner}}})"

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain JSON: ``{name: {"type": ..., "filterable": ..., "indexed": ...}}``."""
        return {
            name: {"type": f.type, "filterable": f.filterable, "indexed": f.indexed}
            for name, f in self._fields.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> MetadataSchema:
        """The inverse of :meth:`to_dict`."""
        return cls({name: Field(**dict(spec)) for name, spec in data.items()})

    # -- writes -------------------------------------------------------------------------
    def normalize(self, metadata: Mapping[str, Any], *, doc_id: Any = None) -> dict[str, Any]:
        """A copy of ``metadata`` with each declared field in its stored form.

        Raises :class:`~polyvec.errors.SchemaError` naming ``doc_id`` and the field.
        """
        out: dict[str, Any] = dict(metadata)
        for name, spec in self._fields.items():
            *parents, leaf = name.split(".")
            holder: Any = out
            for part in parents:
                child = holder.get(part)
                if not isinstance(child, Mapping):
                    holder = None
                    break
                holder[part] = child = dict(child)  # copy: never mutate the caller's dicts
                holder = child
            if holder is None or holder.get(leaf) is None:
                continue
            try:
                holder[leaf] = _coerce_field(spec, holder[leaf])
            except _Bad as exc:
                raise SchemaError(
                    f"document {doc_id!r}: metadata field {name!r} = {holder[leaf]!r} {exc} "
                    f"(the schema declares it {spec.type!r})"
                ) from None
        return out

    # -- filters ------------------------------------------------------------------------
    def check_filter(self, filter: Filter | None) -> Filter | None:
        """``filter`` checked against the declared types, with ISO strings compared to
        ``datetime`` fields read as dates; undeclared fields pass unchanged.

        Raises :class:`~polyvec.errors.FilterValueError` for a value that can never match
        the declared type, :class:`~polyvec.errors.FilterError` for a filter on a field
        declared ``filterable=False``.
        """
        if filter is None:
            return None
        return self._check(filter)

    def _check(self, node: Filter) -> Filter:
        if isinstance(node, Comparison):
            spec = self._fields.get(node.field)
            if spec is None:
                return node
            try:
                return _check_comparison(node.field, spec, node)
            except _Bad as exc:
                raise FilterValueError(
                    f"filter on {node.field!r}: {node.op.value} {exc} "
                    f"(the schema declares it {spec.type!r})"
                ) from None
        if isinstance(node, And):
            return And(self._check(c) for c in node.children)
        if isinstance(node, Or):
            return Or(self._check(c) for c in node.children)
        return Not(self._check(node.child))

    # -- indexes ------------------------------------------------------------------------
    def index_options(self, backend: str) -> dict[str, Any]:
        """``CollectionSpec.options`` that index the ``indexed=True`` fields on a backend
        (by its ``capabilities.backend`` name); ``{}`` where polyvec has no index option.

        >>> MetadataSchema({"d": Field("datetime", indexed=True)}).index_options("qdrant")
        {'payload_indexes': {'d': 'datetime'}}
        """
        indexed = {name: f for name, f in self._fields.items() if f.indexed}
        if not indexed:
            return {}
        if backend in ("qdrant", "qdrant-edge"):
            return {"payload_indexes": {n: _QDRANT_INDEX[f.element] for n, f in indexed.items()}}
        if backend == "pgvector":
            return {"filterable": list(indexed)}
        return {}

    def collection_options(self, backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` plus :meth:`index_options`; what the user wrote wins per field.

        >>> schema = MetadataSchema({"a": Field("str", indexed=True)})
        >>> schema.collection_options("pgvector", {"filterable": ["b"], "m": 32})
        {'filterable': ['b', 'a'], 'm': 32}
        """
        merged = dict(options)
        for key, extra in self.index_options(backend).items():
            given = merged.get(key)
            if isinstance(extra, dict) and isinstance(given, Mapping):
                merged[key] = {**extra, **given}
            elif isinstance(extra, list) and isinstance(given, (list, tuple)):
                merged[key] = [*given, *(k for k in extra if k not in given)]
            elif given is None:
                merged[key] = extra
        return merged

"""The typed filter AST and the Python builder ``F``.

A filter is a tree of :class:`Comparison` leaves under :class:`And`, :class:`Or` and
:class:`Not`. Build one in Python::

    >>> from polyvec.filters import F
    >>> f = (F("page") >= 3) & F("tags").contains("linux") & ~F("draft").exists()
    >>> type(f).__name__
    'And'

or parse one from a dict (``polyvec.filters.parse``). ``F`` objects combine with
``&``, ``|`` and ``~``. Field names with dots address nested metadata (``"a.b"``).
What each operator means on missing fields, nulls and lists is fixed once, by the
reference evaluator in ``polyvec.filters.evaluate`` (see docs/filters.md).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Union

from polyvec.errors import FilterSyntaxError, FilterValueError

__all__ = [
    "And",
    "Comparison",
    "F",
    "Filter",
    "Not",
    "Op",
    "Or",
    "Scalar",
    "validate_field",
]

Scalar = Union[str, int, float, bool, dt.datetime]
"""A value a comparison can hold. Dates are normalised to timezone-aware datetimes."""


class Op(str, enum.Enum):
    """Comparison operators of the filter language."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NIN = "nin"
    EXISTS = "exists"
    CONTAINS = "contains"

    @property
    def is_range(self) -> bool:
        return self in (Op.GT, Op.GTE, Op.LT, Op.LTE)


def validate_field(field: str) -> str:
    """Check a field path: non-empty, no empty segment (``a..b``)."""
    if not isinstance(field, str) or not field:
        raise FilterSyntaxError(f"a filter field must be a non-empty string, got {field!r}")
    if any(part == "" for part in field.split(".")):
        raise FilterSyntaxError(
            f"filter field {field!r} has an empty segment: nested keys are written 'a.b'"
        )
    return field


def _to_datetime(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:  # naive means UTC, everywhere
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """Parse an ISO-8601 date or datetime string (naive = UTC); ``None`` if it is not one."""
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _to_datetime(parsed)


def _check_scalar(op: Op, value: Any) -> Scalar:
    if isinstance(value, dt.date):
        return _to_datetime(value)
    if value is None:
        raise FilterValueError(
            f"{op.value} cannot compare with None: a null metadata value counts as missing, "
            "so test it with exists (e.g. ~F('field').exists())"
        )
    if not isinstance(value, (str, int, float, bool)):
        raise FilterValueError(
            f"{op.value} needs a str, int, float, bool or date value, got "
            f"{type(value).__name__} ({value!r})"
        )
    if isinstance(value, float) and value != value:
        raise FilterValueError(f"{op.value} cannot compare with NaN")
    if op.is_range:
        if isinstance(value, bool):
            raise FilterValueError(f"{op.value} needs a number or a date, not a bool ({value!r})")
        if isinstance(value, str):
            parsed = parse_iso_datetime(value)
            if parsed is None:
                raise FilterValueError(
                    f"{op.value} needs a number or an ISO-8601 date, got the string {value!r}: "
                    "range comparisons on strings are not portable across backends"
                )
            return parsed
    return value


@dataclass(frozen=True, slots=True)
class Comparison:
    """One condition on one metadata field."""

    field: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        validate_field(self.field)
        if not isinstance(self.op, Op):
            try:
                object.__setattr__(self, "op", Op(self.op))
            except ValueError:
                known = ", ".join(o.value for o in Op)
                raise FilterSyntaxError(
                    f"unknown filter operator {self.op!r}; known operators: {known}"
                ) from None
        op = self.op
        if op is Op.EXISTS:
            if not isinstance(self.value, bool):
                raise FilterValueError(f"exists takes True or False, got {self.value!r}")
        elif op in (Op.IN, Op.NIN):
            if isinstance(self.value, (str, bytes)) or not isinstance(self.value, Iterable):
                raise FilterValueError(
                    f"{op.value} needs a list of values, got {self.value!r}: "
                    f"write {{'$' + '{op.value}': [{self.value!r}]}}"
                )
            values = tuple(_check_scalar(op, v) for v in self.value)
            object.__setattr__(self, "value", values)
        else:
            object.__setattr__(self, "value", _check_scalar(op, self.value))

    def __and__(self, other: Filter) -> And:
        return And((self, other))

    def __or__(self, other: Filter) -> Or:
        return Or((self, other))

    def __invert__(self) -> Not:
        return Not(self)


class _Combinable:
    __slots__ = ()

    def __and__(self, other: Filter) -> And:
        return And((self, other))  # type: ignore[arg-type]

    def __or__(self, other: Filter) -> Or:
        return Or((self, other))  # type: ignore[arg-type]

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]


def _check_children(children: Iterable[Any], name: str) -> tuple[Filter, ...]:
    kids = tuple(children)
    for kid in kids:
        if not isinstance(kid, (Comparison, And, Or, Not)):
            raise FilterSyntaxError(f"{name} takes filters, got {type(kid).__name__} ({kid!r})")
    return kids


@dataclass(frozen=True, slots=True)
class And(_Combinable):
    """All children hold. An empty ``And`` is true (matches everything)."""

    children: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", _check_children(self.children, "And"))


@dataclass(frozen=True, slots=True)
class Or(_Combinable):
    """At least one child holds. An empty ``Or`` is false (matches nothing)."""

    children: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", _check_children(self.children, "Or"))


@dataclass(frozen=True, slots=True)
class Not(_Combinable):
    """The child does not hold."""

    child: Filter

    def __post_init__(self) -> None:
        _check_children((self.child,), "Not")


Filter = Union[Comparison, And, Or, Not]
"""Any node of the filter AST."""


class F:
    """Builder for comparisons on one field: ``F("page") >= 3``, ``F("tag").is_in([...])``."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = validate_field(field)

    def __repr__(self) -> str:
        return f"F({self.field!r})"

    def __eq__(self, value: object) -> Comparison:  # type: ignore[override]
        return Comparison(self.field, Op.EQ, value)

    def __ne__(self, value: object) -> Comparison:  # type: ignore[override]
        return Comparison(self.field, Op.NE, value)

    def __gt__(self, value: Any) -> Comparison:
        return Comparison(self.field, Op.GT, value)

    def __ge__(self, value: Any) -> Comparison:
        return Comparison(self.field, Op.GTE, value)

    def __lt__(self, value: Any) -> Comparison:
        return Comparison(self.field, Op.LT, value)

    def __le__(self, value: Any) -> Comparison:
        return Comparison(self.field, Op.LTE, value)

    __hash__ = None  # type: ignore[assignment]

    def is_in(self, values: Iterable[Any]) -> Comparison:
        return Comparison(self.field, Op.IN, tuple(values))

    def not_in(self, values: Iterable[Any]) -> Comparison:
        return Comparison(self.field, Op.NIN, tuple(values))

    def exists(self, flag: bool = True) -> Comparison:
        return Comparison(self.field, Op.EXISTS, flag)

    def contains(self, value: Any) -> Comparison:
        """The field is a list and ``value`` is one of its elements."""
        return Comparison(self.field, Op.CONTAINS, value)

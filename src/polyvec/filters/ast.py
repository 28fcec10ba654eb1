"""The typed filter AST and the Python builder ``F``.

A filter is a tree of :class:`Comparison` leaves under :class:`And`, :class:`Or` and
:class:`Not`. Build one in Python::

    >>> from polyvec.filters import F
    >>> f = (F("page") >= 3) & F("tags").contains("linux") & ~F("draft").exists()
    >>> type(f).__name__
    'And'

or parse one from a dict (:func:`polyvec.filters.parse_filter`). Filters combine with
``&``, ``|`` and ``~``; ``a & b & c`` is one ``And`` of three children (``&`` and ``|``
unpack a side of their own kind; ``And([And([a, b]), c])`` built explicitly keeps its
shape). Field names with dots address nested metadata (``"a.b"``).
What each operator means on missing fields, nulls and lists is fixed once, by the
reference evaluator in :mod:`polyvec.filters.evaluate` (see docs/filters.md).

Values are normalised when a node is built: dates and naive datetimes become
timezone-aware datetimes (naive means UTC), ISO-8601 strings given to a range operator
become datetimes, ``int``/``float``/``str`` subclasses (``IntEnum``, ``numpy.float64``,
``StrEnum``...) become the plain type. Two nodes are equal only when their values have
the same type: ``F("a") == 1`` and ``F("a") == True`` are different filters.

Filters have no truth value: ``if f:`` raises, so that a chained comparison such as
``1 < F("x") < 5`` (which Python would silently reduce to ``F("x") < 5``) cannot drop a
condition. Test ``f is not None`` instead.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Union

from polyvec.errors import FilterSyntaxError, FilterValueError, InvalidTextError
from polyvec.filters.limits import MAX_DEPTH, too_deep

__all__ = [
    "SYMBOL_OPS",
    "And",
    "Comparison",
    "F",
    "Filter",
    "Not",
    "Op",
    "Or",
    "Scalar",
    "flattened",
    "parse_iso_datetime",
    "validate_field",
]

Scalar = Union[str, int, float, bool, dt.datetime]
"""A value a comparison can hold. Dates are normalised to timezone-aware datetimes."""


class Op(str, enum.Enum):
    """Comparison operators of the filter language (``Op("gt")`` or ``Op.GT``)."""

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
    IS_NULL = "is_null"
    CONTAINS_ANY = "contains_any"
    CONTAINS_ALL = "contains_all"
    TEXT_MATCH = "text_match"

    @property
    def is_range(self) -> bool:
        """``gt``, ``gte``, ``lt`` and ``lte``: they take numbers or dates only."""
        return self in (Op.GT, Op.GTE, Op.LT, Op.LTE)

    @property
    def takes_list(self) -> bool:
        """``in``, ``nin``, ``contains_any`` and ``contains_all``: their value is a list."""
        return self in (Op.IN, Op.NIN, Op.CONTAINS_ANY, Op.CONTAINS_ALL)

    @property
    def takes_flag(self) -> bool:
        """``exists`` and ``is_null``: their value is ``True`` or ``False``."""
        return self in (Op.EXISTS, Op.IS_NULL)


SYMBOL_OPS: dict[str, Op] = {
    "==": Op.EQ,
    "!=": Op.NE,
    ">": Op.GT,
    ">=": Op.GTE,
    "<": Op.LT,
    "<=": Op.LTE,
    "in": Op.IN,
}
"""The operators framework filters spell as symbols, alike in LlamaIndex and Haystack
(``SYMBOL_OPS[">="] is Op.GTE``); each parser adds its own spellings."""


def is_text(text: str) -> bool:
    """Whether ``text`` is valid Unicode text: no surrogate code point (``"\\ud800"``),
    which UTF-8 cannot encode and so no backend can store or compare.

    >>> is_text("日本語 𝄞"), is_text("bad \\ud800")
    (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_field(field: str) -> str:
    """Check a field path: a non-empty string of valid Unicode (no lone surrogate), no
    empty segment (``a..b``), no leading ``$``.

    >>> validate_field("meta.author")
    'meta.author'
    """
    if not isinstance(field, str) or not field:
        raise FilterSyntaxError(f"a filter field must be a non-empty string, got {field!r}")
    if any(part == "" for part in field.split(".")):
        raise FilterSyntaxError(
            f"filter field {field!r} has an empty segment: nested keys are written 'a.b'"
        )
    if field.startswith("$"):
        raise FilterSyntaxError(
            f"filter field {field!r} starts with '$', which marks operators: "
            "rename the metadata key"
        )
    if not is_text(field):
        raise InvalidTextError(
            f"filter field {field!r} holds a surrogate code point, which is not valid "
            "Unicode, so no backend can store or match it: decode the name properly (e.g. "
            "bytes.decode('utf-8'), never errors='surrogateescape')"
        )
    return field


def _to_datetime(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:  # naive means UTC, everywhere
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


_DATE_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([Zz]|[+-]\d{2}:\d{2})?)?\Z",
    re.ASCII,
)


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """The instant a date string names (naive = UTC); ``None`` if it is not one.

    polyvec's one date grammar, the same for every backend (they compare the instants
    this returns, never parse strings themselves): RFC 3339's ``full-date`` or
    ``date-time``, with the separator ``T``, ``t`` or a space, an optional fraction of
    1-6 digits, and an optional offset (``Z``, ``z`` or ``±HH:MM``; none means UTC),
    naming an instant in the years 1-9999 UTC.
    Anything else is a plain string: ``2024-1-1``, ``2024-01-01T10:00`` (no seconds),
    ``2024-W01-1``, ``20240101``, 7+ fraction digits, ``+05:30:15`` offsets, leading or
    trailing spaces.

    >>> parse_iso_datetime("2024-05-01")
    datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_iso_datetime("2024-05-01t10:00:00z") == parse_iso_datetime("2024-05-01 10:00:00")
    True
    >>> parse_iso_datetime("2024-05-01T10:00Z") is None
    True
    """
    if not isinstance(text, str) or not 10 <= len(text) <= 32:
        return None
    m = _DATE_TEXT.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, offset = m.groups()
    tz = dt.timezone.utc
    if offset and offset not in "Zz":
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        when = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((frac or "0").ljust(6, "0")),
            tzinfo=tz,
        )
        when.astimezone(dt.timezone.utc)  # its UTC instant must exist too (years 1-9999)
    except (ValueError, OverflowError):  # month 13, February 30, hour 24, second 60
        return None
    return when


def _refuse(op: Op, message: str) -> NoReturn:
    raise FilterValueError(f"{op.value} {message}")


def _check_scalar(op: Op, value: object) -> Scalar:
    """Validate one comparison value and normalise it to a plain :data:`Scalar`."""
    if isinstance(value, dt.date):
        return _to_datetime(value)
    if value is None:
        _refuse(
            op,
            "cannot compare with None: a null metadata value counts as missing, "
            "so test it with exists (e.g. ~F('field').exists())",
        )
    if isinstance(value, bool):
        if op.is_range:
            _refuse(op, f"needs a number or a date, not a bool ({value!r})")
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            _refuse(op, "cannot compare with NaN")
        if math.isinf(number):
            _refuse(
                op,
                f"cannot compare with {number}: not every backend can store infinity, "
                "use a finite bound or drop the condition",
            )
        return number
    if isinstance(value, str):
        if op.is_range:
            parsed = parse_iso_datetime(value)
            if parsed is None:
                _refuse(
                    op,
                    f"needs a number or an ISO-8601 date, got the string {value!r}: "
                    "range comparisons on strings are not portable across backends",
                )
            return parsed
        return _text(op, value)
    _refuse(
        op,
        f"needs a str, int, float, bool or date value, got {type(value).__name__} ({value!r})",
    )


def _text(op: Op, value: str) -> str:
    if not is_text(value):
        raise InvalidTextError(
            f"{op.value} cannot compare with {value!r:.80}: it holds a surrogate code point, "
            "which is not valid Unicode, so no backend can store or match it: decode the "
            "text properly (e.g. bytes.decode('utf-8'), never errors='surrogateescape')"
        )
    return str.__str__(value)


def _type_key(value: Any) -> Any:
    """A hashable key that tells ``1``, ``1.0`` and ``True`` apart (for node equality)."""
    if isinstance(value, tuple):
        return tuple(_type_key(v) for v in value)
    return (type(value).__name__, value)


def _no_truth_value(self: object) -> NoReturn:
    raise FilterSyntaxError(
        "a filter has no truth value: test `f is not None` instead of `if f:`, and write "
        "a range as (F('x') > 1) & (F('x') < 5), never 1 < F('x') < 5 "
        "(Python would silently drop one of the two conditions)"
    )


@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """One condition on one metadata field: ``Comparison("page", Op.GTE, 3)``.

    ``value`` is a :data:`Scalar`; for ``in``/``nin``/``contains_any``/``contains_all``
    a tuple of them; for ``exists``/``is_null`` a bool; for ``text_match`` a non-empty
    str. ``op`` may be given as a string (``"gte"`` or ``"$gte"``).
    """

    field: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        validate_field(self.field)
        if not isinstance(self.op, Op):
            name = self.op.lstrip("$") if isinstance(self.op, str) else self.op
            try:
                object.__setattr__(self, "op", Op(name))
            except ValueError:
                known = ", ".join(o.value for o in Op)
                raise FilterSyntaxError(
                    f"unknown filter operator {self.op!r}; known operators: {known}"
                ) from None
        try:
            object.__setattr__(self, "value", self._checked_value())
        except InvalidTextError as exc:
            raise InvalidTextError(f"filter on {self.field!r}: {exc}") from None
        except FilterValueError as exc:
            raise FilterValueError(f"filter on {self.field!r}: {exc}") from None

    def _checked_value(self) -> Any:
        op, value = self.op, self.value
        if op.takes_flag:
            if not isinstance(value, bool):
                raise FilterValueError(f"{op.value} takes True or False, got {value!r}")
            return value
        if op is Op.TEXT_MATCH:
            if not isinstance(value, str) or not value:
                raise FilterValueError(
                    f"text_match needs a non-empty string to look for, got {value!r}"
                )
            return _text(op, value)
        if op.takes_list:
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise FilterValueError(
                    f"{op.value} needs a list of values, got {value!r}: "
                    f"write {{'${op.value}': [{value!r}]}}"
                )
            return tuple(_check_scalar(op, v) for v in value)
        return _check_scalar(op, value)

    def _key(self) -> tuple[Any, ...]:
        return (self.field, self.op, _type_key(self.value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Comparison):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    __bool__ = _no_truth_value

    def __and__(self, other: Filter) -> And:
        return And(_joined(And, self, other))

    def __or__(self, other: Filter) -> Or:
        return Or(_joined(Or, self, other))

    def __invert__(self) -> Not:
        return Not(self)


def _joined(kind: type[And | Or], left: Filter, right: Filter) -> tuple[Filter, ...]:
    """The children of ``left & right`` (or ``|``): a side of the same kind is unpacked,
    so ``a & b & c`` is one ``And`` of three."""
    kids: list[Filter] = []
    for side in (left, right):
        if type(side) is kind:
            assert isinstance(side, (And, Or))
            kids.extend(side.children)
        else:
            kids.append(side)
    return tuple(kids)


class _Combinable:
    """``&``, ``|`` and ``~`` for the boolean nodes."""

    __slots__ = ()

    def _as_filter(self) -> Filter:
        assert isinstance(self, (And, Or, Not))
        return self

    def __and__(self, other: Filter) -> And:
        return And(_joined(And, self._as_filter(), other))

    def __or__(self, other: Filter) -> Or:
        return Or(_joined(Or, self._as_filter(), other))

    def __invert__(self) -> Not:
        return Not(self._as_filter())

    __bool__ = _no_truth_value


def _check_children(children: Iterable[Any], name: str) -> tuple[Filter, ...]:
    if isinstance(children, (Comparison, And, Or, Not)):
        raise FilterSyntaxError(
            f"{name} takes a list of filters, got a single filter: write {name}([f])"
        )
    kids = tuple(children)
    for kid in kids:
        if not isinstance(kid, (Comparison, And, Or, Not)):
            hint = (
                " (parse a dict with polyvec.filters.parse_filter)"
                if isinstance(kid, Mapping)
                else ""
            )
            raise FilterSyntaxError(
                f"{name} takes filters, got {type(kid).__name__} ({kid!r}){hint}"
            )
    return kids


def _depth_of(kind: type, children: tuple[Filter, ...]) -> int:
    """The merged depth of a node of ``kind`` over ``children`` (an ``And`` child of an
    ``And``, or ``Or`` of an ``Or``, merges into it and adds no level); refused above
    ``MAX_DEPTH``, before the tree can reach an engine."""
    merges = kind is not Not
    found = 1 + max(
        (
            0 if isinstance(c, Comparison) else c.depth - (merges and type(c) is kind)
            for c in children
        ),
        default=0,
    )
    if found > MAX_DEPTH:
        raise too_deep(found)
    return found


@dataclass(frozen=True, slots=True, init=False)
class And(_Combinable):
    """All children hold. An empty ``And`` is true (matches everything).

    ``And([f, g])`` takes any iterable of filters; ``children`` is a tuple. ``depth``
    is its nesting, counted with nested ``And`` children merged
    (:data:`polyvec.filters.limits.MAX_DEPTH`).
    """

    children: tuple[Filter, ...]
    depth: int = field(default=1, repr=False, compare=False)

    def __init__(self, children: Iterable[Filter] = ()) -> None:
        kids = _check_children(children, "And")
        object.__setattr__(self, "children", kids)
        object.__setattr__(self, "depth", _depth_of(And, kids))


@dataclass(frozen=True, slots=True, init=False)
class Or(_Combinable):
    """At least one child holds. An empty ``Or`` is false (matches nothing).

    ``Or([f, g])`` takes any iterable of filters; ``children`` is a tuple; ``depth``
    as for :class:`And`.
    """

    children: tuple[Filter, ...]
    depth: int = field(default=1, repr=False, compare=False)

    def __init__(self, children: Iterable[Filter] = ()) -> None:
        kids = _check_children(children, "Or")
        object.__setattr__(self, "children", kids)
        object.__setattr__(self, "depth", _depth_of(Or, kids))


@dataclass(frozen=True, slots=True)
class Not(_Combinable):
    """The child does not hold."""

    child: Filter
    depth: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.child, (Comparison, And, Or, Not)):
            raise FilterSyntaxError(
                f"Not takes one filter, got {type(self.child).__name__} ({self.child!r})"
            )
        object.__setattr__(self, "depth", _depth_of(Not, (self.child,)))


Filter = Union[Comparison, And, Or, Not]
"""Any node of the filter AST."""


def flattened(node: Filter) -> Filter:
    """``node`` with every ``And`` child of an ``And`` (``Or`` of an ``Or``) merged into
    its parent, in order (``node`` itself when there is nothing to merge). Iterative,
    so any raw nesting works; what it returns nests at most ``MAX_DEPTH`` levels, which
    the evaluator and the translations recurse over.

    >>> chain = F("a") == 1
    >>> for _ in range(5000):
    ...     chain = And([chain, F("b") == 2])
    >>> (len(flattened(chain).children), chain.depth)
    (5001, 1)
    """
    done: dict[int, Filter] = {}
    stack: list[tuple[Filter, bool]] = [(node, False)]
    while stack:
        item, expanded = stack.pop()
        if id(item) in done:
            continue
        if isinstance(item, Comparison):
            done[id(item)] = item
        elif not expanded:
            stack.append((item, True))
            kids = (item.child,) if isinstance(item, Not) else item.children
            stack.extend((kid, False) for kid in kids)
        elif isinstance(item, Not):
            child = done[id(item.child)]
            done[id(item)] = item if child is item.child else Not(child)
        else:
            done[id(item)] = _merged(item, done)
    return done[id(node)]


def _merged(item: And | Or, done: dict[int, Filter]) -> Filter:
    kind = type(item)
    kids: list[Filter] = []
    changed = False
    for child in item.children:
        new = done[id(child)]
        if type(new) is kind:
            assert isinstance(new, (And, Or))
            kids.extend(new.children)
            changed = True
        else:
            kids.append(new)
            changed = changed or new is not child
    return kind(kids) if changed else item


class F:
    """Builder for comparisons on one field.

    >>> F("page") >= 3
    Comparison(field='page', op=<Op.GTE: 'gte'>, value=3)
    >>> F("lang").is_in(["en", "de"])
    Comparison(field='lang', op=<Op.IN: 'in'>, value=('en', 'de'))

    ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` build ``eq``, ``ne``, ``gt``, ``gte``,
    ``lt``, ``lte``; the methods build the rest.
    """

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
        """The field (or, for a list field, one of its elements) is one of ``values``."""
        return Comparison(self.field, Op.IN, values)

    def not_in(self, values: Iterable[Any]) -> Comparison:
        """Exactly ``~F(field).is_in(values)``: true on a missing field."""
        return Comparison(self.field, Op.NIN, values)

    def exists(self, flag: bool = True) -> Comparison:
        """The key is present and not null (``exists(False)``: missing or null)."""
        return Comparison(self.field, Op.EXISTS, flag)

    def contains(self, value: Any) -> Comparison:
        """The field is a list and ``value`` is one of its elements."""
        return Comparison(self.field, Op.CONTAINS, value)

    def is_null(self, flag: bool = True) -> Comparison:
        """The key is missing or null (``is_null(False)``: present and not null).

        Null and missing are the same thing in polyvec, so ``is_null(flag)`` is exactly
        ``exists(not flag)``.
        """
        return Comparison(self.field, Op.IS_NULL, flag)

    def contains_any(self, values: Iterable[Any]) -> Comparison:
        """The field is a list holding at least one of ``values``: exactly
        ``Or([F(field).contains(v) for v in values])`` (false for no values)."""
        return Comparison(self.field, Op.CONTAINS_ANY, values)

    def contains_all(self, values: Iterable[Any]) -> Comparison:
        """The field is a list holding every one of ``values``: exactly
        ``And([F(field).contains(v) for v in values])`` (true for no values)."""
        return Comparison(self.field, Op.CONTAINS_ALL, values)

    def text_match(self, text: str) -> Comparison:
        """The field is a string with ``text`` in it (case-sensitive substring; for a
        list field, some string element has it).

        >>> F("title").text_match("Linux")
        Comparison(field='title', op=<Op.TEXT_MATCH: 'text_match'>, value='Linux')
        """
        return Comparison(self.field, Op.TEXT_MATCH, text)

    def between(self, low: Any, high: Any) -> And:
        """``low <= field <= high``: exactly ``(F(field) >= low) & (F(field) <= high)``.

        On a list field each bound may be met by a different element (as with ``&``).

        >>> F("page").between(3, 9) == (F("page") >= 3) & (F("page") <= 9)
        True
        """
        return And((Comparison(self.field, Op.GTE, low), Comparison(self.field, Op.LTE, high)))

"""The filter AST and the ``F`` builder: construction, validation, normalisation, equality."""

from __future__ import annotations

import datetime as dt
import enum

import numpy as np
import pytest

from polyvec.errors import FilterError, FilterSyntaxError, FilterValueError
from polyvec.filters import And, Comparison, F, Not, Op, Or

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("built", "op", "value"),
    [
        (F("a") == 1, Op.EQ, 1),
        (F("a") != "x", Op.NE, "x"),
        (F("a") > 1, Op.GT, 1),
        (F("a") >= 1.5, Op.GTE, 1.5),
        (F("a") < 1, Op.LT, 1),
        (F("a") <= 1, Op.LTE, 1),
        (F("a").is_in([1, "x"]), Op.IN, (1, "x")),
        (F("a").not_in([True]), Op.NIN, (True,)),
        (F("a").exists(), Op.EXISTS, True),
        (F("a").exists(False), Op.EXISTS, False),
        (F("a").contains("x"), Op.CONTAINS, "x"),
        (F("a").is_null(), Op.IS_NULL, True),
        (F("a").is_null(False), Op.IS_NULL, False),
        (F("a").contains_any(["x", 1]), Op.CONTAINS_ANY, ("x", 1)),
        (F("a").contains_all(iter(["x"])), Op.CONTAINS_ALL, ("x",)),
        (F("a").text_match("é x"), Op.TEXT_MATCH, "é x"),
    ],
)
def test_builder_operators(built: Comparison, op: Op, value: object) -> None:
    assert built == Comparison("a", op, value)
    assert built.field == "a" and built.op is op


def test_combinators_build_and_or_not() -> None:
    a, b, c = F("a") == 1, F("b") == 2, F("c") == 3
    assert (a & b) == And((a, b))
    assert (a | b) == Or((a, b))
    assert ~a == Not(a)
    assert ((a & b) & c) == And((a, b, c))  # & and | make one flat node...
    assert (a & (b & c)) == And((a, b, c))
    assert ((a | b) | (c | a)) == Or((a, b, c, a))
    assert ((a & b) | c) == Or((And((a, b)), c))  # ...of their own kind only
    assert (And((And((a, b)), c)) & a) == And((And((a, b)), c, a))  # explicit shapes stay
    assert (a & And(())) == And((a,))
    assert ((a | b) & ~c) == And((Or((a, b)), Not(c)))
    assert ~(a & b) == Not(And((a, b)))
    assert (~a | (b & c)) == Or((Not(a), And((b, c))))


def test_and_or_accept_any_iterable_of_filters() -> None:
    a = F("a") == 1
    assert And([a]) == And((a,)) == And(x for x in [a])
    assert Or([]).children == () and And().children == ()


def test_op_given_as_string() -> None:
    assert Comparison("a", "gte", 1) == (F("a") >= 1)  # type: ignore[arg-type]
    assert Comparison("a", "$gte", 1) == (F("a") >= 1)  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError, match=r"'regex'.*known operators: eq, ne"):
        Comparison("a", "regex", "x")  # type: ignore[arg-type]


def test_is_in_does_not_split_a_string_into_characters() -> None:
    with pytest.raises(FilterValueError, match="needs a list"):
        F("tag").is_in("abc")
    with pytest.raises(FilterValueError, match="needs a list"):
        F("tag").not_in("abc")
    with pytest.raises(FilterValueError, match="needs a list"):
        F("tag").is_in(3)  # type: ignore[arg-type]
    with pytest.raises(FilterValueError, match="needs a list"):
        F("tag").is_in({"a": 1})


def test_is_in_accepts_any_iterable() -> None:
    assert F("a").is_in(x for x in (1, 2)).value == (1, 2)
    assert F("a").is_in(range(2)).value == (0, 1)
    assert F("a").is_in([]).value == ()


@pytest.mark.parametrize("field", ["", "a..b", ".a", "a.", "$a", 3])
def test_bad_field_names(field: object) -> None:
    with pytest.raises(FilterSyntaxError):
        F(field)  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError):
        Comparison(field, Op.EQ, 1)  # type: ignore[arg-type]


def test_nested_field_names() -> None:
    assert (F("meta.author") == "ann").field == "meta.author"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: F("a") == None, "exists"),  # noqa: E711
        (lambda: F("a") == float("nan"), "NaN"),
        (lambda: F("a") < float("inf"), "infinity|inf"),
        (lambda: F("a") == [1, 2], "needs a str, int"),
        (lambda: F("a") == {"b": 1}, "needs a str, int"),
        (lambda: F("a") == b"x", "needs a str, int"),
        (lambda: F("a") > True, "not a bool"),
        (lambda: F("a") > "b", "ISO-8601"),
        (lambda: F("a").is_in([1, None]), "None"),
        (lambda: F("a").exists("yes"), "True or False"),  # type: ignore[arg-type]
        (lambda: Comparison("a", Op.EXISTS), "True or False"),
        (lambda: F("a").is_null(1), "True or False"),  # type: ignore[arg-type]
        (lambda: F("a").contains_any("xy"), "list of values"),
        (lambda: F("a").contains_all([None]), "None"),
        (lambda: F("a").text_match(""), "non-empty string"),
        (lambda: F("a").text_match(3), "non-empty string"),  # type: ignore[arg-type]
        (lambda: F("a").between(1, "z"), "ISO-8601"),
    ],
)
def test_value_errors_name_the_field_and_the_fix(make: object, message: str) -> None:
    with pytest.raises(FilterValueError, match=message) as info:
        make()  # type: ignore[operator]
    assert "'a'" in str(info.value)


def test_error_hierarchy() -> None:
    assert issubclass(FilterSyntaxError, FilterError)
    assert issubclass(FilterValueError, FilterError)
    assert issubclass(FilterError, ValueError)


def test_values_are_normalised() -> None:
    class Color(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    assert type((F("a") == Color.RED).value) is str
    assert (F("a") == Color.RED) == (F("a") == "red")
    assert type((F("a") == Level.HIGH).value) is int
    assert (F("a") == np.int64(3)) == (F("a") == 3)
    assert type((F("a") == np.float64(2.5)).value) is float
    assert (F("a") == dt.date(2024, 1, 2)).value == dt.datetime(2024, 1, 2, tzinfo=UTC)
    naive = F("a") > dt.datetime(2024, 1, 2, 3)
    assert naive.value == dt.datetime(2024, 1, 2, 3, tzinfo=UTC)
    assert naive.value.tzinfo is not None


def test_range_operators_read_iso_strings_as_dates_but_eq_keeps_strings() -> None:
    assert (F("d") >= "2024-01-02").value == dt.datetime(2024, 1, 2, tzinfo=UTC)
    assert (F("d") < "2024-01-02T10:00:00Z").value == dt.datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert (F("d") == "2024-01-02").value == "2024-01-02"
    assert F("d").is_in(["2024-01-02"]).value == ("2024-01-02",)


def test_equality_is_type_strict() -> None:
    assert (F("a") == 1) != (F("a") == True)  # noqa: E712
    assert (F("a") == 1) != (F("a") == 1.0)
    assert (F("a") == 0) != (F("a") == False)  # noqa: E712
    assert F("a").is_in([1]) != F("a").is_in([True])
    assert And((F("a") == 1,)) != And((F("a") == True,))  # noqa: E712
    assert len({F("a") == 1, F("a") == True, F("a") == 1.0, F("a") == 1}) == 3  # noqa: E712


def test_datetimes_equal_by_instant() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert (F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC)) == (
        F("d") == dt.datetime(2024, 1, 1, 14, tzinfo=plus2)
    )


def test_filters_are_hashable_and_immutable() -> None:
    f = (F("a") == 1) & F("b").is_in([1, 2])
    assert hash(f) == hash((F("a") == 1) & F("b").is_in([2, 1][::-1]))
    with pytest.raises(AttributeError):
        f.children = ()  # type: ignore[misc]


def test_filters_have_no_truth_value() -> None:
    with pytest.raises(FilterSyntaxError, match="is not None"):
        bool(F("a") == 1)
    with pytest.raises(FilterSyntaxError):
        bool(And(()))
    with pytest.raises(FilterSyntaxError, match=r"\(F\('x'\) > 1\) & \(F\('x'\) < 5\)"):
        1 < F("page") < 5  # noqa: B015


def test_f_is_not_hashable_and_has_a_repr() -> None:
    with pytest.raises(TypeError):
        hash(F("a"))
    assert repr(F("a.b")) == "F('a.b')"


def test_boolean_nodes_refuse_non_filters() -> None:
    with pytest.raises(FilterSyntaxError, match="parse_filter"):
        And([{"a": 1}])  # type: ignore[list-item]
    with pytest.raises(FilterSyntaxError, match=r"And\(\[f\]\)"):
        And(F("a") == 1)  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError):
        Or([None])  # type: ignore[list-item]
    with pytest.raises(FilterSyntaxError):
        Not("a == 1")  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError):
        (F("a") == 1) & "b"  # type: ignore[operator]

"""docs/filters.md stays true: its code blocks run and its semantics table holds."""

from __future__ import annotations

import datetime as dt
import doctest
import re
from pathlib import Path
from typing import Any

import pytest

import polyvec.filters
import polyvec.filters.ast
import polyvec.filters.evaluate
import polyvec.filters.parse
from polyvec.errors import FilterValueError
from polyvec.filters import And, F, Not, Or, matches, parse_filter

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"
TEXT = DOC.read_text(encoding="utf-8")


def test_code_blocks_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = list(re.finditer(r"^```python\n(.*?)^```", TEXT, flags=re.S | re.M))
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {"__name__": "docs_filters"}
    for block in blocks:
        # pad with newlines so that tracebacks point at the right line of the .md file
        padding = "\n" * TEXT.count("\n", 0, block.start(1))
        exec(compile(padding + block.group(1), str(DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "no truth value" in printed and "ISO-8601" in printed


def _table_rows() -> list[tuple[str, ...]]:
    table = TEXT.split("<!-- semantics-table:begin -->")[1].split("<!-- semantics-table:end -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 6, line
        rows.append(tuple(cells))
    return rows


ROWS = _table_rows()
NAMESPACE = {"F": F, "And": And, "Or": Or, "Not": Not, "dt": dt, "UTC": dt.timezone.utc}


def _code(cell: str) -> str:
    match = re.fullmatch(r"`(.*)`", cell)
    assert match, cell
    return match.group(1)


def test_table_is_numbered() -> None:
    assert [row[0] for row in ROWS] == [str(i) for i in range(1, len(ROWS) + 1)]
    assert len(ROWS) >= 40


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_semantics_table_row(row: tuple[str, ...]) -> None:
    _, _, built_code, dict_code, metadata_code, result = row
    metadata = eval(_code(metadata_code), NAMESPACE)
    expected = _code(result)
    if expected == "FilterValueError":
        with pytest.raises(FilterValueError):
            eval(_code(built_code), NAMESPACE)
        with pytest.raises(FilterValueError):
            parse_filter(eval(_code(dict_code), NAMESPACE))
        return
    built = eval(_code(built_code), NAMESPACE)
    as_dict = parse_filter(eval(_code(dict_code), NAMESPACE))
    assert as_dict == built, "the dict column must mean the same filter as the builder column"
    assert matches(built, metadata) is (expected == "True")


@pytest.mark.parametrize(
    "module",
    [polyvec.filters, polyvec.filters.ast, polyvec.filters.parse, polyvec.filters.evaluate],
)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

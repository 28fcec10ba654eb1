"""docs/filters.md stays true: its code blocks run and its semantics table holds."""

from __future__ import annotations

import doctest
import re
from pathlib import Path
from typing import Any

import pytest

import polyvec.filters
import polyvec.filters.ast
import polyvec.filters.evaluate
import polyvec.filters.parse
import polyvec.filters.rewrite
import polyvec.filters.tables
from polyvec.errors import FilterValueError
from polyvec.filters import Not, matches, parse_filter, to_dict
from polyvec.filters.ast import Comparison, Op
from polyvec.filters.tables import SEMANTICS, Case, capabilities_table, generated_files
from polyvec.filters.tables import main as tables_main

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


ROOT = Path(__file__).resolve().parents[2]


def test_table_is_included_and_covers_every_operator() -> None:
    assert '--8<-- "docs/_generated/filter-semantics.md"' in TEXT
    assert '--8<-- "docs/_generated/filter-capabilities.md"' in TEXT
    assert len(SEMANTICS) >= 60
    used = {c.op for case in SEMANTICS if case.expected is not None for c in _leaves(case.filter())}
    assert used == set(Op)


def _leaves(node: Any) -> list[Comparison]:
    if isinstance(node, Comparison):
        return [node]
    kids = (node.child,) if isinstance(node, Not) else node.children
    return [leaf for kid in kids for leaf in _leaves(kid)]


@pytest.mark.parametrize("case", SEMANTICS, ids=[str(i) for i in range(1, len(SEMANTICS) + 1)])
def test_semantics_table_row(case: Case) -> None:
    if case.expected is None:
        assert case.result == "FilterValueError"
        with pytest.raises(FilterValueError):
            case.filter()
        with pytest.raises(FilterValueError):
            case.dict_filter()
        return
    built = case.filter()
    assert case.dict_filter() == built, "the dict column must mean the same filter as the builder"
    assert parse_filter(to_dict(built)) == built
    assert matches(built, case.metadata()) is case.expected


def test_generated_tables_are_current() -> None:
    for path, text in generated_files(ROOT).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run `python -m polyvec.filters.tables`"
        )
    assert tables_main(["--root", str(ROOT), "--check"]) == 0


def test_capability_table_matches_the_declarations() -> None:
    table = capabilities_table()
    assert "| `text_match` | native | native | native | **refused** |" in table
    assert "| `contains_any` | rewritten |" in table


@pytest.mark.parametrize(
    "module",
    [
        polyvec.filters,
        polyvec.filters.ast,
        polyvec.filters.parse,
        polyvec.filters.evaluate,
        polyvec.filters.rewrite,
        polyvec.filters.tables,
    ],
)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

"""The filter docs tables, generated from the code: semantics and capabilities.

``SEMANTICS`` is the semantics table of docs/filters.md as data: each case is a filter
(Python, and the same filter as a dict), a metadata dict and what the reference
evaluator answers. The unit tests check every case against :func:`polyvec.filters.matches`
and the differential suite runs every case on every backend. The capability table is
read from each backend's declared ``Capabilities`` (no engine needed), and so is the
feature table (:mod:`polyvec.backends.features`). Regenerate the files after changing
any of them::

    python -m polyvec.filters.tables            # writes docs/_generated/*.md
    python -m polyvec.filters.tables --check    # exit 1 if they are stale

    >>> from polyvec.filters import matches
    >>> case = SEMANTICS[0]
    >>> matches(case.filter(), case.metadata()) is case.expected
    True
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
from pathlib import Path
from typing import Any, NamedTuple

from polyvec.backends.features import features_table
from polyvec.filters.ast import And, F, Filter, Not, Op, Or
from polyvec.filters.parse import parse_filter

__all__ = [
    "BACKENDS",
    "SEMANTICS",
    "Case",
    "capabilities_table",
    "generated_files",
    "main",
    "semantics_table",
]

NAMESPACE: dict[str, Any] = {
    "F": F, "And": And, "Or": Or, "Not": Not, "dt": dt, "UTC": dt.timezone.utc,
}  # fmt: skip
"""What the code in a case can use."""


class Case(NamedTuple):
    """One row of the semantics table; ``result`` is ``"True"``, ``"False"`` or the
    name of the error building the filter raises."""

    case: str
    built: str
    as_dict: str
    meta: str
    result: str

    def filter(self) -> Filter:
        """The filter of the builder column."""
        return eval(self.built, dict(NAMESPACE))  # type: ignore[no-any-return]

    def dict_filter(self) -> Filter | None:
        """The filter of the dict column, parsed."""
        return parse_filter(eval(self.as_dict, dict(NAMESPACE)))

    def metadata(self) -> dict[str, Any]:
        return eval(self.meta, dict(NAMESPACE))  # type: ignore[no-any-return]

    @property
    def expected(self) -> bool | None:
        """``True``/``False``; ``None`` for a case where building the filter raises."""
        return {"True": True, "False": False}.get(self.result)


# fmt: off
SEMANTICS: tuple[Case, ...] = (
    Case('`eq` on a missing field', 'F("a") == 1', '{"a": 1}', '{}', 'False'),
    Case('range on a missing field', 'F("a") > 0', '{"a": {"$gt": 0}}', '{}', 'False'),
    Case('`in` on a missing field', 'F("a").is_in([1, 2])', '{"a": {"$in": [1, 2]}}', '{}', 'False'),
    Case('`contains` on a missing field', 'F("tags").contains("x")', '{"tags": {"$contains": "x"}}', '{}', 'False'),
    Case('`ne` on a missing field is true (it is `not eq`)', 'F("a") != 1', '{"a": {"$ne": 1}}', '{}', 'True'),
    Case('`nin` on a missing field is true (it is `not in`)', 'F("a").not_in([1, 2])', '{"a": {"$nin": [1, 2]}}', '{}', 'True'),
    Case('null is missing', 'F("a") == 1', '{"a": 1}', '{"a": None}', 'False'),
    Case('null is missing, for `ne` too', 'F("a") != 1', '{"a": {"$ne": 1}}', '{"a": None}', 'True'),
    Case('`exists`: present and not null', 'F("a").exists()', '{"a": {"$exists": True}}', '{"a": 0}', 'True'),
    Case('`exists` on null', 'F("a").exists()', '{"a": {"$exists": True}}', '{"a": None}', 'False'),
    Case('`exists(False)` is its negation', 'F("a").exists(False)', '{"a": {"$exists": False}}', '{"a": None}', 'True'),
    Case('an empty list is missing', 'F("tags").exists()', '{"tags": {"$exists": True}}', '{"tags": []}', 'False'),
    Case('`eq` on a list: any element', 'F("tags") == "x"', '{"tags": "x"}', '{"tags": ["x", "y"]}', 'True'),
    Case('`in` on a list: any element in the values', 'F("tags").is_in(["y", "z"])', '{"tags": {"$in": ["y", "z"]}}', '{"tags": ["x", "y"]}', 'True'),
    Case('range on a list: any element', 'F("nums") > 5', '{"nums": {"$gt": 5}}', '{"nums": [1, 9]}', 'True'),
    Case('`ne` on a list: no element equals', 'F("tags") != "x"', '{"tags": {"$ne": "x"}}', '{"tags": ["x", "y"]}', 'False'),
    Case('`nin` on a list: no element in the values', 'F("tags").not_in(["y"])', '{"tags": {"$nin": ["y"]}}', '{"tags": ["x", "y"]}', 'False'),
    Case('`contains` on a list', 'F("tags").contains("x")', '{"tags": {"$contains": "x"}}', '{"tags": ["x", "y"]}', 'True'),
    Case('`contains` on a scalar is false (no substring test)', 'F("title").contains("x")', '{"title": {"$contains": "x"}}', '{"title": "x"}', 'False'),
    Case('a number never equals a string', 'F("a") == 3', '{"a": 3}', '{"a": "3"}', 'False'),
    Case('a string never equals a number', 'F("a") == "3"', '{"a": "3"}', '{"a": 3}', 'False'),
    Case('bool is not a number', 'F("a") == 1', '{"a": 1}', '{"a": True}', 'False'),
    Case('a number is not a bool', 'F("a") == True', '{"a": True}', '{"a": 1}', 'False'),
    Case('int and float compare numerically', 'F("a") == 3', '{"a": 3}', '{"a": 3.0}', 'True'),
    Case('range on a numeric string: no match', 'F("a") > 2', '{"a": {"$gt": 2}}', '{"a": "3"}', 'False'),
    Case('range on a bool: no match', 'F("a") >= 0', '{"a": {"$gte": 0}}', '{"a": True}', 'False'),
    Case('`ne` across types is true', 'F("a") != 3', '{"a": {"$ne": 3}}', '{"a": "3"}', 'True'),
    Case('a date compares with ISO strings', 'F("d") >= dt.date(2024, 1, 1)', '{"d": {"$gte": "2024-01-01"}}', '{"d": "2024-03-05T10:00:00Z"}', 'True'),
    Case('... and with date / datetime values (naive = UTC)', 'F("d") < "2024-01-01"', '{"d": {"$lt": "2024-01-01"}}', '{"d": dt.datetime(2023, 12, 31, 23, 59)}', 'True'),
    Case('a date `eq` matches the same instant in any ISO form', 'F("d") == dt.datetime(2024, 1, 1, 12, tzinfo=UTC)', '{"d": {"$date": "2024-01-01T12:00:00Z"}}', '{"d": "2024-01-01T13:00:00+01:00"}', 'True'),
    Case('a date never matches a non-date string', 'F("d") > dt.date(2024, 1, 1)', '{"d": {"$gt": "2024-01-01"}}', '{"d": "soon"}', 'False'),
    Case('a date never matches a number', 'F("d") > dt.date(2024, 1, 1)', '{"d": {"$gt": "2024-01-01"}}', '{"d": 1750000000}', 'False'),
    Case('a number never matches an ISO string', 'F("d") > 0', '{"d": {"$gt": 0}}', '{"d": "2024-01-01"}', 'False'),
    Case('a string filter value compares exactly, even if it looks like a date', 'F("d") == "2024-01-01"', '{"d": "2024-01-01"}', '{"d": "2024-01-01T00:00:00Z"}', 'False'),
    Case('strings are case-sensitive', 'F("a") == "News"', '{"a": "News"}', '{"a": "news"}', 'False'),
    Case('range on a non-date string is refused', 'F("a") > "b"', '{"a": {"$gt": "b"}}', '{"a": "c"}', 'FilterValueError'),
    Case('nested keys descend into dicts', 'F("meta.author") == "ann"', '{"meta.author": "ann"}', '{"meta": {"author": "ann"}}', 'True'),
    Case('a non-dict on the way is missing', 'F("meta.author").exists()', '{"meta.author": {"$exists": True}}', '{"meta": "ann"}', 'False'),
    Case('... so `ne` through it is true', 'F("meta.author") != "x"', '{"meta.author": {"$ne": "x"}}', '{"meta": ["ann"]}', 'True'),
    Case('a dotted key is a path, never a literal key', 'F("a.b") == 1', '{"a.b": 1}', '{"a.b": 1}', 'False'),
    Case('empty `And` is true', 'And([])', '{}', '{}', 'True'),
    Case('empty `Or` is false', 'Or([])', '{"$or": []}', '{"a": 1}', 'False'),
    Case('`Not` negates', '~(F("a") == 1)', '{"$not": {"a": 1}}', '{}', 'True'),
    Case('`in` with no values is false', 'F("a").is_in([])', '{"a": {"$in": []}}', '{"a": 1}', 'False'),
    Case('`nin` with no values is true', 'F("a").not_in([])', '{"a": {"$nin": []}}', '{}', 'True'),
    Case('`is_null` on a missing field', 'F("a").is_null()', '{"a": {"$is_null": True}}', '{}', 'True'),
    Case('`is_null` on null', 'F("a").is_null()', '{"a": {"$is_null": True}}', '{"a": None}', 'True'),
    Case('`is_null(False)` is `exists()`', 'F("a").is_null(False)', '{"a": {"$is_null": False}}', '{"a": 0}', 'True'),
    Case('`contains_any`: one of the values is an element', 'F("tags").contains_any(["y", "z"])', '{"tags": {"$contains_any": ["y", "z"]}}', '{"tags": ["x", "y"]}', 'True'),
    Case('`contains_any` on a scalar is false', 'F("tags").contains_any(["x"])', '{"tags": {"$contains_any": ["x"]}}', '{"tags": "x"}', 'False'),
    Case('`contains_any` with no values is false', 'F("tags").contains_any([])', '{"tags": {"$contains_any": []}}', '{"tags": ["x"]}', 'False'),
    Case('`contains_all`: every value is an element', 'F("tags").contains_all(["x", "y"])', '{"tags": {"$contains_all": ["x", "y"]}}', '{"tags": ["y", "z", "x"]}', 'True'),
    Case('`contains_all`: one value missing', 'F("tags").contains_all(["x", "w"])', '{"tags": {"$contains_all": ["x", "w"]}}', '{"tags": ["x", "y"]}', 'False'),
    Case('`contains_all` with no values is true (an empty `And`)', 'F("tags").contains_all([])', '{"tags": {"$contains_all": []}}', '{}', 'True'),
    Case('`contains` compares numbers numerically', 'F("nums").contains(3)', '{"nums": {"$contains": 3}}', '{"nums": [1, 3.0]}', 'True'),
    Case('`text_match`: a substring', 'F("title").text_match("inux")', '{"title": {"$text_match": "inux"}}', '{"title": "Linux"}', 'True'),
    Case('`text_match` is case-sensitive', 'F("title").text_match("linux")', '{"title": {"$text_match": "linux"}}', '{"title": "Linux"}', 'False'),
    Case('`text_match` on a list: any string element', 'F("tags").text_match("ab")', '{"tags": {"$text_match": "ab"}}', '{"tags": ["x", "cab"]}', 'True'),
    Case('`text_match` never matches a number', 'F("a").text_match("3")', '{"a": {"$text_match": "3"}}', '{"a": 3}', 'False'),
    Case('`text_match` reads a date as its ISO string', 'F("d").text_match("2024-01")', '{"d": {"$text_match": "2024-01"}}', '{"d": dt.date(2024, 1, 5)}', 'True'),
    Case('`text_match` on a missing field', 'F("a").text_match("x")', '{"a": {"$text_match": "x"}}', '{}', 'False'),
    Case('... so its negation is true there', '~F("a").text_match("x")', '{"$not": {"a": {"$text_match": "x"}}}', '{}', 'True'),
    Case('`text_match` needs some text', 'F("a").text_match("")', '{"a": {"$text_match": ""}}', '{"a": "x"}', 'FilterValueError'),
    Case('`between` is inclusive', 'F("a").between(1, 3)', '{"a": {"$between": [1, 3]}}', '{"a": 3}', 'True'),
    Case('`between` on a list: each bound by any element', 'F("nums").between(3, 5)', '{"nums": {"$between": [3, 5]}}', '{"nums": [1, 9]}', 'True'),
    Case('`between` on dates', 'F("d").between("2024-01-01", "2024-01-31")', '{"d": {"$between": ["2024-01-01", "2024-01-31"]}}', '{"d": "2024-01-31"}', 'True'),
    Case('`in` never equates a number and a numeric string', 'F("a").is_in(["3", 4])', '{"a": {"$in": ["3", 4]}}', '{"a": 3}', 'False'),
    Case('`ne` on a bool', 'F("flag") != False', '{"flag": {"$ne": False}}', '{"flag": True}', 'True'),
    Case('no Unicode normalisation (é vs e + U+0301)', 'F("a") == "caf\\u00e9"', '{"a": "caf\\u00e9"}', '{"a": "cafe\\u0301"}', 'False'),
    Case('Unicode keys and values', 'F("méta.ключ") == "日本"', '{"méta.ключ": "日本"}', '{"méta": {"ключ": "日本"}}', 'True'),
)
# fmt: on

BACKENDS: tuple[tuple[str, str], ...] = (
    ("qdrant", "polyvec.backends.qdrant.backend:QdrantBackend"),
    ("qdrant-edge", "polyvec.backends.qdrant.edge:QdrantEdgeBackend"),
    ("pgvector", "polyvec.backends.pgvector.backend:PgVectorBackend"),
    ("chroma", "polyvec.backends.chroma.backend:ChromaBackend"),
    ("milvus", "polyvec.backends.milvus.backend:MilvusBackend"),
    ("pinecone", "polyvec.backends.pinecone.backend:PineconeBackend"),
    ("weaviate", "polyvec.backends.weaviate.backend:WeaviateBackend"),
)
"""The built-in backends, as the capability table's columns."""

_HEADER = "<!-- generated by `python -m polyvec.filters.tables`: do not edit -->\n\n"


def _cell(text: str) -> str:
    return "`" + text + "`" if "`" not in text else "``" + text + "``"


def semantics_table() -> str:
    """The semantics table (markdown) of :data:`SEMANTICS`."""
    lines = [
        "| # | Case | Filter | As a dict | Metadata | Result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for number, c in enumerate(SEMANTICS, 1):
        cells = [str(number), c.case, _cell(c.built), _cell(c.as_dict), _cell(c.meta)]
        cells.append(_cell(c.result))
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return _HEADER + "\n".join(lines) + "\n"


def _capabilities() -> list[tuple[str, Any]]:
    found = []
    for name, target in BACKENDS:
        module, _, cls = target.partition(":")
        found.append((name, getattr(importlib.import_module(module), cls).capabilities))
    return found


_SHOWN = {"native": "native", "rewritten": "rewritten", "unsupported": "**refused**"}


def capabilities_table() -> str:
    """Operator × backend (markdown), from each backend's declared ``Capabilities``."""
    caps = _capabilities()
    operators = [op.value for op in Op] + ["between", "and", "or", "not"]
    lines = [
        "| Operator | " + " | ".join(name for name, _ in caps) + " |",
        "| --- |" + " --- |" * len(caps),
    ]
    notes: list[str] = []
    for operator in operators:
        cells = []
        for name, cap in caps:
            if operator == "between":
                ok = (
                    cap.filter_support("gte") != "unsupported"
                    and cap.filter_support("lte") != "unsupported"
                )
                cells.append("rewritten" if ok else _SHOWN["unsupported"])
                continue
            support = cap.filter_support(operator)
            if support == "restricted":
                notes.append(
                    f"{name}, `{operator}`: refused {dict(cap.filter_restrictions)[operator]}."
                )
                cells.append(f"native [{len(notes)}]")
            else:
                cells.append(_SHOWN[support])
        lines.append(f"| `{operator}` | " + " | ".join(cells) + " |")
    legend = [
        "",
        "*native*: translated to the engine's own primitives (on Chroma, Milvus, Pinecone "
        "and Weaviate, over polyvec's typed shadow index of the metadata); *rewritten*: run "
        "as the equivalent tree of other operators (`between` is `gte` and `lte`; see "
        "`polyvec.filters.rewrite`); **refused**: raises `UnsupportedFilterError`, never "
        "a silently different answer. No backend evaluates a filter client-side.",
    ]
    legend += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)] if notes else []
    return _HEADER + "\n".join(lines + legend) + "\n"


def generated_files(root: Path) -> dict[Path, str]:
    """Each generated file under ``root`` (the repository), with its content."""
    out = root / "docs" / "_generated"
    return {
        out / "filter-semantics.md": semantics_table(),
        out / "filter-capabilities.md": capabilities_table(),
        out / "feature-capabilities.md": features_table(_capabilities()),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the tables (or, with ``--check``, report whether they are current)."""
    parser = argparse.ArgumentParser(prog="python -m polyvec.filters.tables")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files(args.root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

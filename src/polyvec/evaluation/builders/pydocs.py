"""A BEIR dataset from the Python standard library's docstrings.

* **units**: public modules of the standard library (``sys.stdlib_module_names`` and
  their public submodules, minus tests, GUI toolkits and modules with side effects on
  import), and in each the public functions, classes and methods defined there;
* **query**: the docstring's summary — its first paragraph (PEP 257's one-line summary);
* **document**: the rest of the docstring, titled with the qualified name
  (``os.path.realpath``); at least 20 words, and the summary must have 3 to 40 words;
* then the shared rules of :mod:`polyvec.evaluation.builders.common` (identical bodies
  merged, summaries shared by several objects dropped, fixed hash split).

The docstrings come from the running interpreter, so the dataset depends on the Python
version (recorded in ``dataset.json``).

Usage::

    polyvec dataset pydocs datasets/pydocs
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from polyvec.evaluation.beir import write_beir
from polyvec.evaluation.builders.common import RawPair, assemble

__all__ = ["build_pydocs", "iter_docstrings", "split_docstring"]

_SKIP = (
    "test",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "antigravity",
    "this",
    "pydoc_data",
    "venv",
    "msilib",
    "winreg",
    "winsound",
    "msvcrt",
    "nt",
)


def split_docstring(doc: str) -> tuple[str, str] | None:
    """``(summary, rest)``: the first paragraph (joined into one line) and the text after
    it, or ``None`` when either part is missing.

    >>> split_docstring("Return the sum.\\n\\nAdds up every item of *iterable*.")
    ('Return the sum.', 'Adds up every item of *iterable*.')
    """
    parts = doc.strip().split("\n\n", 1)
    if len(parts) != 2:
        return None
    summary = " ".join(parts[0].split())
    rest = parts[1].strip()
    return (summary, rest) if summary and rest else None


def _modules() -> list[str]:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules()
        if m.name in sys.stdlib_module_names and not m.name.startswith(("_", *_SKIP))
    )
    found: set[str] = set()
    for name in names:
        module = _import(name)
        if module is None:
            continue
        found.add(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=f"{name}."):
            leaves = info.name.split(".")
            if not any(leaf.startswith(("_", *_SKIP)) or "test" in leaf for leaf in leaves):
                found.add(info.name)
    return sorted(found)


def _import(name: str) -> ModuleType | None:
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except BaseException:  # platform-specific or broken here: not part of the data
            return None


def _members(module: ModuleType) -> Iterator[tuple[str, object]]:
    name = module.__name__
    yield name, module
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(value, "__module__", None) != name:
            continue
        if inspect.isclass(value):
            yield f"{name}.{attr}", value
            for meth, func in sorted(vars(value).items()):
                if not meth.startswith("_") and inspect.isroutine(func):
                    yield f"{name}.{attr}.{meth}", func
        elif inspect.isroutine(value):
            yield f"{name}.{attr}", value


def iter_docstrings() -> Iterator[RawPair]:
    """Every usable (summary, rest of docstring) pair, by qualified name."""
    seen: set[str] = set()
    for modname in _modules():
        module = _import(modname)
        if module is None:
            continue
        for qualname, obj in _members(module):
            if qualname in seen:
                continue
            seen.add(qualname)
            raw = getattr(obj, "__doc__", None)
            if not isinstance(raw, str):
                continue
            parts = split_docstring(inspect.cleandoc(raw))
            if parts is None:
                continue
            summary, rest = parts
            if not 3 <= len(summary.split()) <= 40 or len(rest.split()) < 20:
                continue
            kind = (
                "module"
                if inspect.ismodule(obj)
                else "class"
                if inspect.isclass(obj)
                else "routine"
            )
            yield RawPair(qualname, qualname, summary, rest, {"module": modname, "kind": kind})


def build_pydocs(out: str | os.PathLike[str], *, name: str = "pydocs") -> Path:
    """Build the standard-library docstring dataset into ``out`` (BEIR files, both splits,
    ``dataset.json``)."""
    pairs = list(iter_docstrings())
    info = {
        "source": f"Python {sys.version.split()[0]} standard library docstrings",
        "builder": "polyvec.evaluation.builders.pydocs",
        "query": "docstring summary (first paragraph)",
        "document": "rest of the docstring, titled with the qualified name",
        "split": "sha1(doc id) mod 5 == 0 -> dev, else test",
    }
    dataset, splits, queries, _ = assemble(pairs, name, info)
    return write_beir(dataset, out, splits=splits, all_queries=queries)

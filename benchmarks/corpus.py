"""Real text for benchmarks, available offline: section-1 man pages (less the
near-duplicate gcloud pages) and the Python standard library's docstrings, chunked as
a RAG system would chunk them. Rendered man pages are cached under ``.data/``.

    from benchmarks.corpus import passages
    texts = passages(10_000)
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
import warnings
from functools import cache
from pathlib import Path

from polyvec.chunking import chunk_text

CACHE = Path(__file__).resolve().parent.parent / ".data"
_SKIP = ("test", "idlelib", "tkinter", "turtle", "lib2to3", "ensurepip", "antigravity", "this")


@cache
def stdlib_passages(n: int, *, size: int = 160, overlap: int = 26) -> tuple[str, ...]:
    """Up to ``n`` distinct passages (chunks of docstrings, ``size`` tokens), in a fixed
    order."""
    seen: set[str] = set()
    out: list[str] = []
    names = sorted(
        m.name
        for m in pkgutil.iter_modules()
        if m.name in sys.stdlib_module_names and not m.name.startswith(("_", *_SKIP))
    )
    names = sorted({sub for name in names for sub in _with_submodules(name)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            try:
                module = importlib.import_module(name)
            except BaseException:  # platform-specific modules that do not import here
                continue
            objects: list[object] = [module]
            for _, value in sorted(vars(module).items()):
                if _documented(value) and getattr(value, "__module__", name) == name:
                    objects.append(value)
                    if inspect.isclass(value):
                        objects.extend(
                            m for _, m in sorted(vars(value).items()) if inspect.isfunction(m)
                        )
            for obj in objects:
                doc = inspect.getdoc(obj) or ""
                for chunk in chunk_text(doc, size=size, overlap=overlap):
                    if len(chunk) > 80 and chunk not in seen:
                        seen.add(chunk)
                        out.append(chunk)
                        if len(out) >= n:
                            return tuple(out)
    return tuple(out)


def _with_submodules(name: str) -> list[str]:
    try:
        module = importlib.import_module(name)
    except Exception:
        return []
    found = [name]
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=f"{name}."):
        leaf = info.name.rsplit(".", 1)[-1]
        if not leaf.startswith(("_", *_SKIP)) and "test" not in info.name:
            found.append(info.name)
    return found


def _documented(value: object) -> bool:
    return (inspect.isclass(value) or inspect.isroutine(value)) and bool(
        getattr(value, "__doc__", None)
    )


def manpage_passages(size: int = 160, overlap: int = 26) -> tuple[str, ...]:
    """Chunks (``size`` tokens) of every section-1 man page except gcloud's, rendered
    once and cached."""
    from polyvec.ingest.files import read_files

    cache_file = CACHE / f"man1-chunks-t{size}-{overlap}.json"
    if cache_file.exists():
        return tuple(json.loads(cache_file.read_text()))
    chunks: list[str] = []
    for _, doc in read_files(["/usr/share/man/man1"], exclude=["gcloud*"]):
        chunks.extend(c for c in chunk_text(doc.text, size=size, overlap=overlap) if len(c) > 80)
    CACHE.mkdir(exist_ok=True)
    cache_file.write_text(json.dumps(chunks))
    return tuple(chunks)


def passages(n: int) -> list[str]:
    """``n`` distinct real passages: man pages first, then standard-library docstrings."""
    out = list(dict.fromkeys(manpage_passages()))[:n]
    if len(out) < n:
        out.extend(p for p in stdlib_passages(n) if p not in set(out))
    if len(out) < n:
        raise RuntimeError(f"only {len(out)} passages of real text are available here, not {n}")
    return out[:n]

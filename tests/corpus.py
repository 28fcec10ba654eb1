"""A small real corpus for tests: the docstrings of standard-library modules.

They exist offline on every Python, read like documentation, and differ enough for
retrieval to have a right answer. Metadata is derived from the module, not invented.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache

from polyvec.types import Document

MODULES = {
    "json": "data",
    "csv": "data",
    "pickle": "data",
    "base64": "data",
    "gzip": "compression",
    "zipfile": "compression",
    "tarfile": "compression",
    "bz2": "compression",
    "socket": "network",
    "smtplib": "network",
    "ftplib": "network",
    "urllib.request": "network",
    "re": "text",
    "textwrap": "text",
    "difflib": "text",
    "string": "text",
    "math": "numeric",
    "statistics": "numeric",
    "random": "numeric",
    "decimal": "numeric",
    "threading": "concurrency",
    "subprocess": "concurrency",
    "asyncio": "concurrency",
    "queue": "concurrency",
    "sqlite3": "storage",
    "shelve": "storage",
    "dbm": "storage",
    "logging": "tools",
    "argparse": "tools",
    "unittest": "tools",
}


@cache
def stdlib_documents() -> tuple[Document, ...]:
    """One Document per module: id = module name, text = its docstring (first 1500 chars)."""
    docs = []
    for i, (name, group) in enumerate(MODULES.items()):
        module = importlib.import_module(name)
        text = " ".join((inspect.getdoc(module) or name).split())[:1500]
        docs.append(
            Document(
                id=name,
                text=text,
                metadata={
                    "group": group,
                    "order": i,
                    "size": len(text),
                    "dotted": "." in name,
                    "words": sorted({w for w in name.split(".")}),
                    "info": {"first_letter": name[0], "rank": i % 5},
                    "added": f"2024-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}",
                },
            )
        )
    return tuple(docs)


QUERIES = {
    "compress data with the gzip file format": "gzip",
    "regular expression matching operations": "re",
    "parse command line options and arguments": "argparse",
    "low level networking interface": "socket",
    "run a child process and capture its output": "subprocess",
    "interface to the SQLite database": "sqlite3",
}

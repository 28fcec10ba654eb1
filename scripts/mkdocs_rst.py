"""A griffe extension for the API reference: polyvec's docstrings are written for
``help()`` and doctest (reST-flavoured), the site renders Markdown.

It rewrites, before mkdocstrings renders a docstring:

* ``>>>`` doctest runs (with their ``...`` continuations and expected output) into
  fenced ``pycon`` blocks;
* a paragraph ending in ``::`` and the indented block after it into a fenced block;
* roles such as ``:class:`~polyvec.fusion.RRF``` into inline code (``RRF``).

Used from mkdocs.yml (``extensions: [scripts/mkdocs_rst.py:RstToMarkdown]``)::

    mkdocs build --strict
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_to_markdown(text: str) -> str:
    """``text`` with doctest runs and ``::`` literal blocks fenced, and roles as code.

    >>> print(rst_to_markdown("Use :class:`~a.B`::\\n\\n    x = 1\\n"))
    Use `B`:
    <BLANKLINE>
    ```
    x = 1
    ```
    <BLANKLINE>
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            out.append(line)
            i += 1
            continue
        if in_fence:
            out.append(line)
            i += 1
            continue
        if stripped.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```pycon", *textwrap.dedent("\n".join(block)).splitlines(), "```"]
            continue
        if stripped.endswith("::"):
            head = line.rstrip()[:-2].rstrip()
            if head:
                out.append(_ROLE.sub(_role, head) + ":")
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            base = _indent(line)
            block = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += ["", "```", *textwrap.dedent("\n".join(block)).splitlines(), "```", ""]
            continue
        out.append(_ROLE.sub(_role, line))
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrites every loaded docstring with :func:`rst_to_markdown`."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

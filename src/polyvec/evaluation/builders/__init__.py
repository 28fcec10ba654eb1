"""Dataset builders: BEIR-format test collections made from real text found offline.

* :func:`~polyvec.evaluation.builders.manpages.build_manpages` — section 1 of the
  system's man pages: query = the NAME line's description, document = the page
  without its NAME section;
* :func:`~polyvec.evaluation.builders.pydocs.build_pydocs` — the Python standard
  library's docstrings: query = a docstring's summary line, document = the rest of it.

Both are deterministic (sorted inputs, hash-based split) and write nothing of their own
into the data: every query and document is text that ships with the system.
"""

from polyvec.evaluation.builders.common import RawPair, assemble, split_of
from polyvec.evaluation.builders.manpages import build_manpages
from polyvec.evaluation.builders.pydocs import build_pydocs

__all__ = ["RawPair", "assemble", "build_manpages", "build_pydocs", "split_of"]

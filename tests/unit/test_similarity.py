"""The one client-side definition of dense similarity (polyvec.similarity)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from polyvec import similarity
from polyvec.similarity import similarities


def test_each_distance_scores_higher_for_closer_vectors() -> None:
    q = np.array([3.0, 4.0])
    docs = np.array([[3.0, 4.0], [6.0, 8.0], [4.0, -3.0], [0.0, 0.0]])
    assert similarities("cosine", q, docs).tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert similarities("dot", q, docs).tolist() == pytest.approx([25.0, 50.0, 0.0, 0.0])
    assert similarities("l2", q, docs).tolist() == pytest.approx(
        [0.0, -5.0, -float(np.hypot(1.0, 7.0)), -5.0]
    )


def test_float32_vectors_are_scored_in_float64() -> None:
    rng = np.random.default_rng(0)
    q, docs = rng.normal(size=384).astype(np.float32), rng.normal(size=(5, 384)).astype(np.float32)
    expected = [float(d.astype(np.float64) @ q.astype(np.float64)) for d in docs]
    assert similarities("dot", q, docs).tolist() == pytest.approx(expected, rel=1e-12)


def test_docstring_example() -> None:
    result = doctest.testmod(similarity)
    assert result.attempted > 0 and result.failed == 0

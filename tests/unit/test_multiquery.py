"""Multi-query pieces: generators, expansion, and fusing per-variant lists."""

from __future__ import annotations

import asyncio
import threading

import pytest

from polyvec import ConfigurationError, Document, Hit, InputError, Source
from polyvec.fusion import DBSF, RRF
from polyvec.multiquery import (
    CallableGenerator,
    QueryGenerator,
    StaticGenerator,
    aexpand_query,
    clean_variants,
    expand_query,
    fuse_variants,
)

# --- generators ----------------------------------------------------------------------


def test_clean_variants_drops_original_blanks_repeats_and_caps() -> None:
    raw = ["  Reset   PASSWORD ", "", "forgot password", "Forgot  password", "login help", "x"]
    assert clean_variants("reset password", raw, 2) == ["forgot password", "login help"]
    assert clean_variants("q", ["a"], 0) == []
    with pytest.raises(ConfigurationError):
        clean_variants("q", ["a"], -1)
    with pytest.raises(InputError, match="strings"):
        clean_variants("q", [1], 2)  # type: ignore[list-item]


def test_static_generator() -> None:
    gen = StaticGenerator({"k8s": ["kubernetes", "k8s", "kube"]}, default=["fallback"])
    assert gen.generate("k8s", 5) == ["kubernetes", "kube"]
    assert gen.generate("  K8S ", 1) == ["kubernetes"]  # case and spacing ignored
    assert gen.generate("other", 3) == ["fallback"]
    assert StaticGenerator({}).generate("q", 3) == []
    assert isinstance(gen, QueryGenerator)


def test_callable_generator_list_and_llm_style_text() -> None:
    seen: list[tuple[str, int]] = []

    def fn(q: str, n: int) -> list[str]:
        seen.append((q, n))
        return [q, q + " guide", q + " tutorial", q + " faq"]

    assert CallableGenerator(fn).generate("python", 2) == ["python guide", "python tutorial"]
    assert seen == [("python", 2)]
    text = "1. What is RAG?\n2) retrieval augmented generation\n- rag pipelines\n\n* RAG"
    gen = CallableGenerator(lambda q, n: text)
    assert gen.generate("RAG", 5) == [
        "What is RAG?",
        "retrieval augmented generation",
        "rag pipelines",
    ]
    with pytest.raises(ConfigurationError, match="callable"):
        CallableGenerator("not callable")  # type: ignore[arg-type]


def test_expand_query_puts_the_original_first() -> None:
    gen = StaticGenerator({"q": ["a", "q", "b", "c"]})
    assert expand_query(gen, "q", 2) == ["q", "a", "b"]


def test_aexpand_query_sync_generator_runs_in_a_thread() -> None:
    threads: list[int] = []

    def fn(q: str, n: int) -> list[str]:
        threads.append(threading.get_ident())
        return ["v1", "v2"]

    async def main() -> tuple[list[str], int]:
        return await aexpand_query(CallableGenerator(fn), "q", 2), threading.get_ident()

    out, loop_thread = asyncio.run(main())
    assert out == ["q", "v1", "v2"]
    assert threads and threads[0] != loop_thread


def test_aexpand_query_uses_agenerate() -> None:
    class AsyncGen:
        def generate(self, query: str, n: int) -> list[str]:
            raise AssertionError("the async method should be used")

        async def agenerate(self, query: str, n: int) -> list[str]:
            return [query, "async variant"]

    assert asyncio.run(aexpand_query(AsyncGen(), "q", 3)) == ["q", "async variant"]


# --- fuse_variants -------------------------------------------------------------------


def hits(ids: str, leg: str = "dense") -> list[Hit]:
    kind = "bm25" if leg == "sparse" else "cosine"
    return [
        Hit(Document(i), 1.0 - r / 10, kind, (Source(leg, r, 1.0 - r / 10, kind),))  # type: ignore[arg-type]
        for r, i in enumerate(ids, start=1)
    ]


QUERIES = ["reset password", "forgot password", "change login"]


def test_dedup_and_provenance_stamped() -> None:
    out = fuse_variants([hits("ab"), hits("bc"), hits("ca")], QUERIES, RRF(k=60))
    assert sorted(h.id for h in out) == ["a", "b", "c"]
    found_by = {h.id: [(s.variant, s.query) for s in h.sources] for h in out}
    assert found_by == {
        "a": [(0, QUERIES[0]), (2, QUERIES[2])],
        "b": [(0, QUERIES[0]), (1, QUERIES[1])],
        "c": [(1, QUERIES[1]), (2, QUERIES[2])],
    }
    a = next(h for h in out if h.id == "a")
    assert [(s.variant, s.rank) for s in a.sources] == [(0, 1), (2, 2)]
    assert a.score == pytest.approx(1 / 61 + 1 / 62)
    assert a.kind == "rrf"


def test_original_weight_changes_the_order() -> None:
    lists = [hits("ab"), hits("b")]
    plain = fuse_variants(lists, QUERIES[:2], RRF(k=1))
    assert [(h.id, h.score) for h in plain] == [("b", pytest.approx(1 / 3 + 1 / 2)), ("a", 0.5)]
    heavy = fuse_variants(lists, QUERIES[:2], RRF(k=1), original_weight=4.0)
    assert [(h.id, h.score) for h in heavy] == [("a", 2.0), ("b", pytest.approx(4 / 3 + 1 / 2))]


def test_weights_from_rrf_and_k_cap() -> None:
    lists = [hits("ab"), hits("ba"), hits("b")]
    out = fuse_variants(lists, QUERIES, RRF(k=0, weights=(5.0, 1.0, 1.0)), k=1)
    assert [(h.id, h.score) for h in out] == [("a", 5.0 + 0.5)]


def test_hybrid_sources_all_stamped() -> None:
    hybrid = [
        Hit(
            Document("a"),
            0.03,
            "rrf",
            (Source("dense", 1, 0.9, "cosine"), Source("sparse", 3, 4.0, "bm25")),
        )
    ]
    out = fuse_variants([hits("b"), hybrid], QUERIES[:2])
    a = next(h for h in out if h.id == "a")
    assert [(s.leg, s.variant, s.query) for s in a.sources] == [
        ("dense", 1, "forgot password"),
        ("sparse", 1, "forgot password"),
    ]


def test_hits_without_sources_get_one() -> None:
    bare = [Hit(Document("a"), 0.8, "cosine"), Hit(Document("b"), 7.0, "bm25")]
    out = fuse_variants([bare], ["q"])
    assert [(s.leg, s.rank, s.kind, s.variant, s.query) for h in out for s in h.sources] == [
        ("dense", 1, "cosine", 0, "q"),
        ("sparse", 2, "bm25", 0, "q"),
    ]


def test_fuse_variants_errors() -> None:
    with pytest.raises(InputError, match="one list per query"):
        fuse_variants([hits("a")], QUERIES)
    with pytest.raises(ConfigurationError, match="not both"):
        fuse_variants([hits("a")] * 3, QUERIES, RRF(weights=(1, 1, 1)), original_weight=2.0)
    with pytest.raises(ConfigurationError, match="original_weight"):
        fuse_variants([hits("a")] * 3, QUERIES, original_weight=-1.0)
    with pytest.raises(ConfigurationError, match="one weight per list"):
        fuse_variants([hits("a")] * 3, QUERIES, RRF(weights=(1.0, 2.0)))
    with pytest.raises(ConfigurationError, match="RRF"):
        fuse_variants([hits("a")] * 3, QUERIES, DBSF())  # type: ignore[arg-type]
    assert fuse_variants([], []) == []

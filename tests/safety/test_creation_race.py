"""Two real processes race to create the same embedded store (issue 17 item 1): every
acknowledged write is there after reopening, the store reads back intact, and the
loser gets ``StoreLockedError`` (never a raw engine exception).

``POLYVEC_FAULT_TRIALS`` (default 2) sets the trials per engine; run more on demand::

    POLYVEC_FAULT_TRIALS=20 pytest tests/safety/test_creation_race.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import polyvec
from polyvec import Collection
from polyvec.backends.registry import open_backend
from polyvec.transfer.records import doc_key
from tests.safety.race_child import BATCH, writer_docs
from tests.transfer.data import HashEmbedder

TRIALS = int(os.environ.get("POLYVEC_FAULT_TRIALS", "2"))
WRITERS = (1, 2)
ROOT = Path(__file__).resolve().parents[2]
SRC = Path(polyvec.__file__).resolve().parents[1]
VARIANTS = [
    pytest.param("default", marks=pytest.mark.qdrant),  # polyvec.connect() in an empty dir
    pytest.param("qdrant-edge", marks=pytest.mark.qdrant),
    pytest.param("qdrant-local", marks=pytest.mark.qdrant),
    pytest.param("chroma-local", marks=pytest.mark.chroma),
    pytest.param("milvus-lite", marks=pytest.mark.milvus),
]


def _store_url(engine_url, variant: str, where: Path) -> str:
    if variant == "default":
        return "-"
    url = engine_url(variant)  # a fresh store (skips, or fails, without the engine)
    if variant == "milvus-lite":  # the engine's file is shared by the session: use our own
        return f"milvus+lite://{where / 'race.db'}"
    return url


def _race(url: str, where: Path) -> tuple[dict[int, list[int]], list[str]]:
    """Run the writers; their acknowledged batch numbers and their error lines. Two
    writers that both opened the store must not have held it at the same time."""
    go = where / "go"
    env = {k: v for k, v in os.environ.items() if k != "POLYVEC_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT), env.get("PYTHONPATH", "")])
    env["HF_HUB_OFFLINE"] = "1"
    children = {
        writer: subprocess.Popen(
            [sys.executable, "-m", "tests.safety.race_child", url, str(writer), str(go)],
            cwd=where,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for writer in WRITERS
    }
    for child in children.values():  # both imported: now they open the store together
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.strip() == "READY", ready + (child.stderr.read() if child.stderr else "")
    go.touch()
    acked: dict[int, list[int]] = {}
    errors: list[str] = []
    held: list[tuple[int, int]] = []  # (opened, closing) of each writer that opened it
    for writer, child in children.items():
        out, err = child.communicate(timeout=300)
        lines = out.splitlines()
        acked[writer] = [int(line.split()[1]) for line in lines if line.startswith("ACK")]
        errors += [line for line in lines if line.startswith("ERR")]
        times = {line.split()[0]: int(line.split()[1]) for line in lines
                 if line.startswith(("OPENED", "CLOSING"))}  # fmt: skip
        if "OPENED" in times:
            held.append((times["OPENED"], times.get("CLOSING", 2**63)))
        if child.returncode not in (0, 3):
            errors.append(f"writer {writer} died with {child.returncode}: {err[-1500:]}")
        elif child.returncode == 3 and not any(line.startswith("ERR") for line in lines):
            errors.append(f"writer {writer} failed silently: {err[-1500:]}")
    if len(held) == 2:
        (_, first_closing), (second_open, _) = sorted(held)
        assert first_closing <= second_open, "both writers had the store open at once"
    return acked, errors


def _check_store(url: str, acked: dict[int, list[int]]) -> None:
    """Every acknowledged document is there, intact; nothing else is; scroll works."""
    coll = Collection(open_backend(None if url == "-" else url), "kb",
                      embedder=HashEmbedder(), create=False)  # fmt: skip
    try:
        written = {doc_key(d.id): d for w in WRITERS for d in writer_docs(w)}
        must = [doc_key(d.id) for w, batches in acked.items() for n in batches
                for d in writer_docs(w)[n * BATCH : (n + 1) * BATCH]]  # fmt: skip
        stored = [d for page in coll.scroll(batch_size=64) for d in page]
        keys = [doc_key(d.id) for d in stored]
        assert len(keys) == len(set(keys)), "a document is stored twice"
        lost = set(must) - set(keys)
        assert not lost, (
            f"{len(lost)} of {len(must)} acknowledged documents lost: {sorted(lost)[:5]}"
        )
        for doc in stored:
            want = written.get(doc_key(doc.id))
            assert want is not None, f"a document nobody wrote: {doc.id!r}"
            assert (doc.text, dict(doc.metadata)) == (want.text, dict(want.metadata))
        assert coll.count() == len(stored)
    finally:
        coll.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_two_processes_creating_one_store_lose_no_acknowledged_write(
    engine_url, tmp_path, monkeypatch, variant
):
    monkeypatch.delenv("POLYVEC_URL", raising=False)
    for trial in range(TRIALS):
        where = tmp_path / f"trial{trial}"
        where.mkdir()
        url = _store_url(engine_url, variant, where)
        acked, errors = _race(url, where)
        for line in errors:  # the loser is told, in polyvec's words, what to do
            assert line.startswith("ERR polyvec.errors.StoreLockedError "), line
            assert "one process at a time" in line and "server" in line, line
        assert sum(map(len, acked.values())) > 0, errors
        with monkeypatch.context() as here:
            here.chdir(where)  # the default store is ./.polyvec in the race's directory
            _check_store(url, acked)


OPEN = """
import sys
from polyvec.backends.registry import open_backend
from polyvec.errors import StoreLockedError
try:
    open_backend(sys.argv[1]).close()
except StoreLockedError as exc:
    print("LOCKED", exc)
else:
    print("OPENED")
"""


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_a_store_is_free_again_once_its_backend_closes(engine_url, tmp_path, variant):
    url = _store_url(engine_url, variant, tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }

    def other() -> str:
        done = subprocess.run([sys.executable, "-c", OPEN, url], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        return done.stdout.strip() or done.stderr[-1500:]

    backend = open_backend(url)
    try:
        held = other()
    finally:
        backend.close()
    assert held.startswith("LOCKED") and "one process at a time" in held, held
    if variant == "milvus-lite":
        # pymilvus keeps the Milvus Lite server (and the file) until the process ends,
        # and so polyvec keeps its lock: still refused, in polyvec's words
        after = other()
        assert after.startswith("LOCKED") and f"process {os.getpid()}" in after, after
    else:
        assert other() == "OPENED"


RAW_MILVUS = """
import sys
from pymilvus import MilvusClient
client = MilvusClient(sys.argv[1])
print("HELD", flush=True)
sys.stdin.readline()
"""


@pytest.mark.milvus
def test_a_milvus_lite_file_another_program_serves_is_refused_by_name(engine_url, tmp_path):
    """Issue 17 item 11: not "Open local milvus failed", but which file and what to do."""
    from polyvec.errors import StoreLockedError

    _store_url(engine_url, "milvus-lite", tmp_path)  # skips, or fails, without Milvus Lite
    db = tmp_path / "other.db"
    holder = subprocess.Popen([sys.executable, "-c", RAW_MILVUS, str(db)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
        with pytest.raises(StoreLockedError) as caught:
            open_backend(f"milvus+lite://{db}")
        assert caught.value.path == str(db) and "one process at a time" in str(caught.value)
    finally:
        holder.communicate("\n", timeout=120)

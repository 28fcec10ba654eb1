"""Start the fault tests' child processes (:mod:`tests.safety.bm25_child`) and read
their answers; ``POLYVEC_FAULT_TRIALS`` sets how many random trials each test runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

CHILD = [sys.executable, "-m", "tests.safety.bm25_child"]


def trials(default: int = 2) -> int:
    """How many random trials a fault test runs (CI keeps the default small)."""
    return int(os.environ.get("POLYVEC_FAULT_TRIALS", default))


def start(*args: object, crash_at: str | None = None, wait: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("POLYVEC_CRASH_AT", None)
    if crash_at is not None:
        env["POLYVEC_CRASH_AT"] = crash_at
    if wait:
        env["BM25_CHILD_WAIT"] = "1"
    return subprocess.Popen(
        [*CHILD, *(str(a) for a in args)],
        stdin=subprocess.PIPE if wait else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def together(*writers: tuple[object, ...]) -> None:
    """Run writer children at the same time: all open, then all start writing."""
    running = [start("write", *args, wait=True) for args in writers]
    for child in running:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "READY", child.stderr.read() if child.stderr else line
    for child in running:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
        child.stdin = None  # communicate() must not flush it again
    for child in running:
        assert finish(child).strip().endswith("DONE")


def finish(child: subprocess.Popen[str]) -> str:
    """Wait for a child that must succeed; its stdout."""
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, f"child failed ({child.returncode}): {err[-3000:]}"
    return out


def write(url: str, name: str, start_id: int, n: int, batch: int, seed: int = 0) -> None:
    """One clean writer process, to completion."""
    out = finish(start("write", url, name, start_id, n, batch, seed))
    assert out.strip().endswith("DONE"), out[-500:]


def kill_after(child: subprocess.Popen[str], acks: int) -> int:
    """SIGKILL ``child`` once it acknowledged ``acks`` batches (or ended); the number of
    acknowledgements seen."""
    assert child.stdout is not None
    seen = 0
    while seen < acks:
        line = child.stdout.readline()
        if not line:
            break
        seen += line.startswith("ACK")
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=120)
    return seen


def killed(child: subprocess.Popen[str]) -> bool:
    """Wait for a child that should kill itself at a crash point."""
    _, err = child.communicate(timeout=600)
    assert child.returncode in (0, -signal.SIGKILL), err[-3000:]
    return child.returncode == -signal.SIGKILL


def check(url: str, name: str) -> dict[str, Any]:
    """Open the collection in a new process: what BM25 misses, stats vs a recount."""
    out = finish(start("check", url, name))
    return dict(json.loads(out.strip().splitlines()[-1]))


def assert_exact(report: dict[str, Any], when: str) -> None:
    assert not report["missing"], (
        f"{when}: {len(report['missing'])} of {report['stored']} stored documents are "
        f"never found by BM25 searching their own text, e.g. {report['missing'][:5]}"
    )
    assert report["stats_equal"], (
        f"{when}: saved BM25 statistics {report['stats']} differ from a recount {report['recount']}"
    )

"""The embedded-store lock (polyvec.backends.store_lock) with real processes: one
process at a time, shared within a process, released on close and on death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import polyvec
from polyvec.backends.store_lock import acquire, lock_path
from polyvec.errors import StoreLockedError

SRC = str(Path(polyvec.__file__).resolve().parents[1])
HOLD = """
import sys
from polyvec.backends.store_lock import acquire
from polyvec.errors import StoreLockedError
try:
    lock = acquire(sys.argv[1], "test engine")
except StoreLockedError as exc:
    print("LOCKED", exc.holder, exc, flush=True)
    sys.exit(0)
print("HELD", flush=True)
sys.stdin.readline()  # hold it until told (or killed)
lock.release()
print("RELEASED", flush=True)
"""


def _holder(store: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_another_process_is_refused_until_the_holder_releases(tmp_path):
    store = tmp_path / "store"
    lock = acquire(store, "test engine")
    assert lock_path(store).is_file() and not store.exists()  # beside, not inside
    other = _holder(store)
    out, _ = other.communicate(timeout=60)
    assert out.startswith(f"LOCKED {os.getpid()} ")  # names the holder, the store, the fix
    assert str(store) in out and "one process at a time" in out and "server" in out
    lock.release()
    lock.release()  # idempotent
    other = _holder(store)
    assert other.stdout is not None and other.stdout.readline().strip() == "HELD"
    with pytest.raises(StoreLockedError) as caught:
        acquire(store, "test engine")
    assert caught.value.holder == other.pid and caught.value.path == str(store)
    out, _ = other.communicate("go\n", timeout=60)
    assert out.strip() == "RELEASED"
    acquire(store, "test engine").release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    store = tmp_path / "store"
    other = _holder(store)
    assert other.stdout is not None and other.stdout.readline().strip() == "HELD"
    with pytest.raises(StoreLockedError):
        acquire(store, "test engine")
    os.kill(other.pid, signal.SIGKILL)
    other.wait(timeout=60)
    acquire(store, "test engine").release()


def test_opens_in_one_process_share_the_lock(tmp_path):
    store = tmp_path / "store"
    first, second = acquire(store, "test engine"), acquire(store, "test engine")
    first.release()
    out, _ = _holder(store).communicate(timeout=60)
    assert out.startswith("LOCKED")  # the second open still holds it
    second.release()
    out, _ = _holder(store).communicate("go\n", timeout=60)
    assert out.split() == ["HELD", "RELEASED"]


def test_a_symlink_to_the_store_takes_the_same_lock(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "alias").symlink_to(store)
    lock = acquire(store, "test engine")
    try:
        out, _ = _holder(tmp_path / "alias").communicate(timeout=60)
        assert out.startswith("LOCKED")
    finally:
        lock.release()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_inherit_the_right_to_open(tmp_path):
    store = tmp_path / "store"
    lock = acquire(store, "test engine")
    try:
        pid = os.fork()
        if pid == 0:  # the child: must take its own lock, and the parent holds it
            try:
                acquire(store, "test engine")
            except StoreLockedError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        out, _ = _holder(store).communicate(timeout=60)
        assert out.startswith("LOCKED")  # the child's exit left the parent's lock alone
    finally:
        lock.release()


def test_write_sections_of_an_embedded_store_are_exclusive(tmp_path: Path) -> None:
    """The process holds the store alone, so its threads taking turns make a write
    section exclusive (``True``): Collection then keeps the statistics exact instead of
    only detecting other writers. A store polyvec does not lock is not exclusive."""
    import threading

    from polyvec.backends.registry import open_backend

    one = open_backend(f"qdrant-edge://{tmp_path / 'store'}")
    two = open_backend(f"qdrant-edge://{tmp_path / 'store'}")  # the same store, shared
    inside, entered, leave = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with one.write_section("kb") as exclusive:
            assert exclusive
            with one.write_section("kb") as again:  # re-entrant in one thread
                assert again
            inside.set()
            leave.wait()

    def second() -> None:
        with two.write_section("kb"):
            entered.set()

    try:
        a = threading.Thread(target=first)
        a.start()
        inside.wait()
        b = threading.Thread(target=second)
        b.start()
        assert not entered.wait(0.3)  # kept out while the first section is open
        with two.write_section("other"):  # another collection is not
            pass
        leave.set()
        a.join()
        b.join()
        assert entered.is_set()
    finally:
        one.close()
        two.close()
    memory = open_backend("qdrant+memory://")
    with memory.write_section("kb") as exclusive:
        assert exclusive is False
    memory.close()

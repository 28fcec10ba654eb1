"""Run every embedded engine on an emulated CPU without AVX-512 (on demand).

A prebuilt engine compiled for the machine that built it (``-march=native``) works there
and dies with SIGILL (Illegal instruction) on CPUs that lack an instruction it uses — most
often AVX-512, which many AMD EPYC servers and laptops do not have. This script runs
polyvec end to end (create, add 300 documents, dense / sparse / hybrid search with a
filter, delete, reopen) on each embedded engine, with the Python process and every engine
process it starts executed by ``qemu-x86_64 -cpu MODEL`` (Debian: ``apt-get install
qemu-user``), whose CPUID reports only that model's instruction sets::

    python scripts/check_portability.py                  # EPYC-Rome: AVX2, no AVX-512
    python scripts/check_portability.py --cpu Haswell    # Intel AVX2, no AVX-512
    python scripts/check_portability.py --engines pgvector

Engines: qdrant-edge and Chroma run inside the Python process; milvus-lite's server
binary and PostgreSQL are started through a wrapper that runs them under the same
emulated CPU (the wrapper leaves a marker, so a run that silently used the host CPU is
reported as a failure). Results are printed as a table; the exit status is non-zero if
any engine failed. See docs/portability.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("qdrant-edge", "qdrant-local", "chroma", "milvus", "pgvector")


def _cpu_seen() -> str:
    """The instruction sets this process's CPUID reports (numpy's runtime detection)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return " ".join(f"{name}={int(features.get(name, False))}" for name in ("AVX2", "AVX512F"))


def _child(url: str, marker: str) -> None:
    """The smoke run itself (this runs under the emulator); ``marker`` gets the
    instruction sets the process saw."""
    import numpy as np

    import polyvec
    from polyvec import F
    from polyvec.retriever import RetrieverConfig

    class HashEmbedder:
        """Deterministic unit vectors from text hashes: no model needed."""

        name = "hash-384"
        dimension = 384

        def _one(self, text: str) -> np.ndarray:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
            return v / np.linalg.norm(v)

        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            return np.stack([self._one(t) for t in texts])

        embed_queries = embed_documents

    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
    ]
    texts = [" ".join(words[(i * 7 + j) % 12] for j in range(6)) + f" item{i}" for i in range(300)]
    col = polyvec.connect(url, collection="smoke", embedder=HashEmbedder())
    col.add_texts(
        texts,
        metadatas=[{"n": i, "even": i % 2 == 0} for i in range(300)],
        ids=[f"d{i}" for i in range(300)],
        progress=False,
    )
    for mode in ("dense", "sparse", "hybrid"):
        hits = col.retriever(RetrieverConfig(mode=mode)).search(
            "gamma item7", k=5, filter=F("n") < 200
        )
        assert len(hits) == 5 and all(h.document.metadata["n"] < 200 for h in hits), (mode, hits)
    col.delete(["d1", "d2"])
    assert col.count() == 298
    col.close()
    col = polyvec.connect(url, collection="smoke", embedder=HashEmbedder(), create=False)
    assert col.count() == 298
    col.close()
    Path(marker).with_suffix(".cpu").write_text(_cpu_seen())


def _wrapper(directory: Path, binary: Path, qemu: str, cpu: str, marker: Path) -> Path:
    """``directory/<binary name>``: a script that runs ``binary`` under the emulator."""
    script = directory / binary.name
    script.write_text(f'#!/bin/sh\ntouch "{marker}"\nexec "{qemu}" -cpu "{cpu}" "{binary}" "$@"\n')
    script.chmod(0o755)
    return script


def _milvus_env(work: Path, qemu: str, cpu: str, marker: Path) -> dict[str, str]:
    """milvus-lite reads its server from ``$BIN_PATH``: the same libraries, a wrapped binary."""
    import milvus_lite

    real = Path(milvus_lite.__file__).parent / "lib"
    shadow = work / "milvus-bin"
    shadow.mkdir()
    for item in real.iterdir():
        if item.name != "milvus":
            (shadow / item.name).symlink_to(item)
    _wrapper(shadow, real / "milvus", qemu, cpu, marker)
    return {"BIN_PATH": str(shadow)}


def run(engine: str, cpu: str, qemu: str, work: Path) -> tuple[bool, str, float]:
    marker = work / f"{engine}.emulated"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    server = None
    if engine == "qdrant-edge":
        url = f"qdrant-edge://{work}/edge"
    elif engine == "qdrant-local":
        url = f"qdrant+local://{work}/qdrant"
    elif engine == "chroma":
        url = f"chroma+local://{work}/chroma"
    elif engine == "milvus":
        url = f"milvus+lite://{work}/milvus.db"
        env.update(_milvus_env(work, qemu, cpu, marker))
    else:  # pgvector: the tests' server start, with postgres wrapped by the emulator
        sys.path.insert(0, str(ROOT))
        os.environ["POLYVEC_TEST_EMULATE_CPU"] = cpu
        from tests.engines.pgvector import start_server

        server = start_server()
        url = f"{server.uri}&schema=smoke"
        postmaster = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        if not postmaster[0].endswith(b"qemu-x86_64") or cpu.encode() not in postmaster:
            server.stop()
            raise RuntimeError("the PostgreSQL server was not started under the emulator")
        marker.touch()
    started = time.monotonic()
    try:
        done = subprocess.run(
            [qemu, "-cpu", cpu, sys.executable, __file__, "--child", url, "--marker", str(marker)],
            env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    finally:
        if server is not None:
            server.stop(keep_files=False)
    seconds = time.monotonic() - started
    noise = ("TCG doesn't support", "polyvec add")
    tail = "\n".join(
        line for line in (done.stdout + done.stderr).splitlines()
        if not any(n in line for n in noise)
    )[-1500:]  # fmt: skip
    if done.returncode != 0:
        return False, f"exit {done.returncode}: {tail}", seconds
    seen = marker.with_suffix(".cpu").read_text()
    if "AVX512F=0" not in seen:
        return False, f"the Python process was not emulated (it saw {seen})", seconds
    if engine in ("milvus", "pgvector") and not marker.exists():
        return False, "the engine server did not run under the emulator", seconds
    return True, seen, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", default="EPYC-Rome", help="QEMU CPU model (default: %(default)s)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--marker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.marker)
        return 0
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        print("qemu-x86_64 not found: apt-get install qemu-user", file=sys.stderr)
        return 2
    failed = 0
    print(f"engine        result  seconds  what the process saw (qemu -cpu {args.cpu})")
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix="polyvec-port-") as tmp:
            work = Path(tmp)
            work.chmod(0o755)
            try:
                ok, detail, seconds = run(engine, args.cpu, qemu, work)
            except Exception as exc:  # report and go on with the next engine
                ok, detail, seconds = False, f"{type(exc).__name__}: {exc}", 0.0
        failed += not ok
        print(f"{engine:<13} {'pass' if ok else 'FAIL':<7} {seconds:7.1f}  {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

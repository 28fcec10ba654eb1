"""Which x86-64 instruction sets an engine binary needs, and whether this CPU has them.

Prebuilt engines (PostgreSQL + pgvector, milvus-lite …) come from wheels built on some
machine. A build made with ``-march=native`` on an AVX-512 machine puts AVX-512 code into
ordinary functions, and the engine then dies with SIGILL on the many CPUs without it
(AVX2-only AMD EPYC and laptops). Portable builds keep AVX-512 only in variants chosen at
run time after a CPUID check; pgvector and PostgreSQL name those variants by their
instruction set (``BitHammingDistanceAvx512Popcount``, ``pg_popcount_avx512``,
``pg_comp_crc32c_avx512``).

:func:`avx512_outside_dispatch` disassembles a binary with ``objdump`` (binutils) and
returns the functions that hold AVX-512 instructions without naming it: those run on
every CPU. An AVX-512 instruction is recognised by its encoding, not its mnemonic: every
EVEX-encoded instruction starts with the byte ``0x62`` (after optional segment or
address-size prefixes; in 64-bit mode that byte has no other meaning), and the VEX-encoded
mask-register instructions (``kmovw`` …) name a ``%k`` register.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

__all__ = [
    "avx512_functions",
    "avx512_outside_dispatch",
    "cpu_flags",
    "elf_files",
    "is_dispatched_variant",
]

_FUNCTION = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")
_PREFIXES = frozenset({"26", "2e", "36", "3e", "64", "65", "67"})
_MASK_REGISTER = re.compile(r"%k[0-7]\b")
_DISPATCHED = re.compile(r"avx512", re.IGNORECASE)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The instruction-set flags of this CPU (the first ``flags`` line of cpuinfo)."""
    for line in Path(cpuinfo).read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def elf_files(root: Path) -> list[Path]:
    """Every ELF file (executables and shared libraries) under ``root``, sorted."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def _objdump() -> str:
    tool = shutil.which("objdump")
    if tool is None:
        raise RuntimeError(
            "objdump is needed to scan engine binaries for CPU instructions: install "
            "binutils (Debian: apt-get install binutils)"
        )
    return tool


def avx512_functions(binary: Path) -> Counter[str]:
    """Function name -> number of AVX-512 instructions in it, for every function of
    ``binary`` that has any."""
    out = subprocess.run(
        [_objdump(), "-d", "-w", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    found: Counter[str] = Counter()
    function = "?"
    for line in out.splitlines():
        head = _FUNCTION.match(line)
        if head:
            function = head.group("name").split("@@")[0]
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        code = parts[1].split()
        i = 0
        while i < len(code) and code[i] in _PREFIXES:
            i += 1
        evex = i < len(code) and code[i] == "62"
        if evex or _MASK_REGISTER.search(parts[2]):
            found[function] += 1
    return found


def is_dispatched_variant(function: str) -> bool:
    """Whether ``function`` is a variant chosen at run time for AVX-512 CPUs: pgvector
    and PostgreSQL name every such variant by the instruction set it needs."""
    return bool(_DISPATCHED.search(function))


def avx512_outside_dispatch(binary: Path) -> Counter[str]:
    """The functions of ``binary`` that use AVX-512 on every CPU (not a dispatched
    variant), with their AVX-512 instruction counts. Empty for a portable build."""
    return Counter(
        {name: n for name, n in avx512_functions(binary).items() if not is_dispatched_variant(name)}
    )

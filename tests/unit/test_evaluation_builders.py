"""Dataset builders: parsing, selection, the construction rules, determinism."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from polyvec.evaluation import load_beir
from polyvec.evaluation.builders import RawPair, assemble, split_of
from polyvec.evaluation.builders.common import description_key
from polyvec.evaluation.builders.manpages import build_manpages, parse_page, select_pages
from polyvec.evaluation.builders.pydocs import iter_docstrings, split_docstring

RENDERED = """\
LS(1)                          User Commands                          LS(1)

NAME
       ls - list directory con\u2010
       tents

SYNOPSIS
       ls [OPTION]... [FILE]...

DESCRIPTION
       List information about the FILEs.

GNU coreutils 9.1              September 2022                         LS(1)
"""


def test_parse_page_removes_name_header_footer() -> None:
    parsed = parse_page(RENDERED)
    assert parsed is not None
    names, description, body = parsed
    assert names == "ls"
    assert description == "list directory contents"  # hyphenation undone
    assert body.startswith("SYNOPSIS") and body.endswith("List information about the FILEs.")
    assert "NAME" not in body and "coreutils" not in body and "LS(1)" not in body


def test_parse_page_without_description() -> None:
    assert parse_page("X(1)\n\nNAME\n       x\n\nSYNOPSIS\n       x\n\nfoot X(1)\n") is None
    assert parse_page("no sections at all\nreally\nnone\n") is None


def test_select_pages_drops_alpha_beta_and_samples_gcloud(tmp_path: Path) -> None:
    for name in [
        "ls.1.gz",
        "openssl.1ssl.gz",
        "gcloud.1.gz",
        "gcloud_compute.1.gz",
        "gcloud_alpha_compute.1.gz",
        "gcloud_beta_compute.1.gz",
        "README",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in select_pages(tmp_path, 0)] == ["ls.1.gz", "openssl.1ssl.gz"]
    picked = [p.name for p in select_pages(tmp_path, 1)]
    assert len(picked) == 3 and not any("alpha" in n or "beta" in n for n in picked)
    assert picked == [p.name for p in select_pages(tmp_path, 1)]  # deterministic
    assert len(select_pages(tmp_path, 10)) == 4


def _pair(i: str, desc: str, body: str) -> RawPair:
    return RawPair(i, i, desc, body)


def test_assemble_rules() -> None:
    pairs = [
        _pair("a", "compress files", "body of a " * 5),
        _pair("b", "Compress  files.", "body of b " * 5),  # same description: ambiguous
        _pair("c", "list things", "body of c " * 5),
        _pair("c2", "list things", "body  of c " * 5),  # same body as c: merged into c
        _pair("d", "", "body of d " * 5),  # no description: corpus only
    ]
    data, splits, queries, stats = assemble(pairs, "toy", {"source": "test"})
    assert sorted(data.corpus) == ["a", "b", "c", "d"]
    assert sorted(queries) == ["q:c"] and queries["q:c"] == "list things"
    assert stats["duplicate_bodies"] == 1 and stats["ambiguous_queries"] == 2
    assert {q for s in splits.values() for q in s} == {"q:c"}
    assert splits[split_of("c")]["q:c"] == {"c": 1}
    assert data.info["counts"]["documents"] == 4 and data.info["name"] == "toy"


def test_split_is_a_fixed_hash() -> None:
    ids = [f"page{i}.1" for i in range(1000)]
    dev = [i for i in ids if split_of(i) == "dev"]
    assert 150 < len(dev) < 250
    assert dev == [i for i in ids if split_of(i) == "dev"]


def test_description_key() -> None:
    assert description_key("A  B-c.") == description_key("a b c")


def test_split_docstring() -> None:
    assert split_docstring("One line only.") is None
    assert split_docstring("Summary\nwraps.\n\nBody.\n\nMore.") == (
        "Summary wraps.",
        "Body.\n\nMore.",
    )


def test_pydocs_pairs_are_real_docstrings() -> None:
    import inspect
    import json as json_module

    pairs = {p.id: p for p in iter_docstrings()}
    assert len(pairs) > 500
    pair = pairs["json.dumps"]
    assert pair.description == inspect.getdoc(json_module.dumps).split("\n\n")[0].replace("\n", " ")
    assert pair.description not in pair.body


ROFF = """.TH {upper} 1
.SH NAME
{name} \\- {desc}
.SH DESCRIPTION
{body}
"""


@pytest.mark.skipif(shutil.which("man") is None, reason="needs the man command")
def test_build_manpages_end_to_end(tmp_path: Path) -> None:
    man = tmp_path / "man1"
    man.mkdir()
    pages = {
        "frob": ("frobnicate the widgets", "Frob turns every widget around. " * 8),
        "blip": ("send a blip", "Blip sends one blip over the network to a peer. " * 8),
        "blop": ("send a blip", "Blop is another program that also sends blips. " * 8),
        "gcloud_alpha_x": ("alpha track", "never selected " * 10),
    }
    for name, (desc, body) in pages.items():
        text = ROFF.format(upper=name.upper(), name=name, desc=desc, body=body)
        with gzip.open(man / f"{name}.1.gz", "wt") as fh:
            fh.write(text)
    root = build_manpages(tmp_path / "out", man_dir=man, gcloud=5)
    queries = {**load_beir(root, "dev").queries, **load_beir(root, "test").queries}
    assert list(queries.values()) == ["frobnicate the widgets"]  # "send a blip" is ambiguous
    corpus = load_beir(root, "test").corpus
    assert sorted(corpus) == ["blip.1", "blop.1", "frob.1"]
    assert "frobnicate" not in corpus["frob.1"].text and corpus["frob.1"].title == "frob"


@pytest.mark.skipif(shutil.which("man") is None, reason="needs the man command")
def test_build_manpages_pools_several_sections_under_a_name(tmp_path: Path) -> None:
    pages = {
        ("man2", "open", "2"): ("open and possibly create a file", "Open a file by path. " * 10),
        ("man5", "fstab", "5"): ("static information about filesystems", "Mount table. " * 20),
        ("man5", "open", "5"): ("open file format", "Not the system call, a format. " * 8),
    }
    for (section, name, number), (desc, body) in pages.items():
        (tmp_path / section).mkdir(exist_ok=True)
        text = ROFF.format(upper=name.upper(), name=name, desc=desc, body=body)
        text = text.replace(f".TH {name.upper()} 1", f".TH {name.upper()} {number}")
        with gzip.open(tmp_path / section / f"{name}.{number}.gz", "wt") as fh:
            fh.write(text)
    root = build_manpages(
        tmp_path / "out", man_dir=[tmp_path / "man2", tmp_path / "man5"], name="mansys"
    )
    test = load_beir(root, "test")
    assert test.name == "mansys"
    assert sorted(test.corpus) == ["fstab.5", "open.2", "open.5"]
    queries = {**load_beir(root, "dev").queries, **test.queries}
    assert sorted(queries.values()) == [
        "open and possibly create a file",
        "open file format",
        "static information about filesystems",
    ]
    info = json.loads((root / "dataset.json").read_text())
    assert str(tmp_path / "man2") in info["source"] and str(tmp_path / "man5") in info["source"]

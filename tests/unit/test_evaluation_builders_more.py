"""The graded man-page, Python-reference and kernel-docs builders: small fixtures made
here, plus checks on the real sources (``python3-doc``, ``linux-doc``) that are skipped
— saying so — only where the source is not installed."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from polyvec.errors import InputError
from polyvec.evaluation import load_beir
from polyvec.evaluation.beir import CorpusDoc
from polyvec.evaluation.builders import (
    JudgedQuery,
    assemble_judged,
    build_kernel_docs,
    build_manpages_graded,
    build_pyref,
    split_of,
)
from polyvec.evaluation.builders.kernel_docs import DEFAULT_DOCS_DIR, passages, rst_sections
from polyvec.evaluation.builders.manpages_graded import see_also
from polyvec.evaluation.builders.pyref import DEFAULT_HTML_DIR, first_sentence, parse_page


def _both(root: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    dev, test = load_beir(root, "dev"), load_beir(root, "test")
    return {**dev.queries, **test.queries}, {**dev.qrels, **test.qrels}


# -- assemble_judged -----------------------------------------------------------------


def test_assemble_judged_merges_aliases_and_drops_ambiguous_queries() -> None:
    docs = [
        CorpusDoc("a", "alpha text " * 5),
        CorpusDoc("a2", "alpha  text " * 5),  # the same page under another name
        CorpusDoc("b", "beta text " * 5),
        CorpusDoc("c", "gamma text " * 5),
    ]
    queries = [
        JudgedQuery("q1", "find alpha", {"a2": 1, "b": 2}, "q1"),  # a2 is a
        JudgedQuery("q2", "Find  alpha.", {"a": 1, "b": 2}, "q2"),  # same text, same answers
        JudgedQuery("q3", "shared words", {"b": 1}, "q3"),
        JudgedQuery("q4", "shared words", {"c": 1}, "q4"),  # same text, other answer
        JudgedQuery("q5", "nothing known", {"zzz": 1}, "q5"),
    ]
    data, splits, texts, stats = assemble_judged(docs, queries, "toy", {"source": "test"})
    assert sorted(data.corpus) == ["a", "b", "c"]
    assert texts == {"q1": "find alpha"}
    assert splits[split_of("q1")]["q1"] == {"a": 1, "b": 2}
    assert stats["duplicate_bodies"] == 1
    assert stats["ambiguous_queries"] == 2 and stats["unjudged_queries"] == 1
    assert data.info["counts"]["judgements"] == 2


# -- graded man pages ------------------------------------------------------------------

ROFF = """.TH {upper} {section}
.SH NAME
{name} \\- {desc}
.SH DESCRIPTION
{body}
.SH "SEE ALSO"
{see}
"""


def test_see_also_parses_the_section_only() -> None:
    body = (
        "DESCRIPTION\n    uses open(2)\n\nSEE ALSO\n    ls(1),  stat(2),\n    ls(1)\n\nBUGS\n  x(3)"
    )
    assert see_also(body) == ["ls.1", "stat.2"]
    assert see_also("DESCRIPTION\n    nothing") == []


@pytest.mark.skipif(shutil.which("man") is None, reason="needs the man command (man-db)")
def test_build_manpages_graded_end_to_end(tmp_path: Path) -> None:
    pages = {
        ("man1", "frob", "1"): ("frobnicate the widgets", "Frob turns widgets. " * 8,
                                "blip(1), frobconf(5), missing(9), frob(1)"),
        ("man1", "blip", "1"): ("send a blip", "Blip sends one blip. " * 8, "frob(1)"),
        ("man5", "frobconf", "5"): ("frob configuration file", "The file frob reads. " * 8, ""),
    }  # fmt: skip
    for (section, name, number), (desc, body, see) in pages.items():
        (tmp_path / section).mkdir(exist_ok=True)
        text = ROFF.format(upper=name.upper(), section=number, name=name, desc=desc, body=body,
                           see=see)  # fmt: skip
        with gzip.open(tmp_path / section / f"{name}.{number}.gz", "wt") as fh:
            fh.write(text)
    root = build_manpages_graded(
        tmp_path / "out", man_dir=[tmp_path / "man1", tmp_path / "man5", tmp_path / "nope"]
    )
    queries, qrels = _both(root)
    assert sorted(queries.values()) == ["frobnicate the widgets", "send a blip"]
    assert qrels["q:frob.1"] == {"frob.1": 2, "blip.1": 1, "frobconf.5": 1}
    assert qrels["q:blip.1"] == {"blip.1": 2, "frob.1": 1}
    assert sorted(load_beir(root, "test").corpus) == ["blip.1", "frob.1", "frobconf.5"]
    info = json.loads((root / "dataset.json").read_text())
    assert info["see_also_links_in_corpus"] == 3 and "nope" not in info["source"]


# -- Python reference (HTML) -----------------------------------------------------------

PAGE = """<html><head><title>x</title></head><body>
<div class="sphinxsidebar">Sidebar text that is not content.</div>
<div class="body" role="main"><section>
<h1>mod — A module<a class="headerlink" href="#m">¶</a></h1>
<p>{intro}</p>
<dl class="py function">
<dt class="sig sig-object py" id="mod.far">mod.far(x)<a class="headerlink" href="#f">¶</a></dt>
<dd><p>Return the far value of x. It is computed slowly, e.g. by walking.</p>
<div class="versionadded"><p>New in version 3.2.</p></div></dd></dl>
<dl class="py class">
<dt class="sig sig-object py" id="mod.Thing">class mod.Thing</dt>
<dd><div class="deprecated"><p>Deprecated since 3.9.</p></div>
<p>Not a description: the first child is a note.</p>
<dl class="py method">
<dt class="sig sig-object py" id="mod.Thing.run">run()</dt>
<dd><p>Run the thing until it stops by itself.</p></dd></dl>
</dd></dl>
<dl class="py attribute"><dt id="mod.attr">attr</dt><dd><p>An attribute is not a query.</p></dd></dl>
<pre>code   keeps
  its lines</pre>
<p>Return the far value of x.</p>
</section></div>
<div class="footer">Footer text.</div>
</body></html>"""


def test_first_sentence() -> None:
    assert first_sentence("One two. Three.") == "One two."
    assert first_sentence("Uses a, i.e. b, here. Next.") == "Uses a, i.e. b, here."
    assert first_sentence("no end") == "no end"


def test_parse_page_marks_descriptions_and_reads_only_the_main_body() -> None:
    page = parse_page(PAGE.format(intro="Some words " * 10), "library/mod.html")
    assert page.title == "mod — A module"
    found = {oid: (s, off) for oid, s, off in page.descriptions()}
    assert set(found) == {"mod.far", "mod.Thing.run"}  # the class starts with a note
    assert found["mod.far"][0] == "Return the far value of x."
    assert found["mod.far"][1] > found["mod.Thing.run"][1] - 50 > 0
    text = page.text(set())
    assert "Sidebar" not in text and "Footer" not in text and "¶" not in text
    assert "It is computed slowly" in text and "An attribute is not a query." in text
    removed = page.text({"Return the far value of x."})
    assert "Return the far value of x." not in removed  # both places
    assert "It is computed slowly, e.g. by walking." in removed


def test_build_pyref_deep_queries_only_and_sentences_removed(tmp_path: Path) -> None:
    html = tmp_path / "html"
    (html / "library").mkdir(parents=True)
    (html / "c-api").mkdir()
    (html / "library" / "mod.html").write_text(PAGE.format(intro="Intro words " * 60))
    near = PAGE.format(intro="short").replace("mod", "near").replace("the thing", "it")
    (html / "library" / "near.html").write_text(near)
    root = build_pyref(tmp_path / "out", html_dir=html, min_offset=100)
    queries, qrels = _both(root)
    corpus = load_beir(root, "test").corpus
    # "Return the far value of x." is on both pages (ambiguous, though shallow on
    # near.html); the run() sentence is deep only on mod.html (its intro: 120 words)
    assert queries == {"q:mod.Thing.run": "Run the thing until it stops by itself."}
    assert qrels["q:mod.Thing.run"] == {"library/mod.html": 1}
    assert "Run the thing until it stops by itself." not in corpus["library/mod.html"].text
    assert "Run it until it stops by itself." in corpus["library/near.html"].text  # shallow
    info = json.loads((root / "dataset.json").read_text())
    assert info["descriptions_on_other_pages_too"] == 1 and info["min_offset_words"] == 100


def test_build_pyref_without_the_docs_says_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="python3-doc"):
        build_pyref(tmp_path / "out", html_dir=tmp_path)


@pytest.mark.skipif(
    not (Path(DEFAULT_HTML_DIR) / "library" / "os.html").is_file(),
    reason=f"source absent: {DEFAULT_HTML_DIR} (apt-get install python3-doc)",
)
def test_pyref_parses_the_real_os_page() -> None:
    path = Path(DEFAULT_HTML_DIR) / "library" / "os.html"
    page = parse_page(path.read_text(encoding="utf-8"), "library/os.html")
    found = {oid: (s, off) for oid, s, off in page.descriptions()}
    sentence, offset = found["os.getcwd"]
    assert sentence == "Return a string representing the current working directory."
    assert offset > 1000 and page.title.startswith("os —")
    assert sentence not in page.text({sentence})


# -- kernel Documentation/ -------------------------------------------------------------

RST = """.. SPDX-License-Identifier: GPL-2.0

.. _frob_guide:

=================
The frob subsystem
=================

Frob keeps widgets in order. It was written long ago.

1. Configuring frob
===================

Set the widget count at boot with frob.count=N on the command line.

Each widget takes one page of memory.

Runtime knobs
-------------

The knobs live in /sys/kernel/frob and can be changed at any time.

Getting started
---------------

Generic heading, shared with the other file.
"""


def test_rst_sections_levels_follow_first_appearance() -> None:
    sections = rst_sections(RST)
    assert [(s.level, s.heading) for s in sections] == [
        (-1, ""),
        (0, "The frob subsystem"),
        (1, "1. Configuring frob"),
        (2, "Runtime knobs"),
        (2, "Getting started"),
    ]


def test_passages_join_paragraphs_up_to_the_limit_and_cut_long_ones() -> None:
    assert passages(["a b", "", "c d", "", "e f"], max_words=4) == ["a b\nc d", "e f"]
    long = " ".join(f"w{i}" for i in range(10))
    assert passages([long], max_words=4) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert passages([".. _label:", "", ".. toctree::", "   x"]) == []


def _kernel_tree(root: Path) -> None:
    (root / "process").mkdir(parents=True)
    with gzip.open(root / "process" / "frob.rst.gz", "wt") as fh:
        fh.write(RST)
    other = "Other guide\n===========\n\nGetting started\n---------------\n\nSomething else.\n"
    (root / "other.rst").write_text(other)
    (root / "notes.txt").write_text("Plain notes without headings.\n\nSecond paragraph.\n")
    (root / "bindings").mkdir()
    (root / "bindings" / "frob.yaml").write_text("title: Frob controller\ndescription: A chip.\n")
    (root / "translations" / "it_IT").mkdir(parents=True)
    (root / "translations" / "it_IT" / "frob.rst").write_text("Titolo\n======\n\nTesto.\n")
    (root / "conf.py").write_text("print('not documentation')\n")


def test_build_kernel_docs_end_to_end(tmp_path: Path) -> None:
    _kernel_tree(tmp_path / "Documentation")
    root = build_kernel_docs(tmp_path / "out", docs_dir=tmp_path / "Documentation")
    queries, qrels = _both(root)
    corpus = load_beir(root, "test").corpus
    assert sorted(queries.values()) == ["Configuring frob", "Runtime knobs"]  # numbering gone
    (configuring,) = [q for q, t in queries.items() if t == "Configuring frob"]
    (unit,) = qrels[configuring]
    assert corpus[unit].text.startswith("Set the widget count")
    assert "Each widget takes one page" in corpus[unit].text
    assert corpus[unit].title == "The frob subsystem"
    assert not any("Configuring frob" in d.text or "SPDX" in d.text for d in corpus.values())
    assert not any("Titolo" in d.text or "not documentation" in d.text for d in corpus.values())
    assert any(d.title == "Frob controller" for d in corpus.values())  # yaml: corpus only
    assert any(d.text.startswith("Plain notes") for d in corpus.values())
    info = json.loads((root / "dataset.json").read_text())
    assert info["counts"]["ambiguous_queries"] == 2  # "Getting started" twice


def test_build_kernel_docs_without_the_tree_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="linux-doc"):
        build_kernel_docs(tmp_path / "out", docs_dir=tmp_path)


@pytest.mark.skipif(
    not (Path(DEFAULT_DOCS_DIR) / "process" / "submitting-patches.rst.gz").is_file(),
    reason=f"source absent: {DEFAULT_DOCS_DIR} (apt-get install linux-doc)",
)
def test_kernel_docs_real_guide_has_its_sections() -> None:
    path = Path(DEFAULT_DOCS_DIR) / "process" / "submitting-patches.rst.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        sections = rst_sections(fh.read())
    headings = [s.heading for s in sections]
    assert "Describe your changes" in headings
    describe = sections[headings.index("Describe your changes")]
    assert passages(describe.lines)[0].startswith("Describe your problem.")

"""The ``polyvec`` command end to end, on the real embedded Qdrant engine (on disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from polyvec.cli import main

pytestmark = [pytest.mark.qdrant, pytest.mark.models]

PAGES = {
    "gzip.txt": "gzip reduces the size of the named files using Lempel-Ziv coding (LZ77).",
    "grep.txt": "grep searches for PATTERNS in each FILE and prints each line that matches.",
    "chown.txt": "chown changes the user and/or group ownership of each given file.",
    "notes.md": "# Notes\n\nThe diff utility compares files line by line.",
}


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in PAGES.items():
        (docs / name).write_text(text)
    (docs / "ignored.bin").write_bytes(b"\x00\x01")
    (docs / "same-as-grep.txt").write_text(PAGES["grep.txt"])  # an alias: ingested once
    return f"qdrant+local://{tmp_path / 'store'}", docs


def test_ingest_search_info(store, capsys):
    url, docs = store
    assert main(["ingest", str(docs), "--url", url, "--collection", "man", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "added 4, updated 0, unchanged 0, removed 0, skipped 2, failed 0" in out
    assert "not a document type (.bin)" in out and "same content as another file" in out
    # again, from the summary's JSON: nothing changed, nothing embedded
    argv = ["ingest", str(docs), "--url", url, "--collection", "man", "--no-progress", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["unchanged"], report["chunks_embedded"]) == (4, 0)

    assert (
        main(
            [
                "search",
                "find lines matching a pattern",
                "--url",
                url,
                "--collection",
                "man",
                "--k",
                "2",
                "--json",
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["metadata"]["title"] == "grep"
    assert hits[0]["kind"] == "dbsf" and {s["leg"] for s in hits[0]["sources"]} <= {
        "dense",
        "sparse",
        "hybrid",
    }

    flt = json.dumps({"title": {"$in": ["gzip", "chown"]}})
    assert (
        main(
            [
                "search",
                "find lines matching a pattern",
                "--url",
                url,
                "--collection",
                "man",
                "--filter",
                flt,
                "--json",
                "--mode",
                "dense",
            ]
        )
        == 0
    )
    assert {h["metadata"]["title"] for h in json.loads(capsys.readouterr().out)} == {
        "gzip",
        "chown",
    }

    assert main(["search", "compress", "--url", url, "--collection", "man", "--mmr", "0.5"]) == 0
    assert "gzip" in capsys.readouterr().out

    # tuned settings: leg weights for dbsf/rrf and candidates per leg
    args = ["--url", url, "--collection", "man", "--json"]
    tuned = ["--fusion", "dbsf", "--dense-weight", "0.7", "--candidates", "3"]
    assert main(["search", "compress files", *args, *tuned]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["metadata"]["title"] == "gzip" and hits[0]["kind"] == "dbsf"

    # label-free tuning on the stored pages (every page sampled)
    assert main(["tune", "--url", url, "--collection", "man", "--queries", "4"]) == 0
    out = capsys.readouterr().out
    assert "chosen:" in out and "polyvec search QUERY --fusion" in out

    assert main(["info", "--url", url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["collections"]["man"]["count"] == 4
    assert "eq" in info["capabilities"]["filter_operators"]


def test_errors_are_reported_not_raised(store, capsys):
    url, _ = store
    assert main(["search", "x", "--url", url, "--filter", "{not json"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["search", "x", "--url", url, "--filter", '{"a": {"$regex": "x"}}']) == 2
    assert "$regex" in capsys.readouterr().err
    assert main(["search", "x", "--url", url, "--collection", "nope"]) == 2
    err = capsys.readouterr().err
    assert "collection 'nope' does not exist" in err and "polyvec ingest" in err
    assert main(["search", "x", "--url", "nosuchscheme://x"]) == 2
    assert "no backend for the URL scheme" in capsys.readouterr().err
    for bad in (["--fusion", "convex", "--dense-weight", "0.5"], ["--dense-weight", "1.5"]):
        assert main(["search", "x", "--url", url, *bad]) == 2
        assert "--dense-weight takes a number in (0, 1)" in capsys.readouterr().err
    assert main(["tune", "--url", url, "--collection", "nope"]) == 2
    assert "collection 'nope' does not exist" in capsys.readouterr().err


def test_ingest_of_a_missing_path_opens_nothing(tmp_path, capsys):
    # checked before the store is opened or the model loaded: a typo leaves no empty
    # collection (nor store) behind
    url = f"qdrant-edge://{tmp_path / 'store'}"
    assert main(["ingest", str(tmp_path / "no-such-dir"), "--url", url, "--no-progress"]) == 2
    assert "no-such-dir' does not exist: pass files or directories" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_info_redacts_secrets(capsys):
    from polyvec.safety.secrets import redact_url

    assert "s3cret" not in redact_url("postgresql://user:s3cret@host/db")
    assert "k3y" not in redact_url("qdrant://host:6333?api_key=k3y&timeout=5")
    url = "qdrant+local:///tmp/nowhere?api_key=k3y"
    assert main(["info", "--url", url, "--json"]) == 0
    assert "k3y" not in capsys.readouterr().out


def test_ingest_exit_code_and_grouped_search(tmp_path: Path, capsys):
    url = f"qdrant+local://{tmp_path / 'store'}"
    docs = tmp_path / "docs"
    docs.mkdir()
    long = " ".join(f"The chown command changes the owner of file number {i}." for i in range(60))
    (docs / "chown.txt").write_text(long)
    (docs / "gzip.txt").write_text("gzip compresses files and changes nothing else.")
    (docs / "locked.txt").write_text("unreadable")
    (docs / "locked.txt").chmod(0)
    argv = ["ingest", str(docs), "--url", url, "--no-progress"]
    code = main(argv)
    out = capsys.readouterr().out
    if os.geteuid() == 0:  # root reads any file: nothing fails
        assert code == 0 and "failed 0" in out
    else:
        assert code == 1 and "FAILED locked.txt" in out
    (docs / "locked.txt").chmod(0o644)
    argv = ["search", "change the owner of a file", "--url", url, "--k", "2", "--json"]
    assert main([*argv, "--group-by", "doc_id"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["metadata"]["doc_id"] == "chown.txt"
    assert len({h["metadata"]["doc_id"] for h in hits}) == 2
    assert hits[0]["group"] and hits[0]["passage"]
    for hit in hits:
        assert hit["scores"][hit["kind"]] == hit["score"]  # the fused score is always there
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert {h["metadata"]["doc_id"] for h in plain} == {"chown.txt"}  # two chunks of one file


def test_help_lists_every_command_plainly(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text
    for command in ("ingest", "search", "info", "migrate", "verify", "export", "import"):
        assert command in text
    helps = {}
    for command in ("ingest", "search"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = capsys.readouterr().out
        assert "``" not in helps[command] and "(default: documents)" in helps[command]
    assert "--delete-missing" in helps["ingest"] and "(default: 32)" in helps["ingest"]
    assert "--group-by" in helps["search"] and "(default: 5)" in helps["search"]


def test_info_says_local_mode_is_for_tiny_tests(tmp_path, capsys):
    """qdrant-client's pure-Python engine is named as such; the embedded default is not,
    and ``polyvec eval`` defaults to the embedded default (issue 15)."""
    from polyvec.evaluation.cli import EVAL_URL

    assert main(["info", "--url", "qdrant+memory://"]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "tiny tests only" in out and "qdrant-edge://" in out
    assert main(["info", "--url", f"qdrant-edge://{tmp_path / 'edge'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
    assert EVAL_URL == "qdrant-edge://"

"""``polyvec ingest/search --read-only`` and ``--encrypt FIELD`` end to end, on the real
embedded Qdrant engine (on disk) with the real default embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyvec.backends.registry import open_backend
from polyvec.cli import main
from polyvec.safety.encryption import KEY_ENV, PREFIX

pytestmark = [pytest.mark.qdrant, pytest.mark.models]
cryptography = pytest.importorskip("cryptography")
from cryptography.fernet import Fernet  # noqa: E402

PAGES = {
    "gzip.txt": "gzip reduces the size of the named files using Lempel-Ziv coding (LZ77).",
    "grep.txt": "grep searches for PATTERNS in each FILE and prints each line that matches.",
    "chown.txt": "chown changes the user and/or group ownership of each given file.",
}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in PAGES.items():
        (folder / name).write_text(text)
    return folder


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_read_only_search_works_and_ingest_is_refused(docs, tmp_path, capsys):
    url = f"qdrant+local://{tmp_path / 'store'}"
    assert _run(capsys, "ingest", str(docs), "--url", url, "--no-progress")[0] == 0
    code, out, _ = _run(capsys, "search", "find lines matching a pattern", "--url", url,
                        "--read-only", "--json", "--k", "1")  # fmt: skip
    assert code == 0 and json.loads(out)[0]["metadata"]["title"] == "grep"
    (docs / "more.txt").write_text("tar stores and extracts files from an archive.")
    code, out, err = _run(capsys, "ingest", str(docs), "--url", url, "--read-only",
                          "--no-progress")  # fmt: skip
    assert code != 0 and out == ""
    assert "refused to ingest documents" in err and "--read-only" in err
    code, out, err = _run(capsys, "ingest", str(docs), "--url", url, "--collection", "new",
                          "--read-only", "--no-progress")  # fmt: skip
    assert code != 0 and "read-only" in err
    backend = open_backend(url)
    try:
        assert backend.count("documents") == 3 and "new" not in backend.list_collections()
    finally:
        backend.close()


def test_encrypted_field_through_the_cli(docs, tmp_path, capsys, monkeypatch):
    url = f"qdrant+local://{tmp_path / 'store'}"
    key, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.delenv(KEY_ENV, raising=False)
    code, out, err = _run(capsys, "ingest", str(docs), "--url", url, "--encrypt", "source")
    assert code == 2 and KEY_ENV in err and "--key-file" in err  # no key: refused, says where
    monkeypatch.setenv(KEY_ENV, key)
    code, out, err = _run(capsys, "ingest", str(docs), "--url", url, "--encrypt", "source",
                          "--encrypt", "title", "--no-progress")  # fmt: skip
    assert code == 0, err
    seen = out + err
    backend = open_backend(url)  # what the engine stores: ciphertext
    try:
        stored = [d.metadata for page in backend.scroll("documents") for d in page]
    finally:
        backend.close()
    assert len(stored) == 3
    assert all(m["source"].startswith(PREFIX) and m["title"].startswith(PREFIX) for m in stored)
    assert not any("grep" in m["source"] for m in stored)

    query = ["search", "find lines matching a pattern", "--url", url, "--json", "--k", "1"]
    code, out, err = _run(capsys, *query, "--encrypt", "source", "--encrypt", "title")
    seen += out + err
    assert code == 0 and json.loads(out)[0]["metadata"]["title"] == "grep"  # decrypted
    assert json.loads(out)[0]["metadata"]["source"].endswith("grep.txt")
    code, out, _ = _run(capsys, *query)  # without the key: the stored ciphertext
    assert json.loads(out)[0]["metadata"]["title"].startswith(PREFIX)
    flt = json.dumps({"title": "grep"})
    code, out, err = _run(capsys, *query, "--encrypt", "title", "--filter", flt)
    assert code == 2 and "encrypted at rest" in err

    key_file = tmp_path / "keys.txt"  # rotation: a new key first, the old one after it
    key_file.write_text(f"# newest first\n{Fernet.generate_key().decode()}\n{key}\n")
    monkeypatch.setenv(KEY_ENV, old)  # the file wins over the environment
    code, out, err = _run(capsys, *query, "--encrypt", "title", "--key-file", str(key_file))
    seen += out + err
    assert code == 0 and json.loads(out)[0]["metadata"]["title"] == "grep"
    code, out, err = _run(capsys, *query, "--encrypt", "title")  # a wrong key
    seen += out + err
    assert code == 2 and "does not decrypt" in err
    assert key not in seen and old not in seen  # a key is never printed

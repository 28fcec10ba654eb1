"""No password or API key reaches repr, an error message, a log line or CLI output.

Each case makes a real call that fails (closed port, missing database) with a secret
in the URL, then greps everything the user could see for it."""

from __future__ import annotations

import logging
import pickle
import socket

import pytest

from polyvec.cli import main
from polyvec.safety import RetryingBackend, RetryPolicy, Secret, redact_url, scrub, secrets_in_url
from polyvec.safety.secrets import secret_from_env

PASSWORD = "Pw-S3cr3t-91827"
API_KEY = "key-7f3e9a0c5b"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: connections are refused


def test_secret_values_never_show():
    s = Secret(PASSWORD)
    assert PASSWORD not in repr(s) and PASSWORD not in str(s) and PASSWORD not in f"{s}"
    assert PASSWORD not in repr({"password": s}) and s.reveal() == PASSWORD
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_secret_from_env(monkeypatch):
    monkeypatch.setenv("PV_TEST_KEY", API_KEY)
    assert secret_from_env("PV_TEST_KEY").reveal() == API_KEY
    monkeypatch.delenv("PV_TEST_KEY")
    with pytest.raises(Exception, match="export PV_TEST_KEY="):
        secret_from_env("PV_TEST_KEY")


def test_redact_and_scrub():
    url = f"postgresql://app:{PASSWORD}@db:5432/rag?sslmode=require&api_key={API_KEY}"
    assert redact_url(url) == "postgresql://app:***@db:5432/rag?sslmode=require&api_key=***"
    assert set(secrets_in_url(url)) >= {PASSWORD, API_KEY}
    text = f"failed: {url} (password={PASSWORD}) token: {API_KEY}"
    clean = scrub(text, secrets_in_url(url))
    assert PASSWORD not in clean and API_KEY not in clean
    assert (
        scrub(f"connect to qdrant://u:{PASSWORD}@h failed") == "connect to qdrant://u:***@h failed"
    )


def _urls(engine_url) -> list[str]:
    port = _closed_port()
    pg = engine_url("pgvector")  # a real server: the database named below does not exist
    host_part = pg.split("@", 1)[-1] if "@" in pg else pg.split("://", 1)[1]
    return [
        f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/rag",
        f"postgresql://app:{PASSWORD}@{host_part.replace('/postgres', '/no_such_db', 1)}",
        f"chroma://127.0.0.1:{port}?token={API_KEY}",
        f"qdrant://127.0.0.1:{port}?api_key={API_KEY}",
    ]


@pytest.mark.pgvector
@pytest.mark.chroma
@pytest.mark.qdrant
@pytest.mark.parametrize("command", ["migrate", "export", "import", "verify", "info", "search"])
def test_cli_output_of_failing_calls_has_no_secret(engine_url, tmp_path, capsys, caplog, command):
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "x.jsonl"
    target.write_text("{}\n")
    for url in _urls(engine_url):
        argv = {
            "migrate": ["migrate", url, url, "--retries", "1", "--checkpoint", str(tmp_path / "c")],
            "verify": ["verify", url, url, "--retries", "0"],
            "export": ["export", "--url", url, str(tmp_path / "out.jsonl"), "--retries", "0"],
            "import": ["import", str(target), "--url", url, "--retries", "0"],
            "info": ["info", "--url", url],
            "search": ["search", "hello", "--url", url],
        }[command]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        except Exception as exc:  # an error escaping the CLI is also output
            code = 99
            print(repr(exc), str(exc))
        out = capsys.readouterr()
        seen = out.out + out.err + caplog.text
        assert code != 0, (command, url)
        assert PASSWORD not in seen and API_KEY not in seen, (command, seen[-2000:])
        caplog.clear()


@pytest.mark.pgvector
@pytest.mark.chroma
@pytest.mark.qdrant
def test_backend_repr_and_errors_have_no_secret(engine_url, caplog):
    from polyvec.backends.registry import open_backend

    caplog.set_level(logging.DEBUG)
    for url in _urls(engine_url):
        policy = RetryPolicy(attempts=2, base_delay=0.01)
        try:
            backend = RetryingBackend(open_backend(url), policy)
            text = repr(backend)
            backend.list_collections()
        except Exception as exc:
            text = f"{exc!r} {exc} {exc.__cause__!r}"
        assert PASSWORD not in text and API_KEY not in text, text
        assert PASSWORD not in caplog.text and API_KEY not in caplog.text

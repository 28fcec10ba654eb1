"""A planted secret never reaches any error path, repr or log line.

The secret rides in every place a credential can sit — a URL's password, ``?password=``,
``?sslpassword=``, ``?api_key=``, ``?token=``, a libpq ``key=value`` DSN (plain and
quoted), a URL with a typo in its scheme or no ``//`` — on every backend's URL. Each
URL goes through ``polyvec.connect``, ``open_backend`` + ``repr`` + a call under
``RetryingBackend`` (which logs its retries), and the CLI commands that take a URL
(``--url`` and ``$POLYVEC_URL``). Everything the user could see is collected — the
error's ``str`` and ``repr``, every link of its cause chain, the backend's ``repr``,
stdout, stderr and every log record — and grepped for the secret."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

import polyvec
from polyvec.backends.registry import open_backend
from polyvec.cli import main
from polyvec.redaction import redact_url, scrub, secrets_in_url
from polyvec.safety import RetryingBackend, RetryPolicy

SECRET = "Pl4nted-S3cret-6f1d"
QUOTED = "pl4nted s3cret 2"  # a DSN value with a space must be quoted: 'pl4nted s3cret 2'


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: connections are refused


def _urls(tmp: str) -> list[str]:
    port = _closed_port()
    s = SECRET
    return [
        f"postgresql://app:{s}@127.0.0.1:{port}/rag",
        f"postgresql://app@127.0.0.1:{port}/rag?password={s}",
        f"postgresql://app@127.0.0.1:{port}/rag?sslpassword={s}&sslmode=disable",
        f"postgres://app:{s}@127.0.0.1:{port}/rag?schema=BAD-SCHEMA!",
        f"host=127.0.0.1 port={port} user=app password={s} dbname=rag",
        f"host=127.0.0.1 port={port} user=app password='{QUOTED}' dbname=rag",
        f"host=127.0.0.1 port={port} sslpassword={s} dbname=rag connect_timeout=1",
        f"qdrant://127.0.0.1:{port}?api_key={s}",
        f"qdrant://:{s}@127.0.0.1:{port}",
        f"qdrant://127.0.0.1:{port}?api_key={s}&nonsense=1",
        f"qdrant-edge://{tmp}/edge?api_key={s}",
        f"qdrant+local://{tmp}/local?api_key={s}&batch_size=x",
        f"chroma://127.0.0.1:{port}?token={s}",
        f"chroma://127.0.0.1:{port}?token={s}&bogus=1",
        f"chroma+local://{tmp}/chroma?token={s}&bogus=1",
        f"milvus://app:{s}@127.0.0.1:{port}?timeout=1",
        f"milvus://127.0.0.1:{port}?token={s}&timeout=1&bogus=1",
        f"pinecone://127.0.0.1:{port}?api_key={s}&bogus=1",
        f"weaviate://127.0.0.1:{port}?api_key={s}&bogus=1",
        f"qdrant_edge://{tmp}/x?api_key={s}",
        f"qdrnt://app:{s}@127.0.0.1:{port}",
        f"chroma+local:{tmp}/nodoubleslash?token={s}",
        f"nonsense with password={s} in it",
    ]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _shown(exc: BaseException) -> str:
    return " ".join(f"{type(e).__name__} {e} {e!r} {e.args!r}" for e in _chain(exc))


def _assert_clean(text: str, where: str) -> None:
    assert SECRET not in text and QUOTED not in text, (where, text[-3000:])


def test_the_scrubber_masks_every_form():
    for url in _urls("/tmp/x"):
        shown = redact_url(url) + scrub(f"failed on {url}") + scrub(url, secrets_in_url(url))
        _assert_clean(shown, url)
        assert set(secrets_in_url(url)) & {SECRET, QUOTED} or "nonsense" in url, url


def test_polyvec_errors_scrub_their_own_message():
    err = polyvec.ConfigurationError(f"'host=db password={SECRET} dbname=x' has no scheme")
    _assert_clean(str(err) + repr(err), "ConfigurationError")
    err2 = polyvec.BackendError(f"failed on chroma://h?token={SECRET}&x=1")
    _assert_clean(str(err2), "BackendError")


@pytest.mark.pgvector
@pytest.mark.chroma
@pytest.mark.qdrant
@pytest.mark.milvus
def test_connect_open_repr_and_retry_logs_hold_no_secret(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for url in _urls(str(tmp_path)):
        seen = ""
        try:
            polyvec.connect(url, collection="kb", embedder=_Tiny())
        except Exception as exc:
            seen += _shown(exc)
        try:
            backend = RetryingBackend(open_backend(url), RetryPolicy(attempts=2, base_delay=0.0))
            seen += repr(backend) + repr(backend.inner)
            try:
                backend.list_collections()
            finally:
                backend.close()
        except Exception as exc:
            seen += _shown(exc)
        _assert_clean(seen + caplog.text, url)
        caplog.clear()


@pytest.mark.pgvector
@pytest.mark.chroma
@pytest.mark.qdrant
@pytest.mark.milvus
@pytest.mark.parametrize(
    "command", ["info", "search", "ingest", "migrate", "export", "import", "verify"]
)
@pytest.mark.parametrize("via_env", [False, True], ids=["--url", "POLYVEC_URL"])
def test_cli_commands_print_no_secret(tmp_path, capsys, caplog, monkeypatch, command, via_env):
    caplog.set_level(logging.DEBUG)
    source = tmp_path / "in.txt"
    source.write_text("hello world\n")
    dump = tmp_path / "x.jsonl"
    dump.write_text("{}\n")
    for url in _urls(str(tmp_path)):
        where = [] if via_env else ["--url", url]
        if via_env:
            monkeypatch.setenv("POLYVEC_URL", url)
        argv = {
            "info": ["info", *where],
            "search": ["search", "hello", *where],
            "ingest": ["ingest", str(source), *where, "--no-progress"],
            "migrate": ["migrate", url, url, "--retries", "1",
                        "--checkpoint", str(tmp_path / "c")],
            "export": ["export", *where, str(tmp_path / "out.jsonl"), "--retries", "0"],
            "import": ["import", str(dump), *where, "--retries", "0"],
            "verify": ["verify", url, url, "--retries", "0"],
        }[command]  # fmt: skip
        seen = ""
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        except Exception as exc:  # an error escaping the CLI is output too
            code = 99
            seen += _shown(exc)
        out = capsys.readouterr()
        seen += out.out + out.err + caplog.text
        assert code != 0, (command, url, seen[-1000:])
        _assert_clean(seen, f"{command} {url}")
        caplog.clear()


class _Tiny:
    """A 4-dimensional embedder, so no model is loaded for these calls."""

    name = "tiny-4"
    dimension = 4

    def embed_documents(self, texts):
        import numpy as np

        return np.ones((len(texts), 4), dtype=np.float32) / 2

    embed_queries = embed_documents

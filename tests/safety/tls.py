"""A private CA and a server certificate for TLS tests, made with ``cryptography``.

``make_certs(folder, hosts=["127.0.0.1", "localhost"])`` writes ``ca.pem``,
``server.pem`` and ``server.key`` (unencrypted, mode 0600) and returns their paths; the
server certificate names ``hosts`` (IP addresses or DNS names) as subject alternative
names, so ``sslmode=verify-full`` / hostname checks pass for them and fail for others.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def _name(common: str):  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certs(folder: Path, hosts: list[str], *, ca_name: str = "polyvec test CA") -> Certs:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    out = Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out.key.chmod(0o600)
    return out


class TlsProxy:
    """TLS on ``127.0.0.1:port`` in front of a plain socket (a stand-in for a server's
    own TLS when its build has none): each connection is TLS-wrapped with ``certs``
    (ALPN ``alpn``), then its bytes are forwarded both ways to ``target`` (a Unix socket
    path, or a ``(host, port)`` pair). ``close()`` stops it; ``handshakes`` counts the
    TLS handshakes that succeeded."""

    def __init__(self, certs: Certs, target: str | tuple[str, int], alpn: str | None) -> None:
        import socket
        import ssl
        import threading

        self.target = target
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certs.cert, certs.key)
        if alpn:
            self.context.set_alpn_protocols([alpn])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.handshakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _upstream(self):  # type: ignore[no-untyped-def]
        import socket

        if isinstance(self.target, str):
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.target)
            return up
        return socket.create_connection(self.target, timeout=10)

    def _serve(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._handle, args=(raw,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _handle(self, raw) -> None:  # type: ignore[no-untyped-def]
        import selectors
        import ssl

        raw.settimeout(10)
        try:
            tls = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # the client refused our certificate (as it should, sometimes)
            return
        self.handshakes += 1
        up = self._upstream()
        up.settimeout(10)
        peer = {tls: up, up: tls}
        # selectors, not select.select: in a long test session descriptors pass 1024,
        # which select() cannot watch ("filedescriptor out of range")
        watch = selectors.DefaultSelector()
        watch.register(tls, selectors.EVENT_READ)
        watch.register(up, selectors.EVENT_READ)
        try:  # one thread per connection: an SSL socket must not be used by two at once
            while not self._stop.is_set():
                if tls.pending():
                    ready = [tls]
                else:
                    ready = [key.fileobj for key, _ in watch.select(0.2)]
                for source in ready:
                    data = source.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    peer[source].sendall(data)  # type: ignore[index]
        except OSError:
            pass
        finally:
            watch.close()
            tls.close()
            up.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._accept.join(timeout=5)

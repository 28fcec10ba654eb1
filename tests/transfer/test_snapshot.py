"""Native snapshots: which engines here have them (none that can run here: only a
Qdrant server does), and the refusals. The Qdrant server path itself is NOT tested
(no Qdrant server can run in this environment); see polyvec.transfer.snapshot."""

from __future__ import annotations

import socket

import pytest

from polyvec.backends.registry import open_backend
from polyvec.cli import main
from polyvec.errors import BackendUnavailableError, ConfigurationError, ReadOnlyError
from polyvec.safety import RetryingBackend, RetryPolicy, guard
from polyvec.transfer.snapshot import create_snapshot, restore_snapshot, supports_snapshots
from tests.transfer.conftest import fill

LOCAL = [pytest.param("qdrant-local", marks=pytest.mark.qdrant),
         pytest.param("qdrant-edge", marks=pytest.mark.qdrant),
         pytest.param("pgvector", marks=pytest.mark.pgvector)]  # fmt: skip


@pytest.mark.parametrize("variant", LOCAL)
def test_engines_here_refuse_snapshots_and_point_to_export(engine_url, variant, tmp_path):
    backend = open_backend(engine_url(variant))
    try:
        fill(backend, "kb", 5)
        assert not supports_snapshots(backend)
        with pytest.raises(ConfigurationError, match="polyvec export"):
            create_snapshot(backend, "kb", tmp_path / "kb.snapshot")
        assert not (tmp_path / "kb.snapshot").exists()
    finally:
        backend.close()


@pytest.mark.qdrant
def test_qdrant_local_client_has_no_snapshots(tmp_path):
    """Why qdrant+local says no: qdrant-client's local mode itself refuses."""
    backend = open_backend(f"qdrant+local://{tmp_path / 'q'}")
    try:
        fill(backend, "kb", 3)
        with pytest.raises(NotImplementedError, match="not supported in the local Qdrant"):
            backend.client.create_snapshot("kb")  # type: ignore[attr-defined]
    finally:
        backend.close()


@pytest.mark.qdrant
def test_qdrant_server_backend_offers_snapshots_and_fails_cleanly_when_down(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    backend = open_backend(f"qdrant://127.0.0.1:{port}?timeout=2")
    try:
        assert supports_snapshots(backend)
        assert supports_snapshots(RetryingBackend(backend, RetryPolicy(attempts=1)))
        with pytest.raises(BackendUnavailableError):
            create_snapshot(backend, "kb", tmp_path / "kb.snapshot")
        (tmp_path / "in.snapshot").write_bytes(b"not sent")
        with pytest.raises(ReadOnlyError):
            restore_snapshot(guard(backend, read_only=True), "kb", tmp_path / "in.snapshot")
    finally:
        backend.close()


@pytest.mark.qdrant
def test_cli_snapshot_refused_on_local_store(tmp_path, capsys):
    url = f"qdrant+local://{tmp_path / 'q'}"
    backend = open_backend(url)
    fill(backend, "kb", 3)
    backend.close()
    assert main(["snapshot", "create", str(tmp_path / "kb.snap"), "--url", url,
                 "--collection", "kb"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no native snapshots" in err and "polyvec export" in err

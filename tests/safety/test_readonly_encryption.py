"""Read-only mode refuses every write; encrypted metadata fields are ciphertext in the
engine, plaintext to the user, and filters on them are refused (real engines)."""

from __future__ import annotations

import pytest

from polyvec import Collection, F
from polyvec.backends.registry import open_backend
from polyvec.errors import ConfigurationError, EncryptedFieldError, ReadOnlyError
from polyvec.safety import ReadOnlyBackend, guard
from polyvec.safety.encryption import PREFIX, EncryptedBackend
from polyvec.types import Document
from tests.transfer.conftest import fill
from tests.transfer.data import HashEmbedder

cryptography = pytest.importorskip("cryptography")
from cryptography.fernet import Fernet  # noqa: E402

ENGINES = [pytest.param("qdrant-local", marks=pytest.mark.qdrant),
           pytest.param("pgvector", marks=pytest.mark.pgvector)]  # fmt: skip


@pytest.mark.parametrize("variant", ENGINES)
def test_read_only_refuses_writes_and_serves_reads(engine_url, variant):
    url = engine_url(variant)
    raw = open_backend(url)
    fill(raw, "kb", 20)
    ro = ReadOnlyBackend(raw)
    coll = Collection(ro, "kb", embedder=HashEmbedder(), create=False)
    try:
        assert coll.count() == 21 and coll.search("backup", k=3, mode="dense")
        with pytest.raises(ReadOnlyError, match="opened read-only"):
            coll.add([Document("new", "text")])
        with pytest.raises(ReadOnlyError):
            coll.delete(["5"])
        with pytest.raises(ReadOnlyError):
            coll.drop()
        with pytest.raises(ReadOnlyError):
            Collection(ro, "other", embedder=HashEmbedder())  # would create it
        assert raw.count("kb") == 21 and "other" not in raw.list_collections()
    finally:
        raw.close()


@pytest.mark.parametrize("variant", ENGINES)
def test_encrypted_fields(engine_url, variant):
    key = Fernet.generate_key()
    raw = open_backend(engine_url(variant))
    enc = guard(raw, encrypt_fields=["email", "nested.label"], key=key)
    coll = Collection(enc, "kb", embedder=HashEmbedder())
    try:
        docs = [Document(i, f"person {i}", {"email": f"p{i}@example.com", "team": i % 2,
                                            "nested": {"label": f"secret-{i}", "g": i}})
                for i in range(6)]  # fmt: skip
        coll.add(docs)
        stored = raw.get("kb", [1])[0].metadata  # what the database holds
        assert stored["email"].startswith(PREFIX) and "p1@" not in str(stored)
        assert stored["nested"]["label"].startswith(PREFIX) and stored["team"] == 1
        got = coll.get([1])[0]
        assert got.metadata == docs[1].metadata  # decrypted for the user
        hits = coll.search("person", k=6, mode="dense", filter=F("team") == 1)
        assert {h.id for h in hits} == {1, 3, 5}
        assert all(h.document.metadata["email"].endswith("@example.com") for h in hits)
        assert coll.count(F("email").exists()) == 6  # presence is not secret
        for bad in (F("email") == "p1@example.com", F("nested.label").is_in(["x"]),
                    ~(F("team") == 1) | (F("email") != "x")):  # fmt: skip
            with pytest.raises(EncryptedFieldError, match="encrypted at rest"):
                coll.search("person", k=3, mode="dense", filter=bad)
            with pytest.raises(EncryptedFieldError):
                coll.count(bad)
        with pytest.raises(ConfigurationError, match="does not decrypt"):
            EncryptedBackend(raw, ["email"], Fernet.generate_key()).get("kb", [1])
        rotated = EncryptedBackend(raw, ["email"], [Fernet.generate_key(), key])
        assert rotated.get("kb", [2])[0].metadata["email"] == "p2@example.com"
        with pytest.raises(ConfigurationError, match="not a Fernet key"):
            EncryptedBackend(raw, ["email"], b"short")
    finally:
        raw.close()

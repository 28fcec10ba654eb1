"""Encrypt chosen metadata fields at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The named fields are encrypted before they reach the database and decrypted on the
way back (get, scroll, search hits); text, vectors and other fields are untouched.
A filter that compares an encrypted field raises ``EncryptedFieldError`` instead of
silently matching nothing (``exists`` is allowed: presence is not encrypted)::

    from cryptography.fernet import Fernet
    key = Fernet.generate_key()                  # keep it in a secrets manager
    backend = EncryptedBackend(open_backend(url), fields=["email", "notes.private"], key=key)

Nested fields are written ``a.b``. Several keys (newest first) allow key rotation:
``key=[new_key, old_key]`` decrypts both and encrypts with the new one. Needs the
``cryptography`` package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from polyvec.backends.base import Backend
from polyvec.backends.values import check_document
from polyvec.errors import ConfigurationError, EncryptedFieldError, MissingDependencyError
from polyvec.facets import DEFAULT_SCAN_LIMIT, Facets, scan_facet
from polyvec.filters.ast import And, Comparison, Filter, Not, Op, Or
from polyvec.fusion import Fusion
from polyvec.safety.secrets import Secret
from polyvec.safety.wrapper import BackendWrapper
from polyvec.types import DocId, Document, Hit, SparseVector

__all__ = ["KEY_ENV", "PREFIX", "EncryptedBackend", "load_keys"]

PREFIX = "pvfernet1:"
"""Marks an encrypted value in the database (so a plain value is never 'decrypted')."""

KeyLike = bytes | str | Secret

KEY_ENV = "POLYVEC_ENCRYPTION_KEY"
"""Environment variable holding the Fernet key(s) (comma-separated, newest first)."""


def load_keys(key_file: str | os.PathLike[str] | None = None, env: str = KEY_ENV) -> list[Secret]:
    """The Fernet keys, newest first, as :class:`Secret` values (never shown): one per
    line of ``key_file`` when given (``#`` comments allowed), else from ``$env``
    (comma-separated). ``ConfigurationError`` says where to put them when there are none::

        backend = EncryptedBackend(inner, ["email"], load_keys("/run/secrets/polyvec.key"))
    """
    if key_file is not None:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the key file {os.fspath(key_file)!r} ({exc.strerror}): pass a "
                "file holding one Fernet key per line"
            ) from None
        found = [line.strip() for line in text.splitlines()]
        keys = [k for k in found if k and not k.startswith("#")]
        where = f"the key file {os.fspath(key_file)!r}"
    else:
        keys = [k.strip() for k in os.environ.get(env, "").split(",") if k.strip()]
        where = f"${env}"
    if not keys:
        raise ConfigurationError(
            f"encrypting fields needs a Fernet key and {where} holds none: export {env}=... "
            "or pass --key-file (make a key with cryptography.fernet.Fernet.generate_key())"
        )
    return [Secret(k) for k in keys]


def _fernet(keys: KeyLike | Sequence[KeyLike]) -> Any:
    try:
        from cryptography.fernet import Fernet, MultiFernet
    except ImportError as exc:  # pragma: no cover - cryptography is installed in CI
        raise MissingDependencyError("cryptography", "crypto", "field encryption") from exc
    many: list[Any] = list(keys) if isinstance(keys, (list, tuple)) else [keys]
    if not many:
        raise ConfigurationError("pass at least one Fernet key (Fernet.generate_key())")
    try:
        made = [Fernet(k.reveal() if isinstance(k, Secret) else k) for k in many]
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            "not a Fernet key (it must be 32 url-safe base64-encoded bytes): make one with "
            "cryptography.fernet.Fernet.generate_key()"
        ) from exc
    return MultiFernet(made)


def _fields_of(node: Filter | None) -> Iterator[Comparison]:
    if node is None:
        return
    if isinstance(node, Comparison):
        yield node
    elif isinstance(node, (And, Or)):
        for child in node.children:
            yield from _fields_of(child)
    elif isinstance(node, Not):
        yield from _fields_of(node.child)


class EncryptedBackend(BackendWrapper):
    """Encrypts ``fields`` of every document's metadata on the way in, decrypts on
    the way out, and refuses filters that compare them (see the module doc)."""

    def __init__(
        self, inner: Backend, fields: Iterable[str], key: KeyLike | Sequence[KeyLike]
    ) -> None:
        super().__init__(inner)
        self.fields = tuple(dict.fromkeys(fields))
        if not self.fields:
            raise ConfigurationError("name at least one metadata field to encrypt")
        self._fernet = _fernet(key)

    def __repr__(self) -> str:
        return f"<EncryptedBackend fields={list(self.fields)} {self.inner!r}>"

    # -- values ------------------------------------------------------------------------
    def _encrypt_value(self, value: Any) -> str:
        token: bytes = self._fernet.encrypt(json.dumps(value).encode())
        return PREFIX + token.decode()

    def _decrypt_value(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(PREFIX)):
            return value
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(value[len(PREFIX) :].encode()))
        except InvalidToken as exc:
            raise ConfigurationError(
                "an encrypted metadata value does not decrypt with the given key(s): pass "
                "the key it was written with (key=[new_key, old_key] during rotation)"
            ) from exc

    def _map(self, metadata: Mapping[str, Any], encrypt: bool) -> dict[str, Any]:
        out: dict[str, Any] = _deep_copy(metadata)
        for path in self.fields:
            *parents, leaf = path.split(".")
            node: Any = out
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and leaf in node:
                fn = self._encrypt_value if encrypt else self._decrypt_value
                node[leaf] = fn(node[leaf])
        return out

    def _out(self, doc: Document) -> Document:
        return replace(doc, metadata=self._map(doc.metadata, encrypt=False))

    def _hits(self, hits: list[Hit]) -> list[Hit]:
        return [replace(h, document=self._out(h.document)) for h in hits]

    def check_filter(self, filter: Filter | None) -> None:
        """Raise ``EncryptedFieldError`` if ``filter`` compares an encrypted field."""
        for cmp in _fields_of(filter):
            if cmp.op in (Op.EXISTS, Op.IS_NULL):  # presence is not encrypted
                continue
            for path in self.fields:
                if cmp.field == path or cmp.field.startswith(path + "."):
                    raise EncryptedFieldError(cmp.field)

    # -- the backend calls -------------------------------------------------------------
    def check_documents(self, documents: Sequence[Document]) -> None:
        for doc in documents:  # what nothing can store (or encrypt), said before encrypting
            check_document(doc, max_int=None, engine="polyvec")
        # the engine stores the encrypted form (a string where a value is encrypted)
        self.inner.check_documents(
            [replace(d, metadata=self._map(d.metadata, True)) for d in documents]
        )

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self.inner.upsert(
            collection, [replace(d, metadata=self._map(d.metadata, True)) for d in documents]
        )

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        return [self._out(d) for d in self.inner.get(collection, ids, with_vectors=with_vectors)]

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        self.check_filter(filter)
        self.inner.delete(collection, ids=ids, filter=filter)

    def count(self, collection: str, filter: Filter | None = None) -> int:
        self.check_filter(filter)
        return self.inner.count(collection, filter)

    def facet(
        self,
        collection: str,
        field: str,
        *,
        filter: Filter | None = None,
        limit: int | None = 10,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
    ) -> Facets:
        """Counts of an encrypted field are taken over the decrypted values (a scan:
        the engine only sees ciphertexts); other fields are counted as the inner
        backend counts them."""
        self.check_filter(filter)
        if any(field == path or field.startswith(path + ".") for path in self.fields):
            return scan_facet(
                self, collection, field, filter=filter, limit=limit, scan_limit=scan_limit
            )
        return self.inner.facet(
            collection, field, filter=filter, limit=limit, scan_limit=scan_limit
        )

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        self.check_filter(filter)
        pages = self.inner.scroll(
            collection, filter=filter, batch_size=batch_size, with_vectors=with_vectors
        )
        return ([self._out(d) for d in page] for page in pages)

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        self.check_filter(filter)
        return self._hits(self.inner.search_dense(collection, vector, k, filter))

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        self.check_filter(filter)
        return self._hits(self.inner.search_sparse(collection, vector, k, filter))

    def search_hybrid(
        self,
        collection: str,
        dense: np.ndarray,
        sparse: SparseVector,
        k: int,
        *,
        fusion: Fusion,
        candidates: int,
        filter: Filter | None = None,
    ) -> list[Hit]:
        self.check_filter(filter)
        return self._hits(
            self.inner.search_hybrid(
                collection, dense, sparse, k, fusion=fusion, candidates=candidates, filter=filter
            )
        )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value

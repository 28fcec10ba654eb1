"""Data-safety layers over any backend: retries, read-only, field encryption, secrets.

::

    from polyvec.safety import guard
    backend = guard(open_backend(url), retry=RetryPolicy(attempts=6), read_only=True)

Each layer is a :class:`BackendWrapper`; :func:`guard` stacks them in the right order:
retries innermost (a retried batch re-sends the same ciphertext), then encryption,
then read-only outermost (a refused write is refused at once, never retried).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from polyvec.backends.base import Backend
from polyvec.safety.readonly import ReadOnlyBackend
from polyvec.safety.retry import RetryingBackend, RetryPolicy, is_retryable
from polyvec.safety.secrets import Secret, redact_url, scrub, secret_from_env, secrets_in_url
from polyvec.safety.wrapper import BackendWrapper

__all__ = [
    "BackendWrapper",
    "ReadOnlyBackend",
    "RetryPolicy",
    "RetryingBackend",
    "Secret",
    "guard",
    "is_retryable",
    "redact_url",
    "scrub",
    "secret_from_env",
    "secrets_in_url",
]


def guard(
    backend: Backend,
    *,
    retry: RetryPolicy | None = None,
    read_only: bool = False,
    encrypt_fields: Iterable[str] = (),
    key: bytes | str | Secret | Sequence[bytes | str | Secret] | None = None,
) -> Backend:
    """``backend`` wrapped in the safety layers asked for (none: returned as is)."""
    wrapped: Backend = backend
    if retry is not None:
        wrapped = RetryingBackend(wrapped, retry)
    fields = list(encrypt_fields)
    if fields:
        from polyvec.errors import ConfigurationError
        from polyvec.safety.encryption import EncryptedBackend

        if key is None:
            raise ConfigurationError("encrypt_fields=... needs key=... (a Fernet key)")
        wrapped = EncryptedBackend(wrapped, fields, key)
    if read_only:
        wrapped = ReadOnlyBackend(wrapped)
    return wrapped

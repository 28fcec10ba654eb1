"""Secrets: kept out of ``repr``, error messages, logs and the CLI's output.

* :class:`Secret` wraps a password or API key; its ``repr``/``str`` show ``***`` and
  only :meth:`Secret.reveal` gives the value.
* :func:`secret_from_env` reads one from the environment (``ConfigurationError`` naming
  the variable when it is missing).
* :func:`redact_url` masks the password and key-like parameters of a URL or a libpq
  DSN; :func:`secrets_in_url` lists them; :func:`scrub` removes known secrets and
  anything that looks like a credential from any text (an error message, a log line).
  They are :mod:`polyvec.redaction`'s, the one scrubber every polyvec error uses.

::

    >>> redact_url("postgresql://app:hunter2@db:5432/rag?sslmode=require")
    'postgresql://app:***@db:5432/rag?sslmode=require'
    >>> scrub("could not connect: postgresql://app:hunter2@db/rag", ["hunter2"])
    'could not connect: postgresql://app:***@db/rag'
"""

from __future__ import annotations

import os

from polyvec.errors import ConfigurationError
from polyvec.redaction import MASK, SENSITIVE_KEYS, redact_url, scrub, secrets_in_url

__all__ = [
    "SENSITIVE_KEYS",
    "Secret",
    "redact_url",
    "scrub",
    "secret_from_env",
    "secrets_in_url",
]


class Secret:
    """A secret value that never shows itself: ``repr(Secret("x")) == "Secret('***')"``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself (pass it to the client that needs it, nowhere else)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str:
        raise TypeError("a Secret cannot be pickled: pass the environment variable's name")


def secret_from_env(name: str) -> Secret:
    """The secret in ``$name``; ``ConfigurationError`` naming the variable if unset."""
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(
            f"the environment variable {name} is not set: export {name}=... "
            "(or pass the secret explicitly)"
        )
    return Secret(value)

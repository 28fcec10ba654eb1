"""Secrets: kept out of ``repr``, error messages, logs and the CLI's output.

* :class:`Secret` wraps a password or API key; its ``repr``/``str`` show ``***`` and
  only :meth:`Secret.reveal` gives the value.
* :func:`secret_from_env` reads one from the environment (``ConfigurationError`` naming
  the variable when it is missing).
* :func:`redact_url` masks the password and key-like query parameters of a URL;
  :func:`secrets_in_url` lists them; :func:`scrub` removes known secrets and anything
  that looks like a URL credential from any text (an error message, a log line).

::

    >>> redact_url("postgresql://app:hunter2@db:5432/rag?sslmode=require")
    'postgresql://app:***@db:5432/rag?sslmode=require'
    >>> scrub("could not connect: postgresql://app:hunter2@db/rag", ["hunter2"])
    'could not connect: postgresql://app:***@db/rag'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from polyvec.errors import ConfigurationError

__all__ = [
    "SENSITIVE_KEYS",
    "Secret",
    "redact_url",
    "scrub",
    "secret_from_env",
    "secrets_in_url",
]

SENSITIVE_KEYS = ("password", "passwd", "api_key", "apikey", "api-key", "token", "secret",
                  "access_key", "auth", "credential", "key")  # fmt: skip
"""Query-parameter names (or name fragments) whose values are secrets."""

MASK = "***"
_CRED = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_PARAM = re.compile(
    r"(?P<key>[\w-]*(?:password|passwd|api[_-]?key|apikey|token|secret|access[_-]?key)[\w-]*)"
    r"(?P<sep>\s*[=:]\s*['\"]?)(?P<value>[^\s&'\",;)]+)",
    re.IGNORECASE,
)


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


def _sensitive(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in SENSITIVE_KEYS if word != "key") or k == "key"


def secrets_in_url(url: str) -> list[str]:
    """The secret values a URL carries: its password and sensitive query parameters."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return found
    if password:
        found += [password, unquote(password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if _sensitive(key) and value:
            found.append(value)
    return [s for s in dict.fromkeys(found) if s]


def redact_url(url: str) -> str:
    """``url`` with its password and sensitive query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return scrub(url)
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = "&".join(
        f"{k}={MASK}" if _sensitive(k) else part
        for part in parts.query.split("&")
        if part
        for k in [part.split("=", 1)[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """``text`` without the given secrets, URL passwords or ``key=value`` credentials."""
    values = sorted(
        {s.reveal() if isinstance(s, Secret) else s for s in secrets if s}, key=len, reverse=True
    )
    for value in values:
        if len(value) >= 3:  # masking 1-2 characters would mangle the text, not protect it
            text = text.replace(value, MASK)
    text = _CRED.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _PARAM.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)

"""The one scrubber: secrets masked in URLs, libpq DSNs and any text (an error message,
a ``repr``, a log line). Every polyvec error runs its message through :func:`scrub`
(see :class:`polyvec.errors.PolyvecError`); backends show their URL through
:func:`redact_url`. Nothing here imports the rest of polyvec.

A parameter is a secret when its name contains ``password``, ``passwd``,
``secret``, ``credential``, ``apikey`` or ``authorization``, or one of its parts
(split at ``_``, ``-``, ``.``) is ``pwd``, ``token``, ``auth`` or ``key`` — so
``sslpassword``, ``auth_token``, ``X-Api-Key`` and ``key`` are; ``sslkey`` (a file
name), ``author`` and ``tokenizer`` are not::

    >>> redact_url("postgresql://app:hunter2@db:5432/rag?sslmode=require")
    'postgresql://app:***@db:5432/rag?sslmode=require'
    >>> redact_url("host=db password='a b' dbname=rag sslpassword=k2")
    'host=db password=*** dbname=rag sslpassword=***'
    >>> scrub("could not connect: postgresql://app:hunter2@db/rag", ["hunter2"])
    'could not connect: postgresql://app:***@db/rag'
    >>> scrub("qdrant-edge:///x?api_key=K9 is malformed")
    'qdrant-edge:///x?api_key=*** is malformed'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["MASK", "SENSITIVE_KEYS", "is_sensitive", "redact_url", "scrub", "secrets_in_url"]

MASK = "***"
SENSITIVE_KEYS = ("password", "passwd", "secret", "credential", "apikey", "authorization")
"""Fragments that make a parameter name a secret's (see the module doc for the parts
``pwd``, ``token``, ``auth`` and ``key``)."""
_SENSITIVE_PARTS = frozenset({"pwd", "token", "auth", "key"})

_CRED = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s'\"]*):(?P<pw>[^@/\s'\"]+)@")
_VALUE = r"(?P<value>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&'\",;)}\]]+)"
_PARAM = re.compile(
    r"(?P<key>\b[\w.-]*(?:pass|pwd|token|secret|key|credential|auth)[\w.-]*)"
    rf"(?P<quote>['\"]?)(?P<sep>\s*[=:]\s*){_VALUE}",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<kind>Bearer|Basic)\s+(?P<value>[A-Za-z0-9._~+/=-]{4,})")
_PLACEHOLDER = re.compile(r"^(?:\.\.\.|…|\*+|<[^>]*>|\{[^}]*\})$")
_DSN_PAIR = re.compile(r"(?P<key>[A-Za-z_][\w-]*)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|[^\s']*)")


def is_sensitive(key: str, *, bare_key: bool = True) -> bool:
    """Whether a parameter of this name holds a secret (``bare_key=False``: the word
    ``key`` alone does not count, as in free text: "primary key: 5")."""
    k = key.lower().strip()
    if any(fragment in k for fragment in SENSITIVE_KEYS):
        return True
    parts = [p for p in re.split(r"[^a-z0-9]+", k) if p]
    if not bare_key and parts == ["key"]:
        return False
    return any(p in _SENSITIVE_PARTS for p in parts)


def _is_dsn(text: str) -> bool:
    """A libpq ``key=value`` connection string (no ``scheme://``)."""
    head = text.strip().split(" ", 1)[0]
    return "://" not in head and bool(_DSN_PAIR.match(text.strip()))


def _dsn_value(raw: str) -> str:
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def secrets_in_url(url: str) -> list[str]:
    """The secret values a URL or a libpq DSN carries: its password and every sensitive
    parameter (decoded and as written, so both forms are scrubbed)."""
    found: list[str] = []
    if _is_dsn(url):
        for m in _DSN_PAIR.finditer(url):
            if is_sensitive(m["key"]) and m["value"]:
                found += [_dsn_value(m["value"]), m["value"]]
        return [s for s in dict.fromkeys(found) if s]
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return found
    if password:
        found += [password, unquote(password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if is_sensitive(key) and value:
            found.append(value)
    for raw in parts.query.split("&"):
        key, _, value = raw.partition("=")
        if is_sensitive(unquote(key)) and value:
            found.append(value)
    return [s for s in dict.fromkeys(found) if s]


def redact_url(url: str) -> str:
    """``url`` (or a libpq ``key=value`` DSN) with its password and every sensitive
    parameter's value replaced by ``***``."""
    if _is_dsn(url):
        return _DSN_PAIR.sub(
            lambda m: f"{m['key']}={MASK}" if is_sensitive(m["key"]) else m[0], url
        )
    if "://" not in url:
        return scrub(url)
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
        f"{k}={MASK}" if is_sensitive(unquote(k)) else part
        for part in parts.query.split("&")
        if part
        for k in [part.split("=", 1)[0]]
    )
    tail = ("?" + query if query else "") + ("#" + parts.fragment if parts.fragment else "")
    return f"{url.split('://', 1)[0]}://{netloc}{parts.path}{tail}"


def _mask_param(m: re.Match[str]) -> str:
    value = m["value"]
    bare = value.strip("'\"")
    if not is_sensitive(m["key"], bare_key=False) or _PLACEHOLDER.match(bare):
        return m[0]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{m['key']}{m['quote']}{m['sep']}{quote}{MASK}{quote}"


def scrub(text: Any, secrets: Iterable[Any] = ()) -> str:
    """``text`` without the given secrets (str, or objects with ``reveal()``), URL
    passwords, ``key=value`` / ``key: value`` credentials (quoted or not) and
    ``Bearer``/``Basic`` tokens."""
    text = str(text)
    values = sorted(
        {str(s.reveal()) if hasattr(s, "reveal") else str(s) for s in secrets if s},
        key=len,
        reverse=True,
    )
    for value in values:
        if len(value) >= 3:  # masking 1-2 characters would mangle the text, not protect it
            text = text.replace(value, MASK)
    text = _CRED.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m['kind']} {MASK}", text)
    return _PARAM.sub(_mask_param, text)

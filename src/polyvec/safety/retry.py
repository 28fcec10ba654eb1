"""Retries with exponential backoff and full jitter, for retryable errors only.

:func:`is_retryable` classifies an exception by walking its cause chain:

* **retryable**: connection refused/reset/aborted, timeouts, HTTP 408/429/500/502/503/504,
  gRPC ``UNAVAILABLE``/``DEADLINE_EXCEEDED``/``RESOURCE_EXHAUSTED``, PostgreSQL
  connection errors (SQLSTATE ``08…``), admin shutdown / starting up (``57P…``),
  serialization failures and deadlocks (``40001``, ``40P01``), too many connections
  (``53300``), and ``BackendUnavailableError``;
* **not retryable**: TLS certificate failures (untrusted CA, wrong host name);
  everything else — programming errors (``AttributeError``,
  ``TypeError`` …, even when raised while handling a network error), bad requests (400/404/409/422), authentication
  (401/403, SQLSTATE ``28…``), polyvec's own input, filter, configuration, read-only and
  not-found errors. Retrying those only delays the real answer.

:class:`RetryingBackend` retries every call of any backend (writes are idempotent by
id, so a retried batch never duplicates)::

    backend = RetryingBackend(open_backend(url), RetryPolicy(attempts=6, base_delay=0.2))
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from polyvec.backends.base import Backend, CollectionSpec
from polyvec.errors import (
    AuthenticationError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigurationError,
    FilterError,
    InputError,
    MissingDependencyError,
    ReadOnlyError,
    VerificationError,
)
from polyvec.filters.ast import Filter
from polyvec.fusion import Fusion
from polyvec.safety.secrets import scrub
from polyvec.safety.wrapper import BackendWrapper
from polyvec.transfer.records import doc_key
from polyvec.types import DocId, Document, Hit, SparseVector

__all__ = ["RetryPolicy", "RetryingBackend", "is_retryable"]

log = logging.getLogger("polyvec.retry")
T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FINAL_STATUS = frozenset({400, 401, 403, 404, 405, 409, 413, 422})
_GRPC_RETRYABLE = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})
_NETWORK_MODULES = ("httpx", "httpcore", "urllib3", "requests", "aiohttp", "grpc")
_NETWORK_NAMES = frozenset({
    "ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "ReadError",
    "WriteError", "NetworkError", "TimeoutException", "RemoteProtocolError", "ProtocolError",
    "NewConnectionError", "MaxRetryError", "ConnectionError", "ServerDisconnectedError",
    "ClientConnectionError", "ClientOSError",
})  # fmt: skip
_NEVER = (
    AuthenticationError,
    InputError,
    FilterError,
    ConfigurationError,
    MissingDependencyError,
    ReadOnlyError,
    CollectionNotFoundError,
    VerificationError,
)
_BUGS = frozenset({AttributeError, TypeError, NameError, KeyError, IndexError, AssertionError,
                   NotImplementedError, ValueError, UnboundLocalError})  # fmt: skip
"""Programming errors: never retried, even when raised while handling a network error."""
_AUTH_WORDS = ("authentication", "password", "permission denied", "unauthorized", "forbidden",
               "role ", "no pg_hba.conf",
               "certificate", "does not support ssl")  # TLS set-up: no retry fixes it  # fmt: skip


def _chain(exc: BaseException, *, whole: bool = False) -> Iterator[BaseException]:
    """``exc`` and its causes. ``raise X from None`` hides the context on purpose, so
    X alone decides, unless ``whole`` asks for everything (a certificate failure
    stays one however a client library re-raised it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        hidden = current.__suppress_context__ and not whole
        current = current.__cause__ or (None if hidden else current.__context__)


def _status(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status", "http_status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
    return None


def _verdict(exc: BaseException) -> bool | None:
    """True/False when this exception alone decides, None to look further down."""
    if isinstance(exc, _NEVER) or type(exc) in _BUGS:
        return False
    status = _status(exc)
    if status in RETRYABLE_STATUS:
        return True
    if status in FINAL_STATUS:
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        if sqlstate.startswith("28") or sqlstate.startswith("42"):
            return False
        return sqlstate[:2] == "08" or sqlstate in {"57P01", "57P02", "57P03", "40001",
                                                    "40P01", "53300", "55P03"}  # fmt: skip
    code = getattr(exc, "code", None)
    code = code() if callable(code) else code
    name = getattr(code, "name", None)
    if isinstance(name, str) and name in _GRPC_RETRYABLE:
        return True
    kind = type(exc)
    if any(k.__name__ == "OperationalError" and k.__module__.startswith("psycopg")
           for k in kind.__mro__):  # psycopg's, and psycopg_pool.PoolTimeout  # fmt: skip
        text = str(exc).lower()
        return not any(word in text for word in _AUTH_WORDS)
    if isinstance(exc, (ConnectionError, TimeoutError, BackendUnavailableError)):
        return True
    if kind.__module__.split(".")[0] in _NETWORK_MODULES and kind.__name__ in _NETWORK_NAMES:
        return True
    return None


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying the call that raised ``exc`` can succeed (see the module doc)."""
    if any(isinstance(link, ssl.SSLCertVerificationError) for link in _chain(exc, whole=True)):
        return False  # an untrusted or mismatched certificate stays so: fix the TLS settings
    for link in _chain(exc):
        verdict = _verdict(link)
        if verdict is not None:
            return verdict
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``attempts`` counts the first call; delays grow ``base_delay * multiplier**n``
    up to ``max_delay``, each drawn uniformly from ``[0, delay]`` ("full jitter", so
    clients that failed together do not retry together); no retry starts after
    ``deadline`` seconds. ``classify`` decides what is retryable."""

    attempts: int = 5
    base_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0
    deadline: float | None = 60.0
    classify: Callable[[BaseException], bool] = is_retryable
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(f"attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("retry delays must not be negative")

    def delay(self, retry: int) -> float:
        """The pause before retry number ``retry`` (0-based), jittered."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier**retry)
        return self.rng.uniform(0.0, ceiling)

    def call(self, fn: Callable[[], T], operation: str = "call") -> T:
        """``fn()``, retried on retryable errors; the last error is raised as is."""
        started = time.monotonic()
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                last = attempt + 1 >= self.attempts
                pause = self.delay(attempt)
                late = self.deadline is not None and (
                    time.monotonic() - started + pause > self.deadline
                )
                if last or late or not self.classify(exc):
                    raise
                log.warning(
                    "polyvec: %s failed (%s: %s); retry %d/%d in %.2fs",
                    operation, type(exc).__name__, scrub(str(exc))[:300], attempt + 1,
                    self.attempts - 1, pause,
                )  # fmt: skip
                self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


class RetryingBackend(BackendWrapper):
    """Retries every call of ``inner`` under ``policy``. ``retries`` counts the retries
    made (for reports and tests). A scroll that fails half-way starts over and skips
    the documents it already returned."""

    def __init__(self, inner: Backend, policy: RetryPolicy | None = None) -> None:
        super().__init__(inner)
        self.policy = policy or RetryPolicy()
        self.retries = 0
        self._lock = threading.Lock()

    def _run(self, operation: str, fn: Callable[[], T]) -> T:
        calls = 0

        def counted() -> T:
            nonlocal calls
            calls += 1
            if calls > 1:
                with self._lock:
                    self.retries += 1
            return fn()

        return self.policy.call(counted, operation)

    def create_collection(self, spec: CollectionSpec) -> None:
        self._run("create_collection", lambda: self.inner.create_collection(spec))

    def get_spec(self, name: str) -> CollectionSpec | None:
        return self._run("get_spec", lambda: self.inner.get_spec(name))

    def list_collections(self) -> list[str]:
        return self._run("list_collections", self.inner.list_collections)

    def drop_collection(self, name: str) -> None:
        self._run("drop_collection", lambda: self.inner.drop_collection(name))

    def upsert(self, collection: str, documents: Sequence[Document]) -> None:
        self._run("upsert", lambda: self.inner.upsert(collection, documents))

    def get(
        self, collection: str, ids: Sequence[DocId], *, with_vectors: bool = False
    ) -> list[Document]:
        return self._run("get", lambda: self.inner.get(collection, ids, with_vectors=with_vectors))

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[DocId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        self._run("delete", lambda: self.inner.delete(collection, ids=ids, filter=filter))

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return self._run("count", lambda: self.inner.count(collection, filter))

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[list[Document]]:
        seen: set[Any] = set()
        restarts = 0
        while True:
            pages = self.inner.scroll(
                collection, filter=filter, batch_size=batch_size, with_vectors=with_vectors
            )
            try:
                while True:
                    # a generator that raised is finished: never call next() on it again,
                    # start a new scroll instead (below)
                    page = next(pages, None)
                    if page is None:
                        return
                    fresh = [d for d in page if doc_key(d.id) not in seen]
                    seen.update(doc_key(d.id) for d in fresh)
                    if fresh:
                        yield fresh
            except Exception as exc:
                restarts += 1
                if restarts >= self.policy.attempts or not self.policy.classify(exc):
                    raise
                with self._lock:
                    self.retries += 1
                self.policy.sleep(self.policy.delay(restarts - 1))

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return self._run(
            "search_dense", lambda: self.inner.search_dense(collection, vector, k, filter)
        )

    def search_sparse(
        self, collection: str, vector: SparseVector, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return self._run(
            "search_sparse", lambda: self.inner.search_sparse(collection, vector, k, filter)
        )

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
        return self._run(
            "search_hybrid",
            lambda: self.inner.search_hybrid(
                collection, dense, sparse, k, fusion=fusion, candidates=candidates, filter=filter
            ),
        )

    def load_state(self, collection: str) -> dict[str, Any] | None:
        return self._run("load_state", lambda: self.inner.load_state(collection))

    def save_state(self, collection: str, state: Mapping[str, Any]) -> None:
        self._run("save_state", lambda: self.inner.save_state(collection, state))

"""Per-stage timings of a search, and OpenTelemetry spans.

Ask a :class:`~polyvec.retriever.Retriever` for a trace and every result list carries
one (:attr:`Hits.trace`): how long each stage of the pipeline took — query variants,
query embedding, each engine call (``dense``, ``sparse`` or ``hybrid`` leg), fusion,
MMR, rerank — and how many hits each produced::

    hits = docs.search("compress a file", k=5, trace=True)
    print(hits.trace)
    # Trace(qdrant-edge 'docs' hybrid k=5, 5 hits in 14.2 ms: embed 9.8 ms,
    #       hybrid 3.9 ms (50 hits), …)
    hits.trace.seconds_by_stage()   # {"embed": 0.0098, "hybrid": 0.0039, …}

With ``trace`` off (the default) nothing is measured: ``hits.trace`` is ``None``.

**OpenTelemetry.** Where ``opentelemetry-api`` is installed (``pip install
'polyvec[otel]'``) and the application has configured a tracer provider (the SDK), each
search is a ``polyvec.search`` span with one child span per stage
(``polyvec.embed``, ``polyvec.dense`` …), whether or not ``trace`` is on. Without the
package, or without a configured provider, no span is made and nothing is imported.
Attributes (all prefixed ``polyvec.``): ``backend``, ``collection``, ``mode``, ``k``,
``fusion``, ``queries``, ``variants`` and ``hits`` on the search span; ``hits``,
``candidates``, ``variant`` and ``query`` (an index) on stage spans. The query text,
document texts and metadata values are **never** recorded.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from polyvec.types import Hit

__all__ = [
    "STAGES",
    "Hits",
    "Recorder",
    "Stage",
    "Trace",
    "otel_tracer",
    "recorder",
]

_T = TypeVar("_T")

STAGES = ("variants", "embed", "dense", "sparse", "hybrid", "fusion", "mmr", "rerank")
"""The stages a trace may hold, in pipeline order."""

SPAN_ATTRIBUTES = frozenset(
    {"backend", "collection", "mode", "k", "fusion", "queries", "variants", "hits"}
)
"""Attributes of the ``polyvec.search`` span (each prefixed ``polyvec.``)."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One timed step: its ``name`` (one of :data:`STAGES`), how long it took, and
    what it produced (``hits``, ``candidates``, the ``variant`` and ``query`` index …)."""

    name: str
    seconds: float
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "seconds": self.seconds, **dict(self.attributes)}


@dataclass(frozen=True)
class Trace:
    """The timings of one search call (one ``search`` or ``search_batch``).

    ``stages`` are in the order they finished (legs that ran concurrently overlap, so
    stage times may add up to more than ``seconds``, the wall time of the whole call).
    """

    backend: str
    collection: str
    mode: str
    k: int
    seconds: float
    hits: int
    stages: tuple[Stage, ...]

    def seconds_by_stage(self) -> dict[str, float]:
        """Total seconds per stage name, in pipeline order."""
        out: dict[str, float] = {}
        for name in STAGES:
            total = sum(s.seconds for s in self.stages if s.name == name)
            if any(s.name == name for s in self.stages):
                out[name] = total
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (what the LangChain and LlamaIndex adapters report)."""
        return {
            "backend": self.backend,
            "collection": self.collection,
            "mode": self.mode,
            "k": self.k,
            "seconds": self.seconds,
            "hits": self.hits,
            "stages": [s.as_dict() for s in self.stages],
        }

    def __repr__(self) -> str:
        parts = []
        for s in self.stages:
            extra = f" ({s.attributes['hits']} hits)" if "hits" in s.attributes else ""
            parts.append(f"{s.name} {s.seconds * 1e3:.1f} ms{extra}")
        return (
            f"Trace({self.backend} {self.collection!r} {self.mode} k={self.k}, {self.hits} "
            f"hits in {self.seconds * 1e3:.1f} ms: {', '.join(parts) or 'no stages'})"
        )


class Hits(list[Hit]):
    """The hits of one query, best first: a plain ``list`` of :class:`~polyvec.Hit`
    with the search's :class:`Trace` (``None`` unless tracing was asked for)."""

    trace: Trace | None

    def __init__(self, hits: Iterable[Hit] = (), trace: Trace | None = None) -> None:
        super().__init__(hits)
        self.trace = trace


@functools.cache
def _otel_trace_module() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def otel_tracer() -> Any:
    """polyvec's OpenTelemetry tracer, or ``None`` when ``opentelemetry-api`` is not
    installed or no tracer provider is configured (then no span is ever made)."""
    trace = _otel_trace_module()
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    from polyvec import __version__

    return provider.get_tracer("polyvec", __version__)


class Recorder:
    """Collects the stages of one search call, thread-safely (legs run concurrently),
    and mirrors them as OpenTelemetry spans when a tracer is given."""

    def __init__(self, *, keep: bool, tracer: Any = None) -> None:
        self.keep = keep
        self.tracer = tracer
        self.started = time.perf_counter()
        self._stages: list[Stage] = []
        self._lock = threading.Lock()
        self._root: Any = None
        self._context: Any = None

    # -- the search span ----------------------------------------------------------------
    @contextlib.contextmanager
    def search(self, **attributes: Any) -> Iterator[None]:
        """The ``polyvec.search`` span around the whole call (when tracing to OTel)."""
        if self.tracer is None:
            yield
            return
        trace = _otel_trace_module()
        with self.tracer.start_as_current_span(
            "polyvec.search", attributes=_span_attributes(attributes)
        ) as span:
            self._root = span
            self._context = trace.set_span_in_context(span)
            yield

    def finish(self, **attributes: Any) -> None:
        """Attributes known at the end (``hits``) for the search span."""
        if self._root is not None:
            self._root.set_attributes(_span_attributes(attributes))

    # -- stages -------------------------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, name: str, **attributes: Any) -> Iterator[dict[str, Any]]:
        """Time a stage; the yielded dict takes attributes known only at its end."""
        span = (
            self.tracer.start_span(
                f"polyvec.{name}", context=self._context, attributes=_span_attributes(attributes)
            )
            if self.tracer is not None
            else None
        )
        attrs = dict(attributes)
        start = time.perf_counter()
        try:
            yield attrs
        finally:
            seconds = time.perf_counter() - start
            if span is not None:
                span.set_attributes(_span_attributes(attrs))
                span.end()
            if self.keep:
                with self._lock:
                    self._stages.append(Stage(name, seconds, attrs))

    def timed(
        self, name: str, call: Callable[[], list[_T]], **attributes: Any
    ) -> Callable[[], list[_T]]:
        """``call`` wrapped in a stage that records the number of hits it returned."""

        def run() -> list[_T]:
            with self.stage(name, **attributes) as attrs:
                out = call()
                attrs["hits"] = len(out)
                return out

        return run

    def trace(self, backend: str, collection: str, mode: str, k: int, hits: int) -> Trace | None:
        """The finished :class:`Trace` (``None`` when stages were not kept)."""
        if not self.keep:
            return None
        with self._lock:
            stages = tuple(self._stages)
        seconds = time.perf_counter() - self.started
        return Trace(backend, collection, mode, k, seconds, hits, stages)


def recorder(keep: bool) -> Recorder | None:
    """A :class:`Recorder` for one search call, or ``None`` when neither a trace was
    asked for nor an OpenTelemetry tracer is configured (nothing is then measured)."""
    tracer = otel_tracer()
    if not keep and tracer is None:
        return None
    return Recorder(keep=keep, tracer=tracer)


def _span_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        f"polyvec.{key}": value
        for key, value in attributes.items()
        if isinstance(value, (str, bool, int, float))
    }

"""The adapters' side of :mod:`polyvec.tracing`: a search's :class:`~polyvec.tracing.Trace`
reported to LangChain callbacks and to LlamaIndex instrumentation.

* LangChain: a custom event ``polyvec_trace`` (data: ``trace.as_dict()``) on the
  retriever run, sent only when the run has callback handlers (else no trace is made);
* LlamaIndex: a :class:`PolyvecTraceEvent` through the ``polyvec`` dispatcher, which
  propagates to the root dispatcher's event handlers, only when one is registered.

Neither carries query text or metadata values (a trace has none).
"""

from __future__ import annotations

import functools
from typing import Any

from polyvec.tracing import Hits

__all__ = [
    "LANGCHAIN_EVENT",
    "alangchain_report",
    "langchain_report",
    "langchain_wants_trace",
    "llama_index_event_class",
    "llama_index_report",
    "llama_index_wants_trace",
]

LANGCHAIN_EVENT = "polyvec_trace"
"""Name of the LangChain custom event that carries a search's trace."""


# -- LangChain --------------------------------------------------------------------------
def langchain_wants_trace(run_manager: Any) -> bool:
    """Whether the run has callback handlers to report a trace to."""
    return bool(getattr(run_manager, "handlers", None))


def langchain_report(run_manager: Any, hits: list[Any]) -> None:
    trace = getattr(hits, "trace", None)
    if trace is not None and langchain_wants_trace(run_manager):
        run_manager.get_child().on_custom_event(
            LANGCHAIN_EVENT, trace.as_dict(), run_id=run_manager.run_id
        )


async def alangchain_report(run_manager: Any, hits: list[Any]) -> None:
    trace = getattr(hits, "trace", None)
    if trace is not None and langchain_wants_trace(run_manager):
        await run_manager.get_child().on_custom_event(
            LANGCHAIN_EVENT, trace.as_dict(), run_id=run_manager.run_id
        )


# -- LlamaIndex -------------------------------------------------------------------------
@functools.cache
def llama_index_event_class() -> Any:
    """``PolyvecTraceEvent``: a LlamaIndex instrumentation event with ``trace`` (the
    trace's ``as_dict()``)."""
    from llama_index.core.instrumentation.events import BaseEvent

    class PolyvecTraceEvent(BaseEvent):  # type: ignore[misc]
        """The per-stage timings of one polyvec search (:mod:`polyvec.tracing`)."""

        trace: dict[str, Any]

        @classmethod
        def class_name(cls) -> str:
            return "PolyvecTraceEvent"

    return PolyvecTraceEvent


@functools.cache
def _dispatcher() -> Any:
    from llama_index_instrumentation import get_dispatcher

    return get_dispatcher("polyvec")


def llama_index_wants_trace() -> bool:
    """Whether an event handler would see the event (here or in a parent dispatcher)."""
    from llama_index_instrumentation.event_handlers import NullEventHandler

    node: Any = _dispatcher()
    while node is not None:
        if any(not isinstance(h, NullEventHandler) for h in node.event_handlers):
            return True
        node = node.parent if node.propagate and node.parent_name else None
    return False


def llama_index_report(hits: Hits | list[Any]) -> None:
    trace = getattr(hits, "trace", None)
    if trace is not None:
        _dispatcher().event(llama_index_event_class()(trace=trace.as_dict()))

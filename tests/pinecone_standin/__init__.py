"""A local **stand-in** for one Pinecone serverless index — not Pinecone.

No Pinecone engine can run on this machine, so polyvec's Pinecone backend is tested
through the official ``pinecone`` SDK against this small HTTP server, which follows
Pinecone's documented data-plane API (see :mod:`.server`) and evaluates Pinecone's own
filter language (see :mod:`.filters`), independently of polyvec's reference evaluator::

    from tests.pinecone_standin import start_standin

    standin = start_standin(dimension=8)           # a thread on 127.0.0.1, free port
    backend = PineconeBackend.from_url(standin.url)  # pinecone://127.0.0.1:PORT
    ...
    standin.stop()

``python -m tests.pinecone_standin --dimension 384 --port 5081`` serves one in the
foreground. What the stand-in cannot tell: Pinecone's approximate search and recall,
its eventual consistency, and any undocumented behaviour of the real service — the
live tests (``PINECONE_API_KEY``) cover those.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.pinecone_standin.server import StandInIndex, make_server

__all__ = ["StandIn", "StandInIndex", "start_standin"]


@dataclass
class StandIn:
    """A running stand-in: ``url`` (``pinecone://127.0.0.1:PORT``), ``host``
    (``http://127.0.0.1:PORT``, for ``pinecone.Index(host=...)``) and ``index`` (its
    data, for assertions)."""

    url: str
    host: str
    index: StandInIndex
    _stop: threading.Event
    _server: object

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        if not self._stop.is_set():
            self._stop.set()
            server = self._server
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]


def start_standin(
    dimension: int,
    metric: str = "dotproduct",
    *,
    api_key: str | None = None,
    ne_matches_missing: bool = False,
) -> StandIn:
    """Serve one stand-in index from a daemon thread; ``api_key`` set means other keys
    get 401; ``ne_matches_missing`` selects MongoDB's ``$ne`` on missing keys."""
    index = StandInIndex(dimension, metric, api_key=api_key, ne_matches_missing=ne_matches_missing)
    server = make_server(index)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="pinecone-standin", daemon=True)
    thread.start()
    return StandIn(
        url=f"pinecone://127.0.0.1:{port}",
        host=f"http://127.0.0.1:{port}",
        index=index,
        _stop=threading.Event(),
        _server=server,
    )

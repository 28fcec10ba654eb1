"""The stand-in's HTTP server: one Pinecone index, in memory, speaking the data-plane
REST API the way the ``pinecone`` SDK (10.x) calls it.

Endpoints (paths, field names and status codes as in Pinecone's API reference):

=============================  ===========================================================
``POST /vectors/upsert``       ``{vectors: [{id, values, sparseValues, metadata}], namespace}``
``POST /query``                ``{topK, vector, sparseVector, filter, namespace,
                               includeValues, includeMetadata}``
``GET /vectors/fetch``         ``?ids=..&ids=..&namespace=``
``POST /vectors/fetch_by_metadata``  ``{filter, namespace, limit, paginationToken}``
``GET /vectors/list``          ``?namespace=&prefix=&limit=&paginationToken=``
``POST /vectors/delete``       ``{namespace, ids | deleteAll | filter}``
``DELETE /namespaces/{name}``  drop a namespace
``POST /describe_index_stats``  counts per namespace, dimension, metric
=============================  ===========================================================

Pinecone's documented limits are enforced, so polyvec cannot rely on anything the real
service would refuse: ids of 1–512 ASCII characters; dense vectors of the index's
dimension, finite and not all zero; sparse vectors (dotproduct indexes only) of at
most 1000 unique indices below 2**32; metadata of strings, finite numbers (kept as
float64), booleans and lists of strings — no nulls, no nested objects — within 40 KB;
1000 vectors and 2 MB per upsert; ``topK`` up to 10000, or 1000 with values or
metadata; a non-empty filter for delete and fetch_by_metadata. Scores: ``dotproduct``
is dense·q + sparse·q, ``cosine`` the cosine of the dense parts; ties by id.
A delete naming a namespace that does not exist answers 404, as serverless does.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from tests.pinecone_standin.filters import FilterSyntax, matches, validate

__all__ = ["ApiFailure", "Record", "StandInIndex", "make_server"]

MAX_METADATA_BYTES = 40 * 1024
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_SPARSE = 1000


class ApiFailure(Exception):
    """An error answer: HTTP ``status`` with Pinecone's error body."""

    def __init__(self, status: int, message: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _bad(message: str) -> ApiFailure:
    return ApiFailure(400, message)


@dataclass
class Record:
    id: str
    values: np.ndarray
    sparse: dict[int, float] | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_json(self, values: bool = True, metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if values:
            out["values"] = [float(x) for x in self.values]
            if self.sparse is not None:
                out["sparseValues"] = {
                    "indices": list(self.sparse),
                    "values": [float(v) for v in self.sparse.values()],
                }
        if metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


def _check_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 512 or not value.isascii():
        raise _bad(f"vector id must be 1-512 ASCII characters, got {value!r:.80}")
    if "\x00" in value:
        raise _bad("vector id must not contain NUL")
    return value


def _check_metadata(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise _bad("metadata must be an object")
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            raise _bad(f"metadata field {key!r} is null: null metadata values are not supported")
        if isinstance(value, (bool, str)):
            out[key] = value
        elif isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise _bad(f"metadata field {key!r} is not a finite number")
            out[key] = float(value)  # "gets converted to a 64 bit floating point"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            raise _bad(
                f"metadata field {key!r} has an unsupported type: metadata values must be "
                "strings, numbers, booleans or lists of strings"
            )
    if len(json.dumps(out, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        raise _bad("metadata size exceeds the limit of 40960 bytes per vector")
    return out


class StandInIndex:
    """The index's data: ``{namespace: {id: Record}}``, guarded by one lock."""

    def __init__(
        self,
        dimension: int,
        metric: str = "dotproduct",
        *,
        api_key: str | None = None,
        ne_matches_missing: bool = False,
    ) -> None:
        if metric not in ("dotproduct", "cosine"):
            raise ValueError("the stand-in serves dotproduct and cosine indexes")
        self.dimension = dimension
        self.metric = metric
        self.api_key = api_key
        self.ne_matches_missing = ne_matches_missing
        self.namespaces: dict[str, dict[str, Record]] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        """``(method, path)`` of every request, for tests that check what was sent."""

    # -- parsing ------------------------------------------------------------------------
    def _dense(self, values: Any, what: str) -> np.ndarray:
        if not isinstance(values, list) or len(values) != self.dimension:
            got = len(values) if isinstance(values, list) else values
            raise _bad(f"{what} dimension {got} does not match the dimension of the index")
        arr = np.asarray(values, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise _bad(f"{what} contains non-finite values")
        return arr

    def _sparse(self, raw: Any) -> dict[int, float] | None:
        if raw is None:
            return None
        if self.metric != "dotproduct":
            raise _bad("sparse values are supported only for indexes with the dotproduct metric")
        indices, values = raw.get("indices"), raw.get("values")
        if not isinstance(indices, list) or not isinstance(values, list):
            raise _bad("sparse values need indices and values")
        if len(indices) != len(values) or not indices:
            raise _bad("sparse indices and values must be non-empty and of the same length")
        if len(indices) > MAX_SPARSE:
            raise _bad(f"sparse vectors may have at most {MAX_SPARSE} non-zero values")
        if len(set(indices)) != len(indices):
            raise _bad("sparse indices must be unique")
        if any(not isinstance(i, int) or not 0 <= i < 2**32 for i in indices):
            raise _bad("sparse indices must be unsigned 32-bit integers")
        return {int(i): float(np.float32(v)) for i, v in zip(indices, values)}

    def _filter(self, raw: Any) -> Mapping[str, Any] | None:
        if raw is None or raw == {}:
            return None
        try:
            validate(raw)
        except FilterSyntax as exc:
            raise _bad(f"invalid filter: {exc}") from None
        return dict(raw)

    def _select(self, ns: str, flt: Mapping[str, Any] | None) -> list[Record]:
        records = sorted(self.namespaces.get(ns, {}).values(), key=lambda r: r.id)
        if flt is None:
            return records
        nmm = self.ne_matches_missing
        return [r for r in records if matches(flt, r.metadata, ne_matches_missing=nmm)]

    # -- operations ---------------------------------------------------------------------
    def upsert(self, body: dict[str, Any]) -> dict[str, Any]:
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not 1 <= len(vectors) <= 1000:
            raise _bad("upsert takes 1 to 1000 vectors per request")
        parsed = []
        for item in vectors:
            parsed.append(
                Record(
                    _check_id(item.get("id")),
                    self._dense(item.get("values"), "vector"),
                    self._sparse(item.get("sparseValues")),
                    _check_metadata(item.get("metadata")),
                )
            )
        for record in parsed:
            if not np.any(record.values):
                raise _bad("dense vectors must contain at least one non-zero value")
        ns = body.get("namespace", "")
        with self.lock:
            space = self.namespaces.setdefault(ns, {})
            for record in parsed:
                space[record.id] = record
        return {"upsertedCount": len(parsed)}

    def _score(self, record: Record, q: np.ndarray, qs: dict[int, float] | None) -> float:
        if self.metric == "cosine":
            norms = float(np.linalg.norm(record.values)) * float(np.linalg.norm(q))
            return float(np.dot(record.values, q)) / norms if norms else 0.0
        score = float(np.dot(record.values.astype(np.float64), q.astype(np.float64)))
        if qs and record.sparse:
            score += sum(v * record.sparse.get(i, 0.0) for i, v in qs.items())
        return score

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        top_k = body.get("topK")
        with_values, with_meta = bool(body.get("includeValues")), bool(body.get("includeMetadata"))
        if not isinstance(top_k, int) or not 1 <= top_k <= 10_000:
            raise _bad("topK must be within 1..10000")
        if top_k > 1000 and (with_values or with_meta):
            raise _bad("topK must be at most 1000 when including values or metadata")
        if "vector" not in body:
            raise _bad("this is a dense index: the query needs a dense vector")
        q = self._dense(body["vector"], "query vector")
        qs = self._sparse(body.get("sparseVector"))
        flt = self._filter(body.get("filter"))
        ns = body.get("namespace", "")
        with self.lock:
            scored = [(self._score(r, q, qs), r) for r in self._select(ns, flt)]
        scored.sort(key=lambda sr: (-sr[0], sr[1].id))
        matches_ = [{**r.as_json(with_values, with_meta), "score": s} for s, r in scored[:top_k]]
        return {"matches": matches_, "namespace": ns, "usage": {"readUnits": 1}}

    def fetch(self, ids: list[str], ns: str) -> dict[str, Any]:
        if not ids:
            raise _bad("fetch needs at least one id")
        with self.lock:
            space = self.namespaces.get(ns, {})
            found = {i: space[i].as_json() for i in ids if i in space}
        return {"vectors": found, "namespace": ns, "usage": {"readUnits": 1}}

    def _page(self, items: list[Any], limit: Any, token: Any, cap: int) -> tuple[list[Any], Any]:
        size = cap if limit is None else int(limit)
        if not 1 <= size <= cap:
            raise _bad(f"limit must be within 1..{cap}")
        start = int(token) if token else 0
        page = items[start : start + size]
        more = start + size < len(items)
        return page, ({"next": str(start + size)} if more else None)

    def fetch_by_metadata(self, body: dict[str, Any]) -> dict[str, Any]:
        flt = self._filter(body.get("filter"))
        if flt is None:
            raise _bad("Empty filter provided for fetch by metadata request")
        ns = body.get("namespace", "")
        with self.lock:
            records = self._select(ns, flt)
        page, nxt = self._page(records, body.get("limit"), body.get("paginationToken"), 10_000)
        out: dict[str, Any] = {"vectors": {r.id: r.as_json() for r in page}, "namespace": ns}
        if nxt:
            out["pagination"] = nxt
        return out

    def list(self, params: dict[str, list[str]]) -> dict[str, Any]:
        ns = params.get("namespace", [""])[0]
        prefix = params.get("prefix", [""])[0]
        with self.lock:
            ids = sorted(i for i in self.namespaces.get(ns, {}) if i.startswith(prefix))
        page, nxt = self._page(
            ids, params.get("limit", [None])[0], params.get("paginationToken", [None])[0], 100
        )
        out: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": ns}
        if nxt:
            out["pagination"] = nxt
        return out

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body.get("namespace", "")
        selectors = [k for k in ("ids", "deleteAll", "filter") if body.get(k)]
        if len(selectors) != 1:
            raise _bad("delete takes exactly one of ids, deleteAll or filter")
        flt = self._filter(body.get("filter")) if "filter" in body else None
        with self.lock:
            space = self.namespaces.get(ns)
            if space is None:
                raise ApiFailure(404, f"Namespace not found: {ns!r}", "NOT_FOUND")
            if body.get("ids"):
                for i in body["ids"]:
                    space.pop(i, None)
            elif body.get("deleteAll"):
                space.clear()
            else:
                for record in self._select(ns, flt):
                    del space[record.id]
            if not space:
                del self.namespaces[ns]
        return {}

    def delete_namespace(self, ns: str) -> dict[str, Any]:
        with self.lock:
            if self.namespaces.pop(ns, None) is None:
                raise ApiFailure(404, f"Namespace not found: {ns!r}", "NOT_FOUND")
        return {}

    def stats(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("filter"):
            raise _bad("describe_index_stats does not take a filter on serverless indexes")
        with self.lock:
            counts = {ns or "__default__": len(v) for ns, v in self.namespaces.items() if v}
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": self.metric,
            "vectorType": "dense",
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet

    def _reply(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.rfile.read(length)
            raise ApiFailure(413, "request exceeds the 2 MB limit", "PAYLOAD_TOO_LARGE")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw)
        except ValueError:
            raise _bad("request body is not JSON") from None
        if not isinstance(body, dict):
            raise _bad("request body must be an object")
        return body

    def _handle(self, method: str) -> None:
        index = self.server.index
        parts = urlsplit(self.path)
        index.requests.append((method, parts.path))
        try:
            key = self.headers.get("Api-Key")
            if not key or (index.api_key is not None and key != index.api_key):
                raise ApiFailure(401, "Invalid API key", "UNAUTHENTICATED")
            params = parse_qs(parts.query, keep_blank_values=True)
            route = (method, parts.path)
            if route == ("POST", "/vectors/upsert"):
                out = index.upsert(self._body())
            elif route == ("POST", "/query"):
                out = index.query(self._body())
            elif route == ("GET", "/vectors/fetch"):
                out = index.fetch(params.get("ids", []), params.get("namespace", [""])[0])
            elif route == ("POST", "/vectors/fetch_by_metadata"):
                out = index.fetch_by_metadata(self._body())
            elif route == ("GET", "/vectors/list"):
                out = index.list(params)
            elif route == ("POST", "/vectors/delete"):
                out = index.delete(self._body())
            elif route == ("POST", "/describe_index_stats"):
                out = index.stats(self._body())
            elif method == "DELETE" and parts.path.startswith("/namespaces/"):
                out = index.delete_namespace(unquote(parts.path[len("/namespaces/") :]))
            else:
                raise ApiFailure(404, f"no route {method} {parts.path}", "NOT_FOUND")
        except ApiFailure as exc:
            self._reply(exc.status, {"error": {"code": exc.code, "message": str(exc)}})
            return
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            self._reply(400, {"error": {"code": "INVALID_ARGUMENT", "message": str(exc)}})
            return
        self._reply(200, out)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, index: StandInIndex, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.index = index


def make_server(index: StandInIndex) -> ThreadingHTTPServer:
    """An HTTP server for ``index`` on 127.0.0.1 and a free port (not yet serving)."""
    return _Server(index)

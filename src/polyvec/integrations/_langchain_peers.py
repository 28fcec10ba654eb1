"""The constructor keywords of langchain-qdrant, langchain-postgres (PGVector) and
langchain-chroma, read with the same meaning by :class:`PolyvecVectorStore`, or refused
with an error naming polyvec's spelling. No keyword falls through to a backend unread.

=========================================  =============================================
peer keyword                               polyvec
=========================================  =============================================
``collection_name``, ``table_name``       the collection (``collection=``)
``embedding``, ``embeddings``,             the embeddings (LangChain ``Embeddings`` or a
``embedding_function``,                    polyvec embedder)
``embedding_service``
``url`` (a polyvec URL), ``connection``    the backend URL (``postgresql+psycopg://…``
(a connection string)                      is a polyvec URL too)
``location=":memory:"``, ``path=``         ``qdrant+memory://``, ``qdrant+local://path``,
                                           in langchain-qdrant's layout
``persist_directory``                      ``chroma+local://persist_directory``
``client`` (a ``QdrantClient``)            that client, in langchain-qdrant's layout
``distance``, ``distance_strategy``        ``"cosine"``, ``"dot"``, ``"l2"`` (also Qdrant's
                                           ``Distance`` and PGVector's ``DistanceStrategy``)
``retrieval_mode``                         the store's search mode (``RetrievalMode``
                                           values ``dense``, ``sparse``, ``hybrid``)
``relevance_score_fn``                     a function of polyvec's raw score, or a
                                           peer's name (see :mod:`._scores`)
``pre_delete_collection``,                 drop the collection first
``force_recreate``
``embedding_length``                       checked against the embeddings' dimension
``vector_name``, ``sparse_vector_name``    Qdrant vector names (Qdrant URLs only)
=========================================  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyvec.errors import ConfigurationError

if TYPE_CHECKING:
    from polyvec.collection import Collection

__all__ = ["PeerOptions", "open_collection", "peer_distance", "peer_mode", "read_peer_options"]

_DISTANCES = {
    "cosine": "cosine",
    "dot": "dot",
    "l2": "l2",
    "euclid": "l2",
    "euclidean": "l2",
    "inner": "dot",
    "ip": "dot",
    "max_inner_product": "dot",
}

_REFUSED = {
    "content_payload_key": "polyvec keeps the text under 'page_content', as langchain-qdrant "
    "does by default",
    "metadata_payload_key": "polyvec keeps metadata under 'metadata', as langchain-qdrant does "
    "by default",
    "sparse_embedding": "polyvec computes BM25 sparse vectors itself: drop sparse_embedding "
    'and use retrieval_mode="hybrid"',
    "sparse_vector_params": "polyvec creates the sparse vectors (BM25) itself",
    "vector_params": 'pass engine settings as options={"hnsw": {...}, "quantization": {...}}',
    "collection_create_options": "pass engine settings as options={...} (see the backend page)",
    "collection_metadata": "polyvec keeps its own collection state; store facts in documents",
    "collection_configuration": 'pass engine settings as options={"hnsw": {...}}',
    "engine_args": "put connection settings in the URL (postgresql://…?sslmode=…)",
    "async_mode": "every method has an async twin (a-prefixed); no mode is needed",
    "client_settings": "put the Chroma settings in the URL (chroma://host:port?…)",
    "host": "name the engine and host in url= (qdrant://host:6333, chroma://host:8000)",
    "port": "name the engine and port in url= (qdrant://host:6333, chroma://host:8000)",
    "grpc_port": "use url='qdrant+grpc://host:6334'",
    "prefer_grpc": "use url='qdrant+grpc://host:6334'",
    "https": "use url='qdrants://host:6333'",
    "api_key": "put it in the URL (qdrant://host?api_key=…) or in $QDRANT_API_KEY",
    "prefix": "put it in the URL path (qdrant://host:6333/prefix)",
    "headers": "put connection settings in the URL",
    "tenant": "put it in the URL (chroma://host:8000?tenant=…)",
    "database": "put it in the URL (chroma://host:8000?database=…)",
    "chroma_cloud_api_key": "put it in the URL",
    "ssl": "use url='chromas://host:8000'",
    "logger": "polyvec logs to the 'polyvec' logger (logging.getLogger('polyvec'))",
    "hybrid_search_config": 'use retrieval_mode="hybrid" (and fusion=...)',
    "client_options": "name the engine in url= (qdrant://host:6333?timeout=…)",
    "engine": "pass the database URL as connection= (a string, postgresql://…); polyvec "
    "opens its own connection pool",
    "schema_name": "put the schema in the URL (postgresql://…?schema=NAME)",
    "index_query_options": "set the engine's search parameters as collection options "
    '(options={"search": {...}})',
    "k": "pass k= to each search, or as_retriever(search_kwargs={'k': …})",
    "fetch_k": "pass fetch_k= to each MMR search, or in as_retriever's search_kwargs",
    "lambda_mult": "pass lambda_mult= to each MMR search, or in as_retriever's search_kwargs",
    **dict.fromkeys(
        (
            "content_column",
            "embedding_column",
            "metadata_columns",
            "ignore_metadata_columns",
            "id_column",
            "metadata_json_column",
        ),
        "polyvec keeps its own table layout (text, metadata as JSON, vectors); bring a "
        "PGVectorStore table over with `polyvec migrate --from pgvectorstore`",
    ),
}


def _make_parent(path: Any) -> None:
    """The peers create a store's directories as needed (a polyvec URL does not, to
    catch typos): a peer's ``path=`` keeps working as it does there."""
    Path(str(path)).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)


def peer_distance(value: Any) -> str:
    """A peer's distance spelling (Qdrant ``Distance``, PGVector ``DistanceStrategy``,
    Chroma ``space``) as polyvec's ``"cosine"``, ``"dot"`` or ``"l2"``.

    >>> peer_distance("Euclid"), peer_distance("inner")
    ('l2', 'dot')
    """
    raw = str(getattr(value, "value", value)).lower()
    if raw not in _DISTANCES:
        raise ConfigurationError(
            f"distance {value!r} is not one polyvec supports: use 'cosine', 'dot' or 'l2' "
            "(Qdrant's Cosine/Dot/Euclid and PGVector's cosine/inner/l2 are read too)"
        )
    return _DISTANCES[raw]


def peer_mode(value: Any) -> str:
    """``retrieval_mode`` (langchain-qdrant's ``RetrievalMode`` or a string) as polyvec's
    search mode.

    >>> peer_mode("hybrid")
    'hybrid'
    """
    raw = str(getattr(value, "value", value)).lower()
    if raw not in ("dense", "sparse", "hybrid"):
        raise ConfigurationError(
            f"retrieval_mode must be 'dense', 'sparse' or 'hybrid' (langchain-qdrant's "
            f"RetrievalMode values), got {value!r}"
        )
    return raw


class PeerOptions:
    """What a set of constructor keywords asks for, in polyvec's terms."""

    def __init__(self) -> None:
        self.collection: str | None = None
        self.embedding: Any = None
        self.url: str | None = None
        self.client: Any = None
        self.distance: str | None = None
        self.retrieval_mode: str | None = None
        self.relevance_score_fn: Any = None
        self.recreate = False
        self.dimension: int | None = None
        self.connect: dict[str, Any] = {}


def _url(options: PeerOptions, value: str, keyword: str) -> None:
    if options.url is not None and options.url != value:
        raise ConfigurationError(
            f"{keyword}= names a second backend ({value!r} besides {options.url!r}): give one"
        )
    options.url = value


def _connection(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(
            f"connection={type(value).__name__} is not a connection string: pass the "
            "database URL as a string (url='postgresql://user@host/db'); polyvec opens its "
            "own connection pool"
        )
    return value


def read_peer_options(given: Mapping[str, Any]) -> PeerOptions:
    """Sort a peer's constructor keywords into :class:`PeerOptions` (see the module doc);
    ``ConfigurationError`` for a keyword polyvec spells another way."""
    out = PeerOptions()
    for key, value in given.items():
        if key in ("collection", "collection_name", "table_name"):
            if out.collection is not None and out.collection != value:
                raise ConfigurationError(
                    "collection=, collection_name= and table_name= name two collections: give one"
                )
            out.collection = value
        elif key in ("embedding", "embeddings", "embedding_function", "embedding_service"):
            if value is not None:
                out.embedding = value
        elif key == "url":
            if value is not None:
                if str(value).split(":", 1)[0].lower() in ("http", "https"):
                    raise ConfigurationError(
                        f"url={value!r} is a server address: polyvec names the engine in the "
                        "URL scheme (qdrant://host:6333, qdrants://…, chroma://host:8000)"
                    )
                _url(out, str(value), key)
        elif key == "connection":
            if value is not None:
                _url(out, _connection(value), key)
        elif key == "location":
            if value is not None:
                if value != ":memory:":
                    raise ConfigurationError(
                        f"location={value!r}: use url='qdrant://host:6333' for a server"
                    )
                _url(out, "qdrant+memory://?layout=langchain", key)
        elif key == "path":
            if value is not None:
                _make_parent(value)
                _url(out, f"qdrant+local://{value}?layout=langchain", key)
        elif key == "persist_directory":
            if value is not None:
                _make_parent(value)
                _url(out, f"chroma+local://{value}", key)
        elif key == "client":
            out.client = value
        elif key in ("distance", "distance_strategy"):
            out.distance = peer_distance(value)
        elif key == "retrieval_mode":
            out.retrieval_mode = peer_mode(value)
        elif key == "relevance_score_fn":
            out.relevance_score_fn = value
        elif key in ("pre_delete_collection", "force_recreate"):
            out.recreate = out.recreate or bool(value)
        elif key == "embedding_length":
            out.dimension = value
        elif key in ("use_jsonb", "create_extension", "validate_embeddings",
                     "validate_collection_config", "create_collection_if_not_exists"):  # fmt: skip
            if value is not True:
                raise ConfigurationError(
                    f"{key}={value!r}: polyvec always does this (stores metadata as JSON, "
                    "creates what it needs, checks embeddings against the collection)"
                )
        elif key in _REFUSED:
            raise ConfigurationError(f"polyvec does not take the keyword {key!r} — {_REFUSED[key]}")
        else:
            out.connect[key] = value
    return out


def open_collection(peer: PeerOptions, embedder: Any) -> Collection:
    """The collection a peer's constructor keywords describe (``embedder``: a polyvec
    embedder, ``None`` for the default), created if missing, checked if present."""
    from polyvec.backends.registry import open_backend
    from polyvec.collection import Collection

    if peer.client is not None:
        if peer.url is not None:
            raise ConfigurationError("give client= or a URL (url=, connection=, path= …), not both")
        backend = _client_backend(peer.client, peer.connect)
    else:
        try:
            backend = open_backend(peer.url, **peer.connect)
        except TypeError as exc:  # a keyword neither the store nor this backend knows
            if not peer.connect or "keyword argument" not in str(exc):
                raise
            raise ConfigurationError(
                f"PolyvecVectorStore got {sorted(peer.connect)}: neither a peer store's "
                "keyword polyvec reads (collection_name, embedding, url/connection, path, "
                "distance, retrieval_mode … see docs/integrations/langchain.md) nor an "
                f"option of the backend the URL opens ({exc}); drop or rename it"
            ) from exc
    name = peer.collection or "langchain"
    try:
        if peer.recreate and backend.get_spec(name) is not None:
            backend.drop_collection(name)
        elif not peer.recreate:
            _refuse_peer_data(backend, name)
        # an existing collection of another distance raises CollectionMismatchError
        distance: Any = peer.distance
        coll = Collection(backend, name, embedder=embedder, distance=distance)
    except BaseException:
        backend.close()
        raise
    if peer.dimension is not None and peer.dimension != coll.dimension:
        raise ConfigurationError(
            f"embedding_length={peer.dimension} but the collection holds {coll.dimension}-"
            "dimensional vectors"
        )
    return coll


def _refuse_peer_data(backend: Any, name: str) -> None:
    """``ConfigurationError`` naming ``polyvec migrate`` when polyvec holds no collection
    ``name`` here but a peer store does (PGVector, PGVectorStore): opening it would start
    an empty polyvec collection beside the user's data. Qdrant and Chroma refuse a peer's
    collection themselves, naming the same command."""
    if backend.capabilities.backend != "pgvector":
        return
    from polyvec.backends.pgvector.backend import PgVectorBackend
    from polyvec.backends.pgvector.peer_tables import peer_layout

    if not isinstance(backend, PgVectorBackend) or backend.get_spec(name) is not None:
        return
    peer = peer_layout(backend, name)
    if peer is not None:
        raise ConfigurationError(
            f"{name!r} is a collection {peer} wrote, not a polyvec one, so polyvec would "
            f"start an empty collection beside it: rebuild it once with `polyvec migrate "
            f"--from {peer} DB_URL DB_URL --collection {name}` (stored vectors kept, BM25 "
            "built, nothing re-embedded), then open it as before; or give another "
            "collection_name for a new, empty collection"
        )


def _client_backend(client: Any, options: dict[str, Any]) -> Any:
    if type(client).__name__ == "QdrantClient":
        from polyvec.backends.qdrant import QdrantBackend

        return QdrantBackend(client=client, **{"layout": "langchain", **options})
    raise ConfigurationError(
        f"client={type(client).__name__}: polyvec opens its own client from a URL "
        "(url='chroma://host:8000', 'postgresql://…'); a QdrantClient is taken as it is"
    )

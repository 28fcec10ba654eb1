"""polyvec: one retrieval core over many vector databases.

Imports no backend and no framework: those load on first use.
"""

from polyvec.collection import Collection, connect
from polyvec.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    CollectionMismatchError,
    CollectionNotFoundError,
    ConfigurationError,
    DimensionMismatchError,
    EmptyQueryError,
    FilterError,
    FilterSyntaxError,
    FilterValueError,
    InputError,
    InvalidTextError,
    InvalidVectorError,
    MissingDependencyError,
    PolyvecError,
    ScanLimitError,
    SchemaError,
    StoreLockedError,
    UnsupportedFeatureError,
    UnsupportedFilterError,
    WriteError,
)
from polyvec.facets import Facets
from polyvec.filters import F
from polyvec.fusion import DBSF, RRF, Convex
from polyvec.retriever import MMRConfig, Retriever, RetrieverConfig
from polyvec.schema import Field, MetadataSchema
from polyvec.stats import CollectionStats
from polyvec.tracing import Hits, Trace
from polyvec.types import Document, Hit, Source, SparseVector

__version__ = "0.1.0"

__all__ = [
    "DBSF",
    "RRF",
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "Collection",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "CollectionStats",
    "ConfigurationError",
    "Convex",
    "DimensionMismatchError",
    "Document",
    "EmptyQueryError",
    "F",
    "Facets",
    "Field",
    "FilterError",
    "FilterSyntaxError",
    "FilterValueError",
    "Hit",
    "Hits",
    "InputError",
    "InvalidTextError",
    "InvalidVectorError",
    "MMRConfig",
    "MetadataSchema",
    "MissingDependencyError",
    "PolyvecError",
    "Retriever",
    "RetrieverConfig",
    "ScanLimitError",
    "SchemaError",
    "Source",
    "SparseVector",
    "StoreLockedError",
    "Trace",
    "UnsupportedFeatureError",
    "UnsupportedFilterError",
    "WriteError",
    "__version__",
    "connect",
]

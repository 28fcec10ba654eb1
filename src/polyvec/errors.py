"""The polyvec exception tree.

Every error polyvec raises on purpose is a :class:`PolyvecError`; each says what was
wrong and what to do about it::

    PolyvecError
    ├── ConfigurationError            a bad URL, option or combination of options
    │   ├── CollectionMismatchError   reopening a collection with another model, distance …
    │   └── UnsupportedFeatureError   a feature (named vectors, quantization …) this
    │                                 backend cannot provide
    ├── MissingDependencyError        (also ImportError) an optional extra is not installed
    ├── InputError                    (also ValueError) bad data handed to polyvec
    │   ├── SchemaError               metadata that does not fit the declared MetadataSchema
    │   ├── DimensionMismatchError    a vector of the wrong length for the collection
    │   ├── InvalidVectorError        NaN / infinite values, empty or malformed vectors
    │   ├── InvalidTextError          (also FilterError) a string with a lone surrogate,
    │   │                             in an id, text, metadata key or value, or a filter
    │   └── EmptyQueryError           a query with no text (or no usable tokens)
    ├── FilterError                   (also ValueError) a metadata filter is wrong
    │   ├── FilterSyntaxError         unknown operator, malformed filter dict
    │   ├── FilterValueError          a value of the wrong type for its operator
    │   ├── UnsupportedFilterError    valid filter that this backend cannot express
    │   └── EncryptedFieldError       a filter on a metadata field that is encrypted at rest
    ├── BackendError                  the database said no, or could not be reached
    │   ├── BackendUnavailableError   unreachable server, refused connection, timeout
    │   ├── AuthenticationError       wrong password, key or token (never retried)
    │   ├── StoreLockedError          an embedded store is open in another process
    │   ├── CollectionNotFoundError   the named collection does not exist
    │   ├── WriteError                a write failed; says which ids were and were not written
    │   └── ReadOnlyError             a write refused because the backend was opened read-only
    ├── ScanLimitError                a client-side scan (facet counts) would read too much
    └── VerificationError             a copy (migrate, import) differs from its source
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyvec.redaction import scrub

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "ConfigurationError",
    "DimensionMismatchError",
    "EmptyQueryError",
    "EncryptedFieldError",
    "FilterError",
    "FilterSyntaxError",
    "FilterValueError",
    "InputError",
    "InvalidTextError",
    "InvalidVectorError",
    "MissingDependencyError",
    "PolyvecError",
    "ReadOnlyError",
    "ScanLimitError",
    "SchemaError",
    "StoreLockedError",
    "UnsupportedFeatureError",
    "UnsupportedFilterError",
    "VerificationError",
    "WriteError",
]


class PolyvecError(Exception):
    """Base class of every error polyvec raises on purpose.

    Its message goes through :func:`polyvec.redaction.scrub`: a password, token or API
    key in a URL, a libpq DSN or a ``key=value`` pair never reaches ``str(error)``."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(PolyvecError):
    """A URL, option or combination of options that cannot work."""


class CollectionMismatchError(ConfigurationError):
    """Reopening a collection with a setting other than the one it was built with
    (embedding model, distance, BM25 settings, metadata schema). ``setting``,
    ``recorded`` and ``requested`` say which and how."""

    def __init__(
        self, collection: str, setting: str, recorded: Any, requested: Any, fix: str
    ) -> None:
        super().__init__(
            f"collection {collection!r} was built with {setting} {recorded!r}, not "
            f"{requested!r}: {fix}"
        )
        self.collection = collection
        self.setting = setting
        self.recorded = recorded
        self.requested = requested


class UnsupportedFeatureError(ConfigurationError):
    """A feature the backend cannot provide (named vectors, a quantization, an index
    type, a cluster setting …); raised before anything is written, never ignored.

    ``feature`` is a key of :data:`polyvec.backends.features.FEATURES`."""

    def __init__(self, backend: str, feature: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"the {backend} backend cannot provide {feature!r}{extra}: leave it out, or use "
            f"a backend whose capabilities list it (`polyvec info`, docs: feature table)"
        )
        self.backend = backend
        self.feature = feature


class MissingDependencyError(PolyvecError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{package} is required{what} but is not installed: pip install 'polyvec[{extra}]'"
        )
        self.package = package
        self.extra = extra


class InputError(PolyvecError, ValueError):
    """Bad data handed to polyvec (vectors, documents, queries)."""


class DimensionMismatchError(InputError):
    """A vector whose length differs from the collection's dimension."""

    def __init__(self, expected: int, got: int, where: str = "vector") -> None:
        super().__init__(
            f"{where} has dimension {got} but the collection expects {expected}: "
            f"use the same embedding model the collection was created with, "
            f"or create a new collection with dimension={got}"
        )
        self.expected = expected
        self.got = got


class InvalidVectorError(InputError):
    """A vector with NaN or infinite values, or of an unusable shape."""


class EmptyQueryError(InputError):
    """A query with no text, or none that the sparse encoder can use."""


class SchemaError(InputError):
    """Metadata that does not fit the collection's :class:`~polyvec.schema.MetadataSchema`
    (the message names the document id and the field)."""


class FilterError(PolyvecError, ValueError):
    """A metadata filter that is malformed, ill-typed or not expressible."""


class FilterSyntaxError(FilterError):
    """An unknown operator or a malformed filter structure."""


class FilterValueError(FilterError):
    """A filter value of the wrong type for its operator."""


class InvalidTextError(InputError, FilterError):
    """A string that is not valid Unicode (a lone surrogate code point such as
    ``"\\ud800"``), which no engine can store or compare: in a document id, text,
    metadata key or value, or a filter field or value. The message names where."""


class UnsupportedFilterError(FilterError):
    """A valid filter that a backend cannot express; never silently dropped."""

    def __init__(self, backend: str, operator: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"the {backend} backend cannot express the filter operator {operator!r}{extra}: "
            f"rewrite the filter without it, or use a backend whose capabilities list it "
            f"(`polyvec info`)"
        )
        self.backend = backend
        self.operator = operator


class BackendError(PolyvecError):
    """The database refused an operation or failed while doing it."""


class BackendUnavailableError(BackendError):
    """The database could not be reached."""


class AuthenticationError(BackendError):
    """The database refused the credentials (password, API key, token). Never retried:
    the same credentials fail the same way. The engine's error is the ``__cause__``."""


class StoreLockedError(BackendError):
    """An embedded store (a directory or file) that another process has open: one
    process writes an embedded store at a time. ``path`` is the store, ``holder`` the
    process id that holds it (when known)."""

    def __init__(self, path: str, engine: str, holder: int | None = None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(
            f"the {engine} store {path} is open in {who}: an embedded store is used by one "
            "process at a time; close it there first (or wait for that process to end), "
            "or use the engine's server for several processes"
        )
        self.path = path
        self.engine = engine
        self.holder = holder


class CollectionNotFoundError(BackendError):
    """The named collection does not exist."""

    def __init__(self, collection: str, backend: str = "") -> None:
        where = f" on {backend}" if backend else ""
        super().__init__(
            f"collection {collection!r} does not exist{where}: create it by adding documents "
            f"(Collection.add) or check the name with `polyvec info`"
        )
        self.collection = collection


class WriteError(BackendError):
    """A write that failed. ``written`` and ``failed`` hold the ids on each side."""

    def __init__(
        self,
        message: str,
        *,
        written: Sequence[Any] = (),
        failed: Sequence[Any] = (),
    ) -> None:
        super().__init__(
            f"{message}; {len(written)} document(s) were written, {len(failed)} were not "
            f"(see .written / .failed); re-running the same write is safe (ids are idempotent)"
        )
        self.written = list(written)
        self.failed = list(failed)


class ReadOnlyError(BackendError):
    """A write (upsert, delete, create, drop, state) refused by a read-only backend."""

    def __init__(self, operation: str, target: str = "") -> None:
        where = f" on {target}" if target else ""
        super().__init__(
            f"refused to {operation}{where}: the backend was opened read-only "
            "(read_only=True / --read-only); open it without read-only to write"
        )
        self.operation = operation


class EncryptedFieldError(FilterError):
    """A filter that compares a metadata field stored encrypted (it could never match)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"the filter compares the metadata field {field!r}, which is encrypted at rest, "
            "so the database cannot compare it: drop that condition, filter on a field that "
            "is not encrypted, or store a non-secret copy (e.g. a category) beside it"
        )
        self.field = field


class ScanLimitError(PolyvecError):
    """A client-side scan (facet counts on an engine without them) that would read more
    documents than its cap; raised before the first read, never a truncated answer."""

    def __init__(self, operation: str, matching: int, limit: int, backend: str = "") -> None:
        where = f" on {backend}" if backend else ""
        super().__init__(
            f"{operation} would read {matching} documents{where}, more than "
            f"scan_limit={limit} (this engine has no native facet counts, so polyvec counts "
            "the matching documents itself): narrow the filter, or pass a larger scan_limit"
        )
        self.matching = matching
        self.limit = limit


class VerificationError(PolyvecError):
    """A copy (``polyvec migrate``, ``import``) that differs from its source.

    ``problems`` lists what differs (counts, missing ids, changed documents)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        shown = "; ".join(problems[:5]) + (" …" if len(problems) > 5 else "")
        super().__init__(
            f"{message}: {shown} — re-run the copy (it is idempotent), and if it persists, "
            "check that nothing writes to the source or the destination meanwhile"
            if problems
            else message
        )
        self.problems = list(problems)

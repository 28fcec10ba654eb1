"""Export files in Apache Parquet: the same content as the JSONL format, in columns.

Written by ``export_collection(..., "backup.parquet")`` (or ``polyvec export --format
parquet``), read back by ``import_collection`` (recognised by its ``PAR1`` magic).
Needs ``pyarrow`` (``pip install 'polyvec[parquet]'``). Columns::

    id         string      the id as text (``"7"``)
    id_is_int  bool        whether the id is the integer 7 or the string "7"
    text       string
    metadata   string      canonical JSON (nested dicts, lists, None, 1 vs 1.0 kept)
    dense      fixed_size_list<float32>[dimension], null when absent (bit-exact)
    sparse_indices  list<int64>,  sparse_values  list<float64>, null when absent

The file's key-value metadata carries ``polyvec.header`` (format, collection, engine,
spec, BM25 state: what a JSONL header holds) and, written last, ``polyvec.end`` (the
count and digests, checked on import like the JSONL end line). Other tools read the
columns directly, e.g. ``pyarrow.parquet.read_table("backup.parquet").to_pandas()``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from polyvec.errors import InputError, MissingDependencyError
from polyvec.transfer.records import Digest, canonical_json
from polyvec.types import Document, SparseVector

__all__ = ["FORMAT", "MAGIC", "is_parquet", "read_parquet", "write_parquet"]

FORMAT = "polyvec-parquet/1"
MAGIC = b"PAR1"
_HEADER_KEY = b"polyvec.header"
_END_KEY = b"polyvec.end"


def _pa() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "parquet", "Parquet export/import") from exc
    return pyarrow


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with Parquet's magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def _schema(pa: Any, dimension: int, header: dict[str, Any]) -> Any:
    return pa.schema(
        [
            ("id", pa.string()),
            ("id_is_int", pa.bool_()),
            ("text", pa.string()),
            ("metadata", pa.string()),
            ("dense", pa.list_(pa.float32(), dimension)),
            ("sparse_indices", pa.list_(pa.int64())),
            ("sparse_values", pa.list_(pa.float64())),
        ],
        metadata={_HEADER_KEY: json.dumps(header, ensure_ascii=False)},
    )


def _table(pa: Any, schema: Any, dimension: int, batch: list[Document]) -> Any:
    dense_flat: list[np.ndarray] = []
    dense_valid: list[bool] = []
    for doc in batch:
        vec = doc.dense
        if vec is not None and vec.shape != (dimension,):
            raise InputError(
                f"document {doc.id!r} has a {vec.shape} dense vector; the collection's "
                f"dimension is {dimension}"
            )
        dense_valid.append(vec is not None)
        dense_flat.append(
            np.zeros(dimension, np.float32) if vec is None else vec.astype(np.float32, copy=False)
        )
    values = pa.array(
        np.concatenate(dense_flat) if dense_flat else np.zeros(0, np.float32), pa.float32()
    )
    mask = pa.array([not v for v in dense_valid], pa.bool_())
    dense = pa.FixedSizeListArray.from_arrays(values, dimension, mask=mask)
    columns = [
        pa.array([str(d.id) for d in batch], pa.string()),
        pa.array([isinstance(d.id, int) for d in batch], pa.bool_()),
        pa.array([d.text for d in batch], pa.string()),
        pa.array([canonical_json(dict(d.metadata)) for d in batch], pa.string()),
        dense,
        pa.array(
            [None if d.sparse is None else list(d.sparse.indices) for d in batch],
            pa.list_(pa.int64()),
        ),
        pa.array(
            [None if d.sparse is None else list(d.sparse.values) for d in batch],
            pa.list_(pa.float64()),
        ),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(
    path: str | os.PathLike[str],
    header: dict[str, Any],
    batches: Iterable[list[Document]],
    *,
    on_batch: Any = None,
) -> Digest:
    """Write ``header`` and the documents to ``path``; returns their digest.
    ``on_batch(n)`` is called after each batch (for a progress bar)."""
    pa = _pa()
    import pyarrow.parquet as pq

    dimension = int(header["spec"]["dimension"])
    header = {**header, "format": FORMAT}
    schema = _schema(pa, dimension, header)
    digest = Digest()
    with pq.ParquetWriter(os.fspath(path), schema, compression="zstd") as writer:
        for batch in batches:
            digest.update(batch)  # refuses metadata that is not JSON-able (InputError)
            writer.write_table(_table(pa, schema, dimension, batch))
            if on_batch is not None:
                on_batch(len(batch))
        writer.add_key_value_metadata({_END_KEY: json.dumps(digest.as_dict())})
    return digest


def _doc(row: dict[str, Any], where: str) -> Document:
    try:
        doc_id: int | str = int(row["id"]) if row["id_is_int"] else str(row["id"])
        dense = row["dense"]
        indices, values = row["sparse_indices"], row["sparse_values"]
        return Document(
            doc_id,
            row["text"],
            json.loads(row["metadata"]),
            dense=None if dense is None else np.asarray(dense, np.float32),
            sparse=None
            if indices is None
            else SparseVector(tuple(int(i) for i in indices), tuple(float(v) for v in values)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where} is malformed ({exc!r}): the file is damaged") from exc


def _open(path: str | os.PathLike[str]) -> Any:
    _pa()
    import pyarrow.parquet as pq

    name = os.fspath(path)
    try:
        return pq.ParquetFile(name)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a damaged file
        raise InputError(
            f"{name} is not a complete Parquet file ({type(exc).__name__}: {exc}): the export "
            "was interrupted or the file damaged; export it again"
        ) from exc


def read_parquet(
    path: str | os.PathLike[str], batch_size: int
) -> tuple[dict[str, Any], Iterator[list[Document]]]:
    """The header, and the documents in batches; the digest is checked at the end."""
    name = os.fspath(path)
    meta = _open(path).metadata.metadata or {}  # the file's key-value metadata
    try:
        header = json.loads(meta[_HEADER_KEY])
        end = json.loads(meta[_END_KEY])
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"{name} is a Parquet file but not a complete polyvec export (no "
            f"{exc.args[0] if isinstance(exc, KeyError) else 'valid'} polyvec metadata): "
            "write it with `polyvec export --format parquet`"
        ) from exc
    if header.get("format") != FORMAT:
        raise InputError(f"{name} has format {header.get('format')!r}, expected {FORMAT!r}")

    def batches() -> Iterator[list[Document]]:
        digest = Digest()
        number = 0
        for record_batch in _open(path).iter_batches(batch_size=batch_size):
            docs = []
            for row in record_batch.to_pylist():
                number += 1
                docs.append(_doc(row, f"{name} row {number}"))
            digest.update(docs)
            yield docs
        if end != digest.as_dict():
            raise InputError(
                f"{name} does not match its own digest ({digest.as_dict()} vs {end}): the "
                "file was edited or damaged; export it again"
            )

    return header, batches()

"""Moving collections safely: migrate between backends, export/import, verify.

::

    from polyvec.transfer import export_collection, import_collection, migrate

Command line: ``polyvec migrate SRC_URL DST_URL``, ``polyvec export``, ``polyvec import``,
``polyvec verify`` (see :mod:`polyvec.transfer.cli` and docs/data-safety.md).
"""

from polyvec.transfer.checkpoint import Checkpoint
from polyvec.transfer.jsonl import (
    FORMAT,
    ExportReport,
    ImportReport,
    check_file,
    export_collection,
    import_collection,
)
from polyvec.transfer.migrate import MigrationReport, migrate, verify_copy
from polyvec.transfer.records import Digest, from_record, to_record
from polyvec.transfer.verify import DEFAULT_TOLERANCE, VerifyReport, compare

__all__ = [
    "DEFAULT_TOLERANCE",
    "FORMAT",
    "Checkpoint",
    "Digest",
    "ExportReport",
    "ImportReport",
    "MigrationReport",
    "VerifyReport",
    "check_file",
    "compare",
    "export_collection",
    "from_record",
    "import_collection",
    "migrate",
    "to_record",
    "verify_copy",
]

"""The public API is exactly ``__all__``, and importing polyvec loads no backend or framework."""

from __future__ import annotations

import subprocess
import sys

import polyvec


def test_all_is_sorted_unique_and_complete():
    names = polyvec.__all__
    assert len(names) == len(set(names))
    assert sorted(names, key=str.lower) == sorted(names, key=str.lower)
    for name in names:
        assert hasattr(polyvec, name), name
    public = {n for n in dir(polyvec) if not n.startswith("_")}
    # submodules are reachable as attributes once imported; everything else must be listed
    import types

    extra = {
        n for n in public - set(names) if not isinstance(getattr(polyvec, n), types.ModuleType)
    }
    assert extra == set()


def test_import_loads_no_backend_and_no_framework():
    code = (
        "import sys, polyvec; "
        "heavy = ['qdrant_client', 'qdrant_edge', 'psycopg', 'chromadb', 'pymilvus', 'pinecone', "
        "'weaviate', 'langchain_core', 'llama_index', 'sentence_transformers', 'torch']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_collection_spec_compatibility_is_checked_in_one_place():
    import pytest

    from polyvec.backends.base import CollectionSpec
    from polyvec.errors import ConfigurationError

    have = CollectionSpec("c", 3, "cosine", sparse=False)
    have.require_compatible(CollectionSpec("c", 3, "cosine", sparse=False))
    have.require_compatible(CollectionSpec("c", 3, "cosine", sparse=True), sparse=False)
    for wanted, sparse in [
        (CollectionSpec("c", 4, "cosine", sparse=False), False),
        (CollectionSpec("c", 3, "dot", sparse=False), False),
        (CollectionSpec("c", 3, "cosine", sparse=True), True),
    ]:
        with pytest.raises(ConfigurationError, match="exists with dimension=3"):
            have.require_compatible(wanted, sparse=sparse)


def test_metadata_schema_names_are_public():
    from polyvec.errors import InputError
    from polyvec.schema import Field, MetadataSchema

    assert {"Field", "MetadataSchema", "SchemaError"} <= set(polyvec.__all__)
    assert polyvec.Field is Field and polyvec.MetadataSchema is MetadataSchema
    assert issubclass(polyvec.SchemaError, InputError)

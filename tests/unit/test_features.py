"""The feature table: each backend's declared features, and the typed refusal."""

from __future__ import annotations

import pytest

from polyvec.backends.base import Capabilities
from polyvec.backends.features import FEATURES, features_table
from polyvec.errors import ConfigurationError, UnsupportedFeatureError
from polyvec.filters.tables import BACKENDS


def test_feature_support_native_emulated_unsupported() -> None:
    caps = Capabilities(
        "x",
        native_features=frozenset({"named_vectors"}),
        emulated=frozenset({"index.exact"}),
    )
    assert caps.feature_support("named_vectors") == "native"
    assert caps.feature_support("index.exact") == "emulated"
    assert caps.feature_support("quantization.binary") == "unsupported"
    with pytest.raises(ConfigurationError, match="unknown feature 'nope'"):
        caps.feature_support("nope")


def test_table_has_a_row_per_feature_and_footnotes() -> None:
    a = Capabilities("a", native_features=frozenset(FEATURES))
    b = Capabilities("b", feature_notes=(("distribution", "server only"),))
    text = features_table([("a", a), ("b", b)])
    for feature in FEATURES:
        assert f"| `{feature}` | native |" in text
    assert "| `distribution` | native | **refused** [1] |" in text
    assert "[1] b, `distribution`: server only" in text


def test_every_backend_declares_only_known_features() -> None:
    import importlib

    for _, target in BACKENDS:
        module, _, cls = target.partition(":")
        caps = getattr(importlib.import_module(module), cls).capabilities
        for feature in caps.native_features | {f for f, _ in caps.feature_notes}:
            assert feature in FEATURES, (caps.backend, feature)
        assert not caps.native_features & caps.emulated, caps.backend


def test_unsupported_feature_error_names_the_backend_and_feature() -> None:
    err = UnsupportedFeatureError("chroma", "named_vectors", "one vector per record")
    assert isinstance(err, ConfigurationError)
    assert (err.backend, err.feature) == ("chroma", "named_vectors")
    assert "chroma" in str(err) and "'named_vectors'" in str(err)
    assert "one vector per record" in str(err)

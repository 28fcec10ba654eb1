"""Session-wide fixtures: engines started once, a fresh backend per test.

``backend`` is parametrized over every engine variant in ``tests/engines``; a test
that takes it runs once per backend. ``POLYVEC_REQUIRE=qdrant,pgvector,...`` turns a
skipped engine into a failure (CI sets it, so a missing engine cannot pass silently).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.engines as engines_pkg
from polyvec.backends.base import Backend
from tests.engines import Engine


def _engine_modules() -> dict[str, str]:
    """variant name -> engine module name."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(engines_pkg.__path__):
        module = importlib.import_module(f"tests.engines.{info.name}")
        for variant in getattr(module, "VARIANTS", ()):
            found[variant] = info.name
    return found


VARIANTS = _engine_modules()
REQUIRED = {n.strip() for n in os.environ.get("POLYVEC_REQUIRE", "").split(",") if n.strip()}


def engine_family(variant: str) -> str:
    return variant.split("-")[0]


def skip_or_fail(variant: str, reason: str) -> None:
    if engine_family(variant) in REQUIRED or variant in REQUIRED:
        pytest.fail(f"{variant} is required here (POLYVEC_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{variant} unavailable: {reason}")


class _Engines:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: dict[str, Engine] = {}
        self.failed: dict[str, str] = {}

    def get(self, module_name: str) -> Engine | str:
        if module_name in self.started:
            return self.started[module_name]
        if module_name in self.failed:
            return self.failed[module_name]
        module = importlib.import_module(f"tests.engines.{module_name}")
        try:
            engine = module.start(self.root / module_name)
        except pytest.exit.Exception:
            raise  # an engine that cannot run here stops the whole run with one message
        except Exception as exc:  # reported as a skip, or a failure where required
            self.failed[module_name] = f"{type(exc).__name__}: {exc}"
            return self.failed[module_name]
        self.started[module_name] = engine
        return engine

    def stop_all(self) -> None:
        for engine in self.started.values():
            engine.stop()


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engines]:
    registry = _Engines(tmp_path_factory.mktemp("engines"))
    yield registry
    registry.stop_all()


def _variant_params(names: list[str]) -> list[object]:
    return [
        pytest.param(v, marks=getattr(pytest.mark, engine_family(v).replace("+", "_")), id=v)
        for v in names
    ]


def variants_for(*families: str) -> list[object]:
    """Params for the variants of the given engine families (all when none given)."""
    names = [v for v in VARIANTS if not families or engine_family(v) in families]
    return _variant_params(sorted(names))


def engine_for(engines: _Engines, variant: str) -> Engine:
    got = engines.get(VARIANTS[variant])
    if isinstance(got, str):
        skip_or_fail(variant, got)
    assert isinstance(got, Engine)
    return got


@pytest.fixture(params=variants_for())
def backend_variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(engines: _Engines, backend_variant: str) -> Iterator[Backend]:
    """A fresh backend on a real engine, once per variant."""
    engine = engine_for(engines, backend_variant)
    instance = engine.make(backend_variant, f"t{uuid.uuid4().hex[:10]}")
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def collection_name() -> str:
    return f"c_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def embedder():
    """The real offline all-MiniLM-L6-v2 model, loaded once per session."""
    from polyvec.embeddings import default_embedder

    return default_embedder()

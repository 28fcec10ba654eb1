"""The helpers every backend shares: engine errors translated (polyvec errors pass
through, the cause is chained, secrets hidden), delete's arguments, the state's JSON."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from polyvec.backends import base, paths, translate, values
from polyvec.backends.base import require_ids_or_filter, state_json
from polyvec.backends.paths import check_store_path
from polyvec.backends.translate import describe, hide, translated
from polyvec.errors import BackendError, ConfigurationError, InputError, WriteError
from polyvec.filters import F


def test_translated_raises_the_translation_from_the_cause() -> None:
    cause = ConnectionError("refused")
    down = translated(lambda exc: BackendError(f"down: {exc}"))
    with pytest.raises(BackendError, match="down: refused") as info, down:
        raise cause
    assert info.value.__cause__ is cause


def test_translated_lets_polyvec_errors_and_success_through() -> None:
    seen: list[Exception] = []

    def translate_(exc: Exception) -> BackendError:
        seen.append(exc)
        return BackendError("translated")

    error = WriteError("partial", written=[1], failed=[2])
    with pytest.raises(WriteError) as info, translated(translate_):
        raise error
    assert info.value is error
    with translated(translate_):
        pass
    assert seen == []


def test_translated_catches_only_the_given_types() -> None:
    only_os = translated(lambda exc: BackendError(str(exc)), (OSError,))
    with pytest.raises(KeyError), only_os:
        raise KeyError("not an engine error")
    with pytest.raises(BackendError), translated(lambda exc: BackendError(str(exc)), (OSError,)):
        raise ConnectionError("an OSError")


def test_secrets_never_reach_the_message() -> None:
    assert describe(RuntimeError("token abc in abc"), "abc") == "RuntimeError: token *** in ***"
    assert describe(RuntimeError("long form"), None, "short") == "RuntimeError: short"
    assert hide("nothing secret", None) == hide("nothing secret", "") == "nothing secret"


def test_delete_takes_ids_or_filter_exactly() -> None:
    require_ids_or_filter([1], None)
    require_ids_or_filter(None, F("a") == 1)
    for ids, f in [(None, None), ([1], F("a") == 1)]:
        with pytest.raises(ConfigurationError, match="exactly one"):
            require_ids_or_filter(ids, f)


def test_state_must_be_json() -> None:
    assert state_json({"k": "ü"}) == '{"k": "\\u00fc"}'  # ASCII, as every backend stored it
    with pytest.raises(InputError, match="polyvec state must be JSON"):
        state_json({"k": object()})


@pytest.mark.parametrize("module", [base, paths, translate, values])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("scheme", ["qdrant-edge", "qdrant+local", "chroma+local", "milvus+lite"])
def test_a_store_in_a_missing_directory_is_not_created(scheme: str, tmp_path: Path) -> None:
    """A typo in a parent directory used to create a new, empty store there."""
    from polyvec.backends.registry import open_backend

    where = tmp_path / "no" / "such" / "store"
    with pytest.raises(ConfigurationError, match=r"does not exist: check the path for a typo"):
        open_backend(f"{scheme}://{where}")
    assert not (tmp_path / "no").exists()
    check_store_path("qdrant-edge://x", str(tmp_path / "new"))  # a new store beside: fine


@pytest.mark.parametrize("scheme", ["qdrant-edge", "qdrant+local", "chroma+local", "milvus+lite"])
def test_a_store_where_nothing_can_be_created_is_a_typed_error(scheme: str) -> None:
    """/proc lets root pass every permission check, yet creates nothing: it used to raise
    a raw FileNotFoundError from deep in the engine."""
    from polyvec.backends.registry import open_backend

    with pytest.raises(ConfigurationError, match=r"in '/proc', where this process cannot create"):
        open_backend(f"{scheme}:///proc/polyvec-store")


def test_the_default_store_creates_its_own_directory(tmp_path: Path) -> None:
    where = tmp_path / ".polyvec" / "data"
    check_store_path("qdrant-edge://./.polyvec/data", str(where))
    assert where.parent.is_dir() and not where.exists()
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_store_path("x", str(tmp_path / "missing" / ".polyvec" / "data"))

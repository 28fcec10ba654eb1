"""Engine errors turned into polyvec errors, the way every backend does it: a client's
exception becomes the typed polyvec error its backend chooses (chained to the cause), a
polyvec error passes through unchanged, and a secret (API key, token, password) never
reaches a message.

    >>> describe(ValueError("bad key sk-123"), secret="sk-123")
    'ValueError: bad key ***'
    >>> from polyvec.errors import BackendError
    >>> with translated(lambda exc: BackendError(f"engine said {exc}")):
    ...     raise KeyError("x")
    Traceback (most recent call last):
    polyvec.errors.BackendError: engine said 'x'
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from polyvec.errors import PolyvecError

__all__ = ["describe", "hide", "translated"]


def hide(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def describe(exc: BaseException, secret: str | None, reason: str | None = None) -> str:
    """``"ErrorType: message"`` for an engine error (``reason`` instead of ``str(exc)``
    where a client has a shorter form), ``secret`` hidden."""
    return hide(f"{type(exc).__name__}: {exc if reason is None else reason}", secret)


@contextlib.contextmanager
def translated(
    translate: Callable[[Exception], PolyvecError],
    catch: tuple[type[Exception], ...] = (Exception,),
) -> Iterator[None]:
    """Run the block; raise ``translate(exc)`` from an exception of the ``catch`` types
    that is not already a :class:`~polyvec.errors.PolyvecError` (those pass through, as
    do exceptions of other types)."""
    try:
        yield
    except PolyvecError:
        raise
    except catch as exc:
        raise translate(exc) from exc

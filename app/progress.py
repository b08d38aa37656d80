"""Progress reporting and cancellation as plain parameters, so core work runs anywhere.

Core functions that can take long accept ``progress`` (a callable ``(done, total, label)``) and
``cancel`` (a :class:`CancelToken`). The UI passes a token it sets from its Cancel button and a
callback that posts to the GUI thread; the CLI passes a terminal printer; tests pass recorders.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from app.errors import Cancelled

ProgressCallback = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str = "") -> None:
    return None


class CancelToken:
    """A thread-safe flag the caller sets and the worker polls between units of work."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()


NEVER = CancelToken()  # a token nobody cancels: the default


def checker(cancel: Optional[CancelToken]) -> Callable[[], None]:
    return (cancel or NEVER).check

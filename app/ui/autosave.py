"""Autosave: every change is written to the store within about a second; there is no Save button.

Field editors call :meth:`Autosaver.queue`; a single-shot timer writes everything pending half a
second after the last change (one transaction per requirement through ``Kit.set_answers``).
:meth:`Autosaver.flush` writes at once: called on page change, stage close, language switch, before
any worker task and on quit. While a worker uses the Kit, writes wait until it is idle.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.errors import KitError
from app.i18n import _

DELAY_MS = 500


class Autosaver(QObject):
    state_changed = Signal(str, str)  # "saving" | "saved" | "error", one-line text
    saved = Signal(object)  # set of (stage, requirement) written

    def __init__(self, kit: Any, guard: Any, delay_ms: int = DELAY_MS) -> None:
        super().__init__()
        self.kit = kit
        self.guard = guard
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.flush)
        guard.idle.connect(self._after_task)
        self.last_error: str | None = None
        self._page: tuple[str, str] | None = None

    @property
    def pending(self) -> bool:
        return bool(self._pending) or self._page is not None

    def remember_page(self, stage: str, requirement_id: str) -> None:
        """Where the person is ("reopen where you left off"), written with the next save: paging
        through a stage costs no disk write per page."""
        self._page = (stage, requirement_id)
        if not self._timer.isActive():
            self._timer.start()

    def queue(self, stage: str, requirement_id: str, field_id: str, value: Any) -> None:
        self._pending.setdefault((stage, requirement_id), {})[field_id] = value
        self.state_changed.emit("saving", _("Saving…"))
        self._timer.start()

    def forget(self, stage: str, requirement_id: str, field_id: str) -> None:
        """Drop a pending value that turned invalid before it was written."""
        vals = self._pending.get((stage, requirement_id))
        if vals is not None:
            vals.pop(field_id, None)
            if not vals:
                del self._pending[(stage, requirement_id)]

    def _after_task(self) -> None:
        if self.pending:
            self._timer.start()

    def flush(self, answers_only: bool = False) -> bool:
        """Write everything pending now (``answers_only``: the answers, not yet the page);
        True when no answer is left unsaved."""
        if not self._pending and (answers_only or self._page is None):
            return True
        self._timer.stop()
        if self.guard.busy:
            self._timer.start()
            return False
        if not answers_only and self._page is not None:
            page, self._page = self._page, None
            try:
                self.kit.set_current(*page)
            except KitError:
                pass  # remembering the page must never stop the person
        elif self._page is not None:
            self._timer.start()
        if not self._pending:
            return True
        pending, self._pending = self._pending, {}
        written: set[tuple[str, str]] = set()
        error: str | None = None
        for (stage, req_id), values in pending.items():
            try:
                self.kit.set_answers(stage, req_id, values)
                written.add((stage, req_id))
            except KitError as exc:
                # Save what is valid one by one; an invalid value stays on screen with its message.
                for fid, v in values.items():
                    try:
                        self.kit.set_answers(stage, req_id, {fid: v})
                        written.add((stage, req_id))
                    except KitError as exc2:
                        error = exc2.message()
                if error is None:
                    error = exc.message()
        self.last_error = error
        if error:
            self.state_changed.emit("error", _("Not saved: {reason}", reason=error))
        else:
            self.state_changed.emit("saved", _("All changes saved"))
        if written:
            self.saved.emit(written)
        return error is None

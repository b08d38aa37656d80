"""Work off the GUI thread: sealing, importing, key creation, copying evidence.

A :class:`Task` runs a plain function ``fn(progress, cancel)`` in a worker thread. The function
gets the core's usual parameters: a ``progress(done, total, label)`` callable and a
:class:`~app.progress.CancelToken`. Results, errors and (throttled) progress come back to the GUI
thread through queued Qt signals. While a task runs, the :class:`KitGuard` is busy: autosave
waits, and mouse and keyboard input is ignored (by a filter on the windows until the progress
dialog shows, then by the dialog's modality), so the Kit is never used by two threads at once. A
progress dialog appears only if the work takes longer than half a second; its Cancel button sets
the token and the core stops cleanly (see
``docs/decisions/0007-ui-threading.md``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QShortcut
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from app.i18n import _
from app.progress import CancelToken

SHOW_AFTER_MS = 500
PROGRESS_EVERY_S = 0.05

TaskFn = Callable[[Callable[[int, int, str], None], CancelToken], Any]


class KitGuard(QObject):
    """Whether a worker is using the Kit; ``idle`` fires when it is free again."""

    idle = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._busy = 0

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def acquire(self) -> None:
        self._busy += 1

    def reset(self) -> None:
        """After every worker was waited for (on quit): the Kit is free whatever the count says."""
        self._busy = 0

    def release(self) -> None:
        self._busy = max(0, self._busy - 1)
        if not self._busy:
            self.idle.emit()


_BLOCKED_EVENTS = {
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick,
    QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.Shortcut, QEvent.Type.ShortcutOverride,
    QEvent.Type.Drop, QEvent.Type.DragEnter, QEvent.Type.Wheel,
}


class _InputBlocker(QObject):
    """Ignores mouse, keyboard and drops for the app's windows while a task runs.

    It filters the windows themselves (their ``QWindow``), where input arrives, not the whole
    application: an application-wide Python filter sees every paint and layout event too, and each
    of them then waits for the GIL while the worker runs Python code (measured: stalls of up to
    70 ms at the start of sealing). Shortcuts and menu actions, which Qt matches before the window
    sees the key, are disabled meanwhile and enabled again afterwards.
    """

    def __init__(self) -> None:
        super().__init__()
        self._windows: list[Any] = []
        self._disabled: list[Any] = []

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 - Qt override
        return ev.type() in _BLOCKED_EVENTS

    def engage(self) -> None:
        for w in QApplication.topLevelWidgets():
            handle = w.windowHandle()
            if w.isVisible() and handle is not None:
                handle.installEventFilter(self)
                self._windows.append(handle)
                for kind in (QShortcut, QAction):
                    for s in w.findChildren(kind):
                        if s.isEnabled():
                            s.setEnabled(False)
                            self._disabled.append(s)

    def stop_filtering(self) -> None:
        for handle in self._windows:
            try:
                handle.removeEventFilter(self)
            except RuntimeError:  # the window is gone already
                pass
        self._windows = []

    def release(self) -> None:
        self.stop_filtering()
        for s in self._disabled:
            try:
                s.setEnabled(True)
            except RuntimeError:
                pass
        self._disabled = []


class _Bridge(QObject):
    progress = Signal(int, str)  # permille (-1: unknown), label message id
    done = Signal(object)
    failed = Signal(object)


class Task(QObject):
    """One call of ``fn`` in a worker thread, with a delayed progress dialog and Cancel.

    ``finished(result)`` or ``failed(exception)`` is emitted on the GUI thread when it ends.
    """

    finished = Signal(object)
    failed = Signal(object)
    running_tasks: set["Task"] = set()

    def __init__(self, parent: QWidget | None, fn: TaskFn, *, title: str, label: str,
                 guard: KitGuard | None = None, cancellable: bool = True, uses_kit: bool = True) -> None:
        super().__init__()
        self._parent = parent
        self._fn = fn
        self.title = title
        self.label = label
        self.guard = guard if uses_kit else None
        self.cancellable = cancellable
        self.token = CancelToken()
        self.dialog: QProgressDialog | None = None
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._bridge.done.connect(self._on_done)
        self._bridge.failed.connect(self._on_failed)
        self._thread: threading.Thread | None = None
        self._blocker = _InputBlocker()
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.timeout.connect(self._show_dialog)
        self._last_emit = 0.0
        self._permille = -1
        self._progress_label = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False

    # -- worker side -----------------------------------------------------------------------
    def _report(self, done: int, total: int, label: str = "") -> None:
        now = time.monotonic()
        if total and done < total and now - self._last_emit < PROGRESS_EVERY_S:
            return
        self._last_emit = now
        permille = int(1000 * done / total) if total > 0 else -1
        self._bridge.progress.emit(max(-1, min(1000, permille)), label or "")

    def _run(self) -> None:
        try:
            result = self._fn(self._report, self.token)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, shown as one line
            self._bridge.failed.emit(exc)
        else:
            self._bridge.done.emit(result)

    # -- GUI side --------------------------------------------------------------------------
    def start(self) -> "Task":
        Task.running_tasks.add(self)
        if self.guard is not None:
            self.guard.acquire()
        app = QApplication.instance()
        if app is not None:
            self._blocker.engage()
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self._show_timer.start(SHOW_AFTER_MS)
        self._thread = threading.Thread(target=self._run, name="kit-task", daemon=True)
        self._thread.start()
        return self

    def _show_dialog(self) -> None:
        if self.done:
            return
        dlg = QProgressDialog(self.label, _("Cancel") if self.cancellable else "", 0, 1000, self._parent)
        dlg.setWindowTitle(self.title)
        dlg.setAccessibleName(self.title)
        dlg.setWindowModality(Qt.WindowModality.ApplicationModal)
        dlg.setMinimumDuration(0)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        if not self.cancellable:
            dlg.setCancelButton(None)
        dlg.canceled.connect(self.cancel)
        self.dialog = dlg
        self._apply_progress()
        dlg.show()
        # From now on the modal dialog keeps input away from the other windows, in Qt itself.
        self._blocker.stop_filtering()

    def _on_progress(self, permille: int, label: str) -> None:
        self._permille = permille
        self._progress_label = label
        self._apply_progress()

    def _apply_progress(self) -> None:
        dlg = self.dialog
        if dlg is None:
            return
        if self._permille < 0:
            dlg.setRange(0, 0)
        else:
            if dlg.maximum() == 0:
                dlg.setRange(0, 1000)
            dlg.setValue(self._permille)
        if self.token.cancelled:
            dlg.setLabelText(_("Cancelling…"))
        elif self._progress_label:
            dlg.setLabelText(f"{self.label}\n{_(self._progress_label)}")

    def cancel(self) -> None:
        if self.cancellable and not self.done:
            self.token.cancel()
            if self.dialog is not None:
                self.dialog.setLabelText(_("Cancelling…"))

    def _finish(self) -> None:
        self.done = True
        self._show_timer.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        app = QApplication.instance()
        if app is not None:
            self._blocker.release()
            QApplication.restoreOverrideCursor()
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        Task.running_tasks.discard(self)
        if self.guard is not None:
            self.guard.release()

    def _on_done(self, result: Any) -> None:
        self.result = result
        self._finish()
        self.finished.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self.error = exc
        self._finish()
        self.failed.emit(exc)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the worker has returned (used on quit); True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


def run_task(parent: QWidget | None, fn: TaskFn, *, title: str, label: str, guard: KitGuard | None,
             on_done: Callable[[Any], None] | None = None, on_error: Callable[[BaseException], None] | None = None,
             cancellable: bool = True, uses_kit: bool = True) -> Task:
    task = Task(parent, fn, title=title, label=label, guard=guard, cancellable=cancellable, uses_kit=uses_kit)
    if on_done is not None:
        task.finished.connect(on_done)
    if on_error is not None:
        task.failed.connect(on_error)
    return task.start()


def error_text(exc: BaseException) -> str:
    """One translated line for any failure: a KitError's own message, else a plain summary."""
    from app.errors import KitError

    if isinstance(exc, KitError):
        return exc.message()
    if isinstance(exc, OSError):
        return _("The computer refused: {detail}", detail=exc.strerror or str(exc))
    return _("Something went wrong ({detail}). Your data is safe; try again.", detail=type(exc).__name__)

"""The running app: one Kit open for the whole session, the windows on top of it, the language.

:class:`KitApp` is what every view gets as ``ctx``: the Kit, the :class:`~app.ui.tasks.KitGuard`,
the :class:`~app.ui.autosave.Autosaver`, a few change signals, and helpers to run work in a worker.
Switching language writes everything pending, then rebuilds the windows in the new language
(and direction) on the same open Kit, at the same place.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QLocale, QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

from app.i18n import normalise_language
from app.ui.autosave import Autosaver
from app.ui.look import apply_language
from app.ui.tasks import KitGuard, Task, run_task

SETTING_LANGUAGE = "ui.language"
SWITCH_INTERVAL_S = 0.001
SETTING_VIEW = "ui.view"


class Events(QObject):
    evidence = Signal()
    indicators = Signal()
    bundles = Signal()
    feedback = Signal()  # the panel's review results were imported


class KitApp(QObject):
    def __init__(self, data_dir: Path | str, qapp: QApplication | None = None) -> None:
        super().__init__()
        # Hand the GIL to the GUI thread sooner while a worker runs Python code (default 5 ms):
        # every Qt event on a Python-made widget needs the GIL, so this bounds the stalls.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.data_dir = Path(data_dir)
        self.qapp = qapp or QApplication.instance()
        self.kit: Any = None
        self.guard = KitGuard()
        self.autosaver: Autosaver | None = None
        self.events = Events()
        self.window: Any = None
        self.wizard: Any = None
        self._catalogue: Any = None
        self._values: dict[str, list[dict[str, Any]]] | None = None
        self._evidence: dict[str, dict[str, list[Any]]] = {}
        self.closed = False
        self.kit_check: Any = None  # app.stick.check_this_kit()'s answer, once a session (first run)
        self.successor: Any = None  # the panel's or officer's app when the first run chose that mode

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> "KitApp":
        """Open the data folder (raises :class:`~app.errors.KitError` with a readable message)."""
        from app.model.service import Kit

        self.kit = Kit(self.data_dir).open()
        self.autosaver = Autosaver(self.kit, self.guard)
        return self

    def choose_language(self, requested: str | None) -> str:
        stored = self.kit.get_setting(SETTING_LANGUAGE) if self.kit else None
        return normalise_language(requested or stored or QLocale.system().name())

    def start(self, lang: str | None = None) -> QWidget:
        """Show the first-run wizard or the main window; returns the window shown."""
        code = apply_language(self.qapp, self.choose_language(lang))
        if lang:
            self.kit.set_setting(SETTING_LANGUAGE, code)
        if self.setup_needed():
            return self.show_first_run()
        return self.show_main(self.stored_view())

    def setup_needed(self) -> bool:
        return self.kit.profile() is None or not self.has_key()

    def shutdown(self) -> None:
        """Write everything pending and close the Kit (once)."""
        if self.closed:
            if self.successor is not None:
                self.successor.shutdown()
            return
        self.closed = True
        for t in list(Task.running_tasks):
            t.cancel()
            t.wait(30)
        if self.window is not None:
            try:
                self.remember_view(self._view_key(self.window.view_state()))
            except Exception:  # noqa: BLE001 - remembering the view is a nicety
                pass
        if self.autosaver is not None:
            self.guard.reset()
            self.autosaver.flush()
        if self.kit is not None:
            self.kit.close()
        if self.wizard is not None:
            self.wizard.hide()

    # -- windows -------------------------------------------------------------------------
    def show_first_run(self, start: int | None = None) -> QWidget:
        from app.ui.firstrun import PAGE_KEY, PAGE_LANGUAGE, FirstRunWizard

        if start is None:
            start = PAGE_KEY if self.kit.profile() is not None else PAGE_LANGUAGE
        old = self.wizard
        self.wizard = FirstRunWizard(self, start)
        self.wizard.finished.connect(self._first_run_finished)
        if old is not None:
            self.wizard.setGeometry(old.geometry())
            old.finished.disconnect(self._first_run_finished)
            old.hide()
            old.deleteLater()
        self.wizard.show()
        return self.wizard

    def switch_mode(self, mode: str) -> Any:
        """The first run's "I am a technical panel member / field officer": this data folder becomes a
        panel workspace or an officer's outbox from now on, and that mode's window replaces the wizard."""
        from app.ui.main import remember_mode

        wiz, self.wizard = self.wizard, None
        if wiz is not None:
            wiz.finished.disconnect(self._first_run_finished)
            wiz.hide()
            wiz.deleteLater()
        self.shutdown()
        remember_mode(self.data_dir, mode)
        if mode == "panel":
            from app.ui.panel import PanelApp

            other: Any = PanelApp(self.data_dir, self.qapp).open()
        else:
            from app.ui.officer import OfficerApp

            other = OfficerApp(self.data_dir, self.qapp).open()
        from app.i18n import current_language

        other.start(current_language())
        self.successor = other
        return other

    def restart_first_run(self) -> None:
        if self.window is not None:
            self.window.replacing = True
            self.window.close()
            self.window.deleteLater()
            self.window = None
        self.show_first_run()

    def _first_run_finished(self, result: int) -> None:
        from PySide6.QtWidgets import QDialog

        wiz = self.wizard
        if result == QDialog.DialogCode.Accepted and not self.setup_needed():
            self.wizard = None
            wiz.deleteLater()
            self.show_main({"view": "home"})
        else:
            self.shutdown()
            self.qapp.quit()

    def show_main(self, state: dict[str, Any] | None = None) -> QWidget:
        from app.ui.mainwindow import MainWindow

        old = self.window
        self.window = MainWindow(self)
        if old is not None:
            self.window.setGeometry(old.geometry())
            old.replacing = True
            old.close()
            old.deleteLater()
        self.window.show()
        if state:
            self.window.restore_state(state)
        return self.window

    def switch_language(self, code: str) -> None:
        """Everything pending is written, then the windows are rebuilt in ``code`` where they were."""
        self.flush()
        code = apply_language(self.qapp, code)
        self.kit.set_setting(SETTING_LANGUAGE, code)
        if self.wizard is not None:
            self.show_first_run(self.wizard.currentId())
        elif self.window is not None:
            self.show_main(self.window.view_state())

    # -- views' helpers ------------------------------------------------------------------
    def flush(self) -> bool:
        return self.autosaver.flush() if self.autosaver is not None else True

    def run_task(self, fn: Callable[..., Any], *, title: str, label: str, parent: QWidget | None = None,
                 on_done: Callable[[Any], None] | None = None, on_error: Callable[[BaseException], None] | None = None,
                 cancellable: bool = True, uses_kit: bool = True) -> Task:
        if uses_kit:
            self.flush()
        return run_task(parent or self.window or self.wizard, fn, title=title, label=label, guard=self.guard,
                        on_done=on_done, on_error=on_error, cancellable=cancellable, uses_kit=uses_kit)

    def catalogue(self) -> Any:
        if self._catalogue is None:
            self._catalogue = self.kit.catalogue()
        return self._catalogue

    def indicator_values(self, indicator_id: str) -> list[dict[str, Any]]:
        """The values of one indicator (read once for all panels, again after any change)."""
        if self._values is None:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for v in self.kit.indicator_values():
                grouped.setdefault(v["indicator_id"], []).append(v)
            self._values = grouped
        return list(self._values.get(indicator_id, ()))

    def indicators_changed(self) -> None:
        self._values = None
        self.events.indicators.emit()

    def evidence_of(self, stage: str, requirement_id: str) -> list[Any]:
        """The files attached to a requirement (one query per stage, again after any change)."""
        if stage not in self._evidence:
            grouped: dict[str, list[Any]] = {}
            for e in self.kit.list_evidence(stage):
                grouped.setdefault(e.requirement_id, []).append(e)
            self._evidence[stage] = grouped
        return list(self._evidence[stage].get(requirement_id, ()))

    def forget_evidence(self, stage: str) -> None:
        self._evidence.pop(stage, None)

    def evidence_changed(self) -> None:
        self.events.evidence.emit()

    def has_key(self) -> bool:
        from app.bundle.submit import city_keyfile

        return city_keyfile(self.kit).is_file()

    def has_trust(self) -> bool:
        from app.bundle import trust as trustmod

        return (trustmod.installed_trust_dir(self.kit.layout.root) / trustmod.RECIPIENTS).is_file()

    # -- where the person was ------------------------------------------------------------
    @staticmethod
    def _view_key(state: dict[str, Any]) -> str:
        return f"stage:{state['stage']}" if state.get("view") == "stage" else "home"

    def remember_view(self, key: str) -> None:
        try:
            self.kit.set_setting(SETTING_VIEW, key)
        except Exception:  # noqa: BLE001 - never stop the person for this
            pass

    def stored_view(self) -> dict[str, Any]:
        key = self.kit.get_setting(SETTING_VIEW) or "home"
        if key.startswith("stage:"):
            return {"view": "stage", "stage": key.split(":", 1)[1]}
        return {"view": "home"}


def launch(data_dir: Path | str, lang: str | None = None) -> KitApp:
    """Open ``data_dir`` and show the first window (used by :func:`app.ui.main.main` and the tests)."""
    ctx = KitApp(data_dir).open()
    ctx.start(lang)
    return ctx

"""The technical panel's review workspace: ``python -m app.ui.main --panel --data DIR``.

A second top-level mode of the same program, on a panel workspace folder
(:class:`app.review.workspace.PanelWorkspace`). Screens: the list of imported submissions, and
the review of one (:mod:`app.ui.review`). The member's key file is chosen once per session and
unlocked with its passphrase; the panel's trust pack is imported from the Workspace menu.
Importing, writing the report, sealing the results for the city and the board hand-off run in
workers with progress and Cancel, like everything heavier than a click in the city app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import LANGUAGE_NAMES, LANGUAGES, N_, _, current_language
from app.ui.fields import CheckList
from app.ui.look import ERROR, HINT, WARN, fmt_datetime, fmt_number, lead
from app.ui.roles import RoleApp, TrustPackDialog, dialog_buttons, role_menu_tail
from app.ui.stage import heading, wrapped
from app.ui.tasks import Task, error_text

RECOMMENDATION_TEXT = {"award": N_("Award"), "defer": N_("Defer"), "decline": N_("Decline")}
IMPORT_STATE_TEXT = {"new": N_("imported"), "newer": N_("imported as a new revision"),
                     "same": N_("already imported")}


class PanelApp(RoleApp):
    """The panel mode's running app: one workspace open for the whole session."""

    def __init__(self, data_dir: Path | str, qapp: Any = None) -> None:
        super().__init__(data_dir, qapp)
        from app.bundle.keys import Role

        self.key_role = Role.PANEL_MEMBER
        self.ws: Any = None

    def open(self) -> "PanelApp":
        """Open the workspace (raises :class:`~app.errors.KitError` with a readable message)."""
        from app.review.workspace import PanelWorkspace

        ws = PanelWorkspace(self.data_dir)
        ws.__enter__()
        self.ws = ws
        self.data_dir = ws.root
        return self

    def close_store(self) -> None:
        if self.ws is not None:
            self.ws.__exit__(None, None, None)
            self.ws = None

    def get_setting(self, key: str) -> str | None:
        from app.model.models import Setting

        with self.ws.store.session() as s:
            row = s.get(Setting, key)
            return row.value if row else None

    def set_setting(self, key: str, value: str) -> None:
        from app.model.models import Setting

        with self.ws.store.session() as s:
            row = s.get(Setting, key)
            if row:
                row.value = value
            else:
                s.add(Setting(key=key, value=value))

    def has_panel_trust(self) -> bool:
        from app.bundle import trust as trustmod

        return self.has_trust(trustmod.RECIPIENTS)

    def make_window(self) -> QWidget:
        return PanelWindow(self)

    def shutdown(self) -> None:
        if self.window is not None and not self.closed:
            try:
                state = self.window.view_state()
                self.set_setting("ui.panel.view", state.get("bundle", ""))
            except Exception:  # noqa: BLE001
                pass
        super().shutdown()

    def stored_view(self) -> dict[str, Any]:
        bundle = self.get_setting("ui.panel.view")
        return {"view": "review", "bundle": bundle} if bundle else {"view": "list"}


def launch_panel(data_dir: Path | str, lang: str | None = None) -> PanelApp:
    """Open a panel workspace and show its window (used by :func:`app.ui.main.main` and the tests)."""
    ctx = PanelApp(data_dir).open()
    ctx.start(lang)
    return ctx


# -- the list of submissions -----------------------------------------------------------------------

class SubmissionsView(QWidget):
    open_review = Signal(str)
    import_requested = Signal()
    trust_requested = Signal()

    def __init__(self, ctx: PanelApp, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.addWidget(heading(_("Submissions to review"), 1.4))
        self.where = wrapped(_("Panel workspace: {path}", path=str(ctx.data_dir)), HINT)
        lay.addWidget(self.where)
        trust_row = QHBoxLayout()
        self.trust_note = wrapped(_("The panel's trust pack is not installed yet: import it before importing "
                                    "bundles."), WARN)
        self.trust_btn = QPushButton(_("Import the trust pack…"))
        self.trust_btn.clicked.connect(self.trust_requested.emit)
        trust_row.addWidget(self.trust_note, 1)
        trust_row.addWidget(self.trust_btn)
        lay.addLayout(trust_row)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([_("City"), _("Stage"), _("Revision"), _("Imported"), _("State")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName(_("Imported submissions; press Enter to review one"))
        self.table.cellActivated.connect(lambda r, _c: self.open_row(r))
        self.table.cellDoubleClicked.connect(lambda r, _c: self.open_row(r))
        lay.addWidget(self.table, 1)
        self.empty = wrapped(_("Nothing imported yet. Choose Import bundles… and pick a bundle folder, or a folder "
                               "holding bundles (a stick, or what the platform sent)."), HINT)
        lay.addWidget(self.empty)
        buttons = QHBoxLayout()
        self.import_btn = QPushButton(_("Import bundles…"))
        self.import_btn.clicked.connect(self.import_requested.emit)
        self.open_btn = QPushButton(_("Review"))
        self.open_btn.setAccessibleName(_("Review the selected submission"))
        self.open_btn.setDefault(True)
        self.open_btn.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        buttons.addWidget(self.import_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.open_btn)
        lay.addLayout(buttons)
        self.rows: list[dict[str, Any]] = []
        self.refresh()

    def state_text(self, row: dict[str, Any], subs: list[dict[str, Any]]) -> str:
        newer = [s for s in subs if s["submission_id"] == row["submission_id"] and s["revision"] > row["revision"]]
        if newer:
            return _("Superseded by revision {revision}", revision=max(s["revision"] for s in newer))
        try:
            verdicts = self.ctx.ws.verdicts(row["bundle_id"])
            fw = self.ctx.ws.framework_for(self.ctx.ws.submission(row["bundle_id"]))
            total = sum(1 for _r in fw.stage(row["stage"]).requirements())
        except Exception:  # noqa: BLE001 - a damaged opened copy shows as such, the list still works
            return _("Cannot be read: import it again")
        settled = sum(1 for v in verdicts.values() if v["settled"])
        if settled >= total:
            text = _("Reviewed: every verdict settled")
        elif verdicts:
            text = _("In review: {done} of {total} verdicts settled", done=settled, total=total)
        else:
            text = _("Not reviewed yet")
        if row["previous"]:
            text += " · " + _("new revision")
        if row["demo"]:
            text += " · " + _("DEMO")
        return text

    def refresh(self) -> None:
        keep = self.selected()
        subs = self.ctx.ws.submissions()
        self.rows = sorted(subs, key=lambda s: (s["imported_at"] or ""), reverse=True)
        self.table.setRowCount(len(self.rows))
        for r, s in enumerate(self.rows):
            cells = [f"{s['city']} ({s['country']})", s["stage"], fmt_number(s["revision"]),
                     fmt_datetime(s["imported_at"]), self.state_text(s, subs)]
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setToolTip(s["bundle_id"])
                self.table.setItem(r, c, it)
            if s["bundle_id"] == keep:
                self.table.setCurrentCell(r, 0)
        if self.rows and self.table.currentRow() < 0:
            self.table.setCurrentCell(0, 0)
        self.empty.setVisible(not self.rows)
        self.open_btn.setEnabled(bool(self.rows))
        trusted = self.ctx.has_panel_trust()
        self.trust_note.setVisible(not trusted)
        self.trust_btn.setVisible(not trusted)

    def selected(self) -> str | None:
        r = self.table.currentRow()
        return self.rows[r]["bundle_id"] if 0 <= r < len(self.rows) else None

    def open_row(self, r: int) -> None:
        if 0 <= r < len(self.rows):
            self.open_review.emit(self.rows[r]["bundle_id"])


# -- importing bundles -------------------------------------------------------------------------------

class _Lines(QObject):
    """Lines from the worker, queued to the GUI thread as each bundle is checked."""

    line = Signal(str, bool)  # text, is a refusal


class ImportBundlesDialog(QDialog):
    def __init__(self, ctx: PanelApp, parent: QWidget | None = None, folder: str = "") -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.task: Any = None
        self.results: list[Any] = []
        self.refused: list[str] = []
        self.setWindowTitle(_("Import bundles"))
        self.setMinimumSize(620, 440)
        lay = QVBoxLayout(self)
        lay.addWidget(wrapped(_("Choose a bundle folder, or a folder holding bundles (a city's stick, or what the "
                                "platform sent). Each is checked before it is opened: complete, authentic, enrolled, "
                                "sealed to this panel, intact.")))
        self.folder_label = lead(QLabel(_("Bundle folder")))
        lay.addWidget(self.folder_label)
        row = QHBoxLayout()
        self.folder = QLineEdit(folder)
        self.folder.setAccessibleName(_("Bundle folder"))
        self.folder_label.setBuddy(self.folder)
        browse = QPushButton(_("Browse…"))
        browse.setAccessibleName(_("Choose the bundle folder"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        lay.addWidget(wrapped(_("Checks"), bold=True))
        self.steps = QListWidget()
        self.steps.setWordWrap(True)
        self.steps.setAccessibleName(_("Checks, one line each"))
        lay.addWidget(self.steps, 1)
        self.message = wrapped("", ERROR)
        self.message.setAccessibleName(_("Problem"))
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.import_btn, self.close_btn = dialog_buttons(self, lay, _("Import"), self.start_import)
        self._lines = _Lines()
        self._lines.line.connect(self._add_line)
        if not ctx.has_panel_trust():
            self.show_message(_("The panel's trust pack is not installed yet: import it before importing bundles."))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Bundle folder"))
        if folder:
            self.folder.setText(folder)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _add_line(self, text: str, refused: bool) -> None:
        it = QListWidgetItem(text)
        if refused:
            it.setForeground(QBrush(QColor(ERROR)))
        self.steps.addItem(it)
        self.steps.scrollToBottom()

    def step_texts(self) -> list[str]:
        return [self.steps.item(i).text() for i in range(self.steps.count())]

    def start_import(self) -> Any:
        if self.task is not None and not self.task.done:
            return self.task
        if not self.folder.text().strip():
            self.show_message(_("Choose a bundle folder."))
            self.folder.setFocus()
            return None
        return self.ctx.with_key(self, self._start)

    def _start(self, member: Any) -> Any:
        folder, ws, lines = Path(self.folder.text().strip()), self.ctx.ws, self._lines

        def work(progress: Any, cancel: Any) -> tuple[list[Any], list[str]]:
            from app.bundle.bundle import find_bundles
            from app.errors import KitError

            paths = find_bundles(folder) or [folder]
            done, refused = [], []
            for p in paths:
                cancel.check()
                try:
                    r = ws.import_bundle(p, member, progress=progress, cancel=cancel)
                except KitError as exc:
                    if len(paths) == 1:
                        raise
                    text = _("NOT IMPORTED: {path} - {error}", path=p.name, error=exc.message())
                    refused.append(text)
                    lines.line.emit("✗ " + text, True)
                    continue
                for msgid, params in r.steps:
                    lines.line.emit("✓ " + _(msgid, **params), False)
                lines.line.emit(_("{path}: {city}, stage {stage}, revision {revision}: {state}.", path=p.name,
                                  city=r.city_name, stage=r.stage, revision=r.revision,
                                  state=_(IMPORT_STATE_TEXT[r.state])), False)
                done.append(r)
            return done, refused

        self.steps.clear()
        self.show_message("")
        self.import_btn.setEnabled(False)
        self.task = self.ctx.run_task(work, title=_("Import bundles"), label=_("Checking and opening the bundles…"),
                                      parent=self, on_done=self._done, on_error=self._failed)
        return self.task

    def _done(self, outcome: tuple[list[Any], list[str]]) -> None:
        self.results, self.refused = outcome
        self.import_btn.setEnabled(True)
        self.show_message("\n".join(self.refused))
        self.close_btn.setText(_("Done"))
        self.close_btn.setFocus()
        self.ctx.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.import_btn.setEnabled(True)
        self.show_message(error_text(exc))

    def reject(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            return
        super().reject()


# -- report, results for the city, board hand-off --------------------------------------------------

class OutputDialog(QDialog):
    """Write the report, seal the results for the city, or hand off to the board (``mode``)."""

    TITLES = {"report": N_("Write the report"), "results": N_("Seal the results for the city"),
              "board": N_("Hand off to the board")}

    def __init__(self, ctx: PanelApp, bundle_id: str, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.bundle_id = bundle_id
        self.mode = mode
        self.task: Any = None
        self.result: Any = None
        self.setWindowTitle(_(self.TITLES[mode]))
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.addWidget(heading(_(self.TITLES[mode]), 1.2))
        lay.addWidget(wrapped({
            "report": _("The stage report as PDF (one per language) and JSON, from the settled verdicts."),
            "results": _("One signed, encrypted folder for the city with the verdicts, the comments and the report. "
                         "Only the city, the panel and the secretariat can open it. Give it to the field officer or "
                         "send it through the platform."),
            "board": _("A folder for the certification board: your signed recommendation and the report."),
        }[mode]))
        self.folder_label = lead(QLabel(_("Folder to write in")))
        lay.addWidget(self.folder_label)
        row = QHBoxLayout()
        default = ctx.data_dir / {"report": "reports", "results": "results", "board": "board"}[mode]
        self.folder = QLineEdit(str(default))
        self.folder.setAccessibleName(_("Folder to write in"))
        self.folder_label.setBuddy(self.folder)
        browse = QPushButton(_("Browse…"))
        browse.setAccessibleName(_("Choose the folder to write in"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.lang_label = lead(QLabel(_("Languages of the report")))
        lay.addWidget(self.lang_label)
        self.languages = CheckList([(c, LANGUAGE_NAMES[c]) for c in LANGUAGES])
        self.languages.setAccessibleName(_("Languages of the report"))
        self.languages.set_checked_ids(sorted({current_language(), "en"}))
        lay.addWidget(self.languages)
        self.rec_label = lead(QLabel(_("The panel's recommendation")))
        lay.addWidget(self.rec_label)
        self.recommendation = QComboBox()
        self.recommendation.setAccessibleName(_("The panel's recommendation"))
        self.rec_label.setBuddy(self.recommendation)
        if mode != "board":
            self.recommendation.addItem(_("No recommendation yet"), None)
        for k, text in RECOMMENDATION_TEXT.items():
            self.recommendation.addItem(_(text), k)
        lay.addWidget(self.recommendation)
        self.message = wrapped("", ERROR)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.done_text = wrapped("")
        self.done_text.setAccessibleName(_("Result"))
        self.done_text.setVisible(False)
        lay.addWidget(self.done_text)
        self.show_btn = QPushButton(_("Show the folder"))
        self.show_btn.setVisible(False)
        self.show_btn.clicked.connect(self.show_folder)
        go = {"report": _("Write"), "results": _("Seal"), "board": _("Write and sign")}[mode]
        self.go_btn, self.close_btn = dialog_buttons(self, lay, go, self.start, leading=(self.show_btn,))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Folder to write in"), self.folder.text())
        if folder:
            self.folder.setText(folder)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def start(self) -> Any:
        if self.task is not None and not self.task.done:
            return self.task
        if not self.folder.text().strip():
            self.show_message(_("Choose the folder to write in."))
            return None
        if not self.languages.checked_ids():
            self.show_message(_("Choose at least one language."))
            self.languages.setFocus()
            return None
        return self.ctx.with_key(self, self._start)

    def _start(self, member: Any) -> Any:
        ws, bundle, mode = self.ctx.ws, self.bundle_id, self.mode
        out, langs = Path(self.folder.text().strip()), self.languages.checked_ids()
        rec = self.recommendation.currentData()

        def work(progress: Any, cancel: Any) -> Any:
            if mode == "report":
                return ws.write_report(bundle, member, out, langs, recommendation=rec, progress=progress,
                                       cancel=cancel)
            if mode == "results":
                return ws.results_bundle(bundle, member, out, languages=langs, recommendation=rec, progress=progress,
                                         cancel=cancel)
            return ws.board_handoff(bundle, member, rec, out, languages=langs)

        self.show_message("")
        self.go_btn.setEnabled(False)
        label = {"report": _("Writing the report…"), "results": _("Sealing the results for the city…"),
                 "board": _("Writing and signing the hand-off…")}[mode]
        self.task = self.ctx.run_task(work, title=_(self.TITLES[mode]), label=label, parent=self,
                                      cancellable=mode != "board", on_done=self._done, on_error=self._failed)
        return self.task

    def _done(self, result: Any) -> None:
        self.result = result
        self.go_btn.setEnabled(True)
        if self.mode == "report":
            self.folder_done = Path(next(iter(result.values()))).parent
            text = _("Written: {files}", files=", ".join(Path(p).name for p in result.values()))
        elif self.mode == "results":
            self.folder_done = Path(result.path).parent
            text = _("Sealed {name} in {folder}. Give this folder, whole and unchanged, to the field officer for the "
                     "city, or send it through the platform.", name=Path(result.path).name,
                     folder=str(Path(result.path).parent))
        else:
            self.folder_done = Path(result)
            text = _("Written and signed: {path}", path=str(result))
        self.done_text.setText(text)
        self.done_text.setVisible(True)
        self.show_btn.setVisible(True)
        self.close_btn.setText(_("Done"))
        self.close_btn.setFocus()
        self.ctx.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.go_btn.setEnabled(True)
        self.show_message(error_text(exc))

    def show_folder(self) -> None:
        folder = getattr(self, "folder_done", None)
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def reject(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            return
        super().reject()


# -- the window --------------------------------------------------------------------------------------

class PanelWindow(QMainWindow):
    def __init__(self, ctx: PanelApp) -> None:
        super().__init__()
        self.ctx = ctx
        self.replacing = False
        self.review: Any = None
        self.dialog: Any = None
        self.setWindowTitle(_("SDG Cities Kit – technical panel"))
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.list_view = SubmissionsView(ctx)
        self.list_view.open_review.connect(self.open_review)
        self.list_view.import_requested.connect(lambda: self.open_import_dialog())
        self.list_view.trust_requested.connect(self.open_trust_dialog)
        self.stack.addWidget(self.list_view)
        self.key_label = QLabel()
        self.key_label.setAccessibleName(_("Your key"))
        self.statusBar().addPermanentWidget(self.key_label)
        self._menus()
        ctx.changed.connect(self._changed)
        self._changed()
        self.setMinimumSize(640, 480)
        self.resize(1024, 720)

    def _menus(self) -> None:
        menu = self.menuBar().addMenu(_("&Workspace"))
        self.list_act = QAction(_("Submissions"), self)
        self.list_act.setShortcut(QKeySequence("Ctrl+H"))
        self.list_act.triggered.connect(self.show_list)
        menu.addAction(self.list_act)
        self.import_act = QAction(_("Import bundles…"), self)
        self.import_act.setShortcut(QKeySequence("Ctrl+I"))
        self.import_act.triggered.connect(lambda: self.open_import_dialog())
        menu.addAction(self.import_act)
        self.language_actions = role_menu_tail(self, self.ctx, menu)

    def _changed(self) -> None:
        m = self.ctx.member
        self.key_label.setText(_("Key: {name} ({fingerprint})", name=m.name, fingerprint=m.fingerprint) if m else
                               _("Key not unlocked yet"))
        if self.stack.currentWidget() is self.list_view:
            self.list_view.refresh()

    # -- views -----------------------------------------------------------------------------
    def show_list(self) -> None:
        self.list_view.refresh()
        self.stack.setCurrentWidget(self.list_view)

    def open_review(self, bundle_id: str, page: int | None = None) -> Any:
        from app.ui.review import ReviewView

        if self.review is not None:
            self.stack.removeWidget(self.review)
            self.review.deleteLater()
        view = ReviewView(self.ctx, bundle_id)
        if page is not None:
            view.go_to(page)
        view.back_requested.connect(self.show_list)
        view.report_requested.connect(lambda b: self.open_output("report", b))
        view.results_requested.connect(lambda b: self.open_output("results", b))
        view.board_requested.connect(lambda b: self.open_output("board", b))
        self.review = view
        self.stack.addWidget(view)
        self.stack.setCurrentWidget(view)
        return view

    def _dialog(self, dlg: QDialog) -> Any:
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.finished.connect(lambda _r: self._changed())
        self.dialog = dlg
        dlg.open()
        return dlg

    def open_import_dialog(self, folder: str = "") -> ImportBundlesDialog:
        return self._dialog(ImportBundlesDialog(self.ctx, self, folder))

    def open_trust_dialog(self) -> TrustPackDialog:
        return self._dialog(TrustPackDialog(self.ctx, self))

    def open_output(self, mode: str, bundle_id: str) -> OutputDialog:
        return self._dialog(OutputDialog(self.ctx, bundle_id, mode, self))

    # -- state -----------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if self.review is not None and self.stack.currentWidget() is self.review:
            return self.review.view_state()
        return {"view": "list"}

    def restore_state(self, state: dict[str, Any]) -> None:
        if state.get("view") == "review" and state.get("bundle"):
            try:
                self.open_review(state["bundle"], state.get("page"))
            except Exception:  # noqa: BLE001 - the bundle is gone: stay on the list
                self.show_list()

    def closeEvent(self, ev: Any) -> None:  # noqa: N802
        if not self.replacing:
            for t in list(Task.running_tasks):
                t.cancel()
                t.wait(30)
            self.ctx.shutdown()
        ev.accept()

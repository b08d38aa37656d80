"""The main window: home and stage views, the Kit / Language / Help menus, and the "saved" line
in the status bar."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language
from app.ui import dialogs
from app.ui.feedback import ImportResultsDialog, open_report
from app.ui.home import HomeView
from app.ui.look import ERROR, tint
from app.ui.seal import SealDialog
from app.ui.stage import StageView, heading, wrapped
from app.ui.tasks import Task, error_text


class TrustDialog(QDialog):
    """Import a trust pack (or make a demo one) after the first run."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.task: Any = None
        self.setWindowTitle(_("Import the trust pack"))
        lay = QVBoxLayout(self)
        lay.addWidget(wrapped(_("Choose the folder of the trust pack you received from the secretariat.")))
        row = QHBoxLayout()
        self.folder = QLineEdit()
        self.folder.setAccessibleName(_("Folder of the trust pack"))
        browse = QPushButton(_("Browse…"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.demo = QCheckBox(_("This is a demo pack for training"))
        lay.addWidget(self.demo)
        self.message = wrapped("")
        lay.addWidget(self.message)
        buttons = QHBoxLayout()
        demo_btn = QPushButton(_("Make a demo pack instead"))
        demo_btn.clicked.connect(self.make_demo)
        ok = QPushButton(_("Import"))
        ok.setDefault(True)
        ok.clicked.connect(self.do_import)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.reject)
        buttons.addWidget(demo_btn)
        buttons.addStretch(1)
        buttons.addWidget(ok)
        buttons.addWidget(close)
        lay.addLayout(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Folder of the trust pack"))
        if folder:
            self.folder.setText(folder)

    def do_import(self) -> None:
        from app.ui.firstrun import start_trust_import

        if self.folder.text().strip():
            self.task = start_trust_import(self.ctx, self, self.folder.text().strip(), self.demo.isChecked(),
                                           on_done=self._done, on_error=self._failed)

    def make_demo(self) -> None:
        from app.ui.firstrun import start_demo_trust

        self.task = start_demo_trust(self.ctx, self, on_done=self._done, on_error=self._failed)

    def _done(self, pack: Any) -> None:
        from app.ui.firstrun import trust_summary

        tint(self.message, None)
        self.message.setText(_("Trust files are installed.") + "\n" + trust_summary(pack))
        self.ctx.events.bundles.emit()

    def _failed(self, exc: BaseException) -> None:
        tint(self.message, ERROR)
        self.message.setText(error_text(exc))


class MainWindow(QMainWindow):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx
        self.replacing = False
        self.seal_dialog: SealDialog | None = None
        self.trust_dialog: TrustDialog | None = None
        self.results_dialog: ImportResultsDialog | None = None
        prof = ctx.kit.profile()
        self.setWindowTitle(_("SDG Cities Kit – {city}", city=prof.name if prof else ""))
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.home = HomeView(ctx)
        self._wire_home()
        self.stack.addWidget(self.home)
        self.stage_view: StageView | None = None
        self.saved_label = QLabel(_("All changes saved"))
        self.saved_label.setAccessibleName(_("Save status"))
        self.statusBar().addPermanentWidget(self.saved_label)
        ctx.autosaver.state_changed.connect(self._save_state)
        ctx.events.bundles.connect(self._refresh_home_if_visible)
        self._menus()
        self.setMinimumSize(640, 480)
        self.resize(1024, 720)

    # -- menus ---------------------------------------------------------------------------
    def _menus(self) -> None:
        kit_menu = self.menuBar().addMenu(_("&Kit"))
        self.home_act = QAction(_("Home"), self)
        self.home_act.setShortcut(QKeySequence("Ctrl+H"))
        self.home_act.triggered.connect(self.show_home)
        kit_menu.addAction(self.home_act)
        kit_menu.addSeparator()
        trust_act = QAction(_("Import the trust pack…"), self)
        trust_act.triggered.connect(self.open_trust_dialog)
        kit_menu.addAction(trust_act)
        self.results_act = QAction(_("Import review results…"), self)
        self.results_act.triggered.connect(lambda: self.open_results_dialog())
        kit_menu.addAction(self.results_act)
        card_act = QAction(_("Save the public key card…"), self)
        card_act.triggered.connect(self.save_card)
        kit_menu.addAction(card_act)
        kit_menu.addSeparator()
        self.removal_act = QAction(_("Prepare for removal"), self)
        self.removal_act.setShortcut(QKeySequence("Ctrl+E"))
        self.removal_act.triggered.connect(self.prepare_for_removal)
        kit_menu.addAction(self.removal_act)
        quit_act = QAction(_("Quit"), self)
        quit_act.setShortcut(QKeySequence("Ctrl+Q"))
        quit_act.triggered.connect(self.close)
        kit_menu.addAction(quit_act)

        lang_menu = self.menuBar().addMenu(_("&Language"))
        group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code in LANGUAGES:
            act = QAction(LANGUAGE_NAMES[code], self)
            act.setCheckable(True)
            act.setChecked(code == current_language())
            act.triggered.connect(lambda _c=False, c=code: self.ctx.switch_language(c))
            group.addAction(act)
            lang_menu.addAction(act)
            self.language_actions[code] = act

        help_menu = self.menuBar().addMenu(_("&Help"))
        tour = QAction(_("Quick tour"), self)
        tour.triggered.connect(self.show_tour)
        help_menu.addAction(tour)
        about = QAction(_("About the kit"), self)
        about.triggered.connect(lambda: dialogs.note(self, _("About the kit"), _(
            "SDG Cities Kit {version}. Data folder: {path}", version=__version__, path=str(self.ctx.kit.layout.root))))
        help_menu.addAction(about)

    def _wire_home(self) -> None:
        self.home.open_stage.connect(self.open_stage)
        self.home.seal_stage.connect(self.open_seal)
        self.home.import_trust.connect(self.open_trust_dialog)
        self.home.setup_requested.connect(self.ctx.restart_first_run)
        self.home.import_results.connect(lambda: self.open_results_dialog())
        self.home.open_report.connect(lambda stage: open_report(self, self.ctx.kit, stage))

    # -- views ---------------------------------------------------------------------------
    def show_home(self) -> None:
        self.ctx.flush()
        self.home.refresh()
        self.stack.setCurrentWidget(self.home)
        self.ctx.remember_view("home")

    def _refresh_home_if_visible(self) -> None:
        if self.stack.currentWidget() is self.home:
            self.home.refresh()

    def open_stage(self, stage_id: str, page: int | None = None) -> StageView:
        self.ctx.flush()
        if self.stage_view is not None:
            self.stack.removeWidget(self.stage_view)
            self.stage_view.deleteLater()
        view = StageView(self.ctx, stage_id)
        if page is not None:
            view.go_to(page)
        view.home_requested.connect(self.show_home)
        view.seal_requested.connect(self.open_seal)
        self.stage_view = view
        self.stack.addWidget(view)
        self.stack.setCurrentWidget(view)
        self.ctx.remember_view(f"stage:{stage_id}")
        return view

    def open_seal(self, stage_id: str) -> SealDialog:
        self.ctx.flush()
        dlg = SealDialog(self.ctx, stage_id, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        # the home screen (with the new bundle) is refreshed when the dialog closes, not while the
        # person reads the result: the GUI thread stays free while sealing ends
        dlg.finished.connect(lambda _r: self._refresh_home_if_visible())
        self.seal_dialog = dlg
        dlg.open()
        return dlg

    def open_trust_dialog(self) -> TrustDialog:
        dlg = TrustDialog(self.ctx, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.finished.connect(lambda _r: self._refresh_home_if_visible())
        self.trust_dialog = dlg
        dlg.open()
        return dlg

    def open_results_dialog(self, folder: str = "") -> ImportResultsDialog:
        """Kit › Import review results…: the folder is asked for in the dialog (or given here)."""
        self.ctx.flush()
        dlg = ImportResultsDialog(self.ctx, self, folder)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.finished.connect(lambda _r: self._refresh_home_if_visible())
        self.results_dialog = dlg
        dlg.open()
        return dlg

    def save_card(self) -> None:
        from app.ui.firstrun import export_card

        try:
            dst = export_card(self, self.ctx.kit)
        except OSError as exc:
            dialogs.note(self, _("Save the public key card…"), error_text(exc), error=True)
            return
        if dst is not None:
            dialogs.note(self, _("Save the public key card…"),
                         _("Saved {path}. Send it to the secretariat.", path=str(dst)))

    def show_tour(self) -> None:
        from app.ui.firstrun import TourPage

        dlg = QDialog(self)
        dlg.setWindowTitle(_("Quick tour"))
        lay = QVBoxLayout(dlg)
        lay.addWidget(heading(_("A short tour"), 1.2))
        lay.addWidget(TourPage(self.ctx))
        ok = QPushButton(_("Close"))
        ok.clicked.connect(dlg.accept)
        lay.addWidget(ok, 0, Qt.AlignmentFlag.AlignRight)
        dlg.resize(640, 520)
        dlg.open()
        self.tour_dialog = dlg

    def prepare_for_removal(self) -> Task:
        self.ctx.flush()

        def work(_progress: Any, _cancel: Any) -> None:
            self.ctx.kit.prepare_for_removal()

        def done(_r: Any) -> None:
            self.removal_note = dialogs.note(self, _("Prepare for removal"), _(
                "All data is written to the stick. You can now close the kit and remove the stick safely. "
                "If you change anything first, choose Prepare for removal again."))

        def failed(exc: BaseException) -> None:
            self.removal_note = dialogs.note(self, _("Prepare for removal"), error_text(exc), error=True)

        return self.ctx.run_task(work, title=_("Prepare for removal"), label=_("Writing everything to the stick…"),
                                 parent=self, cancellable=False, on_done=done, on_error=failed)

    def _save_state(self, state: str, text: str) -> None:
        self.saved_label.setText(text)
        tint(self.saved_label, ERROR if state == "error" else None)

    # -- state ---------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        if self.stack.currentWidget() is self.stage_view and self.stage_view is not None:
            return self.stage_view.view_state()
        return {"view": "home"}

    def restore_state(self, state: dict[str, Any]) -> None:
        if state.get("view") == "stage" and state.get("stage"):
            try:
                self.open_stage(state["stage"], state.get("page"))
            except Exception:  # noqa: BLE001 - an unknown stage (framework changed): stay home
                self.show_home()

    def closeEvent(self, ev: Any) -> None:  # noqa: N802
        if not self.replacing:
            for t in list(Task.running_tasks):
                t.cancel()
                t.wait(30)
            self.ctx.shutdown()
        ev.accept()

"""The panel's feedback in the city app: import a review-results bundle, show each verdict beside its
requirement, open the panel's report.

Importing checks and opens the results in a worker (:func:`app.review.feedback.import_results`):
the city key is unlocked with its passphrase, as for sealing. A folder may be one results bundle
or a folder holding several, such as the stick's ``data/mailbox/``. A refused bundle is one line
and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserInputError
from app.i18n import N_, _, current_language
from app.ui.look import ERROR, lead, passphrase_field, path_field, tint
from app.ui.roles import dialog_buttons

VERDICT_TEXT = {
    "met": N_("Met"),
    "not_met": N_("Not met"),
    "needs_information": N_("Needs information"),
    "pending": N_("Not reviewed yet"),
}
VERDICT_MARK = {"met": "✓", "not_met": "✗", "needs_information": "?", "pending": "·"}
#: background, border/text colour: a light fill with a strong edge, readable in every theme used here
VERDICT_COLOURS = {
    "met": ("#e3f4e5", "#1e7d32"),
    "not_met": ("#fbe4e6", "#b00020"),
    "needs_information": ("#fff3d6", "#8a5a00"),
    "pending": ("#eeeeee", "#555555"),
}


def verdict_text(verdict: str) -> str:
    return _(VERDICT_TEXT.get(verdict, VERDICT_TEXT["pending"]))


def paint_verdict(widget: QWidget, verdict: str) -> None:
    """Fill ``widget`` with the verdict's colour (a palette, not a style sheet)."""
    bg, fg = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["pending"])
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.Window, QColor(bg))
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#1a1a1a"))
    pal.setColor(QPalette.ColorRole.Light, QColor(fg))
    pal.setColor(QPalette.ColorRole.Dark, QColor(fg))
    pal.setColor(QPalette.ColorRole.Mid, QColor(fg))
    widget.setPalette(pal)
    widget.setAutoFillBackground(True)


class VerdictBanner(QFrame):
    """The panel's verdict on one requirement: a coloured box with the verdict, the revision it is
    about and the panel's comment. Hidden while there is no verdict."""

    def __init__(self, requirement_title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.requirement_title = requirement_title
        self.verdict: str | None = None
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.headline = lead(QLabel())
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        f = self.headline.font()
        f.setBold(True)
        self.headline.setFont(f)
        lay.addWidget(self.headline)
        self.comment = lead(QLabel())
        self.comment.setWordWrap(True)
        self.comment.setTextFormat(Qt.TextFormat.PlainText)
        self.comment.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.comment)
        self.setAccessibleName(_("The panel's verdict on {requirement}", requirement=requirement_title))
        self.set_feedback(None)

    def set_feedback(self, fb: dict[str, Any] | None) -> None:
        if not fb or not fb.get("verdict"):
            self.verdict = None
            self.setVisible(False)
            return
        self.verdict = fb["verdict"]
        head = _("{mark} Panel verdict: {verdict} (from revision {revision})",
                 mark=VERDICT_MARK.get(self.verdict, "·"), verdict=verdict_text(self.verdict),
                 revision=fb.get("revision", "?"))
        self.headline.setText(head)
        comment = (fb.get("comment") or "").strip()
        self.comment.setText(_("The panel says: {comment}", comment=comment) if comment else "")
        self.comment.setVisible(bool(comment))
        paint_verdict(self, self.verdict)
        self.setAccessibleDescription(head + (". " + comment if comment else ""))
        self.setToolTip(head)
        self.setVisible(True)

    def text(self) -> str:
        """What the banner says (tests and screen readers read the same)."""
        return self.headline.text() + ("\n" + self.comment.text() if self.comment.text() else "")


# -- the panel's report ---------------------------------------------------------------------------

def report_for(kit: Any, stage: str) -> Path | None:
    """The newest report PDF of ``stage``, in the chosen language when the panel wrote one in it."""
    from app.review.feedback import report_pdfs

    try:
        pdfs = report_pdfs(kit, stage)
    except Exception:  # noqa: BLE001 - no report is shown as no button
        return None
    if not pdfs:
        return None
    newest = [p for p in pdfs if p.parent == pdfs[0].parent]
    lang = current_language()
    return next((p for p in newest if p.stem.endswith(f"-{lang}")), None) or \
        next((p for p in newest if p.stem.endswith("-en")), newest[0])


def open_report(parent: QWidget | None, kit: Any, stage: str) -> Path | None:
    """Open the panel's report of ``stage`` in the system's PDF viewer; returns the file opened."""
    from app.ui import dialogs

    pdf = report_for(kit, stage)
    if pdf is None:
        dialogs.note(parent, _("Open the panel's report"), _("No report from the panel for stage {stage} yet.",
                                                              stage=stage), error=True)
        return None
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(pdf))):
        dialogs.note(parent, _("Open the panel's report"), _("No program on this computer opens {name}.",
                                                              name=pdf.name), error=True)
    return pdf


# -- importing --------------------------------------------------------------------------------------

def _kind(folder: Path) -> str | None:
    from app.bundle.bundle import MANIFEST

    try:
        return str(json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("kind"))
    except (OSError, ValueError, AttributeError):
        return None


def find_results(folder: Path) -> list[Path]:
    """Results bundles in ``folder``: the folder itself, its children, or one level further down
    (the stick's ``data/mailbox/`` holds them in ``results/``). A folder that is itself a bundle is
    returned whatever it holds, so its import says what it is."""
    from app.bundle.bundle import MANIFEST, find_bundles

    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        return [folder]
    if not folder.is_dir():
        raise UserInputError(N_("No such file or folder: {path}"), path=str(folder))
    found = list(find_bundles(folder))
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and not (p / MANIFEST).is_file()):
        found += find_bundles(child)
    return [p for p in dict.fromkeys(found) if _kind(p) == "review"]


class ImportResultsDialog(QDialog):
    """Choose the folder with the panel's results, unlock the city's key, import in a worker."""

    def __init__(self, ctx: Any, parent: QWidget | None = None, folder: str = "") -> None:
        super().__init__(parent)
        from app.bundle.submit import city_keyfile

        self.ctx = ctx
        self.keyfile = city_keyfile(ctx.kit)
        self.task: Any = None
        self.results: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.setWindowTitle(_("Import review results"))
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.addWidget(_wrapped(_("Choose the folder with the technical panel's review results: the results folder "
                                 "itself, or a folder holding several, such as the stick's data/mailbox folder.")))
        self.folder_label, self.folder = path_field(lay, _("Folder with the review results"), folder,
                                                    _("Choose the folder with the review results"), self._browse)
        self.pass_label, self.passphrase = passphrase_field(lay, _("Passphrase of the city's key"))
        self.message = _wrapped("", ERROR)
        self.message.setAccessibleName(_("Problem"))
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.done_text = _wrapped("")
        self.done_text.setAccessibleName(_("Imported review results"))
        self.done_text.setVisible(False)
        lay.addWidget(self.done_text)
        self.report_btn = QPushButton(_("Open the panel's report"))
        self.report_btn.setVisible(False)
        self.report_btn.clicked.connect(self._open_report)
        self.import_btn, self.close_btn = dialog_buttons(self, lay, _("Import"), self.start_import,
                                                         leading=(self.report_btn,))
        if not self.keyfile.is_file():
            self.show_message(_("The city has no key yet. Finish the first-run setup first."))
            self.import_btn.setEnabled(False)
        (self.passphrase if folder else self.folder).setFocus()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Folder with the review results"))
        if folder:
            self.folder.setText(folder)
            self.passphrase.setFocus()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def start_import(self) -> Any:
        if self.task is not None and not self.task.done:
            return self.task
        folder = self.folder.text().strip()
        if not folder:
            self.show_message(_("Choose the folder with the review results."))
            self.folder.setFocus()
            return None
        passphrase = self.passphrase.text()
        if not passphrase:
            self.show_message(_("Enter the passphrase of the city's key."))
            self.passphrase.setFocus()
            return None
        self.show_message("")
        kit, keyfile = self.ctx.kit, self.keyfile

        def work(progress: Any, cancel: Any) -> tuple[list[dict[str, Any]], list[str]]:
            from app.bundle.keys import load_keyfile
            from app.errors import KitError
            from app.review.feedback import import_results

            bundles = find_results(Path(folder))
            if not bundles:
                raise UserInputError(N_("No review results found in {path}."), path=folder)
            progress(0, 0, N_("Opening the city's key"))
            keyset = load_keyfile(keyfile, passphrase)
            done, errors = [], []
            for path in bundles:
                cancel.check()
                try:
                    done.append(import_results(kit, path, keyset, progress=progress, cancel=cancel))
                except KitError as exc:
                    if len(bundles) == 1:
                        raise
                    errors.append(_("NOT IMPORTED: {path} - {error}", path=path.name, error=exc.message()))
            return done, errors

        self.import_btn.setEnabled(False)
        self.task = self.ctx.run_task(work, title=_("Import review results"),
                                      label=_("Checking and opening the review results…"), parent=self,
                                      on_done=self._imported, on_error=self._failed)
        return self.task

    def _failed(self, exc: BaseException) -> None:
        from app.ui.tasks import error_text

        self.import_btn.setEnabled(True)
        self.show_message(error_text(exc))
        self.passphrase.selectAll()
        self.passphrase.setFocus()

    def _imported(self, outcome: tuple[list[dict[str, Any]], list[str]]) -> None:
        done, errors = outcome
        self.results, self.errors = done, errors
        self.passphrase.clear()
        self.import_btn.setEnabled(True)
        lines = []
        for r in done:
            counts = {k: 0 for k in ("met", "not_met", "needs_information")}
            for v in r["verdicts"].values():
                if v.get("verdict") in counts:
                    counts[v["verdict"]] += 1
            text = _("Stage {stage}: {met} met, {not_met} not met, {needs} need more information.", stage=r["stage"],
                     met=counts["met"], not_met=counts["not_met"], needs=counts["needs_information"])
            if r["already_imported"]:
                text += " " + _("(already imported before)")
            lines.append(text)
        if done:
            lines.append(_("Each verdict and comment is shown beside its requirement in the stage. Where the panel "
                           "needs more information, add it and seal the stage again."))
        self.done_text.setText("\n".join(lines))
        self.done_text.setVisible(bool(lines))
        self.show_message("\n".join(errors))
        self.report_btn.setVisible(any(r.get("reports") for r in done))
        self.close_btn.setText(_("Done"))
        self.close_btn.setFocus()
        if done:
            self.ctx.events.feedback.emit()
            self.ctx.events.bundles.emit()

    def _open_report(self) -> None:
        if self.results:
            open_report(self, self.ctx.kit, self.results[0]["stage"])

    def reject(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            return
        super().reject()


def _wrapped(text: str, colour: str | None = None) -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setTextFormat(Qt.TextFormat.PlainText)
    lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if colour:
        tint(lbl, colour)
    return lead(lbl)

"""Small message helpers. Confirmations block (``exec``); notes do not (``open``), so the rest of
the app keeps running. Tests replace :func:`confirm` to answer for the person."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.i18n import _

_open_boxes: list[QMessageBox] = []


def confirm(parent: QWidget | None, question: str, detail: str = "") -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, _("Please confirm"), question, QMessageBox.StandardButton.NoButton,
                      parent)
    if detail:
        box.setInformativeText(detail)
    yes = box.addButton(_("Yes"), QMessageBox.ButtonRole.YesRole)
    box.addButton(_("No"), QMessageBox.ButtonRole.NoRole)
    box.exec()
    return box.clickedButton() is yes


def note(parent: QWidget | None, title: str, text: str, *, error: bool = False) -> QMessageBox:
    """Show a message without blocking; returns the box (tests read its text)."""
    box = QMessageBox(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information, title, text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.addButton(_("OK"), QMessageBox.ButtonRole.AcceptRole)
    box.setAccessibleName(title)
    _open_boxes.append(box)
    box.finished.connect(lambda _r, b=box: _open_boxes.remove(b) if b in _open_boxes else None)
    box.open()
    return box


def open_boxes() -> list[QMessageBox]:
    return list(_open_boxes)

"""Choosing a new passphrase: the two fields, a strength meter with a hint, and "show" — shared by
the city's key page of the first-run wizard and the panel member's and officer's new-key dialog."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QProgressBar, QWidget

from app.i18n import N_, _

STRENGTH_TEXT = [N_("Very weak"), N_("Weak"), N_("Acceptable"), N_("Good"), N_("Strong")]

#: Argon2id settings for new keys; None means the kit's default. Tests use the light demo settings.
KEY_KDF: Any = None


def new_key_kdf() -> Any:
    from app.bundle.keys import DEFAULT_KDF

    return KEY_KDF or DEFAULT_KDF


class NewPassphrase(QWidget):
    """A form for a new passphrase; :meth:`acceptable` says whether the kit would take it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(_("Passphrase"))
        self.passphrase.textChanged.connect(self._changed)
        form.addRow(_("Passphrase"), self.passphrase)
        self.strength = QProgressBar()
        self.strength.setRange(0, 4)
        self.strength.setTextVisible(True)
        self.strength.setAccessibleName(_("Passphrase strength"))
        form.addRow(_("Strength"), self.strength)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        form.addRow("", self.hint)
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setAccessibleName(_("The same passphrase again"))
        self.confirm.textChanged.connect(self._changed)
        form.addRow(_("The same passphrase again"), self.confirm)
        self.show_pass = QCheckBox(_("Show the passphrase"))
        self.show_pass.toggled.connect(self._toggle_echo)
        form.addRow("", self.show_pass)
        self.mismatch = ""
        self._changed()

    def _toggle_echo(self, show: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if show else QLineEdit.EchoMode.Password
        self.passphrase.setEchoMode(mode)
        self.confirm.setEchoMode(mode)

    def _changed(self, *_a: Any) -> None:
        from app.bundle.keys import passphrase_strength

        p = self.passphrase.text()
        score, hint = passphrase_strength(p)
        self.strength.setValue(score)
        self.strength.setFormat(_(STRENGTH_TEXT[score]))
        colour = "#b00020" if score < 2 else "#c77700" if score == 2 else "#1e7d32"
        pal = self.strength.palette()
        pal.setColor(QPalette.ColorRole.Highlight, QColor(colour))
        self.strength.setPalette(pal)
        self.hint.setText(_(hint) if p else "")
        mismatch = bool(self.confirm.text()) and self.confirm.text() != p
        self.mismatch = _("The two passphrases are not the same.") if mismatch else ""
        self.changed.emit()

    def text(self) -> str:
        return self.passphrase.text()

    def acceptable(self) -> bool:
        from app.bundle.keys import MIN_PASSPHRASE_LENGTH, passphrase_strength

        p = self.passphrase.text()
        return len(p) >= MIN_PASSPHRASE_LENGTH and passphrase_strength(p)[0] >= 2 and self.confirm.text() == p

    def clear(self) -> None:
        self.passphrase.clear()
        self.confirm.clear()

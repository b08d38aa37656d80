"""What the technical panel's and the field officer's windows share with each other (and with the
city app): a small running-app object with the worker helpers and the language, the dialog that
unlocks a person's key once per session, and the trust pack import.

Neither mode opens a city's Kit. The panel's :class:`~app.review.workspace.PanelWorkspace` and the
officer's outbox are used exactly like the Kit is (decision 0007): while a worker uses them the
:class:`~app.ui.tasks.KitGuard` is busy and input is blocked, so the GUI thread never touches them
at the same time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QLocale, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.i18n import LANGUAGE_NAMES, LANGUAGES, N_, _, current_language, normalise_language
from app.ui.look import ERROR, apply_language, lead, passphrase_field, path_field, tint
from app.ui.tasks import KitGuard, Task, error_text, run_task

SETTING_LANGUAGE = "ui.language"


class RoleApp(QObject):
    """Base of :class:`app.ui.panel.PanelApp` and :class:`app.ui.officer.OfficerApp`."""

    changed = Signal()  # something was imported, collected, sent or decided: lists refresh

    #: the key role this mode signs with, and the usual key file name in ``<data>/keys``
    key_role: Any = None

    def __init__(self, data_dir: Path | str, qapp: QApplication | None = None) -> None:
        super().__init__()
        from app.ui.app import SWITCH_INTERVAL_S

        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.data_dir = Path(data_dir)
        self.qapp = qapp or QApplication.instance()
        self.guard = KitGuard()
        self.window: Any = None
        self.member: Any = None  # the unlocked KeySet, for this session only
        self.closed = False

    # -- to be given by the mode -----------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        raise NotImplementedError

    def set_setting(self, key: str, value: str) -> None:
        raise NotImplementedError

    def make_window(self) -> QWidget:
        raise NotImplementedError

    def close_store(self) -> None:
        pass

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, lang: str | None = None) -> QWidget:
        stored = None
        try:
            stored = self.get_setting(SETTING_LANGUAGE)
        except Exception:  # noqa: BLE001 - a setting is a nicety
            pass
        code = apply_language(self.qapp, normalise_language(lang or stored or QLocale.system().name()))
        if lang:
            self._remember_language(code)
        try:
            state = self.stored_view()
        except Exception:  # noqa: BLE001
            state = {}
        return self.show_main(state)

    def stored_view(self) -> dict[str, Any]:
        return {}

    def _remember_language(self, code: str) -> None:
        try:
            self.set_setting(SETTING_LANGUAGE, code)
        except Exception:  # noqa: BLE001
            pass

    def show_main(self, state: dict[str, Any] | None = None) -> QWidget:
        old = self.window
        self.window = self.make_window()
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
        code = apply_language(self.qapp, code)
        self._remember_language(code)
        if self.window is not None:
            self.show_main(self.window.view_state())

    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        for t in list(Task.running_tasks):
            t.cancel()
            t.wait(30)
        self.guard.reset()
        self.close_store()

    def run_task(self, fn: Callable[..., Any], *, title: str, label: str, parent: QWidget | None = None,
                 on_done: Callable[[Any], None] | None = None, on_error: Callable[[BaseException], None] | None = None,
                 cancellable: bool = True, uses_kit: bool = True) -> Task:
        return run_task(parent or self.window, fn, title=title, label=label, guard=self.guard, on_done=on_done,
                        on_error=on_error, cancellable=cancellable, uses_kit=uses_kit)

    def has_trust(self, what: str = "") -> bool:
        from app.bundle import trust as trustmod

        folder = trustmod.installed_trust_dir(self.data_dir)
        return (folder / (what or trustmod.ROOT_PUB)).is_file()

    # -- the person's key ----------------------------------------------------------------
    def default_keyfile(self) -> str:
        from app.bundle.keys import default_keyfile

        remembered = None
        try:
            remembered = self.get_setting(f"ui.keyfile.{self.key_role.value}")
        except Exception:  # noqa: BLE001
            pass
        if remembered and Path(remembered).is_file():
            return remembered
        usual = default_keyfile(self.data_dir / "keys", self.key_role)
        return str(usual) if usual.is_file() else (remembered or "")

    def with_key(self, parent: QWidget | None, then: Callable[[Any], Any]) -> Any:
        """Call ``then(keyset)`` with the unlocked key, asking for it first if needed (once a session)."""
        if self.member is not None:
            return then(self.member)
        dlg = KeyDialog(self, parent or self.window)
        dlg.unlocked.connect(then)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.open()
        self.key_dialog = dlg
        return dlg

    def key_unlocked(self, keyset: Any, path: str) -> None:
        self.member = keyset
        try:
            self.set_setting(f"ui.keyfile.{self.key_role.value}", path)
        except Exception:  # noqa: BLE001
            pass
        self.changed.emit()


ROLE_TEXT = {
    "panel_member": N_("technical panel member"),
    "officer": N_("field officer"),
    "city": N_("city"),
}


class KeyDialog(QDialog):
    """Choose your key file and unlock it with its passphrase (in a worker: the key derivation is slow)."""

    unlocked = Signal(object)

    def __init__(self, ctx: RoleApp, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.task: Any = None
        self.keyset: Any = None
        role = _(ROLE_TEXT.get(ctx.key_role.value, ctx.key_role.value))
        self.setWindowTitle(_("Unlock your key"))
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        lay.addWidget(wrapped(_("Your key ({role}) signs what you send and opens what is sealed for you. It is asked "
                                "for once while the kit is open.", role=role)))
        self.file_label, self.path = path_field(lay, _("Key file"), ctx.default_keyfile(), _("Choose the key file"),
                                                self._browse)
        self.pass_label, self.passphrase = passphrase_field(lay, _("Passphrase"))
        self.no_key = wrapped(_("No key file was found in {folder}. Choose yours, or create one if you have none "
                                "yet.", folder=str(ctx.data_dir / "keys")))
        self.no_key.setVisible(not self.path.text())
        lay.addWidget(self.no_key)
        self.message = wrapped("", ERROR)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.new_btn = QPushButton(_("I have no key yet: create one…"))
        self.new_btn.clicked.connect(self.create_key)
        self.ok, _close = dialog_buttons(self, lay, _("Unlock"), self.unlock, close_text=_("Cancel"),
                                         leading=(self.new_btn,))
        (self.passphrase if self.path.text() else self.path).setFocus()

    def _browse(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, _("Key file"), str(Path(self.path.text()).parent),
                                               _("Key files (*.key)"))
        if path:
            self.path.setText(path)
            self.passphrase.setFocus()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def unlock(self) -> Any:
        if self.task is not None and not self.task.done:
            return self.task
        path, passphrase, role = self.path.text().strip(), self.passphrase.text(), self.ctx.key_role
        if not path:
            self.show_message(_("Choose your key file."))
            return None
        if not passphrase:
            self.show_message(_("Enter the passphrase."))
            self.passphrase.setFocus()
            return None

        def work(_progress: Any, _cancel: Any) -> Any:
            from app.bundle.keys import load_keyfile
            from app.errors import UserInputError

            keyset = load_keyfile(Path(path), passphrase)
            if keyset.role is not role:
                raise UserInputError(N_("{path} holds a {found} key; this needs the {expected} key."), path=path,
                                     found=keyset.role.value, expected=role.value)
            return keyset

        self.show_message("")
        self.ok.setEnabled(False)
        self.task = self.ctx.run_task(work, title=_("Unlock your key"), label=_("Opening the key…"), parent=self,
                                      cancellable=False, uses_kit=False, on_done=self._done, on_error=self._failed)
        return self.task

    def create_key(self) -> "NewKeyDialog":
        dlg = NewKeyDialog(self.ctx, self)
        dlg.created.connect(self._created)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.open()
        self.new_dialog = dlg
        return dlg

    def _created(self, keyset: Any, path: str) -> None:
        self.path.setText(path)
        self._done(keyset)

    def _done(self, keyset: Any) -> None:
        self.keyset = keyset
        self.passphrase.clear()
        self.ctx.key_unlocked(keyset, self.path.text().strip())
        self.accept()
        self.unlocked.emit(keyset)

    def _failed(self, exc: BaseException) -> None:
        self.ok.setEnabled(True)
        self.show_message(error_text(exc))
        self.passphrase.selectAll()
        self.passphrase.setFocus()


class NewKeyDialog(QDialog):
    """Create your own key (a technical panel member's or a field officer's): your name and a new
    passphrase. The key file goes to ``<data>/keys/<role>.key`` (never over an existing one) and the
    public key card beside it, for the secretariat, who adds the key to the panel's signed list or
    enrols the officer. The key is then unlocked for this session."""

    created = Signal(object, str)  # the KeySet, the key file's path

    def __init__(self, ctx: RoleApp, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.bundle.keys import default_keyfile

        from app.ui.passphrase import NewPassphrase

        self.ctx = ctx
        self.task: Any = None
        self.keyset: Any = None
        self.key_path = default_keyfile(ctx.data_dir / "keys", ctx.key_role)
        role = _(ROLE_TEXT.get(ctx.key_role.value, ctx.key_role.value))
        self.setWindowTitle(_("Create your key"))
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        self.intro = wrapped(_("Your key ({role}) is yours alone: it signs what you send and opens what is sealed "
                               "for you. It is kept in {path}, protected by a passphrase.", role=role,
                               path=str(self.key_path)))
        lay.addWidget(self.intro)
        name_label = lead(QLabel(_("Your name, as the secretariat knows you")))
        lay.addWidget(name_label)
        self.name = QLineEdit()
        self.name.setAccessibleName(_("Your name, as the secretariat knows you"))
        name_label.setBuddy(self.name)
        self.name.textChanged.connect(self._changed)
        lay.addWidget(self.name)
        self.form = NewPassphrase()
        self.form.changed.connect(self._changed)
        lay.addWidget(self.form)
        self.written = QCheckBox(_("I have written the passphrase down and keep it safe"))
        self.written.toggled.connect(self._changed)
        lay.addWidget(self.written)
        self.message = wrapped("", ERROR)
        lay.addWidget(self.message)
        self.result = wrapped("")
        self.result.setAccessibleName(_("Result"))
        self.result.setVisible(False)
        lay.addWidget(self.result)
        self.card_btn = QPushButton(_("Save a copy of the public key card…"))
        self.card_btn.clicked.connect(lambda: self.save_card())
        self.card_btn.setVisible(False)
        self.ok, self.close_btn = dialog_buttons(self, lay, _("Create the key"), self.create, close_text=_("Cancel"),
                                                 leading=(self.card_btn,))
        if self.key_path.exists():
            self.message.setText(_("There is already a key file at {path}: unlock it instead. Key files are never "
                                   "overwritten.", path=str(self.key_path)))
        self.name.setFocus()
        self._changed()

    def _changed(self, *_a: Any) -> None:
        if self.keyset is not None:
            return
        if not self.key_path.exists():
            self.message.setText(self.form.mismatch)
        self.ok.setEnabled(self.ready() and (self.task is None or self.task.done))

    def ready(self) -> bool:
        return (bool(self.name.text().strip()) and self.form.acceptable() and self.written.isChecked()
                and not self.key_path.exists())

    def create(self) -> Any:
        if self.keyset is not None:  # the key exists: this button now continues
            self.accept()
            self.created.emit(self.keyset, str(self.key_path))
            return None
        if not self.ready() or (self.task is not None and not self.task.done):
            return self.task
        from app.ui.passphrase import new_key_kdf

        name, passphrase, path, role = self.name.text().strip(), self.form.text(), self.key_path, self.ctx.key_role
        kdf = new_key_kdf()

        def work(_progress: Any, _cancel: Any) -> Any:
            from app.bundle.keys import KeySet, card_path_for, refuse_existing_keyfile, write_new_keyfile
            from app.fsutil import atomic_write_bytes

            refuse_existing_keyfile(path)
            keyset = KeySet.generate(role, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_new_keyfile(path, keyset, passphrase, kdf=kdf)
            atomic_write_bytes(card_path_for(path), keyset.card().to_bytes())
            return keyset

        self.ok.setEnabled(False)
        self.task = self.ctx.run_task(work, title=_("Create your key"), label=_("Creating and protecting the key…"),
                                      parent=self, cancellable=False, uses_kit=False, on_done=self._done,
                                      on_error=self._failed)
        return self.task

    def _done(self, keyset: Any) -> None:
        from app.bundle.keys import card_path_for

        self.keyset = keyset
        self.form.clear()
        for w in (self.name, self.form, self.written):
            w.setEnabled(False)
        self.message.setText("")
        self.result.setText(_("Your key is ready. Its fingerprint is {fingerprint}. Send the public key card {path} "
                              "to the secretariat: they add your key to the signed lists, and read the fingerprint "
                              "back to you to check it.", fingerprint=keyset.fingerprint,
                              path=str(card_path_for(self.key_path))))
        self.result.setVisible(True)
        self.card_btn.setVisible(True)
        self.close_btn.setVisible(False)
        self.ok.setText(_("Continue"))
        self.ok.setEnabled(True)
        self.ok.setFocus()

    def _failed(self, exc: BaseException) -> None:
        self.message.setText(error_text(exc))
        self._changed()

    def save_card(self, folder: str | None = None) -> Path | None:
        """Copy the public key card into ``folder`` (asked for if not given), e.g. a stick for the secretariat."""
        from app.bundle.keys import card_path_for
        from app.fsutil import atomic_write_bytes

        card = card_path_for(self.key_path)
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, _("Save a copy of the public key card…"))
        if not folder:
            return None
        dst = Path(folder) / card.name
        try:
            atomic_write_bytes(dst, card.read_bytes())
        except OSError as exc:
            self.message.setText(error_text(exc))
            return None
        self.message.setText("")
        self.result.setText(self.result.text() + "\n" + _("Saved {path}.", path=str(dst)))
        return dst


class TrustPackDialog(QDialog):
    """Import a trust pack into this data folder (the panel's, or the officer's)."""

    def __init__(self, ctx: RoleApp, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.task: Any = None
        self.pack: Any = None
        self.setWindowTitle(_("Import the trust pack"))
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        lay.addWidget(wrapped(_("Choose the folder of the trust pack you received from the secretariat.")))
        row = QHBoxLayout()
        self.folder = QLineEdit()
        self.folder.setAccessibleName(_("Folder of the trust pack"))
        browse = QPushButton(_("Browse…"))
        browse.setAccessibleName(_("Choose the folder of the trust pack"))
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.demo = QCheckBox(_("This is a demo pack for training"))
        lay.addWidget(self.demo)
        self.message = wrapped("")
        self.message.setAccessibleName(_("Result"))
        lay.addWidget(self.message)
        self.ok, _close = dialog_buttons(self, lay, _("Import"), self.do_import)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Folder of the trust pack"))
        if folder:
            self.folder.setText(folder)

    def do_import(self) -> Any:
        folder, demo, root = self.folder.text().strip(), self.demo.isChecked(), self.ctx.data_dir
        if not folder:
            tint(self.message, ERROR)
            self.message.setText(_("Choose the folder of the trust pack."))
            return None

        def work(_progress: Any, _cancel: Any) -> Any:
            from app.bundle.trust import RootPolicy, import_trust_pack

            return import_trust_pack(Path(folder), root, RootPolicy.installed(demo=demo)).pack

        self.task = self.ctx.run_task(work, title=_("Importing the trust pack"), label=_("Checking the trust files…"),
                                      parent=self, cancellable=False, on_done=self._done, on_error=self._failed)
        return self.task

    def _done(self, pack: Any) -> None:
        self.pack = pack
        lines = [_("Trust files are installed.")]
        if pack.demo:
            lines.append(_("DEMO trust files: for training only. Bundles sealed with them are marked as demo."))
        if pack.recipients is not None:
            lines.append(_("Technical panel: {panel} ({count} members).", panel=pack.recipients.panel_name,
                           count=len(pack.recipients.members)))
        tint(self.message, None)
        self.message.setText("\n".join(lines))
        self.ctx.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        tint(self.message, ERROR)
        self.message.setText(error_text(exc))


def language_menu(window: Any, ctx: RoleApp) -> dict[str, Any]:
    """The Language menu of a mode's window; returns its actions by language code."""
    from PySide6.QtGui import QAction, QActionGroup

    menu = window.menuBar().addMenu(_("&Language"))
    group = QActionGroup(window)
    actions = {}
    for code in LANGUAGES:
        act = QAction(LANGUAGE_NAMES[code], window)
        act.setCheckable(True)
        act.setChecked(code == current_language())
        act.triggered.connect(lambda _c=False, c=code: ctx.switch_language(c))
        group.addAction(act)
        menu.addAction(act)
        actions[code] = act
    return actions


def role_menu_tail(window: Any, ctx: RoleApp, menu: Any) -> dict[str, Any]:
    """What the panel's and the officer's windows share: trust pack, key, quit in ``menu``, then the
    Language and Help menus. Returns the language actions by code."""
    from PySide6.QtGui import QAction, QKeySequence

    from app import __version__
    from app.ui import dialogs

    menu.addSeparator()
    trust = QAction(_("Import the trust pack…"), window)
    trust.triggered.connect(window.open_trust_dialog)
    menu.addAction(trust)
    key = QAction(_("Unlock your key…"), window)
    key.triggered.connect(lambda: ctx.with_key(window, lambda _k: None))
    menu.addAction(key)
    menu.addSeparator()
    quit_act = QAction(_("Quit"), window)
    quit_act.setShortcut(QKeySequence("Ctrl+Q"))
    quit_act.triggered.connect(window.close)
    menu.addAction(quit_act)
    actions = language_menu(window, ctx)
    help_menu = window.menuBar().addMenu(_("&Help"))
    about = QAction(_("About the kit"), window)
    about.triggered.connect(lambda: dialogs.note(window, _("About the kit"), _(
        "SDG Cities Kit {version}. Data folder: {path}", version=__version__, path=str(ctx.data_dir))))
    help_menu.addAction(about)
    return actions


def dialog_buttons(dialog: QDialog, layout: Any, primary_text: str, on_primary: Callable[[], Any], *,
                   close_text: str | None = None, leading: tuple[QPushButton, ...] = ()) -> tuple[QPushButton,
                                                                                            QPushButton]:
    """The bottom row of the kit's dialogs: ``leading`` buttons first, then the main action and
    Close (or ``close_text``). The main action is the only default: Enter means it (see
    :func:`only_default`); Close rejects the dialog. Returns (main action, close)."""
    row = QHBoxLayout()
    for b in leading:
        row.addWidget(b)
    row.addStretch(1)
    primary = QPushButton(primary_text)
    primary.clicked.connect(on_primary)
    close = QPushButton(close_text or _("Close"))
    close.clicked.connect(dialog.reject)
    row.addWidget(primary)
    row.addWidget(close)
    layout.addLayout(row)
    only_default(dialog, primary)
    return primary, close


def only_default(dialog: QDialog, primary: QPushButton) -> None:
    """Enter always means the dialog's main action: no other button becomes the default when it
    gets the focus (a Close button that took the focus from a disabled one would cancel the work)."""
    for b in dialog.findChildren(QPushButton):
        b.setAutoDefault(b is primary)
    primary.setDefault(True)


def wrapped(text: str, colour: str | None = None) -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setTextFormat(Qt.TextFormat.PlainText)
    lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if colour:
        tint(lbl, colour)
    return lead(lbl)

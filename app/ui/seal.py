"""Seal and hand over: choose where the bundle goes (this stick, a detected removable drive, or any
folder), check the free space, seal in a worker with progress and Cancel, verify the result, then
say in plain words what to give the field officer."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStorageInfo, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import Cancelled, CryptoError
from app.i18n import N_, _, text_in
from app.model.guide_steps import bundle_needed_bytes, removable_mount
from app.ui.look import ERROR, WARN, fmt_size, isolate, passphrase_field, tint
from app.ui.stage import heading, wrapped
from app.ui.tasks import error_text

OPENING_KEY = N_("Opening the city's key")


class Destination:
    def __init__(self, label: str, path: Path, removable: bool, chosen: bool = False) -> None:
        self.label = label
        self.path = path
        self.removable = removable
        self.chosen = chosen  # picked with "Choose another folder…", kept when drives are looked for again

    def free(self) -> int | None:
        from app.fsutil import free_space

        try:
            return free_space(self.path)
        except OSError:
            return None


def detect_destinations(kit: Any) -> list[Destination]:
    """This kit's own bundles folder first, then every removable drive that is ready and writable."""
    out = [Destination(_("This kit's folder (on the stick when the kit runs from one)"), kit.layout.bundles, False)]
    system_drive = os.environ.get("SystemDrive", "C:")
    for vol in QStorageInfo.mountedVolumes():
        if not (vol.isValid() and vol.isReady()):
            continue
        root = vol.rootPath()
        fs = bytes(vol.fileSystemType().data()).decode("ascii", "replace")
        if not removable_mount(root, fs, vol.isReadOnly(), platform=sys.platform, system_drive=system_drive):
            continue
        name = vol.displayName() or root
        out.append(Destination(_("Removable drive {name}", name=name), Path(root) / "SDG-Cities-bundles", True))
    return out


class SealDialog(QDialog):
    sealed = Signal(object)  # the SealResult

    def __init__(self, ctx: Any, stage_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.bundle.submit import city_keyfile, is_demo_installed

        self.ctx = ctx
        kit = ctx.kit
        self.fw = kit.framework
        self.stage = self.fw.stage(stage_id)
        self.keyfile = city_keyfile(kit)
        self.result: Any = None
        self.summary: dict[str, Any] | None = None
        self.task: Any = None
        self.setWindowTitle(_("Seal stage {stage}", stage=self.stage.id))
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.addWidget(heading(_("Seal stage {stage}: {title}", stage=self.stage.id, title=text_in(self.stage.title)),
                              1.2))
        status = kit.completeness(self.stage.id)
        if status.complete:
            state = _("Every requirement of this stage is complete.")
        else:
            state = _("{count} requirement(s) are still incomplete. You can seal now; the technical panel will see "
                      "what is missing.", count=status.total - status.complete_count)
        lay.addWidget(wrapped(state))
        lay.addWidget(wrapped(_("Sealing makes one encrypted, signed folder with the answers, indicator values and "
                                "evidence files of this stage. Only the technical panel can open it.")))
        if is_demo_installed(kit.layout.root):
            lay.addWidget(wrapped(_("Training mode: this will be a DEMO bundle, which cannot be submitted."),
                                  WARN))

        lay.addWidget(heading(_("Where to put the bundle"), 1.0))
        self.dest_list = QListWidget()
        self.dest_list.setAccessibleName(_("Where to put the bundle"))
        self.dest_list.currentRowChanged.connect(self._update_space)
        self.dest_list.setMaximumHeight(self.dest_list.fontMetrics().lineSpacing() * 9)
        lay.addWidget(self.dest_list)
        row = QHBoxLayout()
        self.choose_btn = QPushButton(_("Choose another folder…"))
        self.choose_btn.clicked.connect(self.choose_folder)
        self.refresh_btn = QPushButton(_("Look for drives again"))
        self.refresh_btn.clicked.connect(self.fill_destinations)
        row.addWidget(self.choose_btn)
        row.addWidget(self.refresh_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.space = wrapped("")
        lay.addWidget(self.space)

        self.needed = bundle_needed_bytes(e.size for e in kit.list_evidence(self.stage.id))
        lay.addWidget(heading(_("The city's key"), 1.0))
        self.pass_label, self.passphrase = passphrase_field(lay, _("Passphrase of the city's key"))
        self.passphrase.returnPressed.connect(self.start_seal)

        self.message = wrapped("", ERROR)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.done_text = wrapped("")
        self.done_text.setVisible(False)
        self.done_text.setAccessibleName(_("What to give the field officer"))
        lay.addWidget(self.done_text)

        buttons = QHBoxLayout()
        self.open_folder_btn = QPushButton(_("Show the folder"))
        self.open_folder_btn.setVisible(False)
        self.open_folder_btn.clicked.connect(self.show_folder)
        self.seal_btn = QPushButton(_("Seal and check"))
        self.seal_btn.setDefault(True)
        self.seal_btn.clicked.connect(self.start_seal)
        self.close_btn = QPushButton(_("Close"))
        self.close_btn.clicked.connect(self.reject)
        buttons.addWidget(self.open_folder_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.seal_btn)
        buttons.addWidget(self.close_btn)
        lay.addLayout(buttons)

        self.destinations: list[Destination] = []
        self.fill_destinations()
        problem = self._cannot_seal()
        if problem:
            self.show_message(problem)
            self.seal_btn.setEnabled(False)
            self.passphrase.setEnabled(False)
        self.passphrase.setFocus()

    def _cannot_seal(self) -> str | None:
        if not self.keyfile.is_file():
            return _("The city has no key yet. Finish the first-run setup first.")
        if not self.ctx.has_trust():
            return _("The trust pack from the secretariat is not installed yet. Import it from the Kit menu first.")
        return None

    # -- destinations ------------------------------------------------------------------------
    def fill_destinations(self) -> None:
        keep = self.selected_destination()
        extra = [d for d in self.destinations if d.chosen]
        self.destinations = detect_destinations(self.ctx.kit) + extra
        self.dest_list.clear()
        for d in self.destinations:
            free = d.free()
            text = d.label + "\n" + isolate(str(d.path))
            if free is not None:
                text += "  ·  " + _("{free} free", free=fmt_size(free))
            self.dest_list.addItem(QListWidgetItem(text))
        row = 0
        if keep is not None:
            row = next((i for i, d in enumerate(self.destinations) if d.path == keep.path), 0)
        self.dest_list.setCurrentRow(row)

    def add_destination(self, folder: Path | str) -> None:
        """Use ``folder`` (what "Choose another folder…" does)."""
        d = Destination(_("Folder you chose"), Path(folder), False, chosen=True)
        self.destinations.append(d)
        self.dest_list.addItem(QListWidgetItem(d.label + "\n" + isolate(str(d.path))))
        self.dest_list.setCurrentRow(len(self.destinations) - 1)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Where to put the bundle"))
        if folder:
            self.add_destination(folder)

    def selected_destination(self) -> Destination | None:
        row = self.dest_list.currentRow() if hasattr(self, "dest_list") else -1
        return self.destinations[row] if 0 <= row < len(getattr(self, "destinations", [])) else None

    def _update_space(self, *_a: Any) -> bool:
        d = self.selected_destination()
        if d is None:
            return False
        free = d.free()
        needed = getattr(self, "needed", 0)
        if free is None:
            self.space.setText(_("The free space of {path} cannot be read.", path=str(d.path)))
            return True
        ok = free >= needed
        text = _("The bundle needs about {needed}; {free} is free there.", needed=fmt_size(needed), free=fmt_size(free))
        if not ok:
            text += " " + _("Not enough space: choose another drive or free some space.")
        self.space.setText(text)
        tint(self.space, None if ok else ERROR)
        return ok

    # -- sealing -------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def start_seal(self) -> Any:
        if self.task is not None and not self.task.done:
            return self.task
        problem = self._cannot_seal()
        if problem:
            self.show_message(problem)
            return None
        dest = self.selected_destination()
        if dest is None:
            self.show_message(_("Choose where to put the bundle."))
            return None
        if not self._update_space():
            self.show_message(_("Not enough space: choose another drive or free some space."))
            return None
        passphrase = self.passphrase.text()
        if not passphrase:
            self.show_message(_("Enter the passphrase of the city's key."))
            self.passphrase.setFocus()
            return None
        self.show_message("")
        self.ctx.flush()
        kit, stage, keyfile = self.ctx.kit, self.stage.id, self.keyfile
        out_dir = None if dest.path == kit.layout.bundles else dest.path

        def work(progress: Any, cancel: Any) -> tuple[Any, dict[str, Any] | None]:
            from app.bundle.keys import load_keyfile
            from app.bundle.submit import seal_stage, verify_trusted

            progress(0, 0, OPENING_KEY)
            keyset = load_keyfile(keyfile, passphrase)
            cancel.check()
            result = seal_stage(kit, stage, keyset, out_dir, progress=progress, cancel=cancel)
            try:
                summary = verify_trusted(result.path, data_dir=kit.layout.root, progress=progress,
                                         cancel=cancel).summary()
            except Cancelled:
                summary = None
            return result, summary

        self.seal_btn.setEnabled(False)
        self.task = self.ctx.run_task(work, title=_("Sealing stage {stage}", stage=stage),
                                      label=_("Sealing stage {stage}…", stage=stage), parent=self,
                                      on_done=self._sealed, on_error=self._failed)
        return self.task

    def _failed(self, exc: BaseException) -> None:
        self.seal_btn.setEnabled(True)
        self.show_message(error_text(exc))
        if isinstance(exc, CryptoError):
            self.passphrase.selectAll()
            self.passphrase.setFocus()

    def _sealed(self, outcome: tuple[Any, dict[str, Any] | None]) -> None:
        result, summary = outcome
        self.result, self.summary = result, summary
        self.passphrase.clear()
        folder = Path(result.path)
        prof = self.ctx.kit.require_profile()
        if summary is None:
            first = _("Stage {stage} is sealed, but the check was cancelled. Check it again before handing it over.",
                      stage=self.stage.id)
        else:
            first = _("Stage {stage} is sealed and checked: it is complete and its signature is valid.",
                      stage=self.stage.id)
        text = "\n\n".join([
            first,
            _("Give the field officer this folder, whole and unchanged:\n{name}\nin {parent}",
              name=folder.name, parent=str(folder.parent)),
            _("It holds {size}. It is encrypted, so only the technical panel can read it, and it is signed, so "
              "anyone can check it comes from {city}. Keep it until the officer confirms it was received.",
              size=fmt_size(result.size), city=prof.name),
            _("Before you unplug the stick, choose Kit › Prepare for removal."),
        ])
        if summary and summary.get("demo"):
            text += "\n\n" + _("This is a DEMO bundle for training: it cannot be submitted.")
        self.done_text.setText(text)
        self.done_text.setVisible(True)
        self.open_folder_btn.setVisible(True)
        self.seal_btn.setVisible(False)
        self.close_btn.setText(_("Done"))
        self.close_btn.setDefault(True)
        self.close_btn.setFocus()
        self.sealed.emit(result)

    def show_folder(self) -> None:
        if self.result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.result.path).parent)))

    def reject(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            return
        super().reject()

    def keyPressEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.key() == Qt.Key.Key_Escape and self.task is not None and not self.task.done:
            self.task.cancel()
            return
        super().keyPressEvent(ev)

"""The first-run wizard: language, the city's profile, the mechanism (global or national with its
overlay) and target level, the city's key with a passphrase, the trust pack from the secretariat
(or a demo pack for training), and a short tour.

The key comes before the trust pack because the pack's enrolment certificate names the city's
key: the secretariat enrols the public card this page writes. A trust pack without an enrolment
can be imported now and the enrolment later.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.i18n import LANGUAGE_NAMES, LANGUAGES, N_, _, current_language, text_in
from app.ui.fields import CheckList
from app.ui.stage import heading, wrapped
from app.ui.look import ERROR, WARN, lead, tint
from app.ui.passphrase import NewPassphrase, new_key_kdf
from app.ui.tasks import error_text

POPULATION_TEXT = {
    "<50k": N_("Fewer than 50,000 people"),
    "50k-250k": N_("50,000 to 250,000 people"),
    "250k-1m": N_("250,000 to 1 million people"),
    "1m-5m": N_("1 to 5 million people"),
    ">5m": N_("More than 5 million people"),
}
PAGE_LANGUAGE, PAGE_PROFILE, PAGE_MECHANISM, PAGE_KEY, PAGE_TRUST, PAGE_TOUR = range(6)


# -- actions shared with the main window's menu -------------------------------------------------

def own_public_key(kit: Any, keyset: Any = None) -> Any:
    """The city's public signing key, from the key set in memory or the card beside the key file."""
    from app.bundle.keys import PublicCard, card_path_for
    from app.bundle.submit import city_keyfile

    if keyset is not None:
        return keyset.public_key
    card = card_path_for(city_keyfile(kit))
    return PublicCard.from_file(card).signing_key if card.is_file() else None


def own_card(kit: Any, keyset: Any = None) -> Any:
    from app.bundle.keys import PublicCard, card_path_for
    from app.bundle.submit import city_keyfile

    if keyset is not None:
        return keyset.card()
    return PublicCard.from_file(card_path_for(city_keyfile(kit)))


def trust_summary(pack: Any) -> str:
    lines = []
    if pack.demo:
        lines.append(_("DEMO trust files: for training only. Bundles sealed with them are marked as demo."))
    if pack.recipients is not None:
        lines.append(_("Technical panel: {panel} ({count} members).", panel=pack.recipients.panel_name,
                       count=len(pack.recipients.members)))
    if pack.enrolment is not None:
        lines.append(_("The city is enrolled as {city} ({country}).", city=pack.enrolment.city_name,
                       country=pack.enrolment.country))
    else:
        lines.append(_("The enrolment certificate is not in this pack yet. Send the city's public key card to the "
                       "secretariat and import their answer when it comes."))
    return "\n".join(lines)


def start_trust_import(ctx: Any, parent: QWidget | None, folder: str, demo: bool, keyset: Any = None,
                       on_done: Any = None, on_error: Any = None) -> Any:
    kit = ctx.kit

    def work(_progress: Any, _cancel: Any) -> Any:
        from app.bundle.trust import RootPolicy, import_trust_pack

        return import_trust_pack(Path(folder), kit.layout.root, RootPolicy.installed(demo=demo),
                                 own_key=own_public_key(kit, keyset)).pack

    return ctx.run_task(work, title=_("Importing the trust pack"), label=_("Checking the trust files…"),
                        parent=parent, cancellable=False, on_done=on_done, on_error=on_error)


def start_demo_trust(ctx: Any, parent: QWidget | None, keyset: Any = None, on_done: Any = None,
                     on_error: Any = None) -> Any:
    kit = ctx.kit

    def work(_progress: Any, _cancel: Any) -> Any:
        from app.bundle.demo_trust import create_demo_trust_for_card
        from app.bundle.submit import installed_trust

        create_demo_trust_for_card(kit, own_card(kit, keyset))
        return installed_trust(kit.layout.root, own_key=own_public_key(kit, keyset))

    return ctx.run_task(work, title=_("Demo trust pack"), label=_("Making training trust files…"), parent=parent,
                        cancellable=False, on_done=on_done, on_error=on_error)


def export_card(parent: QWidget | None, kit: Any, folder: str | None = None) -> Path | None:
    """Copy the city's public key card to ``folder`` (asked for when None) for the secretariat."""
    from app.bundle.keys import card_path_for
    from app.bundle.submit import city_keyfile

    src = card_path_for(city_keyfile(kit))
    if not src.is_file():
        return None
    if folder is None:
        folder = QFileDialog.getExistingDirectory(parent, _("Where to save the public key card"))
        if not folder:
            return None
    prof = kit.profile()
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in (prof.name if prof else "city"))[:60]
    dst = Path(folder) / f"{name}-public-key-card.json"
    shutil.copyfile(src, dst)
    return dst


# -- pages -------------------------------------------------------------------------------------

class LanguagePage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx
        self.setTitle(_("Welcome to the SDG Cities Kit"))
        self.setSubTitle(_("Choose the language of the kit. You can change it later from the Language menu."))
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setAccessibleName(_("Language"))
        for code in LANGUAGES:
            it = QListWidgetItem(LANGUAGE_NAMES[code])
            it.setData(Qt.ItemDataRole.UserRole, code)
            self.list.addItem(it)
            if code == current_language():
                self.list.setCurrentItem(it)
        self.list.currentItemChanged.connect(self._chosen)
        lay.addWidget(self.list)
        # who uses this kit: a city (the wizard goes on), or a panel member / field officer (their own screen)
        lay.addWidget(heading(_("Who uses this kit?"), 1.0))
        self.role_city = QRadioButton(_("A city preparing its submission"))
        self.role_panel = QRadioButton(_("I am a technical panel member (review submitted bundles)"))
        self.role_officer = QRadioButton(_("I am a field officer (carry bundles between cities and the platform)"))
        self.role_group = QButtonGroup(self)
        for b in (self.role_city, self.role_panel, self.role_officer):
            self.role_group.addButton(b)
            lay.addWidget(b)
        self.role_city.setChecked(True)
        # is this copy of the kit genuine? (checked in a worker: it reads every program file)
        self.kit_check = wrapped("")
        self.kit_check.setAccessibleName(_("Check of this kit"))
        self.kit_check.setVisible(False)
        lay.addWidget(self.kit_check)
        self.check_task: Any = None
        if getattr(ctx, "kit_check", None) is not None:  # checked once a session (a language switch rebuilds)
            self.show_kit_check(ctx.kit_check)
        else:
            self.start_kit_check()

    def show_kit_check(self, check: Any) -> None:
        self.ctx.kit_check = check
        if check.status == "not_on_stick":
            self.kit_check.setVisible(False)
            return
        self.kit_check.setText(check.message)
        tint(self.kit_check, None if check.status == "genuine" else ERROR if check.status == "altered" else WARN)
        self.kit_check.setVisible(True)

    def start_kit_check(self) -> Any:
        def work(progress: Any, cancel: Any) -> Any:
            from app.stick import check_this_kit

            return check_this_kit(progress, cancel)

        def done(check: Any) -> None:
            try:
                self.show_kit_check(check)
            except RuntimeError:  # the page was rebuilt meanwhile (language switch)
                self.ctx.kit_check = check

        def failed(_exc: BaseException) -> None:
            try:
                self.kit_check.setVisible(False)
            except RuntimeError:
                pass

        # the kit is not touched: setup goes on while the stick is read (no input blocked for long)
        self.check_task = self.ctx.run_task(work, title=_("Checking this kit"), label=_("Checking the program files "
                                            "of this kit…"), parent=None, uses_kit=False, on_done=done,
                                            on_error=failed)
        return self.check_task

    def chosen_mode(self) -> str:
        return "panel" if self.role_panel.isChecked() else "officer" if self.role_officer.isChecked() else "city"

    def validatePage(self) -> bool:  # noqa: N802
        mode = self.chosen_mode()
        if mode == "city":
            return True
        self.ctx.switch_mode(mode)
        return False

    def _chosen(self, it: QListWidgetItem | None, _prev: Any = None) -> None:
        if it is not None and it.data(Qt.ItemDataRole.UserRole) != current_language():
            self.ctx.switch_language(it.data(Qt.ItemDataRole.UserRole))

    def choose(self, code: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == code:
                self.list.setCurrentRow(i)


class ProfilePage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        from app.model.service import POPULATION_BANDS

        self.ctx = ctx
        self.setTitle(_("The city"))
        self.setSubTitle(_("Tell the kit about your city. This goes into every bundle you seal."))
        form = QFormLayout(self)
        prof = ctx.kit.profile()
        self.name = QLineEdit(prof.name if prof else "")
        self.name.setAccessibleName(_("Name of the city"))
        self.name.textChanged.connect(self.completeChanged)
        form.addRow(_("Name of the city"), self.name)
        self.country = QLineEdit(prof.country if prof else "")
        self.country.setMaxLength(2)
        self.country.setPlaceholderText(_("two letters, for example KE"))
        self.country.setAccessibleName(_("Country (two-letter code)"))
        self.country.textEdited.connect(lambda t: self.country.setText(t.upper()))
        self.country.textChanged.connect(self.completeChanged)
        form.addRow(_("Country (two-letter code)"), self.country)
        self.population = QComboBox()
        self.population.setAccessibleName(_("Population"))
        for band in POPULATION_BANDS:
            self.population.addItem(_(POPULATION_TEXT[band]), band)
        self.population.setCurrentIndex(max(0, self.population.findData(prof.population_band if prof else "250k-1m")))
        form.addRow(_("Population"), self.population)
        self.languages = CheckList([(c, LANGUAGE_NAMES[c]) for c in LANGUAGES])
        self.languages.setAccessibleName(_("Languages the city works in"))
        self.languages.set_checked_ids(list(prof.languages) if prof and prof.languages else [current_language()])
        form.addRow(_("Languages the city works in"), self.languages)
        self.contact = QLineEdit(prof.contact or "" if prof else "")
        self.contact.setAccessibleName(_("Contact person (optional)"))
        form.addRow(_("Contact person (optional)"), self.contact)

    def isComplete(self) -> bool:  # noqa: N802
        return bool(self.name.text().strip()) and len(self.country.text().strip()) == 2


class MechanismPage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        from app.model.framework import available_overlays, load_framework

        self.ctx = ctx
        self.setTitle(_("Certification mechanism and target"))
        self.setSubTitle(_("Cities are certified either by the global mechanism or by their country's national "
                           "mechanism, which may add or change requirements."))
        lay = QVBoxLayout(self)
        prof = ctx.kit.profile()
        self.global_btn = QRadioButton(_("Global mechanism (UN-Habitat)"))
        self.national_btn = QRadioButton(_("National mechanism"))
        group = QButtonGroup(self)
        group.addButton(self.global_btn)
        group.addButton(self.national_btn)
        lay.addWidget(self.global_btn)
        lay.addWidget(self.national_btn)
        self.overlay = QComboBox()
        self.overlay.setAccessibleName(_("National mechanism"))
        self.overlay_country: dict[str, str] = {}
        for oid in available_overlays():
            try:
                fw = load_framework(oid)
            except Exception:  # noqa: BLE001 - a broken overlay file is simply not offered
                continue
            self.overlay.addItem(text_in(fw.mechanism_name) or oid, oid)
        row = QHBoxLayout()
        row.addSpacing(24)
        row.addWidget(self.overlay, 1)
        lay.addLayout(row)
        self.national_btn.setEnabled(self.overlay.count() > 0)
        if prof and prof.mechanism == "national" and prof.overlay_id:
            self.national_btn.setChecked(True)
            self.overlay.setCurrentIndex(max(0, self.overlay.findData(prof.overlay_id)))
        else:
            self.global_btn.setChecked(True)
        self.national_btn.toggled.connect(self.overlay.setEnabled)
        self.overlay.setEnabled(self.national_btn.isChecked())
        lay.addSpacing(12)
        self.target_label = lead(QLabel(_("Level the city aims for")))
        lay.addWidget(self.target_label)
        self.target = QComboBox()
        self.target.setAccessibleName(_("Level the city aims for"))
        self.target_label.setBuddy(self.target)
        fw = load_framework(None)
        for lv in fw.levels:
            stage = next((s for s, lid in fw.stage_levels.items() if lid == lv.id), "?")
            self.target.addItem(_("{level} (certifies stage {stage})", level=text_in(lv.name), stage=stage), lv.id)
        self.target.setCurrentIndex(max(0, self.target.findData(prof.target_level if prof else None)))
        lay.addWidget(self.target)
        self.message = wrapped("", ERROR)
        lay.addWidget(self.message)
        lay.addStretch(1)

    def validatePage(self) -> bool:  # noqa: N802
        from app.errors import KitError

        wiz: FirstRunWizard = self.wizard()  # type: ignore[assignment]
        p = wiz.profile_page
        national = self.national_btn.isChecked()
        try:
            self.ctx.kit.init_profile(name=p.name.text(), country=p.country.text(),
                                      population_band=p.population.currentData(),
                                      languages=p.languages.checked_ids() or [current_language()],
                                      mechanism="national" if national else "global",
                                      overlay_id=self.overlay.currentData() if national else None,
                                      target_level=self.target.currentData(),
                                      contact=p.contact.text().strip() or None)
        except KitError as exc:
            self.message.setText(exc.message())
            return False
        self.message.setText("")
        return True


class KeyPage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        from app.bundle.keys import read_keyfile_info
        from app.bundle.submit import city_keyfile

        self.ctx = ctx
        self.keyset: Any = None
        self.task: Any = None
        self.setTitle(_("The city's key"))
        self.setSubTitle(_("The kit signs every bundle with the city's key, so the panel knows it comes from you. "
                           "A passphrase protects the key."))
        lay = QVBoxLayout(self)
        self.path = city_keyfile(ctx.kit)
        self.existing = None
        if self.path.is_file():
            try:
                self.existing = read_keyfile_info(self.path)
            except Exception:  # noqa: BLE001 - shown as "cannot be read" below
                self.existing = None
        self.status = wrapped("")
        lay.addWidget(self.status)
        self.form = NewPassphrase()
        self.form.changed.connect(self._changed)
        self.passphrase, self.confirm, self.strength, self.hint = (self.form.passphrase, self.form.confirm,
                                                                   self.form.strength, self.form.hint)
        lay.addWidget(self.form)
        warn = wrapped(_("Write the passphrase down and keep it in a safe place. If it is lost, nobody can recover "
                         "it, not even the secretariat: the city would need a new key and a new enrolment."),
                       WARN, bold=True)
        warn.setAccessibleName(_("Warning"))
        lay.addWidget(warn)
        self.written = QCheckBox(_("I have written the passphrase down and keep it safe"))
        self.written.toggled.connect(self.completeChanged)
        lay.addWidget(self.written)
        card_row = QHBoxLayout()
        self.card_btn = QPushButton(_("Save the public key card for the secretariat…"))
        self.card_btn.clicked.connect(lambda: self._save_card())
        card_row.addWidget(self.card_btn)
        card_row.addStretch(1)
        lay.addLayout(card_row)
        self.message = wrapped("", ERROR)
        lay.addWidget(self.message)
        lay.addStretch(1)
        self._refresh()

    @property
    def has_key(self) -> bool:
        return self.keyset is not None or self.existing is not None

    def _refresh(self) -> None:
        if self.has_key:
            fp = self.keyset.fingerprint if self.keyset is not None else self.existing.fingerprint
            self.status.setText(_("The city's key is ready. Its fingerprint is {fingerprint}. Send the public key card "
                                  "to the secretariat so they can enrol the city.", fingerprint=fp))
            self.form.setVisible(False)
            self.written.setVisible(self.keyset is not None)
        else:
            self.status.setText(_("Choose a passphrase of at least 10 characters. A few unrelated words that only "
                                  "you would put together work well."))
        self.card_btn.setVisible(self.has_key)
        self.completeChanged.emit()

    def _changed(self) -> None:
        self.message.setText(self.form.mismatch)
        self.completeChanged.emit()

    def passphrase_ok(self) -> bool:
        return self.form.acceptable()

    def isComplete(self) -> bool:  # noqa: N802
        if self.task is not None and not self.task.done:
            return False
        if self.existing is not None:
            return True
        return self.written.isChecked() and (self.keyset is not None or self.passphrase_ok())

    def validatePage(self) -> bool:  # noqa: N802
        if self.has_key:
            return True
        self.create_key()
        return False

    def create_key(self) -> Any:
        from app.bundle.keys import KeySet, Role, card_path_for, write_new_keyfile
        from app.fsutil import atomic_write_bytes

        prof = self.ctx.kit.require_profile()
        passphrase, path = self.passphrase.text(), self.path
        kdf = new_key_kdf()

        def work(_progress: Any, _cancel: Any) -> Any:
            keyset = KeySet.generate(Role.CITY, prof.name)
            write_new_keyfile(path, keyset, passphrase, kdf=kdf)
            atomic_write_bytes(card_path_for(path), keyset.card().to_bytes())
            return keyset

        def done(keyset: Any) -> None:
            self.keyset = keyset
            self.passphrase.clear()
            self.confirm.clear()
            self._refresh()
            self.wizard().next()

        def failed(exc: BaseException) -> None:
            self.message.setText(error_text(exc))
            self.completeChanged.emit()

        self.task = self.ctx.run_task(work, title=_("Creating the city's key"),
                                      label=_("Creating and protecting the key…"), parent=self.wizard(),
                                      cancellable=False, uses_kit=False, on_done=done, on_error=failed)
        self.completeChanged.emit()
        return self.task

    def _save_card(self, folder: str | None = None) -> Path | None:
        try:
            dst = export_card(self, self.ctx.kit, folder)
        except OSError as exc:
            self.message.setText(error_text(exc))
            return None
        if dst is not None:
            tint(self.message, None)
            self.message.setText(_("Saved {path}. Send it to the secretariat.", path=str(dst)))
        return dst


class TrustPage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx
        self.task: Any = None
        self.installed: Any = None
        self.setTitle(_("Trust files from the secretariat"))
        self.setSubTitle(_("The trust pack tells the kit who may read your bundles (the technical panel) and "
                           "certifies that your key belongs to the city."))
        lay = QVBoxLayout(self)
        self.import_btn = QRadioButton(_("Import the trust pack I received (a folder, often on the stick)"))
        self.demo_btn = QRadioButton(_("Use a demo trust pack (training only: bundles cannot be submitted)"))
        self.later_btn = QRadioButton(_("Do this later (you cannot seal a stage until it is done)"))
        group = QButtonGroup(self)
        for b in (self.import_btn, self.demo_btn, self.later_btn):
            group.addButton(b)
            b.toggled.connect(self._mode)
        lay.addWidget(self.import_btn)
        row = QHBoxLayout()
        row.addSpacing(24)
        self.folder = QLineEdit()
        self.folder.setAccessibleName(_("Folder of the trust pack"))
        self.folder.setPlaceholderText(_("Folder of the trust pack"))
        self.folder.textChanged.connect(self.completeChanged)
        self.browse = QPushButton(_("Browse…"))
        self.browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        lay.addLayout(row)
        row2 = QHBoxLayout()
        row2.addSpacing(24)
        self.demo_pack = QCheckBox(_("This is a demo pack for training"))
        row2.addWidget(self.demo_pack)
        row2.addStretch(1)
        lay.addLayout(row2)
        lay.addWidget(self.demo_btn)
        lay.addWidget(self.later_btn)
        self.status = wrapped("")
        lay.addWidget(self.status)
        self.message = wrapped("", ERROR)
        lay.addWidget(self.message)
        lay.addStretch(1)
        self.import_btn.setChecked(True)
        self._show_installed()

    def _show_installed(self) -> None:
        from app.bundle.submit import installed_trust

        try:
            self.installed = installed_trust(self.ctx.kit.layout.root)
        except Exception:  # noqa: BLE001 - nothing installed yet, or unusable: the person imports again
            self.installed = None
        if self.installed is not None:
            self.status.setText(_("Trust files are installed.") + "\n" + trust_summary(self.installed))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Folder of the trust pack"))
        if folder:
            self.folder.setText(folder)

    def _mode(self, *_a: Any) -> None:
        on = self.import_btn.isChecked()
        self.folder.setEnabled(on)
        self.browse.setEnabled(on)
        self.demo_pack.setEnabled(on)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        if self.task is not None and not self.task.done:
            return False
        if self.import_btn.isChecked():
            return bool(self.folder.text().strip()) or self.installed is not None
        return True

    def validatePage(self) -> bool:  # noqa: N802
        if self.later_btn.isChecked():
            return True
        if self.import_btn.isChecked() and not self.folder.text().strip():
            return self.installed is not None
        if self.task is not None and self.task.done and self.task.error is None:
            return True
        self.message.setText("")
        keyset = self.wizard().key_page.keyset  # type: ignore[attr-defined]
        if self.demo_btn.isChecked():
            self.task = start_demo_trust(self.ctx, self.wizard(), keyset, self._done, self._failed)
        else:
            self.task = start_trust_import(self.ctx, self.wizard(), self.folder.text().strip(),
                                           self.demo_pack.isChecked(), keyset, self._done, self._failed)
        self.completeChanged.emit()
        return False

    def _done(self, pack: Any) -> None:
        self.installed = pack
        self.status.setText(_("Trust files are installed.") + "\n" + trust_summary(pack))
        self.completeChanged.emit()
        self.wizard().next()

    def _failed(self, exc: BaseException) -> None:
        self.message.setText(error_text(exc))
        self.completeChanged.emit()


class TourPage(QWizardPage):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        from app.resources import resource

        self.setTitle(_("A short tour"))
        self.setSubTitle(_("What happens next, in four steps. This tour is also in the Help menu."))
        lay = QVBoxLayout(self)
        area = QScrollArea()
        area.setWidgetResizable(True)
        body = QWidget()
        bl = QVBoxLayout(body)
        try:
            guide = json.loads(resource("guide", "quick-start.json").read_text(encoding="utf-8"))
            sections = guide["sections"][2:]
        except (OSError, ValueError, KeyError):
            sections = []
        for sec in sections:
            bl.addWidget(heading(text_in(sec["title"]), 1.05))
            bl.addWidget(wrapped(text_in(sec["text"])))
        bl.addStretch(1)
        area.setWidget(body)
        lay.addWidget(area)


class FirstRunWizard(QWizard):
    def __init__(self, ctx: Any, start: int = PAGE_LANGUAGE) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(_("SDG Cities Kit: first start"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        for which, text in ((QWizard.WizardButton.BackButton, _("Back")),
                            (QWizard.WizardButton.NextButton, _("Next")),
                            (QWizard.WizardButton.CommitButton, _("Next")),
                            (QWizard.WizardButton.FinishButton, _("Start working")),
                            (QWizard.WizardButton.CancelButton, _("Quit"))):
            self.setButtonText(which, text)
        self.language_page = LanguagePage(ctx)
        self.profile_page = ProfilePage(ctx)
        self.mechanism_page = MechanismPage(ctx)
        self.key_page = KeyPage(ctx)
        self.trust_page = TrustPage(ctx)
        self.tour_page = TourPage(ctx)
        for pid, page in enumerate((self.language_page, self.profile_page, self.mechanism_page, self.key_page,
                                    self.trust_page, self.tour_page)):
            self.setPage(pid, page)
        self.setStartId(start)
        self.currentIdChanged.connect(lambda _i: QTimer.singleShot(0, self.align_header))
        self.resize(760, 600)

    def header_labels(self) -> list[QLabel]:
        """The page title and subtitle that QWizard draws above the page (title first)."""
        pages = [self.page(i) for i in self.pageIds()]
        labels = [lb for lb in self.findChildren(QLabel)
                  if not any(p is not None and p.isAncestorOf(lb) for p in pages) and lb.text()]
        return sorted(labels, key=lambda lb: lb.geometry().y())

    def align_header(self) -> None:
        """Title and subtitle start where the page's text starts, whatever script they are in: QWizard
        aligns them by their own text's direction, so an English or Latin title stayed on the left of
        a mirrored Arabic page. Both end at the same edge too (the title's box is wider)."""
        labels = self.header_labels()
        for lb in labels:
            vertical = lb.alignment() & Qt.AlignmentFlag.AlignVertical_Mask
            lead(lb)
            lb.setAlignment((lb.alignment() & ~Qt.AlignmentFlag.AlignVertical_Mask) | vertical)
        if len(labels) >= 2:
            title, sub = labels[0], labels[1]
            if self.isRightToLeft():
                title.setContentsMargins(0, 0, max(0, title.geometry().right() - sub.geometry().right()), 0)
            else:
                title.setContentsMargins(max(0, sub.geometry().left() - title.geometry().left()), 0, 0, 0)

    def showEvent(self, ev: Any) -> None:  # noqa: N802
        super().showEvent(ev)
        QTimer.singleShot(0, self.align_header)

    def resizeEvent(self, ev: Any) -> None:  # noqa: N802
        super().resizeEvent(ev)
        QTimer.singleShot(0, self.align_header)

"""The field officer's screen: ``python -m app.ui.main --officer --data DIR``.

The outbox's bundles grouped by city with their status (:func:`app.sync.officer.outbox_overview`,
read-only, safe while a sync runs), refreshed after every action, and the three jobs of the
officer, each in a worker: collect the bundles from a city's stick, sync with the platform (with
the officer's key, unlocked once per session), deliver receipts and review results to a stick.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.ui.look import (ERROR, HINT, WARN, collation_key, fmt_datetime, fmt_number, fmt_size, in_reading_order,
                         lead, tint)
from app.ui.roles import RoleApp, TrustPackDialog, role_menu_tail
from app.ui.stage import heading, wrapped
from app.ui.tasks import Task, error_text

STATUS_TEXT = {
    "queued": N_("Waiting to be sent"),
    "sending": N_("Being sent (continues at the next sync)"),
    "received": N_("Received by the platform (receipt checked)"),
    "conflict": N_("Conflict: the platform holds other content for this revision"),
    "refused": N_("Refused by the platform"),
    "damaged": N_("Damaged in the outbox: collect it again from the city's stick"),
}
NO_URL = N_("No platform address is set yet. Enter the address the secretariat gave you under Platform address, "
            "save it, and choose Sync now again.")


class OfficerApp(RoleApp):
    """The officer mode's running app. Nothing stays open: each job opens the outbox itself."""

    def __init__(self, data_dir: Path | str, qapp: Any = None) -> None:
        super().__init__(Path(data_dir).resolve(), qapp)
        from app.bundle.keys import Role

        self.key_role = Role.OFFICER

    def open(self) -> "OfficerApp":
        """Check the folder can be used (raises :class:`~app.errors.KitError` with a readable message)."""
        from app.sync.outbox import Outbox

        with Outbox(self.data_dir):
            pass
        return self

    def get_setting(self, key: str) -> str | None:
        from app.sync.outbox import Outbox

        with Outbox(self.data_dir) as ob:
            return ob.setting(key)

    def set_setting(self, key: str, value: str) -> None:
        from app.sync.outbox import Outbox

        with Outbox(self.data_dir) as ob:
            ob.set_setting(key, value)

    def platform_address(self) -> str:
        from app.sync.officer import URL_SETTING

        try:
            return self.get_setting(URL_SETTING) or os.environ.get("SDGKIT_PLATFORM_URL", "")
        except Exception:  # noqa: BLE001 - shown empty; Sync now says what is wrong
            return ""

    def make_window(self) -> QWidget:
        return OfficerWindow(self)


def launch_officer(data_dir: Path | str, lang: str | None = None) -> OfficerApp:
    ctx = OfficerApp(data_dir).open()
    ctx.start(lang)
    return ctx


class OfficerWindow(QMainWindow):
    def __init__(self, ctx: OfficerApp) -> None:
        super().__init__()
        self.ctx = ctx
        self.replacing = False
        self.task: Any = None
        self.dialog: Any = None
        self.rows: list[dict[str, Any]] = []
        self.setWindowTitle(_("SDG Cities Kit – field officer"))
        body = QWidget()
        self.setCentralWidget(body)
        lay = QVBoxLayout(body)
        lay.addWidget(heading(_("Bundles to carry"), 1.4))
        lay.addWidget(wrapped(_("Collect the sealed bundles from each city's stick, send them to the platform when "
                                "you have a connection, and bring the receipts and the panel's results back to the "
                                "city's stick."), HINT))
        trust_row = QHBoxLayout()
        self.trust_note = wrapped(_("The trust pack is not installed yet: bundles cannot be checked. Import it "
                                    "first."), WARN)
        self.trust_btn = QPushButton(_("Import the trust pack…"))
        self.trust_btn.clicked.connect(self.open_trust_dialog)
        trust_row.addWidget(self.trust_note, 1)
        trust_row.addWidget(self.trust_btn)
        lay.addLayout(trust_row)

        url_row = QHBoxLayout()
        self.url_label = lead(QLabel(_("Platform address")))
        self.url = QLineEdit(ctx.platform_address())
        self.url.setPlaceholderText("https://…")
        self.url.setAccessibleName(_("Platform address"))
        self.url_label.setBuddy(self.url)
        self.url.returnPressed.connect(self.save_url)
        self.url_btn = QPushButton(_("Save address"))
        self.url_btn.clicked.connect(self.save_url)
        url_row.addWidget(self.url_label)
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.url_btn)
        lay.addLayout(url_row)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(7)
        self.tree.setHeaderLabels([_("City / stage"), _("Revision"), _("Status"), _("Size"), _("Received"),
                                   _("Delivered"), _("Problem")])
        self.tree.setAccessibleName(_("Bundles in the outbox, by city"))
        self.tree.setAlternatingRowColors(True)
        hdr = self.tree.header()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(True)
        lay.addWidget(self.tree, 1)
        self.empty = wrapped(_("The outbox is empty."), HINT)
        lay.addWidget(self.empty)

        self.message = wrapped("")
        self.message.setAccessibleName(_("Result of the last action"))
        lay.addWidget(self.message)
        buttons = QHBoxLayout()
        self.collect_btn = QPushButton(_("Collect from a stick…"))
        self.collect_btn.clicked.connect(lambda: self.choose_and("collect"))
        self.sync_btn = QPushButton(_("Sync now"))
        self.sync_btn.clicked.connect(self.sync_now)
        self.deliver_btn = QPushButton(_("Deliver to a stick…"))
        self.deliver_btn.clicked.connect(lambda: self.choose_and("deliver"))
        self.refresh_btn = QPushButton(_("Refresh"))
        self.refresh_btn.setShortcut(QKeySequence("F5"))
        self.refresh_btn.clicked.connect(self.refresh)
        for b in (self.collect_btn, self.sync_btn, self.deliver_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_btn)
        lay.addLayout(buttons)
        self.key_label = QLabel()
        self.key_label.setAccessibleName(_("Your key"))
        self.statusBar().addPermanentWidget(self.key_label)
        self._menus()
        ctx.changed.connect(self._changed)
        self.refresh()
        self._changed()
        self.setMinimumSize(640, 480)
        self.resize(1024, 720)

    def _menus(self) -> None:
        menu = self.menuBar().addMenu(_("&Outbox"))
        for text, slot, key in ((_("Collect from a stick…"), lambda: self.choose_and("collect"), "Ctrl+L"),
                                (_("Sync now"), self.sync_now, "Ctrl+S"),
                                (_("Deliver to a stick…"), lambda: self.choose_and("deliver"), "Ctrl+D")):
            act = QAction(text, self)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(slot)
            menu.addAction(act)
        self.language_actions = role_menu_tail(self, self.ctx, menu)

    def _changed(self) -> None:
        m = self.ctx.member
        self.key_label.setText(_("Key: {name} ({fingerprint})", name=m.name, fingerprint=m.fingerprint) if m else
                               _("Key not unlocked yet"))
        trusted = self.ctx.has_trust()
        self.trust_note.setVisible(not trusted)
        self.trust_btn.setVisible(not trusted)

    # -- the list ----------------------------------------------------------------------------
    def refresh(self) -> None:
        from app.sync.officer import outbox_overview

        try:
            self.rows = outbox_overview(self.ctx.data_dir)
        except Exception as exc:  # noqa: BLE001 - the list is read-only: say why it is empty
            self.rows = []
            self.say(error_text(exc), error=True)
        self.tree.clear()
        by_city: dict[str, list[dict[str, Any]]] = {}
        for r in self.rows:
            by_city.setdefault(r["city"], []).append(r)
        for city, rows in sorted(by_city.items(), key=lambda kv: collation_key(kv[1][0]["city_name"] or kv[0])):
            name = rows[0]["city_name"] or city
            waiting = sum(1 for r in rows if r["status"] != "received")
            top = QTreeWidgetItem([in_reading_order(_("{city}: {count} bundle(s), {waiting} not yet received",
                                                      city=name, count=len(rows), waiting=waiting))])
            top.setFirstColumnSpanned(True)
            f = top.font(0)
            f.setBold(True)
            top.setFont(0, f)
            self.tree.addTopLevelItem(top)
            for r in sorted(rows, key=lambda r: (r["stage"], r["revision"])):
                status = _(STATUS_TEXT.get(r["status"], r["status"]))
                if r["status"] == "received" and not r["current"]:
                    status += " · " + _("superseded")
                it = QTreeWidgetItem([_("Stage {stage}", stage=r["stage"]), fmt_number(r["revision"]), status,
                                      fmt_size(r["size"] or 0), fmt_datetime(r["received_at"]),
                                      _("Yes") if r["delivered"] else _("No"),
                                      (r["error"] or "") if r["status"] != "received" else ""])
                it.setToolTip(0, r["bundle_id"])
                it.setData(0, Qt.ItemDataRole.UserRole, r["bundle_id"])
                if r["status"] in ("conflict", "refused", "damaged"):
                    it.setForeground(2, QBrush(QColor(ERROR)))
                top.addChild(it)
            top.setExpanded(True)
        self.empty.setVisible(not self.rows)

    def bundle_rows(self) -> list[tuple[str, str, str]]:
        """(city, stage, status) as listed: what the tests and a screen reader see."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                ch = top.child(j)
                out.append((top.text(0), ch.text(0), ch.text(2)))
        return out

    def say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        tint(self.message, ERROR if error else None)

    # -- jobs ----------------------------------------------------------------------------------
    def choose_and(self, job: str) -> None:
        title = _("The city's stick") if job == "collect" else _("The city's stick to deliver to")
        folder = QFileDialog.getExistingDirectory(self, title)
        if folder:
            (self.collect_from if job == "collect" else self.deliver_to)(folder)

    def collect_from(self, stick: str | Path) -> Any:
        data = self.ctx.data_dir

        def work(progress: Any, cancel: Any) -> Any:
            from app.sync.officer import collect

            return collect(data, Path(stick), progress=progress, cancel=cancel)

        self.say(_("Checking the bundles on {path}…", path=str(stick)))
        self.task = self.ctx.run_task(work, title=_("Collect from a stick"), label=_("Checking and copying the "
                                      "bundles…"), parent=self, on_done=self._collected, on_error=self._failed)
        return self.task

    def _collected(self, report: Any) -> None:
        d = report.as_dict()
        lines = []
        for c in d["cities"]:
            lines.append(_("{city} ({city_id}): {new} collected, {skipped} already in the outbox, {refused} refused.",
                           city=c["city_name"] or c["city_id"], city_id=c["city_id"], new=len(c["collected"]),
                           skipped=len(c["skipped"]), refused=len(c["refused"])))
            for r in c["refused"]:
                lines.append(_("  NOT collected: {path} - {error}", path=Path(r["path"]).name, error=_(r["error"])))
        if not d["cities"]:
            lines.append(_("No bundles found on {path}.", path=d["stick"]))
        self.say("\n".join(in_reading_order(x) for x in lines), error=any(c["refused"] for c in d["cities"]))
        self.refresh()

    def sync_now(self) -> Any:
        from app.errors import UserInputError
        from app.sync.officer import platform_url

        typed = self.url.text().strip()
        try:
            url = platform_url(self.ctx.data_dir, typed or None)
        except UserInputError:
            self.say(_(NO_URL), error=True)
            self.url.setFocus()
            return None
        except Exception as exc:  # noqa: BLE001
            self.say(error_text(exc), error=True)
            return None
        return self.ctx.with_key(self, lambda key: self._sync(url, key))

    def _sync(self, url: str, key: Any) -> Any:
        data = self.ctx.data_dir

        def work(progress: Any, cancel: Any) -> Any:
            from app.sync.officer import sync

            return sync(data, key, url=url, progress=progress, cancel=cancel)

        self.say(_("Sending to {url}…", url=url))
        self.task = self.ctx.run_task(work, title=_("Sync now"), label=_("Sending the bundles to the platform…"),
                                      parent=self, on_done=self._synced, on_error=self._failed)
        return self.task

    def _synced(self, report: Any) -> None:
        d = report.as_dict()
        lines = [_("{sent} bundle(s) received by the platform now, {already} already there; {failed} not sent.",
                   sent=len(d["sent"]), already=len(d["already"]), failed=len(d["failed"]))]
        for f in d["failed"]:
            lines.append(_("  NOT sent: stage {stage} revision {revision} of {city}: {error}", stage=f["stage"],
                           revision=f["revision"], city=f["city_id"], error=f["error"]))
        if d["results"]:
            lines.append(_("{count} review result(s) fetched.", count=len(d["results"])))
        if d["stopped"]:
            lines.append(_("Stopped early: {reason}", reason=d["stopped"]))
        self.say("\n".join(lines), error=bool(d["failed"] or d["stopped"]))
        self.refresh()

    def deliver_to(self, stick: str | Path) -> Any:
        data = self.ctx.data_dir

        def work(_progress: Any, _cancel: Any) -> Any:
            from app.sync.officer import deliver

            return deliver(data, Path(stick))

        self.task = self.ctx.run_task(work, title=_("Deliver to a stick"), label=_("Writing receipts and results to "
                                      "the stick…"), parent=self, cancellable=False, on_done=self._delivered,
                                      on_error=self._failed)
        return self.task

    def _delivered(self, report: Any) -> None:
        d = report.as_dict()
        lines = [_("Delivered {receipts} receipt(s) and {results} review result(s) to {path}.",
                   receipts=len(d["receipts"]), results=len(d["results"]), path=d["stick"])]
        if d["status_updated"]:
            lines.append(_("The city's bundle status was updated."))
        for w in d["waiting"]:
            lines.append(_("  Still waiting: stage {stage} revision {revision} ({state}).", stage=w["stage"],
                           revision=w["revision"], state=_(STATUS_TEXT.get(w["state"], w["state"]))))
        self.say("\n".join(lines))
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.say(error_text(exc), error=True)
        self.refresh()

    def save_url(self) -> None:
        from app.sync.officer import platform_url

        text = self.url.text().strip()
        if not text:
            self.say(_(NO_URL), error=True)
            return
        try:
            saved = platform_url(self.ctx.data_dir, text)
        except Exception as exc:  # noqa: BLE001
            self.say(error_text(exc), error=True)
            return
        self.url.setText(saved)
        self.say(_("Platform address saved: {url}", url=saved))

    def open_trust_dialog(self) -> TrustPackDialog:
        dlg = TrustPackDialog(self.ctx, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.finished.connect(lambda _r: self._changed())
        self.dialog = dlg
        dlg.open()
        return dlg

    # -- state -----------------------------------------------------------------------------
    def view_state(self) -> dict[str, Any]:
        return {"view": "outbox"}

    def restore_state(self, state: dict[str, Any]) -> None:
        pass

    def closeEvent(self, ev: Any) -> None:  # noqa: N802
        if not self.replacing:
            for t in list(Task.running_tasks):
                t.cancel()
                t.wait(30)
            self.ctx.shutdown()
        ev.accept()

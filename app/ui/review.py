"""The technical panel's review of one imported bundle, criterion by criterion.

For each requirement: the city's answers (read-only, every answer type in plain words, tables as
tables), the evidence files with a preview and "open with the system viewer", the linked
indicators with baseline, latest value and target and the city app's chart, what changed since
the previous revision, and a verdict box (the member's own verdict, the other members', and the
settled panel verdict). Beside the pages: the criteria (with how many verdicts are settled) and
"Changes since revision N". Writing the report, sealing the results for the city and the board
hand-off run in workers (:mod:`app.ui.paneldialogs`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import KitError
from app.i18n import _, text_in
from app.ui.evidence import PREVIEW_PX, show_file_preview
from app.ui.feedback import VERDICT_MARK, paint_verdict, verdict_text
from app.ui.fields import cell_text, field_label, unit_text
from app.ui.indicators import KIND_TEXT, IndicatorChart, unit_name
from app.ui.look import ERROR, HINT, WARN, fmt_datetime, fmt_number, fmt_size, fmt_year, in_reading_order, lead, tint
from app.ui.stage import heading, wrapped

VERDICTS = ("met", "not_met", "needs_information")


def is_year(fld: Any, value: Any) -> bool:
    return fld.type == "number" and isinstance(value, int) and (fld.unit == "year" or fld.id.endswith("year"))


def answer_text(fld: Any, value: Any) -> str:
    """An answer in plain words, as the city gave it."""
    if value in (None, "", []):
        return ""
    if is_year(fld, value):
        return fmt_year(value)  # a year, not an amount: no group separator, no unit
    text = cell_text(fld, value)
    if fld.type == "number":
        unit = unit_text(fld)
        if unit:
            text = f"{text} {unit}"
    return text


def read_only_table(t: QTableWidget, name: str, max_rows: int = 8) -> QTableWidget:
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setTabKeyNavigation(False)
    t.setWordWrap(True)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setAccessibleName(name)
    rows = min(max(t.rowCount(), 1), max_rows)
    t.setFixedHeight(t.horizontalHeader().sizeHint().height() + t.verticalHeader().defaultSectionSize() * rows + 6)
    return t


class AnswerRow(QWidget):
    """One field: its label, and the city's answer read-only."""

    def __init__(self, fld: Any, value: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = fld
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(1)
        self.label = wrapped(field_label(fld), bold=True)
        lay.addWidget(self.label)
        self.table: QTableWidget | None = None
        if fld.type == "table" and isinstance(value, list) and value:
            cols = fld.columns
            t = QTableWidget(len(value), len(cols))
            t.setHorizontalHeaderLabels([text_in(c.label) for c in cols])
            for r, row in enumerate(value):
                for c, col in enumerate(cols):
                    v = row.get(col.id) if isinstance(row, dict) else None
                    it = QTableWidgetItem(fmt_year(v) if is_year(col, v) else cell_text(col, v))
                    if col.type == "number":
                        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    t.setItem(r, c, it)
            self.table = read_only_table(t, field_label(fld))
            lay.addWidget(t)
            self.value = None
            return
        text = answer_text(fld, value)
        self.value = wrapped(text or _("(no answer)"), None if text else HINT)
        self.value.setAccessibleName(field_label(fld))
        self.value.setAccessibleDescription(text or _("(no answer)"))
        self.value.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # answers are read with the keyboard too
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse |
                                           Qt.TextInteractionFlag.TextSelectableByKeyboard)
        lay.addWidget(self.value)

    def text(self) -> str:
        if self.table is not None:
            return "\n".join(" | ".join(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                             for r in range(self.table.rowCount()))
        return self.value.text() if self.value is not None else ""


class EvidenceReview(QWidget):
    """The files the city attached to one requirement: list, preview, open."""

    def __init__(self, ctx: Any, fw: Any, req: Any, files: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.files = files
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        lay.addWidget(wrapped(_("Evidence ({count} files)", count=len(files)), bold=True))
        row = QHBoxLayout()
        self.list = QTreeWidget()
        self.list.setColumnCount(4)
        self.list.setHeaderLabels([_("Name"), _("Kind"), _("Size"), _("Added")])
        self.list.setRootIsDecorated(False)
        self.list.setAccessibleName(_("Files attached to {requirement}", requirement=text_in(req.title)))
        hdr = self.list.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        em = self.list.fontMetrics().horizontalAdvance("M")
        for col, width in ((1, 10), (2, 6), (3, 9)):
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.list.setColumnWidth(col, em * width)
        for i, f in enumerate(files):
            k = fw.evidence_kinds.get(f.get("kind", ""))
            it = QTreeWidgetItem([f.get("original_name") or Path(f["path"]).name, text_in(k.name) if k else
                                  f.get("kind", ""), fmt_size(f.get("size") or 0), fmt_datetime(f.get("added"))])
            it.setData(0, Qt.ItemDataRole.UserRole, i)
            it.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.list.addTopLevelItem(it)
        rows = min(max(len(files), 2), 6)
        self.list.setFixedHeight(self.list.header().sizeHint().height() + (self.list.fontMetrics().height() + 8) * rows
                                 + 8)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemActivated.connect(lambda *_a: self.open_selected())
        row.addWidget(self.list, 1)
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(PREVIEW_PX, PREVIEW_PX))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.preview.setAccessibleName(_("Preview"))
        row.addWidget(self.preview)
        lay.addLayout(row)
        buttons = QHBoxLayout()
        self.open_btn = QPushButton(_("Open"))
        self.open_btn.setAccessibleName(_("Open the selected file"))
        self.open_btn.clicked.connect(self.open_selected)
        buttons.addWidget(self.open_btn)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.message = wrapped("", ERROR)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        if files:
            self.list.setCurrentItem(self.list.topLevelItem(0))
        self._show()

    def selected(self) -> dict[str, Any] | None:
        it = self.list.currentItem()
        return self.files[it.data(0, Qt.ItemDataRole.UserRole)] if it is not None else None

    def _show(self, *_a: Any) -> None:
        f = self.selected()
        self.open_btn.setEnabled(f is not None)
        if f is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText(_("No files attached.") if not self.files else _("Select a file to see it here."))
            return
        show_file_preview(self.preview, Path(f["local_path"]), f.get("mime") or "", int(f.get("size") or 0))

    def open_selected(self) -> Path | None:
        """Open a copy of the file (under its original name) with the computer's own program."""
        f = self.selected()
        if f is None:
            return None
        name = f.get("original_name") or Path(f["path"]).name
        target = self.ctx.ws.layout.tmp / "open" / f["sha256"][:16] / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(f["local_path"], target)
        except OSError as exc:
            self.message.setText(_("The file cannot be opened: {detail}", detail=exc.strerror or str(exc)))
            self.message.setVisible(True)
            return None
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
            self.message.setText(_("No program on this computer opens {name}.", name=name))
            self.message.setVisible(True)
        return target


class IndicatorReview(QWidget):
    """The indicators linked to a requirement: baseline, latest value and target, and a chart."""

    def __init__(self, cat: Any, req: Any, values: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cat = cat
        self.ids = [i for i in req.indicators if i in cat.indicators or any(v["indicator_id"] == i for v in values)]
        self.values = {i: [v for v in values if v["indicator_id"] == i] for i in self.ids}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        lay.addWidget(wrapped(_("Indicators"), bold=True))
        if req.min_indicator_values:
            lay.addWidget(wrapped(_("Enter values for at least {min} of these indicators.",
                                    min=req.min_indicator_values), HINT))
        body = QVBoxLayout()
        self.table = QTableWidget(len(self.ids), 4)
        self.table.setHorizontalHeaderLabels([_("Indicator"), _(KIND_TEXT["baseline"]), _("Latest value"),
                                              _(KIND_TEXT["target"])])
        for r, iid in enumerate(self.ids):
            ind = cat.indicators.get(iid)
            name = f"{ind.code} {text_in(ind.name)}" if ind else iid
            unit = unit_name(cat, ind.unit) if ind else ""
            cells = [name, self._pick(iid, "baseline"), self._pick(iid, "observed"), self._pick(iid, "target")]
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setToolTip(f"{name} ({unit})" if unit else name)
                if c:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, it)
        read_only_table(self.table, _("Indicators of {requirement}", requirement=text_in(req.title)), 6)
        hdr = self.table.horizontalHeader()
        self.table.setWordWrap(False)
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        em = self.table.fontMetrics().horizontalAdvance("M")
        for c in (1, 2, 3):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(c, em * 8)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.currentCellChanged.connect(self._row)
        body.addWidget(self.table)
        self.chart_label = wrapped("", HINT)
        body.addWidget(self.chart_label)
        self.chart = IndicatorChart()
        self.chart.setMaximumWidth(640)
        body.addWidget(self.chart, 0, Qt.AlignmentFlag.AlignLeft)  # the start of the line, mirrored in Arabic
        lay.addLayout(body)
        if self.ids:
            self.table.setCurrentCell(0, 0)
            self._row(0)

    def _pick(self, iid: str, kind: str) -> str:
        """The total value of a kind (the first baseline, the latest observed value, the last target),
        as "value (year)"; the unit is in the tooltip and the chart."""
        rows = [v for v in self.values.get(iid, ()) if v["kind"] == kind and not v.get("disaggregation")]
        if not rows:
            return "—"
        v = max(rows, key=lambda v: v["year"]) if kind != "baseline" else min(rows, key=lambda v: v["year"])
        return f"{fmt_number(v['value'])} ({fmt_year(v['year'])})"

    def _row(self, row: int, *_a: Any) -> None:
        if 0 <= row < len(self.ids):
            iid = self.ids[row]
            self.chart.set_values(self.values[iid])
            ind = self.cat.indicators.get(iid)
            text = _("Chart: {indicator}", indicator=f"{ind.code} {text_in(ind.name)}" if ind else iid)
            if ind:
                text += "\n" + _("Unit: {unit}", unit=unit_name(self.cat, ind.unit))
            self.chart_label.setText(in_reading_order(text))


class VerdictBox(QFrame):
    """The member's verdict on one requirement, the other members', and the settled panel verdict."""

    saved = Signal(str)  # the requirement id

    def __init__(self, ctx: Any, bundle_id: str, req: Any, entry: dict[str, Any] | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.bundle_id = bundle_id
        self.req = req
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        title = text_in(req.title)
        lay.addWidget(wrapped(_("Verdict on {requirement}", requirement=req.id), bold=True))
        self.settled = wrapped("")
        self.settled.setAccessibleName(_("The panel's verdict on {requirement}", requirement=title))
        self.settled.setMargin(6)
        lay.addWidget(self.settled)
        self.others = wrapped("", HINT)
        self.others.setAccessibleName(_("The members' verdicts on {requirement}", requirement=title))
        lay.addWidget(self.others)
        row = QHBoxLayout()
        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        for v in VERDICTS:
            b = QRadioButton(f"{VERDICT_MARK[v]} {verdict_text(v)}")
            b.setAccessibleName(_("{verdict}: {requirement}", verdict=verdict_text(v), requirement=title))
            self.group.addButton(b)
            self.radios[v] = b
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.comment_label = lead(QLabel(_("Comment for the city (what to add or change)")))
        lay.addWidget(self.comment_label)
        self.comment = QPlainTextEdit()
        self.comment.setTabChangesFocus(True)
        self.comment.setAccessibleName(_("Comment for the city on {requirement}", requirement=title))
        self.comment.setFixedHeight(self.comment.fontMetrics().lineSpacing() * 3 + 14)
        self.comment_label.setBuddy(self.comment)
        lay.addWidget(self.comment)
        sc = QShortcut(QKeySequence("Ctrl+Return"), self.comment)
        sc.setContext(Qt.ShortcutContext.WidgetShortcut)
        sc.activated.connect(self.save_mine)
        buttons = QHBoxLayout()
        self.save_btn = QPushButton(_("Save my verdict"))
        self.save_btn.setToolTip(_("Ctrl+Enter in the comment does the same"))
        self.save_btn.setAccessibleName(_("Save my verdict on {requirement}", requirement=req.id))
        self.save_btn.clicked.connect(self.save_mine)
        self.settle_btn = QPushButton(_("Settle as the panel's verdict"))
        self.settle_btn.setAccessibleName(_("Settle the panel's verdict on {requirement}", requirement=req.id))
        self.settle_btn.clicked.connect(self.settle)
        buttons.addWidget(self.save_btn)
        buttons.addWidget(self.settle_btn)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.message = wrapped("")
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.entry: dict[str, Any] = {}
        self.show_entry(entry, fill=True)

    # -- showing ---------------------------------------------------------------------------
    def show_entry(self, entry: dict[str, Any] | None, fill: bool = False) -> None:
        self.entry = entry or {"verdict": "pending", "comment": "", "members": {}, "settled": False}
        e = self.entry
        if e["settled"]:
            text = _("Panel verdict: {verdict}", verdict=verdict_text(e["verdict"]))
        elif e["verdict"] != "pending":
            text = _("The members agree: {verdict} (not settled yet)", verdict=verdict_text(e["verdict"]))
        else:
            text = _("No panel verdict yet.")
        if e.get("comment"):
            text += "\n" + _("Comment: {comment}", comment=e["comment"])
        self.settled.setText(text)
        paint_verdict(self.settled, e["verdict"] if e["settled"] else "pending")
        mine_name = self.ctx.member.name if self.ctx.member is not None else None
        lines = []
        for name, m in sorted(e["members"].items()):
            who = _("{name} (you)", name=name) if name == mine_name else name
            line = f"{who}: {verdict_text(m['verdict'])}"
            if m.get("comment"):
                line += f" — {m['comment']}"
            lines.append(line)
        self.others.setText(_("Members: {verdicts}", verdicts="; ".join(lines)) if lines else
                            _("No member has given a verdict yet."))
        if fill:
            mine = e["members"].get(mine_name) if mine_name else None
            source = mine or (e if e["settled"] else None)
            if source is not None and source["verdict"] in self.radios:
                self.radios[source["verdict"]].setChecked(True)
                self.comment.setPlainText(source.get("comment", ""))

    def chosen(self) -> str | None:
        return next((v for v, b in self.radios.items() if b.isChecked()), None)

    def say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        tint(self.message, ERROR if error else None)
        self.message.setVisible(bool(text))

    # -- deciding --------------------------------------------------------------------------
    def _checked(self) -> tuple[str, str] | None:
        verdict, comment = self.chosen(), self.comment.toPlainText().strip()
        if verdict is None:
            self.say(_("Choose met, not met or needs information."), error=True)
            self.radios["met"].setFocus()
            return None
        if verdict != "met" and not comment:
            self.say(_("Say in the comment what the city should add or change."), error=True)
            self.comment.setFocus()
            return None
        return verdict, comment

    def save_mine(self) -> Any:
        checked = self._checked()
        if checked is None:
            return None
        return self.ctx.with_key(self, lambda member: self._write(checked, member=member))

    def settle(self) -> Any:
        checked = self._checked()
        if checked is None:
            return None
        return self._write(checked, panel=True)

    def _write(self, checked: tuple[str, str], member: Any = None, panel: bool = False) -> bool:
        verdict, comment = checked
        try:
            self.ctx.ws.set_verdict(self.bundle_id, self.req.id, verdict, comment, member=member, panel=panel)
            entry = self.ctx.ws.verdicts(self.bundle_id).get(self.req.id)
        except KitError as exc:
            self.say(exc.message(), error=True)
            return False
        self.show_entry(entry)
        self.say(_("Panel verdict settled: {verdict}.", verdict=verdict_text(verdict)) if panel else
                 _("Your verdict is saved: {verdict}.", verdict=verdict_text(verdict)))
        self.saved.emit(self.req.id)
        return True


class RequirementReview(QFrame):
    """One requirement under review."""

    def __init__(self, view: "ReviewView", req: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.req = req
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.addWidget(heading(f"{req.id}  {text_in(req.title)}", 1.1))
        if not req.mandatory:
            lay.addWidget(wrapped(_("Optional requirement: it does not block the stage."), HINT))
        self.change = view.changes.get(req.id)
        self.change_note: QLabel | None = None
        if self.change:
            self.change_note = wrapped(view.change_text(req, self.change), WARN, bold=True)
            self.change_note.setAccessibleName(_("What changed in {requirement}", requirement=req.id))
            lay.addWidget(self.change_note)
        answers = view.answers.get(req.id, {})
        self.rows: dict[str, AnswerRow] = {}
        for fld in req.fields:
            row = AnswerRow(fld, answers.get(fld.id))
            if self.change and fld.id in self.change.get("fields", ()):
                tint(row.label, WARN)
                row.label.setText(row.label.text() + "  " + _("(changed)"))
            self.rows[fld.id] = row
            lay.addWidget(row)
        files = view.files.get(req.id, [])
        self.evidence: EvidenceReview | None = None
        if req.evidence or files:
            self.evidence = EvidenceReview(view.ctx, view.fw, req, files)
            lay.addWidget(self.evidence)
        self.indicators: IndicatorReview | None = None
        if req.indicators:
            self.indicators = IndicatorReview(view.catalogue(), req, view.values)
            lay.addWidget(self.indicators)
        self.verdict_box = VerdictBox(view.ctx, view.bundle_id, req, view.verdicts.get(req.id))
        self.verdict_box.saved.connect(view.verdict_saved)
        lay.addWidget(self.verdict_box)


class CriterionReviewPage(QScrollArea):
    def __init__(self, view: "ReviewView", criterion: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.criterion = criterion
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(heading(_("Criterion {id}: {title}", id=criterion.id, title=text_in(criterion.title)), 1.3))
        lay.addWidget(wrapped(text_in(criterion.statement)))
        self.requirements: dict[str, RequirementReview] = {}
        for req in criterion.requirements:
            rv = RequirementReview(view, req)
            self.requirements[req.id] = rv
            lay.addWidget(rv)
        lay.addStretch(1)
        self.setWidget(body)


class ReviewView(QWidget):
    back_requested = Signal()
    report_requested = Signal(str)
    results_requested = Signal(str)
    board_requested = Signal(str)

    def __init__(self, ctx: Any, bundle_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        ws = ctx.ws
        subs = ws.submissions()
        self.row = next(s for s in subs if s["bundle_id"].startswith(bundle_id))
        self.bundle_id = self.row["bundle_id"]
        self.doc = ws.submission(self.bundle_id)
        self.fw = ws.framework_for(self.doc)
        self.stage = self.fw.stage(self.row["stage"])
        content = self.doc["content"]
        self.answers: dict[str, dict[str, Any]] = content.get("answers", {})
        self.values: list[dict[str, Any]] = content.get("indicator_values", [])
        self.files: dict[str, list[dict[str, Any]]] = {}
        for f in self.doc["files"]:
            self.files.setdefault(f.get("requirement", ""), []).append(f)
        self.verdicts = ws.verdicts(self.bundle_id)
        ch = ws.changes(self.bundle_id)
        self.changes: dict[str, dict[str, Any]] = ch.get("requirements", {})
        prev = next((s for s in subs if s["bundle_id"] == ch.get("previous")), None)
        self.previous_revision: int | None = prev["revision"] if prev else (self.row["revision"] - 1 if
                                                                              ch.get("previous") else None)
        newer = [s for s in subs if s["submission_id"] == self.row["submission_id"] and
                 s["revision"] > self.row["revision"]]
        self._catalogue: Any = None
        self.pages: dict[int, CriterionReviewPage] = {}
        self.index = -1

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.back_btn = QPushButton(_("Submissions"))
        self.back_btn.setAccessibleName(_("Back to the list of submissions"))
        self.back_btn.clicked.connect(self.back_requested.emit)
        top.addWidget(self.back_btn)
        title = _("{city} · stage {stage}: {title} · revision {revision}", city=self.row["city"], stage=self.stage.id,
                  title=text_in(self.stage.title), revision=self.row["revision"])
        self.title = heading(in_reading_order(title), 1.2)
        top.addWidget(self.title, 1)
        outer.addLayout(top)
        notes = []
        if self.row["demo"]:
            notes.append(_("DEMO bundle for training: it cannot lead to certification."))
        if newer:
            notes.append(_("A newer revision ({revision}) of this submission was imported: review that one.",
                           revision=max(s["revision"] for s in newer)))
        if notes:
            outer.addWidget(wrapped(" ".join(notes), WARN))

        split = QSplitter(Qt.Orientation.Horizontal)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(heading(_("Criteria"), 1.0))
        self.crit_list = QListWidget()
        self.crit_list.setWordWrap(True)
        self.crit_list.setAccessibleName(_("Criteria of stage {stage}", stage=self.stage.id))
        for c in self.stage.criteria:
            self.crit_list.addItem(QListWidgetItem(c.id))
        self.crit_list.currentRowChanged.connect(lambda r: self.go_to(r) if r >= 0 else None)
        sl.addWidget(self.crit_list, 2)
        if self.previous_revision is not None:
            self.changes_title = heading(_("Changes since revision {revision} ({count})",
                                           revision=self.previous_revision, count=len(self.changes)), 1.0)
        else:
            self.changes_title = heading(_("Changes"), 1.0)
        sl.addWidget(self.changes_title)
        self.changes_list = QListWidget()
        self.changes_list.setWordWrap(True)
        self.changes_list.setAccessibleName(_("Changes since the previous revision; press Enter to go to one"))
        self.change_ids: list[str] = []
        if self.previous_revision is None:
            self.changes_list.addItem(_("This is the first revision: everything is new."))
        elif not self.changes:
            self.changes_list.addItem(_("No answer or evidence changed since the previous revision."))
        for rid, change in self.changes.items():
            try:
                req = self.fw.requirement(rid)
            except KitError:
                continue
            self.change_ids.append(rid)
            self.changes_list.addItem(QListWidgetItem(f"{rid}  {text_in(req.title)}\n{self.change_text(req, change)}"))
        self.changes_list.itemActivated.connect(self._change_activated)
        self.changes_list.itemClicked.connect(self._change_activated)
        sl.addWidget(self.changes_list, 2)
        side.setMinimumWidth(220)
        split.addWidget(side)
        self.stack = QStackedWidget()
        self.stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        split.addWidget(self.stack)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 740])
        outer.addWidget(split, 1)

        bottom = QHBoxLayout()
        self.prev_btn = QPushButton(_("Back"))
        self.prev_btn.setToolTip(_("Previous criterion (Ctrl+PgUp)"))
        self.prev_btn.clicked.connect(lambda: self.go_to(self.index - 1))
        self.next_btn = QPushButton(_("Next"))
        self.next_btn.setToolTip(_("Next criterion (Ctrl+PgDown)"))
        self.next_btn.clicked.connect(lambda: self.go_to(self.index + 1))
        self.report_btn = QPushButton(_("Write the report…"))
        self.report_btn.clicked.connect(lambda: self.report_requested.emit(self.bundle_id))
        self.results_btn = QPushButton(_("Seal the results for the city…"))
        self.results_btn.clicked.connect(lambda: self.results_requested.emit(self.bundle_id))
        self.board_btn = QPushButton(_("Hand off to the board…"))
        self.board_btn.clicked.connect(lambda: self.board_requested.emit(self.bundle_id))
        self.where = QLabel()
        bottom.addWidget(self.prev_btn)
        bottom.addWidget(self.where, 1, Qt.AlignmentFlag.AlignCenter)
        for b in (self.report_btn, self.results_btn, self.board_btn):
            bottom.addWidget(b)
        bottom.addWidget(self.next_btn)
        outer.addLayout(bottom)
        for key, step in (("Ctrl+PgDown", 1), ("Ctrl+PgUp", -1)):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda s=step: self.go_to(self.index + s))
        self.refresh_marks()
        first_changed = next((i for i, c in enumerate(self.stage.criteria)
                              if any(r.id in self.changes for r in c.requirements)), 0)
        self.go_to(first_changed)

    # -- helpers ---------------------------------------------------------------------------
    def catalogue(self) -> Any:
        if self._catalogue is None:
            from app.model.indicators import load_catalogue

            self._catalogue = load_catalogue()
        return self._catalogue

    def change_text(self, req: Any, change: dict[str, Any]) -> str:
        parts = []
        names = []
        for fid in change.get("fields", ()):
            try:
                names.append(field_label(req.field(fid)))
            except KitError:
                names.append(fid)
        if names:
            parts.append(_("answers changed: {fields}", fields=", ".join(names)))
        if change.get("evidence_added"):
            parts.append(_("files added: {files}", files=", ".join(change["evidence_added"])))
        if change.get("evidence_removed"):
            parts.append(_("files removed: {files}", files=", ".join(change["evidence_removed"])))
        return _("Changed since revision {revision}: {what}", revision=self.previous_revision or "?",
                 what="; ".join(parts))

    def changed_requirements(self) -> set[str]:
        return set(self.change_ids)

    # -- pages -----------------------------------------------------------------------------
    @property
    def page_count(self) -> int:
        return len(self.stage.criteria)

    def page(self, index: int) -> CriterionReviewPage:
        if index not in self.pages:
            p = CriterionReviewPage(self, self.stage.criteria[index])
            self.pages[index] = p
            self.stack.addWidget(p)
        return self.pages[index]

    def current_page(self) -> CriterionReviewPage:
        return self.pages[self.index]

    def go_to(self, index: int) -> None:
        index = max(0, min(index, self.page_count - 1))
        if index == self.index:
            return
        page = self.page(index)
        self.stack.setCurrentWidget(page)
        self.index = index
        self.crit_list.blockSignals(True)
        self.crit_list.setCurrentRow(index)
        self.crit_list.blockSignals(False)
        self.prev_btn.setEnabled(index > 0)
        self.next_btn.setEnabled(index < self.page_count - 1)
        self.where.setText(_("Page {n} of {total}", n=index + 1, total=self.page_count))

    def requirement(self, rid: str) -> RequirementReview:
        """The requirement's widget, its page shown."""
        i = next(i for i, c in enumerate(self.stage.criteria) if any(r.id == rid for r in c.requirements))
        self.go_to(i)
        rv = self.current_page().requirements[rid]
        self.current_page().ensureWidgetVisible(rv.verdict_box, 20, 40)
        return rv

    def _change_activated(self, it: QListWidgetItem) -> None:
        row = self.changes_list.row(it)
        if 0 <= row < len(self.change_ids) and self.previous_revision is not None:
            rv = self.requirement(self.change_ids[row])
            self.current_page().ensureWidgetVisible(rv.change_note or rv, 20, 40)
            (rv.change_note or rv).setFocus(Qt.FocusReason.OtherFocusReason)

    def verdict_saved(self, rid: str) -> None:
        self.verdicts = self.ctx.ws.verdicts(self.bundle_id)
        self.refresh_marks()
        self.ctx.changed.emit()

    def refresh_marks(self) -> None:
        for i, c in enumerate(self.stage.criteria):
            settled = sum(1 for r in c.requirements if self.verdicts.get(r.id, {}).get("settled"))
            marks = [_("{done} of {total} settled", done=settled, total=len(c.requirements))]
            if any(r.id in self.changes for r in c.requirements) and self.previous_revision is not None:
                marks.append(_("changed"))
            self.crit_list.item(i).setText(f"{c.id}  {text_in(c.title)}\n" + " · ".join(marks))

    def view_state(self) -> dict[str, Any]:
        return {"view": "review", "bundle": self.bundle_id, "page": self.index}

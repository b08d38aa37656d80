"""The stage wizard, generated from the framework: one page per criterion with its statement, and
for each requirement its guidance, answer fields, evidence and indicators. Beside the pages: the
list of criteria (jump to any) and "what is missing" (jumps to the field). Back / Next at the
bottom (also Ctrl+PgUp / Ctrl+PgDown). Every change is autosaved; the page you are on is
remembered in the store, so the stage reopens where you left off."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import _, text_in
from app.model.guide_steps import MissingItem, criterion_page, missing_items, page_requirement
from app.ui.evidence import EvidencePanel
from app.ui.feedback import VerdictBanner, open_report, report_for, verdict_text
from app.ui.fields import FieldRow, field_label, problem_text
from app.ui.indicators import IndicatorPanel
from app.ui.look import HINT, lead, tint


def heading(text: str, scale: float = 1.25, bold: bool = True) -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setTextFormat(Qt.TextFormat.PlainText)
    f = lbl.font()
    f.setPointSizeF(f.pointSizeF() * scale)
    f.setBold(bold)
    lbl.setFont(f)
    return lead(lbl)


def wrapped(text: str, colour: str | None = None, bold: bool = False) -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setTextFormat(Qt.TextFormat.PlainText)
    lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if colour:
        tint(lbl, colour)
    if bold:
        f = lbl.font()
        f.setBold(True)
        lbl.setFont(f)
    return lead(lbl)


class RequirementView(QFrame):
    """One requirement: title, guidance, fields, evidence, indicators."""

    def __init__(self, ctx: Any, stage: str, req: Any, answers: dict[str, Any], parent: QWidget | None = None,
                 feedback: dict[str, Any] | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.stage = stage
        self.req = req
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        title = f"{req.id}  {text_in(req.title)}"
        lay.addWidget(heading(title, 1.1))
        self.verdict = VerdictBanner(text_in(req.title))
        self.verdict.set_feedback(feedback)
        lay.addWidget(self.verdict)
        notes = []
        if not req.mandatory:
            notes.append(_("Optional requirement: it does not block the stage."))
        if req.origin != "global":
            notes.append(_("Added or changed by the national mechanism."))
        if notes:
            lay.addWidget(wrapped(" ".join(notes), HINT))
        self.guidance = wrapped(text_in(req.guidance))
        self.guidance.setAccessibleName(_("Guidance for {requirement}", requirement=text_in(req.title)))
        lay.addWidget(self.guidance)
        self.rows: dict[str, FieldRow] = {}
        for fld in req.fields:
            row = FieldRow(fld)
            row.editor.set_value(answers.get(fld.id))
            row.editor.changed.connect(lambda r=row: self._changed(r))
            self.rows[fld.id] = row
            lay.addWidget(row)
        self._update_required()
        self.evidence: EvidencePanel | None = None
        if req.evidence:
            self.evidence = EvidencePanel(ctx, stage, req)
            self.evidence.changed.connect(ctx.evidence_changed)
            lay.addWidget(self.evidence)
        self.indicators: IndicatorPanel | None = None
        if req.indicators:
            self.indicators = IndicatorPanel(ctx, req)
            if self.indicators.ids:
                lay.addWidget(self.indicators)
            else:
                self.indicators.deleteLater()
                self.indicators = None

    def current_values(self) -> dict[str, Any]:
        return {fid: row.editor.value()[0] for fid, row in self.rows.items()}

    def _update_required(self) -> None:
        values = self.current_values()
        for row in self.rows.values():
            if row.field.required_if:
                row.update_required(values)

    def _changed(self, row: FieldRow) -> None:
        value, ok = row.check()
        if ok:
            self.ctx.autosaver.queue(self.stage, self.req.id, row.field.id, value)
        else:
            self.ctx.autosaver.forget(self.stage, self.req.id, row.field.id)
        self._update_required()

    def focus_target(self, item: MissingItem) -> QWidget | None:
        if item.target == "field" and item.field_id in self.rows:
            row = self.rows[item.field_id]
            row.editor.focus_input()
            return row
        if item.target == "evidence" and self.evidence is not None:
            self.evidence.attach_btn.setFocus(Qt.FocusReason.OtherFocusReason)
            return self.evidence
        if item.target == "indicators" and self.indicators is not None:
            self.indicators.choice.setFocus(Qt.FocusReason.OtherFocusReason)
            return self.indicators
        return None


class CriterionPage(QScrollArea):
    """One page: a criterion and its requirements, scrollable."""

    def __init__(self, ctx: Any, stage: str, criterion: Any, answers: dict[str, dict[str, Any]],
                 parent: QWidget | None = None, feedback: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(parent)
        self.criterion = criterion
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(heading(_("Criterion {id}: {title}", id=criterion.id, title=text_in(criterion.title)), 1.3))
        lay.addWidget(wrapped(text_in(criterion.statement)))
        self.requirements: dict[str, RequirementView] = {}
        for req in criterion.requirements:
            view = RequirementView(ctx, stage, req, answers.get(req.id, {}), feedback=(feedback or {}).get(req.id))
            self.requirements[req.id] = view
            lay.addWidget(view)
        lay.addStretch(1)
        self.setWidget(body)

    def reveal(self, item: MissingItem) -> QWidget | None:
        view = self.requirements.get(item.requirement_id)
        if view is None:
            return None
        target = view.focus_target(item) or view
        self.ensureWidgetVisible(target, 20, 40)
        return target

    def reload_indicators(self) -> None:
        for v in self.requirements.values():
            if v.indicators is not None:
                v.indicators.reload()

    def set_feedback(self, feedback: dict[str, dict[str, Any]]) -> None:
        for rid, v in self.requirements.items():
            v.verdict.set_feedback(feedback.get(rid))


class StageView(QWidget):
    home_requested = Signal()
    seal_requested = Signal(str)
    page_changed = Signal(int)

    def __init__(self, ctx: Any, stage_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        kit = ctx.kit
        self.fw = kit.framework
        self.stage = self.fw.stage(stage_id)
        self.answers = kit.answers(self.stage.id)
        self.feedback = self._read_feedback()
        self.pages: dict[int, CriterionPage] = {}
        self.missing: list[MissingItem] = []
        self.index = -1

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.home_btn = QPushButton(_("Home"))
        self.home_btn.setAccessibleName(_("Back to the home screen"))
        self.home_btn.clicked.connect(self._go_home)
        top.addWidget(self.home_btn)
        level = self.fw.level_name(self.stage.id)
        title = _("Stage {stage}: {title}", stage=self.stage.id, title=text_in(self.stage.title))
        if level:
            title += "  ·  " + _("leads to {level}", level=level)
        self.title = heading(title, 1.2)
        top.addWidget(self.title, 1)
        self.report_btn = QPushButton(_("Open the panel's report"))
        self.report_btn.setAccessibleName(_("Open the panel's report on stage {stage}", stage=self.stage.id))
        self.report_btn.clicked.connect(lambda: open_report(self, self.ctx.kit, self.stage.id))
        self.report_btn.setVisible(report_for(kit, self.stage.id) is not None)
        top.addWidget(self.report_btn)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("0" * 26))
        self.progress.setAccessibleName(_("Progress of stage {stage}", stage=self.stage.id))
        top.addWidget(self.progress)
        outer.addLayout(top)

        split = QSplitter(Qt.Orientation.Horizontal)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(heading(_("Criteria"), 1.0))
        self.crit_list = QListWidget()
        self.crit_list.setAccessibleName(_("Criteria of stage {stage}", stage=self.stage.id))
        for c in self.stage.criteria:
            self.crit_list.addItem(QListWidgetItem(f"{c.id}  {text_in(c.title)}"))
        self.crit_list.setWordWrap(True)
        self.crit_list.currentRowChanged.connect(self._list_row)
        sl.addWidget(self.crit_list, 2)
        self.missing_title = heading(_("What is missing"), 1.0)
        sl.addWidget(self.missing_title)
        self.missing_list = QListWidget()
        self.missing_list.setWordWrap(True)
        self.missing_list.setAccessibleName(_("What is missing; press Enter to go to it"))
        self.missing_list.itemActivated.connect(self._missing_activated)
        self.missing_list.itemClicked.connect(self._missing_activated)
        sl.addWidget(self.missing_list, 3)
        side.setMinimumWidth(200)
        split.addWidget(side)
        self.stack = QStackedWidget()
        self.stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        split.addWidget(self.stack)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([250, 750])
        outer.addWidget(split, 1)

        bottom = QHBoxLayout()
        self.back_btn = QPushButton(_("Back"))
        self.back_btn.setToolTip(_("Previous criterion (Ctrl+PgUp)"))
        self.back_btn.clicked.connect(self.back)
        self.next_btn = QPushButton(_("Next"))
        self.next_btn.setToolTip(_("Next criterion (Ctrl+PgDown)"))
        self.next_btn.clicked.connect(self.next)
        self.seal_btn = QPushButton(_("Seal this stage…"))
        self.seal_btn.clicked.connect(lambda: self.seal_requested.emit(self.stage.id))
        self.where = QLabel()
        bottom.addWidget(self.back_btn)
        bottom.addWidget(self.where, 1, Qt.AlignmentFlag.AlignCenter)
        bottom.addWidget(self.seal_btn)
        bottom.addWidget(self.next_btn)
        outer.addLayout(bottom)
        for key, slot in (("Ctrl+PgDown", self.next), ("Ctrl+PgUp", self.back)):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(150)
        self._status_timer.timeout.connect(self.refresh_status)
        ctx.autosaver.saved.connect(self._saved)
        ctx.events.evidence.connect(self.schedule_status)
        ctx.events.indicators.connect(self._indicators_changed)
        ctx.events.feedback.connect(self.reload_feedback)
        start = criterion_page(self.fw, self.stage.id, kit.current(self.stage.id))
        self.go_to(start)
        self.refresh_status()

    # -- pages -----------------------------------------------------------------------------
    @property
    def page_count(self) -> int:
        return len(self.stage.criteria)

    def page(self, index: int) -> CriterionPage:
        if index not in self.pages:
            page = CriterionPage(self.ctx, self.stage.id, self.stage.criteria[index], self.answers,
                                 feedback=self.feedback)
            self.pages[index] = page
            self.stack.addWidget(page)
        return self.pages[index]

    def current_page(self) -> CriterionPage:
        return self.pages[self.index]

    def go_to(self, index: int) -> None:
        index = max(0, min(index, self.page_count - 1))
        if index == self.index:
            return
        self.ctx.autosaver.flush(answers_only=True)
        page = self.page(index)
        self.stack.setCurrentWidget(page)
        page.verticalScrollBar().setValue(0)
        self.index = index
        self.crit_list.blockSignals(True)
        self.crit_list.setCurrentRow(index)
        self.crit_list.blockSignals(False)
        self.back_btn.setEnabled(index > 0)
        self.next_btn.setEnabled(index < self.page_count - 1)
        self.where.setText(_("Page {n} of {total}", n=index + 1, total=self.page_count))
        self.ctx.autosaver.remember_page(self.stage.id, page_requirement(self.fw, self.stage.id, index))
        self.page_changed.emit(index)
        if index + 1 < self.page_count and index + 1 not in self.pages:
            QTimer.singleShot(0, lambda i=index + 1: self._prebuild(i))

    def _prebuild(self, index: int) -> None:
        if index not in self.pages and not self.ctx.guard.busy:
            self.page(index)

    def next(self) -> None:
        self.go_to(self.index + 1)

    def back(self) -> None:
        self.go_to(self.index - 1)

    def _list_row(self, row: int) -> None:
        if row >= 0:
            self.go_to(row)

    def _go_home(self) -> None:
        self.ctx.flush()
        self.home_requested.emit()

    # -- the panel's feedback ------------------------------------------------------------
    def _read_feedback(self) -> dict[str, dict[str, Any]]:
        from app.review.feedback import feedback_for

        try:
            return feedback_for(self.ctx.kit, self.stage.id)
        except Exception:  # noqa: BLE001 - feedback is shown when it can be read; the stage works without it
            return {}

    def reload_feedback(self) -> None:
        """After review results were imported: every banner and the report button again."""
        self.feedback = self._read_feedback()
        for p in self.pages.values():
            p.set_feedback(self.feedback)
        self.report_btn.setVisible(report_for(self.ctx.kit, self.stage.id) is not None)
        self._mark_criteria()

    def _mark_criteria(self) -> None:
        """The criteria list says where the panel left a verdict other than "met"."""
        if not hasattr(self, "status"):
            return
        self.refresh_status()

    # -- status and "what is missing" ----------------------------------------------------
    def _saved(self, written: set[tuple[str, str]]) -> None:
        if any(stage == self.stage.id for stage, _r in written):
            self.schedule_status()

    def _indicators_changed(self) -> None:
        for p in self.pages.values():
            p.reload_indicators()
        self.schedule_status()

    def schedule_status(self, *_a: Any) -> None:
        self._status_timer.start()

    def missing_text(self, item: MissingItem) -> str:
        req = self.fw.requirement(item.requirement_id)
        params = dict(item.params)
        if "kind" in params:
            k = self.fw.evidence_kinds.get(params["kind"])
            params["kind"] = text_in(k.name) if k else params["kind"]
        if item.field_id:
            fld = req.field(item.field_id)
            message = problem_text(fld, item.msgid)
            return f"{req.id} · {field_label(fld)}: {message}"
        return f"{req.id} · {text_in(req.title)}: {_(item.msgid, **params)}"

    def refresh_status(self) -> None:
        status = self.ctx.kit.completeness(self.stage.id)
        self.status = status
        self.progress.setValue(status.percent)
        self.progress.setFormat(_("{done} of {total} complete", done=status.complete_count, total=status.total))
        progress = status.criterion_progress(self.fw)
        for i, c in enumerate(self.stage.criteria):
            done, total = progress.get(c.id, (0, 0))
            mark = "✓" if done == total else f"{done}/{total}"
            asks = [self.feedback[r.id]["verdict"] for r in c.requirements
                    if self.feedback.get(r.id, {}).get("verdict") in ("not_met", "needs_information")]
            if asks:
                mark += "   " + _("panel: {verdict}", verdict=verdict_text(
                    "not_met" if "not_met" in asks else "needs_information"))
            self.crit_list.item(i).setText(f"{c.id}  {text_in(c.title)}   {mark}")
        self.missing = missing_items(self.fw, status)
        self.missing_list.clear()
        for item in self.missing:
            it = QListWidgetItem(self.missing_text(item))
            self.missing_list.addItem(it)
        if not self.missing:
            self.missing_list.addItem(QListWidgetItem(_("Nothing is missing. You can seal this stage.")))
        self.missing_title.setText(_("What is missing ({count})", count=len(self.missing)))

    def _missing_activated(self, it: QListWidgetItem) -> None:
        row = self.missing_list.row(it)
        if 0 <= row < len(self.missing):
            self.jump_to(self.missing[row])

    def jump_to(self, item: MissingItem) -> QWidget | None:
        self.go_to(item.page)
        return self.current_page().reveal(item)

    def view_state(self) -> dict[str, Any]:
        return {"view": "stage", "stage": self.stage.id, "page": self.index}

"""The home screen: the city's path A → D with progress per stage and the level each leads to,
the level it aims for and its work programme, what to do next, and every sealed bundle with its
status."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import _, text_in
from app.model.guide_steps import (
    BUNDLE_STATUS_TEXT,
    STAGE_STATE_TEXT,
    Step,
    next_step,
    stage_for_level,
    work_programme,
)
from app.ui.fields import cell_text, format_iso_date
from app.ui.look import HINT, WARN, fmt_datetime, fmt_size, lead
from app.ui.stage import heading, wrapped


class StageCard(QFrame):
    def __init__(self, fw: Any, stage: Any, status: Any, target: bool, on_open: Any, on_seal: Any,
                 feedback: dict[str, dict[str, Any]] | None = None, on_report: Any = None,
                 has_report: bool = False) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.stage_id = stage.id
        lay = QVBoxLayout(self)
        lay.addWidget(heading(_("Stage {stage}", stage=stage.id), 1.2))
        lay.addWidget(wrapped(text_in(stage.title)))
        level = fw.level_name(stage.id)
        if level:
            lay.addWidget(wrapped(_("Leads to: {level}", level=level) + ("  ★" if target else "")))
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setValue(status.percent)
        self.bar.setFormat(_("{done} of {total}", done=status.complete_count, total=status.total))
        self.bar.setAccessibleName(_("Progress of stage {stage}", stage=stage.id))
        lay.addWidget(self.bar)
        self.state = lead(QLabel(_(STAGE_STATE_TEXT[status.state])))
        lay.addWidget(self.state)
        self.feedback_label: QLabel | None = None
        if feedback:
            counts = {k: 0 for k in ("met", "not_met", "needs_information")}
            for v in feedback.values():
                if v.get("verdict") in counts:
                    counts[v["verdict"]] += 1
            revision = max(v.get("revision") or 0 for v in feedback.values())
            self.feedback_label = wrapped(_("Panel, revision {revision}: {met} met, {not_met} not met, {needs} need "
                                            "more information.", revision=revision, met=counts["met"],
                                            not_met=counts["not_met"], needs=counts["needs_information"]),
                                          WARN if counts["not_met"] or counts["needs_information"] else None)
            self.feedback_label.setAccessibleName(_("The panel's feedback on stage {stage}", stage=stage.id))
            lay.addWidget(self.feedback_label)
        lay.addStretch(1)
        self.open_btn = QPushButton(_("Continue") if status.state == "partial" else
                                    _("Review") if status.complete else _("Start"))
        self.open_btn.setAccessibleName(_("Open stage {stage}", stage=stage.id))
        self.open_btn.clicked.connect(lambda: on_open(stage.id))
        lay.addWidget(self.open_btn)
        self.seal_btn = QPushButton(_("Seal…"))
        self.seal_btn.setAccessibleName(_("Seal stage {stage}", stage=stage.id))
        self.seal_btn.clicked.connect(lambda: on_seal(stage.id))
        lay.addWidget(self.seal_btn)
        self.report_btn: QPushButton | None = None
        if has_report and on_report is not None:
            self.report_btn = QPushButton(_("Open the panel's report"))
            self.report_btn.setAccessibleName(_("Open the panel's report on stage {stage}", stage=stage.id))
            self.report_btn.clicked.connect(lambda: on_report(stage.id))
            lay.addWidget(self.report_btn)


class HomeView(QScrollArea):
    open_stage = Signal(str)
    seal_stage = Signal(str)
    import_trust = Signal()
    setup_requested = Signal()
    import_results = Signal()
    open_report = Signal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        self.setWidget(self.body)
        self.lay = QVBoxLayout(self.body)
        self.step: Step | None = None
        self.refresh()

    def _clear(self) -> None:
        while self.lay.count():
            item = self.lay.takeAt(0)
            w = item.widget()
            if w is not None:
                w.deleteLater()
            elif item.layout() is not None:
                _delete_layout(item.layout())

    def refresh(self) -> None:
        from app.bundle.submit import sealed_bundles

        self._clear()
        kit = self.ctx.kit
        fw = kit.framework
        prof = kit.require_profile()
        statuses = kit.status()
        bundles = sealed_bundles(kit)
        self.statuses = statuses
        self.bundles = bundles

        mech = text_in(fw.mechanism_name) if fw.mechanism_name else _("Global SDG Cities mechanism")
        self.lay.addWidget(heading(prof.name, 1.6))
        self.lay.addWidget(wrapped(_("{country} · {mechanism} · framework {framework}", country=prof.country,
                                     mechanism=mech, framework=fw.label), HINT))
        if kit_is_demo(kit):
            self.lay.addWidget(wrapped(_("Training mode: the trust files are DEMO files. Bundles sealed now cannot "
                                         "be submitted."), WARN))

        # what to do next
        self.step = next_step(fw, statuses, bundles, has_key=self.ctx.has_key(), has_trust=self.ctx.has_trust(),
                              target_level=prof.target_level)
        box = QFrame()
        box.setFrameShape(QFrame.Shape.StyledPanel)
        bl = QHBoxLayout(box)
        self.next_label = wrapped(_("Next step: {step}", step=_(self.step.msgid, **self.step.params)))
        f = self.next_label.font()
        f.setBold(True)
        self.next_label.setFont(f)
        bl.addWidget(self.next_label, 1)
        self.next_btn = QPushButton(self._action_text(self.step))
        self.next_btn.setVisible(bool(self._action_text(self.step)))
        self.next_btn.clicked.connect(self.do_next_step)
        self.next_btn.setDefault(True)
        bl.addWidget(self.next_btn)
        self.lay.addWidget(box)

        # the path A -> D
        self.lay.addWidget(heading(_("The path to certification"), 1.2))
        grid = QGridLayout()
        target_stage = stage_for_level(fw, prof.target_level)
        self.cards: dict[str, StageCard] = {}
        from app.review.feedback import feedback_for
        from app.ui.feedback import report_for

        for i, st in enumerate(fw.stages):
            card = StageCard(fw, st, statuses[st.id], st.id == target_stage, self.open_stage.emit,
                             self.seal_stage.emit, feedback=feedback_for(kit, st.id),
                             on_report=self.open_report.emit, has_report=report_for(kit, st.id) is not None)
            self.cards[st.id] = card
            grid.addWidget(card, 0, i)
        self.lay.addLayout(grid)

        # target and work programme
        self.lay.addWidget(heading(_("Target and work programme"), 1.2))
        if prof.target_level:
            lv = next((lv for lv in fw.levels if lv.id == prof.target_level), None)
            aim = _("The city aims for {level} (stage {stage}).", level=text_in(lv.name) if lv else prof.target_level,
                    stage=target_stage or "?")
        else:
            aim = _("No target level chosen yet. Stage A, criterion b asks for it.")
        wp = work_programme(fw, kit.answers(fw.stages[0].id))
        parts = [aim]
        if wp.target_date:
            parts.append(_("Target date: {date}.", date=format_iso_date(wp.target_date)))
        if wp.next_submission:
            parts.append(_("Next submission planned for {date}.", date=format_iso_date(wp.next_submission)))
        self.lay.addWidget(wrapped(" ".join(parts)))
        if wp.activities:
            cols = wp.activity_columns
            t = QTableWidget(len(wp.activities), len(cols))
            t.setHorizontalHeaderLabels([text_in(c.label) for c in cols])
            for r, row in enumerate(wp.activities):
                for c, col in enumerate(cols):
                    t.setItem(r, c, QTableWidgetItem(cell_text(col, row.get(col.id))))
            _read_only_table(t, _("Work programme"))
            self.lay.addWidget(t)
        else:
            self.lay.addWidget(wrapped(_("The work programme appears here once it is filled in (stage A, "
                                         "criterion b)."), HINT))

        # sealed bundles
        row = QHBoxLayout()
        row.addWidget(heading(_("Sealed bundles"), 1.2), 1)
        self.results_btn = QPushButton(_("Import review results…"))
        self.results_btn.setAccessibleName(_("Import the technical panel's review results"))
        self.results_btn.clicked.connect(self.import_results.emit)
        self.results_btn.setVisible(self.expects_results())
        row.addWidget(self.results_btn)
        self.lay.addLayout(row)
        if bundles:
            t = QTableWidget(len(bundles), 5)
            t.setHorizontalHeaderLabels([_("Stage"), _("Revision"), _("Sealed on"), _("Status"), _("Size")])
            for r, b in enumerate(reversed(bundles)):
                status = _(BUNDLE_STATUS_TEXT.get(b["status"], b["status"]))
                if b["demo"]:
                    status += " · " + _("DEMO")
                for c, text in enumerate([b["stage"], str(b["revision"]), fmt_datetime(b["sealed_at"]), status,
                                          fmt_size(b["size"] or 0)]):
                    it = QTableWidgetItem(text)
                    it.setToolTip(b["path"])
                    t.setItem(r, c, it)
            _read_only_table(t, _("Sealed bundles"))
            self.bundle_table = t
            self.lay.addWidget(t)
        else:
            self.bundle_table = None
            self.lay.addWidget(wrapped(_("Nothing sealed yet."), HINT))
        self.lay.addStretch(1)

    def expects_results(self) -> bool:
        """A bundle left the city (collected, received, in review, feedback): results may come back."""
        return any(b["status"] != "sealed" for b in self.bundles)

    def _action_text(self, step: Step) -> str:
        if step.action == "wait":
            return _("Import review results…") if self.expects_results() else ""
        return {"setup": _("Finish setting up"), "trust": _("Import the trust pack…"),
                "open_stage": _("Open stage {stage}", stage=step.stage), "seal": _("Seal stage {stage}…", stage=step.stage),
                }.get(step.action, "")

    def do_next_step(self) -> None:
        step = self.step
        if step is None:
            return
        if step.action == "open_stage" and step.stage:
            self.open_stage.emit(step.stage)
        elif step.action == "seal" and step.stage:
            self.seal_stage.emit(step.stage)
        elif step.action == "trust":
            self.import_trust.emit()
        elif step.action == "setup":
            self.setup_requested.emit()
        elif step.action == "wait" and self.expects_results():
            self.import_results.emit()

    def view_state(self) -> dict[str, Any]:
        return {"view": "home"}


def kit_is_demo(kit: Any) -> bool:
    from app.bundle.submit import is_demo_installed

    return is_demo_installed(kit.layout.root)


def _read_only_table(t: QTableWidget, name: str) -> None:
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setTabKeyNavigation(False)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setAccessibleName(name)
    rows = min(t.rowCount(), 6)
    t.setFixedHeight(t.horizontalHeader().sizeHint().height() + t.verticalHeader().defaultSectionSize() * rows + 6)


def _delete_layout(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            _delete_layout(item.layout())

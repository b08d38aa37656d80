"""Indicator tables of one requirement: for each linked indicator of the Global Urban Monitoring
Framework, its values by year with kind (baseline, observed, target), breakdown, unit and source,
a form to add or change a value, and a small chart drawn with QPainter (QtCharts is not part of
PySide6-Essentials)."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import KitError
from app.i18n import N_, _, text_in
from app.ui.look import ERROR, fmt_number, fmt_year, lead, parse_number, tint

KIND_TEXT = {"baseline": N_("Baseline"), "observed": N_("Observed"), "target": N_("Target")}
KIND_COLOURS = {"observed": QColor(0, 92, 171), "baseline": QColor(120, 120, 120), "target": QColor(0, 140, 70)}


def unit_name(cat: Any, unit: str) -> str:
    u = cat.units.get(unit) or {}
    name = text_in(u.get("name")) or unit
    sym = u.get("symbol")
    return f"{name} ({sym})" if sym else name


def dimension_value_name(cat: Any, dim: str, value: str) -> str:
    spec = cat.dimensions.get(dim) or {}
    for v in spec.get("values", ()):
        if v["id"] == value:
            return text_in(v["name"])
    return value


def breakdown_text(cat: Any, dis: dict[str, str]) -> str:
    if not dis:
        return _("All (total)")
    return "; ".join(f"{text_in((cat.dimensions.get(d) or {}).get('name')) or d}: {dimension_value_name(cat, d, v)}"
                     for d, v in sorted(dis.items()))


class IndicatorChart(QWidget):
    """Totals by year: observed values as a line, baseline and target as marks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[dict[str, Any]] = []
        self.setMinimumSize(QSize(240, 150))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setLayoutDirection(Qt.LayoutDirection.LeftToRight)  # years run left to right in every language
        self.setAccessibleName(_("Chart of the values by year"))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 170)

    def set_values(self, values: list[dict[str, Any]]) -> None:
        self.values = [v for v in values if not v.get("disaggregation")]
        self.setAccessibleDescription("; ".join(f"{fmt_year(v['year'])} {_(KIND_TEXT[v['kind']])}: "
                                                f"{fmt_number(v['value'])}" for v in self.values))
        self.update()

    def points(self) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for v in sorted(self.values, key=lambda v: v["year"]):
            out.setdefault(v["kind"], []).append((v["year"], float(v["value"])))
        return out

    def paintEvent(self, _ev: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fm = self.fontMetrics()
        pts = self.points()
        if not pts:
            p.setPen(pal.color(pal.ColorRole.PlaceholderText))
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), _("No values yet"))
            return
        years = [y for s in pts.values() for y, _v in s]
        vals = [v for s in pts.values() for _y, v in s]
        y0, y1 = min(years), max(years)
        v0, v1 = min(0.0, min(vals)), max(vals)
        if v1 == v0:
            v1 = v0 + 1
        v1 += (v1 - v0) * 0.1  # head room, so the highest mark is not on the frame
        left = fm.horizontalAdvance(fmt_number(round(v1, 2))) + 10
        frame = QRectF(left, 8, self.width() - left - 12, self.height() - fm.height() * 2 - 18)
        plot = frame.adjusted(10, 6, -10, 0)  # marks at the first and last year stay inside
        legend_y = self.height() - fm.height() // 2 - 2

        def xy(year: int, value: float) -> QPointF:
            fx = 0.5 if y1 == y0 else (year - y0) / (y1 - y0)
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - (value - v0) / (v1 - v0) * plot.height())

        p.setPen(QPen(pal.color(pal.ColorRole.Mid), 1))
        p.drawLine(frame.bottomLeft(), frame.bottomRight())
        p.drawLine(frame.bottomLeft(), frame.topLeft())
        p.setPen(pal.color(pal.ColorRole.Text))
        for value in (v0, (v0 + v1) / 2, v1):
            y = xy(y0, value).y()
            p.drawText(QRectF(0, y - fm.height() / 2, left - 4, fm.height()),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), fmt_number(round(value, 2)))
        labels = sorted(set(years))
        widest = fm.horizontalAdvance(fmt_year(labels[-1])) + 8
        step = 1
        while len(labels) > 1 and plot.width() / max(1, (len(labels) - 1) / step) < widest:
            step += 1
        for i, year in enumerate(labels):
            if i % step and i != len(labels) - 1:
                continue
            x = xy(year, v0).x()
            p.drawText(QRectF(x - widest / 2, frame.bottom() + 2, widest, fm.height()),
                       int(Qt.AlignmentFlag.AlignHCenter), fmt_year(year))
        for kind in ("observed", "baseline", "target"):
            series = pts.get(kind)
            if not series:
                continue
            colour = KIND_COLOURS[kind]
            pen = QPen(colour, 2, Qt.PenStyle.DashLine if kind == "target" else Qt.PenStyle.SolidLine)
            p.setPen(pen)
            if len(series) > 1:
                path = QPainterPath(xy(*series[0]))
                for y, v in series[1:]:
                    path.lineTo(xy(y, v))
                p.drawPath(path)
            for y, v in series:
                c = xy(y, v)
                p.setBrush(colour if kind != "target" else Qt.BrushStyle.NoBrush)
                if kind == "baseline":
                    p.drawRect(QRectF(c.x() - 4, c.y() - 4, 8, 8))
                else:
                    p.drawEllipse(c, 4, 4)
        x = plot.left()
        for kind in ("observed", "baseline", "target"):
            if kind not in pts:
                continue
            p.setPen(QPen(KIND_COLOURS[kind], 2))
            p.drawLine(QPointF(x, legend_y - 4), QPointF(x + 16, legend_y - 4))
            p.setPen(pal.color(pal.ColorRole.Text))
            text = _(KIND_TEXT[kind])
            p.drawText(QPointF(x + 20, legend_y), text)
            x += 32 + fm.horizontalAdvance(text)
        p.end()


class IndicatorPanel(QWidget):
    changed = Signal()

    def __init__(self, ctx: Any, requirement: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.req = requirement
        self.cat = ctx.catalogue()
        self.ids = [i for i in requirement.indicators if i in self.cat.indicators]
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        title = lead(QLabel(_("Indicators")))
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        lay.addWidget(title)
        if requirement.min_indicator_values:
            need = lead(QLabel(_("Enter values for at least {min} of these indicators.", min=requirement.min_indicator_values)))
            need.setWordWrap(True)
            lay.addWidget(need)
        self.choice = QComboBox()
        self.choice.setAccessibleName(_("Indicator"))
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(30)
        self.choice.currentIndexChanged.connect(self._show_indicator)
        lay.addWidget(self.choice)
        self.about = QLabel()
        self.about.setWordWrap(True)
        lead(self.about)
        lay.addWidget(self.about)

        body = QHBoxLayout()
        left = QVBoxLayout()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([_("Year"), _("Kind"), _("Value"), _("Breakdown"), _("Source")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName(_("Values of the indicator"))
        self.table.setMinimumHeight(self.table.verticalHeader().defaultSectionSize() * 5)
        self.table.currentCellChanged.connect(self._row_selected)
        left.addWidget(self.table)
        body.addLayout(left, 3)
        self.chart = IndicatorChart()
        body.addWidget(self.chart, 2)
        lay.addLayout(body)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.year = QSpinBox()
        self.year.setRange(1950, 2100)
        self.year.setValue(date.today().year - 1)
        self.year.setGroupSeparatorShown(False)
        self.year.setAccessibleName(_("Year"))
        self.kind = QComboBox()
        for k in ("observed", "baseline", "target"):
            self.kind.addItem(_(KIND_TEXT[k]), k)
        self.kind.setAccessibleName(_("Kind of value"))
        self.value = QLineEdit()
        self.value.setAccessibleName(_("Value"))
        self.value.textEdited.connect(self._check_value)
        self.unit = QLabel()
        vrow = QHBoxLayout()
        vrow.addWidget(self.value)
        vrow.addWidget(self.unit)
        self.source = QLineEdit()
        self.source.setAccessibleName(_("Source"))
        self.source.setPlaceholderText(_("For example: household survey 2024"))
        form.addRow(_("Year"), self.year)
        form.addRow(_("Kind"), self.kind)
        form.addRow(_("Value"), vrow)
        form.addRow(_("Source"), self.source)
        self.form = form
        self.dim_rows = 0
        lay.addLayout(form)
        self.dims: dict[str, QComboBox] = {}
        buttons = QHBoxLayout()
        self.save_btn = QPushButton(_("Save value"))
        self.save_btn.setAccessibleName(_("Save this indicator value"))
        self.save_btn.clicked.connect(self.save_value)
        self.value.returnPressed.connect(self.save_value)
        self.delete_btn = QPushButton(_("Delete value"))
        self.delete_btn.setAccessibleName(_("Delete the selected indicator value"))
        self.delete_btn.clicked.connect(self.delete_selected)
        buttons.addWidget(self.save_btn)
        buttons.addWidget(self.delete_btn)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.message = lead(QLabel())
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.rows: list[dict[str, Any]] = []
        self.reload()

    @property
    def indicator_id(self) -> str | None:
        return self.choice.currentData()

    def reload(self) -> None:
        """Re-read the values from the store (they are shared by every page that links the indicator)."""
        keep = self.indicator_id
        counts = {iid: len(self.ctx.indicator_values(iid)) for iid in self.ids}
        self.choice.blockSignals(True)
        self.choice.clear()
        for iid in self.ids:
            ind = self.cat.indicators[iid]
            n = counts.get(iid, 0)
            self.choice.addItem(_("{code} {name} ({count} values)", code=ind.code, name=text_in(ind.name), count=n),
                                iid)
        idx = self.choice.findData(keep) if keep else 0
        self.choice.setCurrentIndex(max(0, idx))
        self.choice.blockSignals(False)
        self._show_indicator()

    def select_indicator(self, indicator_id: str) -> None:
        self.choice.setCurrentIndex(self.choice.findData(indicator_id))

    def _show_indicator(self, *_a: Any) -> None:
        iid = self.indicator_id
        if iid is None:
            return
        ind = self.cat.indicators[iid]
        dims = ", ".join(text_in((self.cat.dimensions.get(d) or {}).get("name")) or d for d in ind.disaggregation)
        self.about.setText(_("Unit: {unit}. Can be broken down by: {dimensions}.", unit=unit_name(self.cat, ind.unit),
                             dimensions=dims or _("nothing")))
        self.unit.setText(unit_name(self.cat, ind.unit))
        for _i in range(self.dim_rows):
            self.form.removeRow(3)
        self.dim_rows = 0
        self.dims = {}
        for d in ind.disaggregation:
            spec = self.cat.dimensions.get(d) or {}
            cb = QComboBox()
            cb.addItem(_("All (total)"), None)
            for v in spec.get("values", ()):
                cb.addItem(text_in(v["name"]), v["id"])
            name = text_in(spec.get("name")) or d
            cb.setAccessibleName(_("Breakdown by {dimension}", dimension=name))
            self.form.insertRow(3 + self.dim_rows, name, cb)
            self.dim_rows += 1
            self.dims[d] = cb
        self.rows = self.ctx.indicator_values(iid)
        self.rows.sort(key=lambda v: (v["year"], v["kind"], sorted(v["disaggregation"].items())))
        self.table.setRowCount(len(self.rows))
        for r, v in enumerate(self.rows):
            cells = [fmt_year(v["year"]), _(KIND_TEXT.get(v["kind"], v["kind"])), fmt_number(v["value"]),
                     breakdown_text(self.cat, v["disaggregation"]), v["source"]]
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                if c in (0, 2):
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, it)
        self.table.setFixedHeight(self.table.horizontalHeader().height() + 6 +
                                  self.table.verticalHeader().defaultSectionSize() * min(max(len(self.rows), 3), 8))
        self.chart.set_values(self.rows)
        self.delete_btn.setEnabled(False)

    def _row_selected(self, row: int, *_a: Any) -> None:
        self.delete_btn.setEnabled(0 <= row < len(self.rows))
        if not 0 <= row < len(self.rows):
            return
        v = self.rows[row]
        self.year.setValue(v["year"])
        self.kind.setCurrentIndex(self.kind.findData(v["kind"]))
        self.value.setText(fmt_number(v["value"]))
        self.source.setText(v["source"])
        for d, cb in self.dims.items():
            cb.setCurrentIndex(max(0, cb.findData(v["disaggregation"].get(d))))

    def _check_value(self, text: str) -> None:
        if text.strip() and parse_number(text) is None:
            self.show_message(_("Enter a number."), error=True)
        else:
            self.show_message("")

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        tint(self.message, ERROR if error else None)
        self.message.setVisible(bool(text))

    def save_value(self) -> bool:
        iid = self.indicator_id
        if iid is None:
            return False
        value = parse_number(self.value.text())
        if value is None:
            self.show_message(_("Enter a number."), error=True)
            self.value.setFocus()
            return False
        dis = {d: cb.currentData() for d, cb in self.dims.items() if cb.currentData()}
        try:
            self.ctx.kit.set_indicator_value(iid, year=self.year.value(), value=value, kind=self.kind.currentData(),
                                             source=self.source.text().strip(), disaggregation=dis)
        except KitError as exc:
            self.show_message(exc.message(), error=True)
            return False
        self.show_message(_("Saved: {year} {kind} {value}.", year=fmt_year(self.year.value()),
                            kind=self.kind.currentText(), value=fmt_number(value)))
        self.value.clear()
        self.ctx.indicators_changed()
        return True

    def delete_selected(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.rows):
            return
        try:
            self.ctx.kit.delete_indicator_value(self.rows[row]["id"])
        except KitError as exc:
            self.show_message(exc.message(), error=True)
            return
        self.show_message(_("Value deleted."))
        self.ctx.indicators_changed()

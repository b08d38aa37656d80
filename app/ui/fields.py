"""One editor per answer type of the framework (text, yes/no, single and multiple choice, number,
date, repeating table), each with a label, its help, and a message line for validation as you type.

Every editor offers the same small interface: ``value()`` returns ``(value, problem)`` where
``problem`` is a message id when what was typed cannot be read (a number that is not a number);
``set_value(v)`` shows a stored value without emitting ``changed``; ``focus_input()`` puts the
keyboard focus on it (used by the "what is missing" list).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QDate, QLocale, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCalendarWidget,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.i18n import N_, _, text_in
from app.model.framework import Field, is_required, reason_params, validate_value
from app.ui.look import ERROR, HINT, fmt_number, lead, parse_number, tint

NOT_A_NUMBER = N_("Enter a number.")
NOT_A_DATE = N_("Enter a date.")


def field_label(fld: Field) -> str:
    return text_in(fld.label)


def unit_text(fld: Field) -> str:
    if fld.unit_label:
        return text_in(fld.unit_label)
    return {"percent": "%"}.get(fld.unit or "", "")


def problem_text(fld: Field, msgid: str) -> str:
    return _(msgid, **reason_params(fld, msgid))


# -- dates ------------------------------------------------------------------------------------

def date_format() -> str:
    fmt = QLocale().dateFormat(QLocale.FormatType.ShortFormat)
    if "yyyy" not in fmt:
        fmt = fmt.replace("yy", "yyyy")
    return fmt


def format_iso_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        d = date.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    return QLocale().toString(QDate(d.year, d.month, d.day), date_format())


def parse_date(text: str) -> str | None:
    """ISO date from text typed the chosen language's way or as ``2026-05-01``; None if unreadable."""
    text = text.strip()
    if not text:
        return None
    for d in (QLocale().toDate(text, date_format()), QDate.fromString(text, Qt.DateFormat.ISODate),
              QLocale.c().toDate(text, date_format())):
        if d.isValid():
            return f"{d.year():04d}-{d.month():02d}-{d.day():02d}"
    return None


# -- the editors ------------------------------------------------------------------------------

class FieldEditor(QWidget):
    """Base of every editor: ``changed`` fires on each edit made by the person."""

    changed = Signal()

    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = fld
        self._loading = False
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.layout_ = lay

    def _emit(self, *_args: Any) -> None:
        if not self._loading:
            self.changed.emit()

    def value(self) -> tuple[Any, str | None]:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        self._loading = True
        try:
            self._set(value)
        finally:
            self._loading = False

    def _set(self, value: Any) -> None:
        raise NotImplementedError

    def input_widget(self) -> QWidget:
        raise NotImplementedError

    def focus_input(self) -> None:
        self.input_widget().setFocus(Qt.FocusReason.OtherFocusReason)

    def set_accessible(self, name: str, description: str = "") -> None:
        w = self.input_widget()
        w.setAccessibleName(name)
        if description:
            w.setAccessibleDescription(description)


class TextEditor(FieldEditor):
    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        self.multiline = fld.multiline or (fld.min_length or 0) >= 100
        if self.multiline:
            self.edit: QLineEdit | QPlainTextEdit = QPlainTextEdit()
            self.edit.setTabChangesFocus(True)
            lines = 5 if (fld.min_length or 0) >= 200 or (fld.max_length or 0) > 1000 else 3
            self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * lines + 14)
            self.edit.textChanged.connect(self._on_text)
        else:
            self.edit = QLineEdit()
            if fld.max_length:
                self.edit.setMaxLength(fld.max_length)
            self.edit.textEdited.connect(self._on_text)
        box.addWidget(self.edit)
        self.counter = lead(QLabel())
        tint(self.counter, HINT)
        self.counter.setVisible(bool(fld.min_length or (fld.max_length and self.multiline)))
        box.addWidget(self.counter)
        self.layout_.addLayout(box)
        self._update_counter()

    def _text(self) -> str:
        e = self.edit
        return e.toPlainText() if isinstance(e, QPlainTextEdit) else e.text()

    def _on_text(self, *_a: Any) -> None:
        self._update_counter()
        self._emit()

    def _update_counter(self) -> None:
        n = len(self._text().strip())
        f = self.field
        if f.min_length and n < f.min_length:
            self.counter.setText(_("{count} characters (at least {min})", count=n, min=f.min_length))
        elif f.max_length:
            self.counter.setText(_("{count} characters (at most {max})", count=n, max=f.max_length))
        else:
            self.counter.setText(_("{count} characters", count=n))

    def value(self) -> tuple[Any, str | None]:
        text = self._text()
        return ("" if not text.strip() else text), None

    def _set(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if isinstance(self.edit, QPlainTextEdit):
            self.edit.setPlainText(text)
        else:
            self.edit.setText(text)
        self._update_counter()

    def input_widget(self) -> QWidget:
        return self.edit


class YesNoEditor(FieldEditor):
    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        self.yes = QRadioButton(_("Yes"))
        self.no = QRadioButton(_("No"))
        self.group = QButtonGroup(self)
        self.group.addButton(self.yes)
        self.group.addButton(self.no)
        self.yes.toggled.connect(self._emit_if_checked)
        self.no.toggled.connect(self._emit_if_checked)
        self.layout_.addWidget(self.yes)
        self.layout_.addWidget(self.no)
        self.layout_.addStretch(1)

    def _emit_if_checked(self, checked: bool) -> None:
        if checked:
            self._emit()

    def value(self) -> tuple[Any, str | None]:
        return (True if self.yes.isChecked() else False if self.no.isChecked() else None), None

    def _set(self, value: Any) -> None:
        self.group.setExclusive(False)
        self.yes.setChecked(value is True)
        self.no.setChecked(value is False)
        self.group.setExclusive(True)

    def input_widget(self) -> QWidget:
        return self.no if self.no.isChecked() else self.yes

    def set_accessible(self, name: str, description: str = "") -> None:
        for b, word in ((self.yes, _("Yes")), (self.no, _("No"))):
            b.setAccessibleName(f"{name}: {word}")
            if description:
                b.setAccessibleDescription(description)


class ChoiceEditor(FieldEditor):
    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        self.combo = QComboBox()
        self.combo.setPlaceholderText(_("Choose…"))
        for o in fld.options:
            self.combo.addItem(text_in(o.label), o.id)
        self.combo.setCurrentIndex(-1)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(24)
        self.combo.currentIndexChanged.connect(self._emit)
        self.layout_.addWidget(self.combo, 1)

    def value(self) -> tuple[Any, str | None]:
        i = self.combo.currentIndex()
        return (self.combo.itemData(i) if i >= 0 else None), None

    def _set(self, value: Any) -> None:
        self.combo.setCurrentIndex(self.combo.findData(value) if value is not None else -1)

    def input_widget(self) -> QWidget:
        return self.combo


class CheckList(QListWidget):
    """A list of check boxes with one tab stop: arrows move, Space ticks."""

    toggled = Signal()

    def __init__(self, options: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for oid, label in options:
            it = QListWidgetItem(label)
            it.setData(Qt.ItemDataRole.UserRole, oid)
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            it.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(it)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        rows = min(len(options), 8)
        self.setFixedHeight(max(1, rows) * (self.fontMetrics().height() + 8) + 6)
        self.itemChanged.connect(lambda _it: self.toggled.emit())
        if options:
            self.setCurrentRow(0)

    def keyPressEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        if ev.key() == Qt.Key.Key_Space and self.currentItem() is not None:
            it = self.currentItem()
            it.setCheckState(Qt.CheckState.Unchecked if it.checkState() == Qt.CheckState.Checked
                             else Qt.CheckState.Checked)
            return
        super().keyPressEvent(ev)

    def checked_ids(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked_ids(self, ids: list[str] | None) -> None:
        wanted = set(ids or [])
        self.blockSignals(True)
        for i in range(self.count()):
            it = self.item(i)
            it.setCheckState(Qt.CheckState.Checked if it.data(Qt.ItemDataRole.UserRole) in wanted
                             else Qt.CheckState.Unchecked)
        self.blockSignals(False)


class MultiChoiceEditor(FieldEditor):
    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        self.list = CheckList([(o.id, text_in(o.label)) for o in fld.options])
        self.list.toggled.connect(self._emit)
        self.layout_.addWidget(self.list, 1)

    def value(self) -> tuple[Any, str | None]:
        return self.list.checked_ids(), None

    def _set(self, value: Any) -> None:
        self.list.set_checked_ids(value if isinstance(value, list) else [])

    def input_widget(self) -> QWidget:
        return self.list


class NumberEditor(FieldEditor):
    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        self.edit = QLineEdit()
        self.edit.setMaximumWidth(self.edit.fontMetrics().horizontalAdvance("0") * 22)
        self.edit.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.edit.textEdited.connect(self._emit)
        self.layout_.addWidget(self.edit)
        unit = unit_text(fld)
        if unit:
            self.unit = QLabel(unit)
            self.layout_.addWidget(self.unit)
        self.layout_.addStretch(1)

    def value(self) -> tuple[Any, str | None]:
        text = self.edit.text()
        if not text.strip():
            return None, None
        v = parse_number(text)
        return (None, NOT_A_NUMBER) if v is None else (v, None)

    def _set(self, value: Any) -> None:
        self.edit.setText(fmt_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
                          else "")

    def input_widget(self) -> QWidget:
        return self.edit


class DateEditor(FieldEditor):
    """A date typed the chosen language's way (or ``2026-05-01``), or picked from a calendar
    (the button, or F4 / Alt+Down in the box)."""

    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        self.edit = QLineEdit()
        fmt = date_format()
        self.edit.setPlaceholderText(fmt.lower())
        self.edit.setMaximumWidth(self.edit.fontMetrics().horizontalAdvance("0000-00-00") * 2)
        self.edit.textEdited.connect(self._emit)
        self.pick = QToolButton()
        self.pick.setText("…")
        self.pick.setToolTip(_("Pick a date from a calendar"))
        self.pick.setAccessibleName(_("Pick a date from a calendar"))
        self.pick.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keyboard way is F4 in the box
        self.pick.clicked.connect(self.open_calendar)
        for key in ("F4", "Alt+Down"):
            sc = QShortcut(QKeySequence(key), self.edit)
            sc.setContext(Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(self.open_calendar)
        self.layout_.addWidget(self.edit)
        self.layout_.addWidget(self.pick)
        self.layout_.addStretch(1)

    def open_calendar(self) -> None:
        menu = QMenu(self)
        cal = QCalendarWidget(menu)
        iso = parse_date(self.edit.text())
        if iso:
            d = date.fromisoformat(iso)
            cal.setSelectedDate(QDate(d.year, d.month, d.day))
        act = QWidgetAction(menu)
        act.setDefaultWidget(cal)
        menu.addAction(act)

        def chosen(qd: QDate) -> None:
            self.edit.setText(format_iso_date(f"{qd.year():04d}-{qd.month():02d}-{qd.day():02d}"))
            menu.close()
            self._emit()

        cal.activated.connect(chosen)
        cal.clicked.connect(chosen)
        cal.setFocus()
        menu.popup(self.edit.mapToGlobal(self.edit.rect().bottomLeft()))

    def value(self) -> tuple[Any, str | None]:
        text = self.edit.text()
        if not text.strip():
            return None, None
        iso = parse_date(text)
        return (None, NOT_A_DATE) if iso is None else (iso, None)

    def _set(self, value: Any) -> None:
        self.edit.setText(format_iso_date(value) if isinstance(value, str) else "")

    def input_widget(self) -> QWidget:
        return self.edit


# -- the repeating table ---------------------------------------------------------------------

INVALID = object()
RAW_ROLE = Qt.ItemDataRole.UserRole + 1


def cell_text(col: Field, value: Any) -> str:
    if value is None:
        return ""
    t = col.type
    if t == "single_choice":
        return next((text_in(o.label) for o in col.options if o.id == value), str(value))
    if t == "multiple_choice":
        return ", ".join(text_in(o.label) for o in col.options if o.id in (value or []))
    if t == "yes_no":
        return _("Yes") if value is True else _("No") if value is False else ""
    if t == "number":
        return fmt_number(value) if isinstance(value, (int, float)) else str(value)
    if t == "date":
        return format_iso_date(value)
    return str(value)


class _CellDelegate(QStyledItemDelegate):
    def __init__(self, owner: "TableEditor", parent: QWidget) -> None:
        super().__init__(parent)
        self.owner = owner
        self.open_editor: QWidget | None = None  # the in-place editor now open, if any

    def createEditor(self, parent: QWidget, option: Any, index: QModelIndex) -> QWidget:  # noqa: N802
        self.open_editor = self._create(parent, index)
        return self.open_editor

    def destroyEditor(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        if editor is self.open_editor:
            self.open_editor = None
        super().destroyEditor(editor, index)

    def _create(self, parent: QWidget, index: QModelIndex) -> QWidget:
        col = self.owner.field.columns[index.column()]
        if col.type in ("single_choice", "yes_no"):
            cb = QComboBox(parent)
            opts = [(o.id, text_in(o.label)) for o in col.options] if col.type == "single_choice" else \
                [(True, _("Yes")), (False, _("No"))]
            cb.addItem("", None)
            for oid, label in opts:
                cb.addItem(label, oid)
            cb.setAccessibleName(text_in(col.label))
            return cb
        if col.type == "multiple_choice":
            lst = CheckList([(o.id, text_in(o.label)) for o in col.options], parent)
            lst.setAccessibleName(text_in(col.label))
            return lst
        ed = QLineEdit(parent)
        ed.setAccessibleName(text_in(col.label))
        if col.max_length:
            ed.setMaxLength(col.max_length)
        if col.type == "date":
            ed.setPlaceholderText(date_format().lower())
        return ed

    def updateEditorGeometry(self, editor: QWidget, option: Any, index: QModelIndex) -> None:  # noqa: N802
        rect = option.rect
        if isinstance(editor, CheckList):
            rect = rect.adjusted(0, 0, 0, editor.height() - rect.height())
        editor.setGeometry(rect)

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        value = index.data(Qt.ItemDataRole.UserRole)
        raw = index.data(RAW_ROLE)
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)) if value is not None else 0)
        elif isinstance(editor, CheckList):
            editor.set_checked_ids(value if isinstance(value, list) else [])
        elif isinstance(editor, QLineEdit):
            editor.setText(raw if raw else index.data(Qt.ItemDataRole.DisplayRole) or "")

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex) -> None:  # noqa: N802
        col = self.owner.field.columns[index.column()]
        if isinstance(editor, QComboBox):
            self.owner.set_cell(index.row(), index.column(), editor.currentData())
        elif isinstance(editor, CheckList):
            self.owner.set_cell(index.row(), index.column(), editor.checked_ids() or None)
        elif isinstance(editor, QLineEdit):
            self.owner.set_cell_text(index.row(), index.column(), editor.text())
        del col


class TableEditor(FieldEditor):
    """A repeating table: one row per item, with Add row / Remove row. Cells are edited in place
    (type, or F2); Tab leaves the table, arrows move between cells."""

    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(fld, parent)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(fld.columns))
        self.table.setHorizontalHeaderLabels([text_in(c.label) + ("" if c.required else " " + _("(optional)"))
                                              for c in fld.columns])
        self.table.setTabKeyNavigation(False)
        self.delegate = _CellDelegate(self, self.table)  # owned by the table, so it goes with it
        self.table.setItemDelegate(self.delegate)
        triggers = QAbstractItemView.EditTrigger
        self.table.setEditTriggers(triggers.DoubleClicked | triggers.EditKeyPressed | triggers.AnyKeyPressed |
                                   triggers.SelectedClicked)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        fm = self.table.fontMetrics()
        for i, c in enumerate(fld.columns):
            wide = c.type == "text" and (c.multiline or (c.max_length or 0) > 80)
            self.table.setColumnWidth(i, fm.horizontalAdvance("M") * (18 if wide else 10))
        box.addWidget(self.table)
        buttons = QHBoxLayout()
        self.add_btn = QPushButton(_("Add row"))
        self.add_btn.setAccessibleName(_("Add a row to {table}", table=field_label(fld)))
        self.add_btn.clicked.connect(self._add_clicked)
        self.remove_btn = QPushButton(_("Remove row"))
        self.remove_btn.setAccessibleName(_("Remove the selected row of {table}", table=field_label(fld)))
        self.remove_btn.clicked.connect(self.remove_selected_row)
        buttons.addWidget(self.add_btn)
        buttons.addWidget(self.remove_btn)
        buttons.addStretch(1)
        box.addLayout(buttons)
        self.layout_.addLayout(box)
        self._set([])

    # -- rows and cells -----------------------------------------------------------------------
    def _fit_height(self) -> None:
        rows = min(max(self.table.rowCount(), 1), 8)
        h = self.table.horizontalHeader().height() + self.table.verticalHeader().defaultSectionSize() * rows + 6
        self.table.setFixedHeight(h + (self.table.horizontalScrollBar().sizeHint().height()))
        mx = self.field.max_rows
        self.add_btn.setEnabled(mx is None or self.table.rowCount() < mx)
        self.remove_btn.setEnabled(self.table.rowCount() > 0)

    def add_row(self, values: dict[str, Any] | None = None) -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, col in enumerate(self.field.columns):
            it = QTableWidgetItem()
            self.table.setItem(r, c, it)
            self._store(r, c, (values or {}).get(col.id), None)
        self._fit_height()
        return r

    def _add_clicked(self) -> None:
        r = self.add_row()
        self.table.setCurrentCell(r, 0)
        self.table.setFocus()
        self._emit()

    def remove_selected_row(self) -> None:
        r = self.table.currentRow()
        if r < 0 and self.table.rowCount():
            r = self.table.rowCount() - 1
        if r >= 0:
            self.table.removeRow(r)
            self._fit_height()
            self._emit()

    def _store(self, r: int, c: int, value: Any, raw: str | None) -> None:
        it = self.table.item(r, c)
        col = self.field.columns[c]
        it.setData(Qt.ItemDataRole.UserRole, INVALID if raw is not None else value)
        it.setData(RAW_ROLE, raw)
        it.setText(raw if raw is not None else cell_text(col, value))
        err = NOT_A_NUMBER if raw is not None and col.type == "number" else \
            NOT_A_DATE if raw is not None else validate_value(col, value)
        if err:
            it.setBackground(QBrush(QColor(255, 220, 220)))
            it.setToolTip(problem_text(col, err))
        else:
            it.setBackground(QBrush())
            it.setToolTip("")

    def set_cell(self, r: int, c: int, value: Any) -> None:
        """Set one cell to a stored value (what the in-place editors do)."""
        self._store(r, c, value, None)
        self._emit()

    def set_cell_text(self, r: int, c: int, text: str) -> None:
        """Set one cell from typed text, read as the column's type."""
        col = self.field.columns[c]
        text = text.strip()
        if not text:
            self._store(r, c, None, None)
        elif col.type == "number":
            v = parse_number(text)
            self._store(r, c, v, None if v is not None else text)
        elif col.type == "date":
            iso = parse_date(text)
            self._store(r, c, iso, None if iso else text)
        else:
            self._store(r, c, text, None)
        self._emit()

    def value(self) -> tuple[Any, str | None]:
        rows: list[dict[str, Any]] = []
        problem = None
        for r in range(self.table.rowCount()):
            row: dict[str, Any] = {}
            for c, col in enumerate(self.field.columns):
                v = self.table.item(r, c).data(Qt.ItemDataRole.UserRole)
                if v is INVALID:
                    problem = problem or (NOT_A_NUMBER if col.type == "number" else NOT_A_DATE)
                    continue
                if v not in (None, "", []):
                    row[col.id] = v
            if row:
                rows.append(row)
        return rows, problem

    def _set(self, value: Any) -> None:
        self.table.setRowCount(0)
        rows = value if isinstance(value, list) else []
        for row in rows:
            if isinstance(row, dict):
                self.add_row(row)
        while self.table.rowCount() < max(self.field.min_rows, 1):
            self.add_row()
        self._fit_height()

    def input_widget(self) -> QWidget:
        return self.table

    def focus_input(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.table.currentRow() < 0 and self.table.rowCount():
            self.table.setCurrentCell(0, 0)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(600, super().sizeHint().height())


EDITORS: dict[str, type[FieldEditor]] = {
    "text": TextEditor, "yes_no": YesNoEditor, "single_choice": ChoiceEditor,
    "multiple_choice": MultiChoiceEditor, "number": NumberEditor, "date": DateEditor, "table": TableEditor,
}


def make_editor(fld: Field, parent: QWidget | None = None) -> FieldEditor:
    return EDITORS[fld.type](fld, parent)


class FieldRow(QWidget):
    """A field's label (with "optional" when it is), its help, its editor and its message line."""

    def __init__(self, fld: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = fld
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 4)
        lay.setSpacing(2)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        f = self.label.font()
        f.setBold(True)
        self.label.setFont(f)
        lead(self.label)
        lay.addWidget(self.label)
        help_text = text_in(fld.help) if fld.help else ""
        if help_text:
            self.help = QLabel(help_text)
            self.help.setWordWrap(True)
            tint(self.help, HINT)
            lead(self.help)
            lay.addWidget(self.help)
        self.editor = make_editor(fld, self)
        self.editor.set_accessible(field_label(fld), help_text)
        self.label.setBuddy(self.editor.input_widget())
        lay.addWidget(self.editor)
        self.message = QLabel()
        self.message.setWordWrap(True)
        tint(self.message, ERROR)
        lead(self.message)
        self.message.setVisible(False)
        self.message.setAccessibleName(_("Problem with {field}", field=field_label(fld)))
        lay.addWidget(self.message)
        self.set_required(fld.required and not fld.required_if)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def set_required(self, required: bool) -> None:
        text = field_label(self.field)
        self.label.setText(text if required else f"{text} {_('(optional)')}")

    def update_required(self, answers: dict[str, Any]) -> None:
        self.set_required(is_required(self.field, answers))

    def check(self) -> tuple[Any, bool]:
        """Read the editor and show any problem; returns (value, ok to save)."""
        value, problem = self.editor.value()
        if problem is None:
            problem = validate_value(self.field, value)
        if problem:
            self.show_problem(problem_text(self.field, problem) + " " + _("Not saved until it is corrected."))
            return value, False
        self.show_problem("")
        return value, True

    def show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

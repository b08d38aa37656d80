"""Driving the real widgets the way a person does: typing, clicking, choosing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPlainTextEdit

from app.ui.fields import (
    ChoiceEditor,
    DateEditor,
    MultiChoiceEditor,
    NumberEditor,
    TableEditor,
    TextEditor,
    YesNoEditor,
    cell_text,
    format_iso_date,
)
from app.ui.look import fmt_number


def type_into(qtbot: Any, widget: Any, text: str) -> None:
    widget.setFocus()
    if isinstance(widget, QPlainTextEdit):
        widget.selectAll()
        widget.insertPlainText(text)  # typing 500 characters one by one only makes the test slow
    else:
        widget.selectAll()
        qtbot.keyClick(widget, Qt.Key.Key_Delete)
        qtbot.keyClicks(widget, text)


def typed_text(col_or_field: Any, value: Any) -> str:
    t = col_or_field.type
    if t == "number":
        return fmt_number(value)
    if t == "date":
        return format_iso_date(value)
    return str(value)


def edit_cell(qtbot: Any, ed: TableEditor, r: int, c: int, value: Any) -> None:
    """Edit one cell in place through the table's delegate, as F2 + typing + Enter does."""
    col = ed.field.columns[c]
    table = ed.table
    table.setFocus()
    table.setCurrentCell(r, c)
    table.editItem(table.item(r, c))
    editor = table.itemDelegate().open_editor
    assert editor is not None and table.viewport().isAncestorOf(editor), editor
    if isinstance(editor, QComboBox):
        editor.setCurrentIndex(editor.findData(value))
        table.commitData(editor)
        table.closeEditor(editor, table.itemDelegate().EndEditHint.NoHint)
    elif isinstance(editor, QLineEdit):
        editor.setText(typed_text(col, value))
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    else:  # multiple choice in a cell: tick through the list editor
        editor.set_checked_ids(value)
        table.commitData(editor)
        table.closeEditor(editor, table.itemDelegate().EndEditHint.NoHint)
    # the delegate commits on Return through a queued call
    qtbot.waitUntil(lambda: table.item(r, c).text() == cell_text(col, value), timeout=2000)


def fill(qtbot: Any, editor: Any, value: Any) -> None:
    if isinstance(editor, TextEditor):
        type_into(qtbot, editor.edit, value)
    elif isinstance(editor, YesNoEditor):
        qtbot.mouseClick(editor.yes if value else editor.no, Qt.MouseButton.LeftButton)
    elif isinstance(editor, ChoiceEditor):
        editor.combo.setFocus()
        editor.combo.setCurrentIndex(editor.combo.findData(value))
    elif isinstance(editor, MultiChoiceEditor):
        lst = editor.list
        lst.setFocus()
        for i in range(lst.count()):
            it = lst.item(i)
            want = it.data(Qt.ItemDataRole.UserRole) in value
            if (it.checkState() == Qt.CheckState.Checked) != want:
                lst.setCurrentRow(i)
                qtbot.keyClick(lst, Qt.Key.Key_Space)
    elif isinstance(editor, (NumberEditor, DateEditor)):
        type_into(qtbot, editor.edit, typed_text(editor.field, value))
    elif isinstance(editor, TableEditor):
        while editor.table.rowCount() < len(value):
            qtbot.mouseClick(editor.add_btn, Qt.MouseButton.LeftButton)
        for r, row in enumerate(value):
            for c, col in enumerate(editor.field.columns):
                if row.get(col.id) is not None:
                    edit_cell(qtbot, editor, r, c, row[col.id])
    else:  # pragma: no cover
        raise AssertionError(type(editor))


def os_click(widget: Any) -> None:
    """A click as the window system delivers it (to the window, so modality and filters apply)."""
    from PySide6.QtTest import QTest

    top = widget.window()
    QTest.mouseClick(top.windowHandle(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget.mapTo(top, widget.rect().center()))


def activate(qtbot: Any, window: Any) -> None:
    """Show ``window`` and make it the active one, so keyboard focus goes where a person's would."""
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.raise_()
    qtbot.waitUntil(window.isActiveWindow)

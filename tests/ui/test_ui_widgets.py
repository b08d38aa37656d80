"""Each answer type's editor, validation as you type, evidence previews, indicator tables."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.model.demo import make_pdf, make_png, value_for
from app.model.framework import Field, Option, load_framework
from app.ui.evidence import pdf_page_count
from app.ui.fields import FieldRow, TableEditor, make_editor
from app.ui.look import fmt_number, fmt_size, parse_number
from uihelpers import edit_cell, fill, type_into


def every_field_type():
    fw = load_framework()
    seen = {}
    for st in fw.stages:
        for req in st.requirements():
            for f in req.fields:
                seen.setdefault(f.type, (req, f))
    return seen


@pytest.mark.parametrize("ftype", ["text", "yes_no", "single_choice", "multiple_choice", "number", "date", "table"])
def test_every_answer_type_round_trips_through_its_widget(qtbot, ftype):
    req, fld = every_field_type()[ftype]
    value = value_for(req, fld)
    row = FieldRow(fld)
    qtbot.addWidget(row)
    row.show()
    qtbot.waitExposed(row)
    changes = []
    row.editor.changed.connect(lambda: changes.append(1))
    fill(qtbot, row.editor, value)
    assert changes, "typing or clicking emits changed"
    got, ok = row.check()
    assert ok and got == value
    # and back: a stored value shows without counting as an edit
    other = make_editor(fld)
    qtbot.addWidget(other)
    n = []
    other.changed.connect(lambda: n.append(1))
    other.set_value(value)
    assert other.value() == (value, None) and n == []
    assert row.editor.input_widget().accessibleName() or ftype == "yes_no"


def test_number_validation_as_you_type(qtbot):
    fld = Field(id="share", type="number", label={"en": "Share"}, min=0, max=100, unit="percent")
    row = FieldRow(fld)
    qtbot.addWidget(row)
    row.show()
    type_into(qtbot, row.editor.edit, "abc")
    assert row.check() == (None, False) and row.message.text().startswith("Enter a number.")
    assert "Not saved" in row.message.text()
    type_into(qtbot, row.editor.edit, "150")
    assert not row.check()[1] and row.message.text().startswith("The number must be at most 100.")
    type_into(qtbot, row.editor.edit, "12.5")
    assert row.check() == (12.5, True) and not row.message.isVisible()


def test_table_rows_can_be_added_and_removed_and_bad_cells_are_flagged(qtbot):
    fld = Field(id="t", type="table", label={"en": "Things"}, min_rows=2, max_rows=3, columns=(
        Field(id="name", type="text", label={"en": "Name"}),
        Field(id="n", type="number", label={"en": "Count"}, integer=True),
        Field(id="k", type="single_choice", label={"en": "Kind"}, options=(Option("a", {"en": "A"}),
                                                                           Option("b", {"en": "B"}))),
    ))
    ed = TableEditor(fld)
    qtbot.addWidget(ed)
    ed.show()
    qtbot.waitExposed(ed)
    assert ed.table.rowCount() == 2  # the minimum shape is shown at once
    qtbot.mouseClick(ed.add_btn, Qt.MouseButton.LeftButton)
    assert ed.table.rowCount() == 3 and not ed.add_btn.isEnabled()  # max_rows
    edit_cell(qtbot, ed, 0, 0, "Market")
    edit_cell(qtbot, ed, 0, 1, 4)
    edit_cell(qtbot, ed, 0, 2, "b")
    assert ed.value() == ([{"name": "Market", "n": 4, "k": "b"}], None)  # blank rows are not stored
    ed.set_cell_text(1, 1, "four")
    value, problem = ed.value()
    assert problem == "Enter a number." and ed.table.item(1, 1).toolTip() == "Enter a number."
    ed.table.setCurrentCell(1, 0)
    qtbot.mouseClick(ed.remove_btn, Qt.MouseButton.LeftButton)
    assert ed.table.rowCount() == 2 and ed.value() == ([{"name": "Market", "n": 4, "k": "b"}], None)


def test_numbers_follow_the_chosen_language(qapp):
    from app.ui.look import apply_language

    apply_language(qapp, "fr")
    assert fmt_number(1234.5) == "1\u202f234,5"
    assert parse_number("1234,5") == 1234.5 and parse_number("1234.5") == 1234.5
    apply_language(qapp, "ar")
    assert "٫" in fmt_number(1234.5)
    assert parse_number(fmt_number(1234.5)) == 1234.5
    apply_language(qapp, "en")
    assert parse_number("12") == 12 and isinstance(parse_number("12"), int) and parse_number("x") is None


def test_pdf_page_count_is_read_cheaply_or_not_at_all(tmp_path):
    p = tmp_path / "a.pdf"
    p.write_bytes(make_pdf("Plan"))
    assert pdf_page_count(p) == 1
    q = tmp_path / "b.pdf"
    q.write_bytes(b"%PDF-1.7\n" + b"\x00" * 100)
    assert pdf_page_count(q) is None
    r = tmp_path / "c.txt"
    r.write_text("not a pdf")
    assert pdf_page_count(r) is None


def test_evidence_panel_previews_images_and_pdfs_and_removes(qtbot, demo_dir, launched, tmp_path, monkeypatch):
    ctx = launched(demo_dir)
    view = ctx.window.open_stage("A", 0)
    panel = next(rv.evidence for rv in view.current_page().requirements.values()
                 if rv.evidence is not None and any(e.kind == "document" for e in rv.req.evidence))
    png = tmp_path / "site photo.png"
    png.write_bytes(make_png(120, 80, 3))
    pdf = tmp_path / "council decision.pdf"
    pdf.write_bytes(make_pdf("Decision"))
    before = len(panel.files)
    task = panel.attach_files([str(pdf)], kind="document")
    with qtbot.waitSignal(task.finished, timeout=10000):
        pass
    assert len(panel.files) == before + 1
    item = panel.list.currentItem()
    assert item.text(0) == "council decision.pdf" and item.text(2) == fmt_size(pdf.stat().st_size)
    assert panel.preview.toolTip() == "PDF document, 1 page"
    # a file of a kind the requirement does not accept gets one readable line, nothing attached
    task = panel.attach_files([str(png)], kind="document")
    with qtbot.waitSignal(task.finished, timeout=10000):
        pass
    assert len(panel.files) == before + 1 and "site photo.png" in panel.message.text()
    # remove (the confirmation answered yes)
    monkeypatch.setattr("app.ui.dialogs.confirm", lambda *a, **k: True)
    panel.list.setCurrentItem(panel.list.topLevelItem(panel.list.topLevelItemCount() - 1))
    qtbot.mouseClick(panel.remove_btn, Qt.MouseButton.LeftButton)
    assert len(panel.files) == before
    assert all(e.name != "council decision.pdf" for e in ctx.kit.list_evidence("A"))


def test_image_evidence_shows_a_picture(qtbot, demo_dir, launched, tmp_path):
    ctx = launched(demo_dir)
    view = ctx.window.open_stage("A", 2)
    panel = next(rv.evidence for rv in view.current_page().requirements.values()
                 if rv.evidence is not None and any(e.kind == "map" for e in rv.req.evidence))
    png = tmp_path / "ward map.png"
    png.write_bytes(make_png(120, 80, 3))
    task = panel.attach_files([str(png)])  # the kind is decided from the file: a map
    with qtbot.waitSignal(task.finished, timeout=10000):
        pass
    e = panel.selected()
    assert e.name == "ward map.png" and e.kind == "map"
    pix = panel.preview.pixmap()
    assert not pix.isNull() and pix.width() > 100


def test_drop_attaches_through_the_same_path(qtbot, demo_dir, launched, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    ctx = launched(demo_dir)
    view = ctx.window.open_stage("A", 0)
    panel = next(rv.evidence for rv in view.current_page().requirements.values() if rv.evidence is not None)
    pdf = tmp_path / "dropped.pdf"
    pdf.write_bytes(make_pdf("Dropped"))
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(pdf))])
    ev = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    panel.list.dropEvent(ev)
    assert panel.task is not None
    with qtbot.waitSignal(panel.task.finished, timeout=10000):
        pass
    assert any(e.name == "dropped.pdf" for e in panel.files)


def test_indicator_table_rejects_a_bad_value_and_charts_the_rest(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    view = ctx.window.open_stage("A", 0)
    ip = next(rv.indicators for rv in view.current_page().requirements.values() if rv.indicators is not None)
    iid = ip.indicator_id
    n = len(ctx.kit.indicator_values(iid))
    assert ip.table.rowCount() == n and n > 0
    assert set(ip.chart.points()) >= {"baseline", "observed", "target"}
    type_into(qtbot, ip.value, "lots")
    assert ip.message.text() == "Enter a number."
    assert not ip.save_value()
    assert len(ctx.kit.indicator_values(iid)) == n
    # a breakdown value (e.g. women only) is its own row
    ind = ctx.catalogue().indicators[iid]
    if ind.disaggregation:
        dim = ind.disaggregation[0]
        cb = ip.dims[dim]
        cb.setCurrentIndex(1)
    ip.year.setValue(2025)
    type_into(qtbot, ip.value, "17")
    assert ip.save_value()
    assert ip.table.rowCount() == n + 1
    assert len(ctx.kit.indicator_values(iid)) == n + 1
    ip.table.selectRow(ip.table.rowCount() - 1)
    ip.table.setCurrentCell(ip.table.rowCount() - 1, 0)
    ip.delete_selected()
    assert ip.table.rowCount() == n


def test_missing_list_jumps_to_the_field_and_focuses_it(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    view = win.open_stage("C", 0)
    field_items = [m for m in view.missing if m.target == "field"]
    assert field_items, "stage C of the demo is half done"
    target = field_items[-1]
    row = view.missing.index(target)
    view.missing_list.setFocus()
    view.missing_list.setCurrentRow(row)
    qtbot.keyClick(view.missing_list, Qt.Key.Key_Return)
    assert view.index == target.page
    editor = view.current_page().requirements[target.requirement_id].rows[target.field_id].editor
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None
                    and (editor.isAncestorOf(QApplication.focusWidget()) or QApplication.focusWidget() is editor))
    assert "·" in view.missing_list.item(row).text()


def test_lists_of_names_sort_by_the_rules_of_the_interface_language(qapp):
    from app.ui.look import apply_language, collation_key

    try:
        apply_language(qapp, "es")
        assert sorted(["Ñuñoa", "Oaxaca", "Nairobi", "nuevo"], key=collation_key) == ["Nairobi", "nuevo", "Ñuñoa",
                                                                                       "Oaxaca"]
        apply_language(qapp, "zh")
        assert sorted(["中山", "北京", "安阳"], key=collation_key) == ["安阳", "北京", "中山"]  # an, bei, zhong
        apply_language(qapp, "ru")
        assert sorted(["Ярославль", "Ёлкино", "Екатеринбург", "Жуковский"], key=collation_key) == [
            "Екатеринбург", "Ёлкино", "Жуковский", "Ярославль"]
        apply_language(qapp, "en")
        assert sorted(["Ward 10", "ward 3", "Ward 2"], key=collation_key) == ["Ward 2", "ward 3", "Ward 10"]
    finally:
        apply_language(qapp, "en")

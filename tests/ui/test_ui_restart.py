"""Nothing is lost: close the app mid-stage, start it again, find every answer and the page."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.model.demo import value_for
from uihelpers import fill, type_into


def _blank_requirement_fields(view):
    """(page, requirement view, field) for fields of stage C that the demo left empty."""
    out = []
    for page_no in range(view.page_count):
        view.go_to(page_no)
        for rv in view.current_page().requirements.values():
            for fld in rv.req.fields:
                v, _p = rv.rows[fld.id].editor.value()
                if v in (None, "", []):
                    out.append((page_no, rv.req.id, fld))
    return out


def test_restart_mid_stage_restores_every_answer_and_the_page(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    view = win.open_stage("C")
    blanks = _blank_requirement_fields(view)
    types = {f.type for _p, _r, f in blanks}
    assert {"text", "number", "table", "multiple_choice"} <= types, types
    # fill one blank field of each type; a text field last, typed just before closing (no time to autosave)
    chosen, seen = [], set()
    for page_no, req_id, fld in blanks:
        if fld.type not in seen:
            seen.add(fld.type)
            chosen.append((page_no, req_id, fld))
    chosen.sort(key=lambda c: c[2].type == "text")
    expected = {}
    for page_no, req_id, fld in chosen:
        view.go_to(page_no)
        rv = view.current_page().requirements[req_id]
        value = value_for(ctx.kit.framework.requirement(req_id), fld)
        if fld.type == "text":
            value = "typed just before closing"
        fill(qtbot, rv.rows[fld.id].editor, value)
        expected[(req_id, fld.id)] = value
    last_page = chosen[-1][0]
    assert ctx.autosaver.pending  # the last keystrokes are not written yet
    win.close()  # the person closes the window: everything pending is flushed, the Kit closed
    assert ctx.closed

    ctx2 = launched(demo_dir)
    win2 = ctx2.window
    view2 = win2.stage_view
    assert view2 is not None and win2.stack.currentWidget() is view2, "reopens the stage it was closed on"
    assert view2.stage.id == "C" and view2.index == last_page, "and the page"
    answers = ctx2.kit.answers("C")
    for (req_id, fid), value in expected.items():
        assert answers[req_id][fid] == value, (req_id, fid)
        page = next(i for i, c in enumerate(view2.stage.criteria) if any(r.id == req_id for r in c.requirements))
        view2.go_to(page)
        shown, problem = view2.current_page().requirements[req_id].rows[fid].editor.value()
        assert problem is None and shown == value, (req_id, fid, shown)
    # and every other answer of the stage is shown as stored
    for page_no in range(view2.page_count):
        view2.go_to(page_no)
        for rv in view2.current_page().requirements.values():
            for fid, row in rv.rows.items():
                stored = answers.get(rv.req.id, {}).get(fid)
                shown = row.editor.value()[0]
                if stored in (None, "", []):
                    assert shown in (None, "", []), (rv.req.id, fid, shown)
                else:
                    assert shown == stored, (rv.req.id, fid, shown, stored)


def test_autosave_writes_within_a_second_and_says_saved(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    view = win.open_stage("D", 0)
    rv = next(r for r in view.current_page().requirements.values()
              if any(f.type == "text" for f in r.req.fields))
    fld = next(f for f in rv.req.fields if f.type == "text")
    type_into(qtbot, rv.rows[fld.id].editor.edit, "A change nobody saved by hand")
    assert win.saved_label.text() == "Saving…"
    qtbot.waitUntil(lambda: ctx.kit.answers("D").get(rv.req.id, {}).get(fld.id) == "A change nobody saved by hand",
                    timeout=1200)
    assert win.saved_label.text() == "All changes saved"


def test_language_switch_keeps_pending_answers_and_place(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    view = win.open_stage("C", 1)
    rv, fld = next((r, f) for r in view.current_page().requirements.values() for f in r.req.fields
                   if f.type in ("text", "number"))
    type_into(qtbot, rv.rows[fld.id].editor.edit, "42" if fld.type == "number" else "written before switching")
    win.language_actions["fr"].trigger()
    win2 = ctx.window
    assert win2 is not win and win2.stage_view is not None and win2.stage_view.index == 1
    stored = ctx.kit.answers("C")[rv.req.id][fld.id]
    assert stored == (42 if fld.type == "number" else "written before switching")
    assert ctx.kit.get_setting("ui.language") == "fr"
    shown = win2.stage_view.current_page().requirements[rv.req.id].rows[fld.id].editor.value()[0]
    assert shown == stored
    qtbot.mouseClick(win2.stage_view.home_btn, Qt.MouseButton.LeftButton)
    assert win2.stack.currentWidget() is win2.home

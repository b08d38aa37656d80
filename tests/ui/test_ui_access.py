"""For every user: keyboard only, accessible names, Arabic mirrored, small screens and 200 %."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTreeWidget,
)

from tests.conftest import ROOT
from uihelpers import activate


def test_a_whole_stage_page_is_reachable_and_fillable_with_the_keyboard_alone(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    activate(qtbot, win)
    view = win.open_stage("C", 0)
    page = view.current_page()
    wanted = {}
    for rv in page.requirements.values():
        for fid, row in rv.rows.items():
            ed = row.editor
            targets = {ed.yes, ed.no} if hasattr(ed, "yes") else {ed.input_widget()}
            wanted[(rv.req.id, fid)] = targets
        if rv.evidence is not None:
            wanted[(rv.req.id, "attach")] = {rv.evidence.attach_btn}
    first = next(iter(next(iter(page.requirements.values())).rows.values())).editor
    first.focus_input()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)
    seen = set()
    for _ in range(400):
        w = QApplication.focusWidget()
        seen.add(w)
        qtbot.keyClick(w, Qt.Key.Key_Tab)
        if all(seen & t for t in wanted.values()):
            break
    missed = [k for k, t in wanted.items() if not seen & t]
    assert missed == [], f"Tab never reaches {missed}"
    # type an answer with keys only, then move on with Ctrl+PgDown: the answer is saved
    rv, fid = next((rv, f.id) for rv in page.requirements.values() for f in rv.req.fields
                   if f.type == "text")
    edit = rv.rows[fid].editor.input_widget()
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, "Typed with the keyboard")
    qtbot.keyClick(edit, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert view.index == 1
    assert ctx.kit.answers("C")[rv.req.id][fid] == "Typed with the keyboard"
    qtbot.keyClick(QApplication.focusWidget() or view, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert view.index == 0


def _unnamed_inputs(root):
    kinds = (QLineEdit, QPlainTextEdit, QComboBox, QListWidget, QTableWidget, QTreeWidget, QSpinBox)
    bad = []
    for w in [w for k in kinds for w in root.findChildren(k)]:
        if w.parent() is not None and isinstance(w.parent(), QComboBox):
            continue  # a combo box's own inner widgets
        if type(w).__name__.startswith("Q") and w.objectName().startswith("qt_"):
            continue
        if not w.accessibleName():
            bad.append(type(w).__name__)
    for b in root.findChildren(QAbstractButton):
        if not (b.text() or b.accessibleName()) and b.isVisible() and not b.objectName().startswith("qt_"):
            bad.append(f"button without text: {type(b).__name__} {b.objectName()} in {type(b.parent()).__name__}")
    return bad


def test_controls_have_accessible_names(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    assert _unnamed_inputs(win.home) == []
    view = win.open_stage("A", 0)
    assert _unnamed_inputs(view) == []
    dlg = win.open_seal("A")
    assert _unnamed_inputs(dlg) == []
    dlg.reject()


def test_arabic_mirrors_the_whole_layout(qtbot, demo_dir, launched):
    ctx = launched(demo_dir, "ar")
    win = ctx.window
    activate(qtbot, win)
    assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert win.layoutDirection() == Qt.LayoutDirection.RightToLeft
    cards = win.home.cards
    x = {s: c.mapTo(win, QPoint(0, 0)).x() for s, c in cards.items()}
    assert x["A"] > x["B"] > x["C"] > x["D"], "stage A starts on the right"
    view = win.open_stage("A", 0)
    side = view.crit_list.mapTo(win, QPoint(0, 0)).x()
    body = view.stack.mapTo(win, QPoint(0, 0)).x()
    assert side > body, "the criteria list is on the right in Arabic"
    assert view.next_btn.mapTo(win, QPoint(0, 0)).x() < view.back_btn.mapTo(win, QPoint(0, 0)).x()
    # switching back to English un-mirrors
    win.language_actions["en"].trigger()
    assert QApplication.layoutDirection() == Qt.LayoutDirection.LeftToRight
    assert ctx.window.stage_view.index == 0


def test_fits_1024_by_768(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    win.resize(1024, 768)
    activate(qtbot, win)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 768
    view = win.open_stage("B", 0)
    qtbot.waitUntil(lambda: view.next_btn.isVisible())
    for btn in (view.next_btn, view.back_btn, view.home_btn, view.seal_btn):
        top_left = btn.mapTo(win, QPoint(0, 0))
        assert 0 <= top_left.x() and top_left.x() + btn.width() <= win.width()
        assert 0 <= top_left.y() and top_left.y() + btn.height() <= win.height()


SCALED = r"""
import sys
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QPoint
app = QApplication([])
from app.ui.app import launch
ctx = launch(sys.argv[1], "en")
w = ctx.window
w.resize(1024, 768)
view = w.open_stage("A", 0)
for _ in range(5):
    app.processEvents()
b = view.next_btn
p = b.mapTo(w, QPoint(0, 0))
ok = b.isVisible() and p.x() + b.width() <= w.width() and p.y() + b.height() <= w.height()
print("scale", w.devicePixelRatio(), "ok" if ok else "cut")
ctx.shutdown()
"""


def test_usable_at_200_percent(demo_dir):
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", SCALED, str(demo_dir)], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "scale 2.0 ok"

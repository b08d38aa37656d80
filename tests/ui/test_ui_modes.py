"""The three modes of the program, the first run's kit check and role choice, and what every mode
owes every user: accessible names, Arabic mirrored, a mirrored wizard header."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QWizard

from app.stick import KitCheck
from reviewhelpers import member
from test_ui_access import _unnamed_inputs
from test_ui_tasks import _gui


def test_first_run_shows_the_kit_check_and_hides_it_off_a_stick(qtbot, tmp_path, launched, monkeypatch):
    from app import stick

    ctx = launched(tmp_path / "plain")
    page = ctx.wizard.language_page
    qtbot.waitUntil(lambda: page.check_task is not None and page.check_task.done, timeout=10000)
    assert ctx.kit_check.status == "not_on_stick" and not page.kit_check.isVisibleTo(ctx.wizard)

    altered = KitCheck("altered", "This stick was altered. Ask the platform for a new kit.")
    monkeypatch.setattr(stick, "check_this_kit", lambda progress=None, cancel=None: altered)
    ctx2 = launched(tmp_path / "on-a-stick")
    page2 = ctx2.wizard.language_page
    qtbot.waitUntil(lambda: page2.check_task.done, timeout=10000)
    assert page2.kit_check.isVisibleTo(ctx2.wizard) and page2.kit_check.text() == altered.message
    page2.choose("fr")  # the page is rebuilt in French: the answer is kept, not checked again
    page3 = ctx2.wizard.language_page
    assert page3 is not page2 and page3.check_task is None and page3.kit_check.text() == altered.message


def test_arabic_wizard_header_starts_on_the_right_like_the_page(qtbot, tmp_path, launched):
    ctx = launched(tmp_path / "data", "ar")
    wiz = ctx.wizard
    wiz.resize(900, 640)
    wiz.show()
    qtbot.waitExposed(wiz)
    wiz.next()  # the city's profile: its own title and subtitle
    assert wiz.currentId() == 1
    wiz.align_header()
    title, sub = wiz.header_labels()[:2]
    assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    for lb in (title, sub):
        assert lb.alignment() & Qt.AlignmentFlag.AlignRight and lb.alignment() & Qt.AlignmentFlag.AlignAbsolute
    # the title's text ends where the subtitle's does (QWizard gives the title a wider box)
    assert title.geometry().right() - title.contentsMargins().right() == sub.geometry().right()


def test_first_run_role_choice_opens_the_panel_workspace_and_is_remembered(qtbot, tmp_path, launched,
                                                                           demo_template):
    data = tmp_path / "panel-stick"
    ctx = launched(data)
    wiz = ctx.wizard
    page = wiz.language_page
    page.role_panel.setChecked(True)
    qtbot.mouseClick(wiz.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    panel = ctx.successor
    assert panel is not None and ctx.wizard is None and ctx.closed
    assert panel.window.isVisible() and panel.window.list_view.trust_note.isVisibleTo(panel.window)
    assert (data / "ui-mode").read_text().strip() == "panel"
    # the panel's trust pack, from the Workspace menu: a demo pack needs the box ticked
    dlg = panel.window.open_trust_dialog()
    dlg.folder.setText(str(demo_template / "demo" / "trust-pack"))
    qtbot.mouseClick(dlg.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=10000)
    assert dlg.pack is None and "demo" in dlg.message.text().lower() and not panel.has_panel_trust()
    dlg.demo.setChecked(True)
    qtbot.mouseClick(dlg.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task.done and dlg.pack is not None, timeout=10000)
    assert panel.has_panel_trust() and "Technical panel:" in dlg.message.text()
    dlg.accept()
    qtbot.waitUntil(lambda: not panel.window.list_view.trust_note.isVisibleTo(panel.window))
    panel.shutdown()
    r = _gui(["--data", str(data), "--exit-when-ready"])  # no option: the folder remembers its mode
    assert r.returncode == 0 and r.stdout.strip() == "ready", r.stderr[-2000:]


def test_the_panel_starts_from_the_command_line(review_world):
    r = _gui(["--panel", "--data", str(review_world.panel), "--exit-when-ready", "--lang", "ar"])
    assert r.returncode == 0 and r.stdout.strip() == "ready", r.stderr[-2000:]
    assert (review_world.panel / "ui-mode").read_text().strip() == "panel"


def test_every_control_is_named_and_arabic_mirrors_panel_and_officer(qtbot, review_world, tmp_path, launched_role):
    from app.review.workspace import PanelWorkspace

    w = review_world
    with PanelWorkspace(w.panel) as ws:
        ws.import_bundle(w.r1, member(w.city))
    ctx = launched_role("panel", w.panel, "ar")
    win = ctx.window
    assert _unnamed_inputs(win.list_view) == []
    view = win.open_review(w.r1_id)
    for i in range(view.page_count):
        view.go_to(i)
    assert _unnamed_inputs(view) == []
    win.show()
    qtbot.waitExposed(win)
    side = view.crit_list.mapTo(win, QPoint(0, 0)).x()
    body = view.stack.mapTo(win, QPoint(0, 0)).x()
    assert side > body, "the criteria are on the right in Arabic"
    for mode in ("report", "results", "board"):
        dlg = win.open_output(mode, w.r1_id)
        assert _unnamed_inputs(dlg) == []
        dlg.reject()
    imp = win.open_import_dialog()
    assert _unnamed_inputs(imp) == []
    imp.reject()
    ctx.member = None
    key = ctx.with_key(win, lambda _k: None)
    assert _unnamed_inputs(key) == []
    key.reject()

    officer = launched_role("officer", tmp_path / "officer", "ar")
    assert _unnamed_inputs(officer.window) == []
    assert officer.window.layoutDirection() == Qt.LayoutDirection.RightToLeft


def test_panel_language_switch_keeps_the_review_open(qtbot, review_world, launched_role):
    from app.review.workspace import PanelWorkspace

    w = review_world
    with PanelWorkspace(w.panel) as ws:
        ws.import_bundle(w.r1, member(w.city))
    ctx = launched_role("panel", w.panel)
    win = ctx.window
    win.open_review(w.r1_id).go_to(3)
    win.language_actions["fr"].trigger()
    win2 = ctx.window
    assert win2 is not win and win2.review is not None and win2.review.bundle_id == w.r1_id
    from app.i18n import translate

    assert win2.review.index == 3 and win2.review.back_btn.text() == translate("Submissions", "fr") != "Submissions"
    assert ctx.get_setting("ui.language") == "fr"
    win2.close()  # the person closes the window: the view is remembered, the workspace closed
    assert ctx.closed and ctx.ws is None
    again = launched_role("panel", w.panel)
    assert again.window.review is not None and again.window.review.bundle_id == w.r1_id

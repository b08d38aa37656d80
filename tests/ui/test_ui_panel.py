"""The technical panel's review workspace: import through the GUI with every check shown, verdicts
with the keyboard, the report and the results for the city, the changes of a second revision,
refusals that import nothing."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.bundle.bundle import verify_folder
from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.keys import KeySet, Role, load_keyfile
from app.bundle.submit import seal_stage
from app.model.service import Kit
from reviewhelpers import city_keys, member, member_keyfile, one_line, tamper
from uihelpers import activate

STEP_PREFIXES = ["✓ complete", "✓ authentic: signed by", "✓ enrolled by mechanism global",
                 "✓ sealed to this panel", "✓ intact", "✓ decrypted and checked"]


def tab_until(qtbot, target, limit=12):
    """Press Tab from the focused widget until ``target`` has the focus (as a keyboard user does)."""
    for _ in range(limit):
        if QApplication.focusWidget() is target:
            return
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is target, QApplication.focusWidget()


def decide_with_keys(qtbot, box, verdict, comment, settle=False):
    radio = box.radios[verdict]
    radio.setFocus()
    qtbot.waitUntil(radio.hasFocus)
    qtbot.keyClick(radio, Qt.Key.Key_Space)
    assert box.chosen() == verdict
    tab_until(qtbot, box.comment)
    box.comment.selectAll()
    qtbot.keyClicks(box.comment, comment)
    target = box.settle_btn if settle else box.save_btn
    tab_until(qtbot, target)
    qtbot.keyClick(target, Qt.Key.Key_Space)


def test_import_review_decide_report_and_seal_results(qtbot, review_world, tmp_path, launched_role):
    w = review_world
    ctx = launched_role("panel", w.panel)
    win = ctx.window
    activate(qtbot, win)
    assert win.list_view.table.rowCount() == 0 and win.list_view.empty.isVisibleTo(win)
    assert not win.list_view.trust_note.isVisibleTo(win)  # the panel's trust pack is installed

    # import through the GUI: the key is asked for once, then every check is listed
    dlg = win.open_import_dialog(str(w.r1))
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    key_dlg = ctx.key_dialog
    assert key_dlg.isVisible() and ctx.member is None
    key_dlg.path.setText(str(member_keyfile(w.city)))
    qtbot.keyClicks(key_dlg.passphrase, DEMO_PASSPHRASE)
    qtbot.keyClick(key_dlg.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert ctx.member is not None and ctx.member.role is Role.PANEL_MEMBER
    steps = dlg.step_texts()
    assert [s for s in steps if s.startswith("✓")] and len(steps) == 7, steps
    for prefix, text in zip(STEP_PREFIXES, steps):
        assert text.startswith(prefix), (prefix, text)
    assert steps[-1].endswith("stage B, revision 1: imported.") and not dlg.message.isVisible()
    assert [s["revision"] for s in ctx.ws.submissions()] == [1]
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible())
    lst = win.list_view
    assert lst.table.rowCount() == 1 and lst.table.item(0, 0).text().startswith("Amani")
    assert lst.table.item(0, 4).text().startswith("Not reviewed yet")

    # open the review with the keyboard (Enter on the row)
    activate(qtbot, win)
    lst.table.setFocus()
    lst.table.setCurrentCell(0, 0)
    qtbot.keyClick(lst.table, Qt.Key.Key_Return)
    view = win.review
    assert view is not None and win.stack.currentWidget() is view and view.stage.id == "B"
    assert "This is the first revision" in view.changes_list.item(0).text()

    # the city's answers, read-only and readable; evidence with a preview; indicators with the chart
    rv = view.requirement("B.a.1")
    answers = ctx.ws.submission(w.r1_id)["content"]["answers"]["B.a.1"]
    assert rv.rows["coverage"].text() == answers["coverage"]
    assert rv.rows["baseline_year"].text() == str(answers["baseline_year"])  # a year: no "2,022"
    assert rv.rows["domains_covered"].text().count(",") == len(answers["domains_covered"]) - 1
    files = [f for f in ctx.ws.submission(w.r1_id)["files"] if f["requirement"] == "B.a.1"]
    assert rv.evidence.list.topLevelItemCount() == len(files) > 0
    shown = rv.evidence.preview
    assert shown.text() or not shown.pixmap().isNull()
    assert rv.indicators.table.rowCount() >= 2 and rv.indicators.chart.points()
    table_req = view.requirement("B.a.2")
    sources = ctx.ws.submission(w.r1_id)["content"]["answers"]["B.a.2"]["sources"]
    assert table_req.rows["sources"].table.rowCount() == len(sources) > 0
    assert table_req.rows["sources"].table.item(0, 0).text() == sources[0]["name"]
    assert table_req.rows["sources"].table.item(0, 3).text() == str(sources[0]["year"])

    # verdicts with the keyboard on two requirements: a member's verdict, then settled panel verdicts
    box = view.requirement("B.a.1").verdict_box
    decide_with_keys(qtbot, box, "needs_information", "Add the 2024 ward survey for Kisima.")
    v = ctx.ws.verdicts(w.r1_id)["B.a.1"]
    assert v["members"] == {ctx.member.name: {"verdict": "needs_information",
                                              "comment": "Add the 2024 ward survey for Kisima."}}
    assert not v["settled"] and "(you)" in box.others.text()
    decide_with_keys(qtbot, box, "needs_information", "Add the 2024 ward survey for Kisima.", settle=True)
    assert ctx.ws.verdicts(w.r1_id)["B.a.1"]["settled"] and "Panel verdict: Needs information" in box.settled.text()
    box2 = view.requirement("B.a.2").verdict_box
    decide_with_keys(qtbot, box2, "met", "Sources are clear.", settle=True)
    assert ctx.ws.verdicts(w.r1_id)["B.a.2"] == {**ctx.ws.verdicts(w.r1_id)["B.a.2"], "verdict": "met", "settled": True}
    assert "2 of 3 settled" in view.crit_list.item(0).text()
    # a verdict other than "met" needs a comment
    box3 = view.requirement("B.a.3").verdict_box
    box3.radios["not_met"].setChecked(True)
    qtbot.mouseClick(box3.settle_btn, Qt.MouseButton.LeftButton)
    assert "comment" in box3.message.text() and "B.a.3" not in ctx.ws.verdicts(w.r1_id)

    # the report (PDF) and the results for the city, in workers
    rep = win.open_output("report", w.r1_id)
    rep.folder.setText(str(tmp_path / "report"))
    qtbot.mouseClick(rep.go_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rep.task is not None and rep.task.done, timeout=30000)
    assert rep.result is not None, rep.message.text()
    pdf = rep.result["en"]
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF") and pdf.name in rep.done_text.text()
    rep.reject()
    res = win.open_output("results", w.r1_id)
    res.folder.setText(str(tmp_path / "for-the-city"))
    qtbot.mouseClick(res.go_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: res.task is not None and res.task.done, timeout=30000)
    assert res.result is not None, res.message.text()
    vb = verify_folder(res.result.path)
    assert vb.manifest["kind"] == "review" and res.result.path.parent == tmp_path / "for-the-city"
    res.reject()
    board = win.open_output("board", w.r1_id)
    board.folder.setText(str(tmp_path / "board"))
    board.recommendation.setCurrentIndex(board.recommendation.findData("defer"))
    qtbot.mouseClick(board.go_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: board.task is not None and board.task.done, timeout=30000)
    assert board.result is not None and (board.result / "recommendation.json.minisig").is_file()
    board.reject()
    # back to the list: the state says how far the review is
    qtbot.mouseClick(view.back_btn, Qt.MouseButton.LeftButton)
    assert lst.table.item(0, 4).text().startswith("In review: 2 of 15 verdicts settled")


def test_a_second_revision_shows_exactly_what_changed(qtbot, review_world, launched_role):
    w = review_world
    m = member(w.city)
    from app.review.workspace import PanelWorkspace

    with PanelWorkspace(w.panel) as ws:
        ws.import_bundle(w.r1, m)
    with Kit(w.city) as kit:
        kit.set_answer("B", "B.c.2", "hrba", "Human rights were the frame of every ward forum; the minutes show how "
                                             "each group's points were answered in the revised plan.")
        r2 = seal_stage(kit, "B", city_keys(w.city), w.base / "stick")
    assert r2.revision == 2
    ctx = launched_role("panel", w.panel)
    ctx.member = m  # unlocked earlier in the session
    win = ctx.window
    dlg = win.open_import_dialog(str(r2.path))
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert dlg.step_texts()[-1].endswith("revision 2: imported as a new revision.")
    dlg.accept()
    lst = win.list_view
    states = [lst.table.item(r, 4).text() for r in range(lst.table.rowCount())]
    assert any(s.startswith("Superseded by revision 2") for s in states) and any("new revision" in s for s in states)
    view = win.open_review(r2.bundle_id)
    assert view.changed_requirements() == {"B.c.2"}
    assert view.changes_title.text() == "Changes since revision 1 (1)"
    assert view.changes_list.count() == 1 and view.changes_list.item(0).text().startswith("B.c.2")
    assert view.index == 2, "opens on the criterion that changed"
    rv = view.current_page().requirements["B.c.2"]
    assert rv.change_note is not None and "answers changed" in rv.change_note.text()
    assert "(changed)" in rv.rows["hrba"].label.text() and "(changed)" not in rv.rows["groups"].label.text()
    others = [r for p in range(view.page_count) for r in view.page(p).requirements.values() if r.req.id != "B.c.2"]
    assert others and all(r.change_note is None for r in others)
    assert "changed" in view.crit_list.item(2).text() and "changed" not in view.crit_list.item(0).text()


def test_tampered_and_other_panel_bundles_are_one_line_and_import_nothing(qtbot, review_world, tmp_path,
                                                                          launched_role):
    w = review_world
    bad = tamper(shutil.copytree(w.r1, tmp_path / "copy" / w.r1.name))
    ctx = launched_role("panel", w.panel)
    ctx.member = member(w.city)
    dlg = ctx.window.open_import_dialog(str(bad))
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert one_line(dlg.message.text()) and "altered" in dlg.message.text(), dlg.message.text()
    assert ctx.ws.submissions() == [] and not list((w.panel / "review").glob("*/*"))
    assert ctx.window.list_view.table.rowCount() == 0
    dlg.reject()

    # a workspace of another panel under the same root: the bundle was not sealed for it
    from app.bundle import trust as trustmod

    other = tmp_path / "other-panel"
    shutil.copytree(w.panel / "trust", other / "trust")
    root = load_keyfile(w.city / "demo" / "secretariat" / "platform_root.key", DEMO_PASSPHRASE)
    stranger = KeySet.generate(Role.PANEL_MEMBER, "Panel 2 reviewer")
    trustmod.write_signed(other / "trust", trustmod.RECIPIENTS, trustmod.recipients_document(
        panel_id="panel-2", panel_name="Panel 2", language="fr", members=[stranger.card()], recovery=None,
        valid_from=trustmod.now_utc(), valid_until=trustmod.now_utc() + trustmod.timedelta(days=30)),
        root.signing_key)
    ctx2 = launched_role("panel", other)
    ctx2.member = stranger
    dlg2 = ctx2.window.open_import_dialog(str(w.r1))
    qtbot.mouseClick(dlg2.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg2.task is not None and dlg2.task.done, timeout=20000)
    assert one_line(dlg2.message.text()) and "not for this panel" in dlg2.message.text(), dlg2.message.text()
    assert ctx2.ws.submissions() == [] and not (other / "review").exists()
    dlg2.reject()

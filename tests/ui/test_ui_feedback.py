"""The city sees the panel's feedback: import the results, each verdict beside its requirement,
the panel's report; a tampered results bundle is one line and changes nothing."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.submit import mark_status, sealed_bundles
from app.model.service import Kit
from app.review.feedback import feedback_for
from app.review.workspace import PanelWorkspace
from reviewhelpers import member, one_line, tamper

COMMENT = "Add the 2024 ward survey for Kisima."


def _results(world, out):
    m = member(world.city)
    with PanelWorkspace(world.panel) as ws:
        ws.import_bundle(world.r1, m)
        ws.set_verdict(world.r1_id, "B.a.1", "needs_information", COMMENT, panel=True)
        ws.set_verdict(world.r1_id, "B.a.2", "met", "", panel=True)
        return ws.results_bundle(world.r1_id, m, out)


def test_city_imports_the_results_and_sees_each_verdict_beside_its_requirement(qtbot, review_world, tmp_path,
                                                                                  launched, monkeypatch):
    w = review_world
    mailbox = tmp_path / "stick-data" / "mailbox"
    res = _results(w, mailbox / "results")
    tampered = tamper(shutil.copytree(res.path, tmp_path / "tampered" / res.path.name))
    with Kit(w.city) as kit:
        mark_status(kit, w.r1_id, "collected")  # the officer took it: results may come back
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))

    ctx = launched(w.city)
    win = ctx.window
    home = win.home
    assert home.results_btn.isVisibleTo(win) and home.cards["B"].report_btn is None
    before = (feedback_for(ctx.kit, "B"), sealed_bundles(ctx.kit))

    # a tampered copy: one line, nothing changes
    qtbot.mouseClick(home.results_btn, Qt.MouseButton.LeftButton)
    dlg = win.results_dialog
    assert dlg is not None and dlg.isVisible()
    dlg.folder.setText(str(tampered))
    qtbot.keyClicks(dlg.passphrase, DEMO_PASSPHRASE)
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert one_line(dlg.message.text()) and "altered or damaged" in dlg.message.text(), dlg.message.text()
    assert (feedback_for(ctx.kit, "B"), sealed_bundles(ctx.kit)) == before
    assert not (w.city / "feedback").exists() or not any((w.city / "feedback").iterdir())

    # the stick's mailbox folder (results inside results/): found, checked, imported
    dlg.folder.setText(str(mailbox))
    dlg.passphrase.clear()
    qtbot.keyClicks(dlg.passphrase, DEMO_PASSPHRASE)
    first = dlg.task
    qtbot.keyClick(dlg.passphrase, Qt.Key.Key_Return)  # Enter presses the default button, Import
    qtbot.waitUntil(lambda: dlg.task is not first and dlg.task.done, timeout=20000)
    assert dlg.results != [], dlg.message.text()
    assert "Stage B: 1 met, 0 not met, 1 need more information." in dlg.done_text.text()
    assert not dlg.message.isVisible()
    fb = feedback_for(ctx.kit, "B")
    assert fb["B.a.1"]["verdict"] == "needs_information" and fb["B.a.1"]["comment"] == COMMENT
    status = next(b for b in sealed_bundles(ctx.kit) if b["bundle_id"] == w.r1_id)["status"]
    assert status == "feedback"
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible())

    # home: the stage card says what the panel found and opens the report
    card = win.home.cards["B"]
    assert card.feedback_label is not None and "1 need more information" in card.feedback_label.text()
    qtbot.mouseClick(card.report_btn, Qt.MouseButton.LeftButton)
    assert opened and opened[-1].toLocalFile().endswith("stage-B-report-r1-en.pdf")

    # the stage wizard: the verdict and the comment beside the matching requirement
    view = win.open_stage("B", 0)
    page = view.current_page()
    banner = page.requirements["B.a.1"].verdict
    assert banner.isVisibleTo(view) and banner.verdict == "needs_information"
    assert "Needs information" in banner.text() and COMMENT in banner.text() and "from revision 1" in banner.text()
    assert COMMENT in banner.accessibleDescription() and banner.accessibleName()
    met = page.requirements["B.a.2"].verdict
    assert met.verdict == "met" and "Met" in met.text() and not met.comment.isVisibleTo(view)
    assert not page.requirements["B.a.3"].verdict.isVisibleTo(view)  # no verdict there
    assert "panel: Needs information" in view.crit_list.item(0).text()
    assert view.report_btn.isVisibleTo(view)
    qtbot.mouseClick(view.report_btn, Qt.MouseButton.LeftButton)
    assert opened[-1].toLocalFile().endswith(".pdf") and len(opened) == 2
    # importing the same results again changes nothing and says so
    dlg2 = win.open_results_dialog(str(res.path))
    qtbot.keyClicks(dlg2.passphrase, DEMO_PASSPHRASE)
    qtbot.mouseClick(dlg2.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg2.results != [], timeout=20000)
    assert "already imported" in dlg2.done_text.text() and feedback_for(ctx.kit, "B") == fb
    dlg2.reject()


def test_the_banner_follows_a_new_import_while_the_stage_is_open(qtbot, review_world, tmp_path, launched):
    w = review_world
    res = _results(w, tmp_path / "results")
    ctx = launched(w.city)
    view = ctx.window.open_stage("B", 0)
    banner = view.current_page().requirements["B.a.1"].verdict
    assert not banner.isVisibleTo(view) and not view.report_btn.isVisibleTo(view)
    dlg = ctx.window.open_results_dialog(str(res.path))
    qtbot.keyClicks(dlg.passphrase, "not the passphrase")
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert one_line(dlg.message.text()) and "passphrase" in dlg.message.text()
    dlg.passphrase.clear()
    qtbot.keyClicks(dlg.passphrase, DEMO_PASSPHRASE)
    with qtbot.waitSignal(ctx.events.feedback, timeout=20000):
        qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    assert banner.isVisibleTo(view) and COMMENT in banner.text()
    assert view.report_btn.isVisibleTo(view)

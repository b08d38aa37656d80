"""From nothing to a sealed, verified stage-A bundle through the real windows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWizard

from app.i18n import current_language
from app.model.demo import sample_file, value_for
from app.ui.firstrun import PAGE_KEY, PAGE_MECHANISM, PAGE_PROFILE, PAGE_TOUR, PAGE_TRUST
from uihelpers import fill, type_into

PASSPHRASE = "harbour violet seven kettle"


def click_next(qtbot, wiz):
    qtbot.mouseClick(wiz.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def test_first_run_whole_stage_a_and_seal_gives_a_bundle_that_verifies(qtbot, tmp_path, launched):
    data = tmp_path / "data"
    ctx = launched(data, "en")

    # -- first run: language ------------------------------------------------------------------
    wiz = ctx.wizard
    assert wiz is not None and ctx.window is None
    assert wiz.language_page.list.count() == 6
    wiz.language_page.choose("ar")  # switching rebuilds the wizard, mirrored
    assert current_language() == "ar" and QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert ctx.wizard is not wiz
    ctx.wizard.language_page.choose("en")
    wiz = ctx.wizard
    assert current_language() == "en" and QApplication.layoutDirection() == Qt.LayoutDirection.LeftToRight
    click_next(qtbot, wiz)

    # -- profile --------------------------------------------------------------------------------
    assert wiz.currentId() == PAGE_PROFILE
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.keyClicks(wiz.profile_page.name, "Nakuru")
    qtbot.keyClicks(wiz.profile_page.country, "ke")
    assert wiz.profile_page.country.text() == "KE"
    click_next(qtbot, wiz)

    # -- mechanism and target ----------------------------------------------------------------------
    assert wiz.currentId() == PAGE_MECHANISM
    mp = wiz.mechanism_page
    assert mp.global_btn.isChecked()
    mp.target.setCurrentIndex(mp.target.findData("silver"))
    click_next(qtbot, wiz)
    prof = ctx.kit.profile()
    assert prof.name == "Nakuru" and prof.country == "KE" and prof.target_level == "silver"

    # -- key ---------------------------------------------------------------------------------------
    assert wiz.currentId() == PAGE_KEY
    kp = wiz.key_page
    qtbot.keyClicks(kp.passphrase, "short")
    assert kp.strength.value() < 2 and kp.hint.text()
    type_into(qtbot, kp.passphrase, PASSPHRASE)
    qtbot.keyClicks(kp.confirm, PASSPHRASE[:-1] + "X")
    assert "not the same" in kp.message.text()
    type_into(qtbot, kp.confirm, PASSPHRASE)
    assert kp.strength.value() >= 2 and kp.message.text() == ""
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()  # the "written down" box first
    kp.written.setChecked(True)
    click_next(qtbot, wiz)
    qtbot.waitUntil(lambda: wiz.currentId() == PAGE_TRUST, timeout=20000)
    assert (data / "keys" / "city.key").is_file() and (data / "keys" / "city.card.json").is_file()
    assert kp.keyset is not None

    # -- demo trust pack -------------------------------------------------------------------------
    wiz.trust_page.demo_btn.setChecked(True)
    click_next(qtbot, wiz)
    qtbot.waitUntil(lambda: wiz.currentId() == PAGE_TOUR, timeout=20000)
    assert (data / "trust" / "recipients.json").is_file()
    assert "enrolled as Nakuru" in wiz.trust_page.status.text()
    qtbot.mouseClick(wiz.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctx.window is not None)

    # -- home: the next step opens stage A -------------------------------------------------------
    win = ctx.window
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    home = win.home
    assert home.step.action == "open_stage" and home.step.stage == "A"
    assert "Start stage A" in home.next_label.text()
    qtbot.mouseClick(home.next_btn, Qt.MouseButton.LeftButton)
    view = win.stage_view
    assert view is not None and view.index == 0

    # -- the whole of stage A, page by page, with evidence and an indicator value ----------------
    sources = tmp_path / "sources"
    indicator_done = False
    for page_no in range(view.page_count):
        assert view.index == page_no
        page = view.current_page()
        for req_view in page.requirements.values():
            req = req_view.req
            for fld in req.fields:
                fill(qtbot, req_view.rows[fld.id].editor, value_for(req, fld))
                assert not req_view.rows[fld.id].message.isVisible(), (req.id, fld.id)
            panel = req_view.evidence
            for e in req.evidence:
                if e.min:
                    kind = ctx.kit.framework.evidence_kinds[e.kind]
                    f = sample_file(sources, req, e.kind, kind.extensions, 0)
                    task = panel.attach_files([str(f)])
                    with qtbot.waitSignal(task.finished, timeout=20000):
                        pass
                    assert any(ev.name == f.name for ev in panel.files)
                    assert panel.list.topLevelItemCount() == len(panel.files)
            if req_view.indicators is not None and not indicator_done:
                ip = req_view.indicators
                ip.select_indicator(ip.ids[0])
                before = ip.table.rowCount()
                ip.year.setValue(2024)
                ip.kind.setCurrentIndex(ip.kind.findData("observed"))
                type_into(qtbot, ip.value, "31.5")
                type_into(qtbot, ip.source, "Nakuru household survey 2024")
                qtbot.mouseClick(ip.save_btn, Qt.MouseButton.LeftButton)
                qtbot.waitUntil(lambda: ip.table.rowCount() == before + 1)
                assert ip.chart.points()["observed"] == [(2024, 31.5)]
                vals = ctx.kit.indicator_values(ip.ids[0])
                assert [(v["year"], v["value"], v["source"]) for v in vals] == [
                    (2024, 31.5, "Nakuru household survey 2024")]
                indicator_done = True
        if page_no + 1 < view.page_count:
            qtbot.mouseClick(view.next_btn, Qt.MouseButton.LeftButton)
    assert indicator_done
    # autosave: durable within about a second without any explicit save
    qtbot.waitUntil(lambda: not ctx.autosaver.pending, timeout=2000)
    assert win.saved_label.text() == "All changes saved"
    qtbot.waitUntil(lambda: view.missing == [], timeout=3000)
    assert ctx.kit.completeness("A").complete

    # -- seal from the home screen ----------------------------------------------------------------
    qtbot.mouseClick(view.home_btn, Qt.MouseButton.LeftButton)
    assert home.step.action == "seal" and home.step.stage == "A"
    qtbot.mouseClick(home.cards["A"].seal_btn, Qt.MouseButton.LeftButton)
    dlg = win.seal_dialog
    assert dlg is not None and dlg.isVisible()
    out = tmp_path / "stick"
    dlg.add_destination(out)
    assert "free there" in dlg.space.text()
    qtbot.keyClicks(dlg.passphrase, "wrong passphrase here")
    qtbot.mouseClick(dlg.seal_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert "passphrase is wrong" in dlg.message.text()
    type_into(qtbot, dlg.passphrase, PASSPHRASE)
    qtbot.mouseClick(dlg.seal_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.result is not None, timeout=30000)
    assert dlg.summary is not None and dlg.summary["stage"] == "A" and dlg.summary["demo"] is True
    bundle = Path(dlg.result.path)
    assert bundle.parent == out and bundle.is_dir()
    assert bundle.name in dlg.done_text.text() and "field officer" in dlg.done_text.text()
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible())
    assert home.bundle_table is not None and home.bundle_table.rowCount() == 1
    assert home.bundle_table.item(0, 3).text().startswith("Sealed, not yet collected")
    assert home.step.action == "handover"

    from app.cli.main import main as cli

    ctx.shutdown()  # the CLI opens the same data folder (one writer at a time)
    assert cli(["--data", str(data), "bundle", "verify", str(bundle)]) == 0

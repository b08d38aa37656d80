"""The field officer's screen: the outbox by city, collect from a stick in a worker, deliver, and a
clear message when no platform address is set."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from app.bundle.submit import sealed_bundles, seal_stage
from app.bundle.trust import RootPolicy, import_trust_pack
from app.model.service import Kit
from app.sync.officer import outbox_overview
from reviewhelpers import city_keys, tamper


def test_collect_list_by_city_deliver_and_sync_without_an_address(qtbot, review_world, tmp_path, launched_role,
                                                                  monkeypatch):
    monkeypatch.delenv("SDGKIT_PLATFORM_URL", raising=False)
    w = review_world
    officer = tmp_path / "officer"
    import_trust_pack(w.city / "demo" / "trust-pack", officer, RootPolicy.installed(demo=True))
    with Kit(w.city) as kit:
        sealed = seal_stage(kit, "A", city_keys(w.city))  # into the city's own bundles/ folder: its stick
    bad_stick = tmp_path / "bad-stick"
    tamper(shutil.copytree(sealed.path, bad_stick / "bundles" / sealed.path.name))

    ctx = launched_role("officer", officer)
    win = ctx.window
    assert win.bundle_rows() == [] and win.empty.isVisibleTo(win)
    assert not win.trust_note.isVisibleTo(win)

    # a damaged copy is refused with its reason, and nothing enters the outbox
    task = win.collect_from(bad_stick)
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    assert "0 collected" in win.message.text() and "1 refused" in win.message.text()
    assert "NOT collected" in win.message.text() and outbox_overview(officer) == []

    # the city's stick: checked, copied, listed under the city, and the city's bundle marked collected
    task = win.collect_from(w.city)
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    assert "Amani (demo city)" in win.message.text() and "1 collected" in win.message.text()
    rows = win.bundle_rows()
    assert [(r[1], r[2]) for r in rows if r[1] == "Stage A"] == [("Stage A", "Waiting to be sent")]
    assert rows[0][0].startswith("Amani (demo city): ") and "not yet received" in rows[0][0]
    assert [r["bundle_id"] for r in outbox_overview(officer)] == [sealed.bundle_id]
    with Kit(w.city) as kit:
        assert next(b for b in sealed_bundles(kit) if b["bundle_id"] == sealed.bundle_id)["status"] == "collected"
    task = win.collect_from(w.city)  # again: nothing new
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    assert "0 collected, 1 already in the outbox" in win.message.text() and len(win.bundle_rows()) == 1

    # Sync now without a platform address: a clear message, nothing started
    assert win.url.text() == ""
    qtbot.mouseClick(win.sync_btn, Qt.MouseButton.LeftButton)
    assert "No platform address is set yet" in win.message.text()
    assert ctx.member is None and getattr(ctx, "key_dialog", None) is None  # no key asked for either

    # deliver: nothing received yet, so the stick is told what still waits
    task = win.deliver_to(w.city)
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    assert "Delivered 0 receipt(s) and 0 review result(s)" in win.message.text()
    assert "Still waiting: stage A revision 1 (Waiting to be sent)" in win.message.text()

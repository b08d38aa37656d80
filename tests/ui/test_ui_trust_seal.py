"""Trust pack import from a folder, and the seal dialog's checks before it seals."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.bundle.demo_trust import DEMO_KDF
from app.bundle.keys import KeySet, Role, card_path_for, default_keyfile, write_new_keyfile
from app.bundle.trust import build_demo_pack
from app.fsutil import atomic_write_bytes
from app.model.service import Kit


def _city_with_key(data):
    with Kit(data) as kit:
        prof = kit.init_profile(name="Kisumu", country="KE", population_band="250k-1m", languages=["en"])
        keyset = KeySet.generate(Role.CITY, prof.name)
        path = default_keyfile(kit.layout.keys, Role.CITY)
        write_new_keyfile(path, keyset, "otter marble lantern quiet", kdf=DEMO_KDF)
        atomic_write_bytes(card_path_for(path), keyset.card().to_bytes())
        return prof, keyset


def test_trust_pack_from_a_folder_after_the_first_run(qtbot, tmp_path, launched):
    data = tmp_path / "data"
    prof, keyset = _city_with_key(data)
    pack = tmp_path / "pack-from-secretariat"
    build_demo_pack(pack, keyset.card(), city_id=prof.city_id, country=prof.country)
    ctx = launched(data)
    win = ctx.window
    assert win is not None, "profile and key exist: no first run"
    assert not ctx.has_trust()
    dlg = win.open_trust_dialog()
    dlg.folder.setText(str(pack))
    dlg.do_import()  # not marked as a demo pack: this kit refuses it, in one line
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=10000)
    assert dlg.message.text() and "\n" not in dlg.message.text() and not ctx.has_trust()
    dlg.demo.setChecked(True)
    dlg.do_import()
    qtbot.waitUntil(lambda: dlg.task.done, timeout=10000)
    assert ctx.has_trust()
    assert "enrolled as Kisumu" in dlg.message.text() and "DEMO" in dlg.message.text()


def test_seal_dialog_checks_space_and_key_before_sealing(qtbot, demo_dir, launched, monkeypatch):
    ctx = launched(demo_dir)
    win = ctx.window
    dlg = win.open_seal("A")
    assert dlg.seal_btn.isEnabled()
    from app.ui import seal

    monkeypatch.setattr(seal.Destination, "free", lambda self: 1000)
    dlg.fill_destinations()
    qtbot.keyClicks(dlg.passphrase, "anything")
    qtbot.mouseClick(dlg.seal_btn, Qt.MouseButton.LeftButton)
    assert dlg.task is None and "Not enough space" in dlg.message.text()
    assert not ctx.kit.list_evidence("A") == []  # nothing changed
    from app.bundle.submit import sealed_bundles

    assert sealed_bundles(ctx.kit) == []
    dlg.reject()
    (demo_dir / "keys" / "city.key").rename(demo_dir / "keys" / "elsewhere.key")
    dlg2 = win.open_seal("A")
    assert not dlg2.seal_btn.isEnabled() and "no key" in dlg2.message.text()
    dlg2.reject()


def test_enter_in_the_passphrase_seals_once_and_keeps_the_dialog_open(qtbot, demo_dir, launched):
    """Keyboard only: type the passphrase, press Enter; one bundle is sealed and the dialog stays
    open to say what to give the field officer (Enter must not also close or cancel it)."""
    from app.bundle.demo_trust import DEMO_PASSPHRASE
    from app.bundle.submit import sealed_bundles

    ctx = launched(demo_dir)
    dlg = ctx.window.open_seal("A")
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.passphrase.setFocus()
    qtbot.keyClicks(dlg.passphrase, DEMO_PASSPHRASE)
    qtbot.keyClick(dlg.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    qtbot.waitUntil(lambda: dlg.done_text.isVisible(), timeout=10000)
    assert dlg.isVisible() and dlg.result is not None
    assert [b["stage"] for b in sealed_bundles(ctx.kit)] == ["A"]

"""A panel member or a field officer with no key yet creates one from the key dialog: name, a
passphrase the kit accepts, the card for the secretariat; the key is then unlocked for the session,
and a key the panel's signed list does not name imports nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.keys import PublicCard, Role, card_path_for, default_keyfile, load_keyfile
from uihelpers import activate

GOOD = "river lantern quietly orbit"


def fill(qtbot, dlg, name: str, passphrase: str, confirm: str | None = None, written: bool = True) -> None:
    dlg.name.clear()
    if name.isascii():
        qtbot.keyClicks(dlg.name, name)
    else:  # QTest types ASCII keys only
        dlg.name.setText(name)
    dlg.form.passphrase.clear()
    qtbot.keyClicks(dlg.form.passphrase, passphrase)
    dlg.form.confirm.clear()
    qtbot.keyClicks(dlg.form.confirm, passphrase if confirm is None else confirm)
    dlg.written.setChecked(written)


def test_a_panel_member_creates_a_key_and_an_unlisted_key_imports_nothing(qtbot, review_world, tmp_path,
                                                                          launched_role):
    w = review_world
    ctx = launched_role("panel", w.panel)
    win = ctx.window
    activate(qtbot, win)
    dlg = win.open_import_dialog(str(w.r1))
    qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    key_dlg = ctx.key_dialog
    assert key_dlg.isVisible() and ctx.member is None
    assert key_dlg.no_key.isVisible() and str(w.panel / "keys") in key_dlg.no_key.text()  # says what to do
    qtbot.mouseClick(key_dlg.new_btn, Qt.MouseButton.LeftButton)
    new = key_dlg.new_dialog
    assert new.isVisible() and not new.ok.isEnabled()
    path = default_keyfile(w.panel / "keys", Role.PANEL_MEMBER)
    assert str(path) in new.intro.text()

    # the kit refuses what it would refuse on the command line, and says why
    fill(qtbot, new, "Dr. Leila Haddad", "1234567890")
    assert not new.ok.isEnabled() and new.form.strength.value() < 2 and new.form.hint.text()
    fill(qtbot, new, "Dr. Leila Haddad", GOOD, confirm=GOOD + "x")
    assert not new.ok.isEnabled() and "not the same" in new.message.text()
    fill(qtbot, new, "Dr. Leila Haddad", GOOD, written=False)
    assert not new.ok.isEnabled()
    fill(qtbot, new, "", GOOD)
    assert not new.ok.isEnabled()
    fill(qtbot, new, "Dr. Leila Haddad", GOOD)
    assert new.ok.isEnabled() and not new.message.text()

    qtbot.keyClick(new.form.confirm, Qt.Key.Key_Return)  # Enter creates: the main action is the default
    qtbot.waitUntil(lambda: new.task is not None and new.task.done, timeout=20000)
    assert new.result.isVisible() and new.keyset.fingerprint in new.result.text()
    assert not new.form.passphrase.text() and not new.form.confirm.text()  # not kept in the widgets
    on_disk = load_keyfile(path, GOOD)
    assert on_disk.role is Role.PANEL_MEMBER and on_disk.name == "Dr. Leila Haddad"
    assert on_disk.fingerprint == new.keyset.fingerprint
    card = PublicCard.from_bytes(card_path_for(path).read_bytes(), what="card")
    assert card.fingerprint == on_disk.fingerprint and card.age_recipient == on_disk.age_recipient

    # a copy of the card for the secretariat, e.g. on a stick
    stick = tmp_path / "stick"
    stick.mkdir()
    copy = new.save_card(str(stick))
    assert copy == stick / card_path_for(path).name and copy.read_bytes() == card_path_for(path).read_bytes()

    # Continue: the key is unlocked for the session and the import goes on with it -- and stops,
    # because the secretariat has not added this key to the panel's signed list yet
    assert new.ok.text() == "Continue"
    qtbot.mouseClick(new.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is not None and dlg.task.done, timeout=20000)
    assert ctx.member is not None and ctx.member.fingerprint == on_disk.fingerprint
    assert not key_dlg.isVisible()
    assert dlg.message.isVisible() and "not in the signed list" in dlg.message.text()
    assert ctx.ws.submissions() == []


def test_an_existing_key_file_is_never_overwritten(qtbot, review_world, launched_role):
    ctx = launched_role("panel", review_world.panel)
    path = default_keyfile(review_world.panel / "keys", Role.PANEL_MEMBER)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"someone's key")
    from app.ui.roles import NewKeyDialog

    new = NewKeyDialog(ctx)
    qtbot.addWidget(new)
    fill(qtbot, new, "Someone else", GOOD)
    assert not new.ok.isEnabled() and "already a key file" in new.message.text()
    assert new.create() is None and path.read_bytes() == b"someone's key"


def test_a_field_officer_creates_an_officer_key_in_arabic(qtbot, tmp_path, launched_role):
    ctx = launched_role("officer", tmp_path / "officer", lang="ar")
    from app.ui.roles import NewKeyDialog

    new = NewKeyDialog(ctx)
    qtbot.addWidget(new)
    assert new.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert new.windowTitle() != "Create your key"  # translated
    fill(qtbot, new, "عمر", DEMO_PASSPHRASE)
    assert new.ok.isEnabled()
    new.create()
    qtbot.waitUntil(lambda: new.task is not None and new.task.done, timeout=20000)
    key = load_keyfile(default_keyfile(tmp_path / "officer" / "keys", Role.OFFICER), DEMO_PASSPHRASE)
    assert key.role is Role.OFFICER and key.name == "عمر"
    got = []
    new.created.connect(lambda k, p: got.append((k, p)))
    new.create()  # Continue
    assert got and got[0][0].fingerprint == key.fingerprint

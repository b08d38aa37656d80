"""Work off the GUI thread: a progress dialog only after half a second, Cancel that stops the core,
input ignored meanwhile, autosave waiting for the worker; Prepare for removal; starting the app."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QPushButton

from app.errors import Cancelled
from app.ui.tasks import SHOW_AFTER_MS, KitGuard, run_task
from tests.conftest import ROOT
from uihelpers import os_click


def test_quick_work_shows_no_dialog(qtbot):
    guard = KitGuard()
    task = run_task(None, lambda progress, cancel: 42, title="t", label="l", guard=guard)
    with qtbot.waitSignal(task.finished, timeout=5000) as sig:
        pass
    assert sig.args == [42] and task.dialog is None and not guard.busy


def test_slow_work_shows_progress_after_half_a_second_and_cancels_cleanly(qtbot):
    guard = KitGuard()
    gate = threading.Event()
    seen_cancel = []

    def work(progress, cancel):
        for i in range(10_000):
            if cancel.cancelled:
                seen_cancel.append(i)
            cancel.check()
            progress(i, 10_000, "Encrypting evidence")
            gate.wait(0.005)

    other = QPushButton("elsewhere")
    qtbot.addWidget(other)
    other.show()
    typing = QLineEdit()
    qtbot.addWidget(typing)
    typing.show()
    qtbot.waitExposed(typing)
    shortcut_hits = []
    sc = QShortcut(QKeySequence("Ctrl+J"), typing)
    sc.activated.connect(lambda: shortcut_hits.append(1))
    clicks = []
    other.clicked.connect(lambda: clicks.append(1))
    qtbot.waitExposed(other)
    t0 = time.monotonic()
    task = run_task(None, work, title="Sealing", label="Sealing stage A…", guard=guard)
    assert guard.busy and task.dialog is None
    os_click(other)
    assert clicks == [], "input is ignored while the worker runs, before the dialog shows"
    QTest.keyClick(typing.windowHandle(), Qt.Key.Key_A)
    assert typing.text() == "" and not sc.isEnabled()
    qtbot.waitUntil(lambda: task.dialog is not None and task.dialog.isVisible(), timeout=3000)
    assert time.monotonic() - t0 >= SHOW_AFTER_MS / 1000 - 0.05
    qtbot.waitUntil(lambda: task.dialog.value() > 0, timeout=3000)
    assert "Encrypting evidence" in task.dialog.labelText()
    os_click(other)
    assert clicks == [], "and then the modal progress dialog keeps it away"
    cancel_btn = next(b for b in task.dialog.findChildren(QPushButton) if b.text() == "Cancel")
    with qtbot.waitSignal(task.failed, timeout=5000):
        qtbot.mouseClick(cancel_btn, Qt.MouseButton.LeftButton)
    assert isinstance(task.error, Cancelled) and seen_cancel
    assert not guard.busy and task.dialog is None
    os_click(other)
    assert clicks == [1] and sc.isEnabled()
    typing.activateWindow()
    qtbot.waitUntil(typing.isActiveWindow)
    QTest.keyClick(typing.windowHandle(), Qt.Key.Key_A)
    assert typing.text() == "a"


def test_autosave_waits_while_a_worker_uses_the_kit(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    fw = ctx.kit.framework
    req = next(r for r in fw.stage("D").requirements() if any(f.type == "text" for f in r.fields))
    fld = next(f for f in req.fields if f.type == "text")
    ctx.guard.acquire()
    ctx.autosaver.queue("D", req.id, fld.id, "written after the worker")
    assert ctx.autosaver.flush() is False and ctx.autosaver.pending
    ctx.guard.release()
    qtbot.waitUntil(lambda: not ctx.autosaver.pending, timeout=2000)
    assert ctx.kit.answers("D")[req.id][fld.id] == "written after the worker"


def test_prepare_for_removal_checkpoints_and_says_so(qtbot, demo_dir, launched):
    ctx = launched(demo_dir)
    win = ctx.window
    ctx.kit.set_setting("touch", "1")  # something in the journal
    win.removal_act.trigger()
    qtbot.waitUntil(lambda: getattr(win, "removal_note", None) is not None, timeout=10000)
    assert "remove the stick safely" in win.removal_note.text()
    wal = demo_dir / "kit.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def _gui(args, **env):
    e = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "app.ui.main", *args], capture_output=True, text=True, env=e,
                          cwd=ROOT, timeout=120)


def test_the_app_starts_to_its_home_window(demo_dir):
    r = _gui(["--data", str(demo_dir), "--exit-when-ready"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ready"


def test_a_data_folder_in_use_is_one_clear_line(demo_dir):
    from app.model.service import Kit

    with Kit(demo_dir):
        r = _gui(["--data", str(demo_dir), "--exit-when-ready"])
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("qt.")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr

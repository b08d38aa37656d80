"""Fixtures for the desktop app's tests (pytest-qt, offscreen)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _english_and_light_keys(qapp, monkeypatch):
    """Every test starts in English, left to right; new keys use the light demo KDF (fast)."""
    from app.bundle.demo_trust import DEMO_KDF
    from app.ui import firstrun
    from app.ui.look import apply_language

    monkeypatch.setattr(firstrun, "KEY_KDF", DEMO_KDF)
    apply_language(qapp, "en")
    yield
    from app.ui.tasks import Task

    for t in list(Task.running_tasks):
        t.cancel()
        t.wait(10)
    apply_language(qapp, "en")


@pytest.fixture
def launched(qapp):
    """Start the app on a data folder; every started app is shut down (Kit closed) afterwards."""
    started = []

    def start(data_dir, lang="en"):
        from app.ui.app import launch

        ctx = launch(data_dir, lang)
        started.append(ctx)
        return ctx

    yield start
    for ctx in started:
        for w in (ctx.window, ctx.wizard):
            if w is not None:
                w.hide()
        ctx.shutdown()

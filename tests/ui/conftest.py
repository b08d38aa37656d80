"""Fixtures for the desktop app's tests (pytest-qt, offscreen)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _english_and_light_keys(qapp, monkeypatch):
    """Every test starts in English, left to right; new keys use the light demo KDF (fast)."""
    from app.bundle.demo_trust import DEMO_KDF
    from app.ui import passphrase
    from app.ui.look import apply_language

    monkeypatch.setattr(passphrase, "KEY_KDF", DEMO_KDF)
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


@pytest.fixture(scope="session")
def review_template(demo_template, tmp_path_factory):
    """A demo city with stage B sealed, and a panel workspace with the demo panel's trust pack (made once)."""
    import shutil

    from app.bundle.submit import seal_stage
    from app.cli.main import main
    from app.model.service import Kit
    from reviewhelpers import city_keys

    base = tmp_path_factory.mktemp("review-world")
    city, panel = base / "city", base / "panel"
    shutil.copytree(demo_template, city, ignore=shutil.ignore_patterns("kit.lock"))
    with Kit(city) as kit:
        r1 = seal_stage(kit, "B", city_keys(city), base / "stick")
    assert main(["--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo"]) == 0
    return {"base": base, "r1": r1.path, "r1_id": r1.bundle_id}


@pytest.fixture
def review_world(review_template, tmp_path):
    """A private copy: ``city``, ``panel`` and ``r1`` (the sealed stage-B bundle) under ``tmp_path/w``."""
    import shutil

    from reviewhelpers import World

    dest = tmp_path / "w"
    shutil.copytree(review_template["base"], dest, ignore=shutil.ignore_patterns("kit.lock"))
    r1 = dest / review_template["r1"].relative_to(review_template["base"])
    return World(base=dest, city=dest / "city", panel=dest / "panel", r1=r1, r1_id=review_template["r1_id"])


@pytest.fixture
def launched_role(qapp):
    """Start the panel's or the officer's window; every one started is shut down afterwards."""
    started = []

    def start(kind, data_dir, lang="en"):
        if kind == "panel":
            from app.ui.panel import launch_panel as launch
        else:
            from app.ui.officer import launch_officer as launch
        ctx = launch(data_dir, lang)
        started.append(ctx)
        return ctx

    yield start
    for ctx in started:
        if ctx.window is not None:
            ctx.window.hide()
        ctx.shutdown()

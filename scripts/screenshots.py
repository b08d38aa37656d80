#!/usr/bin/env python3
"""Current screenshots of the desktop app in English, Arabic and Chinese, for docs/screenshots/.

Usage: python scripts/screenshots.py [--xvfb] [--out DIR] [--langs en,ar,zh] [--scale 2]

Runs headless: by default with Qt's offscreen platform, or with ``--xvfb`` under a virtual X
server (``xvfb-run``, Qt's xcb platform). Each window is captured with ``QWidget.grab()``. A demo
city (``sdgkit demo``) provides the data; the first-run pictures start from an empty folder.
Files: ``firstrun-<lang>.png``, ``home-<lang>.png``, ``criterion-<lang>.png`` (a criterion page
with evidence and a preview), ``indicators-<lang>.png``, ``seal-<lang>.png``, the technical
panel's review of a stage-B bundle (``panel-review-<lang>.png``: answers, evidence, indicators and
the verdict box; ``panel-changes-<lang>.png``: revision 2 with its changes) and the field officer's
outbox (``officer-<lang>.png``); with ``--scale 2`` also ``home-<lang>-200.png`` and
``criterion-<lang>-200.png``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1024, 768)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--langs", default="en,ar,zh")
    p.add_argument("--xvfb", action="store_true", help="run under xvfb-run with the xcb platform")
    p.add_argument("--scale", type=float, default=0, help="also take 200%% pictures with this QT_SCALE_FACTOR")
    p.add_argument("--only-scaled", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def pump(app, rounds: int = 8) -> None:
    for _ in range(rounds):
        app.processEvents()


def wait_for_previews(widget, app, timeout: float = 5.0) -> None:
    """Let PDF previews rendering in the background land before the picture is taken."""
    import time

    from PySide6.QtWidgets import QLabel

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pending = [w for w in widget.findChildren(QLabel)
                   if w.isVisible() and w.property("pdfPreviewToken") is not None and not w.property("pdfRendered")]
        if not pending:
            return
        app.processEvents()
        time.sleep(0.01)


def save(widget, path: Path, app) -> None:
    pump(app)
    wait_for_previews(widget, app)
    pump(app)
    pix = widget.grab()
    path.parent.mkdir(parents=True, exist_ok=True)
    pix.save(str(path))
    print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path, f"{pix.width()}x{pix.height()}")


def first_run(app, data: Path, lang: str, out: Path) -> None:
    from app.ui.app import launch
    from app.ui.firstrun import PAGE_KEY

    ctx = launch(data, lang)
    wiz = ctx.wizard
    wiz.resize(*SIZE)
    wiz.next()
    wiz.profile_page.name.setText({"ar": "مدينة أماني", "zh": "阿马尼市"}.get(lang, "Amani"))
    wiz.profile_page.country.setText("KE")
    wiz.next()
    wiz.next()  # saves the profile
    assert wiz.currentId() == PAGE_KEY, wiz.currentId()
    kp = wiz.key_page
    kp.passphrase.setText("river lamp cloud stone")
    kp.confirm.setText("river lamp cloud stone")
    save(wiz, out / f"firstrun-{lang}.png", app)
    wiz.hide()
    ctx.shutdown()


def demo_pictures(app, data: Path, lang: str, out: Path, suffix: str = "") -> None:
    from app.ui.app import launch

    ctx = launch(data, lang)
    win = ctx.window
    win.resize(*SIZE)
    win.show_home()
    save(win, out / f"home-{lang}{suffix}.png", app)

    view = win.open_stage("A", 0)
    page = view.current_page()
    rv = next(r for r in page.requirements.values() if r.evidence is not None and r.evidence.files)
    panel = rv.evidence
    panel.list.setCurrentItem(panel.list.topLevelItem(0))
    pump(app)
    top = panel.mapTo(page.widget(), panel.rect().topLeft()).y()
    page.verticalScrollBar().setValue(top + panel.height() - page.viewport().height() + 12)
    save(win, out / f"criterion-{lang}{suffix}.png", app)
    if suffix:
        win.hide()
        ctx.shutdown()
        return

    rv = next(r for r in page.requirements.values() if r.indicators is not None)
    pump(app)
    sb = page.verticalScrollBar()
    sb.setValue(rv.indicators.mapTo(page.widget(), rv.indicators.rect().topLeft()).y() - 8)
    save(win, out / f"indicators-{lang}.png", app)

    dlg = win.open_seal("B")
    save(dlg, out / f"seal-{lang}.png", app)
    dlg.reject()
    win.hide()
    ctx.shutdown()


def seal_stage_a(data: Path) -> None:
    """Stage A sealed and collected by the field officer, so the home screen lists a bundle."""
    from app.bundle.keys import load_keyfile
    from app.bundle.submit import city_keyfile, mark_status, seal_stage
    from app.model.service import Kit

    passphrase = (data / "demo" / "passphrase.txt").read_text(encoding="utf-8").strip()
    with Kit(data) as kit:
        result = seal_stage(kit, "A", load_keyfile(city_keyfile(kit), passphrase))
        mark_status(kit, result.bundle_id, "collected")


def review_world(template: Path, work: Path) -> dict:
    """A panel workspace with stage B revisions 1 and 2 of the demo city imported and a few verdicts,
    and an officer's outbox that collected the demo city's stick."""
    from app.bundle.demo_trust import DEMO_PASSPHRASE
    from app.bundle.keys import load_keyfile
    from app.bundle.submit import city_keyfile, seal_stage
    from app.bundle.trust import RootPolicy, import_trust_pack
    from app.cli.main import main as cli
    from app.model.service import Kit
    from app.review.workspace import PanelWorkspace
    from app.sync.officer import collect

    city = work / "review-city"
    shutil.copytree(template, city, ignore=shutil.ignore_patterns("kit.lock"))
    passphrase = (city / "demo" / "passphrase.txt").read_text(encoding="utf-8").strip()
    with Kit(city) as kit:
        key = load_keyfile(city_keyfile(kit), passphrase)
        r1 = seal_stage(kit, "B", key, work / "stick")
        kit.set_answer("B", "B.c.2", "hrba", "Human rights framed every ward forum; the minutes show how each "
                                             "group's points were answered in the revised plan.")
        r2 = seal_stage(kit, "B", key, work / "stick")
    panel = work / "panel"
    with open(os.devnull, "w") as sink:
        old, sys.stdout = sys.stdout, sink
        try:
            cli(["--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo"])
        finally:
            sys.stdout = old
    member = load_keyfile(city / "demo" / "panel" / "reviewer-1.key", DEMO_PASSPHRASE)
    with PanelWorkspace(panel) as ws:
        ws.import_bundle(r1.path, member)
        ws.import_bundle(r2.path, member)
        for bid in (r1.bundle_id, r2.bundle_id):
            ws.set_verdict(bid, "B.a.1", "met", "", member=member)
            ws.set_verdict(bid, "B.a.1", "needs_information", "Add the 2024 ward survey for Kisima and Mji Mpya.",
                           panel=True)
            ws.set_verdict(bid, "B.a.2", "met", "Sources are named and dated.", panel=True)
    officer = work / "officer"
    import_trust_pack(city / "demo" / "trust-pack", officer, RootPolicy.installed(demo=True))
    collect(officer, template)
    collect(officer, work / "stick")
    return {"panel": panel, "member": member, "r1": r1.bundle_id, "r2": r2.bundle_id, "officer": officer}


def panel_pictures(app, world: dict, lang: str, out: Path) -> None:
    from app.ui.panel import launch_panel

    ctx = launch_panel(world["panel"], lang)
    ctx.member = world["member"]
    win = ctx.window
    win.resize(*SIZE)
    view = win.open_review(world["r1"])
    rv = view.requirement("B.a.1")
    pump(app)
    page = view.current_page()
    box = rv.verdict_box
    box.show_entry(ctx.ws.verdicts(world["r1"]).get("B.a.1"), fill=True)
    page.verticalScrollBar().setValue(box.mapTo(page.widget(), box.rect().topLeft()).y() -
                                      page.viewport().height() + box.height() + 12)
    save(win, out / f"panel-review-{lang}.png", app)
    view = win.open_review(world["r2"])
    pump(app)
    rv = view.current_page().requirements["B.c.2"]
    page = view.current_page()
    page.verticalScrollBar().setValue(rv.mapTo(page.widget(), rv.rect().topLeft()).y() - 8)
    save(win, out / f"panel-changes-{lang}.png", app)
    win.hide()
    ctx.shutdown()


def officer_pictures(app, world: dict, lang: str, out: Path) -> None:
    from app.ui.officer import launch_officer

    ctx = launch_officer(world["officer"], lang)
    win = ctx.window
    win.resize(*SIZE)
    win.url.clear()
    win.sync_btn.click()  # no address saved yet: the screen says what to do
    save(win, out / f"officer-{lang}.png", app)
    win.hide()
    ctx.shutdown()


def new_key_picture(app, data: Path, lang: str, out: Path) -> None:
    """A panel member with no key yet: the dialog that creates one (name and passphrase typed)."""
    from app.ui.panel import launch_panel
    from app.ui.roles import NewKeyDialog

    ctx = launch_panel(data, lang)
    dlg = NewKeyDialog(ctx)
    dlg.name.setText({"ar": "ليلى حداد", "zh": "李华"}.get(lang, "Leila Haddad"))
    dlg.form.passphrase.setText("river lantern quietly orbit")
    dlg.form.confirm.setText("river lantern quietly orbit")
    dlg.written.setChecked(True)
    dlg.resize(640, dlg.sizeHint().height())
    dlg.show()
    save(dlg, out / f"new-key-{lang}.png", app)
    dlg.close()
    ctx.window.hide()
    ctx.shutdown()


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.cli.main import main as cli

    app = QApplication.instance() or QApplication([])
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="sdgkit-shots-"))
    try:
        template = work / "template"
        with open(os.devnull, "w") as sink:
            old = sys.stdout
            sys.stdout = sink
            try:
                rc = cli(["--data", str(template), "demo"])
            finally:
                sys.stdout = old
        if rc != 0:
            print("could not make the demo city", file=sys.stderr)
            return 1
        seal_stage_a(template)
        world = None if args.only_scaled else review_world(template, work)
        for lang in [x.strip() for x in args.langs.split(",") if x.strip()]:
            data = work / f"demo-{lang}"
            shutil.copytree(template, data, ignore=shutil.ignore_patterns("kit.lock"))
            if args.only_scaled:
                demo_pictures(app, data, lang, out, suffix="-200")
                continue
            first_run(app, work / f"empty-{lang}", lang, out)
            demo_pictures(app, data, lang, out)
            panel_pictures(app, world, lang, out)
            officer_pictures(app, world, lang, out)
            new_key_picture(app, work / f"keys-{lang}", lang, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    args = parse()
    if args.xvfb and os.environ.get("QT_QPA_PLATFORM") != "xcb":
        env = dict(os.environ, QT_QPA_PLATFORM="xcb")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 2200x1700x24", sys.executable, __file__,
               "--out", args.out, "--langs", args.langs, "--xvfb"]
        if args.scale:
            cmd += ["--scale", str(args.scale)]
        return subprocess.call(cmd, env=env)
    if args.scale and not args.only_scaled:
        rc = run(args)
        env = dict(os.environ, QT_SCALE_FACTOR=str(args.scale))
        cmd = [sys.executable, __file__, "--out", args.out, "--langs", args.langs.split(",")[0], "--only-scaled"]
        return rc or subprocess.call(cmd, env=env)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Render the stage report of a demo review in the six languages to docs/screenshots/ (pages 1-2).

Usage: .venv/bin/python scripts/report_screenshots.py   (needs pdftoppm from poppler-utils)
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.bundle.demo_trust import DEMO_PASSPHRASE  # noqa: E402
from app.bundle.keys import load_keyfile  # noqa: E402
from app.bundle.submit import seal_stage  # noqa: E402
from app.cli.main import main  # noqa: E402
from app.model.service import Kit  # noqa: E402
from app.review.workspace import PanelWorkspace  # noqa: E402

LANGS = ("ar", "zh", "en", "fr", "ru", "es")
COMMENTS = {"not_met": "The 2030 framework is not yet adopted by the council; adopt it and publish the minutes.",
            "needs_information": "Add the 2024 ward survey for Kisima and Mji Mpya, disaggregated by sex."}


def run() -> None:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        city, panel = Path(tmp) / "city", Path(tmp) / "panel"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--data", str(city), "demo"]) == 0
            assert main(["--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo"]) == 0
        member = load_keyfile(city / "demo" / "panel" / "reviewer-1.key", DEMO_PASSPHRASE)
        with Kit(city) as kit:
            sealed = seal_stage(kit, "B", load_keyfile(city / "keys" / "city.key", DEMO_PASSPHRASE), Path(tmp) / "s")
        with PanelWorkspace(panel) as ws:
            ws.import_bundle(sealed.path, member)
            fw = ws.framework_for(ws.submission(sealed.bundle_id))
            for i, r in enumerate(fw.stage("B").requirements()):
                verdict = ("met", "met", "needs_information", "met", "not_met")[i % 5]
                ws.set_verdict(sealed.bundle_id, r.id, verdict, COMMENTS.get(verdict, ""), panel=True)
            files = ws.write_report(sealed.bundle_id, member, Path(tmp) / "r", list(LANGS), recommendation="defer")
        for lang in LANGS:
            subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "2", str(files[lang]),
                            str(out / f"stage-report-{lang}")], check=True)
            print(out / f"stage-report-{lang}-1.png")


if __name__ == "__main__":
    run()

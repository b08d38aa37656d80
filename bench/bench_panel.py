"""The technical panel: importing many bundles, and writing a full stage report.

Usage: python bench/bench_panel.py [--bundles 100] [--mb 10] [--runs 5]

* import: ``PanelWorkspace.import_bundle`` of ``--bundles`` bundles of ``--mb`` MB each (verify,
  trust checks, decrypt, write evidence, record), as a ratio to decrypting the same ciphertext
  alone to files with :func:`app.bundle.age.decrypt_stream`, as ``age -d -o`` does (goal <= 1.5),
  and to that plus the two SHA-256 passes format v1 requires;
* report: the stage B report of the demo city (every requirement with a verdict) as JSON and PDF
  in each of the six languages, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.bundle import age  # noqa: E402
from app.bundle.demo_trust import DEMO_PASSPHRASE  # noqa: E402
from app.bundle.keys import load_keyfile  # noqa: E402
from app.bundle.submit import seal_stage  # noqa: E402
from app.cli.main import main as sdgkit  # noqa: E402
from app.model.service import Kit  # noqa: E402
from app.review.workspace import PanelWorkspace  # noqa: E402

LANGS = ("ar", "zh", "en", "fr", "ru", "es")


class Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        return len(b)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundles", type=int, default=100)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "panel.md"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-panel-"))
    city, panel = work / "city", work / "panel"
    with contextlib.redirect_stdout(io.StringIO()):
        assert sdgkit(["--data", str(city), "demo"]) == 0
        assert sdgkit(["--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo"]) == 0
    member = load_keyfile(city / "demo" / "panel" / "reviewer-1.key", DEMO_PASSPHRASE)
    keys = load_keyfile(city / "keys" / "city.key", DEMO_PASSPHRASE)
    bundles = []
    size = int(args.mb * 1_000_000)
    with Kit(city) as kit:
        for e in kit.list_evidence("B"):  # each bundle then carries exactly one evidence file of --mb MB
            kit.remove_evidence(e.id)
        for i in range(args.bundles):
            ev = work / "ev" / f"survey-{i:03d}.zip"
            ev.parent.mkdir(parents=True, exist_ok=True)
            import zipfile

            with zipfile.ZipFile(ev, "w", zipfile.ZIP_STORED) as zf:  # a real data set archive, incompressible
                zf.writestr("survey.bin", os.urandom(size))
            link = kit.attach_evidence("B", "B.a.1", ev, kind="dataset")
            bundles.append(seal_stage(kit, "B", keys, work / "stick").path)
            kit.remove_evidence(link.id)
    total = sum(p.stat().st_size for b in bundles for p in b.rglob("*") if p.is_file())

    imports, decrypts, hashed = [], [], []
    plain = work / "plain"
    for run in range(args.runs):
        shutil.rmtree(plain, ignore_errors=True)
        plain.mkdir()
        t = time.perf_counter()
        for b in bundles:  # what `age -d -o FILE` does for each object: decrypt, write the plaintext
            for seg in sorted(b.rglob("*.age*")):
                with open(seg, "rb") as fh, open(plain / seg.name, "wb") as out:
                    age.decrypt_stream(fh, out, [member.age_identity])  # type: ignore[arg-type]
        decrypts.append(time.perf_counter() - t)
        shutil.rmtree(plain)
        plain.mkdir()
        t = time.perf_counter()
        for b in bundles:  # the same, plus the two SHA-256 passes format v1 requires (ciphertext, plaintext)
            for seg in sorted(b.rglob("*.age*")):
                hc = hashlib.sha256(seg.read_bytes())
                with open(seg, "rb") as fh, open(plain / seg.name, "wb") as out:
                    age.decrypt_stream(fh, out, [member.age_identity])  # type: ignore[arg-type]
                hp = hashlib.sha256((plain / seg.name).read_bytes())
                assert hc and hp
        hashed.append(time.perf_counter() - t)
        shutil.rmtree(panel / "review", ignore_errors=True)
        (panel / "kit.db").unlink(missing_ok=True)
        for extra in ("kit.db-wal", "kit.db-shm"):
            (panel / extra).unlink(missing_ok=True)
        t = time.perf_counter()
        with PanelWorkspace(panel) as ws:
            for b in bundles:
                ws.import_bundle(b, member)
        imports.append(time.perf_counter() - t)

    report_t = []
    with PanelWorkspace(panel) as ws:
        bid = ws.submissions()[-1]["bundle_id"]
        fw = ws.framework_for(ws.submission(bid))
        for i, r in enumerate(fw.stage("B").requirements()):
            ws.set_verdict(bid, r.id, ("met", "not_met", "needs_information")[i % 3], "Publish the ward data.",
                           panel=True)
        for run in range(args.runs):
            t = time.perf_counter()
            ws.write_report(bid, member, work / f"report-{run}", list(LANGS), recommendation="defer")
            report_t.append(time.perf_counter() - t)

    med = statistics.median
    # the ratio of each run's import to the same run's decryption, then the median: the machine is
    # shared and its speed drifts between runs more than between two steps of one run
    ratio = med(i / d for i, d in zip(imports, decrypts))
    ratio_hashed = med(i / h for i, h in zip(imports, hashed))
    ratio_format = med(h / d for h, d in zip(hashed, decrypts))
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    lines = [f"### Technical panel ({args.bundles} bundles of {args.mb:g} MB, {args.runs} runs, medians; ratios are "
             "medians of each run's own ratio)", "",
             f"Machine: {platform.node()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
             f"date {date.today().isoformat()}.", "",
             "| measure | result | goal | ratio |", "|---|---|---|---|",
             f"| decrypt the same objects to files alone, like `age -d -o` (limit) | {med(decrypts):.2f} s ({total / med(decrypts) / 1e6:.0f} MB/s) | | |",
             f"| ... plus SHA-256 of ciphertext and plaintext (the format's own work) | {med(hashed):.2f} s | | "
             f"{ratio_format:.2f} × decrypt |",
             f"| import {args.bundles} bundles (verify, trust, decrypt, write, record) | {med(imports):.2f} s "
             f"({total / med(imports) / 1e6:.0f} MB/s) | ≤ 1.5 × decrypt | {ratio:.2f} "
             f"({ratio_hashed:.2f} × decrypt + hashes) |",
             f"| stage B report, JSON + PDF in 6 languages | {med(report_t):.2f} s "
             f"({med(report_t) / 6:.2f} s per language) | | |"]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

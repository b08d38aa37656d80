"""``--self-test`` of the frozen kit: proves on the target PC that every part of the program works.

It runs offscreen and uses a scratch data folder inside the stick's data folder (removed at the
end), so nothing is written outside the stick and the city's data is untouched. Steps: the Qt
platform starts and shows a window; the store opens, migrates and takes an answer; a small
bundle is sealed to a scratch trust pack and verified; a PDF in Arabic is written and checked.
Exit code 0 only if every step passed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Callable


def _step(name: str, fn: Callable[[], str], results: list[tuple[str, bool, str]]) -> None:
    t = time.perf_counter()
    try:
        detail = fn()
        results.append((name, True, f"{detail} ({(time.perf_counter() - t) * 1000:.0f} ms)"))
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure and goes on
        results.append((name, False, f"{type(exc).__name__}: {exc}"))


def run_self_test(argv: list[str] | None = None) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.model.paths import resolve_data_dir

    data_arg = None
    if argv and "--data" in argv:
        data_arg = argv[argv.index("--data") + 1]
    base = resolve_data_dir(data_arg)
    scratch = base / f"selftest-{uuid.uuid4().hex[:8]}"
    results: list[tuple[str, bool, str]] = []
    try:
        _step("qt", _qt_window, results)
        _step("store", lambda: _store(scratch / "city"), results)
        _step("bundle", lambda: _bundle(scratch), results)
        _step("pdf", lambda: _pdf(scratch), results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    ok = all(r[1] for r in results)
    print("self-test passed" if ok else "self-test FAILED")
    return 0 if ok else 1


PROBE_ENV = "SDGKIT_STARTUP_PROBE"


def report_first_window(label: str) -> None:
    """Benchmarks: print when the first window is on screen (see installer/entry.py)."""
    print(f"SDGKIT_FIRST_WINDOW {time.time():.6f} {label}", flush=True)


def _qt_window() -> str:
    from app.ui.smoke import show_test_window  # Qt lives in app/ui only

    return show_test_window(probe=bool(os.environ.get(PROBE_ENV)), report=report_first_window)


def _store(data: Path) -> str:
    from app.model.service import Kit

    with Kit(data, actor="self-test") as kit:
        kit.init_profile(name="Self-test", country="KE", population_band="<50k", languages=["en"])
        req = next(r for r in kit.framework.stages[0].requirements())
        fld = next(f for f in req.fields if f.type in ("text", "yes_no"))
        kit.set_answer(req.stage_id, req.id, fld.id, "self-test" if fld.type == "text" else True)
        assert kit.answers(req.stage_id)[req.id][fld.id] in ("self-test", True)
        assert kit.store.integrity_check() == ["ok"]
    return f"answered {req.id}"


def _bundle(scratch: Path) -> str:
    from app.bundle.selftest import seal_and_verify_small_bundle

    return seal_and_verify_small_bundle(scratch)


def _pdf(scratch: Path) -> str:
    from app.report.guide import guide_pdf
    from app.report.pdf import FONT_FILES, font_path
    from app.resources import resources_dir

    if getattr(sys, "frozen", False):  # the fonts must travel inside the program, not come from the PC
        for name in FONT_FILES.values():
            if resources_dir() not in font_path(name).parents:
                raise RuntimeError(f"the font {name} is not inside the kit")
    data = guide_pdf("ar")
    if not data.startswith(b"%PDF") or len(data) < 1000 or b"KurintoSans" not in data:
        raise RuntimeError("PDF output is not valid")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "selftest.pdf").write_bytes(data)
    from app.model.preview import pdf_first_page_png

    preview = pdf_first_page_png(scratch / "selftest.pdf", 120)  # the evidence preview's engine (PDFium)
    if preview is None or not preview[0].startswith(b"\x89PNG"):
        raise RuntimeError("the PDF preview engine does not work")
    return f"{len(data)} bytes, first page rendered"

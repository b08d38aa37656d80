"""Stick benchmarks: build time, image size per OS, cold start of the frozen app to its first window.

Usage: python bench/bench_stick.py [--runs 5] [--image DIR] [--keep DIR] [--no-drop-caches]

Builds a demo-signed image with build_usb.py into a temporary folder (or measures ``--image``),
then starts the frozen program ``--runs`` times and reports the median time from launch to its
first window on screen (goal <= 2.5 s). "Cold": before each start the page cache is dropped
(``/proc/sys/vm/drop_caches``, needs root; otherwise the runs are warm and the table says so).

The first window is the desktop app's (``SDGKIT_STARTUP_PROBE=1``: installer/entry.py reports the
first event-loop turn after a window is shown, then quits). If the tree has no desktop app, the
self-test's Qt window step is measured instead, and the table says so. The platform is Qt's
``offscreen`` one, and ``xcb`` under Xvfb when ``xvfb-run`` exists.

Prints markdown and writes bench/results/stick.md. Only this host's OS can be measured: PyInstaller
does not cross-compile, so the Windows and macOS rows say "not measurable here".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_SIZE_MB, GOAL_START_S = 150, 2.5


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_once(exe: Path, args: list[str], env: dict[str, str], cold: bool) -> dict[str, float]:
    dropped = drop_caches() if cold else False
    t0 = time.time()
    r = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=180)
    wall = time.time() - t0
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("SDGKIT_FIRST_WINDOW ")), None)
    if line is None:
        raise RuntimeError(f"no first-window report (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
    return {"shown": float(line.split()[1]) - t0, "wall": wall, "cold": dropped, "window": line.split()[2]}


def start_xvfb() -> tuple[subprocess.Popen, str] | None:
    """One X server for a whole series, so its own start is not counted."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        return None
    for n in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            proc = subprocess.Popen([xvfb, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    return proc, f":{n}"
                time.sleep(0.05)
            proc.terminate()
            return None
    return None


def measure_starts(exe: Path, data: Path, runs: int, cold: bool, platform_name: str,
                   display: str | None = None, city: bool = False) -> dict[str, object]:
    """Start the program ``runs`` times on a fresh data folder (or one holding the demo city)."""
    env = {"HOME": str(data.parent.parent / "home"), "PATH": "/nonexistent", "SDGKIT_STARTUP_PROBE": "1",
           "QT_QPA_PLATFORM": platform_name}
    if display:
        env["DISPLAY"] = display
    Path(env["HOME"]).mkdir(exist_ok=True)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    if city:  # the daily start: a city's data is on the stick (made by the frozen program itself)
        subprocess.run([str(exe), "demo"], env={**env, "QT_QPA_PLATFORM": "offscreen"}, check=True,
                       capture_output=True, timeout=300)
    has_ui = (ROOT / "app" / "ui" / "main.py").exists()
    args = [] if has_ui else ["--self-test"]
    first = start_once(exe, args, env, cold)  # the first start on this data folder
    samples = [start_once(exe, args, env, cold) for _ in range(runs)]
    shown = [s["shown"] for s in samples]
    what = ("desktop app, " + ("demo city" if city else "empty stick")) if has_ui else "self-test Qt window"
    return {"platform": platform_name, "what": what,
            "first_ever_s": first["shown"], "median_shown_s": statistics.median(shown), "min_s": min(shown),
            "max_s": max(shown), "median_wall_s": statistics.median(s["wall"] for s in samples),
            "cold": all(s["cold"] for s in samples), "window": samples[0]["window"], "runs": runs}


def biggest_parts(prog: Path, n: int = 8) -> list[tuple[str, int]]:
    internal = prog / "_internal"
    sizes: dict[str, int] = {}
    for p in internal.rglob("*"):
        if p.is_file():
            rel = p.relative_to(internal).parts
            key = "/".join(rel[:2]) if rel[0] in ("PySide6", "resources") and len(rel) > 2 else rel[0]
            if rel[0] == "PySide6" and len(rel) > 3 and rel[1] == "Qt":
                key = "PySide6/Qt/" + rel[2]
            sizes[key] = sizes.get(key, 0) + p.stat().st_size
    for p in prog.iterdir():
        if p.is_file():
            sizes[p.name] = p.stat().st_size
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:n]


def selfcheck_time(exe: Path, env: dict[str, str], cold: bool) -> float:
    if cold:
        drop_caches()
    t = time.perf_counter()
    r = subprocess.run([str(exe), "selfcheck"], env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description="stick benchmarks")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--image", type=Path, help="measure this image instead of building one")
    ap.add_argument("--keep", type=Path, help="build the image here and keep it")
    ap.add_argument("--no-drop-caches", action="store_true", help="warm starts only")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stick.md")
    args = ap.parse_args()

    import build_usb

    tag = build_usb.host_tag()
    scratch = Path(tempfile.mkdtemp(prefix="bench-stick-"))
    build: dict[str, object] = {}
    try:
        if args.image:
            root = args.image.resolve()
        else:
            root = (args.keep or scratch / "STICK").resolve()
            report = scratch / "build.json"
            t = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "build_usb.py"), "--target", str(root), "--work",
                            str(scratch / "work"), "--demo-release-key", "--force", "--report-json", str(report)],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            build = json.loads(report.read_text(encoding="utf-8"))
            build["wall_s"] = time.perf_counter() - t
        prog = root / "programs" / tag
        exe = prog / ("sdgkit.exe" if tag.startswith("windows") else "sdgkit")
        shared = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
                     and not p.is_relative_to(root / "programs") and not p.is_relative_to(root / "data"))
        prog_bytes = sum(p.stat().st_size for p in prog.rglob("*") if p.is_file())
        files = sum(1 for p in prog.rglob("*") if p.is_file())
        cold = not args.no_drop_caches
        data_copy = scratch / "run" / "STICK"
        shutil.copytree(root, data_copy, ignore=shutil.ignore_patterns("data"))  # measure on a fresh stick
        (data_copy / "data").mkdir()
        run_exe = data_copy / "programs" / tag / exe.name
        starts = [measure_starts(run_exe, data_copy / "data", args.runs, cold, "offscreen"),
                  measure_starts(run_exe, data_copy / "data", args.runs, cold, "offscreen", city=True)]
        x = start_xvfb() if tag.startswith("linux") else None
        if x:
            try:
                starts.append(measure_starts(run_exe, data_copy / "data", args.runs, cold, "xcb", x[1]))
                starts.append(measure_starts(run_exe, data_copy / "data", args.runs, cold, "xcb", x[1], city=True))
            finally:
                x[0].terminate()
                x[0].wait()
        env = {"HOME": str(scratch), "PATH": "/nonexistent"}
        t_check = selfcheck_time(run_exe, env, cold)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    machine = (f"{platform.node() or 'host'}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{platform.system()} {platform.release()}")
    size_mb = (prog_bytes + shared) / 1e6
    lines = [f"### Stick image ({tag}, {args.runs} starts per platform, medians)", "",
             f"Machine: {machine}; date {time.strftime('%Y-%m-%d')}. Starts are "
             + ("**cold** (page cache dropped before each start)" if all(s["cold"] for s in starts)
                else "warm (page cache could not be dropped)")
             + "; the image was on the local disk, not on a USB stick.", "",
             "| measure | result | goal | note |", "|---|---|---|---|"]
    if build:
        lines.append(f"| build time (`build_usb.py`, PyInstaller freeze + layout + signing) | {build['wall_s']:.1f} s "
                     f"(freeze {build['freeze_s']} s) | | `--clean` build, 2 cores |")
    lines.append(f"| image size, {tag} (program + shared files) | **{size_mb:.1f} MB** | ≤ {GOAL_SIZE_MB} MB | "
                 f"{'met' if size_mb <= GOAL_SIZE_MB else 'over'}: program {prog_bytes / 1e6:.1f} MB in {files} files, "
                 f"shared (guides, launchers, lists) {shared / 1e6:.1f} MB |")
    lines.append("| image size, windows-x86_64 | not measurable here | ≤ 150 MB | PyInstaller cannot cross-compile: "
                 "build on Windows (docs/usb-stick.md) |")
    lines.append("| image size, macos | not measurable here | ≤ 150 MB | build on a Mac (docs/usb-stick.md) |")
    for s in starts:
        ok = "met" if s["median_shown_s"] <= GOAL_START_S else "over"
        lines.append(f"| start to first window, Qt `{s['platform']}` ({s['what']}) | **{s['median_shown_s']:.2f} s** "
                     f"(min {s['min_s']:.2f}, max {s['max_s']:.2f}) | ≤ {GOAL_START_S} s | {ok}; window `{s['window']}`; "
                     f"first start on this data {s['first_ever_s']:.2f} s; launch to exit "
                     f"{s['median_wall_s']:.2f} s |")
    lines.append(f"| `sdgkit selfcheck` (hash the whole image) | {t_check:.2f} s | | "
                 f"{size_mb / t_check:.0f} MB/s from {'cold' if cold else 'warm'} cache |")
    if build.get("glibc_needed"):
        lines.append(f"| oldest Linux it runs on | glibc ≥ {build['glibc_needed']} | | set by the build machine |")
    lines += ["", "Largest parts of the program folder:", "", "| part | MB |", "|---|---|"]
    lines += [f"| {name} | {size / 1e6:.1f} |" for name, size in biggest_parts(prog)]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text, encoding="utf-8")
    shutil.rmtree(scratch, ignore_errors=True)  # an image asked for with --keep lives outside it
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sealing, verifying and opening bundles against the physical limits, in the same run.

Usage: python bench/bench_bundle.py [--gib 1] [--memory-gib 1,3] [--runs 3] [--dir DIR] [--out FILE]

Evidence: a few large files (the rest of the size, split in four) and 1,000 small ones (4-64 KiB),
random bytes, written once to ``--dir``. Each figure is the median of ``--runs`` runs:

* seal: :func:`app.bundle.bundle.seal` to two panel recipients, as a ratio to a plain copy of the
  same files plus one SHA-256 of them (goal >= 0.5);
* verify: :func:`app.bundle.bundle.verify_folder` as a ratio to ``sha256sum -c`` of the same
  bundle (goal >= 0.8);
* open: :func:`app.bundle.bundle.open_bundle` in MB/s;
* peak memory of a whole seal in a fresh process (ru_maxrss), for each size of ``--memory-gib``
  (goal <= 150 MB and about the same for every size);
* the longest time the calling thread is blocked while a worker thread seals: a thread that
  sleeps 2 ms in a loop records its largest gap (goal <= 20 ms).

Caches are warm (the machine cannot drop them): copy and seal read the same cached evidence.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.bundle.bundle import SealRequest, SourceFile, open_bundle, seal, verify_folder  # noqa: E402
from app.bundle.keys import KeySet, Role  # noqa: E402

MB = 1_000_000


def make_evidence(folder: Path, total: int, n_small: int = 1000) -> list[SourceFile]:
    folder.mkdir(parents=True, exist_ok=True)
    files: list[SourceFile] = []
    rnd = __import__("random").Random(7)
    small_sizes = [rnd.randint(4 << 10, 64 << 10) for _ in range(n_small)]
    large_total = max(0, total - sum(small_sizes))
    sizes = small_sizes + [large_total // 4] * 4
    for i, size in enumerate(sizes):
        p = folder / f"f{i:05d}.bin"
        h = hashlib.sha256()
        if not p.exists() or p.stat().st_size != size:
            with open(p, "wb") as fh:
                left = size
                while left:
                    block = os.urandom(min(left, 8 << 20))
                    fh.write(block)
                    left -= len(block)
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(8 << 20), b""):
                h.update(block)
        files.append(SourceFile(path=f"evidence/B/B.a.1/{p.name}", source=p, sha256=h.hexdigest(), size=size,
                                mime="application/octet-stream"))
    return files


def request(files: list[SourceFile], recipients: list[str]) -> SealRequest:
    return SealRequest(city_id="bench", stage="B", submission_id="b" * 32, revision=1, supersedes=None,
                       content={"answers": {}}, files=tuple(files), recipients=tuple(recipients),
                       panel_id="bench", trust_files={})


def copy_and_hash(files: list[SourceFile], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    for f in files:
        with open(f.source, "rb") as src, open(dst / f.source.name, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def memory_child(gib: float, workdir: str) -> None:
    """Run in a fresh process: seal ``gib`` GiB and print the peak RSS in MB."""
    work = Path(workdir)
    files = make_evidence(work / f"evidence-{gib}", int(gib * (1 << 30)))
    city = KeySet.generate(Role.CITY, "bench")
    panel = [KeySet.generate(Role.PANEL_MEMBER, f"r{i}") for i in range(2)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = seal(request(files, [k.age_recipient for k in panel]), work / f"mem-out-{gib}", city.signing_key)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    shutil.rmtree(res.path.parent)
    print(json.dumps({"peak_mb": peak / 1024, "before_mb": before / 1024}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--memory-gib", default="1,3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "bundle.md"))
    ap.add_argument("--memory-child", type=float, default=None)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-bundle-"))
    if args.memory_child is not None:
        memory_child(args.memory_child, str(work))
        return 0

    total = int(args.gib * (1 << 30))
    files = make_evidence(work / "evidence", total)
    size = sum(f.size for f in files)
    city = KeySet.generate(Role.CITY, "bench")
    panel = [KeySet.generate(Role.PANEL_MEMBER, f"r{i}") for i in range(2)]
    recips = [k.age_recipient for k in panel]

    copy_t, seal_t, verify_t, sha_t, open_t = [], [], [], [], []
    stalls = []
    for run in range(args.runs):
        shutil.rmtree(work / "copy", ignore_errors=True)
        copy_t.append(timed(lambda: copy_and_hash(files, work / "copy")))
        shutil.rmtree(work / "copy", ignore_errors=True)
        out = work / f"sealed-{run}"
        result = {}
        seal_t.append(timed(lambda: result.setdefault("r", seal(request(files, recips), out, city.signing_key))))
        bundle = result["r"].path
        verify_t.append(timed(lambda: verify_folder(bundle)))
        sha_t.append(timed(lambda: subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=bundle,
                                                  check=True)))
        opened = work / f"opened-{run}"
        vb = verify_folder(bundle)
        open_t.append(timed(lambda: open_bundle(vb, panel[0].age_identity, opened)))
        shutil.rmtree(opened)
        # the calling thread while a worker seals
        stop = threading.Event()
        gaps = [0.0]

        def ticker() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                time.sleep(0.002)
                now = time.perf_counter()
                gaps[0] = max(gaps[0], now - last - 0.002)
                last = now

        out2 = work / f"sealed-thread-{run}"
        t = threading.Thread(target=ticker)
        t.start()
        worker = threading.Thread(target=lambda: seal(request(files, recips), out2, city.signing_key))
        worker.start()
        worker.join()
        stop.set()
        t.join()
        stalls.append(gaps[0])
        shutil.rmtree(out)
        shutil.rmtree(out2)

    mem = {}
    for g in [float(x) for x in args.memory_gib.split(",") if x]:
        r = subprocess.run([sys.executable, __file__, "--memory-child", str(g), "--dir", str(work)],
                           capture_output=True, text=True, check=True)
        mem[g] = json.loads(r.stdout.strip().splitlines()[-1])["peak_mb"]
        shutil.rmtree(work / f"evidence-{g}", ignore_errors=True)

    med = statistics.median
    copy_mbs = size / med(copy_t) / MB
    seal_mbs = size / med(seal_t) / MB
    verify_mbs = size / med(verify_t) / MB
    sha_mbs = size / med(sha_t) / MB
    open_mbs = size / med(open_t) / MB
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    rows = [
        ("plain copy + one SHA-256 (limit)", f"{copy_mbs:.0f} MB/s", "", ""),
        ("seal", f"{seal_mbs:.0f} MB/s", "≥ 0.5 × copy", f"{seal_mbs / copy_mbs:.2f}"),
        ("sha256sum -c of the bundle (limit)", f"{sha_mbs:.0f} MB/s", "", ""),
        ("verify", f"{verify_mbs:.0f} MB/s", "≥ 0.8 × sha256sum", f"{verify_mbs / sha_mbs:.2f}"),
        ("open (decrypt, check, write)", f"{open_mbs:.0f} MB/s", "", f"{open_mbs / copy_mbs:.2f} × copy"),
        ("longest block of the calling thread while a worker seals", f"{max(stalls) * 1000:.1f} ms (median "
         f"{med(stalls) * 1000:.1f})", "≤ 20 ms", ""),
    ] + [(f"peak memory sealing {g:g} GiB", f"{m:.0f} MB", "≤ 150 MB, flat", "") for g, m in mem.items()]
    text = [f"### Bundles ({args.gib:g} GiB of evidence: 4 large files and 1,000 small ones, {args.runs} runs, medians)",
            "", f"Machine: {platform.node()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; date {date.today().isoformat()}; working folder {work} "
            "(warm page cache).", "", "| measure | result | goal | ratio |", "|---|---|---|---|"]
    text += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    out_text = "\n".join(text) + "\n"
    print(out_text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(out_text, encoding="utf-8")
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

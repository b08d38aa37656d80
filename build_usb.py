#!/usr/bin/env python3
"""Build the SDG Cities Kit stick image.

    python build_usb.py --target DIR (--release-key FILE | --demo-release-key) [--root-pub FILE]
                        [--trust-pack DIR] [--merge] [--force]

1. freezes the kit with PyInstaller (``installer/sdgkit.spec``: one folder, unused Qt modules out);
2. lays out the image: launchers for each OS at the root, ``programs/<os>-<arch>/``, ``data/`` with
   the portable marker beside it, the trust pack, the quick-start guide in six languages (PDF);
3. pins the release public key (and, for an official kit, the platform root key) inside the
   program, writes ``SHA256SUMS`` of every file and its minisign signature by the release key
   (last), and runs the self-check on the result.

Only the host's OS can be frozen (PyInstaller does not cross-compile): run the same command with
``--merge`` on Windows and macOS to add their program folders to one image (docs/usb-stick.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

SIZE_GOAL_MB = 150
DEMO_NOTE = "DEMO-KIT.txt"

LAUNCHERS = {
    "START-Windows.cmd": (
        "@echo off\r\n"
        "rem Start the SDG Cities Kit from this stick (double-click). Nothing is installed on this PC.\r\n"
        "set \"prog=%~dp0programs\\windows-x86_64\\SDG-Cities-Kit.exe\"\r\n"
        "if not exist \"%prog%\" (\r\n"
        "  echo This stick has no program for Windows. Ask the platform for a kit that includes Windows.\r\n"
        "  pause\r\n"
        "  exit /b 1\r\n"
        ")\r\n"
        "start \"\" \"%prog%\" %*\r\n"),
    "START-Linux.sh": (
        "#!/bin/sh\n"
        "# Start the SDG Cities Kit from this stick: sh START-Linux.sh   (nothing is installed on this PC)\n"
        "here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
        "case $(uname -m) in\n"
        "  x86_64|amd64) arch=x86_64; loader=/lib64/ld-linux-x86-64.so.2 ;;\n"
        "  aarch64|arm64) arch=aarch64; loader=/lib/ld-linux-aarch64.so.1 ;;\n"
        "  *) arch=$(uname -m); loader= ;;\n"
        "esac\n"
        "prog=\"$here/programs/linux-$arch/sdgkit\"\n"
        "if [ ! -f \"$prog\" ]; then\n"
        "  echo \"This stick has no program for Linux on $arch. Ask the platform for a kit that includes it.\" >&2\n"
        "  exit 1\n"
        "fi\n"
        "# A FAT32 stick mounted with 'showexec' has no execute bit: start the program through the\n"
        "# system's loader instead, which needs no permission and changes nothing on the stick.\n"
        "if [ -x \"$prog\" ] || [ -z \"$loader\" ]; then exec \"$prog\" \"$@\"; fi\n"
        "exec \"$loader\" \"$prog\" \"$@\"\n"),
    "START-macOS.command": (
        "#!/bin/sh\n"
        "# Start the SDG Cities Kit from this stick (double-click in Finder). Nothing is installed on this Mac.\n"
        "here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
        "case $(uname -m) in arm64|aarch64) arch=aarch64 ;; *) arch=x86_64 ;; esac\n"
        "prog=\"$here/programs/macos-$arch/sdgkit\"\n"
        "[ -f \"$prog\" ] || prog=\"$here/programs/macos-x86_64/sdgkit\"   # Apple silicon runs it through Rosetta 2\n"
        "if [ ! -f \"$prog\" ]; then\n"
        "  echo \"This stick has no program for macOS. Ask the platform for a kit that includes macOS.\" >&2\n"
        "  exit 1\n"
        "fi\n"
        "exec \"$prog\" \"$@\"\n"),
}

README = """SDG Cities Kit {version}{demo_title}
==============

Start:   Windows: double-click START-Windows.cmd
         Linux:   sh START-Linux.sh
         macOS:   double-click START-macOS.command
Guide:   guide/quick-start-<language>.pdf (ar, zh, en, fr, ru, es)
Data:    everything you enter stays in the data/ folder of this stick. Nothing is installed on the PC.
Programs on this stick: {programs}

Check that this kit is genuine (nothing on it was altered):
  - from the kit:       programs/<your system>/sdgkit selfcheck   (Windows: sdgkit.exe selfcheck)
  - with stock tools:   minisign -Vm SHA256SUMS -P {release_key}
                        sha256sum -c SHA256SUMS      (macOS: shasum -a 256 -c SHA256SUMS)
    (Windows PowerShell: Get-FileHash -Algorithm SHA256 <file>, compare with the line in SHA256SUMS)
Release key fingerprint: {fingerprint}
Compare it with the fingerprint the platform publishes. If they differ, do not use this stick.
{demo_text}"""

DEMO_TEXT = """
THIS IS A DEMO KIT. It was signed with a throwaway test key, not by the platform's release key:
use it for training and tests only, never for a real submission.
"""

# File names FAT32, exFAT and Windows refuse (or mangle).
BAD_CHARS = set('<>:"|?*\\') | {chr(c) for c in range(32)} | {chr(127)}
RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$"} | {f"com{i}" for i in "123456789¹²³"} \
    | {f"lpt{i}" for i in "123456789¹²³"}
MAX_PATH = 240  # Windows' 260 minus room for the drive and the folder the stick is copied into


def name_problems(root: Path, *, base: str = "") -> list[str]:
    """Names below ``root`` that a FAT32/exFAT stick or Windows would refuse: bad characters, control
    characters, trailing dot or space, reserved device names, names equal but for case, symlinks,
    too-long paths."""
    root = Path(root)
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        names = dirnames + filenames
        seen: dict[str, str] = {}
        for name in names:
            rel = (here / name).relative_to(root).as_posix()
            shown = f"{base}{rel}"
            if any(c in BAD_CHARS for c in name):
                problems.append(f"{shown}: character not allowed on FAT32/Windows")
            if name.endswith((".", " ")):
                problems.append(f"{shown}: ends with a dot or a space")
            if name.split(".")[0].lower().rstrip(" ") in RESERVED:
                problems.append(f"{shown}: reserved device name on Windows")
            if len(name.encode("utf-16-le")) // 2 > 255:
                problems.append(f"{shown}: name longer than 255 characters")
            if len(shown) > MAX_PATH:
                problems.append(f"{shown}: path longer than {MAX_PATH} characters")
            if (here / name).is_symlink():
                problems.append(f"{shown}: symbolic link (FAT32 and exFAT cannot store it)")
            key = name.casefold()
            if key in seen:
                problems.append(f"{shown}: same name as {seen[key]} but for case")
            seen[key] = name
    return sorted(set(problems))


def host_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{system}-{machine}"


def freeze(work: Path) -> Path:
    dist, build = work / "dist", work / "build"
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit("PyInstaller is not installed: pip install -c requirements/constraints.txt -e '.[dev]'")
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(build), str(ROOT / "installer" / "sdgkit.spec")]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return dist / "sdgkit"


def copy_program(src: Path, dst: Path) -> int:
    """Copy the frozen folder, turning symlinks into files (FAT32 and exFAT have none)."""
    count = 0
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if "__pycache__" in rel.parts:
            continue
        target = dst / rel
        if p.is_symlink() and not p.exists():
            continue  # dangling: points at something the spec filtered out
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p.resolve(), target)
        count += 1
    return count


def load_release_key(args: argparse.Namespace, work: Path):  # type: ignore[no-untyped-def]
    from app.bundle.minisign import SigningKey

    if args.release_key:
        text = Path(args.release_key).read_text(encoding="utf-8")
        return SigningKey.from_minisign_secret(text, os.environ.get("SDGKIT_RELEASE_PASSPHRASE") or None)
    key_path = work / "demo-release.key"
    if key_path.exists():
        return SigningKey.from_minisign_secret(key_path.read_text(encoding="utf-8"), None)
    key = SigningKey.generate()
    key_path.write_text(key.to_minisign_secret(None), encoding="utf-8")
    print(f"demo release key written to {key_path} (not for production)")
    return key


def glibc_needed(folder: Path) -> str | None:
    """Newest GLIBC symbol version the Linux program needs (the oldest Linux it runs on)."""
    best = None
    pat = re.compile(rb"GLIBC_(\d+)\.(\d+)")
    for p in folder.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        with open(p, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
            data = fh.read()
        for m in pat.finditer(data):
            v = (int(m.group(1)), int(m.group(2)))
            best = v if best is None or v > best else best
    return f"{best[0]}.{best[1]}" if best else None


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[1])
    ap.add_argument("--target", required=True, type=Path, help="folder to write the stick image into")
    ap.add_argument("--release-key", help="minisign secret key of the release (passphrase: SDGKIT_RELEASE_PASSPHRASE)")
    ap.add_argument("--demo-release-key", action="store_true", help="sign with a throwaway key; the image says DEMO")
    ap.add_argument("--root-pub", type=Path, help="platform root public key to pin in the program (official kits)")
    ap.add_argument("--trust-pack", type=Path, help="trust pack folder to put on the stick")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "usb", help="build folder")
    ap.add_argument("--skip-freeze", action="store_true", help="reuse the last frozen program in --work")
    ap.add_argument("--force", action="store_true", help="replace an existing image in --target")
    ap.add_argument("--merge", action="store_true",
                    help="add or replace this OS's program in an existing image signed by the same key")
    ap.add_argument("--report-json", type=Path, help="also write the build summary (sizes, times) as JSON")
    args = ap.parse_args(argv)
    if bool(args.release_key) == bool(args.demo_release_key):
        ap.error("give --release-key FILE, or --demo-release-key for a test image")

    t0 = time.perf_counter()
    target: Path = args.target.resolve()
    work: Path = args.work.resolve()
    tag = host_tag()
    work.mkdir(parents=True, exist_ok=True)
    from app import __version__
    from app.stick import DATA, SUMS, selfcheck, sign_image

    key = load_release_key(args, work)
    merging = False
    if target.exists() and any(target.iterdir()):
        if args.merge and (target / SUMS).exists():
            rep = selfcheck(target, key.public_key())
            if not rep.ok:
                ap.error(f"{target} is not an intact image signed by this release key: "
                         f"{json.dumps(rep.as_dict(), ensure_ascii=False)}")
            merging = True
        elif args.force:
            shutil.rmtree(target)
        else:
            ap.error(f"{target} is not empty (use --merge to add this OS's program, --force to replace it)")

    frozen = work / "dist" / "sdgkit"
    if not (args.skip_freeze and frozen.exists()):
        frozen = freeze(work)
    t_freeze = time.perf_counter() - t0

    target.mkdir(parents=True, exist_ok=True)
    prog = target / "programs" / tag
    if prog.exists():
        shutil.rmtree(prog)
    n = copy_program(frozen, prog)
    internal = prog / "_internal" if (prog / "_internal").is_dir() else prog
    trust_dir = internal / "resources" / "trust"
    trust_dir.mkdir(parents=True, exist_ok=True)
    (trust_dir / "release.pub").write_text(key.public_key().to_string("SDG Cities Kit release key"),
                                           encoding="utf-8")
    if args.root_pub:
        shutil.copyfile(args.root_pub, trust_dir / "root.pub")

    for name, text in LAUNCHERS.items():
        p = target / name
        p.write_bytes(text.encode("utf-8"))
        if name.endswith((".sh", ".command")):
            p.chmod(0o755)
    (target / "sdgkit-portable.txt").write_text(
        "This file switches the SDG Cities Kit to portable mode: all data stays in data/ on this stick.\n",
        encoding="utf-8")
    (target / DATA).mkdir(exist_ok=True)
    demo_note = target / DEMO_NOTE
    if args.demo_release_key:
        demo_note.write_text(DEMO_TEXT.strip() + "\n", encoding="utf-8")
    elif demo_note.exists():
        demo_note.unlink()
    if args.trust_pack:
        if (target / "trust").exists():
            shutil.rmtree(target / "trust")
        shutil.copytree(args.trust_pack, target / "trust")

    from app.report.guide import write_quick_start_guides

    guides = write_quick_start_guides(target / "guide")
    for stale in (target / "guide").glob("*.tmp-*"):
        stale.unlink()
    programs = sorted(p.name for p in (target / "programs").iterdir() if p.is_dir())
    pub_b64 = key.public_key().to_string("").strip().splitlines()[-1]
    (target / "README.txt").write_bytes(README.format(
        version=__version__, demo_title=" (DEMO)" if args.demo_release_key else "", programs=", ".join(programs),
        release_key=pub_b64, fingerprint=key.public_key().fingerprint(),
        demo_text=DEMO_TEXT if args.demo_release_key else "").replace("\n", "\r\n").encode("utf-8"))

    problems = name_problems(target)
    if problems:
        print("file names a FAT32 stick or Windows would refuse:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1

    label = "DEMO " if args.demo_release_key else ""
    comment = f"SDG Cities Kit {__version__} {label}{' '.join(programs)} built {time.strftime('%Y-%m-%d')}"
    sign_image(target, key, comment)
    rep = selfcheck(target, key.public_key())
    if not rep.ok:
        print("self-check of the new image FAILED:", rep.as_dict(), file=sys.stderr)
        return 1
    sizes = {p.name: folder_size(p) for p in (target / "programs").iterdir() if p.is_dir()}
    shared = folder_size(target) - sum(sizes.values()) - folder_size(target / DATA)
    summary = {
        "image": str(target), "version": __version__, "demo": bool(args.demo_release_key), "merged": merging,
        "host": tag, "programs": programs, "program_files": n, "guides": len(guides),
        "program_bytes": sizes, "shared_bytes": shared, "image_bytes": folder_size(target),
        "image_bytes_per_os": {k: v + shared for k, v in sizes.items()},
        "freeze_s": round(t_freeze, 1), "total_s": round(time.perf_counter() - t0, 1),
        "glibc_needed": glibc_needed(prog) if tag.startswith("linux") else None,
        "release_key_fingerprint": key.public_key().fingerprint(), "files_signed": rep.checked,
        "trusted_comment": rep.trusted_comment,
    }
    per_os = summary["image_bytes_per_os"][tag]  # type: ignore[index]
    print(f"image: {target}\nprograms: {', '.join(programs)}\nprogram files ({tag}): {n}\nguides: {len(guides)}\n"
          f"size for {tag} (program + shared files): {per_os / 1e6:.1f} MB (goal {SIZE_GOAL_MB} MB)\n"
          f"whole image: {summary['image_bytes'] / 1e6:.1f} MB\n"  # type: ignore[operator]
          f"freeze: {t_freeze:.1f} s\ntotal: {summary['total_s']} s\n"
          + (f"needs glibc >= {summary['glibc_needed']}\n" if summary["glibc_needed"] else "")
          + f"files signed: {rep.checked}\nrelease key fingerprint: {key.public_key().fingerprint()}"
          + (" (DEMO key)" if args.demo_release_key else ""))
    if args.report_json:
        args.report_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

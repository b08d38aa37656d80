#!/usr/bin/env python3
"""Build the SDG Cities Kit stick image.

    python build_usb.py --target DIR [--release-key FILE | --demo-release-key] [--trust-pack DIR]

1. freezes the kit with PyInstaller (``installer/sdgkit.spec``, one-folder, unused Qt modules out);
2. lays out the image: launchers for each OS at the root, ``programs/<os>-<arch>/``, ``data/`` with
   the portable marker beside it, the trust pack, the quick-start guide in six languages;
3. pins the release public key inside the program, writes ``SHA256SUMS`` of every program file
   and its minisign signature by the release key (last), and runs the self-check on the result.

Only the host's OS can be frozen (PyInstaller does not cross-compile): run the same command on
Windows and macOS to add their program folders to an image (see docs/usb-stick.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

LAUNCHERS = {
    "START-Windows.cmd": "@echo off\r\nstart \"\" \"%~dp0programs\\windows-x86_64\\SDG-Cities-Kit.exe\" %*\r\n",
    "START-Linux.sh": "#!/bin/sh\n# Start the SDG Cities Kit from this stick: sh START-Linux.sh\n"
                      "here=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n"
                      "exec \"$here/programs/linux-$(uname -m)/SDG-Cities-Kit\" \"$@\"\n",
    "START-macOS.command": "#!/bin/sh\n# Start the SDG Cities Kit from this stick (double-click in Finder).\n"
                           "here=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n"
                           "exec \"$here/programs/macos-$(uname -m)/SDG-Cities-Kit\" \"$@\"\n",
}

README = """SDG Cities Kit
==============

Start:   Windows: double-click START-Windows.cmd
         Linux:   sh START-Linux.sh
         macOS:   double-click START-macOS.command
Guide:   guide/quick-start-<language>.pdf (ar, zh, en, fr, ru, es)
Data:    everything you enter stays in the data/ folder of this stick.

Check that this kit is genuine (nothing on it was altered):
  - from the kit:       programs/<your system>/sdgkit selfcheck
  - with stock tools:   minisign -Vm SHA256SUMS -P {release_key}
                        sha256sum -c SHA256SUMS
    (Windows PowerShell: Get-FileHash -Algorithm SHA256 <file> and compare with SHA256SUMS)
Release key fingerprint: {fingerprint}
"""


def host_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    machine = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    return f"{system}-{machine}"


def freeze(work: Path) -> Path:
    dist, build = work / "dist", work / "build"
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(build), str(ROOT / "installer" / "sdgkit.spec")]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return dist / "sdgkit"


def copy_program(src: Path, dst: Path) -> int:
    """Copy the frozen folder, turning symlinks into files (FAT32 and exFAT have none)."""
    count = 0
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
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


def build_guides(dest: Path) -> list[Path]:
    try:
        from app.report.guide import write_quick_start_guides
    except ImportError:
        return []
    return write_quick_start_guides(dest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--target", required=True, type=Path, help="folder to write the stick image into")
    ap.add_argument("--release-key", help="minisign secret key of the release (SDGKIT_RELEASE_PASSPHRASE)")
    ap.add_argument("--demo-release-key", action="store_true", help="sign with a generated demo key")
    ap.add_argument("--trust-pack", type=Path, help="trust pack folder to put on the stick")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "usb", help="build folder")
    ap.add_argument("--skip-freeze", action="store_true", help="reuse the last frozen program")
    ap.add_argument("--force", action="store_true", help="replace an existing image in --target")
    args = ap.parse_args(argv)
    if not args.release_key and not args.demo_release_key:
        ap.error("give --release-key FILE, or --demo-release-key for a test image")

    t0 = time.perf_counter()
    target: Path = args.target.resolve()
    if target.exists() and any(target.iterdir()):
        if not args.force:
            ap.error(f"{target} is not empty (use --force to replace it)")
        shutil.rmtree(target)
    args.work.mkdir(parents=True, exist_ok=True)

    frozen = args.work / "dist" / "sdgkit"
    if not (args.skip_freeze and frozen.exists()):
        frozen = freeze(args.work)
    t_freeze = time.perf_counter() - t0

    from app.stick import selfcheck, sign_image

    key = load_release_key(args, args.work)
    target.mkdir(parents=True)
    prog = target / "programs" / host_tag()
    n = copy_program(frozen, prog)
    internal = prog / "_internal" if (prog / "_internal").is_dir() else prog
    pinned = internal / "resources" / "trust" / "release.pub"
    pinned.parent.mkdir(parents=True, exist_ok=True)
    pinned.write_text(key.public_key().to_string("SDG Cities Kit release key"), encoding="utf-8")

    for name, text in LAUNCHERS.items():
        p = target / name
        p.write_bytes(text.encode("utf-8"))
        if name.endswith((".sh", ".command")):
            p.chmod(0o755)
    (target / "sdgkit-portable.txt").write_text(
        "This file switches the SDG Cities Kit to portable mode: all data stays in data/ on this stick.\n",
        encoding="utf-8")
    (target / "data").mkdir()
    if args.trust_pack:
        shutil.copytree(args.trust_pack, target / "trust")
    guides = build_guides(target / "guide")
    pub_b64 = key.public_key().to_string("").strip().splitlines()[-1]
    (target / "README.txt").write_text(
        README.format(release_key=pub_b64, fingerprint=key.public_key().fingerprint()), encoding="utf-8")

    sign_image(target, key, f"SDG Cities Kit {host_tag()} built {time.strftime('%Y-%m-%d')}")
    rep = selfcheck(target, key.public_key())
    if not rep.ok:
        print("self-check of the new image FAILED:", rep.as_dict(), file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"image: {target}\nprogram files: {n}\nguides: {len(guides)}\nsize: {size / 1e6:.1f} MB\n"
          f"freeze: {t_freeze:.1f} s\ntotal: {time.perf_counter() - t0:.1f} s\n"
          f"release key fingerprint: {key.public_key().fingerprint()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

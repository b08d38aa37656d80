"""The real stick: build the Linux image with build_usb.py (once for this module) and use the
frozen program from it as a city would, on a PC with no Python, an empty home and no network.

* ``--self-test`` runs offscreen with ``env -i`` (no PATH to any Python, empty HOME and TMPDIR)
  and nothing is written outside the image;
* the image has no symlinks and only names FAT32 and Windows accept;
* ``selfcheck`` (frozen, and with stock minisign + sha256sum) says it is genuine, and says
  plainly what was altered after one byte of a program file changes;
* the Qt-free command line works frozen: ``--version``, ``demo``, ``bundle seal`` and ``verify``.

Slow (about a minute: PyInstaller freezes the whole kit), still run in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))
import build_usb  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="this CI builds the Linux image")]

TAG = build_usb.host_tag()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory):
    """The stick image, built once; PyInstaller is required (a missing one fails, it does not skip)."""
    base = tmp_path_factory.mktemp("stick")
    target, work, report = base / "STICK", base / "work", base / "build.json"
    t = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "build_usb.py"), "--target", str(target), "--work", str(work),
                        "--demo-release-key", "--report-json", str(report)],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, f"build_usb.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    info = json.loads(report.read_text(encoding="utf-8"))
    info.update(root=target, work=work, base=base, build_s=time.perf_counter() - t, log=r.stdout)
    info["prog"] = target / "programs" / TAG
    info["exe"] = info["prog"] / "sdgkit"
    yield info
    shutil.rmtree(base, ignore_errors=True)  # about 400 MB: the image and PyInstaller's work folder


def bare_env(home: Path, tmp: Path, **extra: str) -> dict[str, str]:
    """What a locked-down PC without Python gives the program: no PATH to anything, an empty home."""
    env = {"HOME": str(home), "TMPDIR": str(tmp), "PATH": "/nonexistent", "QT_QPA_PLATFORM": "offscreen"}
    env.update(extra)
    return env


def run(exe: Path, *args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=str(exe.parent))


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.exists()}


def outside_data(root: Path) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in tree(root).items() if not k.startswith("data/") and k != "data"}


# -- the image --------------------------------------------------------------------------------

def test_image_layout(image):
    root = image["root"]
    for name in ("START-Windows.cmd", "START-Linux.sh", "START-macOS.command", "README.txt", "SHA256SUMS",
                 "SHA256SUMS.minisig", "sdgkit-portable.txt", "DEMO-KIT.txt"):
        assert (root / name).is_file(), name
    assert (root / "data").is_dir()
    assert sorted(p.name for p in (root / "guide").iterdir()) == [
        f"quick-start-{lang}.pdf" for lang in sorted(("ar", "zh", "en", "fr", "ru", "es"))]
    assert all((root / "guide" / f"quick-start-{lang}.pdf").read_bytes().startswith(b"%PDF") for lang in ("ar", "zh"))
    res = image["prog"] / "_internal" / "resources"
    for rel in ("framework", "indicators/catalogue.json", "i18n/ar.json", "trust/release.pub",
                "fonts/KurintoSans-Rg.ttf", "fonts/KurintoSans-Bd.ttf", "fonts/KurintoSansSC-Rg.ttf",
                "fonts/OFL-1.1.txt"):
        assert (res / rel).exists(), rel
    for history in ("model/migrations", "sync/migrations/platform", "sync/migrations/outbox"):
        assert (image["prog"] / "_internal" / "app" / history / "env.py").is_file(), history
    assert image["exe"].is_file() and os.access(image["exe"], os.X_OK)
    assert "DEMO" in image["trusted_comment"] and image["demo"]
    assert "THIS IS A DEMO KIT" in (root / "README.txt").read_text(encoding="utf-8")


def test_image_has_no_symlinks_and_only_names_fat32_and_windows_accept(image):
    root = image["root"]
    assert [p for p in root.rglob("*") if p.is_symlink()] == []
    assert build_usb.name_problems(root) == []


def test_image_leaves_out_what_the_kit_does_not_use(image):
    internal = image["prog"] / "_internal"
    names = {p.relative_to(internal).as_posix() for p in internal.rglob("*")}
    for unwanted in ("QtNetwork", "QtQml", "QtQuick", "libQt6Network", "libQt6Quick", "libqwayland", "libqeglfs",
                     "libqgtk3", "libgtk", "pygments", "tkinter", "psycopg", "PIL/_avif", "libavif",
                     "_pytest", "PyInstaller", "fontTools"):
        assert not any(unwanted in n for n in names), unwanted
    assert not any("__pycache__" in n for n in names)
    # the six languages' ICU data and the cut Latin/Arabic faces, not Qt's 32 MB and Kurinto's 5.4 MB
    icu = next(internal.rglob("libicudata.so.*"))
    assert icu.stat().st_size < 10_000_000, icu.stat().st_size
    assert (internal / "resources" / "fonts" / "KurintoSans-Rg.ttf").stat().st_size < 1_500_000
    size_mb = image["image_bytes_per_os"][TAG] / 1e6
    print(f"\nLinux image: {size_mb:.1f} MB, build {image['build_s']:.0f} s, needs glibc >= {image['glibc_needed']}")
    assert size_mb <= 150, "the image grew past the 150 MB goal: see docs/usb-stick.md for what is in it"


# -- the frozen program on a bare PC ----------------------------------------------------------

def test_self_test_runs_with_no_python_an_empty_home_and_writes_nothing_outside_the_image(image, tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = bare_env(home, tmp)
    assert shutil.which("python3", path=env["PATH"]) is None and shutil.which("python", path=env["PATH"]) is None
    root = image["root"]
    before = outside_data(root)
    r = run(image["exe"], "--self-test", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test passed" in r.stdout
    for step in ("qt", "store", "bundle", "pdf"):
        assert f"ok   {step}:" in r.stdout, r.stdout
    assert "Kurinto Sans SC" in r.stdout  # the fonts came from the stick, not from this PC
    assert "Traceback" not in r.stderr and "UTF-8 locale" not in r.stderr
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []  # nothing in HOME or TMPDIR
    assert outside_data(root) == before  # nor in the program, the guide, the lists
    data = root / "data"
    assert not [p for p in data.iterdir() if p.name.startswith("selftest-")]  # its scratch folder is gone
    assert not list((root / "programs").rglob("__pycache__"))


def test_the_launcher_starts_it_with_only_a_shell(image, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "uname", "dirname"):
        (bindir / tool).symlink_to(shutil.which(tool))
    env = {"HOME": str(tmp_path), "PATH": str(bindir)}
    launcher = image["root"] / "START-Linux.sh"
    r = subprocess.run(["/bin/sh", str(launcher), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "sdgkit 0.1.0", r.stderr
    # a FAT32 stick mounted with 'showexec' has no execute bit: the launcher still starts it
    exe = image["exe"]
    mode = exe.stat().st_mode
    exe.chmod(mode & ~0o111)
    try:
        r = subprocess.run(["/bin/sh", str(launcher), "selfcheck"], env=env, capture_output=True, text=True,
                           timeout=120)
    finally:
        exe.chmod(mode)
    assert r.returncode == 0 and "The kit is genuine" in r.stdout, r.stdout + r.stderr


def test_the_gui_entry(image, tmp_path):
    """With the desktop app in the tree, the first window opens (and the startup probe quits it);
    without it, a clear message instead of a traceback."""
    env = bare_env(tmp_path, tmp_path, SDGKIT_STARTUP_PROBE="1")
    r = run(image["exe"], env=env, timeout=120)
    if (ROOT / "app" / "ui" / "main.py").exists():
        assert r.returncode == 0 and "SDGKIT_FIRST_WINDOW" in r.stdout, r.stdout + r.stderr
    else:
        assert r.returncode == 2 and "no desktop app yet" in r.stderr and "Traceback" not in r.stderr
    env = {"HOME": str(tmp_path), "PATH": "/nonexistent"}  # no display at all
    r = run(image["exe"], env=env, timeout=60)
    assert r.returncode == 2 and "No screen was found" in r.stderr and "Traceback" not in r.stderr


def test_command_line_works_frozen(image, tmp_path):
    env = bare_env(tmp_path, tmp_path)
    r = run(image["exe"], "--version", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "sdgkit 0.1.0"
    r = run(image["exe"], "--help", env=env)
    assert r.returncode == 0 and "selfcheck" in r.stdout
    data = image["root"] / "data" / "frozen-cli-city"
    r = run(image["exe"], "--data", str(data), "demo", "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    demo = json.loads(r.stdout)
    env["SDGKIT_PASSPHRASE"] = Path(demo["passphrase_file"]).read_text(encoding="utf-8").strip()
    r = run(image["exe"], "--data", str(data), "bundle", "seal", "--stage", "B", "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    bundle = json.loads(r.stdout)["path"]
    r = run(image["exe"], "--data", str(data), "bundle", "verify", bundle, "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["demo"] and rep["stage"] == "B"
    r = run(image["exe"], "--data", str(data), "--lang", "ar", "status", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    # an officer's outbox is built by its migrations, which the program carries as files
    officer = image["root"] / "data" / "frozen-cli-officer"
    r = run(image["exe"], "--data", str(officer), "keys", "trust-import", str(data / "demo" / "trust-pack"), "--demo",
            env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(image["exe"], "--data", str(officer), "officer", "collect", str(Path(bundle).parent), env=env)
    assert r.returncode == 0 and "1 collected" in r.stdout, r.stdout + r.stderr
    shutil.rmtree(data)
    shutil.rmtree(officer)


# -- genuine kit ------------------------------------------------------------------------------

def test_selfcheck_says_the_kit_is_genuine_frozen_and_with_stock_tools(image, tmp_path):
    root = image["root"]
    r = run(image["exe"], "selfcheck", env=bare_env(tmp_path, tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"The kit is genuine: {image['files_signed']} program files match the signed list." in r.stdout
    assert image["release_key_fingerprint"] in r.stdout and "DEMO kit" in r.stdout
    pub = (image["prog"] / "_internal" / "resources" / "trust" / "release.pub").read_text().splitlines()[-1]
    assert pub in (root / "README.txt").read_text(encoding="utf-8")
    minisign = shutil.which("minisign")
    assert minisign, "minisign is in scripts/system-packages.txt"
    r = subprocess.run([minisign, "-Vm", "SHA256SUMS", "-P", pub], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0 and "DEMO" in r.stdout, r.stderr
    r = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_one_changed_byte_in_a_program_file_makes_selfcheck_fail_clearly(image, tmp_path):
    root = image["root"]
    victim = image["prog"] / "_internal" / "PySide6" / "Qt" / "lib" / "libQt6Widgets.so.6"
    rel = victim.relative_to(root).as_posix()
    original = victim.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    victim.write_bytes(bytes(changed))
    try:
        r = run(image["exe"], "selfcheck", env=bare_env(tmp_path, tmp_path))
        assert r.returncode == 4, r.stdout + r.stderr
        assert f"ALTERED: {rel} was changed after the kit was built." in r.stdout
        assert "This stick was altered. Ask the platform for a new kit." in r.stdout
        r = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, capture_output=True, text=True)
        assert r.returncode != 0 and rel in r.stdout  # stock tools see it too
    finally:
        victim.write_bytes(original)
    assert run(image["exe"], "selfcheck", env=bare_env(tmp_path, tmp_path)).returncode == 0


def test_an_added_program_file_is_reported(image, tmp_path):
    intruder = image["prog"] / "_internal" / "libhijack.so"
    intruder.write_bytes(b"\x7fELF")
    try:
        r = run(image["exe"], "selfcheck", "--json", env=bare_env(tmp_path, tmp_path))
        assert r.returncode == 4
        assert json.loads(r.stdout)["report"]["unlisted"] == [intruder.relative_to(image["root"]).as_posix()]
    finally:
        intruder.unlink()


def test_merge_adds_another_os_to_the_same_image(image, tmp_path):
    """--merge keeps the other OS's program folder and signs the whole image again."""
    from app.bundle.minisign import SigningKey
    from app.stick import selfcheck, sign_image

    key = SigningKey.from_minisign_secret((image["work"] / "demo-release.key").read_text(encoding="utf-8"), None)
    root = tmp_path / "MERGED"
    shutil.copytree(image["root"], root, symlinks=True)
    other = root / "programs" / "windows-x86_64"
    other.mkdir()
    (other / "SDG-Cities-Kit.exe").write_bytes(b"MZ as if built on Windows")
    sign_image(root, key, "SDG Cities Kit as built on Windows")
    cmd = [sys.executable, str(ROOT / "build_usb.py"), "--target", str(root), "--work", str(image["work"]),
           "--demo-release-key", "--merge", "--skip-freeze"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (other / "SDG-Cities-Kit.exe").is_file()
    assert "linux-x86_64, windows-x86_64" in (root / "README.txt").read_text(encoding="utf-8")
    rep = selfcheck(root, key.public_key())
    assert rep.ok and "programs/windows-x86_64/SDG-Cities-Kit.exe" in (root / "SHA256SUMS").read_text()
    # an image whose list does not verify any more is refused, not silently re-signed
    (root / "README.txt").write_text("changed", encoding="utf-8")
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode != 0 and "not an intact image" in r.stderr
    shutil.rmtree(root)


def test_an_official_build_with_a_release_key_and_a_pinned_root(image, tmp_path):
    """The release process: a minisign key made with the stock tool (minisign -G), the platform
    root public key pinned, no DEMO label anywhere."""
    minisign = shutil.which("minisign")
    assert minisign
    key, pub = tmp_path / "release.key", tmp_path / "release.pub"
    subprocess.run([minisign, "-G", "-W", "-p", str(pub), "-s", str(key)], check=True, capture_output=True)
    root_pub = image["prog"] / "_internal" / "resources" / "trust" / "release.pub"  # any minisign public key
    target = tmp_path / "OFFICIAL"
    r = subprocess.run([sys.executable, str(ROOT / "build_usb.py"), "--target", str(target), "--work",
                        str(image["work"]), "--skip-freeze", "--release-key", str(key), "--root-pub", str(root_pub)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (target / "DEMO-KIT.txt").exists() and "DEMO" not in (target / "README.txt").read_text()
    trust = target / "programs" / TAG / "_internal" / "resources" / "trust"
    assert (trust / "root.pub").read_text() == root_pub.read_text()
    assert (trust / "release.pub").read_text().splitlines()[-1] == pub.read_text().splitlines()[-1]
    r = subprocess.run([minisign, "-Vm", "SHA256SUMS", "-p", str(pub)], cwd=target, capture_output=True, text=True)
    assert r.returncode == 0 and "DEMO" not in r.stdout
    r = run(target / "programs" / TAG / "sdgkit", "selfcheck", env=bare_env(tmp_path, tmp_path))
    assert r.returncode == 0 and "DEMO" not in r.stdout, r.stdout + r.stderr
    shutil.rmtree(target)

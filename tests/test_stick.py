"""The stick without building it: the signed file list and its check, the first-run check,
portable mode, names FAT32 and Windows accept, and no POSIX-only calls in the app.

The frozen image itself is built and tested in tests/test_frozen_stick.py.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))
import build_usb  # noqa: E402
from app.bundle.minisign import SigningKey  # noqa: E402
from app.errors import IntegrityError, NotFoundError  # noqa: E402
from app.stick import SIG, SUMS, check_this_kit, image_files, parse_sums, selfcheck, sign_image  # noqa: E402


@pytest.fixture(scope="module")
def release_key() -> SigningKey:
    return SigningKey.generate()


def make_image(root: Path, key: SigningKey, comment: str = "SDG Cities Kit test build") -> Path:
    prog = root / "programs" / "linux-x86_64"
    (prog / "_internal" / "resources" / "trust").mkdir(parents=True)
    (prog / "sdgkit").write_bytes(b"\x7fELF program" * 100)
    (prog / "_internal" / "libQt6Core.so.6").write_bytes(os.urandom(5000))
    (prog / "_internal" / "resources" / "trust" / "release.pub").write_text(key.public_key().to_string("release"))
    (root / "START-Linux.sh").write_text("#!/bin/sh\n")
    (root / "README.txt").write_text("read me\n")
    (root / "sdgkit-portable.txt").write_text("portable\n")
    (root / "guide").mkdir()
    (root / "guide" / "quick-start-ar.pdf").write_bytes(b"%PDF-1.4 ...")
    (root / "data").mkdir()
    (root / "data" / "kit.db").write_bytes(b"the city's data is never on the list")
    sign_image(root, key, comment)
    return root


def flip_one_byte(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- signed file list ---------------------------------------------------------------------------

def test_a_fresh_image_is_genuine_and_the_list_is_coreutils_format(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key)
    rep = selfcheck(root, release_key.public_key())
    assert rep.ok and rep.signature_ok and not rep.demo
    names = parse_sums((root / SUMS).read_text(encoding="utf-8"))
    assert "programs/linux-x86_64/sdgkit" in names and "README.txt" in names
    assert not any(n.startswith("data/") for n in names) and SUMS not in names and SIG not in names
    assert rep.checked == len(names) == len(image_files(root))
    line = (root / SUMS).read_text(encoding="utf-8").splitlines()[0]
    assert len(line.split("  ")[0]) == 64  # "<sha256>  <path>", as sha256sum -c reads it
    assert rep.lines()[0] == f"The kit is genuine: {rep.checked} program files match the signed list."


def test_one_changed_byte_in_a_program_file_is_reported_by_name(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key)
    flip_one_byte(root / "programs" / "linux-x86_64" / "_internal" / "libQt6Core.so.6")
    rep = selfcheck(root, release_key.public_key())
    assert not rep.ok and rep.signature_ok
    assert rep.altered == ["programs/linux-x86_64/_internal/libQt6Core.so.6"]
    text = "\n".join(rep.lines())
    assert "ALTERED: programs/linux-x86_64/_internal/libQt6Core.so.6 was changed after the kit was built." in text
    assert "This stick was altered. Ask the platform for a new kit." in text


def test_missing_added_and_harmless_extra_files(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key)
    (root / "guide" / "quick-start-ar.pdf").unlink()
    (root / "programs" / "linux-x86_64" / "_internal" / "version.dll").write_bytes(b"MZ hijack")
    (root / "START-Windows-fast.cmd").write_text("@echo off\r\n")
    (root / "minutes of the meeting.pdf").write_bytes(b"%PDF")
    (root / "data" / "anything.txt").write_text("the city's own data is not checked")
    rep = selfcheck(root, release_key.public_key())
    assert not rep.ok
    assert rep.missing == ["guide/quick-start-ar.pdf"]
    assert rep.unlisted == ["START-Windows-fast.cmd", "programs/linux-x86_64/_internal/version.dll"]
    assert rep.extra == ["minutes of the meeting.pdf"]
    assert "NOTE: minutes of the meeting.pdf is not part of the kit; it cannot change the program." in rep.lines()


def test_files_the_operating_systems_write_on_a_stick_are_ignored(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key)
    for rel in ("System Volume Information/IndexerVolumeGuid", ".Trashes/501/x", ".fseventsd/000001",
                ".Spotlight-V100/Store-V2/x", "._README.txt", ".DS_Store", "programs/.DS_Store",
                "programs/linux-x86_64/._sdgkit", "guide/Thumbs.db"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"os")
    rep = selfcheck(root, release_key.public_key())
    assert rep.ok, rep.as_dict()
    assert len(rep.ignored) == 5 and not rep.extra and not rep.unlisted  # the OS folders are not even read


def test_a_list_signed_by_another_key_or_edited_is_refused(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key)
    rep = selfcheck(root, SigningKey.generate().public_key())
    assert not rep.ok and not rep.signature_ok
    assert rep.lines()[0].startswith("ALTERED: the list of program files is not signed by the release key.")
    # someone "fixes" the list after changing a file: the signature no longer matches
    flip_one_byte(root / "README.txt", 2)
    sums = (root / SUMS).read_text(encoding="utf-8").replace(
        next(ln for ln in (root / SUMS).read_text().splitlines() if ln.endswith("README.txt")),
        f"{'0' * 64}  README.txt")
    (root / SUMS).write_text(sums, encoding="utf-8")
    assert not selfcheck(root, release_key.public_key()).signature_ok


def test_a_damaged_list_or_no_list(tmp_path, release_key):
    with pytest.raises(IntegrityError):
        parse_sums(f"{'a' * 64}  ../../etc/passwd\n")
    with pytest.raises(IntegrityError):
        parse_sums("not a line\n")
    with pytest.raises(NotFoundError):
        selfcheck(tmp_path, release_key.public_key())


def test_demo_images_say_so(tmp_path, release_key):
    root = make_image(tmp_path / "stick", release_key, "SDG Cities Kit 0.1.0 DEMO linux-x86_64 built 2026-01-01")
    rep = selfcheck(root, release_key.public_key())
    assert rep.ok and rep.demo
    assert any("DEMO kit" in line for line in rep.lines())


# -- the first-run screen's check -------------------------------------------------------------

def test_check_this_kit_never_raises(tmp_path, release_key):
    res = check_this_kit()  # a source checkout is not a stick
    assert res.status == "not_on_stick" and not res.ok and res.message
    root = make_image(tmp_path / "stick", release_key)
    res = check_this_kit(root=root, public_key=release_key.public_key())
    assert res.ok and res.status == "genuine" and res.message.startswith("The kit is genuine")
    flip_one_byte(root / "programs" / "linux-x86_64" / "sdgkit")
    res = check_this_kit(root=root, public_key=release_key.public_key())
    assert res.status == "altered" and res.message == "This stick was altered. Ask the platform for a new kit."
    assert any("programs/linux-x86_64/sdgkit" in line for line in res.lines)
    json.dumps(res.as_dict())
    res = check_this_kit(root=tmp_path / "empty")  # no pinned key in a source checkout, no list
    assert res.status == "cannot_check" and not res.ok


def test_check_this_kit_finds_the_stick_from_the_program(tmp_path, release_key, monkeypatch):
    root = make_image(tmp_path / "stick", release_key)
    monkeypatch.setattr("app.model.paths.program_dir", lambda: root / "programs" / "linux-x86_64")
    monkeypatch.setenv("SDGKIT_RESOURCES", str(root / "programs" / "linux-x86_64" / "_internal" / "resources"))
    res = check_this_kit()
    assert res.ok and res.root == root, res.as_dict()


def test_selfcheck_command(tmp_path, release_key):
    from app.cli.main import _base_parser
    from app.cli import stick_cmds

    root = make_image(tmp_path / "stick", release_key)
    pub = tmp_path / "release.pub"
    pub.write_text(release_key.public_key().to_string("release"), encoding="utf-8")

    def run(*argv: str) -> tuple[int, str]:
        parser = _base_parser()
        stick_cmds.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(list(argv))
        buf = io.StringIO()
        with redirect_stdout(buf):
            code = args.func(args)
        return code, buf.getvalue()

    code, out = run("selfcheck", "--root", str(root), "--key", str(pub))
    assert code == 0 and "The kit is genuine" in out
    flip_one_byte(root / "README.txt", 1)
    code, out = run("selfcheck", "--root", str(root), "--key", str(pub))
    assert code == 4 and "ALTERED: README.txt was changed after the kit was built." in out
    code, out = run("selfcheck", "--root", str(root), "--key", str(pub), "--json")
    assert code == 4 and json.loads(out)["report"]["altered"] == ["README.txt"]
    code, _ = run("selfcheck")  # a source checkout is not a stick: a clear error, not a traceback
    assert code == 2


# -- portable mode ----------------------------------------------------------------------------

def test_portable_mode_keeps_temp_files_and_caches_on_the_stick(tmp_path, monkeypatch):
    from app.stick import prepare_portable_environment

    stick = tmp_path / "stick"
    (stick / "programs" / "linux-x86_64").mkdir(parents=True)
    (stick / "sdgkit-portable.txt").write_text("portable")
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    env: dict[str, str] = {"HOME": "/home/someone", "TMPDIR": "/tmp", "LANG": "C"}
    assert prepare_portable_environment(env) is None  # the source tree is no stick: nothing changes
    assert env["TMPDIR"] == "/tmp"
    monkeypatch.setattr("app.model.paths.program_dir", lambda: stick / "programs" / "linux-x86_64")
    tmp = prepare_portable_environment(env)
    assert tmp == stick / "data" / "tmp" and tmp.is_dir()
    assert env["TMPDIR"] == env["TEMP"] == env["TMP"] == str(tmp) and tempfile.gettempdir() == str(tmp)
    if sys.platform.startswith("linux"):
        assert env["XDG_CACHE_HOME"].startswith(str(tmp)) and env["XDG_RUNTIME_DIR"].startswith(str(tmp))
        assert env["LC_CTYPE"] == "C.UTF-8"
    assert env["HOME"] == "/home/someone"


# -- names a FAT32 stick and Windows accept ---------------------------------------------------

@pytest.mark.parametrize("name", ["a:b.txt", "what?.json", "star*.py", 'q"uote', "pipe|x", "lt<", "gt>", "back\\slash",
                                  "tab\tname", "trailing.", "trailing ", "CON", "con.txt", "NUL.tar.gz", "COM1",
                                  "lpt9.log", "aux"])
def test_names_fat32_or_windows_refuse_are_found(tmp_path, name):
    try:
        (tmp_path / name).write_text("x")
    except OSError:
        pytest.fail(f"this test needs a file system that can hold {name!r}")
    assert build_usb.name_problems(tmp_path), name


def test_case_twins_symlinks_and_long_paths_are_found(tmp_path):
    (tmp_path / "Readme.txt").write_text("x")
    (tmp_path / "README.TXT").write_text("x")
    assert any("but for case" in p for p in build_usb.name_problems(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "link").symlink_to(tmp_path / "Readme.txt")
    assert any("symbolic link" in p for p in build_usb.name_problems(other))
    deep = tmp_path / "deep"
    (deep / ("d" * 120) / ("e" * 120)).mkdir(parents=True)
    (deep / ("d" * 120) / ("e" * 120) / "f.txt").write_text("x")
    assert any("longer than" in p for p in build_usb.name_problems(deep))
    fine = tmp_path / "fine"
    fine.mkdir()
    (fine / "quick-start-zh 快速入门.pdf").write_text("x")
    (fine / "Données مدن.txt").write_text("x")
    assert build_usb.name_problems(fine) == []


@pytest.mark.parametrize("folder", ["resources", "app", "installer"])
def test_source_files_that_go_on_the_stick_have_valid_names(folder):
    problems = [p for p in build_usb.name_problems(ROOT / folder) if "__pycache__" not in p]
    assert problems == []


# -- no POSIX-only calls in the app (it must run on Windows) ---------------------------------

POSIX_MODULES = {"fcntl", "termios", "pwd", "grp", "resource", "pty", "tty", "posix", "crypt", "spwd", "syslog",
                 "readline", "curses"}
POSIX_ATTRS = {("os", n) for n in (
    "fork", "forkpty", "getuid", "geteuid", "getgid", "getegid", "setuid", "setgid", "setsid", "killpg", "getpgid",
    "setpgid", "chown", "lchown", "fchown", "mkfifo", "mknod", "symlink", "sync", "statvfs", "fstatvfs",
    "getloadavg", "nice", "wait3", "wait4", "WNOHANG", "O_NOFOLLOW", "O_DIRECTORY", "uname", "sched_getaffinity",
    "posix_fadvise", "pipe2", "openpty", "ttyname", "ctermid", "pathconf", "fpathconf", "sysconf", "confstr")} \
    | {("signal", n) for n in ("SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE", "alarm",
                                "setitimer", "pause", "SIGQUIT", "SIGSTOP", "SIGCONT")} \
    | {("shutil", "chown"), ("socket", "AF_UNIX"), ("multiprocessing", "set_start_method")}
POSIX_PATHS = ("/tmp", "/dev/", "/proc/", "/etc/", "/var/", "/usr/", "/home/", "~/")
GUARDS = ("os.name", "sys.platform", "platform.system", "hasattr", "IS_WIN", "is_win")


def _guarded(stack: list[ast.AST]) -> bool:
    for node in stack:
        if isinstance(node, (ast.If, ast.IfExp)) and any(g in ast.unparse(node.test) for g in GUARDS):
            return True
        if isinstance(node, ast.Try) and any(
                h.type is not None and any(k in ast.unparse(h.type) for k in ("ImportError", "AttributeError"))
                for h in node.handlers):
            return True
    return False


def posix_only_uses(source: str, filename: str = "<src>") -> list[str]:
    out: list[str] = []

    def visit(node: ast.AST, stack: list[ast.AST]) -> None:
        bad: list[str] = []
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split(".")[0] in POSIX_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in POSIX_MODULES:
            bad = [node.module]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and (node.value.id, node.attr) in POSIX_ATTRS:
            bad = [f"{node.value.id}.{node.attr}"]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(POSIX_PATHS):
            bad = [repr(node.value)]
        if bad and not _guarded(stack):
            out.append(f"{filename}:{getattr(node, 'lineno', '?')}: {', '.join(bad)}")
        for child in ast.iter_child_nodes(node):
            visit(child, stack + [node])

    visit(ast.parse(source), [])
    return out


def test_the_posix_checker_sees_unguarded_calls_and_accepts_guarded_ones():
    assert posix_only_uses("import fcntl\n") and posix_only_uses("import os\nos.fork()\n")
    assert posix_only_uses("p = '/tmp/x'\n") and posix_only_uses("import signal\nsignal.SIGKILL\n")
    assert posix_only_uses("import os\nif os.name == 'nt':\n    import msvcrt\nelse:\n    import fcntl\n") == []
    assert posix_only_uses("try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n") == []


def test_app_has_no_unguarded_posix_only_calls():
    problems = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        problems += posix_only_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    problems += posix_only_uses((ROOT / "installer" / "entry.py").read_text(encoding="utf-8"), "installer/entry.py")
    assert problems == []


# -- launchers and build options --------------------------------------------------------------

def test_launchers_for_each_os():
    assert set(build_usb.LAUNCHERS) == {"START-Windows.cmd", "START-Linux.sh", "START-macOS.command"}
    win = build_usb.LAUNCHERS["START-Windows.cmd"]
    assert "\r\n" in win and "\n" not in win.replace("\r\n", "") and "SDG-Cities-Kit.exe" in win
    for name in ("START-Linux.sh", "START-macOS.command"):
        text = build_usb.LAUNCHERS[name]
        assert "\r" not in text and text.startswith("#!/bin/sh\n")
        if sys.platform != "win32":
            r = subprocess.run(["sh", "-n"], input=text, text=True, capture_output=True)
            assert r.returncode == 0, r.stderr


def test_build_needs_a_release_key_choice(tmp_path, capsys):
    with pytest.raises(SystemExit):
        build_usb.main(["--target", str(tmp_path / "img")])
    with pytest.raises(SystemExit):
        build_usb.main(["--target", str(tmp_path / "img"), "--demo-release-key", "--release-key", "k"])
    assert "release-key" in capsys.readouterr().err


def test_host_tag_names_the_program_folder():
    tag = build_usb.host_tag()
    assert tag.split("-")[0] in ("linux", "windows", "macos") and build_usb.name_problems(ROOT / "installer") == []

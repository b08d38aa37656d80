"""The kit's own integrity on the stick: a signed list of every program file, and its check.

The release process writes ``SHA256SUMS`` (GNU coreutils format, ``/`` separators, paths relative
to the stick's root) over every file of the stick image except the city's ``data/`` folder, and
``SHA256SUMS.minisig``, a minisign signature by the platform's release key. Anyone can check it
with stock tools (``minisign -Vm SHA256SUMS -P <release key>`` then ``sha256sum -c SHA256SUMS``);
``sdgkit selfcheck`` does both and also reports program files that are not on the list.

The release public key is pinned in ``resources/trust/release.pub`` inside the program. A check
run by the program on itself cannot defeat someone who replaces the whole program; that is why the
release key's fingerprint is also printed, to compare with the one published by the platform.

What counts as "altered": a listed file changed or missing, a bad signature, or a file that is not
on the list inside ``programs/`` or with a name a PC would run (``.exe``, ``.cmd``, ``.sh``...)
anywhere on the stick. Other unlisted files outside ``programs/`` (a PDF someone copied to the
stick) are reported as extra files but cannot change the program. Folders and files the operating
systems themselves put on removable drives (``System Volume Information``, ``.Trashes``,
``.fseventsd``, ``._*``, ``.DS_Store``, ``Thumbs.db``) are ignored.

This module also holds the two other stick duties: :func:`prepare_portable_environment` (the
frozen program keeps its temporary files and caches on the stick) and :func:`migrate_from`
(a newer kit takes over an older stick's data folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

from app.errors import Cancelled, IntegrityError, KitError, NotFoundError, StoreError, UserInputError
from app.i18n import N_, _
from app.progress import CancelToken, ProgressCallback, checker, no_progress

SUMS = "SHA256SUMS"
SIG = "SHA256SUMS.minisig"
DATA = "data"
EXCLUDED_TOP = {DATA, SUMS, SIG}
DEMO_MARK = "DEMO"

# What Windows, macOS and Linux write on their own to a removable drive.
OS_TOP_DIRS = {"system volume information", "$recycle.bin", "recycler", ".trashes", ".spotlight-v100",
               ".fseventsd", ".temporaryitems", ".documentrevisions-v100", "lost+found", ".trash-1000"}
OS_FILES = {".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".directory"}
# Names a PC may run when someone double-clicks them.
RUNNABLE = {".exe", ".com", ".bat", ".cmd", ".ps1", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".msi", ".scr",
            ".lnk", ".pif", ".hta", ".cpl", ".dll", ".sh", ".command", ".desktop", ".app", ".run", ".py", ".pyw",
            ".jar", ".so", ".dylib", ".appimage", ".inf"}


def _is_os_artefact(rel: PurePosixPath) -> bool:
    if rel.parts and rel.parts[0].lower() in OS_TOP_DIRS:
        return True
    name = rel.name
    return name.lower() in OS_FILES or name.startswith("._")


def _walk(root: Path) -> list[PurePosixPath]:
    """Every regular file below ``root`` (symlinks included, as the list must cover them), relative."""
    out: list[PurePosixPath] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        here = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        if here == PurePosixPath("."):
            dirnames[:] = [d for d in dirnames if d not in EXCLUDED_TOP and d.lower() not in OS_TOP_DIRS]
            here = PurePosixPath("")
        for name in filenames:
            rel = here / name
            if len(rel.parts) == 1 and name in EXCLUDED_TOP:
                continue
            out.append(rel)
    return sorted(out)


def image_files(root: Path) -> list[Path]:
    """Every file of the image that the signature must cover, sorted, relative to ``root``."""
    return [Path(str(rel)) for rel in _walk(Path(root)) if not _is_os_artefact(rel)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sums_text(root: Path, files: Iterable[Path], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> str:
    files = list(files)
    check = checker(cancel)
    lines = []
    for i, rel in enumerate(files):
        check()
        lines.append(f"{_sha256(root / rel)}  {rel.as_posix()}")
        progress(i + 1, len(files), "")
    return "\n".join(lines) + "\n"


def parse_sums(text: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name \
                or name.startswith("/") or "\\" in name or ".." in name.split("/") or name in entries:
            raise IntegrityError(N_("The list of program files is damaged at line {line}."), line=n)
        entries[name] = digest
    return entries


def _counts_as_added(name: str) -> bool:
    rel = PurePosixPath(name)
    return rel.parts[0] == "programs" or rel.suffix.lower() in RUNNABLE


@dataclass
class SelfCheckReport:
    root: Path
    signature_ok: bool = False
    key_fingerprint: str = ""
    checked: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # added program files or runnable files: the kit is altered
    extra: list[str] = field(default_factory=list)  # other files someone put on the stick: harmless
    ignored: list[str] = field(default_factory=list)  # written by the operating system
    trusted_comment: str = ""

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.altered and not self.missing and not self.unlisted

    @property
    def demo(self) -> bool:
        return DEMO_MARK in self.trusted_comment.split()

    def lines(self) -> list[str]:
        """The result as plain translated sentences, most important first (CLI and first-run screen)."""
        out: list[str] = []
        if self.ok:
            out.append(_("The kit is genuine: {count} program files match the signed list.", count=self.checked))
            if self.demo:
                out.append(_("This is a DEMO kit signed with a test key: use it for training, not for a real "
                             "submission."))
        else:
            if not self.signature_ok:
                out.append(_("ALTERED: the list of program files is not signed by the release key. "
                             "Do not use this stick."))
            out += [_("ALTERED: {name} was changed after the kit was built.", name=n) for n in self.altered]
            out += [_("MISSING: {name} was removed from the kit.", name=n) for n in self.missing]
            out += [_("ADDED: {name} was not part of the kit.", name=n) for n in self.unlisted]
            out.append(_("This stick was altered. Ask the platform for a new kit."))
        out += [_("NOTE: {name} is not part of the kit; it cannot change the program.", name=n) for n in self.extra]
        out.append(_("Release key fingerprint: {fingerprint}", fingerprint=self.key_fingerprint))
        return out

    def as_dict(self) -> dict[str, object]:
        return {"root": str(self.root), "ok": self.ok, "signature_ok": self.signature_ok, "demo": self.demo,
                "key_fingerprint": self.key_fingerprint, "checked": self.checked, "altered": self.altered,
                "missing": self.missing, "unlisted": self.unlisted, "extra": self.extra, "ignored": self.ignored,
                "trusted_comment": self.trusted_comment}


def pinned_release_key():  # type: ignore[no-untyped-def]
    from app.bundle.minisign import PublicKey
    from app.resources import resource

    path = resource("trust", "release.pub")
    if not path.exists():
        raise NotFoundError(N_("This kit has no pinned release key, so it cannot check itself."))
    return PublicKey.from_string(path.read_text(encoding="utf-8"))


def selfcheck(root: Path, public_key=None, progress: ProgressCallback = no_progress,  # type: ignore[no-untyped-def]
              cancel: CancelToken | None = None) -> SelfCheckReport:
    """Check the stick image at ``root`` against its signed file list."""
    root = Path(root)
    rep = SelfCheckReport(root)
    sums_path, sig_path = root / SUMS, root / SIG
    if not sums_path.is_file() or not sig_path.is_file():
        raise NotFoundError(N_("No signed list of program files was found in {path}: this is not a complete kit."),
                            path=str(root))
    key = public_key or pinned_release_key()
    rep.key_fingerprint = key.fingerprint()
    sums_bytes = sums_path.read_bytes()
    try:
        rep.trusted_comment = key.verify_bytes(sums_bytes, sig_path.read_text(encoding="utf-8", errors="replace"))
        rep.signature_ok = True
    except IntegrityError:
        rep.signature_ok = False
        return rep
    listed = parse_sums(sums_bytes.decode("utf-8"))
    check = checker(cancel)
    for i, (name, digest) in enumerate(sorted(listed.items())):
        check()
        p = root / name
        if not p.is_file():
            rep.missing.append(name)
        elif _sha256(p) != digest:
            rep.altered.append(name)
        rep.checked += 1
        progress(i + 1, len(listed), name)
    for rel in _walk(root):
        name = rel.as_posix()
        if name in listed:
            continue
        if _is_os_artefact(rel):
            rep.ignored.append(name)
        elif _counts_as_added(name):
            rep.unlisted.append(name)
        else:
            rep.extra.append(name)
    return rep


def sign_image(root: Path, signing_key, comment: str) -> Path:  # type: ignore[no-untyped-def]
    """Write ``SHA256SUMS`` and its minisign signature (written last) for the image at ``root``."""
    from app.fsutil import atomic_write_text

    text = sums_text(root, image_files(root))
    atomic_write_text(root / SUMS, text)
    atomic_write_text(root / SIG, signing_key.sign_bytes(text.encode("utf-8"), comment))
    return root / SUMS


# -- the check the first-run screen calls ------------------------------------------------------

@dataclass
class KitCheck:
    """Answer to "is the kit I am running genuine?", for a person.

    ``status`` is one of ``genuine``, ``altered``, ``not_on_stick`` (a developer copy or an
    installed kit: nothing to check), ``cannot_check`` (no pinned key or no signed list).
    ``ok`` is True only for ``genuine``. ``message`` is one translated sentence; ``lines`` has
    the details (what was altered, the release key fingerprint).
    """

    status: str
    message: str
    lines: list[str] = field(default_factory=list)
    report: SelfCheckReport | None = None
    root: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "genuine"

    @property
    def demo(self) -> bool:
        return bool(self.report and self.report.demo)

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "ok": self.ok, "demo": self.demo, "message": self.message,
                "lines": self.lines, "root": str(self.root) if self.root else None,
                "report": self.report.as_dict() if self.report else None}


def check_this_kit(progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                   root: Path | None = None, public_key=None) -> KitCheck:  # type: ignore[no-untyped-def]
    """Check the stick this program runs from. Never raises for an expected failure.

    Qt-free and safe to call from a worker thread (pass ``progress`` and ``cancel``); about
    a second per 100 MB read from the stick.
    """
    from app.model.paths import portable_root

    root = Path(root) if root else portable_root()
    if root is None:
        msg = _("This program is not running from a kit stick; give the stick's folder with --root.")
        return KitCheck("not_on_stick", msg, [msg])
    try:
        rep = selfcheck(root, public_key, progress, cancel)
    except Cancelled:
        raise
    except KitError as exc:
        return KitCheck("cannot_check", exc.message(), [exc.message()], root=root)
    lines = rep.lines()
    if rep.ok:
        return KitCheck("genuine", lines[0], lines, rep, root)
    return KitCheck("altered", _("This stick was altered. Ask the platform for a new kit."), lines, rep, root)


# -- running from the stick --------------------------------------------------------------------

def prepare_portable_environment(environ: dict[str, str] | None = None) -> Path | None:
    """On a kit stick, keep the program's temporary files and caches on the stick.

    Called first thing by the frozen program (before Qt or any library starts). Points the
    temporary folder (``TMPDIR``/``TEMP``/``TMP`` and :mod:`tempfile`) and, on Linux, the cache
    and runtime folders of Qt and fontconfig at ``<stick>/data/tmp``; nothing is written to the
    PC's home or temp folders. Returns that folder, or None when not running from a stick.
    """
    import tempfile

    from app.model.paths import ENV_DATA, portable_root

    env = os.environ if environ is None else environ
    root = portable_root()
    if root is None:
        return None
    data = Path(env[ENV_DATA]) if env.get(ENV_DATA) else root / DATA
    tmp = data / "tmp"
    try:
        tmp.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only stick: the store will say so when it opens
    for var in ("TMPDIR", "TEMP", "TMP"):
        env[var] = str(tmp)
    tempfile.tempdir = str(tmp)
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        env["XDG_CACHE_HOME"] = str(tmp / "cache")
        if not env.get("XDG_RUNTIME_DIR"):
            run = tmp / "runtime"
            run.mkdir(exist_ok=True)
            try:
                run.chmod(0o700)
            except OSError:
                pass
            env["XDG_RUNTIME_DIR"] = str(run)
    if sys.platform.startswith("linux"):
        # Qt needs a UTF-8 locale (and warns on a bare "C" one); glibc >= 2.35 always has C.UTF-8.
        var = next((v for v in ("LC_ALL", "LC_CTYPE", "LANG") if env.get(v)), None)
        value = env.get(var, "") if var else ""
        if "utf" not in value.lower().replace("-", ""):
            env["LC_ALL" if var == "LC_ALL" else "LC_CTYPE"] = "C.UTF-8"
    return tmp


# -- updates by stick ---------------------------------------------------------------------------

MIGRATE_SKIP_TOP = {"tmp", "kit.lock", "kit.db", "kit.db-wal", "kit.db-shm", "kit.db-journal"}


@dataclass
class MigrationResult:
    source: Path
    target: Path
    files: int
    from_revision: str | None
    to_revision: str
    backup: Path | None

    def as_dict(self) -> dict[str, object]:
        return {"source": str(self.source), "target": str(self.target), "files": self.files,
                "from_revision": self.from_revision, "to_revision": self.to_revision,
                "backup": str(self.backup) if self.backup else None}


def migrate_from(old: Path | str, new: Path | str, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> MigrationResult:
    """Take over the data folder of an older kit's stick (``old``) into this kit's (``new``).

    The older stick is only read (it stays usable as it was). The store is copied with SQLite's
    backup API (so a store that was not "prepared for removal" is copied whole, WAL included),
    the other files (evidence, keys, trust, bundles, outbox, mailbox, backups) as they are; then
    the store is opened here, which backs it up and migrates it to this kit's version. Refused if
    the data comes from a newer kit, if the older kit is still running on it, or if this stick
    already holds a store.
    """
    import sqlite3

    from app.fsutil import fsync_dir
    from app.model.db import Store, current_revision, head_revision, known_revisions, quick_check
    from app.model.lock import DataLock
    from app.model.paths import DataLayout

    src, dst = DataLayout(Path(old).expanduser().resolve()), DataLayout(Path(new).expanduser().resolve())
    if src.root == dst.root:
        raise UserInputError(N_("The older data folder and this kit's data folder are the same: {path}."),
                             path=str(src.root))
    if not src.db.is_file():
        raise NotFoundError(N_("{path} holds no kit data (there is no kit.db in it)."), path=str(src.root))
    if dst.db.exists() and dst.db.stat().st_size > 0:
        raise UserInputError(N_("This kit's data folder {path} already holds a store. Move it away first."),
                             path=str(dst.root))
    quick_check(src.db)
    rev = current_revision(src.db)
    if rev is not None and rev not in known_revisions():
        raise StoreError(
            N_("This data was last used by a newer version of the kit. Use that version or newer to open it."))
    check = checker(cancel)
    dst.root.mkdir(parents=True, exist_ok=True)
    with DataLock(src.lock), DataLock(dst.lock):
        files = [p for p in sorted(src.root.rglob("*")) if p.is_file()
                 and p.relative_to(src.root).parts[0] not in MIGRATE_SKIP_TOP and ".tmp-" not in p.name]
        total = len(files) + 1
        for i, p in enumerate(files):
            check()
            target = dst.root / p.relative_to(src.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".tmp-migrate")
            shutil.copy2(p, part)
            with open(part, "rb+") as fh:
                os.fsync(fh.fileno())
            part.replace(target)
            progress(i + 1, total, p.name)
        part = dst.db.with_name("kit.db.tmp-migrate")
        source = sqlite3.connect(str(src.db), timeout=10)
        try:
            copy = sqlite3.connect(str(part))
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            source.close()
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        part.replace(dst.db)
        fsync_dir(dst.root)
        progress(total, total, dst.db.name)
    with Store(dst.root) as store:  # backs up, then migrates to this kit's version
        if store.integrity_check() != ["ok"]:
            raise StoreError(N_("The store {path} is damaged or is not a kit database. Run 'sdgkit restore-backup' "
                                "to go back to the latest backup."), path=str(dst.db))
        backup = store.backup_path
    return MigrationResult(src.root, dst.root, len(files) + 1, rev, head_revision(), backup)

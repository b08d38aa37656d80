"""File writing that survives a pulled stick: temp name, fsync, rename, verify.

* Every file is written under a temporary name in its final folder, flushed with ``fsync``, then
  renamed over the destination (``os.replace``). A crash leaves either the old file or the new
  one, plus at worst a ``*.tmp-*`` file that :func:`clean_temp_files` removes next time.
* On Windows a rename can fail while antivirus or the indexer holds the file: retried with back-off.
* ``ENOSPC`` becomes :class:`DiskFullError` with a translated message, and the temp file is removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from app.errors import DiskFullError, IntegrityError, UserInputError
from app.i18n import N_

TEMP_MARK = ".tmp-"
_RENAME_RETRIES = 8


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (POSIX only; Windows cannot open directories for fsync)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_with_retry(src: Path, dst: Path) -> None:
    delay = 0.01
    for attempt in range(_RENAME_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if sys.platform != "win32" or attempt == _RENAME_RETRIES - 1:
                raise
            time.sleep(delay)  # another process (antivirus, indexer) holds the file
            delay *= 2


def temp_path_for(path: Path) -> Path:
    return path.with_name(f"{path.name}{TEMP_MARK}{secrets.token_hex(4)}")


def raise_if_disk_full(exc: OSError, path: Path) -> None:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT if hasattr(errno, "EDQUOT") else errno.ENOSPC):
        raise DiskFullError(N_("Not enough free space to write {path}. Free some space or choose another drive."),
                            path=str(path)) from exc
    if getattr(exc, "winerror", None) in (39, 112):  # ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL
        raise DiskFullError(N_("Not enough free space to write {path}. Free some space or choose another drive."),
                            path=str(path)) from exc


@contextmanager
def atomic_writer(path: Path | str, *, sync: bool = True) -> Iterator[BinaryIO]:
    """Open a binary stream whose content replaces ``path`` only if the block completes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    fh = open(tmp, "xb")
    try:
        try:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        finally:
            fh.close()
        replace_with_retry(tmp, path)
        if sync:
            fsync_dir(path.parent)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise_if_disk_full(exc, path)
        raise
    except BaseException:
        _unlink_quietly(tmp)
        raise


def atomic_write_bytes(path: Path | str, data: bytes, *, verify: bool = True) -> None:
    path = Path(path)
    with atomic_writer(path) as fh:
        fh.write(data)
    if verify:
        verify_file_sha256(path, hashlib.sha256(data).hexdigest())


def atomic_write_text(path: Path | str, text: str, *, verify: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), verify=verify)


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def verify_file_sha256(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(N_("The file {path} did not read back as written. The drive may be failing."),
                             path=str(path))


def copy_file_atomic(src: Path, dst: Path, *, expected_sha256: str | None = None) -> str:
    """Copy ``src`` to ``dst`` via a temp file; returns the SHA-256 of what was written and checks it."""
    h = hashlib.sha256()
    with open(src, "rb") as fin, atomic_writer(dst) as fout:
        while True:
            block = fin.read(1 << 20)
            if not block:
                break
            h.update(block)
            fout.write(block)
    digest = h.hexdigest()
    if expected_sha256 and digest != expected_sha256:
        _unlink_quietly(dst)
        raise IntegrityError(N_("The file {path} changed while it was being copied."), path=str(src))
    verify_file_sha256(dst, digest)
    return digest


def free_space(path: Path) -> int:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def require_free_space(path: Path, needed: int, margin: int = 4 << 20) -> None:
    free = free_space(path)
    if free < needed + margin:
        raise DiskFullError(
            N_("Not enough free space on {path}: {needed} MB needed, {free} MB free."),
            path=str(path), needed=(needed + margin + 999_999) // 1_000_000, free=free // 1_000_000)


def clean_temp_files(folder: Path, max_age_s: float = 0.0) -> int:
    """Remove leftovers of interrupted atomic writes below ``folder``; returns how many."""
    removed = 0
    if not Path(folder).is_dir():
        return 0
    now = time.time()
    for p in Path(folder).rglob(f"*{TEMP_MARK}*"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= max_age_s:
                p.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def empty_dir(folder: Path) -> None:
    """Remove everything inside ``folder`` (the kit's private temp folder), keeping the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
        except OSError:
            pass


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def require_existing_file(path: Path | str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UserInputError(N_("No such file or folder: {path}"), path=str(p))
    if not p.is_file():
        raise UserInputError(N_("Not a file: {path}"), path=str(p))
    return p

"""One writer per data folder: an OS file lock, released by the OS if the process dies.

A shared PC may run two copies of the kit against the same stick. SQLite would serialise their
writes, but WAL on removable media is safest with a single writer connection (see the
removable-media notes), so the second copy is refused with a clear message instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.errors import StoreError
from app.i18n import N_


class DataLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+b")
        try:
            if os.name == "nt":  # pragma: no cover - exercised on Windows builds
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            raise StoreError(
                N_("The data folder {path} is in use by another copy of the kit. Close it first."),
                path=str(self.path.parent)) from exc
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            if os.name == "nt":  # pragma: no cover
                import msvcrt

                self._fh.seek(0)
                msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        finally:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "DataLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""Where the kit keeps its data.

Order of precedence:

1. ``--data DIR`` on the command line (or the UI's equivalent);
2. the ``SDGKIT_DATA`` environment variable;
3. **portable mode**: a marker file ``sdgkit-portable.txt`` beside the program (the stick image
   ships it): data lives in ``data/`` beside the program, as KeePassXC does with ``.portable``;
4. otherwise the per-user application data folder of the operating system.

Temporary files go to ``<data>/tmp`` (emptied at start and exit), so nothing is left outside the
data folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

PORTABLE_MARKER = "sdgkit-portable.txt"
ENV_DATA = "SDGKIT_DATA"
APP_DIR_NAME = "SDG Cities Kit"


def program_dir() -> Path:
    """Folder that holds the launcher: the frozen executable's folder, or the source tree root."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parents[2]


def portable_root() -> Path | None:
    """Return the folder holding the portable marker, looking beside the program and one level up.

    On the stick the program lives in ``<stick>/programs/<os>/`` and the marker at ``<stick>/``.
    """
    here = program_dir()
    for candidate in (here, here.parent, here.parent.parent):
        if (candidate / PORTABLE_MARKER).is_file():
            return candidate
    return None


def user_data_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA") or Path.home())
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_DIR_NAME


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    root = portable_root()
    if root is not None:
        return root / "data"
    return user_data_dir()


class DataLayout:
    """Named places inside one data folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def db(self) -> Path:
        return self.root / "kit.db"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def trust(self) -> Path:
        return self.root / "trust"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def mailbox(self) -> Path:
        return self.root / "mailbox"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def lock(self) -> Path:
        return self.root / "kit.lock"

    def ensure(self) -> None:
        for p in (self.root, self.backups, self.evidence, self.tmp):
            p.mkdir(parents=True, exist_ok=True)


def use_private_tempdir(layout: DataLayout) -> Path:
    """Point :mod:`tempfile` at ``<data>/tmp`` so no temporary file is written outside the data folder."""
    layout.tmp.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(layout.tmp)
    return layout.tmp

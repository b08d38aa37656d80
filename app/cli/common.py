"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.i18n import _


def data_dir(args: Any) -> Path:
    from app.model.paths import resolve_data_dir

    return resolve_data_dir(getattr(args, "data", None))


def open_kit(args: Any):  # type: ignore[no-untyped-def]
    from app.model.service import Kit

    return Kit(data_dir(args))  # opened (and closed) by "with"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n")


class TerminalProgress:
    """Progress on stderr for long operations; silent when stderr is not a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self._last = -1

    def __call__(self, done: int, total: int, label: str = "") -> None:
        if not self.tty or total <= 0:
            return
        pct = int(100 * done / total)
        if pct != self._last:
            self._last = pct
            sys.stderr.write(f"\r{_(self.label)} {pct:3d}%")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def unlock_keyfile(args: Any, path: Path) -> Any:
    """The key set in ``path``, unlocked with the passphrase from ``--passphrase-file``, the
    ``SDGKIT_PASSPHRASE`` variable or the terminal."""
    from app.bundle.keys import load_keyfile, read_keyfile_info
    from app.cli.keys_cmd import ENV_PASSPHRASE, read_passphrase
    from app.errors import NotFoundError
    from app.i18n import N_

    if not path.is_file():
        raise NotFoundError(N_("There is no key file at {path}. Create one with 'sdgkit keys create'."), path=str(path))
    info = read_keyfile_info(path)
    passphrase = read_passphrase(getattr(args, "passphrase_file", None), ENV_PASSPHRASE, confirm=False,
                                 prompt=N_("Passphrase for {name}:"), name=info.name)
    return load_keyfile(path, passphrase)

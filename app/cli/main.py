"""The ``sdgkit`` command line.

Each command family lives in its own module under :mod:`app.cli` and exposes
``add_parser(subparsers)``, which registers its sub-commands and sets ``func`` on the parsed
namespace to a handler ``(args) -> int``. Handlers raise :class:`app.errors.KitError` for expected
failures; :func:`main` prints its translated message on one line and returns its exit code.

Start-up stays light: heavy libraries (SQLAlchemy, Qt, reportlab) are imported inside handlers,
so ``sdgkit --version`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from app import __version__
from app.errors import KitError
from app.i18n import _, N_, set_language

# Command families, imported lazily only when their command is used.
COMMAND_MODULES: dict[str, str] = {
    "init": "app.cli.core_cmds",
    "status": "app.cli.core_cmds",
    "evidence": "app.cli.core_cmds",
    "indicators": "app.cli.core_cmds",
    "answer": "app.cli.core_cmds",
    "audit": "app.cli.core_cmds",
    "check": "app.cli.core_cmds",
    "demo": "app.cli.core_cmds",
    "framework": "app.cli.core_cmds",
    "prepare-removal": "app.cli.core_cmds",
    "restore-backup": "app.cli.core_cmds",
    "keys": "app.cli.keys_cmd",
    "bundle": "app.cli.bundle_cmd",
    "selfcheck": "app.cli.stick_cmds",
    "platform": "app.cli.sync_cmds",
    "officer": "app.cli.sync_cmds",
    "sync": "app.cli.sync_cmds",
    "panel": "app.cli.panel_cmds",
    "feedback": "app.cli.panel_cmds",
    "migrate-from": "app.cli.stick_cmds",
}

COMMAND_HELP: dict[str, str] = {
    "init": N_("Create the city's store and profile"),
    "status": N_("Show completeness per stage"),
    "evidence": N_("Attach and list evidence files"),
    "indicators": N_("Export and import indicator data as a spreadsheet"),
    "answer": N_("Set or show an answer to a requirement"),
    "audit": N_("Check the tamper-evident audit log"),
    "check": N_("Check the store and evidence files for damage"),
    "demo": N_("Create a realistic sample city for training and tests"),
    "framework": N_("Validate and show the certification framework"),
    "prepare-removal": N_("Make the data safe to unplug the stick"),
    "restore-backup": N_("Restore the store from its latest backup"),
    "keys": N_("Create, export and certify keys and trust files"),
    "bundle": N_("Seal, verify, open and inspect submission bundles"),
    "selfcheck": N_("Check that the kit on this stick was not altered"),
    "platform": N_("Run the platform intake service"),
    "officer": N_("Collect bundles from city sticks and deliver receipts"),
    "sync": N_("Send the outbox to the platform and fetch receipts and review results"),
    "panel": N_("Import, review and report on bundles as a technical panel"),
    "feedback": N_("Import the panel's review results for this city"),
    "migrate-from": N_("Take over the data folder of an older kit's stick"),
}


def _base_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sdgkit", description=_("SDG Cities Kit command line"))
    p.add_argument("--version", action="version", version=f"sdgkit {__version__}")
    p.add_argument("--data", metavar="DIR", help=_("data folder (default: portable folder or SDGKIT_DATA)"))
    p.add_argument("--lang", metavar="LANG", help=_("language: ar, zh, en, fr, ru, es"))
    return p


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = _base_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    loaded: set[str] = set()
    for name, module in COMMAND_MODULES.items():
        if command in COMMAND_MODULES and COMMAND_MODULES[command] == module and module not in loaded:
            importlib.import_module(module).add_parser(sub)
            loaded.add(module)
    for name in COMMAND_MODULES:
        if name not in sub.choices:
            sub.add_parser(name, help=_(COMMAND_HELP[name]))
    return parser


def _first_command(argv: Sequence[str]) -> str | None:
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--data", "--lang"):
            skip = True
            continue
        if a.startswith("-"):
            continue
        return a
    return None


def _early_language(argv: Sequence[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return os.environ.get("SDGKIT_LANG")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    set_language(_early_language(argv))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    parser = build_parser(_first_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except KitError as exc:
        print(_("Error: {message}", message=exc.message()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("Cancelled. Nothing was changed."), file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a person gets one line, a developer sets SDGKIT_DEBUG
        if os.environ.get("SDGKIT_DEBUG"):
            raise
        print(_("Unexpected error ({kind}: {detail}). Nothing more was changed. Please report this message.",
                kind=type(exc).__name__, detail=str(exc)[:200]), file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Start the desktop app: ``sdgkit-gui`` or ``python -m app.ui.main [--data DIR] [--lang fr]``.

The same program has three modes: the city's kit (the default), the technical panel's review
workspace (``--panel``) and the field officer's outbox (``--officer``). A data folder remembers
the mode it was started in the first time it was chosen, so later starts need no option.

The data folder is found as everywhere in the kit (``--data``, ``SDGKIT_DATA``, the stick's
portable folder, the user's application data). A failure to open it (locked by another copy of
the kit, damaged, from a newer kit) is one translated line in a message box, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from app.i18n import LANGUAGES, _, normalise_language, set_language


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sdgkit-gui", description=_("SDG Cities Kit"))
    p.add_argument("--data", metavar="DIR", help=_("data folder (default: portable folder or SDGKIT_DATA)"))
    p.add_argument("--lang", metavar="LANG", choices=LANGUAGES, help=_("language: ar, zh, en, fr, ru, es"))
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--panel", action="store_true",
                      help=_("open the technical panel's review workspace in the data folder"))
    mode.add_argument("--officer", action="store_true",
                      help=_("open the field officer's outbox in the data folder"))
    p.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)  # benchmarks and smoke tests
    return p.parse_args(list(argv) if argv is not None else None)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    """Unexpected errors: one line for the person, the details on stderr for whoever helps them."""
    traceback.print_exception(kind, exc, tb)  # type: ignore[arg-type]
    try:
        from app.ui import dialogs
        from app.ui.tasks import error_text

        dialogs.note(None, _("Something went wrong"), error_text(exc), error=True)
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        pass


MODE_FILE = "ui-mode"  # in the data folder: "panel" or "officer" once a folder was opened in that mode


def stored_mode(data: Path) -> str:
    """The mode a data folder was set up for: ``city`` unless it says ``panel`` or ``officer``."""
    try:
        text = (Path(data) / MODE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "city"
    return text if text in ("panel", "officer") else "city"


def remember_mode(data: Path, mode: str) -> None:
    try:
        Path(data).mkdir(parents=True, exist_ok=True)
        (Path(data) / MODE_FILE).write_text(mode + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only folder: the option is needed each time


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The core first: modules imported after PySide6 are each scanned by PySide's import hook
    # (about 0.2 s for SQLAlchemy and Alembic), so they load faster before it.
    for module in ("app.model.service", "app.model.db", "app.bundle.submit"):
        importlib.import_module(module)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.errors import KitError
    from app.model.paths import resolve_data_dir
    from app.ui.app import KitApp
    from app.ui.look import apply_language

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SDG Cities Kit")
    set_language(normalise_language(args.lang))
    data = resolve_data_dir(args.data)
    mode = "panel" if args.panel else "officer" if args.officer else stored_mode(data)
    ctx: Any
    try:
        if mode == "panel":
            from app.ui.panel import PanelApp

            ctx = PanelApp(data, app).open()
        elif mode == "officer":
            from app.ui.officer import OfficerApp

            ctx = OfficerApp(data, app).open()
        else:
            ctx = KitApp(data, app).open()
    except KitError as exc:
        apply_language(app, normalise_language(args.lang))
        box = QMessageBox(QMessageBox.Icon.Critical, _("SDG Cities Kit"), exc.message())
        box.addButton(_("Close"), QMessageBox.ButtonRole.AcceptRole)
        if args.exit_when_ready:
            print(exc.message(), file=sys.stderr)
            return exc.exit_code
        box.exec()
        return exc.exit_code
    sys.excepthook = _excepthook
    app.aboutToQuit.connect(ctx.shutdown)
    if mode != "city":
        remember_mode(data, mode)
    ctx.start(args.lang)
    if args.exit_when_ready:
        def ready() -> None:
            print("ready", flush=True)
            ctx.shutdown()
            app.quit()
        QTimer.singleShot(0, ready)
    rc = app.exec()
    ctx.shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())

"""Start the desktop app: ``sdgkit-gui`` or ``python -m app.ui.main [--data DIR] [--lang fr]``.

The data folder is found as everywhere in the kit (``--data``, ``SDGKIT_DATA``, the stick's
portable folder, the user's application data). A failure to open it (locked by another copy of
the kit, damaged, from a newer kit) is one translated line in a message box, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Sequence

from app.i18n import LANGUAGES, _, normalise_language, set_language


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sdgkit-gui", description=_("SDG Cities Kit"))
    p.add_argument("--data", metavar="DIR", help=_("data folder (default: portable folder or SDGKIT_DATA)"))
    p.add_argument("--lang", metavar="LANG", choices=LANGUAGES, help=_("language: ar, zh, en, fr, ru, es"))
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
    ctx = KitApp(resolve_data_dir(args.data), app)
    try:
        ctx.open()
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

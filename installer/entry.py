"""Entry point of the frozen kit: the desktop app, the command line, or the self-test.

``sdgkit`` with no command starts the desktop app; ``sdgkit <command> ...`` is the command line;
``sdgkit --self-test`` runs the offscreen self-test of the frozen program.

Before anything else, on a kit stick, temporary files and caches are pointed at the stick's
``data/tmp`` (:func:`app.stick.prepare_portable_environment`), so nothing is written on the PC.

``SDGKIT_STARTUP_PROBE=1`` (benchmarks, docs/usb-stick.md): as soon as the desktop app's event
loop has shown its first window, print ``SDGKIT_FIRST_WINDOW <unix time> <window class>`` and quit.
"""

import os
import sys

PROBE_ENV = "SDGKIT_STARTUP_PROBE"


def _install_startup_probe() -> None:
    """Wrap ``QApplication.exec`` so the first loop turn after a window is shown reports and quits."""
    from PySide6 import QtCore, QtWidgets

    from app.selftest import report_first_window

    original = QtWidgets.QApplication.exec
    tries = {"n": 0}

    def tick() -> None:
        app = QtWidgets.QApplication.instance()
        shown = [w for w in app.topLevelWidgets() if w.isVisible()] if app else []
        tries["n"] += 1
        if shown or tries["n"] > 3000:
            report_first_window(type(shown[0]).__name__ if shown else "none")
            app.exit(0)
        else:
            QtCore.QTimer.singleShot(1, tick)

    def exec_(*_args):  # type: ignore[no-untyped-def]  # app.exec() and QApplication.exec() alike
        QtCore.QTimer.singleShot(0, tick)
        return original()

    QtWidgets.QApplication.exec = exec_  # type: ignore[method-assign]


def _no_display() -> bool:
    return (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"))


def _gui(args: list[str]) -> int:
    from app.i18n import _

    if _no_display():
        print(_("No screen was found to show the desktop app. For the command line, run: sdgkit --help"),
              file=sys.stderr)
        return 2
    try:
        from app.ui.main import main as gui_main
    except ImportError as exc:
        if getattr(exc, "name", "") not in ("app.ui.main", "app.ui"):
            raise
        print(_("This build has no desktop app yet. For the command line, run: sdgkit --help"), file=sys.stderr)
        return 2
    if os.environ.get(PROBE_ENV):
        _install_startup_probe()
    return int(gui_main(args) or 0)


def main() -> int:
    from app.stick import prepare_portable_environment

    prepare_portable_environment()
    args = sys.argv[1:]
    if "--self-test" in args:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.selftest import run_self_test

        return run_self_test([a for a in args if a != "--self-test"])
    from app.cli.main import _first_command

    if _first_command(args) is None and not {"-h", "--help", "--version"} & set(args):
        return _gui(args)
    from app.cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())

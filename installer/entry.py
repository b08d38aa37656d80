"""Entry point of the frozen kit: the desktop app, the command line, or the self-test.

``sdgkit`` with no command starts the desktop app; ``sdgkit <command> ...`` is the command line;
``sdgkit --self-test`` runs the offscreen self-test of the frozen program.
"""

import os
import sys


def main() -> int:
    args = sys.argv[1:]
    if "--self-test" in args:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.selftest import run_self_test

        return run_self_test([a for a in args if a != "--self-test"])
    from app.cli.main import _first_command

    if _first_command(args) is None and not {"-h", "--help", "--version"} & set(args):
        from app.ui.main import main as gui_main

        return gui_main(args)
    from app.cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())

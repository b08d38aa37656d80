"""The Qt step of the kit's ``--self-test``: a window opens with the kit's own fonts."""

from __future__ import annotations

import sys
from typing import Callable


def show_test_window(*, probe: bool = False, report: Callable[[str], None] | None = None) -> str:
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication, QLabel

    from app.report.pdf import FONT_FILES, font_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    w = QLabel("SDG Cities Kit ✓ مدن 城市")
    w.show()
    app.processEvents()
    visible = w.isVisible()
    if visible and probe and report is not None:
        report("self-test")
    families: list[str] = []
    for name in (FONT_FILES["Kit"], FONT_FILES["KitCJK"]):
        fid = QFontDatabase.addApplicationFont(str(font_path(name)))
        if fid < 0:
            raise RuntimeError(f"Qt cannot load the font {name}")
        families += QFontDatabase.applicationFontFamilies(fid)
    w.setFont(QFont(families[0]))
    app.processEvents()
    w.close()
    if not visible:
        raise RuntimeError("window did not show")
    return f"platform {app.platformName()}, fonts {', '.join(sorted(set(families)))}"

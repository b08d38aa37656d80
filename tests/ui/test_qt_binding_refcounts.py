"""The Qt binding keeps Python's reference counts straight where the kit relies on it.

PySide6 6.12.0 dropped one reference to the returned bool at every call of a Python override of a
virtual such as ``QWizardPage.isComplete`` (the wizard asks at every keystroke), and one to every
bool sent through a Python-declared ``Signal(..., bool)``. True and False then reach a count of zero
and the interpreter aborts ("bool_dealloc"), in the middle of a first run or at exit. The kit pins
a version without the bug; these checks fail at once on a binding that has it."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWizard, QWizardPage

CALLS = 50


def _bools() -> int:
    return sys.getrefcount(True) + sys.getrefcount(False)


def test_a_python_isComplete_override_keeps_the_bools_reference_counts(qapp):  # noqa: N802
    class Page(QWizardPage):
        def isComplete(self) -> bool:  # noqa: N802 - Qt override
            return True

    wizard = QWizard()
    page = Page()
    wizard.addPage(page)
    before = _bools()
    for _ in range(CALLS):
        page.completeChanged.emit()  # QWizard calls isComplete() for each
    assert _bools() - before == 0
    wizard.deleteLater()


def test_a_python_signal_carrying_a_bool_keeps_the_reference_counts(qapp):
    class Source(QObject):
        line = Signal(str, bool)  # as the panel's import dialog declares it

    got = []
    src = Source()
    src.line.connect(lambda text, refused: got.append(refused))
    before = _bools()
    for i in range(CALLS):
        src.line.emit("x", i % 2 == 0)
    got.clear()
    assert _bools() - before == 0

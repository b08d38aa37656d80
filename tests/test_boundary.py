"""The core must not need Qt: everything outside app/ui imports with PySide6 blocked."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = r"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PySide6', 'shiboken6'}:
            raise ImportError('blocked: ' + name)
        return None
sys.meta_path.insert(0, Block())
"""


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if info.name.startswith("app.ui") or ".migrations" in info.name:
            continue
        names.append(info.name)
    return names


def test_core_modules_import_without_pyside6():
    mods = core_modules()
    assert "app.model.service" in mods and "app.cli.main" in mods
    code = BLOCKER + "\nimport importlib\n" + "\n".join(
        f"importlib.import_module({m!r})" for m in mods) + "\nprint('ok', len(sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")


def test_blocker_really_blocks():
    code = BLOCKER + "\nimport PySide6.QtCore"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and "blocked" in r.stderr


def test_cli_start_loads_no_heavy_library():
    code = ("import sys\nfrom app.cli.main import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'PySide6','reportlab','sqlalchemy','alembic','openpyxl','cryptography'})\nprint(heavy)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"

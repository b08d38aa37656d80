"""Locating the read-only resources shipped with the kit (framework, catalogues, fonts, trust pack)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the source tree, or inside a frozen build."""
    override = os.environ.get("SDGKIT_RESOURCES")
    if override:
        return Path(override)
    if getattr(sys, "frozen", False):  # PyInstaller one-folder build
        base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
        return base / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)

#!/usr/bin/env python3
"""Collect every translatable message (``_("...")`` and ``N_("...")`` with a literal) from app/
and add missing keys to resources/i18n/<lang>.json with an empty value for translators.

Usage: python scripts/extract_messages.py [--check]
With --check, exit 1 if any message lacks a translation (the test suite does the same check).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("ar", "zh", "fr", "ru", "es")
MARKERS = {"_", "N_", "tr"}


SOURCES = (ROOT / "app", ROOT / "installer")  # installer/entry.py speaks before the app starts


def messages(roots: Path | tuple[Path, ...] = SOURCES) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    roots = (roots,) if isinstance(roots, Path) else roots
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
                arg = node.args[0]
                if name in MARKERS and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def main() -> int:
    msgs = messages()
    check = "--check" in sys.argv
    missing = 0
    for lang in LANGS:
        path = ROOT / "resources" / "i18n" / f"{lang}.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        for m in msgs:
            if not data.get(m):
                missing += 1
                data.setdefault(m, "")
        if not check:
            ordered = {k: data[k] for k in sorted(data) if k in msgs}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(ordered, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(msgs)} messages, {missing} missing translations")
    return 1 if (check and missing) else 0


if __name__ == "__main__":
    sys.exit(main())

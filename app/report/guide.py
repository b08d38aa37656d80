"""The quick-start guide PDF, one per language, from ``resources/guide/quick-start.json``."""

from __future__ import annotations

import json
from pathlib import Path

from app.fsutil import atomic_write_bytes
from app.i18n import LANGUAGES
from app.report.pdf import DocInfo, build_pdf, make_styles, para
from app.resources import resource


def guide_pdf(lang: str) -> bytes:
    data = json.loads(resource("guide", "quick-start.json").read_text(encoding="utf-8"))
    styles = make_styles(lang)
    title = data["title"][lang]

    def story(_entries: list) -> list:
        out = [para(title, styles.title, lang)]
        for sec in data["sections"]:
            out.append(para(sec["title"][lang], styles.h2, lang))
            out.append(para(sec["text"][lang], styles.body, lang))
        return out

    return build_pdf(story, DocInfo(title=title, lang=lang, footer_left=f"v{data['version']}"))


def write_quick_start_guides(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for lang in LANGUAGES:
        p = dest / f"quick-start-{lang}.pdf"
        atomic_write_bytes(p, guide_pdf(lang))
        out.append(p)
    return out

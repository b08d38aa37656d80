"""Multilingual PDF documents on reportlab, in the six UN languages.

* Fonts travel with the kit (``resources/fonts``): Kurinto Sans for Latin, Cyrillic and Arabic,
  Kurinto Sans SC for Chinese; they are embedded (subset) in every PDF, so a bare PC shows them.
* Arabic is shaped with ``arabic-reshaper`` and ordered with ``python-bidi`` line by line, after
  wrapping on the logical text (wrapping after reordering would reverse the line order). Text
  extractors (pdftotext) give the logical order back.
* Chinese wraps between any two characters (``wordWrap='CJK'``).
* Documents are built twice, so the table of contents and "page N of M" carry real page numbers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from app.errors import NotFoundError
from app.i18n import N_, is_rtl, translate
from app.resources import resource

FONT_FILES = {
    "Kit": "KurintoSans-Rg.ttf",
    "Kit-Bold": "KurintoSans-Bd.ttf",
    "KitCJK": "KurintoSansSC-Rg.ttf",
}
LRI, PDI = "\u2066", "\u2069"


def font_path(name: str) -> Path:
    p = resource("fonts", name)
    if p.exists():
        return p
    try:  # development checkouts: the same files from the installed font package
        import weblate_fonts

        alt = Path(weblate_fonts.__file__).parent / "static" / "weblate_fonts" / "kurinto" / "ttf" / name
        if alt.exists():
            return alt
    except ImportError:
        pass
    raise NotFoundError(N_("The font {name} is missing from the kit's resources."), name=name)


@lru_cache(maxsize=1)
def register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for alias, fname in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(alias, str(font_path(fname))))
    pdfmetrics.registerFontFamily("Kit", normal="Kit", bold="Kit-Bold", italic="Kit", boldItalic="Kit-Bold")


def fonts_for(lang: str) -> tuple[str, str]:
    return ("KitCJK", "KitCJK") if lang == "zh" else ("Kit", "Kit-Bold")


_EMBEDDINGS = {c: None for c in (0x202A, 0x202B, 0x202C)}


def _isolates_to_embeddings(text: str) -> str:
    """python-bidi's reference algorithm (which mirrors brackets) predates isolates: map LRI, RLI
    and FSI to the LRE and RLE embeddings (FSI by its first strong character) and PDI to PDF."""
    import unicodedata

    out = []
    for i, ch in enumerate(text):
        if ch == "\u2066":
            out.append("\u202a")
        elif ch == "\u2067":
            out.append("\u202b")
        elif ch == "\u2068":
            strong = next((unicodedata.bidirectional(c) for c in text[i + 1:]
                           if unicodedata.bidirectional(c) in ("L", "R", "AL") or c == "\u2069"), "L")
            out.append("\u202b" if strong in ("R", "AL") else "\u202a")
        elif ch == "\u2069":
            out.append("\u202c")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1)
def _reshaper() -> Any:
    """Arabic shaping that keeps the harakat (short vowels, shadda, sukun, tanwin): names and
    quotations are written with them, and dropping them changes what a reader sees. Kurinto Sans
    draws each mark with no advance over the letter drawn after it, which after the reordering
    for left-to-right drawing is the letter it belongs to."""
    import arabic_reshaper

    return arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False})


def visual_rtl(text: str) -> str:
    """Shape and reorder one line of Arabic for drawing left to right (brackets mirrored)."""
    from bidi.algorithm import get_display

    visual = get_display(_reshaper().reshape(_isolates_to_embeddings(text)), base_dir="R")
    return visual.translate(_EMBEDDINGS)  # the marks did their work; fonts have no glyph for them


def text_isolate(text: str) -> str:
    """A person's text of unknown direction (a name, a comment) inside Arabic: first strong isolate."""
    return f"\u2068{text}\u2069"


def ltr_isolate(text: str) -> str:
    """Keep codes, dates and numbers left-to-right inside Arabic text."""
    return f"{LRI}{text}{PDI}"


@dataclass
class Styles:
    lang: str
    title: Any
    h1: Any
    h2: Any
    body: Any
    small: Any
    cell: Any
    cell_bold: Any


def make_styles(lang: str) -> Styles:
    from reportlab.lib.enums import TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    register_fonts()
    regular, bold = fonts_for(lang)
    align = TA_RIGHT if is_rtl(lang) else TA_LEFT
    wrap = "CJK" if lang == "zh" else None

    def st(name: str, font: str, size: float, leading: float, before: float = 0, after: float = 4) -> Any:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, alignment=align,
                              spaceBefore=before, spaceAfter=after, wordWrap=wrap)

    return Styles(lang, st("title", bold, 22, 28, 0, 10), st("h1", bold, 16, 21, 10, 6),
                  st("h2", bold, 12.5, 17, 8, 4), st("body", regular, 10, 14.5), st("small", regular, 8, 11),
                  st("cell", regular, 8.5, 11, 0, 0), st("cell_bold", bold, 8.5, 11, 0, 0))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rtl_flowable_class():  # type: ignore[no-untyped-def]
    from reportlab.lib.utils import simpleSplit
    from reportlab.platypus import Flowable

    class RTLParagraph(Flowable):
        """Right-aligned Arabic paragraph: wrap the logical text, then shape and reorder each line."""

        def __init__(self, text: str, style: Any) -> None:
            super().__init__()
            self.text = text
            self.style = style
            self.lines: list[str] = []

        def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
            self.lines = []
            for para in self.text.split("\n"):
                self.lines += simpleSplit(para, self.style.fontName, self.style.fontSize, avail_width) or [""]
            self.width = avail_width
            self.height = len(self.lines) * self.style.leading
            return avail_width, self.height

        def split(self, avail_width: float, avail_height: float) -> list[Any]:
            self.wrap(avail_width, avail_height)
            fit = int(avail_height // self.style.leading)
            if fit <= 0 or fit >= len(self.lines):
                return [] if fit <= 0 else [self]
            head = RTLParagraph("\n".join(self.lines[:fit]), self.style)
            tail = RTLParagraph("\n".join(self.lines[fit:]), self.style)
            return [head, tail]

        def getSpaceBefore(self) -> float:  # noqa: N802 - reportlab API
            return self.style.spaceBefore

        def getSpaceAfter(self) -> float:  # noqa: N802
            return self.style.spaceAfter

        def draw(self) -> None:
            c = self.canv
            c.setFont(self.style.fontName, self.style.fontSize)
            y = self.height - self.style.fontSize
            for line in self.lines:
                c.drawRightString(self.width, y, visual_rtl(line))
                y -= self.style.leading

    return RTLParagraph


def para(text: str, style: Any, lang: str) -> Any:
    """A paragraph of plain text in ``lang`` (no markup), right to left for Arabic."""
    from reportlab.platypus import Paragraph

    if is_rtl(lang):
        return rtl_flowable_class()(text, style)
    return Paragraph(_escape(text).replace("\n", "<br/>"), style)


def cell(text: Any, styles: Styles, bold: bool = False) -> Any:
    return para("" if text is None else str(text), styles.cell_bold if bold else styles.cell, styles.lang)


class Heading:
    """Marker for headings that go into the table of contents."""


def heading(text: str, level: int, styles: Styles, key: str) -> Any:
    f = para(text, styles.h1 if level == 1 else styles.h2, styles.lang)
    f._toc = (level, text, key)  # type: ignore[attr-defined]
    return f


def bar_chart(series: Sequence[tuple[str, float]], width: float = 440, height: float = 120,
              colours: Sequence[str] = ("#6b7b8c", "#1f77b4", "#2ca02c")) -> Any:
    """A small bar chart (baseline, latest, target...) as a reportlab Drawing; labels are codes/years."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    if not series:
        return d
    top = max(abs(v) for _, v in series) or 1.0
    n = len(series)
    bw = min(60.0, (width - 20) / n * 0.6)
    gap = (width - 20 - n * bw) / max(n, 1)
    d.add(Line(10, 18, width - 10, 18, strokeColor=colors.grey, strokeWidth=0.5))
    for i, (label, value) in enumerate(series):
        x = 10 + gap / 2 + i * (bw + gap)
        h = (height - 40) * abs(value) / top
        d.add(Rect(x, 18, bw, h, fillColor=colors.HexColor(colours[i % len(colours)]), strokeColor=None))
        d.add(String(x + bw / 2, 20 + h + 3, f"{value:g}", fontName="Kit", fontSize=7, textAnchor="middle"))
        d.add(String(x + bw / 2, 6, label, fontName="Kit", fontSize=7, textAnchor="middle"))
    return d


@dataclass
class DocInfo:
    title: str
    lang: str
    author: str = "SDG Cities Kit"
    subject: str = ""
    footer_left: str = ""


def build_pdf(story_factory: Callable[[list[tuple[int, str, str, int]]], list[Any]], info: DocInfo) -> bytes:
    """Build a PDF twice: the first pass records heading pages for the table of contents and
    the page count; the second renders with them. ``story_factory(toc_entries)`` returns a fresh
    story each time (flowables cannot be reused)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    register_fonts()
    styles = make_styles(info.lang)
    regular = styles.body.fontName

    class _Doc(BaseDocTemplate):
        def __init__(self, buf: io.BytesIO) -> None:
            super().__init__(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                             bottomMargin=20 * mm, title=info.title, author=info.author, subject=info.subject,
                             lang=info.lang)
            frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
            self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._footer)])
            self.entries: list[tuple[int, str, str, int]] = []
            self.total_pages = 0

        def afterFlowable(self, flowable: Any) -> None:  # noqa: N802 - reportlab API
            toc = getattr(flowable, "_toc", None)
            if toc:
                level, text, key = toc
                self.entries.append((level, text, key, self.page))
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(text, key, level=level - 1, closed=False)

        def _footer(self, canv: Any, doc: Any) -> None:
            canv.saveState()
            canv.setFont(regular, 8)
            label = translate(N_("Page {page} of {pages}"), info.lang).format(page=doc.page,
                                                                               pages=max(total[0], doc.page))
            left = info.footer_left
            if is_rtl(info.lang):
                canv.drawString(doc.leftMargin, 10 * mm, visual_rtl(label))
                canv.drawRightString(A4[0] - doc.rightMargin, 10 * mm, visual_rtl(left))
            else:
                canv.drawRightString(A4[0] - doc.rightMargin, 10 * mm, label)
                canv.drawString(doc.leftMargin, 10 * mm, left)
            canv.restoreState()

    total = [0]
    entries: list[tuple[int, str, str, int]] = []
    for _pass in range(2):
        buf = io.BytesIO()
        doc = _Doc(buf)
        doc.build(story_factory(entries))
        entries = doc.entries
        total[0] = doc.page
    return buf.getvalue()


def toc_table(entries: list[tuple[int, str, str, int]], styles: Styles, title: str, width: float) -> list[Any]:
    """Table of contents rows (heading, page) from the first pass; mirrored for Arabic."""
    from reportlab.platypus import Table, TableStyle

    out: list[Any] = [para(title, styles.h1, styles.lang)]
    if not entries:
        return out
    rows = []
    for level, text, _key, page in entries:
        indent = "    " * (level - 1)
        label = cell(text if is_rtl(styles.lang) else indent + text, styles, bold=level == 1)
        rows.append([cell(str(page), styles), label] if is_rtl(styles.lang) else [label, cell(str(page), styles)])
    widths = [14 * 2.83, width - 14 * 2.83] if is_rtl(styles.lang) else [width - 14 * 2.83, 14 * 2.83]
    t = Table(rows, colWidths=widths)
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    out.append(t)
    return out

"""Language, fonts, direction and locale formatting for the whole app.

The kit carries its own fonts (Kurinto Sans for Latin, Cyrillic and Arabic; Kurinto Sans SC for
Chinese) and registers them at start, so a bare PC with no Arabic or Chinese fonts renders both.
Numbers, sizes and dates are written with the :class:`QLocale` of the chosen language.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any
from functools import lru_cache

from PySide6.QtCore import QDate, QDateTime, QLibraryInfo, QLocale, Qt, QTime, QTranslator
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette

from app.i18n import current_language, is_rtl, isolate_placeholders, isolated, set_language

FONT_FILES = ("KurintoSans-Rg.ttf", "KurintoSansSC-Rg.ttf")
LATIN_FAMILY = "Kurinto Sans"
CHINESE_FAMILY = "Kurinto Sans SC"
QT_LOCALE_NAMES = {"ar": "ar", "zh": "zh_CN", "en": "en_GB", "fr": "fr_FR", "ru": "ru_RU", "es": "es_ES"}

_translators: list[QTranslator] = []


@lru_cache(maxsize=1)
def register_fonts() -> tuple[str, ...]:
    """Register the bundled fonts once; returns the families Qt now knows from them."""
    from app.errors import KitError
    from app.report.pdf import font_path

    families: list[str] = []
    for name in FONT_FILES:
        try:
            fid = QFontDatabase.addApplicationFont(str(font_path(name)))
        except KitError:
            continue  # the system fonts still work where they cover the script
        if fid >= 0:
            families += [f for f in QFontDatabase.applicationFontFamilies(fid) if f not in families]
    return tuple(families)


def app_font(lang: str, base: QFont | None = None) -> QFont:
    font = QFont(base) if base is not None else QFont()
    known = register_fonts()
    order = [CHINESE_FAMILY, LATIN_FAMILY] if lang == "zh" else [LATIN_FAMILY, CHINESE_FAMILY]
    families = [f for f in order if f in known]
    if families:
        font.setFamilies(families)
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    return font


def qlocale(lang: str | None = None) -> QLocale:
    return QLocale(QT_LOCALE_NAMES.get(lang or current_language(), "en_GB"))


def apply_language(app: QGuiApplication, lang: str) -> str:
    """Make ``lang`` the language of the core and of Qt: direction, locale, font, Qt's own texts."""
    code = set_language(lang)
    isolate_placeholders(True)  # paths, fingerprints and Latin names keep their direction in Arabic
    app.setLayoutDirection(Qt.LayoutDirection.RightToLeft if is_rtl(code) else Qt.LayoutDirection.LeftToRight)
    loc = qlocale(code)
    QLocale.setDefault(loc)
    app.setFont(app_font(code, app.font()))
    for t in _translators:
        app.removeTranslator(t)
    _translators.clear()
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if code != "en":
        t = QTranslator(app)
        if t.load(loc, "qtbase", "_", folder):
            app.installTranslator(t)
            _translators.append(t)
    return code


# -- formatting ---------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def isolate(text: str) -> str:
    """``text`` (a path, a file name, a fingerprint) as a first-strong isolate when the interface is
    right to left, so its own direction survives among Arabic words; unchanged otherwise."""
    return isolated(text)


def collation_key(text: str) -> Any:
    """A sort key for ``text`` by the rules of the interface language (ICU, through Qt): Spanish puts
    ñ after n, Chinese sorts by pinyin, and case and accents only break ties -- as people expect
    a list of cities to be ordered."""
    return _collator(current_language()).sortKey(text)


@lru_cache(maxsize=8)
def _collator(lang: str) -> Any:
    from PySide6.QtCore import QCollator

    c = QCollator(qlocale(lang))
    c.setNumericMode(True)  # "Ward 2" before "Ward 10"
    return c


def _locale_for(lang: str) -> QLocale:
    return qlocale(lang)


def loc() -> QLocale:
    """The chosen language's QLocale (cached: making one is not free)."""
    return _locale_for(current_language())


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return ""
    loc_ = loc()
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return loc_.toString(int(value))
    text = loc_.toString(float(value), "f", 6)
    dec = loc_.decimalPoint()
    if dec in text:
        text = text.rstrip(loc_.zeroDigit()).rstrip(dec)
    return text


def fmt_year(year: int | None) -> str:
    if year is None:
        return ""
    yl = QLocale(loc())
    yl.setNumberOptions(QLocale.NumberOption.OmitGroupSeparator)
    return yl.toString(int(year))


def parse_number(text: str) -> float | int | None:
    """A number typed in the chosen language's way or the plain ``1234.5`` way; None if not a number.
    Whole numbers come back as ``int``."""
    text = text.strip().replace("\u00a0", "").replace("\u202f", "")
    if not text:
        return None
    for lc in (loc(), QLocale.c()):
        value, ok = lc.toDouble(text)
        if ok and math.isfinite(value):
            return int(value) if value.is_integer() and abs(value) < 1e15 else value
    return None


def fmt_size(n: int) -> str:
    return loc().formattedDataSize(int(n), 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def fmt_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return loc().toString(QDate(d.year, d.month, d.day), QLocale.FormatType.ShortFormat)


def fmt_datetime(iso: str | None) -> str:
    """A stored UTC time (``2026-05-01T10:00:00Z``) in local time, the chosen language's way."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    local = dt.astimezone()
    qdt = QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute))
    return loc().toString(qdt, QLocale.FormatType.ShortFormat)


def lead(label: Any) -> Any:
    """Align a label to the start of the line in the chosen language's direction, whatever script
    its text is in (a Latin city name stays on the right in Arabic)."""
    side = Qt.AlignmentFlag.AlignRight if is_rtl() else Qt.AlignmentFlag.AlignLeft
    label.setAlignment(side | Qt.AlignmentFlag.AlignAbsolute | Qt.AlignmentFlag.AlignVCenter)
    return label


def in_reading_order(text: str) -> str:
    """``text`` laid out in the chosen language's direction even when it starts with a Latin name
    (an Arabic sentence that begins with "Amani" would otherwise be ordered left to right)."""
    return "\u200f" + text if is_rtl() and text and not text.startswith("\u200f") else text


ERROR = "#b00020"
HINT = "#555555"
WARN = "#8a5a00"


def tint(widget: Any, colour: str | None) -> Any:
    """Colour a label's text (a palette, not a style sheet: style sheets make pages slow to build)."""
    if colour is None:
        widget.setPalette(QPalette())
    else:
        pal = widget.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(colour))
        pal.setColor(QPalette.ColorRole.Text, QColor(colour))
        widget.setPalette(pal)
    return widget


def passphrase_field(layout: Any, label_text: str) -> tuple[Any, Any]:
    """A labelled password line (label as its buddy, accessible name) added to ``layout``."""
    from PySide6.QtWidgets import QLabel, QLineEdit

    label = lead(QLabel(label_text))
    layout.addWidget(label)
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(label_text)
    label.setBuddy(edit)
    layout.addWidget(edit)
    return label, edit


def path_field(layout: Any, label_text: str, value: str, browse_name: str, on_browse: Any) -> tuple[Any, Any]:
    """A labelled path line with a Browse button beside it, added to ``layout``."""
    from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton

    from app.i18n import _

    label = lead(QLabel(label_text))
    layout.addWidget(label)
    row = QHBoxLayout()
    edit = QLineEdit(value)
    edit.setAccessibleName(label_text)
    label.setBuddy(edit)
    browse = QPushButton(_("Browse…"))
    browse.setAccessibleName(browse_name)
    browse.clicked.connect(on_browse)
    row.addWidget(edit, 1)
    row.addWidget(browse)
    layout.addLayout(row)
    return label, edit

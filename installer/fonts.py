"""The fonts that travel on the stick, cut down to the scripts of the kit's six languages.

Kurinto Sans is a pan-Unicode family: its regular and bold files carry 28,000 glyphs (Indic,
Ethiopic, Canadian syllabics, Yi and many more scripts) and weigh 5.4 MB each. The kit writes and
shows Arabic, Chinese, English, French, Russian and Spanish, so the stick keeps the Latin, Greek,
Cyrillic and Arabic blocks, the punctuation and symbols those texts use, and every OpenType layout
feature (Arabic joining and marks need GSUB and GPOS). A subset is about 0.7 MB.

Kurinto Sans SC (the Chinese face) is kept whole: its weight is the CJK ideographs themselves, and
a rare character in a person's or a place's name must still print.

The subsetting is done by fontTools, the library type designers and Google Fonts use for this.
A glyph outside the kept ranges shows in the Qt window through the system's own fonts; in a PDF it
would be missing, which is why the ranges are generous within each script.
"""

from __future__ import annotations

from pathlib import Path

# (first, last, why) -- inclusive code point ranges kept in Kurinto Sans regular and bold
KEPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0000, 0x007F, "Basic Latin"),
    (0x0080, 0x00FF, "Latin-1: French and Spanish accents, the euro sign's neighbours"),
    (0x0100, 0x024F, "Latin Extended-A and B: names of people and places"),
    (0x0250, 0x02FF, "IPA and spacing modifiers (apostrophes, accents in names)"),
    (0x0300, 0x036F, "combining diacritical marks"),
    (0x0370, 0x03FF, "Greek: units and formulas in evidence (mu, sigma, delta)"),
    (0x0400, 0x052F, "Cyrillic and its supplement: Russian and the region's other languages"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic Supplement"),
    (0x0870, 0x08FF, "Arabic Extended-A and B (marks used in Quranic and regional spellings)"),
    (0x1E00, 0x1EFF, "Latin Extended Additional (Vietnamese and other Latin names)"),
    (0x2000, 0x206F, "General Punctuation, including the bidi controls"),
    (0x2070, 0x209F, "superscripts and subscripts (m², CO₂)"),
    (0x20A0, 0x20CF, "currency symbols"),
    (0x2100, 0x218F, "letterlike symbols and number forms (№, ℃, fractions)"),
    (0x2190, 0x21FF, "arrows"),
    (0x2200, 0x22FF, "mathematical operators (≤, ≥, ±)"),
    (0x2300, 0x23FF, "miscellaneous technical"),
    (0x2460, 0x24FF, "enclosed alphanumerics"),
    (0x2500, 0x25FF, "box drawing, blocks and geometric shapes (bullets, check boxes)"),
    (0x2600, 0x27BF, "symbols and dingbats (check marks, crosses)"),
    (0x2C60, 0x2C7F, "Latin Extended-C"),
    (0x2DE0, 0x2DFF, "Cyrillic Extended-A"),
    (0xA640, 0xA69F, "Cyrillic Extended-B"),
    (0xA720, 0xA7FF, "Latin Extended-D"),
    (0xFB00, 0xFB06, "Latin ligatures"),
    (0xFB50, 0xFDFF, "Arabic Presentation Forms-A (what the PDF writer shapes Arabic into)"),
    (0xFE00, 0xFE0F, "variation selectors"),
    (0xFE70, 0xFEFF, "Arabic Presentation Forms-B and the byte order mark"),
    (0xFFF0, 0xFFFD, "specials (the replacement character)"),
)

SUBSET_FONTS = ("KurintoSans-Rg.ttf", "KurintoSans-Bd.ttf")


def kept_codepoints() -> set[int]:
    out: set[int] = set()
    for first, last, _why in KEPT_RANGES:
        out.update(range(first, last + 1))
    return out


def subset_font(src: Path, dst: Path) -> tuple[int, int]:
    """Write ``src`` cut to :data:`KEPT_RANGES` as ``dst``; returns (bytes before, bytes after)."""
    try:
        from fontTools import subset
    except ImportError:
        raise SystemExit("fontTools is not installed: pip install -c requirements/constraints.txt -e '.[dev]'")
    options = subset.Options()
    options.layout_features = ["*"]  # Arabic joining, marks, ligatures, kerning: all of them
    options.name_IDs = ["*"]  # keep the family name the app and the PDFs look the font up by
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = True
    font = subset.load_font(str(src), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=kept_codepoints())
    sub.subset(font)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    subset.save_font(font, str(tmp), options)
    tmp.replace(dst)
    return src.stat().st_size, dst.stat().st_size

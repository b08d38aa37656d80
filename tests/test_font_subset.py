"""The stick's cut-down Latin/Arabic font still covers every character the kit's content uses."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "installer"))

from fonts import subset_font  # noqa: E402



def _font_dir() -> Path:
    import weblate_fonts

    return Path(weblate_fonts.__file__).parent / "static" / "weblate_fonts" / "kurinto" / "ttf"


LANGS = ("ar", "zh", "en", "fr", "ru", "es")


def _texts_by_language() -> dict[str, str]:
    """Every message translation (English: the source strings) and every six-language text of the
    framework, indicator and tools catalogues, by language."""
    out: dict[str, list[str]] = {lang: [] for lang in LANGS}

    def walk(v: object, lang: str | None) -> None:
        if isinstance(v, str):
            if lang:
                out[lang].append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, k if k in LANGS else lang)
        elif isinstance(v, list):
            for x in v:
                walk(x, lang)

    for lang in LANGS:
        if lang != "en":
            msgs = json.loads((ROOT / "resources" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
            out[lang] += msgs.values()
            out["en"] += msgs.keys()
    for p in sorted((ROOT / "resources").rglob("*.json")):
        if p.parent.name != "i18n":
            walk(json.loads(p.read_text(encoding="utf-8")), None)
    return {lang: "".join(v) for lang, v in out.items()}


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    from fontTools.ttLib import TTFont

    src = _font_dir() / "KurintoSans-Rg.ttf"
    dst = tmp_path_factory.mktemp("fonts") / "KurintoSans-Rg.ttf"
    before, after = subset_font(src, dst)
    return TTFont(src), TTFont(dst), before, after


def test_the_cut_font_is_a_fraction_of_the_pan_unicode_one(cut):
    _full, _sub, before, after = cut
    assert after < before * 0.25, (before, after)


def test_every_character_of_the_kits_content_is_in_the_font_its_language_prints_with(cut):
    from fontTools.ttLib import TTFont

    _full, sub, _b, _a = cut
    fonts = {"zh": set(TTFont(_font_dir() / "KurintoSansSC-Rg.ttf").getBestCmap())}  # Chinese: the SC face
    texts = _texts_by_language()
    import arabic_reshaper

    texts["ar"] += arabic_reshaper.reshape(texts["ar"])  # the PDF writer prints the presentation forms
    for lang in LANGS:
        have = fonts.get(lang, set(sub.getBestCmap()))
        chars = set(texts[lang])
        assert len(texts[lang]) > 10000, lang  # the language's texts were all found
        missing = sorted(c for c in chars if ord(c) not in have and unicodedata.category(c) not in ("Cc", "Cf"))
        assert not missing, (lang, [f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in missing[:20]])


def test_the_cut_font_keeps_the_name_and_the_arabic_shaping(cut):
    full, sub, _b, _a = cut
    assert sub["name"].getDebugName(1) == full["name"].getDebugName(1) == "Kurinto Sans"
    features = {fr.FeatureTag for fr in sub["GSUB"].table.FeatureList.FeatureRecord}
    assert {"init", "medi", "fina", "rlig"} <= features
    marks = {fr.FeatureTag for fr in sub["GPOS"].table.FeatureList.FeatureRecord}
    assert "mark" in marks  # harakat sit on their letters
    cmap = sub.getBestCmap()
    for ch in "بمحيطФЖéñçœ€№≤":
        assert ord(ch) in cmap, ch
    assert 0x0905 not in cmap  # Devanagari went: not one of the kit's languages

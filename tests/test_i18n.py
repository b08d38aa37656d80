"""Every message the kit can show exists in all six languages, with its placeholders intact."""

from __future__ import annotations

import json
import re
import string
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from extract_messages import messages  # noqa: E402

LANGS = ("ar", "zh", "fr", "ru", "es")


def placeholders(s: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(s) if f}


@pytest.fixture(scope="module")
def msgs() -> dict[str, list[str]]:
    m = messages()
    assert len(m) > 100
    return m


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_translated(msgs, lang):
    cat = json.loads((ROOT / "resources" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    missing = [m for m in msgs if not cat.get(m, "").strip()]
    assert missing == [], f"{len(missing)} untranslated in {lang}, e.g. {missing[:3]}"


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_survive_translation(msgs, lang):
    cat = json.loads((ROOT / "resources" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    bad = [m for m in msgs if cat.get(m) and placeholders(cat[m]) != placeholders(m)]
    assert bad == [], f"{lang}: placeholders differ in {bad[:3]}"


@pytest.mark.parametrize("lang,script", [("ar", r"[\u0600-\u06FF]"), ("zh", r"[\u4e00-\u9fff]"),
                                         ("ru", r"[\u0400-\u04FF]")])
def test_translations_are_in_the_right_script(msgs, lang, script):
    cat = json.loads((ROOT / "resources" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    wrong = [m for m in msgs if cat.get(m) and re.search(r"[A-Za-z]{4,}", m) and not re.search(script, cat[m])]
    assert wrong == [], f"{lang}: not translated into its script: {wrong[:3]}"


def test_language_normalisation():
    from app.i18n import normalise_language

    assert normalise_language("fr_FR.UTF-8") == "fr"
    assert normalise_language("zh-Hans") == "zh"
    assert normalise_language("de") == "en"


def test_filled_in_texts_are_isolated_in_arabic_when_the_desktop_app_asks():
    from app import i18n
    from app.errors import UserInputError

    err = UserInputError("Saved {path}.", path="/media/STICK/keys/city.card.json")
    before = i18n.current_language()
    try:
        i18n.isolate_placeholders(False)
        i18n.set_language("ar")
        assert "\u2068" not in i18n._("Saved {path}.", path="/x/y")  # the command line: plain text
        i18n.isolate_placeholders(True)
        assert "\u2068/x/y\u2069" in i18n._("Saved {path}.", path="/x/y")
        assert "\u2068/media/STICK/keys/city.card.json\u2069" in err.message("ar")
        assert "\u2068" not in err.message("fr") and "\u2068" not in err.message("en")
        i18n.set_language("fr")
        assert "\u2068" not in i18n._("Saved {path}.", path="/x/y")  # left to right: nothing to isolate
        assert i18n._("{count} files", count=3) == i18n.translate("{count} files").format(count=3)
    finally:
        i18n.isolate_placeholders(False)
        i18n.set_language(before)

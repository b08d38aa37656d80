"""Message translation for the core, the CLI and the UI.

English is the source language: a message id *is* its English text, as in gettext. Translations
live in ``resources/i18n/<lang>.json`` (``{"English text": "translation"}``), so translators and
national mechanisms edit plain data. ``N_()`` marks a string for extraction without translating
it; ``_()`` translates now. A test checks that every marked string has a non-empty translation in
every language and that placeholders survive translation.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache

from app.resources import resource

LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")
SOURCE_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"ar"})
LANGUAGE_NAMES = {
    "ar": "العربية",
    "zh": "中文",
    "en": "English",
    "fr": "Français",
    "ru": "Русский",
    "es": "Español",
}

_state = threading.local()
_default_language = SOURCE_LANGUAGE


def normalise_language(lang: str | None) -> str:
    """Map ``fr_FR.UTF-8``, ``zh-Hans`` etc. to one of the six codes; unknown -> English."""
    if not lang:
        return SOURCE_LANGUAGE
    code = lang.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else SOURCE_LANGUAGE


def set_language(lang: str | None) -> str:
    """Set the process-wide language (and this thread's); returns the normalised code."""
    global _default_language
    code = normalise_language(lang)
    _default_language = code
    _state.lang = code
    return code


def current_language() -> str:
    return getattr(_state, "lang", _default_language)


def is_rtl(lang: str | None = None) -> bool:
    return (lang or current_language()) in RTL_LANGUAGES


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    if lang == SOURCE_LANGUAGE:
        return {}
    path = resource("i18n", f"{lang}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and v}


def translate(msgid: str, lang: str | None = None) -> str:
    lang = lang or current_language()
    if lang == SOURCE_LANGUAGE:
        return msgid
    return catalogue(lang).get(msgid, msgid)


_isolate = False


def isolate_placeholders(on: bool = True) -> None:
    """In a right-to-left language, wrap every text filled into a message in a Unicode first-strong
    isolate (U+2068 ... U+2069), so a path, a fingerprint or a Latin name keeps its own direction
    inside an Arabic sentence instead of scrambling it (the bidi algorithm's rule X5c). The desktop
    app turns this on: Qt renders isolates. Terminals mostly do not, so the command line does not."""
    global _isolate
    _isolate = on


def isolated(text: str, lang: str | None = None) -> str:
    """``text`` in a first-strong isolate (U+2068 ... U+2069) when ``lang`` is right to left."""
    return f"\u2068{text}\u2069" if text and is_rtl(lang) else text


def fill(text: str, params: dict[str, object], lang: str | None = None) -> str:
    """``text.format(**params)``, with the filled-in texts isolated (see :func:`isolate_placeholders`)."""
    if _isolate and params and is_rtl(lang):
        params = {k: isolated(v, lang) if isinstance(v, str) else v for k, v in params.items()}
    return text.format(**params)


def _(msgid: str, **params: object) -> str:
    """Translate ``msgid`` into the current language and fill ``{placeholders}``."""
    text = translate(msgid)
    if params:
        try:
            return fill(text, params)
        except (KeyError, IndexError, ValueError):
            return msgid.format(**params)
    return text


def N_(msgid: str) -> str:
    """Mark ``msgid`` for translation without translating it (used for data defined at import time)."""
    return msgid


def text_in(value: dict[str, str] | str | None, lang: str | None = None) -> str:
    """Pick one language from a multilingual text object ``{"en": ..., "fr": ...}``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lang = lang or current_language()
    return value.get(lang) or value.get(SOURCE_LANGUAGE) or next(iter(value.values()), "")

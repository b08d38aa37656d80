"""The tools catalogue (resources/tools/tools.json) that stage reports use to point gaps to help."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from app.model.framework import load_framework
from app.resources import resource

LANGS = ("en", "fr", "es", "ru", "zh", "ar")
TEXT_KEYS = ("title", "summary", "keywords")


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return json.loads(resource("tools", "tools.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resource("schema", "tools.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def criterion_ids() -> set[str]:
    fw = load_framework()
    return {c.id for s in fw.stages for c in s.criteria}


def test_catalogue_follows_its_schema(catalogue, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(catalogue)]
    assert errors == []


@pytest.mark.parametrize("breakage", [
    lambda t: t["title"].pop("ar"),
    lambda t: t["summary"].update(zh="  "),
    lambda t: t.update(kind="website"),
    lambda t: t.update(url="http://example.org/tool"),
    lambda t: t.update(criteria=["C.1"]),
    lambda t: t.pop("verified"),
])
def test_schema_rejects_broken_entries(catalogue, validator, breakage):
    broken = copy.deepcopy(catalogue)
    breakage(broken["tools"][0])
    assert not validator.is_valid(broken)


def test_ids_are_unique(catalogue):
    ids = [t["id"] for t in catalogue["tools"]]
    assert len(ids) == len(set(ids))
    assert 20 <= len(ids) <= 30


def test_every_referenced_criterion_exists(catalogue, criterion_ids):
    unknown = {(t["id"], c) for t in catalogue["tools"] for c in t["criteria"] if c not in criterion_ids}
    assert unknown == set()


def test_every_criterion_has_at_least_one_tool(catalogue, criterion_ids):
    covered = {c for t in catalogue["tools"] for c in t["criteria"]}
    assert criterion_ids - covered == set()


def test_six_languages_are_present_and_not_empty(catalogue):
    for tool in catalogue["tools"]:
        for key in TEXT_KEYS:
            text = tool[key]
            assert tuple(text) == LANGS, (tool["id"], key)
            blank = [lang for lang in LANGS if not text[lang].strip()]
            assert blank == [], (tool["id"], key)


def test_translations_are_not_english_copies(catalogue):
    # Proper names (e.g. "Her City", "Local2030") may stay the same in a title, but a summary never can.
    for tool in catalogue["tools"]:
        summary = tool["summary"]
        copies = [lang for lang in LANGS[1:] if summary[lang] == summary["en"]]
        assert copies == [], tool["id"]


def test_keywords_split_into_several_terms_in_every_language(catalogue):
    for tool in catalogue["tools"]:
        for lang in LANGS:
            terms = [k.strip() for k in tool["keywords"][lang].split(",")]
            assert len(terms) >= 3 and all(terms), (tool["id"], lang)

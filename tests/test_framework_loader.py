"""Loading the framework: overlay merging, answer validation, completeness rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ValidationError
from app.model.framework import (
    apply_overlay,
    build,
    load_framework,
    missing_reason,
    validate_value,
    _field,
)

T = {l: f"t-{l}" for l in ("en", "fr", "es", "ru", "zh", "ar")}


def tiny() -> tuple[dict, list[dict]]:
    meta = {"id": "sdg-cities-global", "version": "1.2.0", "title": T, "languages": ["en"],
            "levels": [{"id": "silver", "name": T}, {"id": "gold", "name": T}],
            "stage_levels": {"A": "silver"}, "evidence_kinds": [{"id": "document", "name": T, "extensions": [".pdf"]}],
            "stages": ["A"]}
    stage = {"id": "A", "order": 1, "title": T, "summary": T, "source": "para 20", "criteria": [
        {"id": "A.a", "letter": "a", "title": T, "statement": T, "requirements": [
            {"id": "A.a.1", "title": T, "guidance": T, "mandatory": True,
             "fields": [{"id": "summary", "type": "text", "label": T, "required": True, "min_length": 5}],
             "evidence": [], "indicators": [], "min_indicator_values": 0},
            {"id": "A.a.2", "title": T, "guidance": T, "mandatory": False,
             "fields": [{"id": "ok", "type": "yes_no", "label": T, "required": True}],
             "evidence": [], "indicators": [], "min_indicator_values": 0}]}]}
    return meta, [stage]


def test_overlay_renames_hides_changes_and_adds():
    meta, stages = tiny()
    new_req = {"id": "A.a.KE1", "title": T, "guidance": T, "mandatory": True,
               "fields": [{"id": "county", "type": "text", "label": T, "required": True}],
               "evidence": [], "indicators": [], "min_indicator_values": 0}
    overlay = {"id": "ke", "version": "0.3.0", "base": "sdg-cities-global", "base_version": "^1.0",
               "mechanism": {"name": T, "country": "KE"},
               "levels": {"silver": {"name": {**T, "en": "Bronze star"}}},
               "hide": ["A.a.2"], "change": {"A.a.1": {"mandatory": False}},
               "add": [{"criterion": "A.a", "requirement": new_req}]}
    fw = build(*apply_overlay(meta, stages, overlay, Path("ke.json")), overlay)
    assert fw.level_name("A", "en") == "Bronze star"
    ids = [r.id for r in fw.stage("A").requirements()]
    assert ids == ["A.a.1", "A.a.KE1"]
    assert fw.requirement("A.a.1").mandatory is False and fw.requirement("A.a.1").origin == "ke"
    assert fw.requirement("A.a.KE1").origin == "ke"
    assert fw.label == "sdg-cities-global 1.2.0 + ke 0.3.0"
    # the base data was not modified by the merge
    assert [r["id"] for r in stages[0]["criteria"][0]["requirements"]] == ["A.a.1", "A.a.2"]


@pytest.mark.parametrize("bad", [
    {"base_version": "^2.0"},
    {"hide": ["A.z.9"]},
    {"change": {"A.z.9": {"mandatory": False}}},
    {"levels": {"bronze": {"name": T}}},
])
def test_overlay_errors_are_clear(bad):
    meta, stages = tiny()
    overlay = {"id": "ke", "version": "1.0.0", "base": "sdg-cities-global", "base_version": "^1.0", **bad}
    with pytest.raises(ValidationError) as exc:
        apply_overlay(meta, stages, overlay, Path("ke.json"))
    assert "ke.json" in exc.value.message("en")


def test_field_validation_rules():
    num = _field({"id": "n", "type": "number", "label": T, "min": 0, "max": 100, "integer": True})
    assert validate_value(num, 5) is None and validate_value(num, None) is None
    assert validate_value(num, 5.5) and validate_value(num, -1) and validate_value(num, 101)
    assert validate_value(num, True) and validate_value(num, "5")
    choice = _field({"id": "c", "type": "multiple_choice", "label": T,
                     "options": [{"id": "a", "label": T}, {"id": "b", "label": T}]})
    assert validate_value(choice, ["a", "b"]) is None
    assert validate_value(choice, ["a", "a"]) and validate_value(choice, ["z"]) and validate_value(choice, "a")
    date = _field({"id": "d", "type": "date", "label": T})
    assert validate_value(date, "2024-02-29") is None and validate_value(date, "2023-02-29")
    table = _field({"id": "t", "type": "table", "label": T, "min_rows": 2, "columns": [
        {"id": "name", "type": "text", "label": T, "required": True},
        {"id": "n", "type": "number", "label": T, "required": False, "min": 0}]})
    assert validate_value(table, [{"name": "x", "n": 1}]) is None
    assert validate_value(table, [{"name": "x", "n": -1}]) and validate_value(table, [{"colour": "red"}])
    assert missing_reason(table, [{"name": "x"}], {}) == "Add at least {min} rows."
    assert missing_reason(table, [{"name": "x"}, {"n": 2}], {}) == "Fill every required cell of the table."
    assert missing_reason(table, [{"name": "x"}, {"name": "y"}], {}) is None
    cond = _field({"id": "why", "type": "text", "label": T, "required": False,
                   "required_if": {"field": "adopted", "equals": False}})
    assert missing_reason(cond, None, {"adopted": True}) is None
    assert missing_reason(cond, None, {"adopted": False}) == "Not answered yet."


def test_real_framework_and_overlays_load():
    from app.model.framework import available_overlays

    fw = load_framework()
    assert [s.id for s in fw.stages] == ["A", "B", "C", "D"]
    assert {fw.stage_levels[s] for s in "ABCD"} == {"silver", "gold", "platinum", "diamond"}
    for ov in available_overlays():
        ofw = load_framework(ov)
        assert ofw.overlay_id == ov and ofw.label.endswith(ofw.overlay_version)


def test_every_lettered_criterion_of_paras_20_to_23_in_six_languages():
    """A a-c (para 20), B a-e (21), C a-d (22), D a-d (23); every text non-empty in every language,
    in the right script for Arabic, Chinese and Russian."""
    import re

    fw = load_framework()
    letters = {s.id: "".join(c.letter for c in s.criteria) for s in fw.stages}
    assert letters == {"A": "abc", "B": "abcde", "C": "abcd", "D": "abcd"}
    assert [s.source for s in fw.stages] == ["para 20", "para 21", "para 22", "para 23"]
    scripts = {"ar": r"[\u0600-\u06FF]", "zh": r"[\u4e00-\u9fff]", "ru": r"[\u0400-\u04FF]"}
    texts = []
    for s in fw.stages:
        texts += [s.title, s.summary]
        for c in s.criteria:
            texts += [c.title, c.statement]
            for r in c.requirements:
                texts += [r.title, r.guidance] + [f.label for f in r.fields]
                texts += [o.label for f in r.fields for o in f.options]
    for t in texts:
        assert set(t) == {"ar", "zh", "en", "fr", "ru", "es"} and all(v.strip() for v in t.values())
        for lang, pattern in scripts.items():
            assert re.search(pattern, t[lang]), (lang, t["en"])
    assert {lv.id: lv.name["en"] for lv in fw.levels} == {"silver": "Silver", "gold": "Gold",
                                                           "platinum": "Platinum", "diamond": "Diamond"}


# -- files validated before are not validated again at every start ----------------------------

def _fresh_caches(fwmod) -> None:
    fwmod.already_validated.cache_clear()
    fwmod.schemas_digest.cache_clear()
    fwmod.load_framework.cache_clear()


def test_the_record_of_validated_resources_is_current():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import check_resources

    assert check_resources.main(["--check"]) == 0, "run: python scripts/check_resources.py"


def test_unchanged_files_are_not_validated_again_and_changed_ones_are(tmp_path, monkeypatch):
    import json
    import shutil

    from app.model import framework as fwmod

    _fresh_caches(fwmod)
    calls = []
    real = fwmod._validator

    def counting(name):
        calls.append(name)
        return real(name)

    monkeypatch.setattr(fwmod, "_validator", counting)
    meta, stages = fwmod.load_raw()
    assert calls == [] and len(stages) == 4  # the shipped files: recorded as valid, not checked again

    copy = tmp_path / "global"
    shutil.copytree(fwmod.framework_dir(), copy)
    stage = copy / "stage-B.json"
    doc = json.loads(stage.read_text(encoding="utf-8"))
    doc["criteria"][0]["requirements"][0]["fields"][0]["type"] = "colour"  # not a field type
    stage.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError):
        fwmod.load_raw(copy)
    assert calls == ["stage.schema.json"]  # the edited file, and only it, was checked in full

    monkeypatch.setattr(fwmod, "schemas_digest", lambda: "0" * 64)  # a schema changed since
    fwmod.already_validated.cache_clear()
    assert fwmod.already_validated() == frozenset()
    fwmod.load_raw()
    assert calls.count("framework.schema.json") == 1 and calls.count("stage.schema.json") == 5
    monkeypatch.undo()
    _fresh_caches(fwmod)


def test_a_damaged_record_only_means_everything_is_validated(tmp_path, monkeypatch):
    import shutil

    from app.model import framework as fwmod
    from app.resources import resources_dir

    res = tmp_path / "resources"
    shutil.copytree(resources_dir(), res)
    (res / fwmod.VALIDATED_FILE).write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("SDGKIT_RESOURCES", str(res))
    _fresh_caches(fwmod)
    try:
        assert fwmod.already_validated() == frozenset()
        assert len(fwmod.load_raw()[1]) == 4
    finally:
        monkeypatch.delenv("SDGKIT_RESOURCES")
        _fresh_caches(fwmod)

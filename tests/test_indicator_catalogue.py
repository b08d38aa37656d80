"""The indicator catalogue (resources/indicators/catalogue.json): UMF matrix, SDG 11 set, seed rows,
references between entries, six languages, and the schema that guards the file at load."""

from __future__ import annotations

import copy
import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.errors import ValidationError
from app.model.framework import validate_against
from app.model.indicators import load_catalogue
from app.resources import resource
from tests.conftest import ROOT

LANGS = ("en", "fr", "es", "ru", "zh", "ar")
SEED = ROOT.parent / "shared" / "data" / "indicator_catalogue_seed.csv"
ARABIC = re.compile(r"[\u0600-\u06FF]")
CJK = re.compile(r"[\u4E00-\u9FFF]")

# The seed's free-text units and the unit id each one is entered in.
SEED_UNITS = {
    "percent of urban population": "percent",
    "percent of population": "percent",
    "ratio": "ratio",
    "percent of cities (city level: yes/no)": "yes_no",
    "currency per capita": "usd_per_capita",
    "per 100000 population": "per_100000",
    "currency / percent of GDP": "percent_gdp",
    "count / currency": "count",
    "percent": "percent",
    "micrograms per cubic metre": "ug_m3",
    "percent of built-up area": "percent",
    "percent of local governments (city level: yes/no)": "yes_no",
    "percent of births": "percent",
    "percent of population feeling safe": "percent",
    "births per 1000 women aged 15-19": "per_1000",
    "deaths per 100000 population": "per_100000",
    "percent of adult population": "percent",
    "percent of children under 5": "percent",
    "years": "years",
    "percent of GDP": "percent_gdp",
    "index 0-1": "index_0_1",
    "percent of labour force": "percent",
    "percent of youth 15-24": "percent",
    "percent of individuals": "percent",
}
SDG11 = ("11.1.1", "11.2.1", "11.3.1", "11.3.2", "11.4.1", "11.5.1", "11.5.2", "11.5.3", "11.6.1", "11.6.2",
         "11.7.1", "11.7.2", "11.a.1", "11.b.1", "11.b.2")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(resource("indicators", "catalogue.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cat():
    load_catalogue.cache_clear()
    return load_catalogue()


@pytest.fixture(scope="module")
def seed() -> list[dict[str, str]]:
    with open(SEED, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 35
    return rows


def texts(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, str]]]:
    """Every multilingual text object in the catalogue (any dict with an "en" key)."""
    if isinstance(node, dict):
        if "en" in node:
            yield where, node
            return
        for k, v in node.items():
            yield from texts(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from texts(v, f"{where}/{i}")


def test_umf_matrix_is_five_domains_by_four_objectives(cat):
    assert [(d["id"], d["number"]) for d in cat.domains] == [
        ("society", 1), ("economy", 2), ("environment", 3), ("culture", 4), ("governance_implementation", 5)]
    assert [(o["id"], o["number"]) for o in cat.objectives] == [
        ("safe", 1), ("inclusive", 2), ("resilient", 3), ("sustainable", 4)]
    assert cat.domain_number("culture") == 4 and cat.objective_number("resilient") == 3


def test_every_seed_row_is_in_the_catalogue(cat, seed):
    for row in seed:
        ind = cat.get(row["id"])
        assert (ind.code, ind.framework) == (row["code"], row["framework"]), row["id"]
        assert (ind.domain, ind.objective, ind.direction) == (row["umf_domain"], row["umf_objective"], row["direction"])
        assert ind.unit and ind.unit == SEED_UNITS[row["unit"]], row["id"]
        assert list(ind.disaggregation) == [d for d in row["disaggregation"].split(";") if d], row["id"]
        assert ind.verification == row["verification_status"], row["id"]
        if row["framework"] == "SDG":
            assert ind.name["en"] == row["name"], row["id"]  # official wording, kept verbatim


def test_seed_sources_are_kept(raw, seed):
    by_id = {i["id"]: i for i in raw["indicators"]}
    for row in seed:
        assert by_id[row["id"]]["source"] == row["source"]


def test_entries_beyond_the_seed_are_marked_unverified(raw, seed):
    seed_ids = {r["id"] for r in seed}
    extra = [i for i in raw["indicators"] if i["id"] not in seed_ids]
    assert extra, "the SDG 11 set needs 11.a.1 and 11.b.1, which the seed leaves out"
    assert all(i["verification"] == "unverified" for i in extra)


def test_sdg11_set_is_complete(cat):
    codes = sorted(i.code for i in cat.indicators.values() if i.framework == "SDG")
    assert sorted(SDG11) == codes
    for code in SDG11:
        ind = cat.get(f"SDG-{code}")
        assert ind.sdg == code


def test_ids_are_unique_and_follow_the_codes(raw, cat):
    ids = [i["id"] for i in raw["indicators"]]
    assert len(ids) == len(set(ids))
    for ind in cat.indicators.values():
        assert ind.id == f"{ind.framework}-{ind.code}"


def test_umf_codes_agree_with_domain_and_objective(cat):
    umf = [i for i in cat.indicators.values() if i.framework == "UMF"]
    assert umf
    for ind in umf:
        d, o, n = ind.code.split(".")
        assert int(d) == cat.domain_number(ind.domain), ind.id
        assert int(o) == cat.objective_number(ind.objective), ind.id
        assert int(n) >= 1


def test_every_domain_and_objective_has_an_indicator(cat):
    assert {i.domain for i in cat.indicators.values()} == {d["id"] for d in cat.domains}
    assert {i.objective for i in cat.indicators.values()} == {o["id"] for o in cat.objectives}


def test_referenced_units_and_dimensions_exist(raw, cat):
    for ind in cat.indicators.values():
        assert ind.unit in cat.units, ind.id
        for dim in ind.disaggregation:
            assert dim in cat.dimensions, (ind.id, dim)
    for key in ("units", "dimensions", "domains", "objectives"):
        ids = [x["id"] for x in raw[key]]
        assert len(ids) == len(set(ids)), key
    for dim in raw["dimensions"]:
        vals = [v["id"] for v in dim["values"]]
        assert len(vals) == len(set(vals)), dim["id"]
    assert cat.dimensions["location"]["values"] == []  # free text: any place name
    assert [v["id"] for v in cat.dimensions["sex"]["values"]] == ["female", "male"]


def test_every_text_in_six_languages(raw):
    found = list(texts(raw))
    assert len(found) > 100
    for where, t in found:
        assert set(t) == set(LANGS), where
        for lang in LANGS:
            assert isinstance(t[lang], str) and t[lang].strip(), f"{where}/{lang}"
        assert ARABIC.search(t["ar"]), f"{where}/ar is not Arabic: {t['ar']!r}"
        assert CJK.search(t["zh"]) or not re.search(r"[A-Za-z]{3}", t["en"]), f"{where}/zh is not Chinese: {t['zh']!r}"
        assert re.search(r"[\u0400-\u04FF]", t["ru"]) or not re.search(r"[A-Za-z]{3}", t["en"]), f"{where}/ru"


def test_indicator_names_are_translated(cat):
    for ind in cat.indicators.values():
        assert CJK.search(ind.name["zh"]) and ARABIC.search(ind.name["ar"]), ind.id
        assert len({ind.name[lang] for lang in ("en", "es", "ru", "zh", "ar")}) == 5, ind.id


# -- the schema -------------------------------------------------------------------------------

@pytest.mark.parametrize("breakage,where", [
    (lambda d: d["indicators"][0]["name"].pop("ar"), "indicators/0/name"),
    (lambda d: d["indicators"][0]["name"].update(zh=""), "indicators/0/name/zh"),
    (lambda d: d["indicators"][1].update(direction="up"), "indicators/1/direction"),
    (lambda d: d["indicators"][1].update(framework="LOCAL"), "indicators/1/framework"),
    (lambda d: d["indicators"][2].update(verification="checked"), "indicators/2/verification"),
    (lambda d: d["indicators"][2].update(colour="blue"), "indicators/2"),
    (lambda d: d["indicators"][3].pop("unit"), "indicators/3"),
    (lambda d: d["indicators"][-1].update(code="6.1.1"), "indicators/"),
    (lambda d: d["indicators"][-1].update(domain="health"), "indicators/"),
    (lambda d: d["domains"].reverse(), "domains/0/id"),
    (lambda d: d["objectives"].pop(), "objectives"),
    (lambda d: d["units"][0].update(id="Per Cent"), "units/0/id"),
    (lambda d: d["dimensions"][0]["values"][0].pop("name"), "dimensions/0/values/0"),
    (lambda d: d.update(format_version=2), "format_version"),
    (lambda d: d.pop("released"), "(top)"),
])
def test_schema_rejects_a_broken_file_with_a_clear_message(raw, tmp_path: Path, breakage, where):
    bad = copy.deepcopy(raw)
    breakage(bad)
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        validate_against("indicators.schema.json", json.loads(path.read_text(encoding="utf-8")), path)
    msg = exc.value.message("en")
    assert str(path) in msg and "does not follow the format" in msg
    assert f"at {where}" in msg, msg


def test_the_real_file_passes_the_schema(raw):
    validate_against("indicators.schema.json", raw, resource("indicators", "catalogue.json"))


def test_load_refuses_a_catalogue_that_fails_the_schema(raw, tmp_path: Path, monkeypatch):
    res = tmp_path / "resources"
    (res / "indicators").mkdir(parents=True)
    shutil.copytree(resource("schema"), res / "schema")
    bad = copy.deepcopy(raw)
    bad["units"][0]["name"].pop("ru")
    (res / "indicators" / "catalogue.json").write_text(json.dumps(bad), encoding="utf-8")
    monkeypatch.setenv("SDGKIT_RESOURCES", str(res))
    load_catalogue.cache_clear()
    try:
        with pytest.raises(ValidationError) as exc:
            load_catalogue()
        assert "units/0/name" in exc.value.message("en")
    finally:
        monkeypatch.undo()
        load_catalogue.cache_clear()
    assert load_catalogue().version == raw["version"]

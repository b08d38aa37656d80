"""Indicator data through a spreadsheet: template out, values in, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import UserInputError
from app.model.spreadsheet import COLUMNS, SpreadsheetRowsError, export_template, import_values


def _fill(path: Path, rows: list[list]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["data"]
    ws.delete_rows(2, ws.max_row)
    for r in rows:
        ws.append(r)
    wb.save(path)


def test_round_trip_of_demo_values(demo_dir: Path, tmp_path: Path):
    from app.model.service import Kit

    with Kit(demo_dir) as kit:
        before = kit.indicator_values()
        out = tmp_path / "values.xlsx"
        assert export_template(kit, out) == len(before)
    target = tmp_path / "fresh"
    with Kit(target) as kit2:
        kit2.init_profile(name="Copy", country="KE", population_band="<50k", languages=["en"])
        assert import_values(kit2, out) == len(before)
        after = kit2.indicator_values()
    strip = lambda vs: sorted((v["indicator_id"], v["kind"], v["year"], v["value"], v["unit"], v["source"],  # noqa: E731
                               tuple(sorted(v["disaggregation"].items())), v["spatial_unit"]) for v in vs)
    assert strip(after) == strip(before)


def test_template_headings_in_the_users_language(kit, tmp_path: Path):
    from openpyxl import load_workbook

    from app.i18n import set_language

    set_language("fr")
    try:
        export_template(kit, tmp_path / "t.xlsx", filled=False)
    finally:
        set_language("en")
    ws = load_workbook(tmp_path / "t.xlsx")["data"]
    headings = [c.value for c in ws[1]]
    assert len(headings) == len(COLUMNS) and "Valeur" in headings


def test_bad_rows_each_get_a_message_and_nothing_changes(kit, tmp_path: Path):
    cat = kit.catalogue()
    ind = next(iter(cat.indicators.values()))
    path = tmp_path / "t.xlsx"
    export_template(kit, path, filled=False)
    _fill(path, [
        [ind.id, "", "observed", 2024, 10.5, ind.unit, "survey", "", ""],        # good
        [ind.id, "", "observed", 2024, "ten", ind.unit, "survey", "", ""],       # bad number
        ["SDG-99.9.9", "", "observed", 2024, 1, ind.unit, "", "", ""],           # unknown indicator
        [ind.id, "", "observed", 2023, 3, "furlongs", "", "", ""],               # wrong unit
        [ind.id, "", "observed", 2024, 11, ind.unit, "survey", "", ""],          # duplicate of row 2
    ])
    with pytest.raises(SpreadsheetRowsError) as exc:
        import_values(kit, path)
    rows = [e.row for e in exc.value.errors]
    assert rows == [3, 4, 5, 6]
    msgs = [e.message() for e in exc.value.errors]
    assert "not a number" in msgs[0] and "Unknown indicator" in msgs[1] and "furlongs" in msgs[2]
    assert "Duplicate of row 2" in msgs[3]
    assert kit.indicator_values() == []


def test_text_file_is_not_a_spreadsheet(kit, tmp_path: Path):
    p = tmp_path / "data.xlsx"
    p.write_text("id,value\n1,2\n", encoding="utf-8")
    with pytest.raises(UserInputError) as exc:
        import_values(kit, p)
    assert "template" in exc.value.message("en")

"""Indicator data as a spreadsheet (openpyxl): export a template, import it back all-or-nothing.

Statistics offices work in spreadsheets; the kit gives them a template in the person's language
(column headings, indicator names, a reference sheet of units and disaggregation values), and reads
it back with one message per bad row. If any row is bad, nothing is stored.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import UserInputError, ValidationError
from app.fsutil import atomic_writer, require_existing_file
from app.i18n import N_, _, text_in
from app.model.service import VALUE_KINDS, Kit, disaggregation_key

TEMPLATE_FORMAT = "sdgkit-indicator-template/1"
COLUMNS = ("indicator_id", "indicator", "kind", "year", "value", "unit", "source", "disaggregation", "spatial_unit")
HEADINGS = {
    "indicator_id": N_("Indicator code"),
    "indicator": N_("Indicator"),
    "kind": N_("Kind (observed, baseline, target)"),
    "year": N_("Year"),
    "value": N_("Value"),
    "unit": N_("Unit"),
    "source": N_("Source"),
    "disaggregation": N_("Breakdown (dimension=value; ...)"),
    "spatial_unit": N_("Spatial unit"),
}


@dataclass
class RowError:
    row: int
    msgid: str
    params: dict[str, Any]

    def message(self) -> str:
        return _("Row {row}: {problem}", row=self.row, problem=_(self.msgid, **self.params))


class SpreadsheetRowsError(ValidationError):
    """Raised when an import has bad rows; ``errors`` lists them, nothing was stored."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(N_("{count} row(s) of the spreadsheet have problems; nothing was imported."),
                         count=len(errors))


def export_template(kit: Kit, path: Path, *, filled: bool = True, indicator_ids: list[str] | None = None) -> int:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    cat = kit.catalogue()
    wb = Workbook()
    ws = wb.active
    ws.title = "data"
    ws.append([_(HEADINGS[c]) for c in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ids = indicator_ids or list(cat.indicators)
    rows = 0
    if filled:
        for v in kit.indicator_values():
            if v["indicator_id"] not in ids:
                continue
            ind = cat.indicators.get(v["indicator_id"])
            ws.append([v["indicator_id"], text_in(ind.name) if ind else "", v["kind"], v["year"], v["value"],
                       v["unit"], v["source"], disaggregation_key(v["disaggregation"]), v["spatial_unit"]])
            rows += 1
    if rows == 0:
        for iid in ids:
            ind = cat.indicators[iid]
            ws.append([iid, text_in(ind.name), "observed", None, None, ind.unit, "", "", ""])
    dv = DataValidation(type="list", formula1='"' + ",".join(VALUE_KINDS) + '"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("C2:C5000")
    widths = (14, 60, 14, 8, 12, 16, 30, 34, 20)
    for col, w in zip("ABCDEFGHI", widths):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A2"

    ref = wb.create_sheet("reference")
    ref.append([_("Indicator code"), _("Indicator"), _("Unit"), _("Breakdown (dimension=value; ...)")])
    for iid in ids:
        ind = cat.indicators[iid]
        dims = "; ".join(f"{d}=" + "|".join(v["id"] for v in cat.dimensions.get(d, {}).get("values", ()))
                         for d in ind.disaggregation)
        ref.append([iid, text_in(ind.name), ind.unit, dims])
    meta = wb.create_sheet("meta")
    meta.append(["format", TEMPLATE_FORMAT])
    meta.append(["catalogue_version", cat.version])
    meta.sheet_state = "hidden"
    try:
        with atomic_writer(path) as fh:
            wb.save(fh)
    except OSError as exc:
        raise UserInputError(N_("Cannot write {path}: {detail}"), path=str(path), detail=exc.strerror or str(exc)) from exc
    return rows


def _parse_disaggregation(text: Any) -> dict[str, str]:
    if text in (None, ""):
        return {}
    out: dict[str, str] = {}
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(part)
        k, v = (x.strip() for x in part.split("=", 1))
        if not k or not v or k in out:
            raise ValueError(part)
        out[k] = v
    return out


def read_rows(kit: Kit, path: Path) -> list[dict[str, Any]]:
    """Read and validate every row; raise :class:`SpreadsheetRowsError` listing all bad rows."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    path = require_existing_file(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UserInputError(N_("{path} is not a spreadsheet made from the kit's template (.xlsx)."),
                             path=str(path)) from exc
    try:
        if "data" not in wb.sheetnames or "meta" not in wb.sheetnames:
            raise UserInputError(N_("{path} is not a spreadsheet made from the kit's template (.xlsx)."),
                                 path=str(path))
        meta = {r[0]: r[1] for r in wb["meta"].iter_rows(values_only=True) if r and r[0]}
        if meta.get("format") != TEMPLATE_FORMAT:
            raise UserInputError(N_("{path} is not a spreadsheet made from the kit's template (.xlsx)."),
                                 path=str(path))
        raw = list(wb["data"].iter_rows(min_row=2, values_only=True))
    finally:
        wb.close()

    cat = kit.catalogue()
    errors: list[RowError] = []
    rows: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    for n, cells in enumerate(raw, start=2):
        cells = tuple(cells) + (None,) * (len(COLUMNS) - len(cells))
        rec = dict(zip(COLUMNS, cells[: len(COLUMNS)]))
        if rec["value"] in (None, "") and rec["year"] in (None, ""):
            continue  # blank template line
        iid = str(rec["indicator_id"] or "").strip()
        if iid not in cat.indicators:
            errors.append(RowError(n, N_("Unknown indicator {indicator}."), {"indicator": iid or "?"}))
            continue
        value = rec["value"]
        if isinstance(value, str):
            try:
                value = float(value.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
            except ValueError:
                errors.append(RowError(n, N_("The value {value} is not a number."), {"value": rec["value"]}))
                continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(RowError(n, N_("The value {value} is not a number."), {"value": value}))
            continue
        year = rec["year"]
        try:
            year = int(str(year).strip()) if not isinstance(year, int) else year
        except ValueError:
            errors.append(RowError(n, N_("Enter a year between 1950 and 2100."), {}))
            continue
        kind = str(rec["kind"] or "observed").strip().lower()
        unit = str(rec["unit"] or cat.indicators[iid].unit).strip()
        try:
            dis = _parse_disaggregation(rec["disaggregation"])
        except ValueError as exc:
            errors.append(RowError(n, N_("The breakdown {text} is not in the form dimension=value; ..."),
                                   {"text": str(exc)}))
            continue
        spatial = str(rec["spatial_unit"] or "").strip()
        try:
            kit.validate_indicator_value(cat, iid, year=year, value=value, unit=unit, kind=kind, disaggregation=dis)
        except ValidationError as exc:
            errors.append(RowError(n, exc.msgid, exc.params))
            continue
        key = (iid, year, kind, disaggregation_key(dis), spatial)
        if key in seen:
            errors.append(RowError(n, N_("Duplicate of row {other}."), {"other": seen[key]}))
            continue
        seen[key] = n
        rows.append(dict(indicator_id=iid, year=year, value=float(value), unit=unit, kind=kind,
                         source=str(rec["source"] or "").strip(), disaggregation=dis, spatial_unit=spatial))
    if errors:
        raise SpreadsheetRowsError(errors)
    return rows


def import_values(kit: Kit, path: Path) -> int:
    rows = read_rows(kit, path)
    return kit.set_indicator_values(rows) if rows else 0

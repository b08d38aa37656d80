"""A realistic sample city for training and tests: stages A and B fully answered with evidence
and indicator values, C and D partly. Everything is generated from the framework data, so the
demo follows any change to the criteria."""

from __future__ import annotations

import struct
import zlib
from datetime import date
from pathlib import Path
from typing import Any

from app.i18n import text_in
from app.model.framework import Field, Requirement
from app.model.service import Kit

CITY = {"name": "Amani (demo city)", "country": "KE", "population_band": "250k-1m", "languages": ["en", "fr"]}

NARRATIVE = (
    "Amani's planning department led this work with the county statistics office and three universities. "
    "Ward forums were held in all 14 wards, including the informal settlements of Kisima and Mji Mpya, with "
    "sessions for women's groups, youth councils, older persons and organisations of persons with disabilities. "
    "The results were published on the city website and read out on community radio in two languages."
)


def _text_for(req: Requirement, fld: Field) -> str:
    title = text_in(req.title, "en")
    label = text_in(fld.label, "en")
    text = f"{title} - {label}: {NARRATIVE}"
    if fld.min_length and len(text) < fld.min_length:
        text = (text + " ") * (fld.min_length // len(text) + 1)
    if fld.max_length:
        text = text[: fld.max_length]
    return text.strip()


def value_for(req: Requirement, fld: Field, row: int = 0) -> Any:
    t = fld.type
    if t == "text":
        return _text_for(req, fld) if fld.multiline or (fld.min_length or 0) > 40 else f"{text_in(fld.label, 'en')} {row + 1}"[: fld.max_length or 200]
    if t == "yes_no":
        return True
    if t == "single_choice":
        return fld.options[0].id
    if t == "multiple_choice":
        return [o.id for o in fld.options[: max(1, min(3, len(fld.options)))]]
    if t == "number":
        lo = fld.min if fld.min is not None else 0
        hi = fld.max if fld.max is not None else lo + 1000
        v = lo + (hi - lo) * 0.6
        return int(v) if fld.integer else round(v, 2)
    if t == "date":
        return date(2025, 3, 14 + row % 10).isoformat()
    if t == "table":
        n = max(fld.min_rows, 2)
        return [{c.id: value_for(req, c, i) for c in fld.columns} for i in range(n)]
    raise ValueError(t)


def answer_requirement(kit: Kit, req: Requirement) -> None:
    values = {f.id: value_for(req, f) for f in req.fields}
    kit.set_answers(req.stage_id, req.id, values)


# -- sample evidence files ------------------------------------------------------------------

def make_pdf(title: str) -> bytes:
    """A small valid one-page PDF with a title line (hand-built, no reportlab needed)."""
    safe = title.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 16 Tf 56 780 Td (" + safe + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_png(width: int, height: int, seed: int) -> bytes:
    """A small valid PNG: a coloured gradient (stands in for a site photo or a map)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 3 + seed * 40) % 256, (y * 2 + seed * 17) % 256, (x + y + seed * 90) % 256))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def sample_file(folder: Path, req: Requirement, kind: str, extensions: tuple[str, ...], n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{req.id.replace('.', '-')}-{kind}-{n + 1}"
    title = f"Amani demo city - {text_in(req.title, 'en')} ({kind} {n + 1})"
    if not extensions or ".pdf" in extensions:
        p = folder / f"{base}.pdf"
        p.write_bytes(make_pdf(title))
    elif ".png" in extensions or ".jpg" in extensions:
        p = folder / f"{base}.png"
        p.write_bytes(make_png(64, 48, n + len(req.id)))
    elif ".csv" in extensions:
        p = folder / f"{base}.csv"
        p.write_text("ward,households,informal\nKisima,4200,yes\nMji Mpya,3900,yes\nCentral,6100,no\n",
                     encoding="utf-8")
    else:
        ext = extensions[0]
        p = folder / f"{base}{ext}"
        p.write_text(title + "\n", encoding="utf-8")
    return p


def attach_evidence(kit: Kit, req: Requirement, folder: Path) -> int:
    count = 0
    for e in req.evidence:
        kind = kit.framework.evidence_kinds.get(e.kind)
        exts = kind.extensions if kind else ()
        for i in range(max(e.min, 1)):
            kit.attach_evidence(req.stage_id, req.id, sample_file(folder, req, e.kind, exts, i), kind=e.kind)
            count += 1
    return count


def indicator_values(kit: Kit, indicator_ids: list[str]) -> int:
    cat = kit.catalogue()
    rows = []
    for n, iid in enumerate(indicator_ids):
        ind = cat.get(iid)
        base = 20.0 + 7 * n
        better_up = ind.direction == "higher_is_better"
        if ind.unit == "yes_no":  # a city-level yes/no indicator: 0 at baseline, 1 now and as target
            for year, value, kind, source in ((2022, 0, "baseline", "Amani council records 2022"),
                                              (2024, 1, "observed", "Amani council records 2024"),
                                              (2030, 1, "target", "Amani 2030 strategic framework")):
                rows.append(dict(indicator_id=iid, year=year, value=value, kind=kind, source=source))
            continue
        rows.append(dict(indicator_id=iid, year=2022, value=base, kind="baseline",
                         source="Amani household survey 2022"))
        rows.append(dict(indicator_id=iid, year=2024, value=round(base * (1.1 if better_up else 0.9), 2), kind="observed",
                         source="Amani household survey 2024"))
        rows.append(dict(indicator_id=iid, year=2030, value=round(base * (1.5 if better_up else 0.5), 2), kind="target",
                         source="Amani 2030 strategic framework"))
        if "sex" in ind.disaggregation:
            sex_values = [v["id"] for v in cat.dimensions["sex"].get("values", ())][:2]
            for j, sv in enumerate(sex_values):
                rows.append(dict(indicator_id=iid, year=2024, value=round(base * (1.0 + 0.05 * (j + 1)), 2), kind="observed",
                                 source="Amani household survey 2024", disaggregation={"sex": sv}))
    return kit.set_indicator_values(rows)


def create_demo(kit: Kit, workdir: Path) -> dict[str, Any]:
    """Fill ``kit`` with the demo city. ``workdir`` receives the generated evidence source files."""
    fw = kit.framework
    kit.init_profile(**CITY, target_level=fw.stage_levels.get("B"))
    linked: list[str] = []
    evidence = 0
    for st in fw.stages:
        reqs = list(st.requirements())
        full = st.id in ("A", "B")
        chosen = reqs if full else reqs[: max(1, len(reqs) // 2)]
        for req in chosen:
            answer_requirement(kit, req)
            evidence += attach_evidence(kit, req, workdir / "evidence-sources")
            linked += [i for i in req.indicators if i not in linked]
        kit.set_current(st.id, chosen[-1].id)
    cat = kit.catalogue()
    values = indicator_values(kit, [i for i in linked if i in cat.indicators])
    return {"city": CITY["name"], "evidence_files": evidence, "indicator_values": values,
            "status": {sid: s.state for sid, s in kit.status().items()}}

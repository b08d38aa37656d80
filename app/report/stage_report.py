"""The technical panel's stage report, as JSON and as PDF in any of the six languages.

Contents (paras 22-25 of the mission): cover (city, stage, level sought, panel, date, framework
version, bundle fingerprint), table of contents, summary of criteria met, findings per criterion,
the gaps to close with recommended actions and tools that help, the indicator baseline table with
charts, and the fingerprint of the panel's signing key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.i18n import N_, is_rtl, text_in, translate
from app.model.framework import Framework
from app.resources import resource

VERDICTS = ("met", "not_met", "needs_information")
VERDICT_LABELS = {
    "met": N_("Met"),
    "not_met": N_("Not met"),
    "needs_information": N_("Needs information"),
    "pending": N_("Not reviewed"),
}
RECOMMENDATIONS = {"award": N_("Award"), "defer": N_("Defer"), "decline": N_("Decline")}


@dataclass
class ReportInput:
    framework: Framework
    stage: str
    city: dict[str, Any]
    panel: dict[str, Any]
    bundle: dict[str, Any]
    answers: dict[str, dict[str, Any]]
    indicator_values: list[dict[str, Any]]
    verdicts: dict[str, dict[str, Any]]  # requirement id -> {"verdict", "comment"}
    signer_fingerprint: str = ""
    recommendation: str | None = None
    report_date: str = field(default_factory=lambda: date.today().isoformat())


def criterion_verdict(verdicts: list[str]) -> str:
    if not verdicts or any(v == "pending" for v in verdicts):
        return "pending" if not any(v == "not_met" for v in verdicts) else "not_met"
    if any(v == "not_met" for v in verdicts):
        return "not_met"
    if any(v == "needs_information" for v in verdicts):
        return "needs_information"
    return "met"


def load_tools() -> list[dict[str, Any]]:
    p = resource("tools", "tools.json")
    if not p.exists():
        return []
    return json.loads(p.read_text(encoding="utf-8")).get("tools", [])


def tools_for(criterion_id: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tools if criterion_id in t.get("criteria", ())]


def _indicator_summary(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Baseline, latest observed and target per indicator (totals only, no breakdown)."""
    by: dict[str, dict[str, Any]] = {}
    for v in values:
        if v.get("disaggregation"):
            continue
        row = by.setdefault(v["indicator_id"], {"indicator": v["indicator_id"], "unit": v["unit"],
                                                "baseline": None, "latest": None, "target": None})
        kind, year = v["kind"], v["year"]
        slot = "latest" if kind == "observed" else kind
        cur = row[slot]
        if cur is None or (slot == "latest" and year > cur["year"]) or (slot == "baseline" and year < cur["year"]):
            row[slot] = {"year": year, "value": v["value"]}
    return [by[k] for k in sorted(by)]


def report_data(inp: ReportInput) -> dict[str, Any]:
    """The report as data (the JSON form); the PDF is rendered from the same structure."""
    fw = inp.framework
    st = fw.stage(inp.stage)
    tools = load_tools()
    criteria = []
    gaps = []
    for c in st.criteria:
        reqs = []
        for r in c.requirements:
            v = inp.verdicts.get(r.id, {})
            verdict = v.get("verdict", "pending")
            reqs.append({"id": r.id, "title": r.title, "mandatory": r.mandatory, "verdict": verdict,
                         "comment": v.get("comment", ""), "members": v.get("members", {})})
            if r.mandatory and verdict in ("not_met", "needs_information", "pending"):
                gaps.append({"requirement": r.id, "criterion": c.id, "title": r.title, "verdict": verdict,
                             "action": v.get("comment", ""),
                             "tools": [{"id": t["id"], "title": t["title"], "url": t.get("url", "")}
                                       for t in tools_for(c.id, tools)][:4]})
        cv = criterion_verdict([x["verdict"] for x in reqs if x["mandatory"]])
        criteria.append({"id": c.id, "title": c.title, "verdict": cv, "requirements": reqs})
    met = sum(1 for c in criteria if c["verdict"] == "met")
    level = fw.level_for_stage(st.id)
    return {
        "format": "sdgkit-stage-report", "format_version": 1,
        "city": inp.city, "stage": st.id, "stage_title": st.title,
        "level_sought": {"id": level.id, "name": level.name} if level else None,
        "panel": inp.panel, "date": inp.report_date, "framework": fw.label,
        "bundle": inp.bundle, "summary": {"criteria_met": met, "criteria_total": len(criteria)},
        "criteria": criteria, "gaps": gaps, "indicators": _indicator_summary(inp.indicator_values),
        "recommendation": inp.recommendation, "signer_fingerprint": inp.signer_fingerprint,
    }


def report_json(inp: ReportInput) -> bytes:
    return json.dumps(report_data(inp), ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def report_pdf(inp: ReportInput, lang: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Spacer, Table, TableStyle

    from app.report.pdf import (DocInfo, bar_chart, build_pdf, cell, heading, ltr_isolate, make_styles, para,
                                text_isolate, toc_table)

    data = report_data(inp)
    styles = make_styles(lang)
    rtl = is_rtl(lang)
    width = A4[0] - 36 * mm

    def t(msgid: str, **kw: Any) -> str:
        text = translate(msgid, lang)
        return text.format(**kw) if kw else text

    def code(s: str) -> str:
        return ltr_isolate(s) if rtl else s

    def own(s: str) -> str:  # a person's text (a name, a comment): its own direction inside Arabic
        return text_isolate(s) if rtl and s else s

    def table(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
        if rtl:
            rows = [list(reversed(r)) for r in rows]
            widths = list(reversed(widths))
        tb = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b0b7bf")),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf2")))
        tb.setStyle(TableStyle(style))
        return tb

    verdict_tint = {"met": "#e3f1e4", "not_met": "#f9e0e0", "needs_information": "#fdebd6", "pending": "#eeeeee"}
    stage_title = text_in(data["stage_title"], lang)
    title = t(N_("Stage {stage} report: {title}"), stage=data["stage"], title=stage_title)
    level_name = text_in(data["level_sought"]["name"], lang) if data["level_sought"] else ""

    def story(entries: list[tuple[int, str, str, int]]) -> list[Any]:
        s: list[Any] = []
        s.append(para(t(N_("SDG Cities certification")), styles.h2, lang))
        s.append(para(title, styles.title, lang))
        cover = [
            [cell(t(N_("City")), styles, True), cell(f"{own(data['city'].get('name', ''))} {code('(' + data['city'].get('country', '') + ')')}", styles)],
            [cell(t(N_("Stage")), styles, True), cell(f"{code(data['stage'])} - {stage_title}", styles)],
            [cell(t(N_("Level sought")), styles, True), cell(level_name, styles)],
            [cell(t(N_("Technical panel")), styles, True), cell(own(str(data["panel"].get("name", ""))), styles)],
            [cell(t(N_("Date")), styles, True), cell(code(data["date"]), styles)],
            [cell(t(N_("Framework version")), styles, True), cell(code(data["framework"]), styles)],
            [cell(t(N_("Bundle")), styles, True),
             cell(code(f"{data['bundle'].get('bundle_id', '')} r{data['bundle'].get('revision', '')}"), styles)],
            [cell(t(N_("Bundle fingerprint")), styles, True), cell(code(data["bundle"].get("fingerprint", "")), styles)],
        ]
        s.append(table(cover, [45 * mm, width - 45 * mm], header=False))
        s.append(Spacer(1, 6 * mm))
        s += toc_table(entries, styles, t(N_("Contents")), width)
        s.append(PageBreak())

        s.append(heading(t(N_("Summary")), 1, styles, "summary"))
        s.append(para(t(N_("{met} of {total} criteria are met."), met=data["summary"]["criteria_met"],
                        total=data["summary"]["criteria_total"]), styles.body, lang))
        rows = [[cell(t(N_("Criterion")), styles, True), cell(t(N_("Title")), styles, True),
                 cell(t(N_("Verdict")), styles, True)]]
        for c in data["criteria"]:
            rows.append([cell(code(c["id"]), styles), cell(text_in(c["title"], lang), styles),
                         cell(t(VERDICT_LABELS[c["verdict"]]), styles, True)])
        tb = table(rows, [22 * mm, width - 62 * mm, 40 * mm])
        col = 0 if rtl else 2  # the verdict column, mirrored in Arabic
        tb.setStyle(TableStyle([("BACKGROUND", (col, i), (col, i), colors.HexColor(verdict_tint[c["verdict"]]))
                                for i, c in enumerate(data["criteria"], start=1)]))
        s.append(tb)
        if data["recommendation"]:
            s.append(Spacer(1, 4 * mm))
            s.append(para(t(N_("Panel recommendation: {recommendation}"),
                            recommendation=t(RECOMMENDATIONS[data["recommendation"]])), styles.h2, lang))

        s.append(heading(t(N_("Findings per criterion")), 1, styles, "findings"))
        for c in data["criteria"]:
            s.append(heading(f"{code(c['id'])}  {text_in(c['title'], lang)}", 2, styles, f"crit-{c['id']}"))
            for r in c["requirements"]:
                line = f"{code(r['id'])}  {text_in(r['title'], lang)}: {t(VERDICT_LABELS[r['verdict']])}"
                s.append(para(line, styles.body, lang))
                if r["comment"]:
                    s.append(para(own(r["comment"]), styles.small, lang))

        s.append(heading(t(N_("Gaps to close and recommended actions")), 1, styles, "gaps"))
        if not data["gaps"]:
            s.append(para(t(N_("No gaps: every mandatory requirement is met.")), styles.body, lang))
        for g in data["gaps"]:
            s.append(para(f"{code(g['requirement'])}  {text_in(g['title'], lang)} ({t(VERDICT_LABELS[g['verdict']])})",
                          styles.h2, lang))
            if g["action"]:
                s.append(para(t(N_("Recommended action: {action}"), action=own(g["action"])), styles.body, lang))
            for tool in g["tools"]:
                s.append(para(t(N_("Tool that helps: {tool}"), tool=text_in(tool["title"], lang))
                              + (f"  {code(tool['url'])}" if tool["url"] else ""), styles.small, lang))

        s.append(heading(t(N_("Indicator baseline")), 1, styles, "indicators"))
        if not data["indicators"]:
            s.append(para(t(N_("No indicator values were submitted for this stage.")), styles.body, lang))
        else:
            rows = [[cell(t(N_("Indicator")), styles, True), cell(t(N_("Unit")), styles, True),
                     cell(t(N_("Baseline")), styles, True), cell(t(N_("Latest")), styles, True),
                     cell(t(N_("Target")), styles, True)]]

            def fmt(x: dict[str, Any] | None) -> str:
                return code(f"{x['value']:g} ({x['year']})") if x else "-"

            for ind in data["indicators"]:
                rows.append([cell(code(ind["indicator"]), styles), cell(ind["unit"], styles),
                             cell(fmt(ind["baseline"]), styles), cell(fmt(ind["latest"]), styles),
                             cell(fmt(ind["target"]), styles)])
            s.append(table(rows, [40 * mm, 34 * mm, (width - 74 * mm) / 3, (width - 74 * mm) / 3,
                                  (width - 74 * mm) / 3]))
            for ind in data["indicators"][:12]:
                series = [(f"{x['year']}", x["value"]) for x in (ind["baseline"], ind["latest"], ind["target"]) if x]
                s.append(Spacer(1, 3 * mm))
                s.append(para(code(ind["indicator"]), styles.small, lang))
                s.append(bar_chart(series, width=width * 0.6, height=90))

        s.append(heading(t(N_("Signature")), 1, styles, "signature"))
        s.append(para(t(N_("This report is signed by the technical panel. Signing key fingerprint: {fingerprint}"),
                        fingerprint=code(data["signer_fingerprint"] or "-")), styles.body, lang))
        return s

    info = DocInfo(title=title, lang=lang, subject=data["framework"],
                   footer_left=f"{data['city'].get('name', '')} - {data['stage']}")
    return build_pdf(story, info)

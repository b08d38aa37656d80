"""``sdgkit`` commands over the assessment core: init, status, answer, evidence, indicators,
audit, check, demo, framework, prepare-removal, restore-backup."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.common import data_dir, open_kit, print_json
from app.errors import UserInputError
from app.i18n import N_, _, text_in


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("init", help=_("Create the city's store and profile"))
    p.add_argument("--city", required=True, help=_("city name"))
    p.add_argument("--country", required=True, help=_("two-letter ISO country code"))
    p.add_argument("--population", default="250k-1m", help="<50k | 50k-250k | 250k-1m | 1m-5m | >5m")
    p.add_argument("--languages", default="en", help=_("comma-separated language codes"))
    p.add_argument("--mechanism", default="global", choices=("global", "national"))
    p.add_argument("--overlay", help=_("national overlay id"))
    p.add_argument("--target-level", help=_("level the city aims for"))
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help=_("Show completeness per stage"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--stage")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("answer", help=_("Set or show an answer to a requirement"))
    asub = p.add_subparsers(dest="answer_cmd", required=True)
    q = asub.add_parser("set")
    q.add_argument("--stage", required=True)
    q.add_argument("requirement")
    q.add_argument("field")
    q.add_argument("value", help=_("the value as JSON (text in quotes: '\"text\"'), or @file.json"))
    q.set_defaults(func=cmd_answer_set)
    q = asub.add_parser("show")
    q.add_argument("--stage", required=True)
    q.add_argument("requirement", nargs="?")
    q.set_defaults(func=cmd_answer_show)

    p = sub.add_parser("evidence", help=_("Attach and list evidence files"))
    esub = p.add_subparsers(dest="evidence_cmd", required=True)
    q = esub.add_parser("add")
    q.add_argument("--stage", required=True)
    q.add_argument("--requirement", required=True)
    q.add_argument("--kind")
    q.add_argument("--note", default="")
    q.add_argument("files", nargs="+")
    q.set_defaults(func=cmd_evidence_add)
    q = esub.add_parser("list")
    q.add_argument("--stage")
    q.add_argument("--requirement")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_evidence_list)
    q = esub.add_parser("remove")
    q.add_argument("id", type=int)
    q.set_defaults(func=cmd_evidence_remove)

    p = sub.add_parser("indicators", help=_("Export and import indicator data as a spreadsheet"))
    isub = p.add_subparsers(dest="indicators_cmd", required=True)
    q = isub.add_parser("export")
    q.add_argument("path")
    q.add_argument("--blank", action="store_true", help=_("a blank template instead of the stored values"))
    q.add_argument("--stage", help=_("only the indicators linked to this stage"))
    q.set_defaults(func=cmd_indicators_export)
    q = isub.add_parser("import")
    q.add_argument("path")
    q.set_defaults(func=cmd_indicators_import)
    q = isub.add_parser("list")
    q.add_argument("--json", action="store_true")
    q.add_argument("--values", action="store_true")
    q.set_defaults(func=cmd_indicators_list)

    p = sub.add_parser("audit", help=_("Check the tamper-evident audit log"))
    asub = p.add_subparsers(dest="audit_cmd", required=True)
    q = asub.add_parser("verify")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_audit_verify)

    p = sub.add_parser("check", help=_("Check the store and evidence files for damage"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help=_("Create a realistic sample city for training and tests"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("framework", help=_("Validate and show the certification framework"))
    fsub = p.add_subparsers(dest="framework_cmd", required=True)
    q = fsub.add_parser("validate")
    q.add_argument("--overlay")
    q.add_argument("--overlay-file")
    q.set_defaults(func=cmd_framework_validate)
    q = fsub.add_parser("show")
    q.add_argument("--stage")
    q.add_argument("--overlay")
    q.set_defaults(func=cmd_framework_show)

    p = sub.add_parser("prepare-removal", help=_("Make the data safe to unplug the stick"))
    p.set_defaults(func=cmd_prepare_removal)

    p = sub.add_parser("restore-backup", help=_("Restore the store from its latest backup"))
    p.set_defaults(func=cmd_restore_backup)


# -- handlers ----------------------------------------------------------------------------------

def cmd_init(args: Any) -> int:
    with open_kit(args) as kit:
        prof = kit.init_profile(name=args.city, country=args.country, population_band=args.population,
                                languages=[x.strip() for x in args.languages.split(",") if x.strip()],
                                mechanism=args.mechanism, overlay_id=args.overlay, target_level=args.target_level)
        print(_("City profile saved for {city} in {path}.", city=prof.name, path=str(kit.layout.root)))
    return 0


def cmd_status(args: Any) -> int:
    with open_kit(args) as kit:
        prof = kit.require_profile()
        fw = kit.framework
        stages = [fw.stage(args.stage)] if args.stage else list(fw.stages)
        result = {st.id: kit.completeness(st.id) for st in stages}
        if args.json:
            print_json({"city": prof.name, "framework": fw.label,
                        "stages": {sid: s.as_dict(fw) for sid, s in result.items()}})
            return 0
        print(_("{city} - framework {framework}", city=prof.name, framework=fw.label))
        states = {"complete": _("complete"), "partial": _("in progress"), "not_started": _("not started")}
        for sid, s in result.items():
            print(_("Stage {stage} ({level}): {state}, {done} of {total} requirements complete",
                    stage=sid, level=fw.level_name(sid), state=states[s.state], done=s.complete_count,
                    total=s.total))
            if args.stage:
                for m in (m for r in s.mandatory for m in r.missing):
                    print(f"  {m.requirement_id}{'/' + m.field_id if m.field_id else ''}: {_(m.msgid, **m.params)}")
    return 0


def _parse_value(text: str) -> Any:
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return text  # plain text answers need no quotes


def cmd_answer_set(args: Any) -> int:
    with open_kit(args) as kit:
        changed = kit.set_answer(args.stage, args.requirement, args.field, _parse_value(args.value))
        print(_("Saved.") if changed else _("No change."))
    return 0


def cmd_answer_show(args: Any) -> int:
    with open_kit(args) as kit:
        ans = kit.answers(args.stage)
        print_json(ans.get(args.requirement, {}) if args.requirement else ans)
    return 0


def cmd_evidence_add(args: Any) -> int:
    with open_kit(args) as kit:
        for f in args.files:
            info = kit.attach_evidence(args.stage, args.requirement, Path(f), kind=args.kind, note=args.note)
            print(_("Attached {name} ({size} bytes) as number {id}.", name=info.name, size=info.size, id=info.id))
    return 0


def cmd_evidence_list(args: Any) -> int:
    with open_kit(args) as kit:
        items = kit.list_evidence(args.stage, args.requirement)
        if args.json:
            print_json([{"id": e.id, "stage": e.stage, "requirement": e.requirement_id, "kind": e.kind,
                         "name": e.name, "sha256": e.sha256, "size": e.size, "mime": e.mime,
                         "added_at": e.added_at} for e in items])
            return 0
        for e in items:
            print(f"{e.id:5d}  {e.stage}  {e.requirement_id:10s} {e.kind:16s} {e.size:>10d}  {e.name}")
        print(_("{count} file(s).", count=len(items)))
    return 0


def cmd_evidence_remove(args: Any) -> int:
    with open_kit(args) as kit:
        kit.remove_evidence(args.id)
        print(_("Removed."))
    return 0


def cmd_indicators_export(args: Any) -> int:
    from app.model.spreadsheet import export_template

    with open_kit(args) as kit:
        ids = None
        if args.stage:
            ids = []
            for r in kit.framework.stage(args.stage).requirements():
                ids += [i for i in r.indicators if i not in ids]
        rows = export_template(kit, Path(args.path), filled=not args.blank, indicator_ids=ids)
        print(_("Wrote {path} with {count} value(s).", path=args.path, count=rows))
    return 0


def cmd_indicators_import(args: Any) -> int:
    import sys

    from app.model.spreadsheet import SpreadsheetRowsError, import_values

    with open_kit(args) as kit:
        try:
            n = import_values(kit, Path(args.path))
        except SpreadsheetRowsError as exc:
            for e in exc.errors:
                print(e.message(), file=sys.stderr)
            raise
        print(_("Imported {count} value(s).", count=n))
    return 0


def cmd_indicators_list(args: Any) -> int:
    with open_kit(args) as kit:
        if args.values:
            vals = kit.indicator_values()
            if args.json:
                print_json(vals)
            else:
                for v in vals:
                    print(f"{v['indicator_id']:12s} {v['kind']:9s} {v['year']}  {v['value']:>12g} {v['unit']}")
            return 0
        cat = kit.catalogue()
        if args.json:
            print_json([{"id": i.id, "name": text_in(i.name), "unit": i.unit, "domain": i.domain,
                         "objective": i.objective, "verification": i.verification} for i in cat.indicators.values()])
        else:
            for i in cat.indicators.values():
                print(f"{i.id:14s} {i.unit:14s} {text_in(i.name)}")
    return 0


def cmd_audit_verify(args: Any) -> int:
    with open_kit(args) as kit:
        rep = kit.audit_verify()
    if args.json:
        print_json({"ok": rep.ok, "entries": rep.entries, "head": rep.head, "first_bad": rep.first_bad})
    elif rep.ok:
        print(_("Audit log intact: {count} entries, head {head}.", count=rep.entries, head=rep.head[:16]))
    else:
        print(_("Audit log broken at entry {seq}: entries were changed or removed.", seq=rep.first_bad))
    return 0 if rep.ok else 4


def cmd_check(args: Any) -> int:
    with open_kit(args) as kit:
        rep = kit.check()
    if args.json:
        print_json(rep)
    else:
        print(_("Database: {state}", state=_("ok") if rep["database_ok"] else "; ".join(rep["database"][:5])))
        print(_("Audit log: {state}", state=_("ok") if rep["audit_ok"] else _("broken at entry {seq}", seq=rep["audit_first_bad"])))
        print(_("Evidence files: {count} checked, {bad} damaged or missing", count=rep["evidence_files"],
                bad=len(rep["evidence_bad"])))
    return 0 if rep["ok"] else 4


def cmd_demo(args: Any) -> int:
    from app.model.demo import create_demo

    with open_kit(args) as kit:
        if kit.profile() is not None:
            raise UserInputError(N_("The data folder {path} already holds a city. Use an empty folder for the demo."),
                                 path=str(kit.layout.root))
        result = create_demo(kit, kit.layout.root / "demo")
        extra = _demo_trust(kit)
        result.update(extra)
        result["data"] = str(kit.layout.root)
    if args.json:
        print_json(result)
    else:
        print(_("Demo city created in {path}: {files} evidence files, {values} indicator values.",
                path=result["data"], files=result["evidence_files"], values=result["indicator_values"]))
        for k, v in extra.items():
            print(f"  {k}: {v}")
    return 0


def _demo_trust(kit: Any) -> dict[str, Any]:
    """Demo keys and trust pack, when the bundle layer provides them."""
    try:
        from app.bundle.demo_trust import create_demo_trust
    except ImportError:
        return {}
    return create_demo_trust(kit)


def cmd_framework_validate(args: Any) -> int:
    from app.model.framework import apply_overlay, build, check_in_full, load_framework, load_overlay_file, load_raw

    check_in_full()  # this command is the check: no file is let through on the record of an earlier one
    if args.overlay_file:
        meta, stages = load_raw()
        p = Path(args.overlay_file)
        ov = load_overlay_file(p)
        fw = build(*apply_overlay(meta, stages, ov, p), ov)
    else:
        fw = load_framework(args.overlay)
    n = sum(1 for s in fw.stages for _r in s.requirements())
    print(_("Framework {framework} is valid: {stages} stages, {requirements} requirements.",
            framework=fw.label, stages=len(fw.stages), requirements=n))
    return 0


def cmd_framework_show(args: Any) -> int:
    from app.model.framework import load_framework

    fw = load_framework(args.overlay)
    for st in ([fw.stage(args.stage)] if args.stage else fw.stages):
        print(f"{st.id}  {text_in(st.title)}  [{fw.level_name(st.id)}]")
        for c in st.criteria:
            print(f"  {c.id}  {text_in(c.title)}")
            for r in c.requirements:
                flag = "" if r.mandatory else _(" (optional)")
                print(f"    {r.id}  {text_in(r.title)}{flag}")
    return 0


def cmd_prepare_removal(args: Any) -> int:
    with open_kit(args) as kit:
        kit.prepare_for_removal()
    print(_("All data is written. Close the kit, then remove the stick."))
    return 0


def cmd_restore_backup(args: Any) -> int:
    from app.model.db import restore_latest_backup
    from app.model.lock import DataLock
    from app.model.paths import DataLayout

    layout = DataLayout(data_dir(args))
    with DataLock(layout.lock):
        used = restore_latest_backup(layout)
    print(_("Restored the store from {backup}. The damaged file was kept beside it.", backup=used.name))
    return 0

"""``sdgkit panel ...`` (a technical panel member) and ``sdgkit feedback import`` (the city)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.common import TerminalProgress, data_dir, open_kit, print_json
from app.errors import KitError
from app.i18n import LANGUAGES, N_, _, text_in


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("panel", help=_("Import, review and report on bundles as a technical panel"))
    ps = p.add_subparsers(dest="panel_command", metavar="ACTION", required=True)

    def identity(q: argparse.ArgumentParser, required: bool = True) -> None:
        q.add_argument("--identity", required=required, metavar="FILE", help=_("the panel member's key file"))
        q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))

    q = ps.add_parser("import", help=_("Verify and decrypt bundles into this workspace"))
    q.add_argument("path", nargs="+", help=_("bundle folder(s), or a folder holding bundles"))
    identity(q)
    q.add_argument("--trust", metavar="DIR", help=_("trust pack folder to check enrolments against"))
    q.add_argument("--demo", action="store_true", help=_("accept demo trust files (training only)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_import)

    q = ps.add_parser("list", help=_("List the imported bundles"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_list)

    q = ps.add_parser("show", help=_("Show a bundle's answers and verdicts, requirement by requirement"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_show)

    q = ps.add_parser("changes", help=_("Show what changed since the previous revision"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_changes)

    q = ps.add_parser("verdict", help=_("Record a verdict on a requirement"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("requirement", help=_("requirement code, for example B.a.1"))
    q.add_argument("verdict", choices=("met", "not_met", "needs_information"))
    q.add_argument("--comment", default="", help=_("what the city should know or do"))
    q.add_argument("--settle", action="store_true", help=_("record the settled panel verdict"))
    identity(q, required=False)
    q.set_defaults(func=cmd_verdict)

    q = ps.add_parser("report", help=_("Write the stage report as PDF and JSON"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("--out", required=True, metavar="DIR", help=_("folder to write the report in"))
    q.add_argument("--lang", dest="languages", action="append", choices=LANGUAGES,
                   help=_("language of the PDF (repeat for several; default: English)"))
    q.add_argument("--recommend", choices=("award", "defer", "decline"), help=_("the panel's recommendation"))
    identity(q)
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_report)

    q = ps.add_parser("results", help=_("Seal the review results for the city"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("--out", required=True, metavar="DIR", help=_("folder to write the results bundle in"))
    q.add_argument("--lang", dest="languages", action="append", choices=LANGUAGES,
                   help=_("language of the PDF (repeat for several; default: English)"))
    q.add_argument("--recommend", choices=("award", "defer", "decline"), help=_("the panel's recommendation"))
    identity(q)
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_results)

    q = ps.add_parser("board", help=_("Write the signed recommendation and report for the board"))
    q.add_argument("bundle", help=_("bundle id (the first characters are enough)"))
    q.add_argument("--recommend", required=True, choices=("award", "defer", "decline"),
                   help=_("the panel's recommendation"))
    q.add_argument("--out", required=True, metavar="DIR", help=_("folder to write the hand-off in"))
    q.add_argument("--lang", dest="languages", action="append", choices=LANGUAGES,
                   help=_("language of the PDF (repeat for several; default: English)"))
    identity(q)
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_board)

    f = sub.add_parser("feedback", help=_("Import the panel's review results for this city"))
    fs = f.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    q = fs.add_parser("import", help=_("Check and import a review-results bundle"))
    q.add_argument("path", nargs="+", help=_("results bundle folder(s), or a folder holding them (the mailbox)"))
    q.add_argument("--key-file", help=_("the city's key file (default: keys/city.key in the data folder)"))
    q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_feedback_import)
    q = fs.add_parser("show", help=_("Show the verdicts received for a stage"))
    q.add_argument("--stage", required=True, help=_("stage: A, B, C or D"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_feedback_show)


def _workspace(args: Any) -> Any:
    from app.review.workspace import PanelWorkspace

    return PanelWorkspace(data_dir(args))


def _member(args: Any) -> Any:
    from app.cli.bundle_cmd import _keyset

    return _keyset(args, Path(args.identity))


def cmd_import(args: Any) -> int:
    from app.bundle.bundle import find_bundles

    member = _member(args)
    paths = [b for p in args.path for b in (find_bundles(Path(p)) or [Path(p)])]
    results, worst = [], 0
    with _workspace(args) as ws:
        for p in paths:
            try:
                r = ws.import_bundle(p, member, trust_dir=Path(args.trust) if args.trust else None, demo=args.demo,
                                     progress=TerminalProgress(N_("Importing")))
                results.append({"ok": True, "path": str(p), "bundle_id": r.bundle_id, "state": r.state,
                                "stage": r.stage, "revision": r.revision, "city": r.city_name,
                                "opened": str(r.opened), "previous": r.previous_bundle_id})
                if not args.json:
                    for step, params in r.steps:
                        print("  ✓ " + _(step, **params))
                    label = {"new": _("imported"), "newer": _("imported as a new revision"),
                             "same": _("already imported")}[r.state]
                    print(_("{path}: {city}, stage {stage}, revision {revision}: {state}.", path=p.name,
                            city=r.city_name, stage=r.stage, revision=r.revision, state=label))
            except KitError as exc:
                worst = max(worst, exc.exit_code)
                results.append({"ok": False, "path": str(p), "error": exc.message(), "code": exc.code})
                if not args.json:
                    print(_("NOT IMPORTED: {path} - {error}", path=p.name, error=exc.message()))
    if args.json:
        print_json(results[0] if len(results) == 1 else results)
    return worst


def cmd_list(args: Any) -> int:
    with _workspace(args) as ws:
        rows = ws.submissions()
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['bundle_id'][:8]}  {r['city']:30s} {r['stage']}  r{r['revision']}  {r['imported_at']}")
    return 0


def cmd_show(args: Any) -> int:
    with _workspace(args) as ws:
        doc = ws.submission(args.bundle)
        fw = ws.framework_for(doc)
        verdicts = ws.verdicts(args.bundle)
    stage = fw.stage(doc["bundle"]["stage"])
    answers = doc["content"].get("answers", {})
    if args.json:
        print_json({"bundle": doc["bundle"], "answers": answers, "verdicts": verdicts, "files": doc["files"]})
        return 0
    for c in stage.criteria:
        print(f"{c.id}  {text_in(c.title)}")
        for r in c.requirements:
            v = verdicts.get(r.id, {}).get("verdict", "pending")
            n_files = sum(1 for f in doc["files"] if f.get("requirement") == r.id)
            print(f"  {r.id:8s} {text_in(r.title)[:60]:60s} {v:18s} " + _("{count} file(s)", count=n_files))
            for fid, value in answers.get(r.id, {}).items():
                print(f"      {fid}: {json.dumps(value, ensure_ascii=False)[:100]}")
    return 0


def cmd_changes(args: Any) -> int:
    with _workspace(args) as ws:
        ch = ws.changes(args.bundle)
    if args.json:
        print_json(ch)
        return 0
    if ch["previous"] is None:
        print(_("This is the first revision: everything is new."))
        return 0
    if not ch["requirements"]:
        print(_("No answer or evidence changed since the previous revision."))
    for rid, c in ch["requirements"].items():
        print(_("{requirement}: answers changed: {fields}; evidence added: {added}; removed: {removed}",
                requirement=rid, fields=", ".join(c["fields"]) or "-", added=", ".join(c["evidence_added"]) or "-",
                removed=", ".join(c["evidence_removed"]) or "-"))
    return 0


def cmd_verdict(args: Any) -> int:
    member = None if args.settle and not args.identity else _member(args)
    with _workspace(args) as ws:
        ws.set_verdict(args.bundle, args.requirement, args.verdict, args.comment, member=member, panel=args.settle)
    print(_("Verdict recorded: {requirement} {verdict}.", requirement=args.requirement, verdict=args.verdict))
    return 0


def cmd_report(args: Any) -> int:
    member = _member(args)
    with _workspace(args) as ws:
        files = ws.write_report(args.bundle, member, Path(args.out), args.languages or ["en"],
                                recommendation=args.recommend, progress=TerminalProgress(N_("Writing the report")))
    if args.json:
        print_json({k: str(v) for k, v in files.items()})
    else:
        for p in files.values():
            print(_("Wrote {path}.", path=str(p)))
    return 0


def cmd_results(args: Any) -> int:
    member = _member(args)
    with _workspace(args) as ws:
        res = ws.results_bundle(args.bundle, member, Path(args.out), languages=args.languages,
                                recommendation=args.recommend, progress=TerminalProgress(N_("Sealing")))
    if args.json:
        print_json({"path": str(res.path), "bundle_id": res.bundle_id, "size": res.size})
    else:
        print(_("Sealed the review results in {path}. Give them to the field officer or put them in the city's "
                "mailbox.", path=str(res.path)))
    return 0


def cmd_board(args: Any) -> int:
    member = _member(args)
    with _workspace(args) as ws:
        out = ws.board_handoff(args.bundle, member, args.recommend, Path(args.out), languages=args.languages)
    if args.json:
        print_json({"path": str(out)})
    else:
        print(_("Wrote the board hand-off in {path}.", path=str(out)))
    return 0


def cmd_feedback_import(args: Any) -> int:
    from app.bundle.bundle import MANIFEST, find_bundles
    from app.bundle.submit import city_keyfile
    from app.cli.bundle_cmd import _keyset
    from app.review.feedback import import_results

    paths = []
    for p in args.path:
        found = [b for b in find_bundles(Path(p)) if json.loads((b / MANIFEST).read_text("utf-8")).get("kind") == "review"]
        paths += found or [Path(p)]
    results, worst = [], 0
    with open_kit(args) as kit:
        city = _keyset(args, Path(args.key_file) if args.key_file else city_keyfile(kit))
        for p in paths:
            try:
                r = import_results(kit, p, city)
                results.append({"ok": True, "path": str(p), **r})
                if not args.json:
                    print(_("Imported the panel's review of stage {stage}: {count} verdict(s). Report: {report}",
                            stage=r["stage"], count=len(r["verdicts"]), report=", ".join(r["reports"]) or "-"))
            except KitError as exc:
                worst = max(worst, exc.exit_code)
                results.append({"ok": False, "path": str(p), "error": exc.message()})
                if not args.json:
                    print(_("NOT IMPORTED: {path} - {error}", path=p.name, error=exc.message()))
    if args.json:
        print_json(results[0] if len(results) == 1 else results)
    return worst


def cmd_feedback_show(args: Any) -> int:
    from app.review.feedback import feedback_for

    with open_kit(args) as kit:
        fb = feedback_for(kit, args.stage)
    if args.json:
        print_json(fb)
    else:
        for rid, v in fb.items():
            print(f"{rid:8s} {v['verdict']:18s} {v['comment']}")
    return 0

"""``sdgkit bundle seal | verify | open | inspect``: submission bundles from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.common import TerminalProgress, data_dir, open_kit, print_json
from app.errors import KitError
from app.i18n import N_, _


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bundle", help=_("Seal, verify, open and inspect submission bundles"))
    bs = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    q = bs.add_parser("seal", help=_("Seal a stage into a signed, encrypted bundle"))
    q.add_argument("--stage", required=True, help=_("stage to seal: A, B, C or D"))
    q.add_argument("--out", metavar="DIR", help=_("folder to write the bundle in (default: the data folder's bundles)"))
    q.add_argument("--key-file", help=_("the city's key file (default: keys/city.key in the data folder)"))
    q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    q.add_argument("--segment-size", type=int, default=None, help=argparse.SUPPRESS)
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_seal)

    q = bs.add_parser("verify", help=_("Check a bundle is intact and authentic (no secret key needed)"))
    q.add_argument("path", nargs="+", help=_("bundle folder(s), or a folder holding bundles"))
    q.add_argument("--trust", metavar="DIR", help=_("trust pack folder to check enrolments against"))
    q.add_argument("--demo", action="store_true", help=_("accept demo trust files (training only)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_verify)

    q = bs.add_parser("open", help=_("Decrypt a bundle with a panel member's identity"))
    q.add_argument("path", help=_("bundle folder"))
    q.add_argument("--identity", required=True, metavar="FILE", help=_("the panel member's key file"))
    q.add_argument("--out", required=True, metavar="DIR", help=_("new folder to write the answers and evidence in"))
    q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    q.add_argument("--trust", metavar="DIR", help=_("trust pack folder to check enrolments against"))
    q.add_argument("--demo", action="store_true", help=_("accept demo trust files (training only)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_open)

    q = bs.add_parser("inspect", help=_("Show a bundle's public manifest"))
    q.add_argument("path", help=_("bundle folder"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_inspect)

    q = bs.add_parser("list", help=_("List the bundles this city has sealed"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_list)


def _keyset(args: Any, path: Path) -> Any:
    from app.cli.common import unlock_keyfile

    return unlock_keyfile(args, path)


def cmd_seal(args: Any) -> int:
    from app.bundle.bundle import DEFAULT_SEGMENT_SIZE
    from app.bundle.submit import city_keyfile, seal_stage

    with open_kit(args) as kit:
        keyset = _keyset(args, Path(args.key_file) if args.key_file else city_keyfile(kit))
        result = seal_stage(kit, args.stage.upper(), keyset, args.out,
                            segment_size=args.segment_size or DEFAULT_SEGMENT_SIZE,
                            progress=TerminalProgress(N_("Sealing")))
    if args.json:
        print_json({"path": str(result.path), "bundle_id": result.bundle_id, "submission_id": result.submission_id,
                    "revision": result.revision, "size": result.size, "sums_sha256": result.sums_sha256,
                    "objects": len(result.objects), "reused_objects": sum(o.reused for o in result.objects),
                    "encrypted_bytes": result.encrypted_bytes, "reused_bytes": result.reused_bytes})
    else:
        print(_("Sealed revision {revision} of stage {stage} in {path} ({size} bytes).", revision=result.revision,
                stage=args.stage.upper(), path=str(result.path), size=result.size))
        print(_("Give the whole folder to the field officer. It can be checked with 'sdgkit bundle verify'."))
    return 0


def _verify_one(args: Any, path: Path) -> Any:
    from app.bundle.submit import verify_trusted

    return verify_trusted(path, data_dir=data_dir(args), trust_dir=Path(args.trust) if args.trust else None,
                          demo=args.demo, progress=TerminalProgress(N_("Checking")))


def cmd_verify(args: Any) -> int:
    from app.bundle.bundle import find_bundles

    paths: list[Path] = []
    for p in args.path:
        found = find_bundles(Path(p))
        paths.extend(found or [Path(p)])
    results, worst = [], 0
    for p in paths:
        try:
            s = _verify_one(args, p).summary()
        except KitError as exc:
            s = {"ok": False, "path": str(p), "error": exc.message(), "code": exc.code}
            worst = max(worst, exc.exit_code)
        results.append(s)
        if not args.json:
            if s["ok"]:
                demo = " [DEMO]" if s["demo"] else ""
                print(_("OK{demo}: {path} - {city} ({country}), stage {stage}, revision {revision}, signed by "
                        "{fingerprint}.", demo=demo, path=s["path"], city=s["city_name"], country=s["country"],
                        stage=s["stage"], revision=s["revision"], fingerprint=s["signer_fingerprint"]))
            else:
                print(_("NOT OK: {path} - {error}", path=s["path"], error=s["error"]))
    if args.json:
        print_json(results[0] if len(results) == 1 else results)
    return worst


def cmd_open(args: Any) -> int:
    from app.bundle.submit import check_against_ledger, open_trusted, verify_trusted
    from app.fsutil import atomic_write_text

    tb = verify_trusted(Path(args.path), data_dir=data_dir(args), trust_dir=Path(args.trust) if args.trust else None,
                        demo=args.demo)
    ledger_path = data_dir(args) / "received.json"
    ledger = json.loads(ledger_path.read_text(encoding="utf-8")) if ledger_path.is_file() else {}
    state = check_against_ledger(ledger, tb)
    keyset = _keyset(args, Path(args.identity))
    opened = open_trusted(tb, keyset, Path(args.out), progress=TerminalProgress(N_("Decrypting")))
    m = tb.verified.manifest
    ledger.setdefault(m["submission_id"], {})[str(m["revision"])] = tb.verified.sums_sha256
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(ledger_path, json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    if args.json:
        print_json({**tb.summary(), "out": str(opened.out), "files": len(opened.files), "seen": state})
    else:
        if state == "same":
            print(_("This bundle was opened before; opened again."))
        print(_("Opened {path}: {files} evidence file(s) and the answers in {out}.", path=args.path,
                files=len(opened.files), out=str(opened.out / "submission.json")))
    return 0


def cmd_inspect(args: Any) -> int:
    from app.bundle.bundle import MANIFEST
    from app.bundle.strict_json import loads_strict
    from app.errors import BundleError

    p = Path(args.path) / MANIFEST
    try:
        raw = p.read_bytes()
    except OSError:
        raise BundleError(N_("{path} is not a submission bundle: a bundle is a folder with bundle.json and "
                             "SHA256SUMS inside."), path=str(args.path)) from None
    m = loads_strict(raw, what=MANIFEST)
    if args.json:
        print_json(m)
        return 0
    print(_("Bundle {id}: city {city}, stage {stage}, revision {revision}, created {created}.",
            id=m.get("bundle_id"), city=m.get("city_id"), stage=m.get("stage"), revision=m.get("revision"),
            created=m.get("created")))
    print(_("Signed by {fingerprint}; sealed for panel {panel} ({count} recipients); {objects} objects.",
            fingerprint=(m.get("submitter") or {}).get("fingerprint"), panel=m.get("panel_id"),
            count=m.get("recipient_count"), objects=len(m.get("objects") or [])))
    print(_("Not checked: run 'sdgkit bundle verify' to check it."))
    return 0


def cmd_list(args: Any) -> int:
    from app.bundle.submit import sealed_bundles

    with open_kit(args) as kit:
        rows = sealed_bundles(kit)
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['stage']}  r{r['revision']}  {r['status']:10s} {r['sealed_at']}  {r['path']}")
    return 0

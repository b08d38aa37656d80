"""``sdgkit platform ...``, ``sdgkit officer ...`` and ``sdgkit sync``.

* ``platform init | serve | register | grant-courier`` -- the platform intake service and its
  folder (``--data`` is the platform folder);
* ``officer collect STICK | deliver STICK | status`` -- a field officer's outbox (``--data`` is
  the officer's data folder, with the officer's key and the trust pack installed);
* ``sync`` -- send the outbox of the data folder (an officer's, or a city's own) to the platform and
  fetch receipts, review results and the revocation list.

Passphrases come from ``--passphrase-file``, ``SDGKIT_PASSPHRASE`` or a prompt, as for ``keys``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import TerminalProgress, data_dir, print_json
from app.errors import UserInputError
from app.i18n import N_, _


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("platform", help=_("Run the platform intake service"))
    ps = p.add_subparsers(dest="platform_cmd", metavar="SUBCOMMAND", required=True)

    q = ps.add_parser("init", help=_("Create a platform folder: trust pack, receipt key and its certificate"))
    q.add_argument("--trust-pack", required=True, metavar="DIR", help=_("the trust pack to install"))
    q.add_argument("--root-key", required=True, metavar="FILE", help=_("the platform root's key file"))
    q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    q.add_argument("--name", default="SDG Cities platform", help=_("the platform's name, shown on receipts"))
    q.add_argument("--demo", action="store_true", help=_("training only: accept a pack signed by its own demo root"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_platform_init)

    q = ps.add_parser("serve", help=_("Run the intake service until interrupted"))
    q.add_argument("--db", metavar="URL", help=_("database URL (default: SQLite in the platform folder)"))
    q.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
    q.add_argument("--port", type=int, default=8470, help=_("port to listen on (0: any free port)"))
    q.set_defaults(func=cmd_platform_serve)

    q = ps.add_parser("cleanup", help=_("Run the service's housekeeping once (expired uploads, abandoned "
                                        "negotiations, unused objects) and bring its database up to date"))
    q.add_argument("--db", metavar="URL", help=_("database URL (default: SQLite in the platform folder)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_platform_cleanup)

    q = ps.add_parser("register", help=_("Register enrolments, courier grants or panel recipients files"))
    q.add_argument("files", nargs="+", metavar="FILE", help=_("signed documents (their .minisig beside them)"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_platform_register)

    q = ps.add_parser("grant-courier", help=_("Sign a courier grant for a field officer's key card"))
    q.add_argument("card", help=_("the field officer's public key card"))
    q.add_argument("--country", action="append", default=[], help=_("a country whose cities it may carry (repeat)"))
    q.add_argument("--city-id", action="append", default=[], help=_("a city it may carry (repeat)"))
    q.add_argument("--expires", required=True, help=_("date or UTC time"))
    q.add_argument("--key-file", required=True, help=_("the platform root's key file"))
    q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    q.add_argument("--out", required=True, metavar="DIR", help=_("folder to write courier.json into"))
    q.set_defaults(func=cmd_grant_courier)

    p = sub.add_parser("officer", help=_("Collect bundles from city sticks and deliver receipts"))
    os_ = p.add_subparsers(dest="officer_cmd", metavar="SUBCOMMAND", required=True)
    q = os_.add_parser("collect", help=_("Check the bundles on a city's stick and copy them into the outbox"))
    q.add_argument("stick", help=_("the city's stick, its data folder, or a folder holding bundles"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_collect)
    q = os_.add_parser("deliver", help=_("Put receipts and review results on a city's stick"))
    q.add_argument("stick", help=_("the city's stick, its data folder, or a folder holding bundles"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_deliver)
    q = os_.add_parser("status", help=_("List the bundles in the outbox by city"))
    q.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    q.set_defaults(func=cmd_officer_status)

    p = sub.add_parser("sync", help=_("Send the outbox to the platform and fetch receipts and review results"))
    p.add_argument("--url", help=_("the platform's address (remembered for next time)"))
    p.add_argument("--key-file", help=_("key file (default: keys/officer.key, else keys/city.key)"))
    p.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))
    p.add_argument("--limit-kbps", type=int, default=None, help=_("use at most this many kilobits per second"))
    p.add_argument("--no-pull", action="store_true", help=_("only send; fetch nothing"))
    p.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    p.set_defaults(func=cmd_sync)


def _keyset(args: Any, path: Path) -> Any:
    from app.cli.common import unlock_keyfile

    return unlock_keyfile(args, path)


# -- platform ------------------------------------------------------------------------------------


def cmd_platform_init(args: Any) -> int:
    from app.bundle.keys import Role
    from app.sync.platform import init_platform

    root = _keyset(args, Path(args.root_key))
    if root.role is not Role.PLATFORM_ROOT:
        raise UserInputError(N_("{path} holds a {found} key; this needs the {expected} key."), path=args.root_key,
                             found=root.role.value, expected=Role.PLATFORM_ROOT.value)
    result = init_platform(data_dir(args), Path(args.trust_pack), root, demo=args.demo, name=args.name)
    if args.json:
        print_json(result)
        return 0
    if result["demo"]:
        print(_("DEMO trust files: for training only. Bundles sealed with them are marked as demo."))
    print(_("Platform folder ready in {path}. Receipt key {fingerprint}, certified by the root {root}.",
            path=result["folder"], fingerprint=result["receipt_key"], root=result["root"]))
    print(_("Start it with 'sdgkit --data {path} platform serve'.", path=result["folder"]))
    return 0


def cmd_platform_serve(args: Any) -> int:
    from app.sync.platform import serve

    def ready(url: str) -> None:
        print(_("Listening on {url}", url=url), flush=True)

    try:
        serve(data_dir(args), db_url=args.db, host=args.host, port=args.port, ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise UserInputError(N_("Cannot listen on {host}:{port}: {detail}"), host=args.host, port=args.port,
                             detail=exc.strerror or str(exc)) from None
    return 0


def cmd_platform_cleanup(args: Any) -> int:
    from app.sync.platform import Platform

    plat = Platform(data_dir(args), db_url=args.db)
    try:
        done = plat.cleanup()
    finally:
        plat.close()
    if args.json:
        print_json(done)
        return 0
    print(_("Housekeeping: {uploads} expired upload(s), {bundles} abandoned negotiation(s) and {objects} unused "
            "object(s) removed.", uploads=done["expired_uploads"], bundles=done["abandoned_bundles"],
            objects=done["unused_objects"]))
    return 0


def cmd_platform_register(args: Any) -> int:
    from app.sync.platform import register_documents

    done = register_documents(data_dir(args), [Path(f) for f in args.files])
    if args.json:
        print_json(done)
        return 0
    for d in done:
        who = d.get("name") or d.get("panel_id") or d.get("mechanism_id") or ""
        print(_("Registered {kind} {who}.", kind=d["kind"], who=who))
    return 0


def cmd_grant_courier(args: Any) -> int:
    from app.bundle.keys import PublicCard, Role
    from app.bundle.utctime import parse_user_time
    from app.fsutil import atomic_write_bytes
    from app.sync import protocol as proto

    card = PublicCard.from_file(args.card)
    if card.role is not Role.OFFICER:
        raise UserInputError(N_("The card {file} is for a {found} key, but a {expected} key is needed here."),
                             file=args.card, found=card.role.value, expected=Role.OFFICER.value)
    root = _keyset(args, Path(args.key_file))
    if root.role is not Role.PLATFORM_ROOT:
        raise UserInputError(N_("{path} holds a {found} key; this needs the {expected} key."), path=args.key_file,
                             found=root.role.value, expected=Role.PLATFORM_ROOT.value)
    doc = proto.courier_document(name=card.name, key=card.signing_key, age_recipient=card.age_recipient,
                                 countries=args.country, city_ids=args.city_id,
                                 expires=parse_user_time(args.expires, end_of_day=True, what="--expires"))
    data, sig = proto.sign_document(proto.COURIER_FORMAT, doc, root.signing_key)
    out = Path(args.out)
    atomic_write_bytes(out / proto.COURIER_FILE, data)
    atomic_write_bytes(out / (proto.COURIER_FILE + proto.SIG_SUFFIX), sig.encode("utf-8"))
    print(_("Wrote {path}.", path=str(out / proto.COURIER_FILE)))
    print(_("Courier grant for {name} ({fingerprint}): register it on the platform with 'sdgkit platform register'.",
            name=card.name, fingerprint=card.fingerprint))
    return 0


# -- officer -------------------------------------------------------------------------------------


def cmd_collect(args: Any) -> int:
    from app.sync.officer import collect

    report = collect(data_dir(args), Path(args.stick), progress=TerminalProgress(N_("Checking")))
    d = report.as_dict()
    if args.json:
        print_json(d)
    else:
        for c in d["cities"]:
            print(_("{city} ({city_id}): {new} collected, {skipped} already in the outbox, {refused} refused.",
                    city=c["city_name"] or c["city_id"], city_id=c["city_id"], new=len(c["collected"]),
                    skipped=len(c["skipped"]), refused=len(c["refused"])))
            for r in c["refused"]:
                print(_("  NOT collected: {path} - {error}", path=r["path"], error=_(r["error"])))
        if not d["cities"]:
            print(_("No bundles found on {path}.", path=d["stick"]))
    return 4 if any(c["refused"] for c in d["cities"]) else 0


def cmd_deliver(args: Any) -> int:
    from app.sync.officer import deliver

    d = deliver(data_dir(args), Path(args.stick)).as_dict()
    if args.json:
        print_json(d)
        return 0
    print(_("Delivered {receipts} receipt(s) and {results} review result(s) to {path}.", receipts=len(d["receipts"]),
            results=len(d["results"]), path=d["stick"]))
    if d["status_updated"]:
        print(_("The city's bundle status was updated."))
    for w in d["waiting"]:
        print(_("  Still waiting: stage {stage} revision {revision} ({state}).", stage=w["stage"],
                revision=w["revision"], state=w["state"]))
    return 0


def cmd_officer_status(args: Any) -> int:
    from app.sync.officer import outbox_overview

    rows = outbox_overview(data_dir(args))
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(_("The outbox is empty."))
    for r in rows:
        print(f"{r['city']:24s} {r['stage']} r{r['revision']:<3d} {r['status']:9s} {r['bundle_id']}"
              + (f"  {r['error']}" if r["error"] and r["status"] != "received" else ""))
    return 0


# -- sync ----------------------------------------------------------------------------------------


def cmd_sync(args: Any) -> int:
    from app.bundle.keys import Role, default_keyfile
    from app.sync.client import SyncPolicy
    from app.sync.officer import platform_url, sync

    data = data_dir(args)
    if args.key_file:
        key_path = Path(args.key_file)
    else:
        key_path = default_keyfile(data / "keys", Role.OFFICER)
        if not key_path.is_file():
            key_path = default_keyfile(data / "keys", Role.CITY)
    keyset = _keyset(args, key_path)
    url = platform_url(data, args.url)
    policy = SyncPolicy(bandwidth_bps=args.limit_kbps * 1000 // 8 if args.limit_kbps else None)
    report = sync(data, keyset, url=url, policy=policy, pull=not args.no_pull,
                  progress=TerminalProgress(N_("Sending")))
    d = report.as_dict()
    if args.json:
        print_json(d)
    else:
        print(_("{sent} bundle(s) received by the platform now, {already} already there; {failed} not sent.",
                sent=len(d["sent"]), already=len(d["already"]), failed=len(d["failed"])))
        for f in d["failed"]:
            print(_("  NOT sent: stage {stage} revision {revision} of {city}: {error}", stage=f["stage"],
                    revision=f["revision"], city=f["city_id"], error=f["error"]))
        if d["results"]:
            print(_("{count} review result(s) fetched.", count=len(d["results"])))
        if d["stopped"]:
            print(_("Stopped early: {reason}", reason=d["stopped"]), file=sys.stderr)
    if d["stopped"]:
        return 6
    return 4 if d["failed"] else 0

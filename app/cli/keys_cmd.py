"""``sdgkit keys ...``: a party's own keys, and the secretariat's trust files.

Everyone: ``create``, ``passphrase``, ``export``, ``fingerprint``, ``trust-import``.
Secretariat and mechanisms (on their own, preferably offline, machine): ``root-create``,
``sign-recipients``, ``mechanism-certify``, ``enrol``, ``revoke``, ``publish-revocations``.

Passphrases come from ``--passphrase-file`` (first line), the ``SDGKIT_PASSPHRASE`` variable, or
a prompt (twice when a new one is set). A new passphrase for ``passphrase`` comes from
``--new-passphrase-file``, ``SDGKIT_NEW_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import data_dir, print_json
from app.errors import NotFoundError, UserInputError, ValidationError
from app.i18n import LANGUAGES, N_, _

if TYPE_CHECKING:  # imported lazily at run time, to keep start-up light
    from app.bundle.keys import KeySet, PublicCard, Role
    from app.bundle.minisign import PublicKey

ENV_PASSPHRASE = "SDGKIT_PASSPHRASE"
ENV_NEW_PASSPHRASE = "SDGKIT_NEW_PASSPHRASE"
ISSUER_DIR = "issuer"  # the secretariat's own records inside its data folder
PENDING_REVOCATIONS = "revocations-pending.json"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.bundle.keys import Role
    from app.bundle.trust import REVOCATION_REASONS, SCOPES

    p = sub.add_parser("keys", help=_("Create, export and certify keys and trust files"))
    ks = p.add_subparsers(dest="keys_cmd", required=True, metavar="SUBCOMMAND")

    def key_args(q: argparse.ArgumentParser, *, passphrase: bool = True) -> None:
        q.add_argument("--key-file", help=_("key file (default: keys/<role>.key in the data folder)"))
        if passphrase:
            q.add_argument("--passphrase-file", help=_("read the passphrase from the first line of this file"))

    q = ks.add_parser("create", help=_("Create a key set protected by a passphrase"))
    q.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.PLATFORM_ROOT])
    q.add_argument("--name", required=True, help=_("name of the city, person or body holding the key"))
    key_args(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_create)

    q = ks.add_parser("passphrase", help=_("Change the passphrase of a key file"))
    key_args(q)
    q.add_argument("--role", choices=[r.value for r in Role])
    q.add_argument("--new-passphrase-file", help=_("read the new passphrase from the first line of this file"))
    q.set_defaults(func=cmd_passphrase)

    q = ks.add_parser("export", help=_("Write the public key card to give to the secretariat"))
    key_args(q)
    q.add_argument("--role", choices=[r.value for r in Role])
    q.add_argument("--out", help=_("write the card to this file instead of the screen"))
    q.set_defaults(func=cmd_export)

    q = ks.add_parser("fingerprint", help=_("Show the fingerprint to read out when checking a key"))
    key_args(q, passphrase=False)
    q.add_argument("--role", choices=[r.value for r in Role])
    q.add_argument("--card", help=_("a public key card file"))
    q.add_argument("--pub", help=_("a minisign public key file"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_fingerprint)

    q = ks.add_parser("root-create", help=_("Create the platform root key and its root.pub"))
    q.add_argument("--name", required=True)
    key_args(q)
    q.add_argument("--pack", help=_("also write root.pub into this trust pack folder"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_root_create)

    q = ks.add_parser("sign-recipients", help=_("Sign a panel's recipients file with the root key"))
    q.add_argument("--panel-id", required=True)
    q.add_argument("--panel-name", required=True)
    q.add_argument("--language", required=True, choices=LANGUAGES)
    q.add_argument("--member", action="append", required=True, metavar="CARD", help=_("a panel member's card"))
    q.add_argument("--recovery", metavar="CARD", help=_("the recovery key holder's card"))
    q.add_argument("--valid-from", help=_("date or UTC time (default: now)"))
    q.add_argument("--valid-until", required=True, help=_("date or UTC time"))
    q.add_argument("--pack", required=True, help=_("trust pack folder to write into"))
    key_args(q)
    q.set_defaults(func=cmd_sign_recipients)

    q = ks.add_parser("mechanism-certify", help=_("Certify a mechanism's key with the root key"))
    q.add_argument("card")
    q.add_argument("--mechanism-id", required=True)
    q.add_argument("--scope", choices=SCOPES, default="national")
    q.add_argument("--country", action="append", default=[], help=_("a country it may enrol (repeat)"))
    q.add_argument("--expires", required=True, help=_("date or UTC time"))
    q.add_argument("--pack", required=True)
    key_args(q)
    q.set_defaults(func=cmd_mechanism_certify)

    q = ks.add_parser("enrol", help=_("Issue an enrolment certificate for a city's key card"))
    q.add_argument("card")
    q.add_argument("--city-id", required=True)
    q.add_argument("--country", required=True)
    q.add_argument("--expires", required=True, help=_("date or UTC time"))
    q.add_argument("--mechanism-cert", help=_("this mechanism's mechanism.json (with root.pub and .minisig beside)"))
    q.add_argument("--serial", help=_("certificate serial (default: random)"))
    q.add_argument("--pack", required=True)
    q.add_argument("--demo", action="store_true", help=_("accept a demo root for the mechanism certificate"))
    key_args(q)
    q.set_defaults(func=cmd_enrol)

    q = ks.add_parser("revoke", help=_("Add a key to the next revocation list"))
    q.add_argument("fingerprint")
    q.add_argument("--reason", required=True, choices=REVOCATION_REASONS)
    q.add_argument("--name", default="", help=_("whose key it is, for people reading the list"))
    q.add_argument("--date", help=_("date or UTC time the key stopped being trusted (default: now)"))
    q.set_defaults(func=cmd_revoke)

    q = ks.add_parser("publish-revocations", help=_("Sign the next revocation list with the root key"))
    q.add_argument("--pack", required=True)
    key_args(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_publish_revocations)

    q = ks.add_parser("trust-import", help=_("Check a trust pack and install it in the data folder"))
    q.add_argument("pack")
    q.add_argument("--demo", action="store_true",
                   help=_("training only: accept a pack signed by its own demo root; bundles are marked demo"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_trust_import)


# -- helpers -----------------------------------------------------------------------------------


def _first_line(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(N_("No such file or folder: {path}"), path=path) from None
    return text.splitlines()[0] if text else ""


def read_passphrase(file_arg: str | None, env: str, *, confirm: bool, prompt: str, **params: object) -> str:
    """From a file, the environment, or the terminal (asked twice when ``confirm``).

    ``prompt`` is a message id, filled with ``params`` after translation.
    """
    if file_arg:
        return _first_line(file_arg)
    if os.environ.get(env):
        return os.environ[env]
    first = getpass.getpass(_(prompt, **params) + " ")
    if confirm and getpass.getpass(_("Repeat the passphrase:") + " ") != first:
        raise UserInputError(N_("The two passphrases differ. Nothing was changed."))
    return first


def _keys_dir(args: Any) -> Path:
    return data_dir(args) / "keys"


def _key_file(args: Any, default_role: str | None = None) -> Path:
    """``--key-file``, else ``keys/<role>.key``, else the only key file in the data folder."""
    from app.bundle.keys import KEYFILE_SUFFIX, default_keyfile

    if getattr(args, "key_file", None):
        return Path(args.key_file)
    role = getattr(args, "role", None) or default_role
    if role:
        return default_keyfile(_keys_dir(args), role)
    found = sorted(_keys_dir(args).glob(f"*{KEYFILE_SUFFIX}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(N_("There is no key file in {path}. Create one with 'sdgkit keys create'."),
                            path=str(_keys_dir(args)))
    raise UserInputError(N_("There are several key files in {path}; choose one with --key-file or --role."),
                         path=str(_keys_dir(args)))


def _unlock(args: Any, path: Path) -> KeySet:
    from app.bundle.keys import load_keyfile, read_keyfile_info

    info = read_keyfile_info(path)
    passphrase = read_passphrase(getattr(args, "passphrase_file", None), ENV_PASSPHRASE, confirm=False,
                                 prompt=N_("Passphrase for {name}:"), name=info.name)
    return load_keyfile(path, passphrase)


def _unlock_role(args: Any, path: Path, role: Role) -> KeySet:
    keyset = _unlock(args, path)
    if keyset.role is not role:
        raise UserInputError(N_("{path} holds a {found} key; this needs the {expected} key."), path=str(path),
                             found=keyset.role.value, expected=role.value)
    return keyset


def _new_keyset(args: Any, role: Role, path: Path) -> tuple[KeySet, PublicCard]:
    from app.bundle.keys import KeySet, card_path_for, refuse_existing_keyfile, write_new_keyfile
    from app.fsutil import atomic_write_bytes

    keyset = KeySet.generate(role, args.name)
    refuse_existing_keyfile(path)  # before asking for anything
    passphrase = read_passphrase(args.passphrase_file, ENV_PASSPHRASE, confirm=True,
                                 prompt=N_("New passphrase (at least 10 characters):"))
    write_new_keyfile(path, keyset, passphrase)
    card = keyset.card()
    atomic_write_bytes(card_path_for(path), card.to_bytes())
    return keyset, card


def _time_arg(text: str | None, *, end_of_day: bool, what: str) -> datetime:
    from app.bundle.utctime import now_utc, parse_user_time

    return parse_user_time(text, end_of_day=end_of_day, what=what) if text else now_utc()


def _print_written(path: Path) -> None:
    print(_("Wrote {path}.", path=str(path)))


# -- a party's own keys ------------------------------------------------------------------------


def cmd_create(args: Any) -> int:
    from app.bundle.keys import ROLE_LABELS, Role, card_path_for, default_keyfile

    role = Role(args.role)
    path = Path(args.key_file) if args.key_file else default_keyfile(_keys_dir(args), role)
    keyset, card = _new_keyset(args, role, path)
    if args.json:
        print_json({"key_file": str(path), "card": str(card_path_for(path)), "role": role.value, "name": keyset.name,
                    "fingerprint": card.fingerprint, "ed25519": card.signing_key.to_base64(),
                    "age_recipient": card.age_recipient})
        return 0
    print(_("Created the {role} key set for {name} in {path}.", role=_(ROLE_LABELS[role]), name=keyset.name,
            path=str(path)))
    print(_("Public key card: {path}", path=str(card_path_for(path))))
    print(_("Fingerprint: {fingerprint}", fingerprint=card.fingerprint))
    print(_("Keep the passphrase safe: without it the key cannot be used, and nobody can recover it."))
    return 0


def cmd_passphrase(args: Any) -> int:
    from app.bundle.keys import change_passphrase, read_keyfile_info

    path = _key_file(args)
    info = read_keyfile_info(path)
    old = read_passphrase(args.passphrase_file, ENV_PASSPHRASE, confirm=False,
                          prompt=N_("Current passphrase for {name}:"), name=info.name)
    new = read_passphrase(args.new_passphrase_file, ENV_NEW_PASSPHRASE, confirm=True,
                          prompt=N_("New passphrase (at least 10 characters):"))
    change_passphrase(path, old, new)
    print(_("The passphrase of {path} was changed.", path=str(path)))
    return 0


def cmd_export(args: Any) -> int:
    import sys

    from app.fsutil import atomic_write_bytes

    card = _unlock(args, _key_file(args)).card()
    if args.out:
        atomic_write_bytes(Path(args.out), card.to_bytes())
        _print_written(Path(args.out))
        print(_("Fingerprint: {fingerprint}", fingerprint=card.fingerprint))
    else:
        sys.stdout.write(card.to_bytes().decode("utf-8"))
    return 0


def cmd_fingerprint(args: Any) -> int:
    from app.bundle.keys import PublicCard, read_keyfile_info
    from app.bundle.minisign import PublicKey

    if args.card:
        card = PublicCard.from_file(args.card)
        key, role, name = card.signing_key, card.role.value, card.name
    elif args.pub:
        key, role, name = PublicKey.from_file(args.pub), None, None
    else:
        info = read_keyfile_info(_key_file(args))
        key, role, name = info.signing_key, info.role.value, info.name
    if args.json:
        print_json({"fingerprint": key.fingerprint(), "key_id": key.key_id_hex, "ed25519": key.to_base64(),
                    "role": role, "name": name})
    else:
        print(key.fingerprint())
    return 0


# -- the secretariat's side --------------------------------------------------------------------


def cmd_root_create(args: Any) -> int:
    from app.bundle.keys import Role, default_keyfile
    from app.bundle.trust import ROOT_PUB
    from app.fsutil import atomic_write_bytes

    path = Path(args.key_file) if args.key_file else default_keyfile(_keys_dir(args), Role.PLATFORM_ROOT)
    keyset, card = _new_keyset(args, Role.PLATFORM_ROOT, path)
    pub_text = keyset.public_key.to_string(f"SDG Cities Kit platform root {card.fingerprint}").encode("ascii")
    written = [path.with_name(ROOT_PUB)]
    if args.pack:
        written.append(Path(args.pack) / ROOT_PUB)
    for target in written:
        atomic_write_bytes(target, pub_text)
    if args.json:
        print_json({"key_file": str(path), "root_pub": [str(p) for p in written], "fingerprint": card.fingerprint})
        return 0
    print(_("Created the platform root key in {path}.", path=str(path)))
    for target in written:
        _print_written(target)
    print(_("Fingerprint: {fingerprint}", fingerprint=card.fingerprint))
    return 0


def _root_key(args: Any) -> KeySet:
    from app.bundle.keys import Role

    return _unlock_role(args, _key_file(args, Role.PLATFORM_ROOT.value), Role.PLATFORM_ROOT)


def _ensure_root_pub(pack: Path, keyset: KeySet) -> None:
    from app.bundle.trust import ROOT_PUB
    from app.fsutil import atomic_write_bytes

    target = pack / ROOT_PUB
    if not target.exists():
        atomic_write_bytes(target, keyset.public_key.to_string(
            f"SDG Cities Kit platform root {keyset.fingerprint}").encode("ascii"))


def cmd_sign_recipients(args: Any) -> int:
    from app.bundle.keys import PublicCard
    from app.bundle.trust import RECIPIENTS, recipients_document, write_signed

    members = [PublicCard.from_file(p) for p in args.member]
    recovery = PublicCard.from_file(args.recovery) if args.recovery else None
    doc = recipients_document(panel_id=args.panel_id, panel_name=args.panel_name, language=args.language,
                              members=members, recovery=recovery,
                              valid_from=_time_arg(args.valid_from, end_of_day=False, what="--valid-from"),
                              valid_until=_time_arg(args.valid_until, end_of_day=True, what="--valid-until"))
    root = _root_key(args)
    pack = Path(args.pack)
    _ensure_root_pub(pack, root)
    _print_written(write_signed(pack, RECIPIENTS, doc, root.signing_key))
    for card in members + ([recovery] if recovery else []):
        print(f"  {card.fingerprint}  {card.role.value:13s} {card.name}")
    return 0


def cmd_mechanism_certify(args: Any) -> int:
    from app.bundle.keys import PublicCard
    from app.bundle.trust import MECHANISM, mechanism_document, write_signed

    card = PublicCard.from_file(args.card)
    doc = mechanism_document(card=card, mechanism_id=args.mechanism_id, scope=args.scope,
                             countries=[c.strip().upper() for c in args.country],
                             expires=_time_arg(args.expires, end_of_day=True, what="--expires"))
    root = _root_key(args)
    pack = Path(args.pack)
    _ensure_root_pub(pack, root)
    _print_written(write_signed(pack, MECHANISM, doc, root.signing_key))
    print(_("Fingerprint: {fingerprint}", fingerprint=card.fingerprint))
    return 0


def cmd_enrol(args: Any) -> int:
    from app.bundle.keys import PublicCard, Role, default_keyfile
    from app.bundle.trust import (ENROLMENT, GLOBAL_MECHANISM_ID, MECHANISM, ROOT_PUB, SIG_SUFFIX, RootPolicy,
                                  enrolment_document, load_trust_pack, write_signed)
    from app.fsutil import copy_file_atomic

    card = PublicCard.from_file(args.card)
    pack = Path(args.pack)
    if args.mechanism_cert:
        cert_dir = Path(args.mechanism_cert).parent
        mechanism = load_trust_pack(cert_dir, RootPolicy.installed(demo=args.demo)).mechanism
        if mechanism is None:
            raise NotFoundError(N_("No such file or folder: {path}"), path=args.mechanism_cert)
        keyset = _unlock_role(args, Path(args.key_file) if args.key_file else
                              default_keyfile(_keys_dir(args), Role.MECHANISM), Role.MECHANISM)
        if keyset.public_key != mechanism.signing_key:
            raise UserInputError(N_("The mechanism certificate {path} is for another key than {key_file}."),
                                 path=args.mechanism_cert, key_file=args.key_file or "keys/mechanism.key")
        if not mechanism.may_enrol(args.country.upper()):
            raise ValidationError(N_("The mechanism {mechanism} may not enrol cities in {country}."),
                                  mechanism=mechanism.mechanism_id, country=args.country.upper())
        mechanism_id = mechanism.mechanism_id
        for name in (ROOT_PUB, MECHANISM, MECHANISM + SIG_SUFFIX):
            if (cert_dir / name).is_file() and cert_dir.resolve() != pack.resolve():
                copy_file_atomic(cert_dir / name, pack / name)
    else:
        keyset = _root_key(args)
        mechanism_id = GLOBAL_MECHANISM_ID
        _ensure_root_pub(pack, keyset)
    doc = enrolment_document(card=card, city_id=args.city_id, country=args.country.upper(),
                             mechanism_id=mechanism_id, serial=args.serial or secrets.token_hex(8),
                             expires=_time_arg(args.expires, end_of_day=True, what="--expires"))
    _print_written(write_signed(pack, ENROLMENT, doc, keyset.signing_key))
    print(_("Enrolled {name} ({city_id}, {country}), key {fingerprint}.", name=card.name, city_id=args.city_id,
            country=args.country.upper(), fingerprint=card.fingerprint))
    return 0


def _issuer_dir(args: Any) -> Path:
    return data_dir(args) / ISSUER_DIR


def cmd_revoke(args: Any) -> int:
    from app.bundle.minisign import normalise_fingerprint
    from app.bundle.strict_json import document_bytes, loads_strict
    from app.bundle.utctime import format_utc
    from app.fsutil import atomic_write_bytes

    fingerprint = normalise_fingerprint(args.fingerprint)
    path = _issuer_dir(args) / PENDING_REVOCATIONS
    pending = loads_strict(path.read_bytes(), what=path.name) if path.is_file() else {"revoked": []}
    entries = [e for e in pending["revoked"] if e.get("fingerprint") != fingerprint]
    entries.append({"fingerprint": fingerprint, "reason": args.reason, "name": args.name,
                    "date": format_utc(_time_arg(args.date, end_of_day=False, what="--date"))})
    atomic_write_bytes(path, document_bytes({"revoked": entries}))
    print(_("{fingerprint} will be revoked in the next published list ({count} pending).", fingerprint=fingerprint,
            count=len(entries)))
    return 0


def cmd_publish_revocations(args: Any) -> int:
    from app.bundle.strict_json import loads_strict
    from app.bundle.minisign import read_signature
    from app.bundle.trust import (REVOCATIONS, SIG_SUFFIX, Revocation, check_revocations, revocations_document,
                                  write_signed)
    from app.bundle.utctime import parse_utc
    from app.fsutil import copy_file_atomic

    root = _root_key(args)
    issuer = _issuer_dir(args)
    published = issuer / REVOCATIONS
    entries: list[Revocation] = []
    sequence = 1
    if published.is_file():
        sig = published.with_name(REVOCATIONS + SIG_SUFFIX)
        current = check_revocations(published.read_bytes(), read_signature(sig) if sig.is_file() else None,
                                    root=root.public_key, what=str(published))
        entries.extend(current.entries)
        sequence = current.sequence + 1
    pending_path = issuer / PENDING_REVOCATIONS
    if pending_path.is_file():
        for item in loads_strict(pending_path.read_bytes(), what=pending_path.name)["revoked"]:
            entries.append(Revocation(fingerprint=item["fingerprint"], reason=item["reason"], name=item["name"],
                                      date=parse_utc(item["date"], what="date")))
    doc = revocations_document(sequence=sequence, entries=entries)
    write_signed(issuer, REVOCATIONS, doc, root.signing_key)
    pack = Path(args.pack)
    _ensure_root_pub(pack, root)
    for name in (REVOCATIONS, REVOCATIONS + SIG_SUFFIX):
        copy_file_atomic(issuer / name, pack / name)
    pending_path.unlink(missing_ok=True)
    if args.json:
        print_json({"sequence": sequence, "revoked": doc["revoked"], "pack": str(pack)})
        return 0
    print(_("Published revocation list number {number} with {count} revoked key(s) to {path}.", number=sequence,
            count=len(doc["revoked"]), path=str(pack)))
    return 0


def _own_signing_key(args: Any) -> PublicKey | None:
    """The signing key of this kit's city (or officer) key file, if there is one."""
    from app.bundle.keys import Role, default_keyfile, read_keyfile_info

    for role in (Role.CITY, Role.OFFICER):
        path = default_keyfile(_keys_dir(args), role)
        if path.is_file():
            return read_keyfile_info(path).signing_key
    return None


def cmd_trust_import(args: Any) -> int:
    from app.bundle.trust import RootPolicy, import_trust_pack
    from app.bundle.utctime import format_utc

    result = import_trust_pack(Path(args.pack), data_dir(args), RootPolicy.installed(demo=args.demo),
                               own_key=_own_signing_key(args))
    pack = result.pack
    summary: dict[str, Any] = {"folder": str(pack.folder), "demo": pack.demo, "root": pack.root.fingerprint(),
                               "panel": None, "enrolment": None, "mechanism": None, "revocations": None,
                               "unusable": {name: exc.message() for name, exc in result.unusable.items()}}
    if pack.recipients:
        summary["panel"] = {"id": pack.recipients.panel_id, "name": pack.recipients.panel_name,
                            "members": len(pack.recipients.members),
                            "valid_until": format_utc(pack.recipients.valid_until)}
    if pack.enrolment:
        summary["enrolment"] = {"city_id": pack.enrolment.city_id, "name": pack.enrolment.city_name,
                                "country": pack.enrolment.country, "fingerprint": pack.enrolment.fingerprint,
                                "expires": format_utc(pack.enrolment.expires)}
    if pack.mechanism:
        summary["mechanism"] = {"id": pack.mechanism.mechanism_id, "name": pack.mechanism.name}
    if pack.revocations:
        summary["revocations"] = {"sequence": pack.revocations.sequence,
                                  "revoked": len(pack.revocations.entries)}
    if args.json:
        print_json(summary)
        return 0
    if pack.demo:
        print(_("DEMO trust files: for training only. Bundles sealed with them are marked as demo."))
    print(_("Trust files installed in {path}.", path=str(pack.folder)))
    print(_("Platform root: {fingerprint}", fingerprint=summary["root"]))
    if pack.recipients:
        print(_("Panel {id} ({name}): {count} member(s), valid until {date}.", id=pack.recipients.panel_id,
                name=pack.recipients.panel_name, count=len(pack.recipients.members),
                date=summary["panel"]["valid_until"]))
    if pack.enrolment:
        print(_("Enrolment of {name} ({city_id}, {country}) until {date}.", name=pack.enrolment.city_name,
                city_id=pack.enrolment.city_id, country=pack.enrolment.country,
                date=summary["enrolment"]["expires"]))
    if pack.revocations:
        print(_("Revocation list number {number}: {count} revoked key(s).", number=pack.revocations.sequence,
                count=len(pack.revocations.entries)))
    for name, exc in result.unusable.items():
        print(_("{file} can no longer be used: {reason}", file=name, reason=exc.message()))
    return 0

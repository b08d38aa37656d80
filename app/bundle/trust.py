"""Signed trust documents: who may receive a city's submission, which keys are the city's, which
keys are no longer good.

Each document is a JSON file with a minisign signature beside it (``<name>.minisig``), so anyone
can check it with the stock tool: ``minisign -V -p root.pub -m recipients.json``. The kit
verifies the exact file bytes first and parses them (strictly) only after that.

=====================  ================================  =======================================
file                   signed by                         binds
=====================  ================================  =======================================
``recipients.json``    platform root                     a panel id to its members' age
                                                         recipients (and an optional recovery
                                                         recipient), for a validity period
``mechanism.json``     platform root                     a certification mechanism's key to its
                                                         id and the countries it may enrol
``enrolment.json``     a mechanism key, or the root      a city's key to its city id, name and
                       directly for the global mechanism country
``revocations.json``   platform root                     a numbered list of revoked key
                                                         fingerprints; never replaced by an
                                                         older number
=====================  ================================  =======================================

A **trust pack** is a folder with ``root.pub`` and some of these files. The kit installs one in
``<data>/trust`` with :func:`import_trust_pack`, after checking it completely.

**Root pinning.** The platform root public key is pinned in ``resources/trust/root.pub`` by the
release process. A pack whose ``root.pub`` differs from the pinned key is refused, and so is any
pack when no key is pinned, unless the caller explicitly asks for demo mode (training, tests):
then the pack's own root is used and everything verified is labelled ``demo``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from app.bundle.keys import KeySet, PublicCard, Role, check_name, parse_recipient
from app.bundle.minisign import (BadSignatureError, PublicKey, SigningKey, WrongKeyError,
                                 normalise_fingerprint, read_signature)
from app.bundle.strict_json import document_bytes, loads_strict
from app.bundle.utctime import format_utc, now_utc, parse_utc
from app.errors import CryptoError, KitError, TrustError, ValidationError
from app.fsutil import atomic_write_bytes, copy_file_atomic, fsync_dir, replace_with_retry
from app.i18n import LANGUAGES, N_
from app.resources import resource

ROOT_PUB = "root.pub"
RECIPIENTS = "recipients.json"
MECHANISM = "mechanism.json"
ENROLMENT = "enrolment.json"
REVOCATIONS = "revocations.json"
SIG_SUFFIX = ".minisig"
DOCUMENTS = (RECIPIENTS, MECHANISM, ENROLMENT, REVOCATIONS)
DEMO_MARKER = "DEMO-TRUST.txt"

FORMAT_VERSION = 1
KINDS: dict[str, str] = {
    RECIPIENTS: "sdgkit-recipients",
    MECHANISM: "sdgkit-mechanism",
    ENROLMENT: "sdgkit-enrolment",
    REVOCATIONS: "sdgkit-revocations",
}
GLOBAL_MECHANISM_ID = "global"  # enrolments signed by the platform root itself
SCOPES = ("national", "global")
REVOCATION_REASONS = ("compromised", "lost", "superseded", "retired")
ENROLLABLE_ROLES = (Role.CITY, Role.OFFICER)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_MAX_DOCUMENT_BYTES = 1 << 20

DEMO_MARKER_TEXT = (
    "These trust files were issued by a DEMO platform root for training and testing.\n"
    "Bundles sealed with them are labelled as demo bundles and are not accepted as real submissions.\n"
)


# ---------------------------------------------------------------------------------------------
# verified objects


@dataclass(frozen=True)
class Party:
    """A named key pair inside a trust document."""

    name: str
    role: Role
    signing_key: PublicKey
    age_recipient: str

    @property
    def fingerprint(self) -> str:
        return self.signing_key.fingerprint()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "ed25519": self.signing_key.to_base64(),
                "age_recipient": self.age_recipient, "fingerprint": self.fingerprint}

    @classmethod
    def from_card(cls, card: PublicCard) -> "Party":
        return cls(name=card.name, role=card.role, signing_key=card.signing_key, age_recipient=card.age_recipient)


@dataclass(frozen=True)
class RecipientsFile:
    panel_id: str
    panel_name: str
    language: str
    members: tuple[Party, ...]
    recovery: Party | None
    valid_from: datetime
    valid_until: datetime
    issued: datetime
    sha256: str
    demo: bool

    def age_recipients(self) -> list[str]:
        """Every age recipient a submission to this panel is encrypted to, sorted."""
        parties = list(self.members) + ([self.recovery] if self.recovery else [])
        return sorted({p.age_recipient for p in parties})

    def recipients_sha256(self) -> str:
        """SHA-256 over the sorted recipient strings, each followed by a newline."""
        return hashlib.sha256("".join(r + "\n" for r in self.age_recipients()).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class MechanismCert:
    mechanism_id: str
    name: str
    scope: str
    countries: tuple[str, ...]
    signing_key: PublicKey
    age_recipient: str
    issued: datetime
    expires: datetime
    sha256: str
    demo: bool

    @property
    def fingerprint(self) -> str:
        return self.signing_key.fingerprint()

    def may_enrol(self, country: str) -> bool:
        return self.scope == "global" or country in self.countries


@dataclass(frozen=True)
class EnrolmentCert:
    serial: str
    role: Role
    city_name: str
    country: str
    city_id: str
    signing_key: PublicKey
    age_recipient: str
    mechanism_id: str
    issued: datetime
    expires: datetime
    sha256: str
    demo: bool

    @property
    def fingerprint(self) -> str:
        return self.signing_key.fingerprint()


@dataclass(frozen=True)
class Revocation:
    fingerprint: str
    reason: str
    date: datetime
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "reason": self.reason, "date": format_utc(self.date),
                "name": self.name}


@dataclass(frozen=True)
class RevocationList:
    sequence: int
    issued: datetime
    entries: tuple[Revocation, ...]
    sha256: str
    demo: bool

    def lookup(self, fingerprint: str) -> Revocation | None:
        for entry in self.entries:
            if entry.fingerprint == fingerprint:
                return entry
        return None


@dataclass(frozen=True)
class TrustPack:
    """A verified trust pack. ``demo`` is True when its root is not the pinned one (demo mode)."""

    folder: Path
    root: PublicKey
    demo: bool
    recipients: RecipientsFile | None
    mechanism: MechanismCert | None
    enrolment: EnrolmentCert | None
    revocations: RevocationList | None

    def require_recipients(self) -> RecipientsFile:
        if self.recipients is None:
            raise TrustError(N_("The trust pack {folder} has no {file}."), folder=str(self.folder), file=RECIPIENTS)
        return self.recipients

    def require_enrolment(self) -> EnrolmentCert:
        if self.enrolment is None:
            raise TrustError(N_("The trust pack {folder} has no {file}."), folder=str(self.folder), file=ENROLMENT)
        return self.enrolment


# ---------------------------------------------------------------------------------------------
# the root


def pinned_root_path() -> Path:
    return resource("trust", ROOT_PUB)


@dataclass(frozen=True)
class RootPolicy:
    """Which platform root to trust: the pinned key, or -- only in demo mode -- a pack's own root."""

    pinned: PublicKey | None
    demo_allowed: bool = False

    @classmethod
    def installed(cls, *, demo: bool = False) -> "RootPolicy":
        """The policy of this kit: the key in ``resources/trust/root.pub`` if the release installed one."""
        path = pinned_root_path()
        return cls(pinned=PublicKey.from_file(path) if path.is_file() else None, demo_allowed=demo)

    def choose(self, pack_root: PublicKey | None, folder: Path) -> tuple[PublicKey, bool]:
        """The root to verify ``folder`` with, and whether that makes it a demo pack."""
        if self.pinned is not None and (pack_root is None or pack_root == self.pinned):
            return self.pinned, False
        if not self.demo_allowed:
            if self.pinned is None:
                raise TrustError(N_("This kit has no platform root key, so it cannot check trust files. Use an "
                                    "official kit, or demo mode for training."))
            assert pack_root is not None
            raise TrustError(N_("The trust files in {folder} were issued by the platform root {found}, but this kit "
                                "trusts only {pinned}."), folder=str(folder), found=pack_root.fingerprint(),
                             pinned=self.pinned.fingerprint())
        if pack_root is None:
            raise TrustError(N_("The trust pack {folder} has no {file}."), folder=str(folder), file=ROOT_PUB)
        return pack_root, True


# ---------------------------------------------------------------------------------------------
# signing (issuer side)


def trusted_comment(filename: str, doc: dict[str, Any], signer: PublicKey) -> str:
    """What ``minisign -V`` prints for a trust document: its kind, issue time and signer."""
    return f"sdgkit-trust type={KINDS[filename]} issued={doc['issued']} signer={signer.fingerprint()}"


def write_signed(folder: Path | str, filename: str, doc: dict[str, Any], key: SigningKey) -> Path:
    """Write ``doc`` as ``folder/filename`` and its signature, signature last (the commit marker)."""
    folder = Path(folder)
    data = document_bytes(doc)
    path = folder / filename
    sig_path = folder / (filename + SIG_SUFFIX)
    sig_path.unlink(missing_ok=True)
    atomic_write_bytes(path, data)
    atomic_write_bytes(sig_path, key.sign_bytes(data, trusted_comment(filename, doc, key.public_key()))
                       .encode("utf-8"))
    return path


def _header(filename: str) -> dict[str, Any]:
    return {"format": KINDS[filename], "format_version": FORMAT_VERSION, "issued": format_utc(now_utc())}


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValidationError(N_("{what} must be 1 to 64 letters, digits, dots, dashes or underscores."), what=what)
    return value


def _check_country(value: str) -> str:
    if not isinstance(value, str) or not _COUNTRY_RE.match(value):
        raise ValidationError(N_("{value} is not a two-letter ISO country code in capitals."), value=value)
    return value


def _check_card_role(card: PublicCard, allowed: Iterable[Role], what: str) -> None:
    allowed = tuple(allowed)
    if card.role not in allowed:
        raise ValidationError(N_("The card {file} is for a {found} key, but a {expected} key is needed here."),
                              file=what, found=card.role.value, expected=" / ".join(r.value for r in allowed))


def recipients_document(*, panel_id: str, panel_name: str, language: str, members: list[PublicCard],
                        recovery: PublicCard | None, valid_from: datetime, valid_until: datetime) -> dict[str, Any]:
    if not members:
        raise ValidationError(N_("A panel needs at least one member."))
    for card in members:
        _check_card_role(card, [Role.PANEL_MEMBER], card.name)
    if recovery is not None:
        _check_card_role(recovery, [Role.RECOVERY], recovery.name)
    if language not in LANGUAGES:
        raise ValidationError(N_("Unknown language {lang}. Use one of: {langs}."), lang=language,
                              langs=", ".join(LANGUAGES))
    if valid_until <= valid_from:
        raise ValidationError(N_("The end of the validity period must come after its start."))
    fingerprints = [c.fingerprint for c in members]
    if len(set(fingerprints)) != len(fingerprints):
        raise ValidationError(N_("The same key is listed twice."))
    return {**_header(RECIPIENTS), "panel_id": _check_id(panel_id, "panel id"), "panel_name": check_name(panel_name),
            "language": language, "members": [Party.from_card(c).to_json() for c in members],
            "recovery": Party.from_card(recovery).to_json() if recovery else None,
            "valid_from": format_utc(valid_from), "valid_until": format_utc(valid_until)}


def mechanism_document(*, card: PublicCard, mechanism_id: str, scope: str, countries: list[str],
                       expires: datetime) -> dict[str, Any]:
    _check_card_role(card, [Role.MECHANISM], card.name)
    if scope not in SCOPES:
        raise ValidationError(N_("The scope must be national or global."))
    codes = sorted({_check_country(c) for c in countries})
    if (scope == "national") != bool(codes):
        raise ValidationError(N_("A national mechanism needs its countries; a global one has none."))
    if _check_id(mechanism_id, "mechanism id") == GLOBAL_MECHANISM_ID and scope != "global":
        raise ValidationError(N_("The mechanism id 'global' is reserved for the global mechanism."))
    return {**_header(MECHANISM), "mechanism_id": mechanism_id, "name": card.name, "scope": scope,
            "countries": codes, "ed25519": card.signing_key.to_base64(), "age_recipient": card.age_recipient,
            "fingerprint": card.fingerprint, "expires": format_utc(expires)}


def enrolment_document(*, card: PublicCard, city_id: str, country: str, mechanism_id: str,
                       expires: datetime, serial: str) -> dict[str, Any]:
    _check_card_role(card, ENROLLABLE_ROLES, card.name)
    return {**_header(ENROLMENT), "serial": _check_id(serial, "serial"), "role": card.role.value,
            "city_name": card.name, "country": _check_country(country), "city_id": _check_id(city_id, "city id"),
            "ed25519": card.signing_key.to_base64(), "age_recipient": card.age_recipient,
            "fingerprint": card.fingerprint, "mechanism_id": _check_id(mechanism_id, "mechanism id"),
            "expires": format_utc(expires)}


def revocations_document(*, sequence: int, entries: list[Revocation]) -> dict[str, Any]:
    if sequence < 1:
        raise ValidationError(N_("A revocation list number starts at 1."))
    for entry in entries:
        if entry.reason not in REVOCATION_REASONS:
            raise ValidationError(N_("Unknown revocation reason {reason}. Use one of: {reasons}."),
                                  reason=entry.reason, reasons=", ".join(REVOCATION_REASONS))
    ordered = sorted({e.fingerprint: e for e in entries}.values(), key=lambda e: e.fingerprint)
    return {**_header(REVOCATIONS), "sequence": sequence, "revoked": [e.to_json() for e in ordered]}


# ---------------------------------------------------------------------------------------------
# verification


def _invalid(what: str, detail: str) -> TrustError:
    return TrustError(N_("{file} is signed but not valid: {detail}."), file=what, detail=detail)


def verify_signed(kind: str, data: bytes, sig_text: str | None, signer: PublicKey, *, what: str) -> dict[str, Any]:
    """Check ``data`` against its signature by ``signer``, then parse it as a document of ``kind``
    (its ``format`` field and the signature's trusted comment must both say so)."""
    if sig_text is None:
        raise TrustError(N_("{file} is not signed: {signature} is missing. Ask the secretariat for the complete "
                            "trust files."), file=what, signature=what + SIG_SUFFIX)
    try:
        comment = signer.verify_bytes(data, sig_text)
    except WrongKeyError as exc:
        raise TrustError(N_("{file} was signed by a key this kit does not trust for it (key {found}; expected "
                            "{expected})."), file=what, found=exc.params.get("found"),
                         expected=signer.key_id_hex) from exc
    except BadSignatureError as exc:
        raise TrustError(N_("{file} was altered after it was signed."), file=what) from exc
    except CryptoError as exc:
        raise TrustError(N_("The signature {signature} is damaged."), signature=what + SIG_SUFFIX) from exc
    try:
        doc = loads_strict(data, what=what)
    except ValidationError as exc:
        raise _invalid(what, exc.message("en")) from exc
    if doc.get("format") != kind or not comment.startswith(f"sdgkit-trust type={kind} "):
        raise TrustError(N_("{file} is not a {kind} file."), file=what, kind=kind)
    if doc.get("format_version") != FORMAT_VERSION:
        raise TrustError(N_("{file} was made by a newer version of the kit (format {version})."), file=what,
                         version=doc.get("format_version"))
    return doc


def verify_document(data: bytes, sig_text: str | None, signer: PublicKey, filename: str, *,
                    what: str) -> dict[str, Any]:
    """Check ``data`` against its signature by ``signer``, then parse it as a ``filename`` document."""
    return verify_signed(KINDS[filename], data, sig_text, signer, what=what)


def _field(doc: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _invalid(what, f"field {name} is missing or has the wrong type")
    return value


def _time(doc: dict[str, Any], name: str, what: str) -> datetime:
    try:
        return parse_utc(doc.get(name), what=name)
    except ValidationError as exc:
        raise _invalid(what, f"field {name} is not a UTC time") from exc


def _party(value: object, role: Role, what: str) -> Party:
    if not isinstance(value, dict):
        raise _invalid(what, "a party entry is not an object")
    try:
        party = Party(name=check_name(value.get("name")), role=role,
                      signing_key=PublicKey.from_string(str(value.get("ed25519"))),
                      age_recipient=parse_recipient(value.get("age_recipient"), what=what))
    except KitError as exc:
        raise _invalid(what, exc.message("en")) from exc
    if value.get("fingerprint") != party.fingerprint or value.get("role", role.value) != role.value:
        raise _invalid(what, f"the fingerprint of {party.name} does not match its key")
    return party


def _check_period(start: datetime, end: datetime, now: datetime, what: str) -> None:
    if now < start:
        raise TrustError(N_("{file} is valid only from {date}. Check this computer's date."), file=what,
                         date=format_utc(start))
    if now > end:
        raise TrustError(N_("{file} expired on {date}. Ask the secretariat for a new one, and check this "
                            "computer's date."), file=what, date=format_utc(end))


def _check_not_revoked(party_name: str, key: PublicKey, revocations: RevocationList | None, what: str) -> None:
    entry = revocations.lookup(key.fingerprint()) if revocations else None
    if entry is not None:
        raise TrustError(N_("The key {fingerprint} ({name}) in {file} was revoked on {date} ({reason})."),
                         fingerprint=entry.fingerprint, name=party_name, file=what, date=format_utc(entry.date),
                         reason=entry.reason)


def check_revocations(data: bytes, sig_text: str | None, *, root: PublicKey, demo: bool = False,
                      what: str = REVOCATIONS) -> RevocationList:
    """Verify a revocation list (it has no validity period: a newer number replaces it)."""
    doc = verify_document(data, sig_text, root, REVOCATIONS, what=what)
    sequence = _field(doc, "sequence", int, what)
    if sequence < 1:
        raise _invalid(what, "the sequence number must be at least 1")
    entries = []
    for item in _field(doc, "revoked", list, what):
        if not isinstance(item, dict) or item.get("reason") not in REVOCATION_REASONS:
            raise _invalid(what, "an entry has no valid reason")
        try:
            fingerprint = normalise_fingerprint(str(item.get("fingerprint")))
        except ValidationError as exc:
            raise _invalid(what, "an entry has no valid fingerprint") from exc
        entries.append(Revocation(fingerprint=fingerprint, reason=item["reason"], date=_time(item, "date", what),
                                  name=str(item.get("name", ""))))
    return RevocationList(sequence=sequence, issued=_time(doc, "issued", what), entries=tuple(entries),
                          sha256=hashlib.sha256(data).hexdigest(), demo=demo)


def parse_recipients(data: bytes, sig_text: str | None, *, root: PublicKey, demo: bool = False,
                     what: str = RECIPIENTS) -> RecipientsFile:
    """Signature and content of a recipients file, without the time, panel and revocation checks."""
    doc = verify_document(data, sig_text, root, RECIPIENTS, what=what)
    members = tuple(_party(m, Role.PANEL_MEMBER, what) for m in _field(doc, "members", list, what))
    if not members:
        raise _invalid(what, "the panel has no members")
    recovery = None if doc.get("recovery") is None else _party(doc["recovery"], Role.RECOVERY, what)
    language = _field(doc, "language", str, what)
    if language not in LANGUAGES:
        raise _invalid(what, f"unknown language {language}")
    return RecipientsFile(panel_id=_field(doc, "panel_id", str, what), panel_name=_field(doc, "panel_name", str, what),
                          language=language, members=members, recovery=recovery,
                          valid_from=_time(doc, "valid_from", what), valid_until=_time(doc, "valid_until", what),
                          issued=_time(doc, "issued", what), sha256=hashlib.sha256(data).hexdigest(), demo=demo)


def check_recipients(data: bytes, sig_text: str | None, *, root: PublicKey, now: datetime | None = None,
                     panel_id: str | None = None, revocations: RevocationList | None = None, demo: bool = False,
                     what: str = RECIPIENTS) -> RecipientsFile:
    """Verify a recipients file for use now; ``panel_id`` (if given) must match."""
    result = parse_recipients(data, sig_text, root=root, demo=demo, what=what)
    if panel_id is not None and result.panel_id != panel_id:
        raise TrustError(N_("{file} is for panel {found}, not for panel {expected}."), file=what,
                         found=result.panel_id, expected=panel_id)
    _check_period(result.valid_from, result.valid_until, now or now_utc(), what)
    for party in result.members + ((result.recovery,) if result.recovery else ()):
        _check_not_revoked(party.name, party.signing_key, revocations, what)
    return result


def check_mechanism(data: bytes, sig_text: str | None, *, root: PublicKey, now: datetime | None = None,
                    revocations: RevocationList | None = None, demo: bool = False,
                    what: str = MECHANISM) -> MechanismCert:
    """Verify a mechanism certificate for use now."""
    doc = verify_document(data, sig_text, root, MECHANISM, what=what)
    party = _party({"name": doc.get("name"), "ed25519": doc.get("ed25519"), "age_recipient": doc.get("age_recipient"),
                    "fingerprint": doc.get("fingerprint")}, Role.MECHANISM, what)
    scope = _field(doc, "scope", str, what)
    countries = tuple(_field(doc, "countries", list, what))
    if scope not in SCOPES or not all(isinstance(c, str) and _COUNTRY_RE.match(c) for c in countries) or \
            (scope == "national") != bool(countries):
        raise _invalid(what, "the scope or the countries are not valid")
    cert = MechanismCert(mechanism_id=_field(doc, "mechanism_id", str, what), name=party.name, scope=scope,
                         countries=countries, signing_key=party.signing_key, age_recipient=party.age_recipient,
                         issued=_time(doc, "issued", what), expires=_time(doc, "expires", what),
                         sha256=hashlib.sha256(data).hexdigest(), demo=demo)
    _check_period(cert.issued, cert.expires, now or now_utc(), what)
    _check_not_revoked(cert.name, cert.signing_key, revocations, what)
    return cert


def check_enrolment(data: bytes, sig_text: str | None, *, root: PublicKey, mechanism: MechanismCert | None,
                    now: datetime | None = None, expected_key: PublicKey | None = None,
                    revocations: RevocationList | None = None, demo: bool = False,
                    what: str = ENROLMENT) -> EnrolmentCert:
    """Verify an enrolment: signed by ``mechanism`` (already verified) or, without one, by the root."""
    signer = mechanism.signing_key if mechanism is not None else root
    doc = verify_document(data, sig_text, signer, ENROLMENT, what=what)
    role = next((r for r in ENROLLABLE_ROLES if r.value == doc.get("role")), None)
    if role is None:
        raise _invalid(what, "the enrolled role is not city or officer")
    party = _party({"name": doc.get("city_name"), "ed25519": doc.get("ed25519"),
                    "age_recipient": doc.get("age_recipient"), "fingerprint": doc.get("fingerprint")}, role, what)
    country = _field(doc, "country", str, what)
    if not _COUNTRY_RE.match(country):
        raise _invalid(what, "the country is not a two-letter ISO code")
    cert = EnrolmentCert(serial=_field(doc, "serial", str, what), role=role, city_name=party.name, country=country,
                         city_id=_field(doc, "city_id", str, what), signing_key=party.signing_key,
                         age_recipient=party.age_recipient, mechanism_id=_field(doc, "mechanism_id", str, what),
                         issued=_time(doc, "issued", what), expires=_time(doc, "expires", what),
                         sha256=hashlib.sha256(data).hexdigest(), demo=demo)
    expected_mechanism = mechanism.mechanism_id if mechanism is not None else GLOBAL_MECHANISM_ID
    if cert.mechanism_id != expected_mechanism:
        raise TrustError(N_("{file} names mechanism {found}, but it was signed by mechanism {expected}."), file=what,
                         found=cert.mechanism_id, expected=expected_mechanism)
    if mechanism is not None and not mechanism.may_enrol(cert.country):
        raise TrustError(N_("{file} enrols a city in {country}, which the mechanism {mechanism} may not certify."),
                         file=what, country=cert.country, mechanism=mechanism.mechanism_id)
    if expected_key is not None and cert.signing_key != expected_key:
        raise TrustError(N_("{file} enrols the key {found}, not this kit's key {expected}."), file=what,
                         found=cert.fingerprint, expected=expected_key.fingerprint())
    _check_period(cert.issued, cert.expires, now or now_utc(), what)
    _check_not_revoked(cert.city_name, cert.signing_key, revocations, what)
    return cert


# ---------------------------------------------------------------------------------------------
# packs


def _read_pair(folder: Path, filename: str) -> tuple[bytes, str | None] | None:
    path = folder / filename
    if not path.is_file():
        return None
    if path.stat().st_size > _MAX_DOCUMENT_BYTES:
        raise _invalid(filename, "the file is too large")
    sig_path = folder / (filename + SIG_SUFFIX)
    try:
        sig_text = read_signature(sig_path) if sig_path.is_file() else None
    except CryptoError as exc:
        raise TrustError(N_("The signature {signature} is damaged."), signature=sig_path.name) from exc
    return path.read_bytes(), sig_text


def _pack_root(folder: Path) -> PublicKey | None:
    path = folder / ROOT_PUB
    if not path.is_file():
        return None
    try:
        return PublicKey.from_file(path)
    except CryptoError as exc:
        raise TrustError(N_("{file} is not a minisign public key."), file=str(path)) from exc


def inspect_trust_pack(folder: Path | str, policy: RootPolicy, *, now: datetime | None = None,
                       own_key: PublicKey | None = None,
                       panel_id: str | None = None) -> tuple[TrustPack, dict[str, TrustError]]:
    """Verify each document in ``folder`` on its own; returns the usable ones and, per file name,
    why the others are not usable. A root that may not be trusted is raised, not collected.

    ``own_key`` is this kit's signing key: an enrolment for another key is refused. ``panel_id``
    (if given) must match the recipients file.
    """
    folder = Path(folder)
    root, demo = policy.choose(_pack_root(folder), folder)
    now = now or now_utc()
    problems: dict[str, TrustError] = {}
    revocations = mechanism = enrolment = recipients = None
    try:
        pair = _read_pair(folder, REVOCATIONS)
        if pair is not None:
            revocations = check_revocations(*pair, root=root, demo=demo)
    except TrustError as exc:
        problems[REVOCATIONS] = exc
    try:
        pair = _read_pair(folder, MECHANISM)
        if pair is not None:
            mechanism = check_mechanism(*pair, root=root, now=now, revocations=revocations, demo=demo)
    except TrustError as exc:
        problems[MECHANISM] = exc
    try:
        pair = _read_pair(folder, ENROLMENT)
        if pair is not None:
            if MECHANISM in problems:
                raise problems[MECHANISM]  # its signer cannot be trusted
            enrolment = check_enrolment(*pair, root=root, mechanism=mechanism, now=now, expected_key=own_key,
                                        revocations=revocations, demo=demo)
    except TrustError as exc:
        problems[ENROLMENT] = exc
    try:
        pair = _read_pair(folder, RECIPIENTS)
        if pair is not None:
            recipients = check_recipients(*pair, root=root, now=now, panel_id=panel_id, revocations=revocations,
                                          demo=demo)
    except TrustError as exc:
        problems[RECIPIENTS] = exc
    pack = TrustPack(folder=folder, root=root, demo=demo, recipients=recipients, mechanism=mechanism,
                     enrolment=enrolment, revocations=revocations)
    return pack, problems


def load_trust_pack(folder: Path | str, policy: RootPolicy, *, now: datetime | None = None,
                    own_key: PublicKey | None = None, panel_id: str | None = None) -> TrustPack:
    """Verify every document present in ``folder``; absent documents are None in the result.

    The first document that is not usable raises its :class:`TrustError` (see
    :func:`inspect_trust_pack` for the checks).
    """
    pack, problems = inspect_trust_pack(folder, policy, now=now, own_key=own_key, panel_id=panel_id)
    for name in DOCUMENTS:
        if name in problems:
            raise problems[name]
    return pack


def _recover_interrupted_swap(target: Path) -> None:
    """Finish or undo an interrupted :func:`import_trust_pack` swap of ``<data>/trust``."""
    staged, previous = target.with_name(target.name + ".new"), target.with_name(target.name + ".old")
    if not target.exists():
        if staged.is_dir():
            replace_with_retry(staged, target)  # staged packs are verified before the swap starts
        elif previous.is_dir():
            replace_with_retry(previous, target)
    for leftover in (staged, previous):
        if leftover.is_dir():
            shutil.rmtree(leftover)


def installed_trust_dir(data_dir: Path | str) -> Path:
    target = Path(data_dir) / "trust"
    _recover_interrupted_swap(target)
    return target


def load_installed(data_dir: Path | str, policy: RootPolicy, **kwargs: Any) -> TrustPack:
    """The trust pack installed in a data folder, verified again (see :func:`load_trust_pack`)."""
    return load_trust_pack(installed_trust_dir(data_dir), policy, **kwargs)


def _installed_for_rollback(target: Path, root: PublicKey) -> tuple[RevocationList | None, RecipientsFile | None]:
    """The installed revocation list and recipients file, if they are under the same root.

    Only signatures and content are checked: an installed file that has since expired must not
    block the import that replaces it.
    """
    if _pack_root(target) != root:
        return None, None
    revocations = recipients = None
    pair = _read_pair(target, REVOCATIONS)
    if pair is not None:
        revocations = check_revocations(*pair, root=root)
    pair = _read_pair(target, RECIPIENTS)
    if pair is not None:
        recipients = parse_recipients(*pair, root=root)
    return revocations, recipients


@dataclass(frozen=True)
class ImportResult:
    """An installed pack, and the kept documents that are no longer usable (with the reason).

    A new revocation list is installed even when it makes a kept document unusable (a revoked
    panel member in the installed recipients file, say): the revocation must win. Using that
    document then fails with the reason until a new one is imported.
    """

    pack: TrustPack
    unusable: dict[str, TrustError]


def import_trust_pack(source: Path | str, data_dir: Path | str, policy: RootPolicy, *, now: datetime | None = None,
                      own_key: PublicKey | None = None) -> ImportResult:
    """Check a trust pack (complete or partial) and install it into ``<data>/trust``.

    Documents in ``source`` replace the installed ones; documents it lacks are kept if the
    installed pack has the same root. Every document in ``source`` must be usable in the merged
    pack before anything installed changes. A revocation list never replaces a newer one, and a
    recipients file for the same panel never replaces a more recently issued one.
    """
    source = Path(source)
    if not source.is_dir():
        raise TrustError(N_("The trust pack {folder} is not a folder."), folder=str(source))
    target = installed_trust_dir(data_dir)
    root, _ = policy.choose(_pack_root(source) or _pack_root(target), source)
    old_revocations, old_recipients = _installed_for_rollback(target, root)
    keep_installed = _pack_root(target) == root

    staged = target.with_name(target.name + ".new")
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    root_file = next((f / ROOT_PUB for f in (source, target) if _pack_root(f) == root), None)
    if root_file is not None:
        copy_file_atomic(root_file, staged / ROOT_PUB)  # keeps its comment (a demo root says so)
    else:
        atomic_write_bytes(staged / ROOT_PUB, root.to_string().encode("ascii"))
    for name in DOCUMENTS:
        origin = source if (source / name).is_file() else target if keep_installed else None
        if origin is None or not (origin / name).is_file():
            continue
        copy_file_atomic(origin / name, staged / name)
        if (origin / (name + SIG_SUFFIX)).is_file():
            copy_file_atomic(origin / (name + SIG_SUFFIX), staged / (name + SIG_SUFFIX))
    try:
        result, problems = inspect_trust_pack(staged, policy, now=now, own_key=own_key)
        for name in DOCUMENTS:
            if name in problems and (source / name).is_file():
                raise problems[name]
        _refuse_rollback(result, old_revocations, old_recipients)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if result.demo:
        atomic_write_bytes(staged / DEMO_MARKER, DEMO_MARKER_TEXT.encode("utf-8"))

    previous = target.with_name(target.name + ".old")
    if target.exists():
        replace_with_retry(target, previous)
    replace_with_retry(staged, target)
    fsync_dir(target.parent)
    if previous.exists():
        shutil.rmtree(previous)
    return ImportResult(pack=TrustPack(folder=target, root=result.root, demo=result.demo, recipients=result.recipients,
                                       mechanism=result.mechanism, enrolment=result.enrolment,
                                       revocations=result.revocations),
                        unusable=problems)


def _refuse_rollback(result: TrustPack, old_revocations: RevocationList | None,
                     old_recipients: RecipientsFile | None) -> None:
    new = result.revocations
    if old_revocations is not None:
        if new is None or new.sequence < old_revocations.sequence:
            raise TrustError(N_("The revocation list {file} (number {new}) is older than the one already installed "
                                "(number {current}); the newer list is kept."), file=REVOCATIONS,
                             new=new.sequence if new else 0, current=old_revocations.sequence)
        if new.sequence == old_revocations.sequence and new.sha256 != old_revocations.sha256:
            raise TrustError(N_("Two different revocation lists carry the same number {number}. Report this to the "
                                "secretariat."), number=new.sequence)
    rnew = result.recipients
    if rnew is not None and old_recipients is not None and rnew.panel_id == old_recipients.panel_id and \
            rnew.issued < old_recipients.issued:
        raise TrustError(N_("{file} for panel {panel} was issued on {new}, before the one already installed "
                            "({current}); the newer file is kept."), file=RECIPIENTS, panel=rnew.panel_id,
                         new=format_utc(rnew.issued), current=format_utc(old_recipients.issued))


# ---------------------------------------------------------------------------------------------
# demo packs


DEMO_PANEL_ID = "demo-panel"
DEMO_ROOT_COMMENT = "SDG Cities Kit DEMO platform root - training only, not for real submissions"


@dataclass(frozen=True)
class DemoTrust:
    """A demo trust pack and the demo parties' secret keys (training and tests only)."""

    folder: Path
    root: KeySet
    panel: tuple[KeySet, ...]
    recovery: KeySet


def build_demo_pack(folder: Path | str, city: PublicCard, *, city_id: str, country: str,
                    panel_size: int = 2, valid_days: int = 365) -> DemoTrust:
    """A complete trust pack under a fresh demo root: a demo panel with a recovery key, the city
    enrolled directly by the demo root (global mechanism) and an empty revocation list.

    It verifies only in demo mode (see :class:`RootPolicy`), so it can never pass for a real pack.
    """
    folder = Path(folder)
    now = now_utc()
    until = now + timedelta(days=valid_days)
    root = KeySet.generate(Role.PLATFORM_ROOT, "DEMO platform root")
    panel = tuple(KeySet.generate(Role.PANEL_MEMBER, f"DEMO reviewer {i + 1}") for i in range(panel_size))
    recovery = KeySet.generate(Role.RECOVERY, "DEMO recovery")
    atomic_write_bytes(folder / ROOT_PUB, root.public_key.to_string(DEMO_ROOT_COMMENT).encode("ascii"))
    write_signed(folder, REVOCATIONS, revocations_document(sequence=1, entries=[]), root.signing_key)
    write_signed(folder, ENROLMENT, enrolment_document(card=city, city_id=city_id, country=country,
                                                       mechanism_id=GLOBAL_MECHANISM_ID, expires=until,
                                                       serial="demo-" + city_id), root.signing_key)
    write_signed(folder, RECIPIENTS, recipients_document(panel_id=DEMO_PANEL_ID, panel_name="DEMO panel",
                                                         language="en", members=[k.card() for k in panel],
                                                         recovery=recovery.card(), valid_from=now,
                                                         valid_until=until), root.signing_key)
    atomic_write_bytes(folder / DEMO_MARKER, DEMO_MARKER_TEXT.encode("utf-8"))
    return DemoTrust(folder=folder, root=root, panel=panel, recovery=recovery)

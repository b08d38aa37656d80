"""What the kit and the platform agree on: signed requests, receipts and two signed documents.

**Signed requests.** Every API request carries ::

    Authorization: SDGKIT-Ed25519 key="<fingerprint>", ts="<unix seconds>", nonce="<32 hex>", sig="<base64>"
    X-Content-SHA256: <hex SHA-256 of the request body>

where ``sig`` is a raw Ed25519 signature by the caller's key over :func:`canonical_request`: a
domain prefix, the method, the raw path with its query, the time, the nonce, the body hash and
the tus headers. The platform accepts a request only if the key is enrolled (a city enrolment, a
courier grant or a panel recipients file, all chaining to the platform root), not revoked, the
time is within :data:`MAX_CLOCK_SKEW` of its own and the nonce was not seen before for that key.

**Receipts.** A receipt is a JSON document signed (minisign, prehashed) by the platform's online
receipt key; that key is certified by the platform root in ``platform-key.json``. The envelope
stored on the stick carries both, so a city can check its receipt offline with nothing but the
root key it already trusts.

**Courier grants.** ``courier.json``, signed by the platform root, lets a field officer's key
carry and sync bundles for the cities it names or for every city in the countries it names. It
gives no right to seal or to read anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from app.bundle.minisign import BadSignatureError, PublicKey, SigningKey
from app.bundle.strict_json import document_bytes, loads_strict
from app.bundle.utctime import format_utc, now_utc, parse_utc
from app.errors import CryptoError, IntegrityError, KitError, TrustError, ValidationError
from app.i18n import N_

PROTOCOL_VERSION = 1
API = "/api/v1"
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
TUS_CONTENT_TYPE = "application/offset+octet-stream"

AUTH_SCHEME = "SDGKIT-Ed25519"
AUTH_CONTEXT = b"sdgkit-request-v1\n"
BODY_HASH_HEADER = "x-content-sha256"
SIGNED_HEADERS = ("content-type", "tus-resumable", "upload-length", "upload-metadata", "upload-offset", "range")
MAX_CLOCK_SKEW = 300  # seconds either way
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

RECEIPT_FORMAT = "sdgkit-receipt"
RECEIPT_ENVELOPE_FORMAT = "sdgkit-receipt-envelope"
PLATFORM_KEY_FORMAT = "sdgkit-platform-key"
PLATFORM_KEY_FILE = "platform-key.json"
COURIER_FORMAT = "sdgkit-courier-grant"
COURIER_FILE = "courier.json"
SIG_SUFFIX = ".minisig"
FORMAT_VERSION = 1

_HEX = re.compile(r"^[0-9a-f]+$")
_AUTH_PARAM = re.compile(r'([a-z]+)="([^"]*)"')
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class SyncError(KitError):
    """Sync could not finish now; what was done is kept and the next sync goes on from there."""

    exit_code = 6
    code = "sync"


class PlatformRefused(SyncError):
    """The platform answered with a definite no (not a passing failure): retrying will not help."""

    code = "refused"

    def __init__(self, msgid: str, *, status: int = 0, error: str = "", **params: object) -> None:
        super().__init__(msgid, **params)
        self.status = status
        self.error = error


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


# ---------------------------------------------------------------------------------------------
# request signatures


def canonical_request(method: str, raw_path: str, ts: int, nonce: str, body_sha256: str,
                      headers: Mapping[str, str]) -> bytes:
    """The exact bytes a request signature covers. ``raw_path`` is the path as sent, with ``?query``."""
    lower = {k.lower(): v for k, v in headers.items()}
    lines = [method.upper(), raw_path, str(ts), nonce, body_sha256]
    lines += [f"{h}:{str(lower.get(h, '')).strip()}" for h in SIGNED_HEADERS]
    return AUTH_CONTEXT + "\n".join(lines).encode("utf-8")


def sign_request(key: SigningKey, method: str, raw_path: str, headers: Mapping[str, str], body_sha256: str, *,
                 now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The two headers that authenticate one request."""
    ts = int(time.time() if now is None else now)
    nonce = nonce or secrets.token_hex(16)
    sig = key.sign_detached(canonical_request(method, raw_path, ts, nonce, body_sha256, headers))
    fp = key.public_key().fingerprint()
    return {"Authorization": f'{AUTH_SCHEME} key="{fp}", ts="{ts}", nonce="{nonce}", sig="{b64(sig)}"',
            "X-Content-SHA256": body_sha256}


@dataclass(frozen=True)
class RequestAuth:
    fingerprint: str
    ts: int
    nonce: str
    signature: bytes
    body_sha256: str


def parse_authorization(value: str | None, body_sha256: str | None) -> RequestAuth | None:
    """The parts of an ``Authorization`` header, or None when it is missing or malformed."""
    if not value or not value.startswith(AUTH_SCHEME + " "):
        return None
    params = dict(_AUTH_PARAM.findall(value[len(AUTH_SCHEME) + 1:]))
    try:
        ts = int(params["ts"])
        nonce = params["nonce"]
        sig = unb64(params["sig"])
        fp = params["key"]
    except (KeyError, ValueError):
        return None
    if len(nonce) != 32 or not _HEX.match(nonce) or len(sig) != 64 or len(fp) > 32:
        return None
    body = (body_sha256 or "").strip().lower()
    if len(body) != 64 or not _HEX.match(body):
        return None
    return RequestAuth(fingerprint=fp, ts=ts, nonce=nonce, signature=sig, body_sha256=body)


def verify_request(auth: RequestAuth, key: PublicKey, method: str, raw_path: str,
                   headers: Mapping[str, str]) -> bool:
    try:
        key.verify_detached(canonical_request(method, raw_path, auth.ts, auth.nonce, auth.body_sha256, headers),
                            auth.signature)
    except BadSignatureError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# signed documents of the platform (same shape as app.bundle.trust's: JSON + .minisig)


def _doc_comment(kind: str, doc: Mapping[str, Any], signer: PublicKey) -> str:
    return f"sdgkit-trust type={kind} issued={doc['issued']} signer={signer.fingerprint()}"


def sign_document(kind: str, doc: dict[str, Any], key: SigningKey) -> tuple[bytes, str]:
    data = document_bytes(doc)
    return data, key.sign_bytes(data, _doc_comment(kind, doc, key.public_key()))


def verify_document(kind: str, data: bytes, sig_text: str | None, signer: PublicKey, *, what: str) -> dict[str, Any]:
    from app.bundle.trust import verify_signed

    return verify_signed(kind, data, sig_text, signer, what=what)


def _time_field(doc: Mapping[str, Any], name: str, what: str) -> datetime:
    try:
        return parse_utc(doc.get(name), what=name)
    except ValidationError as exc:
        raise TrustError(N_("{file} is signed but not valid: {detail}."), file=what,
                         detail=f"field {name} is not a UTC time") from exc


def _key_field(doc: Mapping[str, Any], what: str) -> PublicKey:
    try:
        key = PublicKey.from_string(str(doc.get("ed25519")))
    except KitError as exc:
        raise TrustError(N_("{file} is signed but not valid: {detail}."), file=what, detail="bad key") from exc
    if doc.get("fingerprint") != key.fingerprint():
        raise TrustError(N_("{file} is signed but not valid: {detail}."), file=what,
                         detail="the fingerprint does not match the key")
    return key


def _check_revoked(key: PublicKey, name: str, revocations: Any, what: str) -> None:
    entry = revocations.lookup(key.fingerprint()) if revocations is not None else None
    if entry is not None:
        raise TrustError(N_("The key {fingerprint} ({name}) in {file} was revoked on {date} ({reason})."),
                         fingerprint=entry.fingerprint, name=name, file=what, date=format_utc(entry.date),
                         reason=entry.reason)


# -- the platform's receipt key, certified by the root ---------------------------------------------


@dataclass(frozen=True)
class PlatformKeyCert:
    key: PublicKey
    platform_name: str
    purpose: str
    issued: datetime
    expires: datetime
    data: bytes
    signature: str

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint()


def platform_key_document(key: PublicKey, *, platform_name: str, valid_days: int = 3 * 365) -> dict[str, Any]:
    issued = now_utc()
    return {"format": PLATFORM_KEY_FORMAT, "format_version": FORMAT_VERSION, "issued": format_utc(issued),
            "expires": format_utc(issued + timedelta(days=valid_days)), "purpose": "receipts",
            "platform_name": platform_name, "ed25519": key.to_base64(), "fingerprint": key.fingerprint()}


def check_platform_key(data: bytes, sig_text: str | None, *, root: PublicKey, revocations: Any = None,
                       at: datetime | None = None, what: str = PLATFORM_KEY_FILE) -> PlatformKeyCert:
    doc = verify_document(PLATFORM_KEY_FORMAT, data, sig_text, root, what=what)
    key = _key_field(doc, what)
    if doc.get("purpose") != "receipts":
        raise TrustError(N_("{file} is signed but not valid: {detail}."), file=what, detail="not a receipt key")
    cert = PlatformKeyCert(key=key, platform_name=str(doc.get("platform_name", "")), purpose="receipts",
                           issued=_time_field(doc, "issued", what), expires=_time_field(doc, "expires", what),
                           data=data, signature=sig_text or "")
    moment = at or now_utc()
    if not cert.issued - timedelta(seconds=MAX_CLOCK_SKEW) <= moment <= cert.expires:
        raise TrustError(N_("The platform's receipt key was not valid at {date}."), date=format_utc(moment))
    _check_revoked(key, cert.platform_name, revocations, what)
    return cert


# -- courier grants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourierGrant:
    name: str
    key: PublicKey
    serial: str
    countries: tuple[str, ...]
    city_ids: tuple[str, ...]
    issued: datetime
    expires: datetime

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint()

    def covers(self, city_id: str, country: str) -> bool:
        return city_id in self.city_ids or country in self.countries


def courier_document(*, name: str, key: PublicKey, age_recipient: str, countries: list[str], city_ids: list[str],
                     expires: datetime, serial: str | None = None) -> dict[str, Any]:
    codes = sorted({c.upper() for c in countries})
    if not codes and not city_ids:
        raise ValidationError(N_("A courier grant needs at least one --country or --city-id."))
    for c in codes:
        if not _COUNTRY_RE.match(c):
            raise ValidationError(N_("{value} is not a two-letter ISO country code in capitals."), value=c)
    for cid in city_ids:
        if not _ID_RE.match(cid):
            raise ValidationError(N_("{what} must be 1 to 64 letters, digits, dots, dashes or underscores."),
                                  what="city id")
    return {"format": COURIER_FORMAT, "format_version": FORMAT_VERSION, "issued": format_utc(now_utc()),
            "expires": format_utc(expires), "serial": serial or secrets.token_hex(8), "role": "officer",
            "name": name, "ed25519": key.to_base64(), "fingerprint": key.fingerprint(),
            "age_recipient": age_recipient, "countries": codes, "city_ids": sorted(set(city_ids))}


def check_courier_grant(data: bytes, sig_text: str | None, *, root: PublicKey, revocations: Any = None,
                        now: datetime | None = None, what: str = COURIER_FILE) -> CourierGrant:
    doc = verify_document(COURIER_FORMAT, data, sig_text, root, what=what)
    key = _key_field(doc, what)
    countries, city_ids = doc.get("countries"), doc.get("city_ids")
    if not isinstance(countries, list) or not isinstance(city_ids, list) or \
            not all(isinstance(c, str) and _COUNTRY_RE.match(c) for c in countries) or \
            not all(isinstance(c, str) for c in city_ids) or doc.get("role") != "officer":
        raise TrustError(N_("{file} is signed but not valid: {detail}."), file=what, detail="bad scope")
    grant = CourierGrant(name=str(doc.get("name", "")), key=key, serial=str(doc.get("serial", "")),
                         countries=tuple(countries), city_ids=tuple(city_ids),
                         issued=_time_field(doc, "issued", what), expires=_time_field(doc, "expires", what))
    moment = now or now_utc()
    if moment > grant.expires:
        raise TrustError(N_("{file} expired on {date}. Ask the secretariat for a new one, and check this "
                            "computer's date."), file=what, date=format_utc(grant.expires))
    _check_revoked(key, grant.name, revocations, what)
    return grant


# ---------------------------------------------------------------------------------------------
# receipts


def receipt_comment(bundle_id: str, sums_sha256: str) -> str:
    return f"sdgkit-receipt bundle={bundle_id} sums={sums_sha256}"


def make_receipt(doc: dict[str, Any], key: SigningKey, cert: PlatformKeyCert) -> str:
    """The receipt envelope text for ``doc``, signed by the receipt key."""
    data = document_bytes(doc)
    sig = key.sign_bytes(data, receipt_comment(doc["bundle_id"], doc["sums_sha256"]),
                         untrusted_comment="receipt from the SDG Cities platform")
    envelope = {"format": RECEIPT_ENVELOPE_FORMAT, "format_version": FORMAT_VERSION, "receipt": b64(data),
                "signature": sig, "platform_key": b64(cert.data), "platform_key_signature": cert.signature}
    return document_bytes(envelope).decode("utf-8")


@dataclass(frozen=True)
class Receipt:
    doc: dict[str, Any]
    text: str
    platform_key: PlatformKeyCert

    @property
    def bundle_id(self) -> str:
        return self.doc["bundle_id"]

    @property
    def sums_sha256(self) -> str:
        return self.doc["sums_sha256"]

    @property
    def received_at(self) -> str:
        return self.doc["received_at"]

    @property
    def current(self) -> bool:
        return bool(self.doc.get("current", True))


def verify_receipt(text: str | bytes, *, root: PublicKey, revocations: Any = None, bundle_id: str | None = None,
                   sums_sha256: str | None = None) -> Receipt:
    """Check a receipt envelope: the key certificate by ``root``, the receipt by that key, and that it
    is for ``bundle_id`` with ``sums_sha256`` (when given). Raises :class:`IntegrityError`."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        env = loads_strict(raw, what="receipt")
        if env.get("format") != RECEIPT_ENVELOPE_FORMAT or env.get("format_version") != FORMAT_VERSION:
            raise ValueError("format")
        data = unb64(env["receipt"])
        cert_data = unb64(env["platform_key"])
        sig, cert_sig = env["signature"], env["platform_key_signature"]
        if not isinstance(sig, str) or not isinstance(cert_sig, str):
            raise ValueError("signature")
    except (ValidationError, ValueError, KeyError):
        raise IntegrityError(N_("The receipt is damaged or is not a platform receipt.")) from None
    try:
        doc = loads_strict(data, what="receipt")
        received = parse_utc(doc.get("received_at"), what="received_at")
    except ValidationError:
        raise IntegrityError(N_("The receipt is damaged or is not a platform receipt.")) from None
    cert = check_platform_key(cert_data, cert_sig, root=root, revocations=revocations, at=received)
    try:
        comment = cert.key.verify_bytes(data, sig)
    except CryptoError:
        raise IntegrityError(N_("The receipt's signature does not match: it was altered or not issued by the "
                                "platform.")) from None
    if doc.get("format") != RECEIPT_FORMAT or doc.get("format_version") != FORMAT_VERSION or \
            comment != receipt_comment(str(doc.get("bundle_id")), str(doc.get("sums_sha256"))):
        raise IntegrityError(N_("The receipt is damaged or is not a platform receipt."))
    if bundle_id is not None and doc.get("bundle_id") != bundle_id or \
            sums_sha256 is not None and doc.get("sums_sha256") != sums_sha256:
        raise IntegrityError(N_("The receipt is for another bundle or for other bytes than this one."))
    return Receipt(doc=doc, text=raw.decode("utf-8"), platform_key=cert)

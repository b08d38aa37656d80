"""The platform intake service: negotiate, tus 1.0 uploads, atomic idempotent commit with a
signed receipt, downloads with HTTP Range for panels, a mailbox per city, signed trust lists.

The logic lives in :class:`Platform` (plain methods, run in worker threads); :func:`create_app`
puts a Starlette application around it and :class:`ServerThread` / :func:`serve` run it on
uvicorn. ``docs/sync-protocol.md`` is the specification.

Platform folder ::

    platform.json           settings (name, limits, quotas)
    platform.db             SQLite state (unless --db names another database)
    trust/                  the installed trust pack (root.pub, revocations, recipients, enrolment)
    registry/               further signed documents: enrolments (+ mechanism certificates),
                            courier grants, recipients files of other panels
    keys/receipt.key        the online receipt-signing key (minisign secret key, file mode 0600)
    keys/platform-key.json  its certificate by the platform root (+ .minisig)
    objects/ab/<sha256>     objects, stored once, content-addressed by the SHA-256 of their ciphertext
    uploads/<id>            tus uploads in progress
    incoming/<bundle id>/   the small files of a negotiated bundle (manifest, sums, signature, trust)
    bundles/<bundle id>/    committed bundles, complete and verified (objects hard-linked)
    quarantine/<id>/        conflicting bundles' small files, kept for the secretariat
    mailbox/<city id>/<id>  review results for a city
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.model.db import unit_of_work
from app.bundle import bundle as bmod
from app.bundle import trust as trustmod
from app.bundle.minisign import PublicKey, SigningKey
from app.bundle.pathrules import check_member_path, safe_name
from app.bundle.strict_json import loads_strict
from app.bundle.submit import trust_root_for, verify_trusted
from app.bundle.utctime import format_utc, now_utc
from app.errors import KitError, TrustError, UserInputError
from app.fsutil import atomic_write_bytes, fsync_dir, replace_with_retry
from app.i18n import N_
from app.sync import platform_db as db
from app.sync import protocol as proto

log = logging.getLogger("sdgkit.platform")

SETTINGS_FILE = "platform.json"
RECEIPT_KEY_FILE = "receipt.key"
TRUST_NAMES = (trustmod.ROOT_PUB, trustmod.REVOCATIONS, trustmod.REVOCATIONS + trustmod.SIG_SUFFIX,
               trustmod.RECIPIENTS, trustmod.RECIPIENTS + trustmod.SIG_SUFFIX,
               proto.PLATFORM_KEY_FILE, proto.PLATFORM_KEY_FILE + proto.SIG_SUFFIX)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SUMS_LINE = re.compile(r"^([0-9a-f]{64})  ([^\n]+)$")
_BLOCK = 1 << 20


@dataclass
class PlatformSettings:
    """Limits and quotas. Quotas are per calling key (fingerprint)."""

    name: str = "SDG Cities platform"
    max_bundle_bytes: int = 16 << 30
    max_chunk_bytes: int = 8 << 20
    max_negotiate_bytes: int = 48 << 20
    max_result_bytes: int = 64 << 20
    pending_quota_bytes: int = 32 << 30  # negotiated, not yet committed
    stored_quota_bytes: int = 256 << 30  # committed by this key
    max_active_uploads: int = 64
    upload_expiry_seconds: int = 7 * 86400
    pending_expiry_seconds: int = 30 * 86400  # a negotiation untouched this long is abandoned
    idle_timeout_seconds: float = 60.0  # a PATCH whose body stops arriving for this long is closed
    clock_skew_seconds: int = proto.MAX_CLOCK_SKEW
    cleanup_interval_seconds: float = 300.0

    @classmethod
    def load(cls, folder: Path) -> "PlatformSettings":
        path = folder / SETTINGS_FILE
        if not path.is_file():
            return cls()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UserInputError(N_("{what} is not valid JSON: {detail}"), what=str(path), detail=str(exc)) from None
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def save(self, folder: Path) -> None:
        atomic_write_bytes(folder / SETTINGS_FILE, (json.dumps(asdict(self), indent=2) + "\n").encode("utf-8"))


class ApiError(Exception):
    """An answer other than success: HTTP status, a stable code, an English message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


# ---------------------------------------------------------------------------------------------
# who may call: the registry of enrolled keys


@dataclass
class Principal:
    fingerprint: str
    key: PublicKey
    name: str
    cities: dict[str, str] = field(default_factory=dict)  # city id -> country (the city's own keys)
    couriers: list[proto.CourierGrant] = field(default_factory=list)
    panels: set[str] = field(default_factory=set)

    @property
    def roles(self) -> list[str]:
        return [r for r, on in (("city", self.cities), ("officer", self.couriers), ("panel_member", self.panels)) if on]

    def may_carry(self, city_id: str, country: str) -> bool:
        """May send bundles of this city and read its receipts and mailbox."""
        return city_id in self.cities or any(g.covers(city_id, country) for g in self.couriers)


@dataclass
class Registry:
    root: PublicKey
    demo: bool
    revocations: trustmod.RevocationList | None
    principals: dict[str, Principal]
    problems: dict[str, str]


def _read_pair(path: Path) -> tuple[bytes, str | None]:
    sig = path.with_name(path.name + trustmod.SIG_SUFFIX)
    return path.read_bytes(), (sig.read_text(encoding="utf-8") if sig.is_file() else None)


def load_registry(folder: Path) -> Registry:
    """Every usable signed document of the platform folder, turned into callers and their rights."""
    demo = (folder / "trust" / trustmod.DEMO_MARKER).is_file()
    root, demo, revocations = trust_root_for(None, folder / "trust", demo)
    principals: dict[str, Principal] = {}
    problems: dict[str, str] = {}

    def principal(key: PublicKey, name: str) -> Principal:
        return principals.setdefault(key.fingerprint(), Principal(fingerprint=key.fingerprint(), key=key, name=name))

    docs: list[tuple[str, bytes, str | None]] = []
    for p in sorted((folder / "trust").glob("*.json")):
        docs.append((f"trust/{p.name}", *_read_pair(p)))
    reg_dir = folder / "registry"
    if reg_dir.is_dir():
        for p in sorted(reg_dir.glob("*.json")):
            docs.append((f"registry/{p.name}", *_read_pair(p)))
    mechanisms: dict[str, trustmod.MechanismCert] = {}
    for what, data, sig in docs:
        try:
            if loads_strict(data, what=what).get("format") == trustmod.KINDS[trustmod.MECHANISM]:
                cert = trustmod.check_mechanism(data, sig, root=root, revocations=revocations, demo=demo, what=what)
                mechanisms[cert.mechanism_id] = cert
        except KitError as exc:
            problems[what] = exc.message("en")
    for what, data, sig in docs:
        try:
            kind = loads_strict(data, what=what).get("format")
            if kind == trustmod.KINDS[trustmod.ENROLMENT]:
                mech_id = loads_strict(data, what=what).get("mechanism_id")
                mech = None if mech_id == trustmod.GLOBAL_MECHANISM_ID else mechanisms.get(str(mech_id))
                if mech_id != trustmod.GLOBAL_MECHANISM_ID and mech is None:
                    raise TrustError(N_("{file} was issued by the mechanism {mechanism}, whose certificate the "
                                        "platform does not have. Register its mechanism.json first."), file=what,
                                     mechanism=str(mech_id))
                cert = trustmod.check_enrolment(data, sig, root=root, mechanism=mech, revocations=revocations,
                                                demo=demo, what=what)
                # a city key, or an officer enrolled to seal for that city: both send its bundles
                principal(cert.signing_key, cert.city_name).cities[cert.city_id] = cert.country
            elif kind == proto.COURIER_FORMAT:
                grant = proto.check_courier_grant(data, sig, root=root, revocations=revocations, what=what)
                principal(grant.key, grant.name).couriers.append(grant)
            elif kind == trustmod.KINDS[trustmod.RECIPIENTS]:
                rec = trustmod.check_recipients(data, sig, root=root, revocations=revocations, demo=demo, what=what)
                for m in rec.members:
                    principal(m.signing_key, m.name).panels.add(rec.panel_id)
        except KitError as exc:
            problems[what] = exc.message("en")
    return Registry(root=root, demo=demo, revocations=revocations, principals=principals, problems=problems)


# ---------------------------------------------------------------------------------------------
# the bundle's small files, checked without its objects


@dataclass
class Presented:
    """A bundle as presented at negotiate: checked signature, manifest, trust."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    sums_sha256: str
    submitter: PublicKey
    enrolment: trustmod.EnrolmentCert
    objects: list[tuple[str, int]]
    size: int


def _parse_sums(data: bytes) -> dict[str, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "bundle_invalid", "SHA256SUMS is not a checksum list") from None
    if not text.endswith("\n"):
        raise ApiError(422, "bundle_invalid", "SHA256SUMS is not a checksum list")
    entries: dict[str, str] = {}
    for line in text[:-1].split("\n"):
        m = _SUMS_LINE.match(line)
        if not m or m.group(2) in entries:
            raise ApiError(422, "bundle_invalid", "SHA256SUMS is not a checksum list")
        try:
            check_member_path(m.group(2))  # these names become file names on the platform
        except KitError:
            raise ApiError(422, "bundle_invalid", "SHA256SUMS names a file outside the bundle") from None
        entries[m.group(2)] = m.group(1)
    if list(entries) != sorted(entries, key=lambda n: n.encode()):
        raise ApiError(422, "bundle_invalid", "SHA256SUMS is not in canonical order")
    return entries


def small_file_names(sums: dict[str, str]) -> list[str]:
    return sorted(n for n in sums if not n.startswith(bmod.OBJECTS_DIR + "/"))


def segment_names(object_id: str, count: int) -> list[str]:
    base = f"{bmod.OBJECTS_DIR}/{object_id[:2]}/{object_id}.age"
    return [base] if count == 1 else [f"{base}.{i:03d}" for i in range(count)]


# ---------------------------------------------------------------------------------------------
# the service's logic


class Platform:
    def __init__(self, folder: Path | str, *, db_url: str | None = None, settings: PlatformSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder).resolve()
        if not (self.folder / "trust" / trustmod.ROOT_PUB).is_file():
            raise UserInputError(N_("{path} is not a platform folder. Create one with 'sdgkit platform init'."),
                                 path=str(self.folder))
        self.settings = settings or PlatformSettings.load(self.folder)
        self.clock = clock
        for sub in ("objects", "uploads", "incoming", "bundles", "quarantine", "mailbox", "registry"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.db_url = db_url or f"sqlite:///{self.folder / 'platform.db'}"
        self.engine = db.open_engine(self.db_url, backup=self._backup_database)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer: serialise write transactions here instead of meeting SQLITE_BUSY.
        self._write_lock: Any = threading.RLock() if self.db_url.startswith("sqlite") else nullcontext()
        self.receipt_key = SigningKey.from_minisign_secret(
            (self.folder / "keys" / RECEIPT_KEY_FILE).read_text(encoding="utf-8"), None)
        cert_path = self.folder / "keys" / proto.PLATFORM_KEY_FILE
        data, sig = _read_pair(cert_path)
        self._registry_lock = threading.Lock()
        self._registry: Registry | None = None
        self._registry_stamp: tuple[Any, ...] = ()
        self._registry_checked = 0.0
        reg = self.registry()
        self.receipt_cert = proto.check_platform_key(data, sig, root=reg.root, revocations=reg.revocations)
        if self.receipt_cert.key != self.receipt_key.public_key():
            raise TrustError(N_("The platform's receipt key does not match its certificate {file}."),
                             file=str(cert_path))
        self.demo = reg.demo

    # -- plumbing --------------------------------------------------------------------------------
    def _backup_database(self) -> None:
        """Before a SQLite platform database is upgraded: a consistent copy in backups/."""
        if not self.db_url.startswith("sqlite:///"):
            return  # PostgreSQL: pg_dump is the administrator's, and the upgrade is one transaction
        from app.model.db import backup_database

        path = Path(self.db_url.removeprefix("sqlite:///"))
        if path.is_file():
            backup_database(path, self.folder / "backups", "before-upgrade", prefix="platform")

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        with unit_of_work(self._sessions, self._write_lock if write else None) as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()

    def registry(self) -> Registry:
        """The registry, reloaded when a file in trust/ or registry/ changed (checked every 2 s)."""
        now = time.monotonic()
        with self._registry_lock:
            if self._registry is not None and now - self._registry_checked < 2.0:
                return self._registry
            self._registry_checked = now
            stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                          for d in (self.folder / "trust", self.folder / "registry") if d.is_dir()
                          for p in sorted(d.iterdir()))
            if self._registry is None or stamp != self._registry_stamp:
                self._registry = load_registry(self.folder)
                self._registry_stamp = stamp
                for what, why in self._registry.problems.items():
                    log.warning("registry: %s not used: %s", what, why)
            return self._registry

    def event(self, s: Session, kind: str, bundle_id: str | None, actor: str | None, **detail: Any) -> None:
        s.add(db.PEvent(kind=kind, bundle_id=bundle_id, actor_fp=actor,
                        detail=json.dumps(detail, sort_keys=True) if detail else None))

    # -- authentication ------------------------------------------------------------------------
    def authenticate(self, method: str, raw_path: str, headers: dict[str, str]) -> tuple[Principal, proto.RequestAuth]:
        auth = proto.parse_authorization(headers.get("authorization"), headers.get(proto.BODY_HASH_HEADER))
        if auth is None:
            raise ApiError(401, "unauthenticated", "this request is not signed by a kit key")
        reg = self.registry()
        if reg.revocations is not None and reg.revocations.lookup(auth.fingerprint) is not None:
            raise ApiError(403, "revoked", f"the key {auth.fingerprint} was revoked")
        principal = reg.principals.get(auth.fingerprint)
        if principal is None:
            raise ApiError(401, "unknown_key", f"the key {auth.fingerprint} is not enrolled with this platform")
        if not proto.verify_request(auth, principal.key, method, raw_path, headers):
            raise ApiError(401, "bad_signature", "the request signature does not match")
        now = int(self.clock())
        if abs(now - auth.ts) > self.settings.clock_skew_seconds:
            raise ApiError(401, "clock_skew", "the request time is too far from the platform's time",
                           server_time=now)
        try:
            with self.session() as s:
                s.add(db.PNonce(fingerprint=auth.fingerprint, nonce=auth.nonce, ts=auth.ts))
        except DBIntegrityError:
            raise ApiError(401, "replayed", "this request was already received once") from None
        return principal, auth

    # -- negotiate -----------------------------------------------------------------------------
    def _present(self, bundle_id: str, files: dict[str, bytes]) -> Presented:
        for name in (bmod.MANIFEST, bmod.SUMS, bmod.SUMS_SIG, bmod.CITY_PUB):
            if name not in files:
                raise ApiError(422, "bundle_incomplete", f"{name} is missing")
        try:
            key = PublicKey.from_string(files[bmod.CITY_PUB].decode("utf-8"))
            comment = key.verify_bytes(files[bmod.SUMS], files[bmod.SUMS_SIG].decode("utf-8"))
        except (KitError, UnicodeDecodeError):
            raise ApiError(422, "bad_bundle_signature", "the bundle's signature does not match city.pub") from None
        sums = _parse_sums(files[bmod.SUMS])
        wanted = small_file_names(sums)
        extra = sorted(set(files) - set(wanted) - {bmod.SUMS, bmod.SUMS_SIG})
        if extra:
            raise ApiError(422, "bundle_invalid", f"{extra[0]} is not covered by SHA256SUMS")
        for name in wanted:
            if name not in files:
                raise ApiError(422, "bundle_incomplete", f"{name} is missing")
            if proto.sha256_hex(files[name]) != sums[name]:
                raise ApiError(422, "bundle_altered", f"{name} does not match SHA256SUMS")
        try:
            m = loads_strict(files[bmod.MANIFEST], what=bmod.MANIFEST)
        except KitError:
            raise ApiError(422, "bundle_invalid", "bundle.json is not valid JSON") from None
        ok = (m.get("format") == bmod.FORMAT and m.get("format_version") == bmod.FORMAT_VERSION
              and m.get("bundle_id") == bundle_id and isinstance(m.get("submission_id"), str)
              and _HEX32.match(m["submission_id"]) and isinstance(m.get("revision"), int)
              and not isinstance(m.get("revision"), bool) and m["revision"] >= 1
              and isinstance(m.get("stage"), str) and isinstance(m.get("city_id"), str)
              and isinstance(m.get("submitter"), dict) and m["submitter"].get("ed25519") == key.to_base64())
        if not ok:
            raise ApiError(422, "bundle_invalid", "bundle.json does not describe this signed bundle")
        if comment != bmod.trusted_comment(bundle_id, m["submission_id"], m["revision"], m["stage"], m["city_id"]):
            raise ApiError(422, "bundle_invalid", "the signature was made for another bundle or revision")
        objects: list[tuple[str, int]] = []
        listed: set[str] = set()
        objs = m.get("objects")
        if not isinstance(objs, list) or not objs:
            raise ApiError(422, "bundle_invalid", "bundle.json lists no objects")
        for o in objs:
            if not isinstance(o, dict) or not isinstance(o.get("id"), str) or not _HEX64.match(o["id"]) or \
                    not isinstance(o.get("size"), int) or o["size"] < 1 or not isinstance(o.get("segments"), list) \
                    or not o["segments"]:
                raise ApiError(422, "bundle_invalid", "bundle.json lists a damaged object")
            names = segment_names(o["id"], len(o["segments"]))
            if [s.get("name") if isinstance(s, dict) else None for s in o["segments"]] != names or \
                    any(n not in sums for n in names) or \
                    sum(int(s.get("size", 0)) for s in o["segments"]) != o["size"]:
                raise ApiError(422, "bundle_invalid", "the segments of an object are out of order or missing")
            listed.update(names)
            objects.append((o["id"], o["size"]))
        if {n for n in sums if n.startswith(bmod.OBJECTS_DIR + "/")} != listed or \
                len({o for o, _ in objects}) != len(objects):
            raise ApiError(422, "bundle_invalid", "SHA256SUMS and bundle.json list different objects")
        size = sum(s for _, s in objects)
        if size > self.settings.max_bundle_bytes:
            raise ApiError(413, "too_large", f"the bundle is larger than this platform accepts "
                                             f"({self.settings.max_bundle_bytes} bytes)")
        # trust: the enrolment it carries, against this platform's root and revocation list
        reg = self.registry()
        if m.get("demo") is True and not reg.demo:
            raise ApiError(422, "demo_bundle", "this is a demo bundle: it cannot be submitted")
        trust = {n.split("/", 1)[1]: files[n] for n in files if n.startswith(bmod.TRUST_DIR + "/")}
        try:
            mech = None
            if trustmod.MECHANISM in trust:
                mech = trustmod.check_mechanism(trust[trustmod.MECHANISM], _sig(trust, trustmod.MECHANISM),
                                                root=reg.root, revocations=reg.revocations, demo=reg.demo,
                                                what="trust/mechanism.json")
            if trustmod.ENROLMENT not in trust:
                raise TrustError(N_("The bundle carries no enrolment certificate, so nobody can tell which city "
                                    "sealed it."))
            enrolment = trustmod.check_enrolment(trust[trustmod.ENROLMENT], _sig(trust, trustmod.ENROLMENT),
                                                 root=reg.root, mechanism=mech, expected_key=key,
                                                 revocations=reg.revocations, demo=reg.demo,
                                                 what="trust/enrolment.json")
        except TrustError as exc:
            code = "revoked_signer" if "revoked" in exc.msgid else "untrusted_signer"
            raise ApiError(422, code, exc.message("en")) from None
        if enrolment.city_id != m["city_id"]:
            raise ApiError(422, "untrusted_signer", "the bundle's enrolment is for another city")
        return Presented(files=files, manifest=m, sums_sha256=proto.sha256_hex(files[bmod.SUMS]), submitter=key,
                         enrolment=enrolment, objects=objects, size=size)

    def _owned(self, s: Session, city_id: str, object_ids: list[str]) -> set[str]:
        if not object_ids:
            return set()
        rows = s.execute(select(db.PObjectOwner.object_id).where(db.PObjectOwner.city_id == city_id,
                                                                 db.PObjectOwner.object_id.in_(object_ids))).scalars()
        return {o for o in rows if self.object_present(o)}

    def object_path(self, object_id: str) -> Path:
        return self.folder / "objects" / object_id[:2] / object_id

    # An object larger than one segment is kept once: after the first bundle holding it is
    # committed, its segments in bundles/<id>/ are its only copy and objects/<aa>/<id>.in names
    # that bundle (a single-segment object is a hard link and costs nothing twice).
    def _home_pointer(self, object_id: str) -> Path:
        return self.object_path(object_id).with_name(object_id + ".in")

    def folded_segments(self, object_id: str) -> list[Path] | None:
        """The segment files, in order, of an object kept only inside a committed bundle."""
        try:
            bundle_id = self._home_pointer(object_id).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        home = self.folder / "bundles" / bundle_id
        if not _HEX32.match(bundle_id) or not (home / bmod.MANIFEST).is_file():
            return None
        try:
            manifest = json.loads((home / bmod.MANIFEST).read_bytes())
            entry = next(o for o in manifest["objects"] if o["id"] == object_id)
            paths = [home / seg["name"] for seg in entry["segments"]]
        except (ValueError, KeyError, StopIteration, TypeError):
            return None
        return paths if all(p.is_file() for p in paths) else None

    def object_present(self, object_id: str) -> bool:
        return self.object_path(object_id).is_file() or self.folded_segments(object_id) is not None

    def _newest_revision(self, s: Session, submission_id: str, exclude: str | None = None) -> int:
        q = select(func.max(db.PBundle.revision)).where(db.PBundle.submission_id == submission_id,
                                                       db.PBundle.state == "committed")
        if exclude:
            q = q.where(db.PBundle.bundle_id != exclude)
        return int(s.execute(q).scalar() or 0)

    def _quarantine(self, principal: Principal, pres: Presented, conflicts_with: str, reason: str) -> ApiError:
        m = pres.manifest
        with self.session() as s:
            row = s.execute(select(db.PQuarantine).where(db.PQuarantine.bundle_id == m["bundle_id"],
                                                         db.PQuarantine.sums_sha256 == pres.sums_sha256)
                            ).scalar_one_or_none()
            if row is None:
                row = db.PQuarantine(quarantine_id=secrets.token_hex(16), bundle_id=m["bundle_id"],
                                     submission_id=m["submission_id"], revision=m["revision"], city_id=m["city_id"],
                                     sums_sha256=pres.sums_sha256, conflicts_with=conflicts_with, reason=reason,
                                     uploader_fp=principal.fingerprint)
                s.add(row)
                self.event(s, "conflict", m["bundle_id"], principal.fingerprint, reason=reason,
                           conflicts_with=conflicts_with, quarantine_id=row.quarantine_id)
            qid = row.quarantine_id
        target = self.folder / "quarantine" / qid
        if not target.is_dir():
            self._write_small_files(target, pres.files)
        return ApiError(409, "conflict", f"revision {m['revision']} of this submission was already received with "
                                         f"other content; this bundle is kept aside for the secretariat",
                        quarantine_id=qid, conflicts_with=conflicts_with, revision=m["revision"])

    def _write_small_files(self, target: Path, files: dict[str, bytes]) -> None:
        tmp = target.with_name(target.name + f".tmp-{secrets.token_hex(4)}")
        for name, data in files.items():
            atomic_write_bytes(tmp / name, data, verify=False)
        try:
            replace_with_retry(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # someone else wrote it first: same bytes
            if not target.is_dir():
                raise
        fsync_dir(target.parent)

    def negotiate(self, principal: Principal, bundle_id: str, files: dict[str, bytes]) -> dict[str, Any]:
        if not _HEX32.match(bundle_id):
            raise ApiError(404, "not_found", "no such bundle")
        pres = self._present(bundle_id, files)
        m = pres.manifest
        city, country = m["city_id"], pres.enrolment.country
        if not principal.may_carry(city, country):
            raise ApiError(403, "forbidden", f"this key may not send bundles of city {city}")
        for _ in range(3):
            conflict: tuple[str, str] | None = None
            try:
                with self.session() as s:
                    row = s.execute(select(db.PBundle).where(db.PBundle.bundle_id == bundle_id)).scalar_one_or_none()
                    if row is not None and row.sums_sha256 != pres.sums_sha256:
                        conflict = (row.bundle_id, "same bundle id, other bytes")
                    elif row is None:
                        same = s.execute(select(db.PBundle).where(db.PBundle.submission_id == m["submission_id"],
                                                                  db.PBundle.revision == m["revision"])
                                         ).scalar_one_or_none()
                        other_city = s.execute(select(db.PBundle.city_id).where(
                            db.PBundle.submission_id == m["submission_id"], db.PBundle.city_id != city).limit(1)
                        ).scalar_one_or_none()
                        if same is not None:
                            conflict = (same.bundle_id, "same revision, other bytes")
                        elif other_city is not None:
                            raise ApiError(422, "bundle_invalid", "this submission belongs to another city")
                        else:
                            self._check_quota(s, principal, pres.size)
                            row = db.PBundle(bundle_id=bundle_id, submission_id=m["submission_id"],
                                             revision=m["revision"], city_id=city, country=country,
                                             stage=m["stage"], panel_id=str(m.get("panel_id", "")),
                                             sums_sha256=pres.sums_sha256, size=pres.size,
                                             object_count=len(pres.objects),
                                             submitter_fp=pres.submitter.fingerprint(),
                                             uploader_fp=principal.fingerprint, demo=int(bool(m.get("demo"))),
                                             state="pending")
                            s.add(row)
                            for oid, size in pres.objects:
                                s.add(db.PBundleObject(bundle_id=bundle_id, object_id=oid, size=size))
                            self.event(s, "negotiate", bundle_id, principal.fingerprint, revision=m["revision"])
                    if conflict is None:
                        assert row is not None
                        state, receipt = row.state, row.receipt
                        if row.state == "pending":
                            row.touched_at = self._stamp()  # worked on: not abandoned
                        owned = self._owned(s, city, [o for o, _ in pres.objects])
                        newest = self._newest_revision(s, m["submission_id"], exclude=bundle_id)
            except DBIntegrityError:
                continue  # another request inserted the same bundle or revision: look again
            break
        else:
            raise ApiError(503, "busy", "try again")
        if conflict is not None:
            raise self._quarantine(principal, pres, *conflict)
        if state == "committed":
            return {"state": "committed", "bundle_id": bundle_id, "missing": [], "receipt": receipt}
        incoming = self.folder / "incoming" / bundle_id
        if not incoming.is_dir() and not (self.folder / "bundles" / bundle_id).is_dir():
            self._write_small_files(incoming, files)
        missing = [{"id": o, "size": size} for o, size in pres.objects if o not in owned]
        return {"state": "pending", "bundle_id": bundle_id, "missing": missing, "receipt": None,
                "objects": len(pres.objects), "size": pres.size, "current": m["revision"] > newest,
                "newest_revision": newest}

    def _check_quota(self, s: Session, principal: Principal, size: int) -> None:
        pending = s.execute(select(func.coalesce(func.sum(db.PBundle.size), 0)).where(
            db.PBundle.uploader_fp == principal.fingerprint, db.PBundle.state == "pending")).scalar() or 0
        stored = s.execute(select(func.coalesce(func.sum(db.PBundle.size), 0)).where(
            db.PBundle.uploader_fp == principal.fingerprint, db.PBundle.state == "committed")).scalar() or 0
        if pending + size > self.settings.pending_quota_bytes or stored + size > self.settings.stored_quota_bytes:
            raise ApiError(413, "quota_exceeded", "this key's storage quota on the platform is used up",
                           pending=int(pending), stored=int(stored))

    # -- uploads (tus) -------------------------------------------------------------------------
    def upload_path(self, upload_id: str) -> Path:
        return self.folder / "uploads" / upload_id

    def _bundle_for(self, s: Session, principal: Principal, bundle_id: str) -> db.PBundle:
        row = s.execute(select(db.PBundle).where(db.PBundle.bundle_id == bundle_id)).scalar_one_or_none() \
            if _HEX32.match(bundle_id or "") else None
        if row is None:
            raise ApiError(404, "not_found", "no such bundle")
        if not (principal.may_carry(row.city_id, row.country) or row.panel_id in principal.panels):
            raise ApiError(403, "forbidden", "this bundle belongs to another city")
        return row

    def create_upload(self, principal: Principal, length: int, metadata: dict[str, str]) -> dict[str, Any]:
        bundle_id, object_id = metadata.get("bundle_id", ""), metadata.get("object_id", "")
        now = int(self.clock())
        with self.session() as s:
            b = self._bundle_for(s, principal, bundle_id)
            if not principal.may_carry(b.city_id, b.country):
                raise ApiError(403, "forbidden", "this key may not send bundles of this city")
            obj = s.get(db.PBundleObject, (bundle_id, object_id))
            if obj is None:
                raise ApiError(400, "bad_request", "this object is not part of the bundle")
            if b.state == "pending":
                b.touched_at = self._stamp()
            if obj.size != length:
                raise ApiError(400, "bad_request", "Upload-Length differs from the object's size in bundle.json")
            if object_id in self._owned(s, b.city_id, [object_id]):
                up = db.PUpload(upload_id=secrets.token_hex(16), owner_fp=principal.fingerprint, bundle_id=bundle_id,
                                object_id=object_id, city_id=b.city_id, length=length, offset=length, state="done",
                                expires_at=now + self.settings.upload_expiry_seconds)
                s.add(up)
                return {"upload_id": up.upload_id, "offset": length, "expires_at": up.expires_at}
            active = s.execute(select(db.PUpload).where(db.PUpload.owner_fp == principal.fingerprint,
                                                        db.PUpload.object_id == object_id,
                                                        db.PUpload.state == "active",
                                                        db.PUpload.expires_at > now)).scalars().first()
            if active is not None:  # the answer to an earlier creation was lost: go on with that one
                offset = self._file_size(active.upload_id)
                return {"upload_id": active.upload_id, "offset": offset, "expires_at": active.expires_at}
            count = s.execute(select(func.count()).select_from(db.PUpload).where(
                db.PUpload.owner_fp == principal.fingerprint, db.PUpload.state == "active",
                db.PUpload.expires_at > now)).scalar() or 0
            if count >= self.settings.max_active_uploads:
                raise ApiError(429, "too_many_uploads", "too many uploads in progress for this key")
            up = db.PUpload(upload_id=secrets.token_hex(16), owner_fp=principal.fingerprint, bundle_id=bundle_id,
                            object_id=object_id, city_id=b.city_id, length=length, offset=0, state="active",
                            expires_at=now + self.settings.upload_expiry_seconds)
            s.add(up)
            path = self.upload_path(up.upload_id)
            with open(path, "xb") as fh:
                os.fsync(fh.fileno())
            fsync_dir(path.parent)
            return {"upload_id": up.upload_id, "offset": 0, "expires_at": up.expires_at}

    def _file_size(self, upload_id: str) -> int:
        try:
            return self.upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def get_upload(self, principal: Principal, upload_id: str) -> db.PUpload:
        with self.session(write=False) as s:
            up = s.get(db.PUpload, upload_id) if _HEX32.match(upload_id or "") else None
        if up is None or up.state in ("failed", "terminated"):
            raise ApiError(404, "not_found", "no such upload")
        if up.owner_fp != principal.fingerprint:
            raise ApiError(403, "forbidden", "this upload was started by another key")
        if up.state == "expired" or (up.state == "active" and up.expires_at < int(self.clock())):
            raise ApiError(410, "gone", "this upload expired")
        return up

    def upload_offset(self, up: db.PUpload) -> int:
        if up.state == "done":
            return up.length
        try:
            return min(self.upload_path(up.upload_id).stat().st_size, up.length)
        except FileNotFoundError:  # completed a moment ago: moved to the object store, row not yet updated
            return up.length if self.object_present(up.object_id) else 0

    def record_offset(self, upload_id: str, offset: int) -> int:
        expires = int(self.clock()) + self.settings.upload_expiry_seconds
        with self.session() as s:
            s.execute(update(db.PUpload).where(db.PUpload.upload_id == upload_id, db.PUpload.state == "active")
                      .values(offset=offset, expires_at=expires))
        return expires

    def finish_upload(self, up: db.PUpload, known_sha256: str | None = None) -> None:
        """All bytes are in: check the object's content address and keep it, or throw it away.

        ``known_sha256`` is the hash the PATCH handler computed while the bytes arrived (when it saw
        all of them in this process); otherwise the file is read again."""
        path = self.upload_path(up.upload_id)
        digest = known_sha256
        if digest is None:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    h.update(block)
            digest = h.hexdigest()
        if digest != up.object_id:
            path.unlink(missing_ok=True)
            with self.session() as s:
                s.execute(update(db.PUpload).where(db.PUpload.upload_id == up.upload_id).values(state="failed"))
                self.event(s, "upload_mismatch", up.bundle_id, up.owner_fp, object_id=up.object_id)
            raise ApiError(460, "object_mismatch", "the uploaded bytes do not match the object's SHA-256; "
                                                   "upload it again")
        dst = self.object_path(up.object_id)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_file() or self.folded_segments(up.object_id) is not None:
            path.unlink(missing_ok=True)
        else:
            replace_with_retry(path, dst)
            fsync_dir(dst.parent)
        with self.session() as s:
            if s.get(db.PObject, up.object_id) is None:
                s.add(db.PObject(object_id=up.object_id, size=up.length))
            if s.get(db.PObjectOwner, (up.object_id, up.city_id)) is None:
                s.add(db.PObjectOwner(object_id=up.object_id, city_id=up.city_id))
            s.execute(update(db.PUpload).where(db.PUpload.upload_id == up.upload_id)
                      .values(state="done", offset=up.length))

    def truncate_upload(self, upload_id: str, offset: int) -> None:
        with open(self.upload_path(upload_id), "r+b") as fh:
            fh.truncate(offset)
            os.fsync(fh.fileno())

    def terminate_upload(self, up: db.PUpload) -> None:
        self.upload_path(up.upload_id).unlink(missing_ok=True)
        with self.session() as s:
            s.execute(update(db.PUpload).where(db.PUpload.upload_id == up.upload_id).values(state="terminated"))

    # -- commit --------------------------------------------------------------------------------
    def _materialise(self, b: db.PBundle) -> Path:
        final = self.folder / "bundles" / b.bundle_id
        if final.is_dir():
            verify_trusted(final, trust_dir=self.folder / "trust", demo=self.demo)
            self._fold_into(final, json.loads((final / bmod.MANIFEST).read_bytes()))  # if a crash came between
            return final
        src = self.folder / "incoming" / b.bundle_id
        if not src.is_dir():
            raise ApiError(409, "renegotiate", "negotiate this bundle again")
        tmp = final.with_name(f".{b.bundle_id}.tmp-{secrets.token_hex(4)}")
        try:
            shutil.copytree(src, tmp)
            manifest = json.loads((src / bmod.MANIFEST).read_bytes())
            for o in manifest["objects"]:
                self._place_object(o["id"], o["segments"], tmp)
            try:
                verify_trusted(tmp, trust_dir=self.folder / "trust", demo=self.demo)
            except KitError as exc:
                raise ApiError(422, "bundle_invalid", exc.message("en")) from None
            try:
                replace_with_retry(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
            fsync_dir(final.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._fold_into(final, manifest)
        return final

    def _place_object(self, object_id: str, segs: list[dict[str, Any]], tmp: Path) -> None:
        """Write one object's segment files into the bundle being built: hard links where the stored
        pieces already have the bundle's cut, copies otherwise."""
        try:
            self._place_pieces(object_id, segs, tmp)
        except FileNotFoundError:  # another commit folded the object into its bundle meanwhile
            for seg in segs:
                (tmp / seg["name"]).unlink(missing_ok=True)
            self._place_pieces(object_id, segs, tmp)

    def _place_pieces(self, object_id: str, segs: list[dict[str, Any]], tmp: Path) -> None:
        obj = self.object_path(object_id)
        pieces = [obj] if obj.is_file() else self.folded_segments(object_id)
        if pieces is None:
            raise ApiError(409, "missing_objects", "an object is missing", missing=[object_id])
        sizes = [p.stat().st_size for p in pieces]
        if sizes == [int(seg["size"]) for seg in segs]:
            for piece, seg in zip(pieces, segs):
                dst = tmp / seg["name"]
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(piece, dst)
                except FileNotFoundError:
                    raise
                except OSError:  # a file system without hard links
                    shutil.copyfile(piece, dst)
            return
        reader = bmod._SegmentReader(pieces)  # noqa: SLF001 - the pieces as one stream
        try:
            for seg in segs:  # another cut than the stored one: copy, block by block
                dst = tmp / seg["name"]
                dst.parent.mkdir(parents=True, exist_ok=True)
                left = int(seg["size"])
                with open(dst, "xb") as fout:
                    while left:
                        block = reader.read(min(_BLOCK, left))
                        if not block:
                            raise ApiError(409, "missing_objects", "an object is shorter than listed")
                        fout.write(block)
                        left -= len(block)
                    fout.flush()
                    os.fsync(fout.fileno())
        finally:
            reader.close()

    def _fold_into(self, bundle: Path, manifest: dict[str, Any]) -> None:
        """After a commit: an object cut into several segments is now stored twice (the object and
        the bundle's segments); keep the segments, and a pointer to them, instead."""
        for o in manifest["objects"]:
            obj = self.object_path(o["id"])
            if len(o["segments"]) < 2 or not obj.is_file():
                continue
            pointer = self._home_pointer(o["id"])
            atomic_write_bytes(pointer, bundle.name.encode("ascii"), verify=False)
            if self.folded_segments(o["id"]) is not None:  # the pointer works: only then drop the copy
                obj.unlink(missing_ok=True)

    def commit(self, principal: Principal, bundle_id: str) -> dict[str, Any]:
        with self.session(write=False) as s:
            b = self._bundle_for(s, principal, bundle_id)
            if not principal.may_carry(b.city_id, b.country):
                raise ApiError(403, "forbidden", "this key may not send bundles of this city")
            if b.state == "committed":
                return {"state": "committed", "bundle_id": bundle_id, "receipt": b.receipt}
            ids = list(s.execute(select(db.PBundleObject.object_id).where(
                db.PBundleObject.bundle_id == bundle_id)).scalars())
            owned = self._owned(s, b.city_id, ids)
        missing = sorted(set(ids) - owned)
        if missing:
            raise ApiError(409, "missing_objects", "some objects are not uploaded yet", missing=missing)
        self._materialise(b)
        with self.session() as s:
            newest = self._newest_revision(s, b.submission_id, exclude=bundle_id)
            superseded_by = None
            if newest > b.revision:
                superseded_by = s.execute(select(db.PBundle.bundle_id).where(
                    db.PBundle.submission_id == b.submission_id, db.PBundle.revision == newest)).scalar()
            received = format_utc(now_utc())
            doc = {"format": proto.RECEIPT_FORMAT, "format_version": proto.FORMAT_VERSION,
                   "receipt_id": secrets.token_hex(16), "bundle_id": b.bundle_id, "submission_id": b.submission_id,
                   "revision": b.revision, "city_id": b.city_id, "stage": b.stage, "panel_id": b.panel_id,
                   "sums_sha256": b.sums_sha256, "size": b.size, "objects": b.object_count,
                   "submitter_fingerprint": b.submitter_fp, "carried_by": principal.fingerprint,
                   "received_at": received, "current": superseded_by is None, "superseded_by": superseded_by,
                   "demo": bool(b.demo), "platform": self.settings.name,
                   "platform_key": self.receipt_cert.fingerprint}
            receipt = proto.make_receipt(doc, self.receipt_key, self.receipt_cert)
            done = s.execute(update(db.PBundle).where(db.PBundle.bundle_id == bundle_id, db.PBundle.state == "pending")
                             .values(state="committed", receipt=receipt, committed_at=received)).rowcount
            if done == 1:
                self.event(s, "commit", bundle_id, principal.fingerprint, revision=b.revision,
                           current=superseded_by is None)
        if done != 1:
            with self.session(write=False) as s:
                receipt = s.execute(select(db.PBundle.receipt).where(db.PBundle.bundle_id == bundle_id)).scalar()
        shutil.rmtree(self.folder / "incoming" / bundle_id, ignore_errors=True)
        return {"state": "committed", "bundle_id": bundle_id, "receipt": receipt}

    def bundle_info(self, principal: Principal, bundle_id: str) -> dict[str, Any]:
        with self.session(write=False) as s:
            b = self._bundle_for(s, principal, bundle_id)
            newest = self._newest_revision(s, b.submission_id)
            return {"bundle_id": b.bundle_id, "state": b.state, "city_id": b.city_id, "stage": b.stage,
                    "revision": b.revision, "sums_sha256": b.sums_sha256, "size": b.size,
                    "current": b.state == "committed" and b.revision >= newest, "committed_at": b.committed_at,
                    "receipt": b.receipt if principal.may_carry(b.city_id, b.country) else None}

    # -- panels: listing and download -------------------------------------------------------
    def panel_bundles(self, principal: Principal) -> list[dict[str, Any]]:
        if not principal.panels:
            raise ApiError(403, "forbidden", "only panel members list bundles for review")
        with self.session(write=False) as s:
            rows = s.execute(select(db.PBundle).where(db.PBundle.state == "committed",
                                                      db.PBundle.panel_id.in_(sorted(principal.panels)))
                             .order_by(db.PBundle.committed_at)).scalars().all()
            out = []
            for b in rows:
                folder = self.folder / "bundles" / b.bundle_id
                sums = _parse_sums((folder / bmod.SUMS).read_bytes())
                files = [{"name": n, "sha256": h, "size": (folder / n).stat().st_size} for n, h in sums.items()]
                for n in (bmod.SUMS, bmod.SUMS_SIG):
                    data = (folder / n).read_bytes()
                    files.append({"name": n, "sha256": proto.sha256_hex(data), "size": len(data)})
                out.append({"bundle_id": b.bundle_id, "city_id": b.city_id, "stage": b.stage, "revision": b.revision,
                            "submission_id": b.submission_id, "sums_sha256": b.sums_sha256, "size": b.size,
                            "panel_id": b.panel_id, "committed_at": b.committed_at,
                            "current": b.revision >= self._newest_revision(s, b.submission_id), "files": files})
            return out

    def download_path(self, principal: Principal, bundle_id: str, name: str) -> Path:
        with self.session(write=False) as s:
            b = self._bundle_for(s, principal, bundle_id)
        if b.panel_id not in principal.panels:
            raise ApiError(403, "forbidden", "only members of the bundle's panel download it")
        if b.state != "committed":
            raise ApiError(404, "not_found", "this bundle is not committed yet")
        folder = self.folder / "bundles" / bundle_id
        sums = _parse_sums((folder / bmod.SUMS).read_bytes())
        if name not in sums and name not in (bmod.SUMS, bmod.SUMS_SIG):
            raise ApiError(404, "not_found", "no such file in this bundle")
        return folder / name

    # -- mailbox -----------------------------------------------------------------------------
    def post_result(self, principal: Principal, bundle_id: str, kind: str, name: str, data: bytes) -> dict[str, Any]:
        if kind not in ("result", "status"):
            raise ApiError(400, "bad_request", "kind is result or status")
        with self.session(write=False) as s:
            b = self._bundle_for(s, principal, bundle_id)
        if b.panel_id not in principal.panels:
            raise ApiError(403, "forbidden", "only members of the bundle's panel send its review results")
        if b.state != "committed":
            raise ApiError(409, "not_committed", "this bundle is not committed yet")
        if kind == "status":
            try:
                if loads_strict(data, what="status").get("status") not in ("in_review", "feedback"):
                    raise ValueError
            except (KitError, ValueError):
                raise ApiError(400, "bad_request", "a status note is {\"status\": \"in_review\"}") from None
        item = db.PMailboxItem(item_id=secrets.token_hex(16), city_id=b.city_id, country=b.country,
                               bundle_id=bundle_id, kind=kind, name=safe_name(name or "result", limit=100),
                               size=len(data), sha256=proto.sha256_hex(data), sender_fp=principal.fingerprint)
        atomic_write_bytes(self._item_path(item.city_id, item.item_id), data)
        with self.session() as s:
            s.add(item)
            self.event(s, "mailbox", bundle_id, principal.fingerprint, item_id=item.item_id, item_kind=kind)
        return {"item_id": item.item_id, "city_id": item.city_id, "sha256": item.sha256}

    def _item_path(self, city_id: str, item_id: str) -> Path:
        return self.folder / "mailbox" / safe_name(city_id, limit=64) / item_id

    def mailbox(self, principal: Principal, city_id: str | None) -> list[dict[str, Any]]:
        with self.session(write=False) as s:
            q = select(db.PMailboxItem).order_by(db.PMailboxItem.created_at, db.PMailboxItem.item_id)
            if city_id is not None:
                q = q.where(db.PMailboxItem.city_id == city_id)
            rows = s.execute(q).scalars().all()
        if city_id is not None and rows and not principal.may_carry(city_id, rows[0].country):
            raise ApiError(403, "forbidden", "this mailbox belongs to another city")
        if city_id is not None and not rows and city_id not in principal.cities and not principal.couriers:
            raise ApiError(403, "forbidden", "this mailbox belongs to another city")
        return [{"item_id": r.item_id, "city_id": r.city_id, "bundle_id": r.bundle_id, "kind": r.kind,
                 "name": r.name, "size": r.size, "sha256": r.sha256, "sender": r.sender_fp,
                 "created_at": r.created_at} for r in rows if principal.may_carry(r.city_id, r.country)]

    def mailbox_item(self, principal: Principal, item_id: str) -> tuple[db.PMailboxItem, Path]:
        with self.session(write=False) as s:
            row = s.get(db.PMailboxItem, item_id) if _HEX32.match(item_id or "") else None
        if row is None:
            raise ApiError(404, "not_found", "no such mailbox item")
        if not principal.may_carry(row.city_id, row.country):
            raise ApiError(403, "forbidden", "this mailbox belongs to another city")
        return row, self._item_path(row.city_id, row.item_id)

    # -- trust ---------------------------------------------------------------------------------
    def trust_file(self, name: str) -> Path:
        if name not in TRUST_NAMES:
            raise ApiError(404, "not_found", "no such trust file")
        path = (self.folder / "keys" / name) if name.startswith("platform-key") else (self.folder / "trust" / name)
        if not path.is_file():
            raise ApiError(404, "not_found", "no such trust file")
        return path

    # -- housekeeping --------------------------------------------------------------------------
    def _stamp(self, at: float | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock() if at is None else at))

    def cleanup(self) -> dict[str, int]:
        """Housekeeping (every ``cleanup_interval_seconds`` while serving): expired uploads, old
        nonces, and abandoned negotiations -- pending bundles nobody negotiated or uploaded to for
        ``pending_expiry_seconds`` and with no live upload -- with their small files, the quota they
        held and the objects no other bundle uses. Committed bundles and their objects are never
        touched."""
        now = int(self.clock())
        cutoff = self._stamp(now - self.settings.pending_expiry_seconds)
        with self.session() as s:
            expired = list(s.execute(select(db.PUpload.upload_id).where(db.PUpload.state == "active",
                                                                        db.PUpload.expires_at < now)).scalars())
            if expired:
                s.execute(update(db.PUpload).where(db.PUpload.upload_id.in_(expired)).values(state="expired"))
            old = s.execute(db.PNonce.__table__.delete().where(
                db.PNonce.ts < now - 2 * self.settings.clock_skew_seconds)).rowcount
            live = select(db.PUpload.bundle_id).where(db.PUpload.state == "active", db.PUpload.expires_at >= now)
            abandoned = list(s.execute(select(db.PBundle.bundle_id).where(
                db.PBundle.state == "pending", func.coalesce(db.PBundle.touched_at, db.PBundle.created_at) < cutoff,
                db.PBundle.bundle_id.not_in(live))).scalars())
            if abandoned:
                s.execute(db.PBundleObject.__table__.delete().where(db.PBundleObject.bundle_id.in_(abandoned)))
                s.execute(db.PBundle.__table__.delete().where(db.PBundle.bundle_id.in_(abandoned),
                                                              db.PBundle.state == "pending"))
                for b in abandoned:
                    self.event(s, "abandoned", b, None)
            used = select(db.PBundleObject.object_id)
            orphans = list(s.execute(select(db.PObject.object_id).where(db.PObject.object_id.not_in(used))).scalars())
            if orphans:
                s.execute(db.PObjectOwner.__table__.delete().where(db.PObjectOwner.object_id.in_(orphans)))
                s.execute(db.PObject.__table__.delete().where(db.PObject.object_id.in_(orphans)))
        for upload_id in expired:
            self.upload_path(upload_id).unlink(missing_ok=True)
        for b in abandoned:
            shutil.rmtree(self.folder / "incoming" / b, ignore_errors=True)
        for o in orphans:
            self.object_path(o).unlink(missing_ok=True)
            self._home_pointer(o).unlink(missing_ok=True)
        return {"expired_uploads": len(expired), "nonces": int(old or 0), "abandoned_bundles": len(abandoned),
                "unused_objects": len(orphans)}

    def commits(self, bundle_id: str) -> int:
        """How many times ``bundle_id`` was committed (tests and audits: must be 0 or 1)."""
        with self.session(write=False) as s:
            return int(s.execute(select(func.count()).select_from(db.PEvent).where(
                db.PEvent.kind == "commit", db.PEvent.bundle_id == bundle_id)).scalar() or 0)


def _sig(trust: dict[str, bytes], name: str) -> str | None:
    raw = trust.get(name + trustmod.SIG_SUFFIX)
    return raw.decode("utf-8", "replace") if raw is not None else None


# ---------------------------------------------------------------------------------------------
# setting up a platform folder


def init_platform(folder: Path | str, trust_pack: Path | str, root: Any, *, demo: bool = False,
                  name: str = "SDG Cities platform", settings: PlatformSettings | None = None) -> dict[str, Any]:
    """Create a platform folder: install the trust pack, create the receipt key and have ``root``
    (the platform root's key set) certify it."""
    folder = Path(folder)
    if (folder / "keys" / RECEIPT_KEY_FILE).exists():
        raise UserInputError(N_("{path} is already a platform folder."), path=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    result = trustmod.import_trust_pack(Path(trust_pack), folder, trustmod.RootPolicy.installed(demo=demo))
    if result.pack.root != root.public_key:
        raise TrustError(N_("The key {key_file} is not the root of the trust pack {folder}."),
                         key_file=root.name, folder=str(trust_pack))
    key = SigningKey.generate()
    keys = folder / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    secret = keys / RECEIPT_KEY_FILE
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key.to_minisign_secret(None))
        fh.flush()
        os.fsync(fh.fileno())
    data, sig = proto.sign_document(proto.PLATFORM_KEY_FORMAT,
                                    proto.platform_key_document(key.public_key(), platform_name=name),
                                    root.signing_key)
    atomic_write_bytes(keys / proto.PLATFORM_KEY_FILE, data)
    atomic_write_bytes(keys / (proto.PLATFORM_KEY_FILE + proto.SIG_SUFFIX), sig.encode("utf-8"))
    s = settings or PlatformSettings()
    s.name = name
    s.save(folder)
    for sub in ("objects", "uploads", "incoming", "bundles", "quarantine", "mailbox", "registry"):
        (folder / sub).mkdir(exist_ok=True)
    return {"folder": str(folder), "demo": result.pack.demo, "root": result.pack.root.fingerprint(),
            "receipt_key": key.public_key().fingerprint()}


def register_documents(folder: Path | str, paths: list[Path]) -> list[dict[str, Any]]:
    """Check signed documents (enrolments, mechanism certificates, courier grants, recipients
    files) against the platform's root and copy them into its registry."""
    folder = Path(folder)
    reg = load_registry(folder)
    out = []
    todo = list(paths)
    for path in list(todo):  # an enrolment by a national mechanism needs its certificate beside it
        mech = path.parent / trustmod.MECHANISM
        if mech.is_file() and mech not in todo:
            todo.insert(0, mech)
    staged: list[tuple[Path, bytes, str | None, str]] = []
    for path in todo:
        if not path.is_file():
            raise UserInputError(N_("No such file or folder: {path}"), path=str(path))
        data, sig = _read_pair(path)
        kind = str(loads_strict(data, what=path.name).get("format"))
        if kind not in (proto.COURIER_FORMAT, *trustmod.KINDS.values()) or kind == trustmod.KINDS[trustmod.REVOCATIONS]:
            raise UserInputError(N_("{file} is not a document the platform registers (enrolment, mechanism "
                                    "certificate, courier grant or recipients file)."), file=path.name)
        staged.append((path, data, sig, kind))
    known_mechanisms = {m.mechanism_id: m for m in _registered_mechanisms(folder, reg)}
    for path, data, sig, kind in staged:
        if kind == trustmod.KINDS[trustmod.MECHANISM]:
            cert = trustmod.check_mechanism(data, sig, root=reg.root, revocations=reg.revocations, demo=reg.demo,
                                            what=path.name)
            known_mechanisms[cert.mechanism_id] = cert
    for path, data, sig, kind in staged:
        if kind == proto.COURIER_FORMAT:
            g = proto.check_courier_grant(data, sig, root=reg.root, revocations=reg.revocations, what=path.name)
            who = {"kind": "courier", "name": g.name, "fingerprint": g.fingerprint}
        elif kind == trustmod.KINDS[trustmod.ENROLMENT]:
            mech_id = str(loads_strict(data, what=path.name).get("mechanism_id"))
            mech = None if mech_id == trustmod.GLOBAL_MECHANISM_ID else known_mechanisms.get(mech_id)
            if mech is None and mech_id != trustmod.GLOBAL_MECHANISM_ID:
                raise TrustError(N_("{file} was issued by the mechanism {mechanism}, whose certificate the platform "
                                    "does not have. Register its mechanism.json first."), file=path.name,
                                 mechanism=mech_id)
            c = trustmod.check_enrolment(data, sig, root=reg.root, mechanism=mech, revocations=reg.revocations,
                                         demo=reg.demo, what=path.name)
            who = {"kind": "enrolment", "name": c.city_name, "city_id": c.city_id, "fingerprint": c.fingerprint}
        elif kind == trustmod.KINDS[trustmod.RECIPIENTS]:
            r = trustmod.check_recipients(data, sig, root=reg.root, revocations=reg.revocations, demo=reg.demo,
                                          what=path.name)
            who = {"kind": "recipients", "panel_id": r.panel_id, "members": len(r.members)}
        else:
            who = {"kind": "mechanism", "mechanism_id": loads_strict(data, what=path.name).get("mechanism_id")}
        target = folder / "registry" / f"{kind}-{proto.sha256_hex(data)[:16]}.json"
        atomic_write_bytes(target, data)
        if sig is not None:
            atomic_write_bytes(target.with_name(target.name + trustmod.SIG_SUFFIX), sig.encode("utf-8"))
        out.append({**who, "file": str(target)})
    return out


def _registered_mechanisms(folder: Path, reg: Registry) -> list[trustmod.MechanismCert]:
    out = []
    for p in sorted((folder / "registry").glob("*.json")):
        data, sig = _read_pair(p)
        try:
            if loads_strict(data, what=p.name).get("format") == trustmod.KINDS[trustmod.MECHANISM]:
                out.append(trustmod.check_mechanism(data, sig, root=reg.root, revocations=reg.revocations,
                                                    demo=reg.demo, what=p.name))
        except KitError:
            continue
    return out


# ---------------------------------------------------------------------------------------------
# HTTP


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": proto.TUS_VERSION, "Cache-Control": "no-store", **extra}


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _parse_metadata(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        key, _, enc = part.partition(" ")
        try:
            out[key] = proto.unb64(enc.strip()).decode("utf-8") if enc else ""
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "bad_request", "Upload-Metadata is not valid") from None
    return out


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for one ``bytes=`` range; None for the whole file."""
    if not value:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise ApiError(416, "bad_range", "only one bytes= range is supported")
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        suffix = int(m.group(2))
        start, end = max(0, size - suffix), size - 1
    if start >= size or start > end:
        raise ApiError(416, "bad_range", "the range is outside the file")
    return start, end


def _lock_file(fh: Any) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one worker process, the asyncio lock suffices
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise ApiError(423, "locked", "another request is writing this upload") from None


class _UploadSlot:
    """One PATCH at a time per upload. A new PATCH asks the current one to stop (its client has
    most likely gone: a dead link the server has not noticed yet) and takes over."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.stop = asyncio.Event()


def create_app(platform: Platform) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    slots: dict[str, _UploadSlot] = {}
    hashes: dict[str, tuple[int, Any]] = {}  # upload id -> (offset, running SHA-256 of the bytes so far)
    st = platform.settings

    def error_response(exc: ApiError) -> Response:
        headers = _tus_headers() if exc.status in (409, 410, 412, 415, 423, 460) else {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = proto.AUTH_SCHEME
        if exc.status in (423, 429, 503):
            headers["Retry-After"] = "1"
        if exc.code == "bad_range" and "size" in exc.extra:
            headers["Content-Range"] = f"bytes */{exc.extra['size']}"
        body = {"error": exc.code, "message": exc.message,
                **{k: v for k, v in exc.extra.items() if k != "size"}}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    def endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except ApiError as exc:
                return error_response(exc)
            except ClientDisconnect:  # the link dropped while the body came in: nobody to answer
                return Response(status_code=400)
        return wrapped

    def raw_path(request: Request) -> str:
        path = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
        qs = request.scope.get("query_string", b"")
        return path.decode("latin-1") + ("?" + qs.decode("latin-1") if qs else "")

    async def authed(request: Request) -> tuple[Principal, proto.RequestAuth]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(platform.authenticate, request.method, raw_path(request), headers)

    async def read_body(request: Request, limit: int, auth: proto.RequestAuth) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > limit:
            raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
        chunks, total = [], 0
        async for part in request.stream():
            total += len(part)
            if total > limit:
                raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
            chunks.append(part)
        body = b"".join(chunks)
        if proto.sha256_hex(body) != auth.body_sha256:
            raise ApiError(400, "body_hash", "the request body does not match its signed SHA-256")
        return body

    def require_tus(request: Request) -> None:
        if request.headers.get("tus-resumable") != proto.TUS_VERSION:
            raise ApiError(412, "tus_version", "Tus-Resumable 1.0.0 is required")

    @endpoint
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "protocol": proto.PROTOCOL_VERSION, "tus": proto.TUS_VERSION,
                             "time": int(platform.clock())})

    @endpoint
    async def negotiate(request: Request) -> Response:
        principal, auth = await authed(request)
        body = await read_body(request, st.max_negotiate_bytes, auth)
        try:
            doc = json.loads(body)
            files = {str(k): proto.unb64(v) for k, v in doc["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ApiError(400, "bad_request", "the body is {\"files\": {name: base64}}") from None
        result = await run_in_threadpool(platform.negotiate, principal, request.path_params["bundle_id"], files)
        return JSONResponse(result)

    @endpoint
    async def commit(request: Request) -> Response:
        principal, auth = await authed(request)
        await read_body(request, 4096, auth)
        result = await run_in_threadpool(platform.commit, principal, request.path_params["bundle_id"])
        return JSONResponse(result)

    @endpoint
    async def bundle_info(request: Request) -> Response:
        principal, _ = await authed(request)
        return JSONResponse(await run_in_threadpool(platform.bundle_info, principal, request.path_params["bundle_id"]))

    @endpoint
    async def panel_bundles(request: Request) -> Response:
        principal, _ = await authed(request)
        return JSONResponse({"bundles": await run_in_threadpool(platform.panel_bundles, principal)})

    def file_response(request: Request, path: Path, media_type: str = "application/octet-stream",
                      etag: str | None = None) -> Response:
        size = path.stat().st_size
        try:
            rng = _parse_range(request.headers.get("range"), size)
        except ApiError as exc:
            exc.extra["size"] = size
            raise
        start, end = rng if rng else (0, size - 1)
        length = end - start + 1 if size else 0

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                fh.seek(start)
                left = length
                while left > 0:
                    block = fh.read(min(256 * 1024, left))
                    if not block:
                        return
                    left -= len(block)
                    yield block

        headers = {"Accept-Ranges": "bytes", "Content-Length": str(length)}
        if etag:
            headers["ETag"] = f'"{etag}"'
        if rng:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return StreamingResponse(chunks(), status_code=206 if rng else 200, media_type=media_type, headers=headers)

    @endpoint
    async def bundle_file(request: Request) -> Response:
        principal, _ = await authed(request)
        path = await run_in_threadpool(platform.download_path, principal, request.path_params["bundle_id"],
                                       request.path_params["name"])
        return file_response(request, path)

    @endpoint
    async def post_result(request: Request) -> Response:
        principal, auth = await authed(request)
        body = await read_body(request, st.max_result_bytes, auth)
        result = await run_in_threadpool(platform.post_result, principal, request.path_params["bundle_id"],
                                         request.query_params.get("kind", "result"),
                                         request.query_params.get("name", "result"), body)
        return JSONResponse(result, status_code=201)

    @endpoint
    async def mailbox(request: Request) -> Response:
        principal, _ = await authed(request)
        items = await run_in_threadpool(platform.mailbox, principal, request.query_params.get("city"))
        return JSONResponse({"items": items})

    @endpoint
    async def mailbox_item(request: Request) -> Response:
        principal, _ = await authed(request)
        row, path = await run_in_threadpool(platform.mailbox_item, principal, request.path_params["item_id"])
        return file_response(request, path, etag=row.sha256)

    @endpoint
    async def trust_list(request: Request) -> Response:
        await authed(request)
        names = [n for n in TRUST_NAMES if (platform.folder / ("keys" if n.startswith("platform-key") else "trust")
                                            / n).is_file()]
        return JSONResponse({"files": names})

    @endpoint
    async def trust_file(request: Request) -> Response:
        await authed(request)
        path = platform.trust_file(request.path_params["name"])
        return file_response(request, path, media_type="text/plain; charset=utf-8")

    @endpoint
    async def uploads(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Tus-Resumable": proto.TUS_VERSION,
                                                      "Tus-Version": proto.TUS_VERSION,
                                                      "Tus-Extension": proto.TUS_EXTENSIONS,
                                                      "Tus-Max-Size": str(st.max_bundle_bytes)})
        principal, auth = await authed(request)
        require_tus(request)
        try:
            length = int(request.headers["upload-length"])
        except (KeyError, ValueError):
            raise ApiError(400, "bad_request", "Upload-Length is required") from None
        if length < 1 or length > st.max_bundle_bytes:
            raise ApiError(413, "too_large", "Upload-Length is beyond this platform's limit")
        meta = _parse_metadata(request.headers.get("upload-metadata", ""))
        if int(request.headers.get("content-length") or 0) > 0:
            raise ApiError(400, "bad_request", "creation-with-upload is not supported")
        info = await run_in_threadpool(platform.create_upload, principal, length, meta)
        return Response(status_code=201, headers=_tus_headers(
            Location=f"{proto.API}/uploads/{info['upload_id']}", **{"Upload-Offset": str(info["offset"]),
                                                                   "Upload-Expires": _http_date(info["expires_at"])}))

    async def next_message(receive: Any, stop: asyncio.Event, timeout: float) -> dict[str, Any] | None:
        recv = asyncio.ensure_future(receive())
        halt = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({recv, halt}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        halt.cancel()
        if recv in done:
            return recv.result()
        recv.cancel()
        return None

    async def patch(request: Request, principal: Principal, auth: proto.RequestAuth, up: db.PUpload) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != proto.TUS_CONTENT_TYPE:
            raise ApiError(415, "content_type", f"Content-Type must be {proto.TUS_CONTENT_TYPE}")
        try:
            claimed = int(request.headers["upload-offset"])
            declared = int(request.headers["content-length"])
        except (KeyError, ValueError):
            raise ApiError(400, "bad_request", "Upload-Offset and Content-Length are required") from None
        if declared > st.max_chunk_bytes:
            raise ApiError(413, "too_large", f"a PATCH carries at most {st.max_chunk_bytes} bytes")
        slot = slots.setdefault(up.upload_id, _UploadSlot())
        if slot.lock.locked():
            slot.stop.set()
        try:
            await asyncio.wait_for(slot.lock.acquire(), timeout=10)
        except asyncio.TimeoutError:
            raise ApiError(423, "locked", "another request is writing this upload") from None
        slot.stop = stop = asyncio.Event()
        try:
            if up.state == "done":
                if claimed == up.length:
                    return Response(status_code=204, headers=_tus_headers(**{"Upload-Offset": str(up.length)}))
                raise ApiError(409, "offset_mismatch", "this upload is complete", offset=up.length)
            start = platform.upload_offset(up)
            if claimed != start:
                raise ApiError(409, "offset_mismatch", "Upload-Offset differs from the upload's offset", offset=start)
            if start == up.length:  # complete already (its last answer was lost)
                return Response(status_code=204, headers=_tus_headers(**{"Upload-Offset": str(start)}))
            if start + declared > up.length:
                raise ApiError(400, "bad_request", "the chunk goes past Upload-Length")
            h = hashlib.sha256()
            received = 0
            path = platform.upload_path(up.upload_id)
            # the object's running hash, kept between PATCHes while this process saw every byte
            running = hashes.pop(up.upload_id, None)
            whole = running[1] if running is not None and running[0] == start else \
                (hashlib.sha256() if start == 0 else None)
            with open(path, "ab") as fh:
                _lock_file(fh)  # one writer per upload, even across worker processes
                while received < declared:
                    msg = await next_message(request.receive, stop, st.idle_timeout_seconds)
                    if msg is None or msg["type"] != "http.request":
                        break
                    body = msg.get("body", b"")
                    if body:
                        body = body[:declared - received]
                        fh.write(body)
                        h.update(body)
                        if whole is not None:
                            whole.update(body)
                        received += len(body)
                    if not msg.get("more_body", False):
                        break
                fh.flush()
                await run_in_threadpool(os.fsync, fh.fileno())
            if received == declared and h.hexdigest() != auth.body_sha256:
                await run_in_threadpool(platform.truncate_upload, up.upload_id, start)
                raise ApiError(400, "body_hash", "the chunk does not match its signed SHA-256", offset=start)
            offset = start + received
            expires = await run_in_threadpool(platform.record_offset, up.upload_id, offset)
            if offset == up.length:
                await run_in_threadpool(platform.finish_upload, up, whole.hexdigest() if whole is not None else None)
                slots.pop(up.upload_id, None)
            elif whole is not None:
                hashes[up.upload_id] = (offset, whole)
            return Response(status_code=204, headers=_tus_headers(**{"Upload-Offset": str(offset),
                                                                     "Upload-Expires": _http_date(expires)}))
        finally:
            slot.lock.release()

    @endpoint
    async def upload(request: Request) -> Response:
        principal, auth = await authed(request)
        require_tus(request)
        up = await run_in_threadpool(platform.get_upload, principal, request.path_params["upload_id"])
        if request.method == "HEAD":
            return Response(status_code=200, headers=_tus_headers(**{
                "Upload-Offset": str(platform.upload_offset(up)), "Upload-Length": str(up.length),
                "Upload-Expires": _http_date(up.expires_at)}))
        if request.method == "DELETE":
            await run_in_threadpool(platform.terminate_upload, up)
            return Response(status_code=204, headers=_tus_headers())
        return await patch(request, principal, auth, up)

    async def cleanup_loop() -> None:
        while True:
            try:
                await run_in_threadpool(platform.cleanup)
            except Exception:  # noqa: BLE001 - housekeeping must not stop the service
                log.exception("cleanup failed")
            await asyncio.sleep(st.cleanup_interval_seconds)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.ensure_future(cleanup_loop())
        try:
            yield
        finally:
            task.cancel()

    a = proto.API
    routes = [
        Route(f"{a}/health", health, methods=["GET"]),
        Route(f"{a}/bundles/{{bundle_id}}/negotiate", negotiate, methods=["POST"]),
        Route(f"{a}/bundles/{{bundle_id}}/commit", commit, methods=["POST"]),
        Route(f"{a}/bundles/{{bundle_id}}/results", post_result, methods=["POST"]),
        Route(f"{a}/bundles/{{bundle_id}}/files/{{name:path}}", bundle_file, methods=["GET"]),
        Route(f"{a}/bundles/{{bundle_id}}", bundle_info, methods=["GET"]),
        Route(f"{a}/panel/bundles", panel_bundles, methods=["GET"]),
        Route(f"{a}/mailbox", mailbox, methods=["GET"]),
        Route(f"{a}/mailbox/{{item_id}}", mailbox_item, methods=["GET"]),
        Route(f"{a}/trust", trust_list, methods=["GET"]),
        Route(f"{a}/trust/{{name}}", trust_file, methods=["GET"]),
        Route(f"{a}/uploads", uploads, methods=["POST", "OPTIONS"]),
        Route(f"{a}/uploads/{{upload_id}}", upload, methods=["HEAD", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a response written in two pieces waits for the
    # peer's delayed ACK (40 ms per request on Linux)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections queue from now on, before the server loop runs
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(platform: Platform) -> Any:
    import uvicorn

    config = uvicorn.Config(create_app(platform), log_level="warning", access_log=False, http="h11",
                            lifespan="on", timeout_keep_alive=30, timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


class ServerThread:
    """The service in a thread on a loopback port (tests, benchmarks, an intake station)."""

    def __init__(self, platform: Platform, host: str = "127.0.0.1", port: int = 0) -> None:
        self.platform = platform
        self.sock = _listening_socket(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = _uvicorn_server(platform)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="sdgkit-platform")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerThread":
        self.thread.start()
        return self

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no connection is open and no request is running (what a dropped client sent
        has then been written); False if that did not happen within ``timeout`` seconds."""
        state = self.server.server_state
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while state.connections or state.tasks:
            if time.monotonic() >= deadline:
                return False
            pause.wait(0.01)
        return True

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(folder: Path | str, *, db_url: str | None, host: str, port: int,
          ready: Callable[[str], None] | None = None) -> None:
    """Run the service in this process until interrupted; ``ready(url)`` once it accepts connections."""
    platform = Platform(folder, db_url=db_url)
    sock = _listening_socket(host, port)
    h, p = sock.getsockname()[:2]
    if ready:
        ready(f"http://{'[' + h + ']' if ':' in h else h}:{p}")
    try:
        _uvicorn_server(platform).run(sockets=[sock])
    finally:
        platform.close()

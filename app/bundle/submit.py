"""The city's side of bundles: gather a stage from the store, seal it to the signed panel, record it.

Also the trust checks any verifier makes on top of :func:`app.bundle.bundle.verify_folder`:
the submitter key must be enrolled by a mechanism chaining to the platform root and not revoked.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.bundle import trust as trustmod
from app.bundle.bundle import (
    DEFAULT_SEGMENT_SIZE,
    OpenedBundle,
    ReusableObject,
    SealRequest,
    SealResult,
    SourceFile,
    VerifiedBundle,
    open_bundle,
    seal,
    verify_folder,
)
from app.bundle.keys import KeySet
from app.bundle.minisign import PublicKey
from app.bundle.pathrules import safe_name
from app.errors import BundleError, TrustError, UserInputError
from app.i18n import N_
from app.model import audit
from app.model.models import SealedBundle, SealedObject
from app.progress import CancelToken, ProgressCallback


def is_demo_installed(data_dir: Path) -> bool:
    return (Path(data_dir) / "trust" / trustmod.DEMO_MARKER).is_file()


def installed_trust(data_dir: Path, own_key: PublicKey | None = None) -> trustmod.TrustPack:
    policy = trustmod.RootPolicy.installed(demo=is_demo_installed(data_dir))
    folder = trustmod.installed_trust_dir(data_dir)
    if not (folder / trustmod.ROOT_PUB).is_file() and policy.pinned is None:
        raise TrustError(N_("No trust files are installed in {path}. Import the trust pack from the secretariat "
                            "first (sdgkit keys trust-import)."), path=str(data_dir))
    return trustmod.load_trust_pack(folder, policy, own_key=own_key)


# -- gathering -----------------------------------------------------------------------------


def gather(kit: Any, stage: str) -> tuple[dict[str, Any], list[SourceFile]]:
    """The content (answers, indicator values, profile) and evidence files of ``stage``."""
    fw = kit.framework
    st = fw.stage(stage)
    prof = kit.require_profile()
    answers = kit.answers(st.id)
    status = kit.completeness(st.id)
    linked = sorted({i for r in st.requirements() for i in r.indicators})
    values = [v for v in kit.indicator_values() if v["indicator_id"] in linked or v["indicator_id"].startswith("LOC-")]
    files: list[SourceFile] = []
    used: set[str] = set()
    for n, e in enumerate(kit.list_evidence(st.id), start=1):
        base = f"{n:03d}-{safe_name(e.name, limit=60)}"
        path = f"evidence/{st.id}/{safe_name(e.requirement_id)}/{base}"
        while path.casefold() in used:
            path = path + "_"
        used.add(path.casefold())
        files.append(SourceFile(path=path, source=Path(e.path), sha256=e.sha256, size=e.size, mime=e.mime,
                                meta={"stage": e.stage, "requirement": e.requirement_id, "kind": e.kind,
                                      "original_name": e.name, "added": e.added_at, "link_id": e.id}))
    content = {
        "profile": {"city_id": prof.city_id, "name": prof.name, "country": prof.country,
                    "population_band": prof.population_band, "languages": list(prof.languages or []),
                    "mechanism": prof.mechanism, "overlay_id": prof.overlay_id, "target_level": prof.target_level},
        "framework": {"id": fw.id, "version": fw.version, "overlay_id": fw.overlay_id,
                      "overlay_version": fw.overlay_version, "label": fw.label},
        "stage": st.id,
        "level": fw.stage_levels.get(st.id),
        "answers": answers,
        "indicator_values": values,
        "completeness": status.as_dict(fw),
    }
    return content, files


# -- sealing -------------------------------------------------------------------------------


def city_keyfile(kit: Any) -> Path:
    from app.bundle.keys import Role, default_keyfile

    return default_keyfile(kit.layout.keys, Role.CITY)


def _revision_for(kit: Any, stage: str) -> tuple[str, int, str | None, SealedBundle | None]:
    with kit.store.session() as s:
        last = s.execute(select(SealedBundle).where(SealedBundle.stage == stage)
                         .order_by(SealedBundle.revision.desc()).limit(1)).scalar_one_or_none()
        if last is None:
            return secrets.token_hex(16), 1, None, None
        s.expunge(last)
        return last.submission_id, last.revision + 1, last.sums_sha256, last


def _reuser(kit: Any, rsha: str):  # type: ignore[no-untyped-def]
    def lookup(content_key: str) -> ReusableObject | None:
        with kit.store.session() as s:
            rows = s.execute(select(SealedObject, SealedBundle).join(SealedBundle, SealedBundle.bundle_id
                                                                     == SealedObject.bundle_id)
                             .where(SealedObject.content_key == content_key,
                                    SealedObject.recipients_sha256 == rsha)
                             .order_by(SealedBundle.revision.desc())).all()
        for obj, b in rows:
            folder = Path(b.path)
            try:
                manifest = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
                entry = next(o for o in manifest["objects"] if o["id"] == obj.object_id)
            except (OSError, ValueError, StopIteration, KeyError):
                continue
            return ReusableObject(obj.object_id, tuple(folder / seg["name"] for seg in entry["segments"]))
        return None
    return lookup


def seal_stage(kit: Any, stage: str, keyset: KeySet, out_dir: Path | str | None = None, *,
               segment_size: int = DEFAULT_SEGMENT_SIZE, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> SealResult:
    """Seal ``stage`` of the city in ``kit`` to its signed panel; the bundle goes to ``out_dir``
    (default: the data folder's ``bundles/``) and is recorded in the store."""
    from app.bundle.keys import Role

    if keyset.role not in (Role.CITY, Role.OFFICER):
        raise UserInputError(N_("{path} holds a {found} key; this needs the {expected} key."),
                             path=str(city_keyfile(kit)), found=keyset.role.value, expected=Role.CITY.value)
    st = kit.framework.stage(stage)
    prof = kit.require_profile()
    pack = installed_trust(kit.layout.root, own_key=keyset.public_key)
    recipients = pack.require_recipients()
    enrolment = pack.require_enrolment()
    trust_files: dict[str, bytes] = {}
    folder = pack.folder
    for name in (trustmod.ENROLMENT, trustmod.MECHANISM):
        if (folder / name).is_file():
            trust_files[name] = (folder / name).read_bytes()
            trust_files[name + trustmod.SIG_SUFFIX] = (folder / (name + trustmod.SIG_SUFFIX)).read_bytes()
    content, files = gather(kit, st.id)
    submission_id, revision, supersedes, _ = _revision_for(kit, st.id)
    rsha = recipients.recipients_sha256()
    request = SealRequest(city_id=enrolment.city_id or prof.city_id, stage=st.id, submission_id=submission_id,
                          revision=revision, supersedes=supersedes, content=content, files=tuple(files),
                          recipients=tuple(recipients.age_recipients()), panel_id=recipients.panel_id,
                          trust_files=trust_files, demo=pack.demo, segment_size=segment_size,
                          city_label=enrolment.city_name or prof.name)
    out = Path(out_dir) if out_dir else kit.layout.bundles
    result = seal(request, out, keyset.signing_key, reuse=_reuser(kit, rsha), progress=progress, cancel=cancel)
    with kit.store.session() as s:
        s.add(SealedBundle(bundle_id=result.bundle_id, submission_id=submission_id, stage=st.id, revision=revision,
                           supersedes=supersedes, sums_sha256=result.sums_sha256, recipients_sha256=rsha,
                           panel_id=recipients.panel_id, path=str(result.path), size=result.size,
                           demo=int(pack.demo), status="sealed"))
        for o in result.objects:
            s.add(SealedObject(content_key=o.content_key, recipients_sha256=rsha, object_id=o.object_id,
                               size=o.size, bundle_id=result.bundle_id))
        audit.append(s, kit.actor, "bundle.seal", st.id, {"bundle_id": result.bundle_id, "revision": revision,
                                                          "sums_sha256": result.sums_sha256,
                                                          "panel_id": recipients.panel_id})
    return result


def sealed_bundles(kit: Any) -> list[dict[str, Any]]:
    with kit.store.session() as s:
        rows = s.execute(select(SealedBundle).order_by(SealedBundle.stage, SealedBundle.revision)).scalars().all()
        return [{"bundle_id": b.bundle_id, "submission_id": b.submission_id, "stage": b.stage,
                 "revision": b.revision, "status": b.status, "path": b.path, "size": b.size, "demo": bool(b.demo),
                 "sealed_at": b.sealed_at, "panel_id": b.panel_id, "sums_sha256": b.sums_sha256} for b in rows]


# -- verifying with trust --------------------------------------------------------------------


@dataclass
class TrustedBundle:
    verified: VerifiedBundle
    enrolment: trustmod.EnrolmentCert
    demo: bool

    def summary(self) -> dict[str, Any]:
        m = self.verified.manifest
        return {"ok": True, "path": str(self.verified.path), "bundle_id": m["bundle_id"],
                "submission_id": m["submission_id"], "revision": m["revision"], "supersedes": m.get("supersedes"),
                "stage": m["stage"], "city_id": m["city_id"], "city_name": self.enrolment.city_name,
                "country": self.enrolment.country, "mechanism": self.enrolment.mechanism_id,
                "signer_fingerprint": self.verified.submitter.fingerprint(), "panel_id": m["panel_id"],
                "recipient_count": m["recipient_count"], "objects": len(m["objects"]),
                "size": self.verified.size, "sums_sha256": self.verified.sums_sha256, "created": m["created"],
                "demo": self.demo}


def trust_root_for(data_dir: Path | None, trust_dir: Path | None, demo: bool) -> tuple[PublicKey, bool,
                                                                                      trustmod.RevocationList | None]:
    """The root key a verifier uses, whether that makes it demo, and its revocation list."""
    folder = trust_dir or (trustmod.installed_trust_dir(data_dir) if data_dir else None)
    demo = demo or bool(data_dir and is_demo_installed(data_dir))
    policy = trustmod.RootPolicy.installed(demo=demo)
    if folder is None or not folder.is_dir():
        if policy.pinned is None:
            raise TrustError(N_("This kit has no platform root key, so it cannot check trust files. Use an "
                                "official kit, or demo mode for training."))
        return policy.pinned, False, None
    pack, problems = trustmod.inspect_trust_pack(folder, policy)
    if trustmod.REVOCATIONS in problems:
        raise problems[trustmod.REVOCATIONS]
    return pack.root, pack.demo, pack.revocations


def verify_trusted(path: Path | str, *, data_dir: Path | None = None, trust_dir: Path | None = None,
                   demo: bool = False, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, hash_objects: bool = True,
                   trust: tuple[PublicKey, bool, trustmod.RevocationList | None] | None = None) -> TrustedBundle:
    """Intact, authentic, enrolled and not revoked: what a field officer or platform checks.

    ``hash_objects=False`` leaves the objects' hashes to the decryption that follows (an import)."""
    vb = verify_folder(path, progress=progress, cancel=cancel, hash_objects=hash_objects)
    if vb.manifest.get("kind", "submission") != "submission":
        raise BundleError(N_("{path} holds a panel's review results, not a city's submission."), path=str(path))
    root, is_demo, revocations = trust or trust_root_for(data_dir, trust_dir, demo)
    if vb.manifest.get("demo") is True and not is_demo:
        raise TrustError(N_("This is a DEMO bundle, sealed with training trust files. It cannot be submitted."))
    mech = None
    if trustmod.MECHANISM in vb.trust_files:
        mech = trustmod.check_mechanism(vb.trust_files[trustmod.MECHANISM],
                                        _sig(vb, trustmod.MECHANISM), root=root, revocations=revocations,
                                        demo=is_demo, what="trust/mechanism.json")
    if trustmod.ENROLMENT not in vb.trust_files:
        raise TrustError(N_("The bundle carries no enrolment certificate, so nobody can tell which city sealed it."))
    enrolment = trustmod.check_enrolment(vb.trust_files[trustmod.ENROLMENT], _sig(vb, trustmod.ENROLMENT), root=root,
                                         mechanism=mech, expected_key=vb.submitter, revocations=revocations,
                                         demo=is_demo, what="trust/enrolment.json")
    if enrolment.city_id != vb.manifest["city_id"]:
        raise TrustError(N_("The bundle says it is from {found}, but its enrolment is for {expected}."),
                         found=vb.manifest["city_id"], expected=enrolment.city_id)
    return TrustedBundle(verified=vb, enrolment=enrolment, demo=is_demo)


def _sig(vb: VerifiedBundle, name: str) -> str | None:
    raw = vb.trust_files.get(name + trustmod.SIG_SUFFIX)
    return raw.decode("utf-8", "replace") if raw is not None else None


# -- a reviewer's ledger: replay and older revisions ----------------------------------------------


def check_against_ledger(ledger: dict[str, Any], tb: TrustedBundle) -> str:
    """'new', 'newer' or 'same' for a bundle against what was opened before; raises on a replayed
    older revision or a conflicting one (same submission and revision, different bytes)."""
    m = tb.verified.manifest
    seen = ledger.get(m["submission_id"], {})
    same_rev = seen.get(str(m["revision"]))
    if same_rev is not None:
        if same_rev != tb.verified.sums_sha256:
            raise BundleError(N_("Conflict: revision {revision} of this submission was already received with "
                                 "different content. Both are kept aside for the secretariat."),
                              revision=m["revision"])
        return "same"
    newest = max((int(r) for r in seen), default=0)
    if newest > m["revision"]:
        raise BundleError(N_("This is revision {revision}, older than revision {newest} already received. It was "
                             "not imported."), revision=m["revision"], newest=newest)
    return "newer" if seen else "new"


def open_trusted(tb: TrustedBundle, keyset: KeySet, out: Path | str, *, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> OpenedBundle:
    return open_bundle(tb.verified, keyset.age_identity, out, progress=progress, cancel=cancel)


BUNDLE_STATES = ("sealed", "collected", "received", "in_review", "feedback")


def mark_status(kit: Any, bundle_id: str, status: str, *, receipt: str | None = None) -> None:
    """Move a sealed bundle forward (collected by an officer, received with a verified receipt,
    under review, feedback returned). A bundle never moves back; the receipt is kept on the stick."""
    from app.model.models import utcnow

    if status not in BUNDLE_STATES:
        raise ValueError(status)
    with kit.store.session() as s:
        row = s.execute(select(SealedBundle).where(SealedBundle.bundle_id == bundle_id)).scalar_one_or_none()
        if row is None:
            raise UserInputError(N_("No sealed bundle {id} in this data folder."), id=bundle_id)
        if BUNDLE_STATES.index(status) < BUNDLE_STATES.index(row.status):
            return
        row.status = status
        if receipt is not None:
            row.receipt = receipt
        row.updated_at = utcnow()
        audit.append(s, kit.actor, "bundle.status", bundle_id, {"status": status})

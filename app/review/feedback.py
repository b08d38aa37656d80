"""The city's side of review results: import a panel's results bundle, show verdicts in the wizard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.bundle import trust as trustmod
from app.bundle.bundle import open_bundle, verify_folder
from app.bundle.keys import KeySet
from app.bundle.submit import is_demo_installed, mark_status, trust_root_for
from app.errors import BundleError, TrustError
from app.i18n import N_
from app.model import audit
from app.model.models import FeedbackItem, SealedBundle
from app.progress import CancelToken, ProgressCallback


def import_results(kit: Any, path: Path | str, city: KeySet, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> dict[str, Any]:
    """Check and open a review-results bundle for one of this city's sealed bundles, and record
    its verdicts. A tampered bundle, one not signed by a member of the root-signed panel, or one
    about another city's bundle is refused with nothing imported."""
    vb = verify_folder(path, progress=progress, cancel=cancel)
    m = vb.manifest
    if m.get("kind") != "review":
        raise BundleError(N_("{path} is a submission, not a panel's review results."), path=str(path))
    root, demo, revocations = trust_root_for(kit.layout.root, None, is_demo_installed(kit.layout.root))
    carried = vb.trust_files.get(trustmod.RECIPIENTS)
    sig = vb.trust_files.get(trustmod.RECIPIENTS + trustmod.SIG_SUFFIX)
    if carried is None:
        raise TrustError(N_("The review results carry no panel list, so nobody can tell which panel signed them."))
    panel = trustmod.parse_recipients(carried, sig.decode("utf-8", "replace") if sig else None, root=root,
                                      demo=demo, what="trust/recipients.json")
    signer = next((p for p in panel.members if p.signing_key == vb.submitter), None)
    if signer is None:
        raise TrustError(N_("These review results are not signed by a member of panel {panel}."), panel=panel.panel_id)
    if revocations is not None and revocations.lookup(signer.fingerprint) is not None:
        raise TrustError(N_("The key {fingerprint} ({name}) in {file} was revoked on {date} ({reason})."),
                         fingerprint=signer.fingerprint, name=signer.name, file="trust/recipients.json",
                         date=str(revocations.lookup(signer.fingerprint).date),  # type: ignore[union-attr]
                         reason=revocations.lookup(signer.fingerprint).reason)  # type: ignore[union-attr]
    with kit.store.session() as s:
        seen = s.execute(select(FeedbackItem).where(FeedbackItem.results_bundle_id == m["bundle_id"]).limit(1)
                         ).scalar_one_or_none()
    out = kit.layout.root / "feedback" / m["bundle_id"]
    if seen is not None and out.is_dir():
        return _summary(kit, m["bundle_id"], out, already=True)
    from app.bundle.bundle import read_inner_manifest

    inner = read_inner_manifest(vb, city.age_identity)
    content = inner.get("content", {})
    sub = content.get("submission", {})
    with kit.store.session() as s:
        mine = s.execute(select(SealedBundle).where(SealedBundle.bundle_id == sub.get("bundle_id"))).scalar_one_or_none()
        if mine is None or mine.sums_sha256 != sub.get("sums_sha256"):
            raise BundleError(N_("These review results are about a bundle this city did not seal. Nothing was imported."))
        stage, revision, sealed_id = mine.stage, mine.revision, mine.bundle_id
    if out.exists():
        import shutil

        shutil.rmtree(out)
    open_bundle(vb, city.age_identity, out, progress=progress, cancel=cancel)
    verdicts = content.get("verdicts", {})
    with kit.store.session() as s:
        for rid, v in sorted(verdicts.items()):
            s.add(FeedbackItem(results_bundle_id=m["bundle_id"], submission_bundle_id=sealed_id, stage=stage,
                               revision=revision, requirement_id=rid, verdict=str(v.get("verdict", "")),
                               comment=str(v.get("comment", ""))))
        audit.append(s, kit.actor, "feedback.import", sealed_id, {"results_bundle": m["bundle_id"],
                                                                  "verdicts": len(verdicts)})
    mark_status(kit, sealed_id, "feedback")
    return _summary(kit, m["bundle_id"], out, already=False)


def _summary(kit: Any, results_id: str, out: Path, *, already: bool) -> dict[str, Any]:
    doc = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    content = doc["content"]
    reports = sorted(str(out / f["path"]) for f in doc["files"] if f["path"].endswith(".pdf"))
    return {"results_bundle_id": results_id, "stage": content.get("stage"), "already_imported": already,
            "verdicts": content.get("verdicts", {}), "recommendation": content.get("recommendation"),
            "reports": reports, "folder": str(out)}


def feedback_for(kit: Any, stage: str) -> dict[str, dict[str, Any]]:
    """The latest panel verdict and comment per requirement of ``stage`` (for the wizard)."""
    with kit.store.session() as s:
        rows = s.execute(select(FeedbackItem).where(FeedbackItem.stage == stage.upper())
                         .order_by(FeedbackItem.revision, FeedbackItem.id)).scalars().all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out[r.requirement_id] = {"verdict": r.verdict, "comment": r.comment, "revision": r.revision,
                                 "received_at": r.received_at, "results_bundle_id": r.results_bundle_id}
    return out


def report_pdfs(kit: Any, stage: str) -> list[Path]:
    """The report PDFs received for ``stage``, newest revision first."""
    with kit.store.session() as s:
        ids = list(dict.fromkeys(s.execute(select(FeedbackItem.results_bundle_id).where(
            FeedbackItem.stage == stage.upper()).order_by(FeedbackItem.revision.desc())).scalars()))
    found = []
    for rid in ids:
        found += sorted((kit.layout.root / "feedback" / rid).rglob("*.pdf"))
    return found

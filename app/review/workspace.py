"""A technical panel member's workspace: import bundles, record verdicts, report, send results back.

The workspace is a kit data folder (same store, lock, migrations and backups as a city's) holding
the member's key file, the panel's trust pack and the opened submissions under ``review/``. All
functions are Qt-free and take progress callbacks and cancel tokens where work is long.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.bundle import trust as trustmod
from app.bundle.bundle import SealRequest, SealResult, SourceFile, seal
from app.bundle.keys import KeySet, Role
from app.bundle.minisign import PublicKey
from app.bundle.strict_json import document_bytes
from app.bundle.submit import TrustedBundle, open_trusted, verify_trusted
from app.bundle.utctime import format_utc, now_utc
from app.errors import BundleError, NotFoundError, TrustError, UserInputError, ValidationError
from app.fsutil import atomic_write_bytes
from app.i18n import N_
from app.model import audit
from app.model.db import Store
from app.model.framework import Framework, load_framework
from app.model.models import ReviewSubmission, ReviewVerdict
from app.progress import CancelToken, ProgressCallback
from app.report.stage_report import RECOMMENDATIONS, VERDICTS, ReportInput, report_data, report_json

PANEL = "panel"  # the member name of a settled panel verdict


@dataclass
class ImportResult:
    bundle_id: str
    state: str  # new | newer | same
    stage: str
    revision: int
    city_name: str
    opened: Path
    previous_bundle_id: str | None
    steps: list[tuple[str, dict[str, str]]]  # message ids with their parameters, translated when shown


class PanelWorkspace:
    """``with PanelWorkspace(data_dir) as ws:`` -- one writer per folder, like the city's kit."""

    def __init__(self, data_dir: Path | str, *, actor: str = "panel") -> None:
        self.store = Store(data_dir)
        self.layout = self.store.layout
        self.actor = actor
        self._trust: dict[tuple[Any, ...], Any] = {}  # verified trust per folder state, for a run of imports

    def _trust_state(self, trust_dir: Path | None, demo: bool) -> tuple[Any, ...]:
        folder = trust_dir or trustmod.installed_trust_dir(self.root)
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*")
                             if p.is_file())) if folder.is_dir() else ()
        return (str(folder), demo, stamp)

    def _cached(self, key: str, trust_dir: Path | None, demo: bool, make: Any) -> Any:
        k = (key, *self._trust_state(trust_dir, demo))
        if k not in self._trust:
            self._trust[k] = make()
        return self._trust[k]

    def __enter__(self) -> "PanelWorkspace":
        self.store.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    @property
    def root(self) -> Path:
        return self.layout.root

    # -- import ----------------------------------------------------------------------------

    def import_bundle(self, path: Path | str, member: KeySet, *, trust_dir: Path | None = None, demo: bool = False,
                      progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> ImportResult:
        """Verify (intact, authentic, enrolled, not revoked, sealed to this panel), then decrypt.

        A bundle imported before is recognised and not opened twice; a new revision is linked to
        the one it supersedes; an older revision or a conflicting one is refused. Nothing is
        recorded unless every step passed.
        """
        if member.role is not Role.PANEL_MEMBER:
            raise UserInputError(N_("This needs a technical panel member's key, not a {role} key."),
                                 role=member.role.value)
        steps = []
        # the objects' bytes are hashed once, while they are decrypted (nothing is kept if one differs)
        from app.bundle.submit import trust_root_for

        root = self._cached("root", trust_dir, demo, lambda: trust_root_for(self.root, trust_dir, demo))
        tb = verify_trusted(path, data_dir=self.root, trust_dir=trust_dir, demo=demo, progress=progress,
                            cancel=cancel, hash_objects=False, trust=root)
        fp = tb.verified.submitter.fingerprint()
        steps += [(N_("complete: every file the signed checksum list names is there, at its size"), {}),
                  (N_("authentic: signed by {fingerprint}"), {"fingerprint": fp}),
                  (N_("enrolled by mechanism {mechanism} and not revoked"), {"mechanism": tb.enrolment.mechanism_id})]
        recipients = self._recipients(trust_dir, demo)
        m = tb.verified.manifest
        if m["panel_id"] != recipients.panel_id or m["recipients_sha256"] != recipients.recipients_sha256():
            raise TrustError(N_("This bundle was sealed for panel {found}, not for this panel ({expected}). Nothing "
                                "was imported."), found=str(m["panel_id"])[:64], expected=recipients.panel_id)
        if member.age_recipient not in recipients.age_recipients():
            raise TrustError(N_("Your key is not in the signed list of panel {panel}."), panel=recipients.panel_id)
        steps.append((N_("sealed to this panel's signed recipients"), {}))
        state, previous = self._ledger_state(tb)
        if state == "same":
            from app.bundle.bundle import verify_folder

            verify_folder(path, cancel=cancel)  # the same bytes as before: check them in full, decrypt nothing
            with self.store.session() as s:
                row = s.execute(select(ReviewSubmission).where(ReviewSubmission.bundle_id == m["bundle_id"])).scalar_one()
                return ImportResult(row.bundle_id, "same", row.stage, row.revision, row.city_name,
                                    Path(row.opened_path), row.previous_bundle_id, steps)
        out = self.root / "review" / m["submission_id"] / f"r{m['revision']}-{m['bundle_id'][:8]}"
        opened = open_trusted(tb, member, out, progress=progress, cancel=cancel)
        steps.append((N_("intact: every byte matches the signed checksum list"), {}))
        steps.append((N_("decrypted and checked: inner signature, recipients and every file's hash"), {}))
        try:
            with self.store.session() as s:
                s.add(ReviewSubmission(
                    bundle_id=m["bundle_id"], submission_id=m["submission_id"], revision=m["revision"],
                    previous_bundle_id=previous, sums_sha256=tb.verified.sums_sha256, city_id=m["city_id"],
                    city_name=tb.enrolment.city_name, country=tb.enrolment.country, stage=m["stage"],
                    panel_id=m["panel_id"], signer_fingerprint=tb.verified.submitter.fingerprint(),
                    city_age_recipient=tb.enrolment.age_recipient, demo=int(tb.demo), source_path=str(path),
                    opened_path=str(opened.out)))
                audit.append(s, self.actor, "review.import", m["bundle_id"],
                             {"submission": m["submission_id"], "revision": m["revision"],
                              "sums_sha256": tb.verified.sums_sha256})
        except BaseException:
            shutil.rmtree(opened.out, ignore_errors=True)
            raise
        return ImportResult(m["bundle_id"], state, m["stage"], m["revision"], tb.enrolment.city_name, opened.out,
                            previous, steps)

    def _recipients(self, trust_dir: Path | None, demo: bool) -> trustmod.RecipientsFile:
        def load() -> trustmod.RecipientsFile:
            folder = trust_dir or trustmod.installed_trust_dir(self.root)
            policy = trustmod.RootPolicy.installed(demo=demo or (folder / trustmod.DEMO_MARKER).is_file())
            return trustmod.load_trust_pack(folder, policy).require_recipients()

        # validity periods are checked at load; a workspace is not open for days
        return self._cached("recipients", trust_dir, demo, load)  # type: ignore[no-any-return]

    def _ledger_state(self, tb: TrustedBundle) -> tuple[str, str | None]:
        m = tb.verified.manifest
        with self.store.session() as s:
            rows = s.execute(select(ReviewSubmission).where(ReviewSubmission.submission_id == m["submission_id"])
                             .order_by(ReviewSubmission.revision)).scalars().all()
        for r in rows:
            if r.revision == m["revision"]:
                if r.sums_sha256 != tb.verified.sums_sha256:
                    raise BundleError(N_("Conflict: revision {revision} of this submission was already received with "
                                         "different content. Both are kept aside for the secretariat."),
                                      revision=m["revision"])
                return "same", r.previous_bundle_id
        newest = max((r.revision for r in rows), default=0)
        if newest > m["revision"]:
            raise BundleError(N_("This is revision {revision}, older than revision {newest} already received. It was "
                                 "not imported."), revision=m["revision"], newest=newest)
        previous = rows[-1].bundle_id if rows else None
        return ("newer" if rows else "new"), previous

    # -- reading ---------------------------------------------------------------------------

    def submissions(self) -> list[dict[str, Any]]:
        with self.store.session() as s:
            rows = s.execute(select(ReviewSubmission).order_by(ReviewSubmission.city_name, ReviewSubmission.stage,
                                                              ReviewSubmission.revision)).scalars().all()
            return [{"bundle_id": r.bundle_id, "submission_id": r.submission_id, "revision": r.revision,
                     "stage": r.stage, "city": r.city_name, "country": r.country, "previous": r.previous_bundle_id,
                     "opened": r.opened_path, "demo": bool(r.demo), "imported_at": r.imported_at} for r in rows]

    def _row(self, bundle_id: str) -> ReviewSubmission:
        with self.store.session() as s:
            row = s.execute(select(ReviewSubmission).where(ReviewSubmission.bundle_id.startswith(bundle_id))).scalars().all()
        if len(row) != 1:
            raise NotFoundError(N_("No imported bundle {id} in this workspace."), id=bundle_id)
        return row[0]

    def submission(self, bundle_id: str) -> dict[str, Any]:
        """The opened submission: answers, indicator values, files (with paths on disk)."""
        row = self._row(bundle_id)
        doc = json.loads((Path(row.opened_path) / "submission.json").read_text(encoding="utf-8"))
        for f in doc["files"]:
            f["local_path"] = str(Path(row.opened_path) / f["path"])
        return doc

    def framework_for(self, doc: dict[str, Any]) -> Framework:
        fw = doc["content"].get("framework", {})
        return load_framework(fw.get("overlay_id"))

    def changes(self, bundle_id: str) -> dict[str, Any]:
        """What changed since the revision this one supersedes: per requirement, the fields whose
        answer changed and the evidence added or removed (by content)."""
        row = self._row(bundle_id)
        new = self.submission(row.bundle_id)
        if not row.previous_bundle_id:
            return {"previous": None, "requirements": {}}
        old = self.submission(row.previous_bundle_id)
        changed: dict[str, dict[str, Any]] = {}
        na, oa = new["content"].get("answers", {}), old["content"].get("answers", {})
        for rid in sorted(set(na) | set(oa)):
            fields = sorted(f for f in set(na.get(rid, {})) | set(oa.get(rid, {}))
                            if na.get(rid, {}).get(f) != oa.get(rid, {}).get(f))
            if fields:
                changed.setdefault(rid, {"fields": [], "evidence_added": [], "evidence_removed": []})["fields"] = fields

        def ev(doc: dict[str, Any]) -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for f in doc["files"]:
                out.setdefault(f.get("requirement", ""), set()).add(f["sha256"])
            return out

        ne, oe = ev(new), ev(old)
        names = {f["sha256"]: f.get("original_name", f["path"]) for f in new["files"] + old["files"]}
        for rid in sorted(set(ne) | set(oe)):
            added, removed = ne.get(rid, set()) - oe.get(rid, set()), oe.get(rid, set()) - ne.get(rid, set())
            if added or removed:
                entry = changed.setdefault(rid, {"fields": [], "evidence_added": [], "evidence_removed": []})
                entry["evidence_added"] = sorted(names[h] for h in added)
                entry["evidence_removed"] = sorted(names[h] for h in removed)
        nv = {json.dumps(v, sort_keys=True) for v in new["content"].get("indicator_values", [])}
        ov = {json.dumps(v, sort_keys=True) for v in old["content"].get("indicator_values", [])}
        return {"previous": row.previous_bundle_id, "requirements": changed,
                "indicator_values_changed": len(nv ^ ov)}

    # -- verdicts --------------------------------------------------------------------------

    def set_verdict(self, bundle_id: str, requirement_id: str, verdict: str, comment: str = "", *,
                    member: KeySet | None = None, panel: bool = False) -> None:
        """A member's verdict (``member``) or the settled panel verdict (``panel=True``)."""
        if verdict not in VERDICTS:
            raise ValidationError(N_("A verdict is met, not_met or needs_information."))
        row = self._row(bundle_id)
        doc = self.submission(row.bundle_id)
        self.framework_for(doc).requirement(requirement_id)  # unknown requirement -> clear error
        if not panel and member is None:
            raise UserInputError(N_("Say whose verdict this is: a member's key, or the settled panel verdict."))
        who = PANEL if panel else member.fingerprint  # type: ignore[union-attr]
        name = "" if panel else member.name  # type: ignore[union-attr]
        with self.store.session() as s:
            v = s.execute(select(ReviewVerdict).where(ReviewVerdict.bundle_id == row.bundle_id,
                                                      ReviewVerdict.requirement_id == requirement_id,
                                                      ReviewVerdict.member == who)).scalar_one_or_none()
            old = (v.verdict, v.comment) if v else None
            if v is None:
                s.add(ReviewVerdict(bundle_id=row.bundle_id, requirement_id=requirement_id, member=who,
                                    member_name=name, verdict=verdict, comment=comment))
            else:
                v.verdict, v.comment, v.updated_at = verdict, comment, format_utc(now_utc())
            audit.append(s, self.actor, "review.verdict", f"{row.bundle_id}:{requirement_id}",
                         {"member": who, "old": old, "new": [verdict, comment]})

    def verdicts(self, bundle_id: str) -> dict[str, dict[str, Any]]:
        """Per requirement: the settled verdict (explicit, or the members' unanimous one) and each
        member's verdict."""
        row = self._row(bundle_id)
        with self.store.session() as s:
            rows = s.execute(select(ReviewVerdict).where(ReviewVerdict.bundle_id == row.bundle_id)).scalars().all()
        out: dict[str, dict[str, Any]] = {}
        for v in rows:
            e = out.setdefault(v.requirement_id, {"verdict": "pending", "comment": "", "members": {}, "settled": False})
            if v.member == PANEL:
                e.update(verdict=v.verdict, comment=v.comment, settled=True)
            else:
                e["members"][v.member_name or v.member] = {"verdict": v.verdict, "comment": v.comment}
        for e in out.values():
            if not e["settled"] and e["members"]:
                kinds = {m["verdict"] for m in e["members"].values()}
                if len(kinds) == 1:
                    e["verdict"] = kinds.pop()
                    e["comment"] = " ".join(m["comment"] for m in e["members"].values() if m["comment"])
        return out

    # -- reports -----------------------------------------------------------------------------

    def report_input(self, bundle_id: str, member: KeySet, recommendation: str | None = None) -> ReportInput:
        row = self._row(bundle_id)
        doc = self.submission(row.bundle_id)
        fw = self.framework_for(doc)
        recipients = self._recipients(None, bool(row.demo))
        content = doc["content"]
        return ReportInput(
            framework=fw, stage=row.stage,
            city={"name": row.city_name, "country": row.country, "city_id": row.city_id},
            panel={"id": recipients.panel_id, "name": recipients.panel_name, "language": recipients.language},
            bundle={"bundle_id": row.bundle_id, "revision": row.revision, "fingerprint": row.sums_sha256[:32],
                    "signer": row.signer_fingerprint},
            answers=content.get("answers", {}), indicator_values=content.get("indicator_values", []),
            verdicts=self.verdicts(row.bundle_id), signer_fingerprint=member.fingerprint,
            recommendation=recommendation)

    def write_report(self, bundle_id: str, member: KeySet, out_dir: Path | str, languages: list[str], *,
                     recommendation: str | None = None, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> dict[str, Path]:
        from app.report.stage_report import report_pdf

        inp = self.report_input(bundle_id, member, recommendation)
        out = Path(out_dir)
        stem = f"stage-{inp.stage}-report-r{inp.bundle['revision']}"
        written = {"json": out / f"{stem}.json"}
        atomic_write_bytes(written["json"], report_json(inp))
        for i, lang in enumerate(languages):
            if cancel:
                cancel.check()
            if progress:
                progress(i, len(languages), N_("Writing the report"))
            p = out / f"{stem}-{lang}.pdf"
            atomic_write_bytes(p, report_pdf(inp, lang))
            written[lang] = p
        if progress:
            progress(len(languages), len(languages), N_("Writing the report"))
        return written

    # -- results back to the city; hand-off to the board -----------------------------------

    def results_bundle(self, bundle_id: str, member: KeySet, out_dir: Path | str, *, languages: list[str] | None = None,
                       recommendation: str | None = None, progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None) -> SealResult:
        """A review-results bundle: signed by the member, readable by the city, the panel and the
        secretariat's recovery key; it carries the verdicts and the report (JSON and PDFs)."""
        row = self._row(bundle_id)
        langs = languages or ["en"]
        scratch = self.layout.tmp / f"report-{row.bundle_id[:8]}"
        shutil.rmtree(scratch, ignore_errors=True)
        files = self.write_report(row.bundle_id, member, scratch, langs, recommendation=recommendation,
                                  cancel=cancel)
        folder = trustmod.installed_trust_dir(self.root)
        recipients = self._recipients(None, bool(row.demo))
        data = report_data(self.report_input(row.bundle_id, member, recommendation))
        sources = []
        for key, p in files.items():
            b = p.read_bytes()
            sources.append(SourceFile(path=f"evidence/{row.stage}/report/{p.name}", source=p,
                                      sha256=hashlib.sha256(b).hexdigest(), size=len(b),
                                      mime="application/json" if key == "json" else "application/pdf",
                                      meta={"kind": "report", "language": key}))
        trust_files = {n: (folder / n).read_bytes() for n in (trustmod.RECIPIENTS, trustmod.RECIPIENTS + trustmod.SIG_SUFFIX)}
        content = {"kind": "review-results", "submission": {"bundle_id": row.bundle_id,
                                                            "submission_id": row.submission_id,
                                                            "revision": row.revision, "sums_sha256": row.sums_sha256},
                   "stage": row.stage, "verdicts": {rid: {"verdict": v["verdict"], "comment": v["comment"]}
                                                    for rid, v in self.verdicts(row.bundle_id).items()},
                   "report": data, "recommendation": recommendation, "panel_id": recipients.panel_id}
        req = SealRequest(city_id=row.city_id, stage=row.stage, submission_id=row.submission_id, revision=row.revision,
                          supersedes=row.sums_sha256, content=content, files=tuple(sources),
                          recipients=tuple(sorted(set(recipients.age_recipients()) | {row.city_age_recipient})),
                          panel_id=recipients.panel_id, trust_files=trust_files, demo=bool(row.demo),
                          city_label=row.city_name, kind="review")
        try:
            result = seal(req, out_dir, member.signing_key, progress=progress, cancel=cancel)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with self.store.session() as s:
            audit.append(s, self.actor, "review.results", row.bundle_id, {"results_bundle": result.bundle_id})
        return result

    def board_handoff(self, bundle_id: str, member: KeySet, recommendation: str, out_dir: Path | str, *,
                      languages: list[str] | None = None) -> Path:
        """A folder for the certification board: the signed recommendation and the report.

        ``recommendation.json`` names the report files by SHA-256 and is signed with minisign by the
        member (``recommendation.json.minisig``), so the board checks it with stock tools."""
        if recommendation not in RECOMMENDATIONS:
            raise ValidationError(N_("A recommendation is award, defer or decline."))
        row = self._row(bundle_id)
        out = Path(out_dir) / f"BOARD-{row.city_id[:12]}-{row.stage}-r{row.revision}-{row.bundle_id[:8]}"
        if out.exists():
            raise UserInputError(N_("The folder {path} is not empty. Choose a new or empty folder."), path=str(out))
        files = self.write_report(row.bundle_id, member, out, languages or ["en"], recommendation=recommendation)
        doc = {"format": "sdgkit-board-recommendation", "format_version": 1, "recommendation": recommendation,
               "city": {"id": row.city_id, "name": row.city_name, "country": row.country}, "stage": row.stage,
               "submission": {"bundle_id": row.bundle_id, "submission_id": row.submission_id,
                              "revision": row.revision, "sums_sha256": row.sums_sha256},
               "signer": {"name": member.name, "fingerprint": member.fingerprint,
                          "ed25519": member.public_key.to_base64()},
               "issued": format_utc(now_utc()),
               "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()}}
        data = document_bytes(doc)
        atomic_write_bytes(out / "recommendation.json", data)
        sig = member.signing_key.sign_bytes(data, f"sdgkit-board-recommendation {recommendation} bundle={row.bundle_id}")
        atomic_write_bytes(out / "recommendation.json.minisig", sig.encode("ascii"))
        atomic_write_bytes(out / "member.pub", member.public_key.to_string().encode("ascii"))
        with self.store.session() as s:
            audit.append(s, self.actor, "review.board", row.bundle_id, {"recommendation": recommendation})
        return out


def check_board_handoff(folder: Path | str) -> dict[str, Any]:
    """Verify a board hand-off folder: the signature and every report file's hash."""
    folder = Path(folder)
    key = PublicKey.from_file(folder / "member.pub")
    data = (folder / "recommendation.json").read_bytes()
    key.verify_bytes(data, (folder / "recommendation.json.minisig").read_text(encoding="utf-8"))
    doc = json.loads(data)
    for name, digest in doc["files"].items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            raise BundleError(N_("The file {file} in the bundle was altered or damaged: its SHA-256 does not match."),
                              file=name)
    return doc

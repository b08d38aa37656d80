"""The assessment service: the one API the CLI, the UI and the bundle sealer use to read and
change a city's data. Qt-free; every change is one durable transaction plus an audit entry."""

from __future__ import annotations

import getpass
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import func, select

from app.errors import NotFoundError, ValidationError
from app.i18n import N_
from app.model import audit
from app.model.db import Store
from app.model.evidence import EvidenceStore
from app.model.framework import (
    Field,
    Framework,
    Requirement,
    load_framework,
    missing_reason,
    reason_params,
    validate_value,
)
from app.model.indicators import Catalogue, Indicator, load_catalogue
from app.model.models import (
    Answer,
    AnswerHistory,
    Assessment,
    CityProfile,
    EvidenceBlob,
    EvidenceLink,
    IndicatorValue,
    LocalIndicator,
    Setting,
    utcnow,
)

POPULATION_BANDS = ("<50k", "50k-250k", "250k-1m", "1m-5m", ">5m")
MECHANISMS = ("global", "national")
VALUE_KINDS = ("observed", "baseline", "target")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database on some locked-down PCs
        return "user"


def disaggregation_key(d: dict[str, str]) -> str:
    return ";".join(f"{k}={d[k]}" for k in sorted(d))


@dataclass
class Missing:
    """One thing still missing, with where to jump to fix it."""

    requirement_id: str
    field_id: str | None
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement_id, "field": self.field_id, "message": self.msgid,
                "params": self.params}


@dataclass
class RequirementStatus:
    requirement_id: str
    mandatory: bool
    complete: bool
    missing: list[Missing]
    answered_fields: int
    total_fields: int


@dataclass
class StageStatus:
    stage: str
    requirements: list[RequirementStatus]

    @property
    def mandatory(self) -> list[RequirementStatus]:
        return [r for r in self.requirements if r.mandatory]

    @property
    def complete_count(self) -> int:
        return sum(1 for r in self.mandatory if r.complete)

    @property
    def total(self) -> int:
        return len(self.mandatory)

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.complete_count == self.total

    @property
    def state(self) -> str:
        if self.complete:
            return "complete"
        started = any(r.answered_fields for r in self.requirements)
        return "partial" if started else "not_started"

    @property
    def percent(self) -> int:
        return round(100 * self.complete_count / self.total) if self.total else 0

    def criterion_progress(self, framework: Framework) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        by_id = {r.requirement_id: r for r in self.requirements}
        for c in framework.stage(self.stage).criteria:
            reqs = [by_id[r.id] for r in c.requirements if r.mandatory and r.id in by_id]
            out[c.id] = (sum(1 for r in reqs if r.complete), len(reqs))
        return out

    def as_dict(self, framework: Framework) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "state": self.state,
            "complete": self.complete,
            "percent": self.percent,
            "requirements_complete": self.complete_count,
            "requirements_total": self.total,
            "criteria": {cid: {"complete": a, "total": b} for cid, (a, b) in self.criterion_progress(framework).items()},
            "missing": [m.as_dict() for r in self.requirements if r.mandatory for m in r.missing],
        }


@dataclass(frozen=True)
class EvidenceInfo:
    id: int
    stage: str
    requirement_id: str
    kind: str
    name: str
    sha256: str
    size: int
    mime: str
    added_at: str
    path: Path


class Kit:
    """A city's data folder, opened. Use ``with Kit(path) as kit:``."""

    def __init__(self, data_dir: Path | str, *, actor: str | None = None, lock: bool = True) -> None:
        self.store = Store(data_dir, lock=lock)
        self.layout = self.store.layout
        self.actor = actor or default_actor()
        self.evidence = EvidenceStore(self.layout.evidence)
        self._framework: Framework | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> "Kit":
        self.store.open()
        return self

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Kit":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare_for_removal(self) -> None:
        """Finish writes and fold the WAL into the database file so the stick can be pulled."""
        self.store.checkpoint()

    # -- settings ----------------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.store.session() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.store.session() as s:
            row = s.get(Setting, key)
            if row:
                row.value = value
            else:
                s.add(Setting(key=key, value=value))

    # -- framework & catalogue ---------------------------------------------------------------
    @property
    def framework(self) -> Framework:
        if self._framework is None:
            prof = self.profile()
            self._framework = load_framework(prof.overlay_id if prof and prof.mechanism == "national" else None)
        return self._framework

    def catalogue(self) -> Catalogue:
        base = load_catalogue()
        with self.store.session() as s:
            local = [Indicator(id=li.id, code=li.id[4:], framework="LOCAL", name={"en": li.name}, domain=li.domain,
                               objective=li.objective, unit=li.unit, direction=li.direction,
                               disaggregation=tuple(li.disaggregation or ()), verification="local")
                     for li in s.execute(select(LocalIndicator)).scalars()]
        return base.with_local(local) if local else base

    # -- profile -----------------------------------------------------------------------------
    def profile(self) -> CityProfile | None:
        with self.store.session() as s:
            return s.execute(select(CityProfile)).scalar_one_or_none()

    def require_profile(self) -> CityProfile:
        prof = self.profile()
        if prof is None:
            raise NotFoundError(N_("No city profile yet. Run 'sdgkit init' or the first-run wizard."))
        return prof

    def init_profile(self, *, name: str, country: str, population_band: str, languages: Iterable[str],
                     mechanism: str = "global", overlay_id: str | None = None, target_level: str | None = None,
                     contact: str | None = None) -> CityProfile:
        name = (name or "").strip()
        if not name:
            raise ValidationError(N_("Enter the city's name."))
        country = (country or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(N_("Enter the country as a two-letter ISO code, for example KE."))
        if population_band not in POPULATION_BANDS:
            raise ValidationError(N_("Choose a population band: {bands}."), bands=", ".join(POPULATION_BANDS))
        if mechanism not in MECHANISMS:
            raise ValidationError(N_("The mechanism must be global or national."))
        if mechanism == "national":
            if not overlay_id:
                raise ValidationError(N_("A national mechanism needs its national overlay."))
            load_framework(overlay_id)  # validates the overlay before anything is stored
        else:
            overlay_id = None
        langs = list(languages)
        fw = load_framework(overlay_id)
        if target_level and target_level not in {lv.id for lv in fw.levels}:
            raise ValidationError(N_("Unknown level {level}."), level=target_level)
        with self.store.session() as s:
            prof = s.execute(select(CityProfile)).scalar_one_or_none()
            old = None
            if prof is None:
                prof = CityProfile(city_id=uuid.uuid4().hex, name=name, country=country,
                                   population_band=population_band, languages=langs, mechanism=mechanism,
                                   overlay_id=overlay_id, target_level=target_level, contact=contact)
                s.add(prof)
            else:
                old = {"name": prof.name, "country": prof.country, "mechanism": prof.mechanism}
                prof.name, prof.country, prof.population_band = name, country, population_band
                prof.languages, prof.mechanism, prof.overlay_id = langs, mechanism, overlay_id
                prof.target_level, prof.contact, prof.updated_at = target_level, contact, utcnow()
            s.flush()
            audit.append(s, self.actor, "profile.set", "profile",
                         {"old": old, "new": {"name": name, "country": country, "mechanism": mechanism,
                                              "overlay": overlay_id, "population_band": population_band,
                                              "languages": langs, "target_level": target_level}})
        self._framework = None
        return self.require_profile()

    # -- assessments -------------------------------------------------------------------------
    def _assessment(self, s, stage: str, create: bool = True) -> Assessment | None:  # type: ignore[no-untyped-def]
        stage = self.framework.stage(stage).id
        a = s.execute(select(Assessment).where(Assessment.stage == stage)).scalar_one_or_none()
        if a is None and create:
            fw = self.framework
            a = Assessment(stage=stage, framework_id=fw.id, framework_version=fw.version,
                           overlay_id=fw.overlay_id, overlay_version=fw.overlay_version)
            s.add(a)
            s.flush()
            audit.append(s, self.actor, "assessment.create", f"stage:{stage}",
                         {"framework": fw.id, "version": fw.version, "overlay": fw.overlay_id,
                          "overlay_version": fw.overlay_version})
        return a

    def assessment_info(self, stage: str) -> dict[str, Any]:
        with self.store.session() as s:
            a = self._assessment(s, stage)
            return {"stage": a.stage, "framework_id": a.framework_id, "framework_version": a.framework_version,
                    "overlay_id": a.overlay_id, "overlay_version": a.overlay_version, "status": a.status,
                    "current_requirement": a.current_requirement, "updated_at": a.updated_at}

    def set_current(self, stage: str, requirement_id: str) -> None:
        self.framework.requirement(requirement_id)
        with self.store.session() as s:
            a = self._assessment(s, stage)
            a.current_requirement = requirement_id

    def current(self, stage: str) -> str | None:
        with self.store.session() as s:
            a = self._assessment(s, stage, create=False)
            return a.current_requirement if a else None

    # -- answers -----------------------------------------------------------------------------
    def _check_requirement(self, stage: str, requirement_id: str) -> Requirement:
        req = self.framework.requirement(requirement_id)
        if req.stage_id != self.framework.stage(stage).id:
            raise ValidationError(N_("Requirement {requirement} is not part of stage {stage}."),
                                  requirement=requirement_id, stage=stage)
        return req

    @staticmethod
    def _validate(fld: Field, value: Any) -> None:
        err = validate_value(fld, value)
        if err:
            raise ValidationError(err, **reason_params(fld, err))

    def set_answers(self, stage: str, requirement_id: str, values: dict[str, Any]) -> int:
        """Store several field values of one requirement in one transaction; returns how many changed."""
        req = self._check_requirement(stage, requirement_id)
        for fid, value in values.items():
            self._validate(req.field(fid), value)
        changed = 0
        with self.store.session() as s:
            a = self._assessment(s, stage)
            existing = {ans.field_id: ans for ans in s.execute(
                select(Answer).where(Answer.assessment_id == a.id, Answer.requirement_id == requirement_id)).scalars()}
            now = utcnow()
            for fid, value in values.items():
                new = canonical(value)
                ans = existing.get(fid)
                old = ans.value if ans else None
                if old == new:
                    continue
                if ans is None:
                    s.add(Answer(assessment_id=a.id, requirement_id=requirement_id, field_id=fid, value=new,
                                 updated_at=now, updated_by=self.actor))
                else:
                    ans.value, ans.updated_at, ans.updated_by = new, now, self.actor
                s.add(AnswerHistory(assessment_id=a.id, requirement_id=requirement_id, field_id=fid,
                                    old_value=old, new_value=new, changed_at=now, changed_by=self.actor))
                audit.append(s, self.actor, "answer.set", f"{requirement_id}/{fid}", {"old": old, "new": new})
                changed += 1
            if changed:
                a.updated_at = now
        return changed

    def set_answer(self, stage: str, requirement_id: str, field_id: str, value: Any) -> bool:
        return self.set_answers(stage, requirement_id, {field_id: value}) > 0

    def answers(self, stage: str) -> dict[str, dict[str, Any]]:
        with self.store.session() as s:
            a = self._assessment(s, stage, create=False)
            if a is None:
                return {}
            out: dict[str, dict[str, Any]] = {}
            for req_id, fid, val in s.execute(select(Answer.requirement_id, Answer.field_id, Answer.value)
                                              .where(Answer.assessment_id == a.id)):
                out.setdefault(req_id, {})[fid] = json.loads(val)
            return out

    def history(self, stage: str, requirement_id: str) -> list[dict[str, Any]]:
        with self.store.session() as s:
            a = self._assessment(s, stage, create=False)
            if a is None:
                return []
            rows = s.execute(select(AnswerHistory).where(AnswerHistory.assessment_id == a.id,
                                                         AnswerHistory.requirement_id == requirement_id)
                             .order_by(AnswerHistory.id)).scalars()
            return [{"field": h.field_id, "old": json.loads(h.old_value) if h.old_value else None,
                     "new": json.loads(h.new_value) if h.new_value else None, "at": h.changed_at,
                     "by": h.changed_by} for h in rows]

    # -- evidence ----------------------------------------------------------------------------
    def _allowed_extensions(self, kind: str | None) -> set[str] | None:
        if kind is None:
            return None
        k = self.framework.evidence_kinds.get(kind)
        if k is None:
            raise ValidationError(N_("Unknown evidence kind {kind}."), kind=kind)
        return set(k.extensions) or None

    def attach_evidence(self, stage: str, requirement_id: str, path: Path | str, *, kind: str | None = None,
                        note: str = "") -> EvidenceInfo:
        req = self._check_requirement(stage, requirement_id)
        if kind is None:
            kind = req.evidence[0].kind if req.evidence else "document"
        stored = self.evidence.put(Path(path), self._allowed_extensions(kind))
        name = Path(path).name
        with self.store.session() as s:
            a = self._assessment(s, stage)
            if s.get(EvidenceBlob, stored.sha256) is None:
                s.add(EvidenceBlob(sha256=stored.sha256, size=stored.size, mime=stored.mime))
                s.flush()
            link = EvidenceLink(assessment_id=a.id, requirement_id=requirement_id, kind=kind, sha256=stored.sha256,
                                original_name=name, note=note, added_by=self.actor)
            s.add(link)
            s.flush()
            a.updated_at = utcnow()
            audit.append(s, self.actor, "evidence.add", f"{requirement_id}/{link.id}",
                         {"sha256": stored.sha256, "name": name, "kind": kind, "size": stored.size})
            return EvidenceInfo(link.id, a.stage, requirement_id, kind, name, stored.sha256, stored.size,
                                stored.mime, link.added_at, stored.path)

    def remove_evidence(self, link_id: int) -> None:
        with self.store.session() as s:
            link = s.get(EvidenceLink, link_id)
            if link is None or link.removed_at:
                raise NotFoundError(N_("No attached file with number {id}."), id=link_id)
            link.removed_at = utcnow()
            audit.append(s, self.actor, "evidence.remove", f"{link.requirement_id}/{link.id}",
                         {"sha256": link.sha256, "name": link.original_name})

    def list_evidence(self, stage: str | None = None, requirement_id: str | None = None) -> list[EvidenceInfo]:
        with self.store.session() as s:
            q = (select(EvidenceLink, EvidenceBlob, Assessment.stage)
                 .join(EvidenceBlob, EvidenceBlob.sha256 == EvidenceLink.sha256)
                 .join(Assessment, Assessment.id == EvidenceLink.assessment_id)
                 .where(EvidenceLink.removed_at.is_(None)).order_by(EvidenceLink.id))
            if stage:
                q = q.where(Assessment.stage == stage.upper())
            if requirement_id:
                q = q.where(EvidenceLink.requirement_id == requirement_id)
            return [EvidenceInfo(l.id, st, l.requirement_id, l.kind, l.original_name, b.sha256, b.size, b.mime,
                                 l.added_at, self.evidence.path_for(b.sha256)) for l, b, st in s.execute(q)]

    # -- indicators --------------------------------------------------------------------------
    def add_local_indicator(self, *, domain: str, objective: str, name: str, unit: str,
                            direction: str = "context_dependent", disaggregation: Iterable[str] = ()) -> str:
        cat = load_catalogue()
        d, o = cat.domain_number(domain), cat.objective_number(objective)
        if unit not in cat.units:
            raise ValidationError(N_("Unknown unit {unit}."), unit=unit)
        if not name.strip():
            raise ValidationError(N_("Enter the indicator's name."))
        with self.store.session() as s:
            prefix = f"LOC-{d}.{o}."
            n = s.execute(select(func.count()).select_from(LocalIndicator)
                          .where(LocalIndicator.id.like(prefix + "%"))).scalar_one() + 1
            ind_id = f"{prefix}{n}"
            s.add(LocalIndicator(id=ind_id, domain=domain, objective=objective, name=name.strip(), unit=unit,
                                 direction=direction, disaggregation=list(disaggregation)))
            audit.append(s, self.actor, "indicator.local.add", ind_id, {"name": name, "unit": unit})
        return ind_id

    def validate_indicator_value(self, cat: Catalogue, indicator_id: str, *, year: Any, value: Any, unit: str,
                                 kind: str, disaggregation: dict[str, str]) -> Indicator:
        ind = cat.get(indicator_id)
        if kind not in VALUE_KINDS:
            raise ValidationError(N_("The value kind must be observed, baseline or target."))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValidationError(N_("Enter a number."))
        if not isinstance(year, int) or not 1950 <= year <= 2100:
            raise ValidationError(N_("Enter a year between 1950 and 2100."))
        if unit != ind.unit:
            raise ValidationError(N_("Indicator {indicator} is measured in {expected}, not {unit}."),
                                  indicator=indicator_id, expected=ind.unit, unit=unit)
        for dim, val in disaggregation.items():
            spec = cat.dimensions.get(dim)
            if spec is None or dim not in ind.disaggregation:
                raise ValidationError(N_("Indicator {indicator} is not broken down by {dimension}."),
                                      indicator=indicator_id, dimension=dim)
            values = {v["id"] for v in spec.get("values", ())}
            if values and val not in values:
                raise ValidationError(N_("Unknown value {value} for {dimension}."), value=val, dimension=dim)
        return ind

    def set_indicator_value(self, indicator_id: str, *, year: int, value: float, unit: str | None = None,
                            kind: str = "observed", source: str = "", disaggregation: dict[str, str] | None = None,
                            spatial_unit: str = "") -> None:
        self.set_indicator_values([dict(indicator_id=indicator_id, year=year, value=value, unit=unit, kind=kind,
                                        source=source, disaggregation=disaggregation or {},
                                        spatial_unit=spatial_unit)])

    def set_indicator_values(self, rows: list[dict[str, Any]]) -> int:
        """Upsert many values in one transaction (all or nothing); returns how many were stored."""
        cat = self.catalogue()
        for r in rows:
            if r.get("unit") is None:
                r["unit"] = cat.get(r["indicator_id"]).unit
            self.validate_indicator_value(cat, r["indicator_id"], year=r["year"], value=r["value"], unit=r["unit"],
                                          kind=r.get("kind", "observed"),
                                          disaggregation=r.get("disaggregation") or {})
        with self.store.session() as s:
            now = utcnow()
            for r in rows:
                dis = r.get("disaggregation") or {}
                key = disaggregation_key(dis)
                kind = r.get("kind", "observed")
                spatial = r.get("spatial_unit", "") or ""
                row = s.execute(select(IndicatorValue).where(
                    IndicatorValue.indicator_id == r["indicator_id"], IndicatorValue.year == r["year"],
                    IndicatorValue.kind == kind, IndicatorValue.disaggregation_key == key,
                    IndicatorValue.spatial_unit == spatial)).scalar_one_or_none()
                old = row.value if row else None
                if row is None:
                    s.add(IndicatorValue(indicator_id=r["indicator_id"], kind=kind, year=r["year"],
                                         value=float(r["value"]), unit=r["unit"], source=r.get("source", "") or "",
                                         disaggregation=dis, disaggregation_key=key, spatial_unit=spatial,
                                         updated_at=now, updated_by=self.actor))
                else:
                    row.value, row.unit, row.source = float(r["value"]), r["unit"], r.get("source", "") or ""
                    row.updated_at, row.updated_by = now, self.actor
                audit.append(s, self.actor, "indicator.value", r["indicator_id"],
                             {"year": r["year"], "kind": kind, "key": key, "spatial": spatial, "old": old,
                              "new": float(r["value"])})
        return len(rows)

    def delete_indicator_value(self, value_id: int) -> None:
        with self.store.session() as s:
            row = s.get(IndicatorValue, value_id)
            if row is None:
                raise NotFoundError(N_("No indicator value with number {id}."), id=value_id)
            audit.append(s, self.actor, "indicator.value.delete", row.indicator_id,
                         {"year": row.year, "kind": row.kind, "key": row.disaggregation_key, "old": row.value})
            s.delete(row)

    def indicator_values(self, indicator_id: str | None = None) -> list[dict[str, Any]]:
        with self.store.session() as s:
            q = select(IndicatorValue).order_by(IndicatorValue.indicator_id, IndicatorValue.year, IndicatorValue.id)
            if indicator_id:
                q = q.where(IndicatorValue.indicator_id == indicator_id)
            return [{"id": v.id, "indicator_id": v.indicator_id, "kind": v.kind, "year": v.year, "value": v.value,
                     "unit": v.unit, "source": v.source, "disaggregation": dict(v.disaggregation or {}),
                     "spatial_unit": v.spatial_unit} for v in s.execute(q).scalars()]

    # -- completeness ------------------------------------------------------------------------
    def completeness(self, stage: str) -> StageStatus:
        st = self.framework.stage(stage)
        with self.store.session() as s:
            a = self._assessment(s, st.id, create=False)
            answers: dict[str, dict[str, Any]] = {}
            ev_counts: dict[tuple[str, str], int] = {}
            if a is not None:
                for req_id, fid, val in s.execute(select(Answer.requirement_id, Answer.field_id, Answer.value)
                                                  .where(Answer.assessment_id == a.id)):
                    answers.setdefault(req_id, {})[fid] = json.loads(val)
                for req_id, kind, n in s.execute(
                        select(EvidenceLink.requirement_id, EvidenceLink.kind, func.count())
                        .where(EvidenceLink.assessment_id == a.id, EvidenceLink.removed_at.is_(None))
                        .group_by(EvidenceLink.requirement_id, EvidenceLink.kind)):
                    ev_counts[(req_id, kind)] = n
            with_values = set(s.execute(select(IndicatorValue.indicator_id).distinct()).scalars())
        return StageStatus(st.id, [self._requirement_status(r, answers.get(r.id, {}), ev_counts, with_values)
                                   for r in st.requirements()])

    @staticmethod
    def _requirement_status(req: Requirement, ans: dict[str, Any], ev_counts: dict[tuple[str, str], int],
                            with_values: set[str]) -> RequirementStatus:
        missing: list[Missing] = []
        answered = 0
        for f in req.fields:
            v = ans.get(f.id)
            if v not in (None, "", [], {}):
                answered += 1
            reason = missing_reason(f, v, ans)
            if reason:
                missing.append(Missing(req.id, f.id, reason, reason_params(f, reason)))
        for e in req.evidence:
            have = ev_counts.get((req.id, e.kind), 0)
            if have < e.min:
                missing.append(Missing(req.id, None, N_("Attach at least {min} file(s) of kind {kind}."),
                                       {"min": e.min, "kind": e.kind, "have": have}))
        if req.min_indicator_values:
            have = sum(1 for i in req.indicators if i in with_values)
            if have < req.min_indicator_values:
                missing.append(Missing(req.id, None, N_("Enter values for at least {min} of the linked indicators."),
                                       {"min": req.min_indicator_values, "have": have}))
        return RequirementStatus(req.id, req.mandatory, not missing, missing, answered, len(req.fields))

    def status(self) -> dict[str, StageStatus]:
        return {st.id: self.completeness(st.id) for st in self.framework.stages}

    # -- integrity ---------------------------------------------------------------------------
    def audit_verify(self) -> audit.ChainReport:
        with self.store.session() as s:
            return audit.verify_chain(s)

    def check(self) -> dict[str, Any]:
        """Full integrity check: database pages, audit chain, every evidence file's hash."""
        db = self.store.integrity_check()
        chain = self.audit_verify()
        bad: list[dict[str, str]] = []
        with self.store.session() as s:
            blobs = [(b.sha256, b.size) for b in s.execute(select(EvidenceBlob)).scalars()]
        for sha, size in blobs:
            reason = self.evidence.verify(sha, size)
            if reason:
                bad.append({"sha256": sha, "problem": reason})
        return {"database": db, "database_ok": db == ["ok"], "audit_ok": chain.ok, "audit_entries": chain.entries,
                "audit_first_bad": chain.first_bad, "evidence_files": len(blobs), "evidence_bad": bad,
                "ok": db == ["ok"] and chain.ok and not bad}

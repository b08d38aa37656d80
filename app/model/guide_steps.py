"""The plain logic behind the desktop app's guidance: what to do next, where each missing item is,
which evidence kind a dropped file is, whether a mount looks like a removable drive.

Qt-free (the UI in ``app/ui`` turns these into widgets), so it is tested without a display.
Texts are message ids marked with ``N_``; the UI translates them with ``_(msgid, **params)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Iterable, Mapping

from app.i18n import N_

#: Plain words for a sealed bundle's status, as the home screen shows it.
BUNDLE_STATUS_TEXT: dict[str, str] = {
    "sealed": N_("Sealed, not yet collected"),
    "collected": N_("Collected by the field officer"),
    "received": N_("Received by the platform (receipt checked)"),
    "in_review": N_("Under review by the technical panel"),
    "feedback": N_("Feedback returned"),
}

#: Plain words for a stage's state.
STAGE_STATE_TEXT: dict[str, str] = {
    "not_started": N_("Not started"),
    "partial": N_("In progress"),
    "complete": N_("Complete"),
}


@dataclass(frozen=True)
class Step:
    """What the person should do next: a message id with its values and the button's action.

    ``action`` is one of ``setup`` (finish the first run), ``trust`` (import the trust pack),
    ``open_stage``, ``seal``, ``handover`` (give a sealed bundle to the field officer) or ``wait``.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    action: str = "wait"
    stage: str | None = None


def stage_for_level(framework: Any, level_id: str | None) -> str | None:
    """The stage whose certification gives ``level_id`` (None if unknown)."""
    for sid, lid in framework.stage_levels.items():
        if lid == level_id:
            return sid
    return None


def target_stages(framework: Any, target_level: str | None) -> list[str]:
    """Stage ids in order up to and including the one that gives the target level (all without one)."""
    ids = [s.id for s in framework.stages]
    last = stage_for_level(framework, target_level)
    return ids[: ids.index(last) + 1] if last in ids else ids


def latest_bundles(bundles: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest revision of each stage's sealed bundle."""
    out: dict[str, Mapping[str, Any]] = {}
    for b in bundles:
        cur = out.get(b["stage"])
        if cur is None or b["revision"] > cur["revision"]:
            out[b["stage"]] = b
    return out


def next_step(framework: Any, statuses: Mapping[str, Any], bundles: Iterable[Mapping[str, Any]], *,
              has_key: bool, has_trust: bool, target_level: str | None) -> Step:
    """The one thing to do next, from the city's state. ``statuses`` maps stage id to
    :class:`app.model.service.StageStatus`; ``bundles`` is :func:`app.bundle.submit.sealed_bundles`."""
    if not has_key:
        return Step(N_("Create the city's key to finish setting up the kit."), action="setup")
    latest = latest_bundles(bundles)
    for sid in target_stages(framework, target_level):
        st = statuses.get(sid)
        sealed = latest.get(sid)
        if st is None:
            continue
        if not st.complete and sealed is None:
            left = st.total - st.complete_count
            if st.state == "not_started":
                return Step(N_("Start stage {stage}: {count} requirements to fill in."),
                            {"stage": sid, "count": left}, "open_stage", sid)
            return Step(N_("Continue stage {stage}: {count} requirements still missing."),
                        {"stage": sid, "count": left}, "open_stage", sid)
        if st.complete and sealed is None:
            if not has_trust:
                return Step(N_("Stage {stage} is complete. Import the trust pack from the secretariat so you can "
                               "seal it."), {"stage": sid}, "trust", sid)
            return Step(N_("Stage {stage} is complete. Seal it and give it to the field officer."),
                        {"stage": sid}, "seal", sid)
        if sealed is not None and sealed["status"] == "sealed":
            return Step(N_("Give the sealed stage {stage} to the field officer."), {"stage": sid}, "handover", sid)
    return Step(N_("Everything up to your target level is sealed and handed over. The technical panel's "
                   "feedback will come back through the field officer."), action="wait")


# -- "what is missing" -> pages -------------------------------------------------------------------

@dataclass(frozen=True)
class MissingItem:
    """One missing thing of a stage and where it is: the criterion page, the requirement, and the
    field (``target == "field"``), the evidence panel or the indicator panel."""

    page: int
    criterion_id: str
    requirement_id: str
    field_id: str | None
    target: str
    msgid: str
    params: dict[str, Any]


def criterion_page(framework: Any, stage_id: str, requirement_id: str | None) -> int:
    """The page (criterion index) of ``requirement_id`` in its stage; 0 when unknown or None."""
    if requirement_id:
        for i, c in enumerate(framework.stage(stage_id).criteria):
            if any(r.id == requirement_id for r in c.requirements):
                return i
    return 0


def page_requirement(framework: Any, stage_id: str, page: int) -> str:
    """The first requirement of page ``page``: what the store remembers as "where you left off"."""
    crits = framework.stage(stage_id).criteria
    return crits[max(0, min(page, len(crits) - 1))].requirements[0].id


def missing_items(framework: Any, status: Any) -> list[MissingItem]:
    """Every missing thing of the mandatory requirements of a stage, in page order."""
    mandatory = {r.requirement_id: r for r in status.requirements if r.mandatory}
    out: list[MissingItem] = []
    for i, c in enumerate(framework.stage(status.stage).criteria):
        for req in c.requirements:
            rs = mandatory.get(req.id)
            if rs is None:
                continue
            for m in rs.missing:
                if m.field_id:
                    target = "field"
                elif "indicator" in m.msgid:
                    target = "indicators"
                else:
                    target = "evidence"
                out.append(MissingItem(i, c.id, req.id, m.field_id, target, m.msgid, dict(m.params)))
    return out


# -- evidence ---------------------------------------------------------------------------------

def choose_evidence_kind(framework: Any, requirement: Any, filename: str,
                         counts: Mapping[str, int] | None = None) -> str | None:
    """The evidence kind a file most likely is for ``requirement``: the first expected kind that
    accepts its extension and still needs files, else the first that accepts it, else None."""
    ext = PurePath(filename).suffix.lower()
    counts = counts or {}
    fitting = []
    for e in requirement.evidence:
        kind = framework.evidence_kinds.get(e.kind)
        if kind is None or (kind.extensions and ext not in kind.extensions):
            continue
        fitting.append(e)
    for e in fitting:
        if counts.get(e.kind, 0) < e.min:
            return e.kind
    return fitting[0].kind if fitting else None


def bundle_needed_bytes(sizes: Iterable[int]) -> int:
    """About how much room a bundle needs: the evidence plus encryption overhead and a margin."""
    total = sum(int(s) for s in sizes)
    return total + total // 50 + (8 << 20)


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]?$")
_REMOVABLE_PREFIXES = ("/media/", "/run/media/", "/mnt/", "/Volumes/")
_PSEUDO_FS = {"tmpfs", "devtmpfs", "proc", "sysfs", "overlay", "squashfs", "autofs", "ramfs", "devpts", "cgroup",
              "cgroup2", "fuse.portal", "efivarfs", "nsfs", "tracefs", "debugfs", "securityfs", "pstore", "bpf"}


def removable_mount(root_path: str, fs_type: str, read_only: bool, *, platform: str,
                    system_drive: str = "C:") -> bool:
    """Whether a mounted volume looks like a USB stick or card the person can write a bundle to."""
    if read_only or fs_type.lower() in _PSEUDO_FS:
        return False
    if platform == "win32":
        return bool(_WINDOWS_DRIVE.match(root_path)) and \
            root_path[:2].upper() != system_drive[:2].upper()
    path = root_path.rstrip("/") + "/"
    return path.startswith(_REMOVABLE_PREFIXES) and path not in _REMOVABLE_PREFIXES


# -- the work programme on the home screen ------------------------------------------------------

@dataclass(frozen=True)
class WorkProgramme:
    target_date: str | None
    next_submission: str | None
    activities: list[dict[str, Any]]
    activity_columns: list[Any]


def work_programme(framework: Any, answers: Mapping[str, Mapping[str, Any]]) -> WorkProgramme:
    """The city's target date, next submission and planned activities, from stage A's answers
    (fields ``target_date``, ``next_submission`` and the table ``activities``, wherever the
    framework puts them). Missing pieces are None or empty."""
    found: dict[str, Any] = {}
    columns: list[Any] = []
    for st in framework.stages[:1]:
        for req in st.requirements():
            for f in req.fields:
                if f.id in ("target_date", "next_submission", "activities") and f.id not in found:
                    found[f.id] = answers.get(req.id, {}).get(f.id)
                    if f.id == "activities":
                        columns = list(f.columns)
    rows = found.get("activities") or []
    return WorkProgramme(found.get("target_date") or None, found.get("next_submission") or None,
                         [r for r in rows if isinstance(r, dict)], columns)

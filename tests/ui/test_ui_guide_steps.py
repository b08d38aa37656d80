"""The Qt-free logic behind the app's guidance (app/model/guide_steps.py)."""

from __future__ import annotations

from app.model.demo import answer_requirement
from app.model.framework import load_framework
from app.model.guide_steps import (
    BUNDLE_STATUS_TEXT,
    bundle_needed_bytes,
    choose_evidence_kind,
    criterion_page,
    missing_items,
    next_step,
    page_requirement,
    removable_mount,
    target_stages,
    work_programme,
)


def test_next_step_walks_the_path(kit):
    fw = kit.framework
    st = kit.status()
    step = next_step(fw, st, [], has_key=False, has_trust=False, target_level=None)
    assert step.action == "setup"
    step = next_step(fw, st, [], has_key=True, has_trust=False, target_level="silver")
    assert (step.action, step.stage, step.msgid.startswith("Start stage")) == ("open_stage", "A", True)
    answer_requirement(kit, next(fw.stage("A").requirements()))
    step = next_step(fw, kit.status(), [], has_key=True, has_trust=False, target_level="silver")
    st_a = kit.status()["A"]
    assert step.msgid.startswith("Continue stage") and step.params["count"] == st_a.total - st_a.complete_count


class _Done:
    complete, state, total, complete_count = True, "complete", 3, 3


def test_next_step_after_completion_trust_seal_and_handover():
    fw = load_framework()
    done = {s.id: _Done() for s in fw.stages}
    assert next_step(fw, done, [], has_key=True, has_trust=False, target_level="silver").action == "trust"
    assert next_step(fw, done, [], has_key=True, has_trust=True, target_level="silver").action == "seal"
    sealed = [{"stage": "A", "revision": 1, "status": "sealed"}]
    assert next_step(fw, done, sealed, has_key=True, has_trust=True, target_level="silver").action == "handover"
    collected = [{"stage": "A", "revision": 1, "status": "collected"}]
    assert next_step(fw, done, collected, has_key=True, has_trust=True, target_level="silver").action == "wait"
    step = next_step(fw, done, collected, has_key=True, has_trust=True, target_level="gold")
    assert (step.action, step.stage) == ("seal", "B")
    assert target_stages(fw, "gold") == ["A", "B"] and target_stages(fw, None) == ["A", "B", "C", "D"]
    assert set(BUNDLE_STATUS_TEXT) == {"sealed", "collected", "received", "in_review", "feedback"}


def test_missing_items_point_at_pages_fields_and_panels(kit):
    fw = kit.framework
    items = missing_items(fw, kit.completeness("A"))
    assert items and all(0 <= m.page < len(fw.stage("A").criteria) for m in items)
    for m in items:
        crit = fw.stage("A").criteria[m.page]
        assert any(r.id == m.requirement_id for r in crit.requirements)
        if m.target == "field":
            assert fw.requirement(m.requirement_id).field(m.field_id)
    assert {m.target for m in items} >= {"field", "evidence"}
    assert criterion_page(fw, "A", "A.c.2") == 2 and criterion_page(fw, "A", None) == 0
    assert page_requirement(fw, "A", 1) == fw.stage("A").criteria[1].requirements[0].id


def test_evidence_kind_from_the_file_name():
    fw = load_framework()
    req = fw.requirement("A.c.2")  # a map (images, pdf ...) and reports
    assert choose_evidence_kind(fw, req, "wards.png") == "map"
    assert choose_evidence_kind(fw, req, "study.docx") == "report"
    assert choose_evidence_kind(fw, req, "virus.exe") is None
    req2 = fw.requirement("A.a.1")
    assert choose_evidence_kind(fw, req2, "plan.pdf", {"document": 0}) == "document"


def test_removable_drives_are_told_from_system_ones():
    assert removable_mount("/media/usb/STICK", "vfat", False, platform="linux")
    assert removable_mount("/run/media/ana/KIT", "exfat", False, platform="linux")
    assert not removable_mount("/", "ext4", False, platform="linux")
    assert not removable_mount("/media/", "vfat", False, platform="linux")
    assert not removable_mount("/media/cdrom", "iso9660", True, platform="linux")
    assert not removable_mount("/mnt/x", "tmpfs", False, platform="linux")
    assert removable_mount("E:/", "FAT32", False, platform="win32", system_drive="C:")
    assert not removable_mount("C:/", "NTFS", False, platform="win32", system_drive="C:")
    assert removable_mount("/Volumes/KIT", "msdos", False, platform="darwin")


def test_space_needed_has_a_margin():
    assert bundle_needed_bytes([]) >= 8 << 20
    assert bundle_needed_bytes([500_000_000]) > 500_000_000 + (8 << 20)


def test_work_programme_from_stage_a(demo_dir):
    from app.model.service import Kit

    with Kit(demo_dir) as kit:
        wp = work_programme(kit.framework, kit.answers("A"))
    assert wp.target_date and wp.next_submission and len(wp.activities) >= 2
    assert [c.id for c in wp.activity_columns][:2] == ["activity", "stage"]
    empty = work_programme(load_framework(), {})
    assert empty.target_date is None and empty.activities == []

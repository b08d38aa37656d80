"""The assessment service: answers with history, evidence store, indicators, completeness, audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import NotFoundError, UserInputError, ValidationError
from app.model.demo import make_pdf, make_png, value_for
from app.model.framework import Field, Requirement


def first_field(kit, ftype: str) -> tuple[Requirement, Field]:
    for st in kit.framework.stages:
        for r in st.requirements():
            for f in r.fields:
                if f.type == ftype:
                    return r, f
    raise AssertionError(f"the framework has no {ftype} field")


def test_answer_history_and_audit(kit):
    req, fld = first_field(kit, "text")
    assert kit.set_answer(req.stage_id, req.id, fld.id, "first draft")
    assert kit.set_answer(req.stage_id, req.id, fld.id, "second draft")
    assert not kit.set_answer(req.stage_id, req.id, fld.id, "second draft")  # no change, no history
    assert kit.answers(req.stage_id)[req.id][fld.id] == "second draft"
    hist = kit.history(req.stage_id, req.id)
    assert [(h["old"], h["new"]) for h in hist] == [(None, "first draft"), ("first draft", "second draft")]
    assert all(h["by"] == "tester" for h in hist)
    rep = kit.audit_verify()
    assert rep.ok and rep.entries >= 4  # profile, assessment, two answers


@pytest.mark.parametrize("ftype,bad", [("number", "many"), ("yes_no", "yes"), ("date", "31/12/2024"),
                                       ("single_choice", "not-an-option"), ("table", {"x": 1})])
def test_invalid_values_are_refused_and_nothing_changes(kit, ftype, bad):
    req, fld = first_field(kit, ftype)
    with pytest.raises(ValidationError):
        kit.set_answer(req.stage_id, req.id, fld.id, bad)
    assert kit.answers(req.stage_id).get(req.id, {}).get(fld.id) is None


def test_number_range_message_names_the_limit(kit):
    for st in kit.framework.stages:
        for r in st.requirements():
            for f in r.fields:
                if f.type == "number" and f.min is not None:
                    with pytest.raises(ValidationError) as exc:
                        kit.set_answer(r.stage_id, r.id, f.id, f.min - 1)
                    assert str(f.min).rstrip("0").rstrip(".") in exc.value.message("en")
                    return
    pytest.fail("no number field with a minimum")


def test_requirement_of_another_stage_is_refused(kit):
    req, fld = first_field(kit, "text")
    other = next(s.id for s in kit.framework.stages if s.id != req.stage_id)
    with pytest.raises(ValidationError):
        kit.set_answer(other, req.id, fld.id, "x")


def test_evidence_is_content_addressed_and_deduplicated(kit, tmp_path: Path):
    req = next(r for s in kit.framework.stages for r in s.requirements() if r.evidence)
    a = tmp_path / "plan.pdf"
    a.write_bytes(make_pdf("City plan"))
    b = tmp_path / "copy of plan.pdf"
    b.write_bytes(a.read_bytes())
    kind = next(e.kind for e in req.evidence if ".pdf" in kit.framework.evidence_kinds[e.kind].extensions)
    e1 = kit.attach_evidence(req.stage_id, req.id, a, kind=kind)
    e2 = kit.attach_evidence(req.stage_id, req.id, b, kind=kind)
    assert e1.sha256 == e2.sha256 and e1.path == e2.path and e1.path.read_bytes() == a.read_bytes()
    assert e1.path.parent.name == e1.sha256[:2]
    names = sorted(e.name for e in kit.list_evidence(req.stage_id, req.id))
    assert names == ["copy of plan.pdf", "plan.pdf"]
    kit.remove_evidence(e1.id)
    assert [e.name for e in kit.list_evidence(req.stage_id, req.id)] == ["copy of plan.pdf"]
    with pytest.raises(NotFoundError):
        kit.remove_evidence(e1.id)


@pytest.mark.parametrize("case", ["missing", "empty", "renamed", "type", "folder"])
def test_bad_evidence_gets_clear_message_and_nothing_is_stored(kit, tmp_path: Path, case):
    req = next(r for s in kit.framework.stages for r in s.requirements() if r.evidence)
    kind = next(e.kind for e in req.evidence if ".pdf" in kit.framework.evidence_kinds[e.kind].extensions)
    p = tmp_path / "evidence.pdf"
    if case == "empty":
        p.write_bytes(b"")
    elif case == "renamed":
        p.write_bytes(b"MZ\x90\x00 this is a program, not a PDF")
    elif case == "type":
        p = tmp_path / "tool.exe"
        p.write_bytes(b"MZ\x90\x00")
    elif case == "folder":
        p = tmp_path / "folder.pdf"
        p.mkdir()
    with pytest.raises(UserInputError) as exc:
        kit.attach_evidence(req.stage_id, req.id, p, kind=kind)
    assert exc.value.message("en")
    assert kit.list_evidence() == []
    assert not any(f.is_file() for f in kit.layout.evidence.rglob("*"))


def test_oversize_evidence_is_refused_before_copying(kit, tmp_path: Path):
    req = next(r for s in kit.framework.stages for r in s.requirements() if r.evidence)
    kit.evidence.max_bytes = 1000
    p = tmp_path / "big.png"
    p.write_bytes(make_png(200, 200, 1))
    with pytest.raises(ValidationError) as exc:
        kit.attach_evidence(req.stage_id, req.id, p, kind="photo" if "photo" in kit.framework.evidence_kinds else None)
    assert "too large" in exc.value.message("en")
    assert kit.list_evidence() == []


def test_indicator_values_and_local_indicators(kit):
    cat = kit.catalogue()
    ind = next(i for i in cat.indicators.values() if "sex" in i.disaggregation)
    sex = cat.dimensions["sex"]["values"][0]["id"]
    kit.set_indicator_value(ind.id, year=2024, value=12.5, kind="baseline", source="census",
                            disaggregation={"sex": sex}, spatial_unit="Ward 3")
    kit.set_indicator_value(ind.id, year=2024, value=13.0, kind="baseline", source="census",
                            disaggregation={"sex": sex}, spatial_unit="Ward 3")  # same key: updated
    vals = kit.indicator_values(ind.id)
    assert len(vals) == 1 and vals[0]["value"] == 13.0 and vals[0]["disaggregation"] == {"sex": sex}
    with pytest.raises(ValidationError):
        kit.set_indicator_value(ind.id, year=2024, value=1, unit="not-a-unit")
    with pytest.raises(ValidationError):
        kit.set_indicator_value(ind.id, year=2024, value=1, disaggregation={"colour": "blue"})
    with pytest.raises(ValidationError):
        kit.set_indicator_value("SDG-99.9.9", year=2024, value=1)
    dom = cat.domains[0]["id"]
    obj = cat.objectives[2]["id"]
    loc = kit.add_local_indicator(domain=dom, objective=obj, name="Boda-boda stages registered", unit=ind.unit)
    assert loc == f"LOC-{cat.domains[0]['number']}.{cat.objectives[2]['number']}.1"
    kit.set_indicator_value(loc, year=2023, value=5)
    assert kit.catalogue().get(loc).framework == "LOCAL"


def test_completeness_follows_answers_evidence_and_indicators(kit, tmp_path: Path):
    from app.model.demo import answer_requirement, attach_evidence, indicator_values

    stage = kit.framework.stages[0]
    status = kit.completeness(stage.id)
    assert status.state == "not_started" and not status.complete
    reqs = [r for r in stage.requirements() if r.mandatory]
    first = reqs[0]
    answer_requirement(kit, first)
    st = kit.completeness(stage.id)
    by = {r.requirement_id: r for r in st.requirements}
    if first.evidence and first.evidence[0].min:
        assert not by[first.id].complete
        assert any("Attach" in m.msgid for m in by[first.id].missing)
    attach_evidence(kit, first, tmp_path / "src")
    indicator_values(kit, list(first.indicators))
    st = kit.completeness(stage.id)
    assert {r.requirement_id: r for r in st.requirements}[first.id].complete
    assert st.state == "partial"
    for r in reqs[1:]:
        answer_requirement(kit, r)
        attach_evidence(kit, r, tmp_path / "src")
        indicator_values(kit, list(r.indicators))
    assert kit.completeness(stage.id).complete


def test_required_if_field(kit):
    for st in kit.framework.stages:
        for r in st.requirements():
            for f in r.fields:
                if f.required_if:
                    other = r.field(f.required_if["field"])
                    answers = {o.id: value_for(r, o) for o in r.fields if o.id != f.id}
                    answers[other.id] = f.required_if["equals"]
                    kit.set_answers(r.stage_id, r.id, answers)
                    missing = {m.field_id for m in next(x for x in kit.completeness(r.stage_id).requirements
                                                        if x.requirement_id == r.id).missing}
                    assert f.id in missing
                    return
    pytest.fail("the framework uses no conditional (required_if) field")


def test_audit_chain_detects_tampering(kit):
    import sqlite3

    req, fld = first_field(kit, "text")
    for i in range(5):
        kit.set_answer(req.stage_id, req.id, fld.id, f"v{i}")
    assert kit.audit_verify().ok
    kit.store.checkpoint()
    con = sqlite3.connect(kit.layout.db)
    con.execute("UPDATE audit_entry SET payload = replace(payload, 'v2', 'v9') WHERE seq = (SELECT max(seq)-2 FROM audit_entry)")
    con.commit()
    con.close()
    rep = kit.audit_verify()
    assert not rep.ok and rep.first_bad is not None


def test_check_finds_damaged_evidence(kit, tmp_path: Path):
    req = next(r for s in kit.framework.stages for r in s.requirements() if r.evidence)
    p = tmp_path / "photo.png"
    p.write_bytes(make_png(10, 10, 3))
    kind = next((e.kind for e in req.evidence if ".png" in kit.framework.evidence_kinds[e.kind].extensions), None)
    info = kit.attach_evidence(req.stage_id, req.id, p, kind=kind) if kind else None
    if info is None:
        pdf = tmp_path / "x.pdf"
        pdf.write_bytes(make_pdf("x"))
        info = kit.attach_evidence(req.stage_id, req.id, pdf)
    assert kit.check()["ok"]
    data = bytearray(info.path.read_bytes())
    data[-1] ^= 1
    info.path.write_bytes(bytes(data))
    rep = kit.check()
    assert not rep["ok"] and rep["evidence_bad"] == [{"sha256": info.sha256, "problem": "hash"}]


def test_profile_validation(kit):
    with pytest.raises(ValidationError):
        kit.init_profile(name="", country="KE", population_band="<50k", languages=["en"])
    with pytest.raises(ValidationError):
        kit.init_profile(name="X", country="Kenya", population_band="<50k", languages=["en"])
    with pytest.raises(ValidationError):
        kit.init_profile(name="X", country="KE", population_band="<50k", languages=["en"], mechanism="national")
    assert kit.profile().name == "Testville"


def test_assessment_records_framework_version(kit):
    st = kit.framework.stages[0].id
    info = kit.assessment_info(st)
    assert info["framework_id"] == kit.framework.id and info["framework_version"] == kit.framework.version


def test_a_city_under_the_national_overlay_answers_its_requirements(tmp_path: Path):
    """The Kenyan sample overlay: its added requirement is asked, its change applies, its renamed
    level shows, and the assessment records both versions."""
    from app.model.service import Kit

    with Kit(tmp_path / "ke", actor="tester") as kit:
        kit.init_profile(name="Nakuru", country="KE", population_band="250k-1m", languages=["en"],
                         mechanism="national", overlay_id="ke")
        fw = kit.framework
        assert fw.overlay_id == "ke" and fw.label == "sdg-cities-global 1.0.0 + ke 1.0.0"
        assert "A.a.KE1" in [r.id for r in fw.stage("A").requirements()]
        assert fw.requirement("A.a.3").mandatory is False and fw.requirement("A.a.KE1").origin == "ke"
        assert fw.level_name("A", "en") == "Silver (county candidate)"
        def ke1() -> list:
            st = next(r for r in kit.completeness("A").requirements if r.requirement_id == "A.a.KE1")
            return [(m.field_id, m.msgid) for m in st.missing]

        assert {f for f, _ in ke1()} >= {"cidp_title", "alignment"}  # asked, and not yet answered
        kit.set_answers("A", "A.a.KE1", {"cidp_title": "Nakuru County Integrated Development Plan 2023-2027",
                                         "alignment": "The CIDP's urban chapter carries the city's SDG 6, 11 and 13 "
                                                      "priorities, with ward-level targets for informal settlements."})
        assert [f for f, _ in ke1()] == [None]  # only the expected CIDP pages are still missing
        info = kit.assessment_info("A")
        assert info["overlay_id"] == "ke" and info["overlay_version"] == "1.0.0"

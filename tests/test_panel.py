"""The technical panel's path: import, verdicts, report, results back to the city, revision 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.keys import KeySet, Role, load_keyfile
from app.bundle.submit import sealed_bundles, seal_stage
from app.cli.main import main
from app.errors import BundleError, IntegrityError, KitError, TrustError
from app.i18n import translate
from app.model.service import Kit
from app.review.feedback import feedback_for, import_results, report_pdfs
from app.review.workspace import PanelWorkspace, check_board_handoff

LANGS = ("ar", "zh", "en", "fr", "ru", "es")


def quiet(*args: str) -> None:
    assert main(list(args)) == 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("panel-world")
    city, panel = base / "city", base / "panel"
    quiet("--data", str(city), "demo")
    quiet("--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo")
    return {"base": base, "city": city, "panel": panel}


def city_keys(city: Path) -> KeySet:
    return load_keyfile(city / "keys" / "city.key", DEMO_PASSPHRASE)


def member(city: Path, n: int = 1) -> KeySet:
    return load_keyfile(city / "demo" / "panel" / f"reviewer-{n}.key", DEMO_PASSPHRASE)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_the_whole_path_from_city_to_panel_and_back(world, tmp_path):
    city, panel = world["city"], world["panel"]
    stick = tmp_path / "stick"
    plan = tmp_path / "ward-plan-scan.pdf"
    plan.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 2000)  # 512 KB: travels as an object of its own
    with Kit(city) as kit:
        kit.attach_evidence("B", "B.b.1", plan, kind="document")
        r1 = seal_stage(kit, "B", city_keys(city), stick)
    r1_member, r2_member = member(city, 1), member(city, 2)
    with PanelWorkspace(panel) as ws:
        imp = ws.import_bundle(r1.path, r1_member)
        assert imp.state == "new" and imp.stage == "B" and imp.revision == 1
        assert [s.split(":")[0] for s, _ in imp.steps] == ["complete", "authentic", "enrolled by mechanism {mechanism} "
                                                           "and not revoked", "sealed to this panel's signed recipients",
                                                           "intact", "decrypted and checked"]
        again = ws.import_bundle(r1.path, r1_member)
        assert again.state == "same" and len(ws.submissions()) == 1  # recognised, not imported twice
        doc = ws.submission(r1.bundle_id)
        with Kit(city) as kit:
            assert doc["content"]["answers"] == json.loads(json.dumps(kit.answers("B")))
        fw = ws.framework_for(doc)
        reqs = [r.id for r in fw.stage("B").requirements()]
        for rid in reqs:
            ws.set_verdict(r1.bundle_id, rid, "met", member=r1_member)
            ws.set_verdict(r1.bundle_id, rid, "met", member=r2_member)
        ws.set_verdict(r1.bundle_id, reqs[1], "not_met", "Baseline lacks informal areas.", member=r2_member)
        ws.set_verdict(r1.bundle_id, reqs[1], "needs_information", "Add the 2024 ward survey for Kisima.", panel=True)
        v = ws.verdicts(r1.bundle_id)
        assert v[reqs[0]]["verdict"] == "met" and not v[reqs[0]]["settled"]  # unanimous members
        assert v[reqs[1]]["verdict"] == "needs_information" and v[reqs[1]]["settled"]
        assert len(v[reqs[1]]["members"]) == 2
        files = ws.write_report(r1.bundle_id, r1_member, tmp_path / "report", ["en"])
        report = json.loads(files["json"].read_text(encoding="utf-8"))
        assert report["summary"]["criteria_total"] == 5 and report["summary"]["criteria_met"] == 4
        assert [g["requirement"] for g in report["gaps"]] == [reqs[1]]
        assert report["gaps"][0]["action"] == "Add the 2024 ward survey for Kisima."
        assert report["gaps"][0]["tools"], "each gap points to tools that help"
        assert files["en"].read_bytes().startswith(b"%PDF")
        results = ws.results_bundle(r1.bundle_id, r1_member, tmp_path / "results", languages=["en", "fr"])
        hand = ws.board_handoff(r1.bundle_id, r1_member, "defer", tmp_path / "board")
    assert check_board_handoff(hand)["recommendation"] == "defer"
    r = subprocess.run(["minisign", "-V", "-p", "member.pub", "-m", "recommendation.json"], cwd=hand,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    with Kit(city) as kit:
        got = import_results(kit, results.path, city_keys(city))
        assert got["stage"] == "B" and not got["already_imported"]
        fb = feedback_for(kit, "B")
        assert fb[reqs[1]] == {**fb[reqs[1]], "verdict": "needs_information",
                               "comment": "Add the 2024 ward survey for Kisima.", "revision": 1}
        assert fb[reqs[0]]["verdict"] == "met"
        assert [p.name for p in report_pdfs(kit, "B")] == ["stage-B-report-r1-en.pdf", "stage-B-report-r1-fr.pdf"]
        assert next(b for b in sealed_bundles(kit) if b["bundle_id"] == r1.bundle_id)["status"] == "feedback"
        # the city answers "needs information": one new evidence file and one changed answer
        survey = tmp_path / "kisima-ward-survey-2024.csv"
        survey.write_text("ward,households,women-headed\nKisima,4200,1730\n", encoding="utf-8")
        kit.attach_evidence("B", reqs[1], survey, kind="dataset")
        req = kit.framework.requirement(reqs[1])
        fld = next(f for f in req.fields if f.type == "text")
        kit.set_answer("B", reqs[1], fld.id, "The 2024 ward survey now covers Kisima and Mji Mpya; see the attached "
                                             "household table disaggregated by sex of household head.")
        r2 = seal_stage(kit, "B", city_keys(city), stick)
    assert r2.revision == 2
    unchanged = {o.content_key for o in r1.objects} & {o.content_key for o in r2.objects}
    assert unchanged and all(o.reused for o in r2.objects if o.content_key in unchanged)
    assert r2.reused_bytes > 500_000 and r2.encrypted_bytes < r1.encrypted_bytes
    with PanelWorkspace(panel) as ws:
        imp2 = ws.import_bundle(r2.path, r1_member)
        assert imp2.state == "newer" and imp2.previous_bundle_id == r1.bundle_id
        changes = ws.changes(r2.bundle_id)
        assert set(changes["requirements"]) == {reqs[1]}  # only what changed
        ch = changes["requirements"][reqs[1]]
        assert ch["fields"] == [fld.id] and ch["evidence_added"] == ["kisima-ward-survey-2024.csv"]
        assert ch["evidence_removed"] == []
        # revision 1 arriving again after revision 2 (a courier's old copy): recognised, not made current
        shutil.copytree(r1.path, tmp_path / "replayed")
        assert ws.import_bundle(tmp_path / "replayed", r1_member).state == "same"
        assert [x["revision"] for x in ws.submissions()] == [1, 2]


def test_replayed_older_revision_from_another_copy_is_refused(world, tmp_path):
    base = tmp_path / "w"
    shutil.copytree(world["base"], base, ignore=shutil.ignore_patterns("kit.lock"))
    city, panel = base / "city", base / "panel2"
    quiet("--data", str(panel), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo")
    with Kit(city) as kit:
        r1 = seal_stage(kit, "A", city_keys(city), tmp_path / "s")
        r2 = seal_stage(kit, "A", city_keys(city), tmp_path / "s")
    with PanelWorkspace(panel) as ws:
        assert ws.import_bundle(r2.path, member(city)).state == "new"
        with pytest.raises(BundleError, match="older than revision"):
            ws.import_bundle(r1.path, member(city))
        assert [s["revision"] for s in ws.submissions()] == [r2.revision]


def test_bundle_for_another_panel_revoked_city_and_tampered_results_import_nothing(world, tmp_path):
    base = tmp_path / "w"
    shutil.copytree(world["base"], base, ignore=shutil.ignore_patterns("kit.lock"))
    city, panel = base / "city", base / "panel"
    with Kit(city) as kit:
        sealed = seal_stage(kit, "B", city_keys(city), tmp_path / "stick")
    before = {"panel": None}
    with PanelWorkspace(panel) as ws:
        before["panel"] = ws.submissions()
    # another panel under the same platform root: its own signed recipients file
    from app.bundle import trust as trustmod

    other = tmp_path / "other-panel"
    shutil.copytree(panel / "trust", other / "trust")
    root = load_keyfile(city / "demo" / "secretariat" / "platform_root.key", DEMO_PASSPHRASE)
    other_member = KeySet.generate(Role.PANEL_MEMBER, "Panel 2 reviewer")
    trustmod.write_signed(other / "trust", trustmod.RECIPIENTS, trustmod.recipients_document(
        panel_id="panel-2", panel_name="Panel 2", language="fr", members=[other_member.card()], recovery=None,
        valid_from=trustmod.now_utc(), valid_until=trustmod.now_utc() + trustmod.timedelta(days=30)),
        root.signing_key)
    with PanelWorkspace(other) as ws:
        with pytest.raises(TrustError, match="sealed for panel demo-panel, not for this panel"):
            ws.import_bundle(sealed.path, other_member)
        assert ws.submissions() == [] and not (other / "review").exists()
    # this panel: a reviewer outside the signed list
    with PanelWorkspace(panel) as ws:
        with pytest.raises(TrustError, match="not in the signed list"):
            ws.import_bundle(sealed.path, KeySet.generate(Role.PANEL_MEMBER, "Outsider"))
        assert ws.submissions() == before["panel"]
    # revoked city key: the panel's trust gets a revocation list naming the city
    import os

    os.environ["SDGKIT_PASSPHRASE"] = DEMO_PASSPHRASE
    try:
        sec = ["--data", str(city / "demo" / "secretariat"), "keys"]
        quiet(*sec, "revoke", city_keys(city).fingerprint, "--reason", "compromised", "--name", "Amani")
        quiet(*sec, "publish-revocations", "--key-file", str(city / "demo" / "secretariat" / "platform_root.key"),
              "--pack", str(tmp_path / "rev"))
    finally:
        del os.environ["SDGKIT_PASSPHRASE"]
    quiet("--data", str(panel), "keys", "trust-import", str(tmp_path / "rev"), "--demo")
    with PanelWorkspace(panel) as ws:
        with pytest.raises(TrustError, match="revoked"):
            ws.import_bundle(sealed.path, member(city))
        assert ws.submissions() == before["panel"]


def test_tampered_results_bundle_is_refused_and_nothing_changes(world, tmp_path):
    base = tmp_path / "w"
    shutil.copytree(world["base"], base, ignore=shutil.ignore_patterns("kit.lock"))
    city, panel = base / "city", base / "panel"
    with Kit(city) as kit:
        sealed = seal_stage(kit, "B", city_keys(city), tmp_path / "stick")
    with PanelWorkspace(panel) as ws:
        ws.import_bundle(sealed.path, member(city))
        ws.set_verdict(sealed.bundle_id, "B.a.1", "not_met", "x", panel=True)
        res = ws.results_bundle(sealed.bundle_id, member(city), tmp_path / "results")
    with Kit(city) as kit:
        before = (feedback_for(kit, "B"), sealed_bundles(kit))
    obj = max((res.path / "objects").rglob("*.age"), key=lambda p: p.stat().st_size)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 1
    obj.write_bytes(bytes(data))
    with Kit(city) as kit:
        with pytest.raises(IntegrityError):
            import_results(kit, res.path, city_keys(city))
        assert (feedback_for(kit, "B"), sealed_bundles(kit)) == before
        # a results bundle signed by someone who is not a panel member
        with pytest.raises(KitError):
            import_results(kit, sealed.path, city_keys(city))  # a submission is not review results
        assert (feedback_for(kit, "B"), sealed_bundles(kit)) == before
    assert not (city / "feedback" / res.bundle_id).exists()


@pytest.fixture(scope="module")
def reports(world, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("reports")
    shutil.copytree(world["base"], base / "w", ignore=shutil.ignore_patterns("kit.lock"))
    city, panel = base / "w" / "city", base / "w" / "panel"
    with Kit(city) as kit:
        sealed = seal_stage(kit, "B", city_keys(city), base / "stick")
    with PanelWorkspace(panel) as ws:
        ws.import_bundle(sealed.path, member(city))
        fw = ws.framework_for(ws.submission(sealed.bundle_id))
        for i, r in enumerate(fw.stage("B").requirements()):
            ws.set_verdict(sealed.bundle_id, r.id, ("met", "not_met", "needs_information")[i % 3],
                           "" if i % 3 == 0 else "Publish the ward-level data for Kisima (2024).", panel=True)
        files = ws.write_report(sealed.bundle_id, member(city), base / "out", list(LANGS), recommendation="defer")
    return files


HEADINGS = ["Summary", "Findings per criterion", "Gaps to close and recommended actions", "Indicator baseline"]


@pytest.mark.parametrize("lang", LANGS)
def test_report_pdf_text_in_each_language(reports, lang):
    r = subprocess.run(["pdftotext", str(reports[lang]), "-"], capture_output=True, text=True)
    assert r.returncode == 0
    text = nfkc(r.stdout).translate({c: None for c in range(0x202A, 0x202F)})  # poppler's direction marks
    for code in ("B.a", "B.b", "B.c", "B.d", "B.e", "B.a.1"):
        assert code in text, code
    for h in HEADINGS:
        heading = translate(h, lang)
        if lang == "en":
            assert heading in text
        else:
            assert heading != h
            # Arabic comes out of the shaped PDF in logical order (after NFKC folds presentation forms;
            # the marks are compared apart: a ligature such as Allah folds with its marks moved)
            def bare(t: str) -> str:
                return "".join(c for c in nfkc(t) if not unicodedata.combining(c)).replace(" ", "")

            assert bare(heading) in bare(text), (lang, heading)
    pages = subprocess.run(["pdfinfo", str(reports[lang])], capture_output=True, text=True).stdout
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= 3


def test_arabic_harakat_are_kept_in_pdfs_and_sit_on_their_letters(tmp_path):
    """A vocalised name keeps its short vowels, shadda and sukun: each mark is drawn (pdftotext reads
    it back, after the letter it belongs to) and inked over that letter, not beside the word."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from app.report import pdf as rp

    rp.register_fonts()
    vocalised = "مَدِينَةُ نَيْرُوبِي الخُطَّةُ"
    plain = "".join(c for c in vocalised if not unicodedata.combining(c))
    out = tmp_path / "h.pdf"
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setFont("Kit", 28)
    c.drawRightString(550, 780, rp.visual_rtl(vocalised))
    c.drawRightString(550, 700, rp.visual_rtl(plain))
    c.save()
    text = unicodedata.normalize("NFKC", subprocess.run(["pdftotext", str(out), "-"], capture_output=True,
                                                          text=True, check=True).stdout)
    marks = [c for c in vocalised if unicodedata.combining(c)]
    got = [c for c in text if unicodedata.combining(c)]
    assert sorted(got) == sorted(marks) and len(marks) == 12
    assert "".join(c for c in text.split("\n")[0] if c.strip() and c.isalpha() or unicodedata.combining(c)
                   ).startswith("مَدِينَةُ")  # logical order, each mark after its letter
    # the marks add ink above and below the same letters, not width: both lines are as wide
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", str(out), str(tmp_path / "h")], check=True)
    img = Image.open(tmp_path / "h.png").convert("L")
    w, h = img.size

    def ink_columns(top: int, bottom: int) -> tuple[int, int]:
        cols = [x for x in range(w) if any(img.getpixel((x, y)) < 128 for y in range(top, bottom))]
        return min(cols), max(cols)

    y1, y2 = int(h * (1 - 780 / A4[1])), int(h * (1 - 700 / A4[1]))
    a, b = ink_columns(y1 - 25, y1 + 10), ink_columns(y2 - 25, y2 + 10)
    assert abs(a[0] - b[0]) <= 3 and abs(a[1] - b[1]) <= 3, (a, b)

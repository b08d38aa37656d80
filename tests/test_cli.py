"""``sdgkit`` as a person uses it: demo, status, errors as one translated line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_demo_then_status_json_reports_a_b_complete_c_d_partial(tmp_path: Path):
    d = tmp_path / "data"
    r = run_cli("--data", str(d), "demo")
    assert r.returncode == 0, r.stderr
    r = run_cli("--data", str(d), "status", "--json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)["stages"]
    assert status["A"]["state"] == "complete" and status["A"]["complete"]
    assert status["B"]["state"] == "complete"
    assert status["C"]["state"] == "partial" and status["C"]["missing"]
    assert status["D"]["state"] == "partial" and status["D"]["missing"]
    assert 0 < status["C"]["percent"] < 100


def test_status_is_computed_from_stored_answers(demo_dir: Path):
    from app.model.service import Kit

    with Kit(demo_dir) as kit:
        req = next(r for r in kit.framework.stage("A").requirements() if r.mandatory)
        fld = next(f for f in req.fields if f.required and not f.required_if)
        kit.set_answer("A", req.id, fld.id, None if fld.type != "table" else [])
    r = run_cli("--data", str(demo_dir), "status", "--json")
    status = json.loads(r.stdout)["stages"]
    assert status["A"]["state"] == "partial"
    assert any(m["requirement"] == req.id and m["field"] == fld.id for m in status["A"]["missing"])


@pytest.mark.parametrize("lang,word", [("en", "Error"), ("fr", "Erreur"), ("es", "Error"), ("ru", "Ошибка"),
                                       ("zh", "错误"), ("ar", "خطأ")])
def test_errors_are_one_translated_line_without_traceback(tmp_path: Path, lang: str, word: str):
    d = tmp_path / "data"
    r = run_cli("--data", str(d), "--lang", lang, "status")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and word in lines[0]
    if lang != "en":
        assert "No city profile" not in lines[0]  # really translated


def test_corrupt_database_message(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "kit.db").write_bytes(b"garbage" * 1000)
    r = run_cli("--data", str(d), "status")
    assert r.returncode == 3 and "restore-backup" in r.stderr and "Traceback" not in r.stderr
    assert (d / "kit.db").read_bytes() == b"garbage" * 1000


def test_missing_path_and_text_file_as_spreadsheet(demo_dir: Path, tmp_path: Path):
    r = run_cli("--data", str(demo_dir), "evidence", "add", "--stage", "A", "--requirement", "A.a.1",
                str(tmp_path / "nope.pdf"))
    assert r.returncode == 2 and "nope.pdf" in r.stderr and "Traceback" not in r.stderr
    txt = tmp_path / "values.xlsx"
    txt.write_text("not a spreadsheet", encoding="utf-8")
    r = run_cli("--data", str(demo_dir), "indicators", "import", str(txt))
    assert r.returncode == 2 and "template" in r.stderr and "Traceback" not in r.stderr


def test_framework_file_failing_schema_is_refused(tmp_path: Path):
    import shutil

    from tests.conftest import ROOT

    res = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", res, ignore=shutil.ignore_patterns("fonts"))
    stage = res / "framework" / "global" / "stage-A.json"
    data = json.loads(stage.read_text(encoding="utf-8"))
    data["criteria"][0]["requirements"][0]["fields"][0]["type"] = "colour-picker"
    stage.write_text(json.dumps(data), encoding="utf-8")
    r = run_cli("--data", str(tmp_path / "d"), "framework", "validate", env={"SDGKIT_RESOURCES": str(res)})
    assert r.returncode == 2 and "stage-A.json" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("--data", str(tmp_path / "d"), "init", "--city", "X", "--country", "KE",
                env={"SDGKIT_RESOURCES": str(res)})
    assert r.returncode == 2
    assert not (tmp_path / "d" / "kit.db").exists() or "X" not in run_cli(
        "--data", str(tmp_path / "d"), "status").stdout


def test_audit_verify_and_check_commands(demo_dir: Path):
    r = run_cli("--data", str(demo_dir), "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"]
    r = run_cli("--data", str(demo_dir), "check", "--json")
    rep = json.loads(r.stdout)
    assert r.returncode == 0 and rep["ok"] and rep["evidence_files"] > 0


def test_version_is_fast_path():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("sdgkit ")


def test_framework_validate_checks_in_full_even_files_the_record_calls_valid(tmp_path: Path):
    import hashlib
    import shutil

    from app.model.framework import schemas_digest
    from tests.conftest import ROOT

    res = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", res, ignore=shutil.ignore_patterns("fonts"))
    stage = res / "framework" / "global" / "stage-A.json"
    data = json.loads(stage.read_text(encoding="utf-8"))
    data["criteria"][0]["requirements"][0]["fields"][0]["type"] = "colour-picker"
    stage.write_bytes(json.dumps(data).encode("utf-8"))
    record = json.loads((res / "validated.json").read_text(encoding="utf-8"))
    assert record["schemas"] == schemas_digest()  # the copy's schemas are the same files
    record["valid"].append("stage.schema.json:" + hashlib.sha256(stage.read_bytes()).hexdigest())  # a false record
    (res / "validated.json").write_text(json.dumps(record), encoding="utf-8")
    r = run_cli("--data", str(tmp_path / "d"), "framework", "validate", env={"SDGKIT_RESOURCES": str(res)})
    assert r.returncode == 2 and "stage-A.json" in r.stderr and "colour-picker" in r.stderr

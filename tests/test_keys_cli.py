"""``sdgkit keys ...`` end to end: a secretariat, a mechanism, panel members and a city exchange
cards and trust packs, as they would with USB sticks and e-mail."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.cli.main import main
from tests.conftest import run_cli

PASS = "river lamp cloud stone"
NEW_PASS = "quiet orange bicycle harbour"
PARTIES = ("secretariat", "mechanism", "reviewer1", "reviewer2", "recovery", "city", "pack", "mechpack", "cards")


@pytest.fixture(autouse=True)
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDGKIT_PASSPHRASE", PASS)
    monkeypatch.delenv("SDGKIT_NEW_PASSPHRASE", raising=False)


def sdgkit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys, data: Path, role: str, name: str) -> dict:
    code, out, err = sdgkit(capsys, "--data", str(data), "keys", "create", "--role", role, "--name", name, "--json")
    assert code == 0, err
    return json.loads(out)


def quiet(*args: str) -> None:
    """Run a command that must succeed, outside any test's captured output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert code == 0, err.getvalue()


@pytest.fixture(scope="module")
def exchange_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: every party's keys, and a complete demo trust pack for the city in ``pack``."""
    base = tmp_path_factory.mktemp("exchange")
    d = {name: base / name for name in PARTIES}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDGKIT_PASSPHRASE", PASS)
        quiet("--data", str(d["secretariat"]), "keys", "root-create", "--name", "Demo platform root",
              "--pack", str(d["pack"]))
        for who, role in (("reviewer1", "panel_member"), ("reviewer2", "panel_member"), ("recovery", "recovery"),
                          ("mechanism", "mechanism"), ("city", "city")):
            quiet("--data", str(d[who]), "keys", "create", "--role", role, "--name", who.title())
        sec = ["--data", str(d["secretariat"]), "keys"]
        quiet(*sec, "mechanism-certify", str(d["mechanism"] / "keys" / "mechanism.card.json"),
              "--mechanism-id", "ke-national", "--country", "KE", "--expires", "2099-12-31",
              "--pack", str(d["mechpack"]))
        quiet("--data", str(d["city"]), "keys", "export", "--out", str(d["cards"] / "city.card"))
        quiet("--data", str(d["mechanism"]), "keys", "enrol", str(d["cards"] / "city.card"),
              "--city-id", "ke-testville", "--country", "ke", "--expires", "2099-12-31",
              "--mechanism-cert", str(d["mechpack"] / "mechanism.json"), "--demo", "--pack", str(d["pack"]))
        quiet(*sec, "sign-recipients", "--panel-id", "panel-ke-1", "--panel-name", "Kenya 1", "--language", "en",
              "--member", str(d["reviewer1"] / "keys" / "panel_member.card.json"),
              "--member", str(d["reviewer2"] / "keys" / "panel_member.card.json"),
              "--recovery", str(d["recovery"] / "keys" / "recovery.card.json"),
              "--valid-until", "2099-12-31", "--pack", str(d["pack"]))
    return base


@pytest.fixture
def exchange(exchange_template: Path, tmp_path: Path) -> dict[str, Path]:
    shutil.copytree(exchange_template, tmp_path, dirs_exist_ok=True)
    return {name: tmp_path / name for name in PARTIES}


def test_the_whole_exchange_ends_in_a_demo_trust_pack(exchange, capsys):
    d = exchange
    city = ["--data", str(d["city"]), "keys"]
    code, _, err = sdgkit(capsys, *city, "trust-import", str(d["pack"]))
    assert code == 4 and len(err.strip().splitlines()) == 1  # no pinned root and no --demo: refused
    assert not (d["city"] / "trust").exists()

    code, out, err = sdgkit(capsys, *city, "trust-import", str(d["pack"]), "--demo", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["demo"] is True and summary["panel"]["members"] == 2
    assert summary["enrolment"]["city_id"] == "ke-testville" and summary["enrolment"]["country"] == "KE"
    assert summary["mechanism"]["id"] == "ke-national"
    code, out, _ = sdgkit(capsys, *city, "fingerprint")
    assert out.strip() == summary["enrolment"]["fingerprint"]
    assert (d["city"] / "trust" / "DEMO-TRUST.txt").is_file()


def test_stock_minisign_checks_the_pack(exchange):
    pack = exchange["pack"]
    for name in ("recipients.json", "mechanism.json"):
        r = subprocess.run(["minisign", "-V", "-p", str(pack / "root.pub"), "-m", str(pack / name)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_revocation_reaches_the_city_and_old_lists_do_not(exchange, capsys, tmp_path):
    d = exchange
    sec = ["--data", str(d["secretariat"]), "keys"]
    city = ["--data", str(d["city"]), "keys"]
    code, fp, _ = sdgkit(capsys, "--data", str(d["reviewer2"]), "keys", "fingerprint")
    fp = fp.strip()
    assert sdgkit(capsys, *sec, "publish-revocations", "--pack", str(tmp_path / "rev1"))[0] == 0
    assert sdgkit(capsys, "--data", str(d["city"]), "keys", "trust-import", str(d["pack"]), "--demo")[0] == 0
    assert sdgkit(capsys, *city, "trust-import", str(tmp_path / "rev1"), "--demo")[0] == 0

    code, out, err = sdgkit(capsys, *sec, "revoke", fp.lower().replace("-", " "), "--reason", "lost",
                            "--name", "Reviewer 2")
    assert code == 0 and fp in out, err
    code, out, err = sdgkit(capsys, *sec, "publish-revocations", "--pack", str(tmp_path / "rev2"), "--json")
    assert code == 0, err
    assert json.loads(out)["sequence"] == 2 and json.loads(out)["revoked"][0]["fingerprint"] == fp

    code, out, err = sdgkit(capsys, *city, "trust-import", str(tmp_path / "rev2"), "--demo")
    assert code == 0, err  # the revocation wins; the installed panel file lists the revoked reviewer
    assert "recipients.json can no longer be used" in out and fp in out
    code, _, err = sdgkit(capsys, *city, "trust-import", str(tmp_path / "rev1"), "--demo")
    assert code == 4 and "older than the one already installed" in err


def test_passphrase_change_from_files(exchange, capsys, tmp_path, monkeypatch):
    city = ["--data", str(exchange["city"]), "keys"]
    (tmp_path / "old").write_text(PASS + "\n")
    (tmp_path / "new").write_text(NEW_PASS + "\r\n")
    monkeypatch.delenv("SDGKIT_PASSPHRASE")
    code, out, err = sdgkit(capsys, *city, "passphrase", "--passphrase-file", str(tmp_path / "old"),
                            "--new-passphrase-file", str(tmp_path / "new"))
    assert code == 0, err
    code, _, err = sdgkit(capsys, *city, "export", "--passphrase-file", str(tmp_path / "old"))
    assert code == 4 and "passphrase is wrong" in err and "Traceback" not in err
    code, out, err = sdgkit(capsys, *city, "export", "--passphrase-file", str(tmp_path / "new"))
    assert code == 0 and json.loads(out)["role"] == "city"


def test_weak_passphrase_and_existing_key_file_are_refused(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("SDGKIT_PASSPHRASE", "1234567890")
    code, _, err = sdgkit(capsys, "--data", str(data), "keys", "create", "--role", "city", "--name", "X")
    assert code == 2 and "too easy to guess" in err
    assert not (data / "keys" / "city.key").exists()
    monkeypatch.setenv("SDGKIT_PASSPHRASE", PASS)
    create(capsys, data, "city", "X")
    before = (data / "keys" / "city.key").read_bytes()
    code, _, err = sdgkit(capsys, "--data", str(data), "keys", "create", "--role", "city", "--name", "Y")
    assert code == 2 and "already exists" in err
    assert (data / "keys" / "city.key").read_bytes() == before


def test_fingerprint_of_cards_and_public_key_files(exchange, capsys):
    d = exchange
    code, out, _ = sdgkit(capsys, "--data", str(d["secretariat"]), "keys", "fingerprint", "--json")
    root = json.loads(out)
    assert root["role"] == "platform_root"
    code, out, _ = sdgkit(capsys, "keys", "fingerprint", "--pub", str(d["pack"] / "root.pub"))
    assert out.strip() == root["fingerprint"]
    _, out, _ = sdgkit(capsys, "keys", "fingerprint", "--card", str(d["mechanism"] / "keys" / "mechanism.card.json"))
    _, out2, _ = sdgkit(capsys, "--data", str(d["mechanism"]), "keys", "fingerprint")
    assert out == out2 and len(out.strip()) == 19


def test_enrolment_outside_the_mechanism_scope_is_refused(exchange, capsys, tmp_path):
    d = exchange
    code, _, err = sdgkit(capsys, "--data", str(d["mechanism"]), "keys", "enrol", str(d["cards"] / "city.card"),
                          "--city-id", "tz-x", "--country", "TZ", "--expires", "2099-12-31",
                          "--mechanism-cert", str(d["mechpack"] / "mechanism.json"), "--demo",
                          "--pack", str(tmp_path / "other"))
    assert code == 2 and "TZ" in err
    assert not (tmp_path / "other" / "enrolment.json").exists()


def test_create_and_fingerprint_as_a_separate_process(tmp_path):
    data = tmp_path / "data"
    r = run_cli("--data", str(data), "keys", "create", "--role", "officer", "--name", "Field officer A",
                env={"SDGKIT_PASSPHRASE": PASS})
    assert r.returncode == 0, r.stderr
    assert "Fingerprint:" in r.stdout
    r2 = run_cli("--data", str(data), "keys", "fingerprint", "--json")
    assert r2.returncode == 0, r2.stderr
    info = json.loads(r2.stdout)
    assert info["role"] == "officer" and info["fingerprint"] in r.stdout

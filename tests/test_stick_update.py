"""Updates by stick: a newer kit takes over an older stick's data folder (backup first, then
migration), and an older kit refuses data that a newer kit has migrated, changing nothing."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from app.errors import StoreError, UserInputError
from app.model.db import Store, current_revision, head_revision
from app.model.service import Kit
from app.stick import migrate_from
from tests.conftest import run_cli

NEWER = "This data was last used by a newer version of the kit. Use that version or newer to open it."


def snapshot(folder: Path) -> dict[str, str]:
    """Content of every file below ``folder`` (the lock file is the OS's, not data)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "kit.lock"}


def pretend_a_newer_kit_migrated(db: Path, revision: str = "9999_from_a_newer_kit") -> None:
    con = sqlite3.connect(str(db))
    try:
        con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def downgrade_one_version(data: Path) -> str:
    """Turn a store into what the previous kit version left (alembic downgrade by one)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from app.model.db import _alembic_config

    cfg = _alembic_config(data / "kit.db")
    previous = ScriptDirectory.from_config(cfg).get_revision(head_revision()).down_revision
    assert isinstance(previous, str), "the store has a single migration history"
    command.downgrade(cfg, previous)
    assert current_revision(data / "kit.db") == previous
    return previous


# -- the older kit refuses newer data ---------------------------------------------------------

def test_an_older_kit_refuses_data_a_newer_kit_migrated_and_changes_nothing(kit, data_dir):
    kit.close()
    pretend_a_newer_kit_migrated(data_dir / "kit.db")
    before = snapshot(data_dir)
    tempdir = tempfile.tempdir
    with pytest.raises(StoreError) as err:
        Store(data_dir).open()
    assert err.value.message() == NEWER
    assert tempfile.tempdir == tempdir  # the process's temp folder is not left pointing into refused data
    assert snapshot(data_dir) == before  # no backup, no migration, not one byte changed
    assert current_revision(data_dir / "kit.db") == "9999_from_a_newer_kit"
    with pytest.raises(StoreError):  # and the lock was released: a second try says the same
        Kit(data_dir).open()
    assert snapshot(data_dir) == before


def test_the_command_line_says_so_plainly(kit, data_dir):
    kit.close()
    pretend_a_newer_kit_migrated(data_dir / "kit.db")
    before = snapshot(data_dir)
    r = run_cli("--data", str(data_dir), "status")
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip() == f"Error: {NEWER}" and "Traceback" not in r.stderr
    r = run_cli("--data", str(data_dir), "--lang", "fr", "status")
    assert r.returncode == 3 and "Traceback" not in r.stderr and r.stderr.strip() != f"Error: {NEWER}"
    assert snapshot(data_dir) == before


# -- a newer kit takes over an older stick ----------------------------------------------------

def old_stick(demo_dir: Path, tmp_path: Path) -> Path:
    old = tmp_path / "OLD-STICK" / "data"
    shutil.copytree(demo_dir, old)
    return old


def test_a_newer_kit_takes_over_an_older_sticks_data_with_a_backup_first(demo_dir, tmp_path):
    old = old_stick(demo_dir, tmp_path)
    with Kit(old) as k:
        status_before = {s: st.state for s, st in k.status().items()}
        answers_before = k.answers("A")
    previous = downgrade_one_version(old)
    old_files = snapshot(old)
    new = tmp_path / "NEW-STICK" / "data"
    res = migrate_from(old, new)
    assert res.from_revision == previous and res.to_revision == head_revision()
    assert res.backup is not None and res.backup.is_file() and res.backup.parent == new / "backups"
    assert current_revision(res.backup) == previous  # the backup is the store as the old kit left it
    assert current_revision(new / "kit.db") == head_revision()
    with Kit(new) as k:
        assert {s: st.state for s, st in k.status().items()} == status_before
        assert k.answers("A") == answers_before
        report = k.check()
        assert report["ok"] and report["evidence_files"] > 0, report  # evidence came along, audit chain intact
    assert (new / "keys" / "city.key").read_bytes() == (old / "keys" / "city.key").read_bytes()
    assert snapshot(old) == old_files  # the older stick was only read
    assert not any(p.name.endswith(".tmp-migrate") for p in new.rglob("*"))


def test_taking_over_data_of_the_same_version(demo_dir, tmp_path):
    old = old_stick(demo_dir, tmp_path)
    new = tmp_path / "NEW-STICK" / "data"
    res = migrate_from(old, new)
    assert res.from_revision == res.to_revision == head_revision() and res.backup is None
    assert res.files > 10
    with Kit(new) as k:
        assert k.profile is not None


def test_a_newer_kit_will_not_take_over_data_from_an_even_newer_kit(demo_dir, tmp_path):
    old = old_stick(demo_dir, tmp_path)
    pretend_a_newer_kit_migrated(old / "kit.db")
    new = tmp_path / "NEW-STICK" / "data"
    with pytest.raises(StoreError) as err:
        migrate_from(old, new)
    assert err.value.message() == NEWER
    assert not new.exists() or not any(new.iterdir())


def test_take_over_refuses_to_overwrite_or_to_copy_data_in_use(demo_dir, tmp_path, kit, data_dir):
    old = old_stick(demo_dir, tmp_path)
    with pytest.raises(UserInputError):  # this stick already holds a city's store
        migrate_from(old, data_dir)
    with pytest.raises(UserInputError):
        migrate_from(old, old)
    with pytest.raises(UserInputError):  # no kit data there
        migrate_from(tmp_path / "nothing", tmp_path / "new")
    with Kit(old):  # the older kit is still running on that data
        with pytest.raises(StoreError) as err:
            migrate_from(old, tmp_path / "NEW-STICK" / "data")
        assert "in use by another copy of the kit" in err.value.message()


def test_the_migrate_from_command(demo_dir, tmp_path):
    from app.cli import stick_cmds
    from app.cli.main import _base_parser

    old = old_stick(demo_dir, tmp_path)
    new = tmp_path / "NEW-STICK" / "data"
    parser = _base_parser()
    stick_cmds.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--data", str(new), "migrate-from", str(old), "--json"])
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert args.func(args) == 0
    out = json.loads(buf.getvalue())
    assert out["target"] == str(new.resolve()) and out["to_revision"] == head_revision()
    r = run_cli("--data", str(new), "status", "--json")
    assert r.returncode == 0, r.stderr

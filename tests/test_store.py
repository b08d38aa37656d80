"""The store on the stick: migrations with backups, damage detection, restore, one writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.errors import StoreError
from app.model.db import Store, head_revision, list_backups, restore_latest_backup


def test_new_store_is_at_head_with_wal_and_full_sync(data_dir: Path):
    with Store(data_dir) as st:
        assert st.integrity_check() == ["ok"]
        with st.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
    assert not Path(str(data_dir / "kit.db") + "-wal").exists() or \
        Path(str(data_dir / "kit.db") + "-wal").stat().st_size == 0  # checkpointed on close


def test_migration_takes_backup_first(data_dir: Path):
    from alembic import command

    from app.model.db import _alembic_config

    data_dir.mkdir(parents=True)
    command.upgrade(_alembic_config(data_dir / "kit.db"), "0001")
    con = sqlite3.connect(data_dir / "kit.db")
    con.execute("INSERT INTO setting(key, value) VALUES ('marker', 'before')")
    con.commit()
    con.close()
    with Store(data_dir) as st:
        assert st.migrated_from == "0001"
        assert st.backup_path is not None and st.backup_path.exists()
    backup = sqlite3.connect(list_backups(st.layout)[-1])
    assert backup.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
    assert backup.execute("SELECT value FROM setting WHERE key='marker'").fetchone()[0] == "before"
    backup.close()


def test_data_from_a_newer_kit_is_refused_and_untouched(data_dir: Path):
    with Store(data_dir):
        pass
    con = sqlite3.connect(data_dir / "kit.db")
    con.execute("UPDATE alembic_version SET version_num='9999'")
    con.commit()
    con.close()
    before = (data_dir / "kit.db").read_bytes()
    with pytest.raises(StoreError) as exc:
        Store(data_dir).open()
    assert "newer version" in exc.value.message("en")
    assert (data_dir / "kit.db").read_bytes() == before


def test_damaged_database_gets_clear_message_and_restore(data_dir: Path):
    from app.model.service import Kit

    with Kit(data_dir) as kit:
        kit.init_profile(name="Backupville", country="FR", population_band="<50k", languages=["fr"])
    from app.model.db import backup_database

    backup_database(data_dir / "kit.db", data_dir / "backups", "manual")
    (data_dir / "kit.db").write_bytes(b"this is not a database at all" * 100)
    damaged = (data_dir / "kit.db").read_bytes()
    with pytest.raises(StoreError) as exc:
        Kit(data_dir).open()
    assert "restore-backup" in exc.value.message("en")
    assert (data_dir / "kit.db").read_bytes() == damaged  # nothing changed by the failed open
    restore_latest_backup(Store(data_dir).layout)
    with Kit(data_dir) as kit:
        assert kit.profile().name == "Backupville"
    assert list(data_dir.glob("kit.db.damaged-*")), "the damaged file is kept aside"


def test_second_writer_is_refused(data_dir: Path):
    with Store(data_dir):
        with pytest.raises(StoreError) as exc:
            Store(data_dir).open()
        assert "in use" in exc.value.message("en")


def test_temp_files_stay_inside_data_folder(data_dir: Path):
    import tempfile

    with Store(data_dir) as st:
        assert Path(tempfile.gettempdir()).resolve() == (data_dir / "tmp").resolve()
        (st.layout.tmp / "left.tmp-1234").write_text("x")
    assert not list((data_dir / "tmp").iterdir())


def test_migrations_build_exactly_the_models_schema(tmp_path):
    """A fresh store migrated to head has the tables, columns and indexes the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from app.model.models import Base
    from app.model.service import Kit

    with Kit(tmp_path / "d") as kit:
        kit.prepare_for_removal()
    engine = create_engine(f"sqlite:///{tmp_path / 'd' / 'kit.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_fast_revision_reading_agrees_with_alembic():
    from alembic.script import ScriptDirectory

    from app.model.db import _alembic_config, head_revision, known_revisions

    script = ScriptDirectory.from_config(_alembic_config(Path("unused.db")))
    assert head_revision() == script.get_current_head()
    assert known_revisions() == {r.revision for r in script.walk_revisions()}

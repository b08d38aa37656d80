"""The platform's database and the officer's outbox have migration histories: they build exactly
the models' schema, take over a database made before migrations existed, refuse one a newer kit
migrated, and undo a failed upgrade completely (SQLite here; PostgreSQL too when
``SDGKIT_TEST_PG_URL`` names a throwaway database)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3

import pytest
from sqlalchemy import create_engine, inspect, text

from app.dbmigrate import SchemaError, current, prepare
from app.sync.outbox import HISTORY as OUTBOX
from app.sync.outbox import Outbox
from app.sync.platform_db import HISTORY as PLATFORM

PG = os.environ.get("SDGKIT_TEST_PG_URL")
HISTORIES = {"platform": PLATFORM, "outbox": OUTBOX}


def _urls(tmp_path):
    yield f"sqlite:///{tmp_path / 'db.sqlite'}"
    if PG:
        yield PG


def _drop_everything(engine, history) -> None:
    history.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {history.version_table}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS sdgkit_probe")


def _diffs(engine, history) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": history.version_table})
        return compare_metadata(ctx, history.metadata)


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_the_migrations_build_exactly_the_models_schema(tmp_path, name):
    history = HISTORIES[name]
    for url in _urls(tmp_path):
        engine = create_engine(url)
        try:
            _drop_everything(engine, history)
            assert prepare(engine, history) is None  # an empty database: built, nothing to back up
            assert current(engine, history) == history.head()
            assert _diffs(engine, history) == [], url.split(":")[0]
            assert prepare(engine, history) is None  # at the head: nothing to do
        finally:
            _drop_everything(engine, history)
            engine.dispose()


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_a_database_made_before_migrations_is_taken_over_with_its_rows(tmp_path, name):
    from alembic import command

    history = HISTORIES[name]
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:  # what the version before migrations made with create_all: the first
        command.upgrade(history.config(conn), history.first())  # revision's tables, and no version table
        conn.exec_driver_sql(f"DROP TABLE {history.version_table}")
    table = sorted(history.legacy_tables)[0]
    cols = inspect(engine).get_columns(table)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} ({', '.join(c['name'] for c in cols)}) VALUES "
                          f"({', '.join(':' + c['name'] for c in cols)})"),
                     {c["name"]: (1 if "INT" in str(c["type"]).upper() else "x") for c in cols})
    backups = []
    assert prepare(engine, history, backup=lambda: backups.append(1)) == history.first()
    assert backups == [1] and current(engine, history) == history.head()
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 1
    assert _diffs(engine, history) == []
    engine.dispose()


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_a_database_a_newer_kit_migrated_is_refused_and_left_as_it_is(tmp_path, name):
    history = HISTORIES[name]
    path = tmp_path / "newer.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    prepare(engine, history)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {history.version_table} SET version_num = 'z9999'")
    before = path.read_bytes()
    with pytest.raises(SchemaError) as info:
        prepare(engine, history, backup=lambda: pytest.fail("no backup for a refused database"))
    assert "newer version of the kit" in info.value.message("en") and "z9999" in info.value.message("en")
    assert info.value.message("fr") != info.value.message("en")  # translated
    engine.dispose()
    assert path.read_bytes() == before


def test_a_failed_upgrade_is_undone_completely_on_sqlite(tmp_path):
    location = tmp_path / "outbox-migrations"
    shutil.copytree(OUTBOX.script_location, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "o9001_breaks.py").write_text(
        'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "o9001"\ndown_revision = "o0001"\n'
        'branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n'
        '    op.create_table("sdgkit_probe", sa.Column("id", sa.Integer(), primary_key=True))\n'
        '    op.add_column("outbox_setting", sa.Column("extra", sa.Text(), nullable=True))\n'
        '    op.execute("SELECT no_such_function()")\n\n\ndef downgrade() -> None:\n    pass\n',
        encoding="utf-8")
    broken = dataclasses.replace(OUTBOX, location=location)
    path = tmp_path / "outbox.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    prepare(engine, OUTBOX)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO outbox_setting (key, value) VALUES ('platform_url', 'https://p')")
    with pytest.raises(SchemaError) as info:
        prepare(engine, broken)
    assert "failed and was undone" in info.value.message("en")
    engine.dispose()
    con = sqlite3.connect(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        cols = {r[1] for r in con.execute("PRAGMA table_info(outbox_setting)")}
        assert "sdgkit_probe" not in tables and "extra" not in cols  # the DDL was rolled back too
        assert con.execute(f"SELECT version_num FROM {OUTBOX.version_table}").fetchone()[0] == "o0001"
        assert con.execute("SELECT value FROM outbox_setting").fetchone()[0] == "https://p"
    finally:
        con.close()


def test_an_outbox_from_before_migrations_opens_with_a_backup_first(tmp_path):
    from alembic import command

    data = tmp_path / "officer"
    (data / "outbox").mkdir(parents=True)
    engine = create_engine(f"sqlite:///{data / 'outbox' / 'outbox.db'}")
    with engine.begin() as conn:
        command.upgrade(OUTBOX.config(conn), OUTBOX.first())
        conn.exec_driver_sql(f"DROP TABLE {OUTBOX.version_table}")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO outbox_setting (key, value) VALUES ('platform_url', 'https://p')")
    engine.dispose()
    with Outbox(data) as ob:
        assert current(ob.engine, OUTBOX) == OUTBOX.head()
    backups = list((data / "outbox" / "backups").glob("outbox-*-before-upgrade.db"))
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    try:
        assert con.execute("SELECT value FROM outbox_setting").fetchone()[0] == "https://p"
    finally:
        con.close()

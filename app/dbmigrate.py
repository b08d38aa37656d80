"""Alembic migrations for the kit's two smaller databases: the platform service's (SQLite or
PostgreSQL) and the field officer's outbox on the stick (SQLite).

Both were first created with ``create_all``; each now has its own migration history
(``app/sync/migrations/<name>/``) and its own version table, so either can live in a database
shared with other tables. Opening one brings it to the newest revision:

* an empty database is built by the migrations (never by ``create_all``: the history is what
  every later version starts from);
* a database made by ``create_all`` before migrations existed (its tables, no version table) is
  the first revision's schema: it is stamped with it, then upgraded;
* a database a newer kit has migrated (a revision this kit does not know) is refused with a
  clear message and left untouched;
* before a real upgrade of a SQLite file a backup copy is taken (``backup`` callback); on
  PostgreSQL, backups are the database administrator's (``pg_dump``), and Alembic runs the
  upgrade in one transaction, so a failed upgrade changes nothing.

Qt-free; the migration scripts are plain files the frozen program carries as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from app.errors import KitError

MIGRATIONS_ROOT = Path(__file__).resolve().parent / "sync" / "migrations"


class SchemaError(KitError):
    code = "schema"


@dataclass(frozen=True)
class History:
    """One database's migrations: where they are, their version table, and the tables that show
    a database made before migrations existed."""

    name: str
    version_table: str
    legacy_tables: frozenset[str]
    metadata: Any  # the models' MetaData (for the migration test and autogenerate)
    newer_message: str  # msgid with {revision}
    failed_message: str  # msgid with {detail}
    location: Path | None = None  # default: app/sync/migrations/<name>

    @property
    def script_location(self) -> Path:
        return self.location or MIGRATIONS_ROOT / self.name

    def config(self, connection: Connection | None = None) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(self.script_location))
        cfg.attributes["history"] = self
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def script(self) -> Any:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        return self.script().get_current_head()  # type: ignore[no-any-return]

    def first(self) -> str:
        return next(r.revision for r in self.script().walk_revisions() if r.down_revision is None)


def current(engine: Engine, history: History) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(history.version_table):
            return None
        row = conn.exec_driver_sql(f"SELECT version_num FROM {history.version_table}").fetchone()
        return row[0] if row else None


def prepare(engine: Engine, history: History, *, backup: Callable[[], Any] | None = None) -> str | None:
    """Bring the database behind ``engine`` to the newest revision; returns the revision it was at
    before an upgrade (None if nothing had to change or it was empty). Raises :class:`SchemaError`."""
    from alembic import command

    head = history.head()
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    rev = current(engine, history)
    legacy = rev is None and bool(tables & history.legacy_tables)
    if rev == head:
        return None
    known = {r.revision for r in history.script().walk_revisions()}
    if rev is not None and rev not in known:
        raise SchemaError(history.newer_message, revision=rev)
    fresh = rev is None and not legacy
    if not fresh and backup is not None:
        backup()
    runner = _ddl_engine(engine)
    try:
        with runner.begin() as conn:
            cfg = history.config(conn)
            if legacy:
                command.stamp(cfg, history.first())
            command.upgrade(cfg, "head")
    except KitError:
        raise
    except Exception as exc:  # noqa: BLE001 - the transaction is rolled back: nothing changed
        raise SchemaError(history.failed_message, detail=f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    finally:
        if runner is not engine:
            runner.dispose()
    return None if fresh else (rev or history.first())


def _ddl_engine(engine: Engine) -> Engine:
    """SQLite's Python driver runs DDL outside any transaction; with ``isolation_level=None`` and an
    explicit BEGIN the whole upgrade is one transaction there too (as PostgreSQL's always is)."""
    if engine.dialect.name != "sqlite":
        return engine
    from sqlalchemy import create_engine, event

    ddl = create_engine(engine.url, connect_args={"timeout": 30})

    @event.listens_for(ddl, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(ddl, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return ddl


def run_env(context: Any) -> None:
    """The body of each history's ``env.py``: run on the connection :func:`prepare` passes."""
    cfg = context.config
    history: History = cfg.attributes["history"]
    connection = cfg.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through app.dbmigrate.prepare, on its connection")
    context.configure(
        connection=connection,
        target_metadata=history.metadata,
        version_table=history.version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()

"""Alembic environment for the kit's SQLite store.

Run programmatically by :mod:`app.model.db` (no alembic.ini). SQLite DDL is made transactional
(``isolation_level=None`` plus an explicit ``BEGIN``), so a failed migration rolls back instead of
leaving ``_alembic_tmp_*`` tables behind; batch mode rebuilds tables for ALTERs SQLite lacks.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event

from app.model.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN")

    with engine.connect() as conn:
        _configure_and_run(conn)
    engine.dispose()


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

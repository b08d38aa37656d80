"""Alembic environment of the field officer's outbox (run by app.dbmigrate.prepare)."""

from alembic import context

from app.dbmigrate import run_env

run_env(context)

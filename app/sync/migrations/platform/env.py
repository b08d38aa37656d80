"""Alembic environment of the platform service's database (run by app.dbmigrate.prepare)."""

from alembic import context

from app.dbmigrate import run_env

run_env(context)

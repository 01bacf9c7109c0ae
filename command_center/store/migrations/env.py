"""Alembic's environment, run by command_center.store.migrate (no alembic.ini at run time).

The caller hands over an open SQLAlchemy connection inside a transaction it began under
its lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so every revision and
the version row go in with that one commit, or none of them.
"""

from __future__ import annotations

from alembic import context

from command_center.store.schema import metadata

config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=metadata,
    on_version_apply=config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()

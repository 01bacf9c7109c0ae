"""Alembic revisions 0001, 0002, ...: one linear history for SQLite and PostgreSQL (Alembic skips this file)."""

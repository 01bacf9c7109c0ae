"""Bring a store's database up to the current schema, in place: Alembic, run from code.

The revisions are store/migrations/versions (0001, 0002, ...), one linear history for
both dialects. Where a database stands:
- `alembic_version` (made by this runner): upgraded from its revision;
- `schema_migrations` (the plain-SQL runner before Alembic): stamped at the revision of
  its highest version (their numbers are the same), then upgraded; the table is left;
- neither, on SQLite: a database from before any runner. `_legacy_baseline` tells which of
  0001 and 0002 it already has; those are stamped, not run (0001 is IF NOT EXISTS, so it
  runs when some of its tables are missing).

Two processes starting together do not both migrate: everything is decided and done in
one transaction under a lock, SQLite's write lock (BEGIN IMMEDIATE) or a PostgreSQL
advisory lock, and a failed revision leaves nothing behind.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic narrates every step at INFO, from its import on; the runner returns what it
# applied, and `command-center migrate` prints that: a store opening stays quiet. (Alembic
# is imported where it is used, after this.)
logging.getLogger("alembic").setLevel(logging.WARNING)
LEGACY_TABLE = "schema_migrations"
_LEGACY_INITIAL = {"incidents", "cases", "case_timeline", "reports", "users", "audit"}
# Any constant both sides agree on: serialises concurrent runners on one PostgreSQL database.
_PG_LOCK_KEY = 0x63635F6D6967


@cache
def revisions() -> tuple[tuple[str, str], ...]:
    """(revision, label) in order: ("0001", "0001_initial"), ..."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    found = [(s.revision, Path(s.path).stem.removeprefix("v")) for s in script.walk_revisions()]
    return tuple(reversed(found))


def labels() -> list[str]:
    return [label for _, label in revisions()]


def latest() -> int:
    """The schema version this release brings a database to."""
    return int(revisions()[-1][0])


def upgrade_sqlite(db: sqlite3.Connection) -> list[str]:
    """Migrate the database of an autocommit sqlite3 connection (the store's own: a
    :memory: one has no other); the labels of the revisions run."""
    if _sqlite_revision(db) == revisions()[-1][0]:  # the usual case: no lock, no Alembic
        return []
    engine = sa.create_engine("sqlite://", creator=lambda: _Lent(db), poolclass=sa.pool.StaticPool)
    try:
        with engine.connect() as conn, _committed(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock: another process migrating waits here
            return _upgrade(conn, sqlite_legacy=True)
    finally:
        engine.dispose()


def upgrade_postgres(dsn: str) -> list[str]:
    """Migrate the PostgreSQL database at libpq `dsn` on a connection of its own; the
    labels of the revisions run."""
    import psycopg

    engine = sa.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn, connect_timeout=10), poolclass=sa.pool.NullPool
    )
    try:
        with engine.connect() as conn, _committed(conn):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            return _upgrade(conn, sqlite_legacy=False)
    finally:
        engine.dispose()


def postgres_at_head(db: Any) -> bool:
    """Whether the database of a psycopg connection is at this release's schema already
    (the usual case: the store then needs no Alembic and no second connection)."""
    row = db.execute("SELECT to_regclass('alembic_version')").fetchone()
    if not row or row[0] is None:
        return False
    found = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return found is not None and found[0] == revisions()[-1][0]


def current(conn: sa.Connection) -> str | None:
    """The revision `conn`'s database is at per Alembic; None when it has no alembic_version."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


@contextmanager
def _committed(conn: sa.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _upgrade(conn: sa.Connection, sqlite_legacy: bool) -> list[str]:
    """Under the caller's lock: stamp where an older runner left the database, upgrade to head."""
    from alembic import command

    applied: list[str] = []
    config = _config(conn, applied)
    if current(conn) is None:
        inspector = sa.inspect(conn)
        if inspector.has_table(LEGACY_TABLE):
            done = conn.exec_driver_sql(f"SELECT max(version) FROM {LEGACY_TABLE}").scalar()
            if done:
                command.stamp(config, f"{done:04d}")
        elif sqlite_legacy and inspector.get_table_names():
            present = _legacy_baseline(conn)
            if 2 in present and 1 not in present:  # 0001 adds what is missing, 0002 must not run twice
                command.upgrade(config, "0001")
            if present:
                command.stamp(config, f"{max(present):04d}")
    command.upgrade(config, "head")
    return applied


def _legacy_baseline(conn: sa.Connection) -> set[int]:
    """The revisions a SQLite database made before any migration runner already has.

    0001 counts only when every one of its tables is there; 0002 (the location columns)
    when cases has them.
    """
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("cases")} if "cases" in tables else set()
    present = {1} if tables >= _LEGACY_INITIAL else set()
    return present | ({2} if "lon" in columns else set())


def _config(conn: sa.Connection, applied: list[str]) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    by_revision = dict(revisions())

    def on_version_apply(*, step: Any, **_: Any) -> None:
        if step.is_upgrade and not step.is_stamp:
            applied.append(by_revision[step.up_revision_id])

    config.attributes["on_version_apply"] = on_version_apply
    return config


def _sqlite_revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    return row[0] if row else None


class _Lent:
    """The store's sqlite3 connection lent to SQLAlchemy for a migration: SQLAlchemy's
    close does not close it (the store goes on using it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def close(self) -> None:
        pass

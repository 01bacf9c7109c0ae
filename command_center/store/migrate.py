"""One schema for every backend: numbered plain-SQL migrations and a small runner.

`migrations/NNNN_name.sql` serves every dialect; `NNNN_name.<dialect>.sql` replaces it
for one dialect where the SQL differs (e.g. reading JSON). `{{TOKEN}}`s stand for the
few column types that are spelt differently. Applied versions are rows of
`schema_migrations`; each migration runs in one transaction with its row, so a failed
one leaves nothing behind and the next run tries it again.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

MIGRATIONS = Path(__file__).parent / "migrations"
DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {"AUTO_PK": "INTEGER PRIMARY KEY AUTOINCREMENT", "FLOAT": "REAL"},
    # REAL is 4 bytes in PostgreSQL: ~1 m of error on a longitude. Coordinates need 8.
    "postgresql": {"AUTO_PK": "BIGSERIAL PRIMARY KEY", "FLOAT": "DOUBLE PRECISION"},
}
_FILE = re.compile(r"^(\d{4})_(\w+?)(?:\.(\w+))?\.sql$")
_TOKEN = re.compile(r"\{\{(\w+)\}\}")
_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
# Any constant both sides agree on: serialises concurrent runners on one PostgreSQL database.
_PG_LOCK_KEY = 0x63635F6D6967


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def load(dialect: str, directory: Path = MIGRATIONS) -> list[Migration]:
    """This dialect's migrations in order, tokens substituted."""
    tokens = DIALECTS[dialect]
    chosen: dict[int, tuple[str, Path, bool]] = {}
    for path in directory.glob("*.sql"):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are NNNN_name.sql or NNNN_name.DIALECT.sql")
        version, name, only = int(match[1]), match[2], match[3]
        if only is not None and only not in DIALECTS:
            raise ValueError(f"{path}: unknown dialect {only!r}")
        if only not in (None, dialect):
            continue
        held = chosen.get(version)
        if held is not None and held[0] != name:
            raise ValueError(f"migration {version:04d} has two names: {held[0]!r} and {name!r}")
        if held is None or only is not None:  # the dialect's own file wins
            chosen[version] = (name, path, only is not None)
    out = []
    for version in sorted(chosen):
        name, path, _ = chosen[version]
        sql = _TOKEN.sub(lambda m: tokens[m[1]], path.read_text(encoding="utf-8"))
        out.append(Migration(version, name, sql))
    return out


def apply_sqlite(db: sqlite3.Connection, baseline: Callable[[sqlite3.Connection], set[int]] | None = None) -> list[str]:
    """Apply the pending migrations on an autocommit connection; the labels applied.

    `baseline` says which versions a database made before `schema_migrations` existed
    already has: asked only when that table is missing, recorded without running them.
    """
    applied: list[str] = []
    known = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.execute("BEGIN IMMEDIATE")  # the write lock: another process migrating waits here
    try:
        db.execute(_TABLE)
        if "schema_migrations" not in known and baseline is not None:
            present = baseline(db)
            for migration in load("sqlite"):
                if migration.version in present:
                    _record_sqlite(db, migration)
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    for migration in load("sqlite"):
        if migration.version in done:
            continue
        # Checked again under the write lock: another process may have got there first.
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone():
                db.execute("COMMIT")
                continue
            for statement in _statements(migration.sql):
                db.execute(statement)
            _record_sqlite(db, migration)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(migration.label)
    return applied


def apply_postgres(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the pending migrations, all in one transaction under an advisory lock."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        conn.execute(_TABLE)
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for migration in load("postgresql"):
            if migration.version in done:
                continue
            for statement in _statements(migration.sql):
                conn.execute(statement)  # trusted text, no parameters
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.name, _now()),
            )
            applied.append(migration.label)
    return applied


def _record_sqlite(db: sqlite3.Connection, migration: Migration) -> None:
    db.execute(
        "INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, _now()),
    )


def _statements(sql: str) -> list[str]:
    # Statement by statement: sqlite3's execute takes one, and executescript would commit.
    # The migrations hold no ';' inside literals, which keeps this split honest.
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

"""`command-center db check|backup` and `audit verify` (findings 19 and 24).

- check: SQLite: `PRAGMA integrity_check` on the file, opened read-only, and the schema
  version against this release's migrations; PostgreSQL: a connection, a query and the
  schema version. Exit 0 when sound, 1 naming the problem.
- backup: SQLite only, online and consistent: sqlite3's backup API copies the database
  page by page from one read transaction while the server keeps writing; the copy is
  checked, synced and renamed into place, so FILE is either the old file or a whole new
  copy. For PostgreSQL the pg_dump command to use is printed (exit 2): a dump of a live
  server is pg_dump's job.
- audit verify: walks the audit log's hash chain (store/audit_chain.py).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from command_center.store.migrate import latest


def check(url: str) -> tuple[bool, str]:
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        return _check_sqlite(url)
    if scheme in ("postgresql", "postgres"):
        return _check_postgres(url)
    return False, f"no check for store {url!r}"


# The schema version: Alembic's revision (0001, 0002, ... read as numbers), or on a
# database the release before Alembic left, the highest row of its schema_migrations.
_VERSION = (
    "SELECT CAST(version_num AS INTEGER) FROM alembic_version",
    "SELECT max(version) FROM schema_migrations",
)


def _schema(version: int | None) -> tuple[bool, str]:
    newest = latest()
    if version is None:
        return False, "no alembic_version table: not a command-center database, or never migrated"
    if version > newest:
        return (
            False,
            f"schema at version {version}, newer than this release knows ({newest}): upgrade the release",
        )
    if version < newest:
        return (
            True,
            f"schema at version {version} of {newest}: migrated on the next start (or run `command-center migrate`)",
        )
    return True, f"schema at version {version}"


def _check_sqlite(url: str) -> tuple[bool, str]:
    from command_center.store.sqlite import sqlite_path

    path = sqlite_path(url)
    if path == ":memory:" or not Path(path).is_file():
        return False, f"no database file at {path}"
    try:
        db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = _read_version(db.execute, tables)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        return False, f"{path}: {exc}"
    if problems != ["ok"]:
        return False, f"{path}: integrity_check found problems:\n  " + "\n  ".join(problems)
    ok, schema = _schema(version)
    return ok, f"{path}: integrity ok; {schema}"


def _check_postgres(url: str) -> tuple[bool, str]:
    import psycopg

    from command_center.store.postgres.connect import parse

    shown = redacted(url)
    try:
        with psycopg.connect(parse(url).dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET statement_timeout = 10000")
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                )
            }
            version = _read_version(conn.execute, tables)
    except psycopg.Error as exc:
        return (
            False,
            f"{shown}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
        )
    ok, schema = _schema(version)
    return ok, f"{shown}: connected; {schema}"


def _read_version(execute: Any, tables: set[str]) -> int | None:
    for table, sql in zip(("alembic_version", "schema_migrations"), _VERSION, strict=True):
        if table in tables:
            row = execute(sql).fetchone()
            return row[0] if row else None
    return None


def backup(url: str, target: Path) -> tuple[int, str]:
    scheme = url.split(":", 1)[0]
    if scheme in ("postgresql", "postgres"):
        command = f"pg_dump --format=custom --file {target} '{redacted(url.split('?', 1)[0])}'"
        return 2, (
            "PostgreSQL is backed up with its own tool, online and consistent:\n"
            f"  {command}\n(give the password through PGPASSWORD or ~/.pgpass, not on the command line)"
        )
    if scheme != "sqlite":
        return 2, f"no backup for store {url!r}"
    from command_center.store.sqlite import sqlite_path

    path = sqlite_path(url)
    if path == ":memory:" or not Path(path).is_file():
        return 1, f"no database file at {path}"
    if target.resolve() == Path(path).resolve():
        return 1, "the backup cannot replace the database itself"
    pages = _copy_sqlite(Path(path), target)
    return 0, f"backed up {path} to {target}: {pages} pages, integrity ok"


def _copy_sqlite(source: Path, target: Path) -> int:
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # all pages in one step: one read transaction, a consistent snapshot
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"the copy of {source} failed its integrity check; {target} left as it was")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        pages = dst.execute("PRAGMA page_count").fetchone()[0]
    finally:
        dst.close()
        src.close()
    with partial.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)
    return int(pages)


def verify_audit(url: str) -> tuple[int, str]:
    from command_center.audit import verify_store
    from command_center.store import create_store

    store = create_store(url)
    try:
        verdict = verify_store(store)
    finally:
        store.close()
    return (0 if verdict.ok else 1), verdict.message()


def redacted(url: str) -> str:
    """The URL without its password, fit for output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", parts.path, parts.query, parts.fragment))


def report(code: int, message: str) -> int:
    print(message, file=sys.stdout if code == 0 else sys.stderr)
    return code

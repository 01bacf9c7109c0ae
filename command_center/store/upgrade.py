"""`command-center migrate`: bring the store a URL names up to the current schema.

It lives beside the registry, not in migrate.py, because it must know both stores (how
each spells its connection), and no store may import another.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from command_center.store.migrate import apply_postgres, apply_sqlite


def migrate_url(url: str) -> tuple[list[str], int]:
    """Apply pending migrations to the store at `url`: (labels applied, version now)."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        from command_center.store.sqlite import legacy_baseline, sqlite_path

        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            applied = apply_sqlite(db, legacy_baseline)
            version = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        finally:
            db.close()
        return applied, version or 0
    if scheme in ("postgresql", "postgres"):
        import psycopg

        from command_center.store.postgres import conninfo

        try:
            conn = psycopg.connect(conninfo(url)[0], autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot reach {url}: {exc}") from None
        with conn:
            applied = apply_postgres(conn)
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return applied, (row[0] if row else 0) or 0
    raise ValueError(f"no migrations for store {url!r}")

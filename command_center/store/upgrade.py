"""`command-center migrate`: bring the store a URL names up to the current schema.

It lives beside the registry, not in migrate.py, because it must know both stores (how
each spells its connection), and no store may import another.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from command_center.store.migrate import latest, upgrade_postgres, upgrade_sqlite


def migrate_url(url: str) -> tuple[list[str], int]:
    """Apply pending migrations to the store at `url`: (labels applied, version now)."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        from command_center.store.sqlite import sqlite_path

        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            applied = upgrade_sqlite(db)
        finally:
            db.close()
        return applied, latest()
    if scheme in ("postgresql", "postgres"):
        import psycopg
        import sqlalchemy.exc

        from command_center.store.postgres.connect import parse

        try:
            applied = upgrade_postgres(parse(url).dsn)
        except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
            raise ConnectionError(f"cannot reach {url}: {exc}") from None
        return applied, latest()
    raise ValueError(f"no migrations for store {url!r}")

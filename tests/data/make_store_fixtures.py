"""Make the store upgrade fixtures: databases written by the store code of their day.

    .venv/bin/python tests/data/make_store_fixtures.py [ADMIN_URL]

writes
- tests/data/store_v5.sqlite: a SQLite database made by `SQLiteStore` (schema version 5,
  `schema_migrations`, before the Alembic migrations);
- tests/data/store_v5.postgresql.sql: a plain-SQL dump (`pg_dump --no-owner
  --no-privileges --inserts`) of a database made by `PostgresStore` with the same content,
  made in a scratch database on ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
  and dropped after.

They were made once, with the store of the commit before the SQLAlchemy/Alembic store
(issue 15), and are committed: tests/test_store_upgrade.py upgrades copies of them in
place. Re-running this script with a later store makes fixtures of that later schema,
which is not what the upgrade test is about; keep the committed files. `CONTENT` below is
what the test expects to find after the upgrade.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from dispatch.cases import Case, CaseState, TimelineEntry, transition  # noqa: E402

SQLITE_FIXTURE = HERE / "store_v5.sqlite"
POSTGRES_FIXTURE = HERE / "store_v5.postgresql.sql"
NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def cases() -> list[tuple[Case, list[tuple[Case, TimelineEntry]]]]:
    """Each case as inserted, and the transitions saved after it."""
    out = []
    for i in range(6):
        created = NOW + timedelta(minutes=i)
        first = TimelineEntry(created, "register", "system", CaseState.REPORTED, CaseState.REGISTERED, f"note {i}")
        case = Case(
            id=f"C{i:02d}", state=CaseState.DISPATCHED, matter_code=f"01{i % 3:02d}",
            grid_code=f"44010600{i % 2}001001", source="video", created_at=created,
            deadline=created + timedelta(hours=4), lon=113.3 + i / 1000, lat=23.1 + i / 1000,
            assignee=f"W{i % 3}", incident_ids=(f"I{i:02d}",), description=f"坑洼 {i}",
            timeline=(first, TimelineEntry(created, "dispatch", "system", CaseState.REGISTERED, CaseState.DISPATCHED)),
        )  # fmt: skip
        steps: list[tuple[Case, TimelineEntry]] = []
        current = case
        for n, action in enumerate(("accept", "start", "feedback", "close")[: i % 5]):
            current, entry = transition(current, action, f"W{i % 3}", note=f"{action} {i}", now=created + timedelta(minutes=n + 1))
            steps.append((current, entry))
        out.append((case, steps))
    return out


def fill(store: Any) -> None:
    for i in range(5):
        store.add_incident({
            "id": f"I{i:02d}", "ts": (NOW + timedelta(seconds=i)).isoformat(), "camera_id": f"cam-{i % 2}",
            "state": "new" if i % 2 else "dismissed", "grid_code": "440106001001001",
            "location": {"lon": 113.3, "lat": 23.1}, "case_id": f"C{i:02d}",
        })  # fmt: skip
    for case, steps in cases():
        store.insert_case(case)
        for updated, entry in steps:
            assert store.save_transition(updated, entry)
    for i in range(3):
        store.add_report({
            "id": f"R{i}", "requested_datetime": (NOW + timedelta(hours=i)).isoformat(), "case_id": f"C{i:02d}",
            "description": "井盖缺失", "lon": 113.3, "lat": 23.1,
        })  # fmt: skip
    users = [
        {"username": "ann", "password_hash": "$argon2id$ann", "role": "admin", "jurisdiction": "", "created_at": "2026-10-01T00:00:00+00:00"},
        {"username": "bob", "password_hash": "$argon2id$bob", "role": "worker", "jurisdiction": "440106", "worker_id": "W1", "created_at": "2026-10-02T00:00:00+00:00"},
        {"username": "cy", "password_hash": "$argon2id$cy", "role": "officer", "jurisdiction": "4401", "created_at": "2026-10-03T00:00:00+00:00"},
    ]  # fmt: skip
    store.add_users(users)
    store.update_user("cy", disabled=1, token_version=2)
    for i in range(7):
        store.add_audit({
            "ts": (NOW + timedelta(seconds=10 * i)).isoformat(), "actor": "ann", "role": "admin",
            "action": ("login", "case.accept", "user.create")[i % 3], "target": f"C{i:02d}",
            "ip": f"10.0.0.{i}", "detail": None if i % 2 else f"detail {i}",
        })  # fmt: skip
    for i in range(2):
        store.add_publish_key({
            "id": f"pk_{i}", "name": f"drone {i}", "stream": f"drone-{i}", "note": "", "secret_hash": f"sha256-{i}",
            "created_at": "2026-10-05T00:00:00+00:00", "created_by": "ann", "rotated_at": None, "revoked_at": None,
        })  # fmt: skip
    store.update_publish_key("pk_1", revoked_at="2026-10-06T00:00:00+00:00")


def make_sqlite() -> None:
    from command_center.store.sqlite import SQLiteStore

    scratch = HERE / "store_v5.tmp.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    store = SQLiteStore(scratch)
    fill(store)
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store._db.execute("VACUUM")
    store.close()
    shutil.move(scratch, SQLITE_FIXTURE)
    for suffix in ("-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)


def make_postgres(admin: str) -> None:
    import psycopg

    from command_center.store.postgres import PostgresStore

    name = f"cc_fixture_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        store = PostgresStore(url)
        fill(store)
        store.close()
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--inserts", "--dbname", url],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        POSTGRES_FIXTURE.write_text(dump.stdout, encoding="utf-8")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    make_sqlite()
    make_postgres(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres")
    print(f"wrote {SQLITE_FIXTURE} and {POSTGRES_FIXTURE}")

"""Databases made by the store before Alembic (issue 15) upgrade in place, losing nothing.

The fixtures in tests/data were written by that store itself (tests/data/make_store_fixtures.py):
a SQLite file and a PostgreSQL plain-SQL dump at schema version 5 of the plain-SQL
runner (`schema_migrations`). Each is upgraded by opening it with today's store; every
case with its timeline, the users, the audit chain, the publish keys, incidents and
reports must come through, the schema must be what store/schema.py defines, and a second
migration run must find nothing to do.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import command_center.store.assessment_schema  # noqa: F401  (the same)
import command_center.store.basedata_counts  # noqa: F401  (the same)
import command_center.store.basedata_map  # noqa: F401  (the same: the buildings' place index)
import command_center.store.basedata_schema  # noqa: F401  (its tables join `metadata`: the schema checked is all of it)
import command_center.store.basedata_sums  # noqa: F401  (the same: 0032's kept sums)
import command_center.store.care_schema  # noqa: F401  (the same)
import command_center.store.chat_schema  # noqa: F401  (the same)
import command_center.store.collect_schema  # noqa: F401  (the same)
import command_center.store.community_schema  # noqa: F401  (the same)
import command_center.store.cost_schema  # noqa: F401  (the same)
import command_center.store.device_schema  # noqa: F401  (the same)
import command_center.store.field_photo_schema  # noqa: F401  (the same)
import command_center.store.patrol_schema  # noqa: F401  (the same)
import command_center.store.report_media_schema  # noqa: F401  (the same)
import command_center.store.resident_schema  # noqa: F401  (the same)
import command_center.store.stats_schema  # noqa: F401  (the same)
import command_center.store.verify_task_schema  # noqa: F401  (the same)
from command_center.audit import verify_store
from command_center.store import Store, create_store
from command_center.store.chat_records import chat_store
from command_center.store.community_forum import forum_store
from command_center.store.community_market import market_store
from command_center.store.cost_records import cost_store
from command_center.store.migrate import labels, latest
from command_center.store.report_media_records import MediaRow, report_media_store
from command_center.store.resident_records import resident_store
from command_center.store.schema import metadata
from command_center.store.upgrade import migrate_url
from dispatch.cases import transition
from tests.helpers import postgres_database

DATA = Path(__file__).parent / "data"


def _fixtures() -> Any:
    spec = importlib.util.spec_from_file_location("make_store_fixtures", DATA / "make_store_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURES = _fixtures()


@pytest.fixture
def sqlite_v5(tmp_path: Path) -> str:
    path = tmp_path / "cc.db"
    shutil.copy(FIXTURES.SQLITE_FIXTURE, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_v5() -> Iterator[str]:
    """A fresh database loaded from the dump, dropped after."""
    psycopg = pytest.importorskip("psycopg")
    # psql's own commands (\restrict) are not SQL; the rest is plain INSERTs and DDL.
    dump = "\n".join(
        line for line in FIXTURES.POSTGRES_FIXTURE.read_text(encoding="utf-8").splitlines() if not line.startswith("\\")
    )
    with postgres_database("cc_upgrade") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(dump)
        yield url


def _schema_differences(url: str) -> list[Any]:
    """What the database lacks or has beyond store/schema.py (tables, columns, types, indexes)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
    else:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": lambda name, kind, _: name != "schema_migrations"}
            )
            return [d for d in compare_metadata(context, metadata) if not _sqlite_key_nullability(d)]
    finally:
        engine.dispose()


def _sqlite_key_nullability(difference: Any) -> bool:
    """SQLite's `id TEXT PRIMARY KEY` (the plain-SQL migrations' spelling) lets a NULL in, a
    quirk of SQLite's history; Alembic's tables say NOT NULL. The stores never write one."""
    steps = difference if isinstance(difference, list) else [difference]
    return all(
        step[0] == "modify_nullable" and metadata.tables[step[2]].c[step[3]].primary_key for step in steps
    )


def _check_content(store: Store) -> None:
    for case, steps in FIXTURES.cases():
        final = steps[-1][0] if steps else case
        loaded = store.get_case(case.id)
        assert loaded is not None and loaded.to_dict() == final.to_dict(), case.id
    assert sorted(i["id"] for i in store.list_incidents(limit=100)[0]) == [f"I{i:02d}" for i in range(5)]
    assert store.get_incident("I03") == {
        "id": "I03", "ts": "2026-11-01T08:00:03+00:00", "camera_id": "cam-1", "state": "new",
        "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C03",
    }  # fmt: skip
    assert [r["id"] for r in store.list_reports()] == ["R2", "R1", "R0"]
    users, total = store.list_users()
    assert total == 3 and [u["username"] for u in users] == ["ann", "bob", "cy"]
    assert store.get_user("bob") == {
        "username": "bob", "password_hash": "$argon2id$bob", "role": "worker", "jurisdiction": "440106",
        "worker_id": "W1", "created_at": "2026-10-02T00:00:00+00:00", "disabled": 0, "token_version": 0,
        "last_login_at": None, "last_login_ip": None,  # 0010: never signed in since
    }  # fmt: skip
    cy = store.get_user("cy")
    assert cy is not None and (cy["disabled"], cy["token_version"]) == (1, 2)
    keys = store.list_publish_keys()
    assert [(k["id"], k["revoked_at"]) for k in keys] == [("pk_0", None), ("pk_1", "2026-10-06T00:00:00+00:00")]
    entries, total = store.list_audit()
    assert total == 7 and [e["seq"] for e in entries] == list(range(7, 0, -1))
    verdict = verify_store(store)
    assert verdict.ok and verdict.rows == 7, verdict.message()
    # 0024 back-filled the statistics' facts (and their daily sums) from the cases as stored
    with store._reading() as db:  # type: ignore[attr-defined]
        facts = dict(db.execute("SELECT id, state FROM case_facts", {}).fetchall())
        summed = db.execute("SELECT sum(cases) FROM case_daily", {}).fetchone()[0]
        # 0028: the class roll-up back-filled with the same sums, and the monthly cells' table there
        rolled = db.execute("SELECT sum(cases) FROM case_daily_class", {}).fetchone()[0]
        db.execute("SELECT count(*) FROM case_cells_monthly", {}).fetchone()
    assert rolled == summed
    assert facts == {c.id: (s[-1][0] if s else c).state.value for c, s in FIXTURES.cases()}
    assert summed == sum(state not in ("merged", "cancelled") for state in facts.values())


def _check_still_works(store: Store) -> None:
    """After the upgrade the store writes as ever: a transition, a case, an audit row on the chain."""
    loaded = store.get_case("C00")
    assert loaded is not None
    accepted, entry = transition(loaded, "accept", "W0")
    assert store.save_transition(accepted, entry)
    store.add_audit({"ts": "2026-12-01T00:00:00+00:00", "actor": "ann", "role": "admin", "action": "login",
                     "target": "", "ip": "::1"})  # fmt: skip
    verdict = verify_store(store)
    assert verdict.ok and verdict.rows == 8, verdict.message()
    assert [c.id for c in store.open_cases_of_matter("0100", FIXTURES.NOW, near=(113.3, 23.1, 100))] == ["C00"]
    residents = resident_store(store)  # 0025: the residents' tables, there and writable
    resident = residents.sign_in("f" * 64, "v1:sealed", "138****0000", FIXTURES.NOW)
    residents.link_report("R1", resident.id, "C00", FIXTURES.NOW)
    assert [r["report_id"] for r in residents.reports_of(resident.id)] == ["R1"]
    chats = chat_store(store)  # 0029: the chat's tables, there and writable, seq from the server
    chat, _ = chats.open_conversation(resident.id, "440104001001001", None, FIXTURES.NOW)
    said = chats.add({"conversation_id": chat["id"], "sender_kind": "resident", "sender_id": resident.id,
                      "kind": "text", "body": "你好", "created_at": "2026-12-01T00:00:00+00:00"})  # fmt: skip
    assert isinstance(said, dict) and [m["seq"] for m in chats.history(chat["id"], None, 0)] == [said["seq"]]
    with chats.store._reading() as db:  # 0033: a message's server id and the sender's ref
        assert chats.by_ref_in(db, chat["id"], resident.id, "r1") is None
    again = chats.add({"conversation_id": chat["id"], "sender_kind": "resident", "sender_id": resident.id, "kind": "text",
                       "body": "在吗", "created_at": "2026-12-01T00:00:01+00:00", "msg_id": "M1", "ref": "r1"})  # fmt: skip
    with chats.store._reading() as db:
        assert isinstance(again, dict) and chats.by_ref_in(db, chat["id"], resident.id, "r1") == again
    assert cost_store(store).list("", None, 1, 0) == ([], 0)  # 0027: the budget lines' table, there and empty
    forum = forum_store(store)  # 0031: the marketplace's and the forum's tables, there and writable
    post = forum.add({"kind": "thread", "scope": "4401", "area_code": "440100000000000", "author_kind": "resident",
                      "author": resident.id, "author_name": "居民0000", "title": "t", "body": "b", "state": "visible"},
                     FIXTURES.NOW)  # fmt: skip
    assert forum.get(post["id"]) is not None and market_store(store).providers("", None) == []
    media = report_media_store(store)  # 0030: report media and follows, there and writable
    with store._reading() as db:  # 0032: the analysis's kept sums, there (no base data in the fixture: empty)
        for table in ("basedata_area_sums", "basedata_ages", "basedata_alone"):
            assert db.execute(f"SELECT count(*) FROM {table}", {}).fetchone()[0] == 0
    assert media.follow("C00", resident.id, FIXTURES.NOW) and media.follows_of(resident.id)[0][0] == "C00"
    media.add([MediaRow("M0123456789ab", "R1", "C00", "photo", "image/jpeg", "M0123456789ab.jpg", 10, None,
                        "2026-01-01T00:00:00.000000+00:00")])  # fmt: skip
    assert media.sweep_before("2026-06-01", "2026-12-01") == [("R1", "M0123456789ab.jpg")]  # 0034: removed_at
    assert media.get("M0123456789ab").removed_at == "2026-12-01"  # type: ignore[union-attr]
    with store._reading() as db:  # type: ignore[attr-defined]  # 0026: the assessment's tables, there
        for table in ("assessment_runs", "assessment_scores", "assessment_honours", "assessment_notices", "assessment_appeals"):
            assert db.execute(f"SELECT count(*) FROM {table}", {}).fetchone()[0] == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_made_before_alembic_upgrades_in_place(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_v5" if backend == "sqlite" else "postgres_v5")
    store = create_store(url)
    try:
        # Stamped at the revision of schema_migrations' version 5: nothing to run.
        assert store.migrations == labels()[5:]  # type: ignore[attr-defined]
        _check_content(store)
        _check_still_works(store)
    finally:
        store.close()
    assert _schema_differences(url) == []
    assert migrate_url(url) == ([], latest())  # a second run does nothing
    again = create_store(url)
    try:
        assert again.migrations == []  # type: ignore[attr-defined]
        assert again.get_case("C05") is not None
    finally:
        again.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fresh_database_is_the_schema_and_a_second_run_does_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # On PostgreSQL an emptied copy of the fixture database would do; a fresh one is simpler.
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if backend == "sqlite" else _new_postgres(request, "cc_fresh")
    applied, version = migrate_url(url)
    assert len(applied) == version == latest()
    assert _schema_differences(url) == []
    assert migrate_url(url) == ([], latest())


def _new_postgres(request: pytest.FixtureRequest, prefix: str) -> str:
    """A new, empty PostgreSQL database for this test, dropped after it (or the test skipped)."""
    stack = contextlib.ExitStack()
    request.addfinalizer(stack.close)
    return stack.enter_context(postgres_database(prefix))


_OPEN = """
import json, sys, time
from command_center.store import create_store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # both at once
store = create_store(sys.argv[1])
print(json.dumps(store.migrations))
store.close()
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_opening_a_new_database_together_migrate_it_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys
    import time

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'together.db'}"
    else:
        url = _new_postgres(request, "cc_together")
    start = str(time.time() + 3)  # past both interpreters' start-up
    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN, url, start], cwd=root, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    applied = sorted((json.loads(p.communicate(timeout=120)[0]) for p in procs), key=len)
    assert [p.returncode for p in procs] == [0, 0]
    assert applied == [[], labels()]  # one migrated, the other found it done


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_audit_rows_from_before_the_chain_are_chained_by_its_migration(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """A database at version 4 (audit rows without hashes): 0005 adds the columns and chains
    the rows it finds, once, in seq order."""
    url = request.getfixturevalue("sqlite_v5" if backend == "sqlite" else "postgres_v5")
    back_to_4 = (
        "ALTER TABLE audit DROP COLUMN prev_hash",
        "ALTER TABLE audit DROP COLUMN hash",
        "DELETE FROM schema_migrations WHERE version = 5",
    )
    engine = sa.create_engine(url if backend == "sqlite" else url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for statement in back_to_4:
            conn.exec_driver_sql(statement)
    engine.dispose()
    store = create_store(url)
    try:
        assert store.migrations == labels()[4:]  # type: ignore[attr-defined]
        verdict = verify_store(store)
        assert verdict.ok and verdict.rows == 7, verdict.message()
        _check_still_works(store)
    finally:
        store.close()

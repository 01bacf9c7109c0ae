"""The store's behaviour, the same on both backends: SQLite and a real PostgreSQL.

PostgreSQL runs in a database made for this session (`cc_test_<random>`, dropped at the
end) on CC_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres); its
tests are skipped, saying why, when that server cannot be reached.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.store import CaseQuery, SQLiteStore, Store, audit_chain, create_store
from command_center.store.migrate import labels as migration_labels
from command_center.store.upgrade import migrate_url
from dispatch.cases import Case, CaseState, InvalidTransition, transition
from dispatch.city import City
from tests.helpers import build_runtime, serve_app

ADMIN = os.environ.get("CC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
TABLES = ("incidents", "cases", "case_timeline", "reports", "users", "audit", "publish_keys", "registry_versions")
# SQLite schemas from before any migration runner: 0001's and 0002's SQL as they were.
LEGACY_SCHEMA = [Path(__file__).parent / "data" / f"store_v{n}_schema.sqlite.sql" for n in (1, 2)]


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_db() -> Iterator[str]:
    """The URL of a database made for this session."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    name = f"cc_test_{secrets.token_hex(4)}"
    try:
        _admin(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {ADMIN}: {exc}")
    yield _with_db(ADMIN, name)
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_fresh(pg_db: str) -> Iterator[str]:
    """An empty database of its own (for migrations), dropped after the test."""
    name = f"{pg_db.rsplit('/', 1)[1]}_{secrets.token_hex(3)}"
    _admin(f"CREATE DATABASE {name}")
    yield _with_db(ADMIN, name)
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cc.db'}"
        return
    url = request.getfixturevalue("pg_db")
    yield url
    _admin_in(url, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


def _admin_in(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = create_store(store_url)
    yield opened
    opened.close()


def make_case(i: int = 1, **over: Any) -> Case:
    base = Case(
        id=f"C{i}", state=CaseState.DISPATCHED, matter_code="X", grid_code="440106001001001", source="video",
        created_at=NOW, deadline=NOW + timedelta(hours=4 + i), lon=113.3, lat=23.1, assignee="W1",
    )
    return replace(base, **over)


def test_cases_round_trip_and_filters(store: Store) -> None:
    store.insert_case(make_case(1))
    store.insert_case(make_case(2, assignee="W2", grid_code="440106002001001", lon=113.9))
    store.insert_case(make_case(3, state=CaseState.CLOSED, created_at=NOW - timedelta(days=3)))
    loaded = store.get_case("C2")
    assert loaded is not None and loaded.to_dict() == make_case(2, assignee="W2", grid_code="440106002001001", lon=113.9).to_dict()
    assert store.get_case("nope") is None
    items, total = store.list_cases(CaseQuery())
    assert total == 3 and [c.id for c in items] == ["C1", "C2", "C3"]  # open first, then by deadline
    assert store.list_cases(CaseQuery(open_only=True))[1] == 2
    assert [c.id for c in store.list_cases(CaseQuery(state="closed"))[0]] == ["C3"]
    assert [c.id for c in store.list_cases(CaseQuery(assignee="W2"))[0]] == ["C2"]
    assert [c.id for c in store.list_cases(CaseQuery(grid_prefix="440106002"))[0]] == ["C2"]
    assert store.list_cases(CaseQuery(created_since=NOW - timedelta(days=1)))[1] == 2
    page, total = store.list_cases(CaseQuery(limit=1, offset=1))
    assert total == 3 and [c.id for c in page] == ["C2"]
    assert store.open_counts(["W1", "W2", "W3"]) == {"W1": 1, "W2": 1}
    assert store.open_counts([]) == {}
    assert store.open_counts_by_grid("440106") == {"440106001001001": 1, "440106002001001": 1}
    near = store.open_cases_of_matter("X", NOW - timedelta(hours=1), near=(113.3, 23.1, 500))
    assert [c.id for c in near] == ["C1"]
    assert {c.id for c in store.open_cases_of_matter("X", NOW - timedelta(hours=1))} == {"C1", "C2"}


def test_lists_of_any_length_count_right(store: Store) -> None:
    """Lists go to the database padded with NULLs to a few lengths (queries.slots): a
    padding NULL matches no case, not even an unassigned one."""
    store.insert_case(make_case(1))
    store.insert_case(make_case(2, assignee="W2"))
    store.insert_case(make_case(3, assignee=None))
    for n in (1, 5, 6, 9, 33, 70):
        ids = ["W1", "W2", *[f"X{i}" for i in range(n - 2)]][:n]
        expected = {"W1": 1, "W2": 1} if n >= 2 else {"W1": 1}
        assert store.open_counts(ids) == expected, n
    user = {"password_hash": "h", "role": "officer", "jurisdiction": "", "created_at": "t"}
    assert store.add_users([{"username": f"u{i}", **user} for i in range(7)]) == 7
    assert sorted(u["username"] for u in store.get_users([f"u{i}" for i in range(6)] + ["nobody"])) == [
        f"u{i}" for i in range(6)
    ]


def test_save_transition_is_a_compare_and_set(store: Store) -> None:
    case = make_case()
    store.insert_case(case)
    accepted, entry = transition(case, "accept", "W1", now=NOW)
    assert store.save_transition(accepted, entry)
    assert store.save_transition(accepted, entry) is False  # the stored version moved on
    started, entry = transition(accepted, "start", "W1", now=NOW)
    assert store.save_transition(started, entry)
    loaded = store.get_case("C1")
    assert loaded is not None and loaded.state == CaseState.IN_PROGRESS and loaded.version == 2
    assert [e.action for e in loaded.timeline] == ["accept", "start"]


def test_fifty_threads_accept_one_case_and_one_wins(store: Store) -> None:
    store.insert_case(make_case())
    base = store.get_case("C1")
    assert base is not None
    barrier, results = threading.Barrier(50), [None] * 50

    def accept(i: int) -> None:
        updated, entry = transition(base, "accept", f"W{i}")
        barrier.wait()
        try:
            results[i] = store.save_transition(updated, entry)  # type: ignore[call-overload]
        except Exception as exc:  # noqa: BLE001 - an error is a wrong answer, counted below
            results[i] = exc  # type: ignore[call-overload]

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results, key=str) == [False] * 49 + [True], results
    final = store.get_case("C1")
    assert final is not None and [e.action for e in final.timeline] == ["accept"]
    assert final.timeline[0].actor == f"W{results.index(True)}"  # type: ignore[arg-type]


def test_incidents_reports_users_audit(store: Store) -> None:
    for i, (state, grid) in enumerate([("new", "440106001001001"), ("dismissed", "440106001001001"), ("new", "440105")]):
        store.add_incident({"id": f"I{i}", "ts": f"2026-11-28T06:0{i}:00+00:00", "state": state, "grid_code": grid})
    assert store.get_incident("I1") == {"id": "I1", "ts": "2026-11-28T06:01:00+00:00", "state": "dismissed", "grid_code": "440106001001001"}
    assert store.update_incident("I0", case_id="C9")["case_id"] == "C9"  # type: ignore[index]
    assert store.update_incident("missing", case_id="C9") is None
    items, total = store.list_incidents(state="new")
    assert total == 2 and [d["id"] for d in items] == ["I2", "I0"]  # newest first
    assert items[1]["case_id"] == "C9"
    assert store.list_incidents(grid_prefix="440106")[1] == 2

    report = {"id": "R1", "requested_datetime": "2026-11-28T06:00:00+00:00", "case_id": "C1", "description": "井盖缺失"}
    store.add_report(report)
    store.add_report({**report, "id": "R2", "requested_datetime": "2026-11-28T07:00:00+00:00"})
    assert store.get_report("R1") == report and store.get_report("R9") is None
    assert [r["id"] for r in store.list_reports()] == ["R2", "R1"]

    user = {"username": "ann", "password_hash": "h", "role": "officer", "jurisdiction": "4401", "created_at": "t"}
    assert store.add_users([user, {**user, "username": "bob", "role": "worker", "worker_id": "W1"}]) == 2
    assert store.add_users([user]) == 0
    store.update_user("ann", disabled=1)
    assert store.get_user("ann") == {
        **user, "worker_id": None, "disabled": 1, "token_version": 0, "last_login_at": None, "last_login_ip": None,
    }  # fmt: skip
    assert store.get_user("zed") is None
    with pytest.raises(ValueError):
        store.update_user("ann", shoe_size=9)
    users, total = store.list_users(limit=1, offset=1)
    assert total == 2 and users[0]["username"] == "bob"

    for action in ("login", "case.accept", "login"):
        store.add_audit({"ts": "t", "actor": "ann", "role": "officer", "action": action, "target": "", "ip": "::1"})
    entries, total = store.list_audit(action="login")
    assert total == 2 and [e["seq"] for e in entries] == [3, 1] and entries[0]["detail"] is None
    assert store.list_audit(actor="bob")[1] == 0


def test_publish_keys_retention_and_the_audit_chain(store: Store) -> None:
    """The rest of the records both stores share (store/records.py), on each database."""
    key = {"id": "K1", "name": "cam", "stream": "cam-1", "note": "", "secret_hash": "h", "created_at": "t", "created_by": "ann"}
    store.add_publish_key(key)
    store.add_publish_key({**key, "id": "K2", "created_at": "u"})
    assert store.get_publish_key("K1") == {**key, "rotated_at": None, "revoked_at": None}
    assert store.get_publish_key("K9") is None
    assert store.update_publish_key("K2", revoked_at="v") and not store.update_publish_key("K2", note="x")
    assert not store.update_publish_key("K9", note="x")
    with pytest.raises(ValueError):
        store.update_publish_key("K1", colour="red")
    assert [(k["id"], k["revoked_at"]) for k in store.list_publish_keys()] == [("K1", None), ("K2", "v")]

    for i in range(3):
        store.add_report({"id": f"R{i}", "requested_datetime": f"2026-11-28T0{i}:00:00+00:00", "case_id": None})
    assert sorted(store.delete_reports_before("2026-11-28T02:00:00+00:00")) == ["R0", "R1"]
    assert [r["id"] for r in store.list_reports()] == ["R2"]

    for i in range(5):
        store.add_audit({"ts": f"2026-11-28T0{i}:00:00+00:00", "actor": "ann", "role": "officer", "action": "login", "target": "", "ip": "::1"})
    assert store.scrub_audit_ips_before("2026-11-28T02:00:00+00:00") == 2
    rows = list(store.iter_audit(batch=2))  # three pages
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5] and [r["ip"] for r in rows] == ["", "", "::1", "::1", "::1"]
    assert audit_chain.verify(rows).ok  # blanking ips leaves the chain whole
    assert store.get_users([]) == []
    store.ping()


def test_a_failed_record_write_in_a_batch_undoes_only_itself(store: Store) -> None:
    """A single-statement write inside a group commit is a savepoint on PostgreSQL: its
    failure must not abort the batch's transaction (SQLite undoes the statement alone)."""
    key = {"id": "K1", "name": "cam", "stream": "cam-1", "note": "", "secret_hash": "h", "created_at": "t", "created_by": "ann"}
    with store.batch():  # type: ignore[attr-defined]
        store.add_publish_key(key)
        with pytest.raises(Exception):  # noqa: B017, PT011 - each backend's own integrity error
            store.add_publish_key(key)
        store.add_incident({"id": "I1", "ts": "t", "state": "new"})
    assert store.get_publish_key("K1") is not None and store.get_incident("I1") is not None


def test_batch_commits_together_and_a_failed_write_undoes_only_itself(store: Store) -> None:
    with store.batch():  # type: ignore[attr-defined]
        store.insert_case(make_case(1))
        with pytest.raises(Exception):  # noqa: B017, PT011 - each backend's own integrity error
            store.insert_case(make_case(1))
        store.add_incident({"id": "I1", "ts": "t", "state": "new", "case_id": "C1"})
        with store.batch():  # type: ignore[attr-defined]  # nested: part of the outer one
            store.insert_case(make_case(2))
    assert store.get_case("C1") is not None and store.get_case("C2") is not None
    assert store.get_incident("I1") is not None


def test_a_batch_reads_its_own_cases(store: Store) -> None:
    """The intake's reads inside a group commit see the cases taken in before them in the
    same batch (PostgreSQL writes those at the batch's end: store/postgres/batch.py)."""
    hour_ago = NOW - timedelta(hours=1)
    with store.batch():  # type: ignore[attr-defined]
        store.insert_case(make_case(1))
        assert [c.id for c in store.open_cases_of_matter("X", hour_ago, near=(113.3, 23.1, 500))] == ["C1"]
        assert store.open_cases_of_matter("X", NOW + timedelta(seconds=1)) == []
        assert store.open_cases_of_matter("Y", hour_ago) == []
        assert store.open_counts(["W1", "W2"]) == {"W1": 1}
        store.insert_case(make_case(2, assignee="W2", lon=113.9))
        store.insert_case(make_case(3, state=CaseState.CLOSED))
        assert {c.id for c in store.open_cases_of_matter("X", hour_ago)} == {"C1", "C2"}
        assert store.open_counts(["W1", "W2"]) == {"W1": 1, "W2": 1}
        assert store.get_case("C2") is not None  # any other read sees them too...
        assert store.open_counts(["W1", "W2"]) == {"W1": 1, "W2": 1}  # ...and they count once
        assert store.list_cases(CaseQuery())[1] == 3
    assert store.list_cases(CaseQuery(open_only=True))[1] == 2


def test_prefetched_dedupe_reads_answer_as_the_server_would(store: Store) -> None:
    """A batch names its dedupe reads up front (PostgreSQL answers them from one round trip:
    store/postgres/prefetch.py; SQLite ignores the hint): the answers are the server's,
    with the batch's own new and changed cases in place of their stored rows."""
    hour_ago, here, there = NOW - timedelta(hours=1), (113.3, 23.1, 500.0), (113.9, 23.1, 500.0)
    store.insert_case(make_case(1, state=CaseState.FEEDBACK))
    store.insert_case(make_case(5, state=CaseState.CLOSED))
    store.insert_case(make_case(6, lon=113.9))
    store.insert_case(make_case(7, lon=113.5))  # near no prefetched point: read from the server
    with store.batch():  # type: ignore[attr-defined]
        store.prefetch_open_cases([("X", hour_ago, here), ("X", hour_ago, there), ("Y", hour_ago, here)])
        if store.__class__.__name__ == "PostgresStore":
            assert store._local.prefetched is not None  # type: ignore[attr-defined]
        assert [c.id for c in store.open_cases_of_matter("X", hour_ago, near=here)] == ["C1"]
        assert [c.id for c in store.open_cases_of_matter("X", hour_ago, near=there)] == ["C6"]
        assert store.open_cases_of_matter("Y", hour_ago, near=here) == []
        assert store.open_cases_of_matter("X", NOW + timedelta(seconds=1), near=here) == []  # its own `since`
        assert [c.id for c in store.open_cases_of_matter("X", hour_ago, near=(113.5, 23.1, 500.0))] == ["C7"]
        store.insert_case(make_case(2))
        assert {c.id for c in store.open_cases_of_matter("X", hour_ago, near=here)} == {"C1", "C2"}
        c1 = store.get_case("C1")
        assert c1 is not None
        closed, entry = transition(c1, "close", "officer", now=NOW)
        assert store.save_transition(closed, entry)  # changed in the batch: its stored row no longer answers
        assert [c.id for c in store.open_cases_of_matter("X", hour_ago, near=here)] == ["C2"]
        c6 = store.get_case("C6")
        assert c6 is not None
        accepted, entry = transition(c6, "accept", "W1", now=NOW)
        assert store.save_transition(accepted, entry)
        found = store.open_cases_of_matter("X", hour_ago, near=there)
        assert [(c.id, c.version) for c in found] == [("C6", accepted.version)]  # the batch's version
    assert {c.id for c in store.open_cases_of_matter("X", hour_ago, near=here)} == {"C2"}


def test_a_taken_case_id_fails_the_batch_it_is_not_caught_in(store: Store) -> None:
    store.insert_case(make_case(1))
    with pytest.raises(Exception), store.batch():  # noqa: B017, PT011 - each backend's own integrity error
        store.insert_case(make_case(2))
        store.insert_case(make_case(1))  # SQLite refuses it here, PostgreSQL at the batch's end
    assert store.get_case("C2") is None
    assert store.list_cases(CaseQuery())[1] == 1


def test_batch_rolls_back_as_a_whole(store: Store) -> None:
    case = make_case()
    store.insert_case(case)
    accepted, entry = transition(case, "accept", "W1", now=NOW)
    with pytest.raises(RuntimeError), store.batch():  # type: ignore[attr-defined]
        assert store.save_transition(accepted, entry)
        store.insert_case(make_case(2))
        raise RuntimeError("crash before the commit")
    loaded = store.get_case("C1")
    assert loaded is not None and loaded.version == 0 and loaded.timeline == ()  # not the rolled-back one
    assert store.get_case("C2") is None
    assert store.save_transition(accepted, entry)  # and the same step can be taken again


def test_migrate_is_idempotent(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from command_center.cli import main

    url = request.getfixturevalue("pg_fresh") if store_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'm.db'}"
    labels = migration_labels()  # one history for every dialect
    assert labels[:5] == ["0001_initial", "0002_case_location", "0003_user_sessions", "0004_publish_keys", "0005_audit_chain"]
    config = tmp_path / "cc.yaml"
    config.write_text(f"store: {url}\n")
    assert main(["migrate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("applied")] == [f"applied {x}" for x in labels]
    assert migrate_url(url) == ([], len(labels))
    assert main(["migrate", "--store", url]) == 0
    assert f"schema at version {len(labels)} (nothing to do)" in capsys.readouterr().out
    opened = create_store(url)  # and a store opening it has nothing left to do
    assert opened.migrations == []  # type: ignore[attr-defined]
    opened.close()


def test_dispatcher_fifty_workers_race(store: Store, small_city: City) -> None:
    """The dispatcher's own read-transition-write, not only the store's compare-and-set."""
    from dispatch.catalog import load_catalog
    from dispatch.city import GridIndex
    from dispatch.dispatcher import ConcurrentUpdate, Dispatcher
    from dispatch.intake import Intake
    from tests.helpers import ROOT

    dispatcher = Dispatcher(small_city, GridIndex(small_city), load_catalog(ROOT / "configs" / "matters.yaml"), store)
    grid = small_city.grids[60]
    case = dispatcher.intake(Intake("worker", grid.lon, grid.lat, NOW, "I1", matter_code="0101")).case
    barrier, results = threading.Barrier(50), [None] * 50

    def accept(i: int) -> None:
        barrier.wait()
        try:
            results[i] = dispatcher.act(case.id, "accept", f"W{i}")  # type: ignore[call-overload]
        except Exception as exc:  # noqa: BLE001 - what each loser got is checked below
            results[i] = exc  # type: ignore[call-overload]

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if isinstance(r, Case)]
    losers = [r for r in results if isinstance(r, InvalidTransition | ConcurrentUpdate)]
    assert len(winners) == 1 and len(losers) == 49, results
    stored = store.get_case(case.id)
    assert stored is not None and [e.action for e in stored.timeline].count("accept") == 1


def test_sqlite_made_before_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database from before cases had location columns, and before schema_migrations."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(LEGACY_SCHEMA[0].read_text())  # 0001 is that old schema...
    db.execute("DROP TABLE audit")  # ... less a table that came later still
    doc = make_case().to_dict(timeline=False)
    db.execute(
        "INSERT INTO cases VALUES (?, 'dispatched', 1, 'X', '440106001001001', 'W1', ?, ?, 0, ?)",
        ("C1", NOW.isoformat(), (NOW + timedelta(hours=5)).isoformat(), json.dumps(doc)),
    )
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.migrations == migration_labels()
    assert store.list_audit() == ([], 0)
    assert [c.id for c in store.open_cases_of_matter("X", NOW, near=(113.3, 23.1, 100))] == ["C1"]
    store.close()
    # A database made by the version just before migrations: 0001 and 0002's tables and
    # columns, no schema_migrations. Those two are recorded, not run; later ones run.
    path = tmp_path / "premigrations.db"
    db = sqlite3.connect(path)
    for schema in LEGACY_SCHEMA:
        db.executescript(schema.read_text())
    db.commit()
    db.close()
    again = SQLiteStore(path)
    assert again.migrations == migration_labels()[2:]
    again.close()


def test_runtime_on_postgresql_end_to_end(pg_db: str, tmp_path: Path, small_city: City) -> None:
    from command_center.config import parse_config

    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": pg_db.replace("postgresql:", "postgres:")})
    rt = build_runtime(config, city=small_city)
    grid = small_city.grids[40]
    try:
        with serve_app(rt) as srv, httpx.Client(base_url=srv.url, timeout=30, headers=srv.headers()) as http:
            created = http.post("/api/cases", json={"matter_code": "0101", "lon": grid.lon, "lat": grid.lat})
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            assert http.get(f"/api/cases/{case_id}").json()["state"] == "dispatched"
            assert case_id in [c["id"] for c in http.get("/api/cases").json()["items"]]
        rows = _admin_in(pg_db, f"SELECT state FROM cases WHERE id = '{case_id}'")
        assert rows == [("dispatched",)]  # in PostgreSQL, not anywhere else
    finally:
        _admin_in(pg_db, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


def test_a_young_case_table_gets_fresh_statistics_as_it_grows(pg_fresh: str) -> None:
    """The store analyzes the case tables when they have doubled (at least MIN_GROWTH rows)."""
    from command_center.store.postgres.stats import MIN_GROWTH

    store = create_store(pg_fresh)
    try:
        with store.batch():  # type: ignore[attr-defined]
            for i in range(MIN_GROWTH - 1):
                store.insert_case(make_case(i))
        assert store.stats.analyzed == 0  # type: ignore[attr-defined]
        store.insert_case(make_case(MIN_GROWTH))  # outside a batch: counted as well
        assert store.stats.analyzed == 1  # type: ignore[attr-defined]
        analyzed = _admin_in(pg_fresh, "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        assert {"cases", "case_timeline"} <= {name for (name,) in analyzed}
        planned = _admin_in(pg_fresh, "SELECT reltuples FROM pg_class WHERE relname = 'cases'")[0][0]
        assert planned == MIN_GROWTH
        with store.batch():  # type: ignore[attr-defined]
            for i in range(MIN_GROWTH + 1, 2 * MIN_GROWTH):
                store.insert_case(make_case(i))
        assert store.stats.analyzed == 1  # type: ignore[attr-defined]  # not yet doubled
    finally:
        store.close()

"""The special-group ledger (issue 19): the domain rules (basedata/care.py), the store on
both databases (store/care_records.py: versioned memberships, a visit and its new due date
in one transaction, scoped lists and per-grid counts, escalation once per level), the
overdue sweep with a frozen clock (care_overdue.py: `care.overdue` on the bus), and the API
against a real server (api/care.py: who sees what, visits, audit of reads)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError

from basedata.care import CarePolicy, Membership, Visit, escalation_level, new_membership, next_due, overdue
from basedata.model import Person, Sealed
from command_center.bus.memory import MemoryBus
from command_center.care_overdue import OVERDUE, TOPIC, CareOverdue
from command_center.config import parse_config
from command_center.events import Event
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.basedata_records import base_data_store
from command_center.store.care_records import (
    CareRecords,
    CareScope,
    MembershipExists,
    VersionConflict,
    care_store,
)
from command_center.store.schema import metadata
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

POLICY = CarePolicy()  # worker at once, the officer after 3 days overdue, the street after 7
G1, G2, G_FAR = "440106001001001", "440106001001002", "440107001001001"
DAY0 = date(2026, 3, 2)


def _member(n: int, grid: str = G1, paired: str | None = "W1", since: date = DAY0, group: Any = "elderly_alone") -> Membership:
    return new_membership(f"C{n}", f"P{n}", group, grid, since, POLICY, paired_with=paired, plan="每周上门")


def _visit(m: Membership, on: date, outcome: Any = "ok", n: int = 1) -> Visit:
    at = datetime(on.year, on.month, on.day, 10, tzinfo=UTC)
    return Visit(id=f"V{m.id}-{n}", membership_id=m.id, person_id=m.person_id, worker_id="W1", at=at,
                 lon=113.32, lat=23.13, note="身体尚可", photos=["P0123456789ab"], outcome=outcome)  # fmt: skip


# the domain
def test_a_seven_day_cycle_is_due_a_week_on_and_escalates_by_the_days_overdue() -> None:
    m = _member(1)
    assert (m.visit_every_days, m.next_visit_due) == (7, DAY0 + timedelta(days=7))
    assert _member(2, group="dibao").visit_every_days == 30 and _member(3, group="mental_illness").visit_every_days == 14
    assert [overdue(m, DAY0 + timedelta(days=d)) for d in (7, 8, 15)] == [0, 1, 8]
    assert [escalation_level(d, POLICY) for d in (0, 1, 3, 4, 7, 8)] == [0, 1, 1, 2, 2, 3]
    assert overdue(m.model_copy(update={"active": False}), DAY0 + timedelta(days=30)) == 0
    # a late entry for an earlier day never moves the due date back
    seen = m.model_copy(update={"last_visit_at": DAY0 + timedelta(days=6)})
    assert next_due(seen, DAY0 + timedelta(days=2)) == DAY0 + timedelta(days=13)
    with pytest.raises(ValidationError):
        CarePolicy(officer_after_days=5, street_after_days=5)
    with pytest.raises(ValidationError, match="photos"):
        Visit(id="V1", membership_id="C1", person_id="P1", worker_id="W1", at=datetime.now(UTC), photos=["../x"])
    with pytest.raises(ValidationError, match="visit_every_days"):
        new_membership("C9", "P9", "dibao", G1, DAY0, POLICY, visit_every_days=0)


# the store, on SQLite and PostgreSQL
@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def test_the_migration_makes_the_tables_the_schema_defines(store: Store, empty_store_url: str) -> None:
    url = empty_store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata) if "care_" in repr(d)]
    finally:
        engine.dispose()
    assert diffs == []


def test_memberships_are_versioned_and_one_per_person_and_group(store: Store) -> None:
    records = care_store(store)
    m = records.add(_member(1), by="officer")
    assert records.get("C1") == m
    with pytest.raises(MembershipExists):
        records.add(_member(1).model_copy(update={"id": "C1b"}), by="officer")  # same person, same group
    records.add(_member(1, group="disabled").model_copy(update={"id": "C1c"}), by="officer")  # another group
    changed = records.update("C1", {"plan": "每日电话", "visit_every_days": 14}, 1, by="officer")
    assert (changed.version, changed.plan) == (2, "每日电话")
    with pytest.raises(VersionConflict) as stale:
        records.update("C1", {"plan": "x"}, 1, by="officer")
    assert stale.value.current == changed and records.get("C1") == changed
    with pytest.raises(ValidationError):
        records.update("C1", {"visit_every_days": 0}, 2, by="officer")
    assert records.get("C1") == changed


def test_a_visit_and_its_new_due_date_are_stored_together(store: Store) -> None:
    records = care_store(store)
    m = records.add(_member(1), by="officer")
    missed = records.record_visit(_visit(m, DAY0 + timedelta(days=9), outcome="not_home"))
    assert missed == m  # the door not opened: kept, but the visit is still owed
    after = records.record_visit(_visit(m, DAY0 + timedelta(days=9), n=2))
    assert after.last_visit_at == DAY0 + timedelta(days=9) and after.next_visit_due == DAY0 + timedelta(days=16)
    assert records.get("C1") == after and after.version == 2
    kept = records.visits("C1")
    # the latest first; these two at the same time, by id
    assert [(v.id, v.outcome, v.photos) for v in kept] == [("VC1-1", "not_home", ["P0123456789ab"]),
                                                          ("VC1-2", "ok", ["P0123456789ab"])]  # fmt: skip
    # a visit whose row cannot be written (its id taken) moves no date either
    with pytest.raises(Exception):  # noqa: B017  (the driver's integrity error, either database)
        records.record_visit(_visit(after, DAY0 + timedelta(days=12), n=2))
    assert records.get("C1") == after


def test_lists_follow_the_scope_the_pairing_and_the_due_date_and_counts_come_from_sql(store: Store) -> None:
    records = care_store(store)
    for m in (_member(1), _member(2, grid=G2, paired="W2"), _member(3, grid=G_FAR, paired="W1"),
              _member(4, grid=G2, paired=None, since=DAY0 + timedelta(days=5))):  # fmt: skip
        records.add(m, by="officer")
    today = DAY0 + timedelta(days=8)

    def ids(scope: CareScope, **kw: Any) -> list[str]:
        items, total = records.list(scope, **kw)
        assert total == len(items)
        return [m.id for m in items]

    assert ids(CareScope(("440106",))) == ["C1", "C2", "C4"]
    assert ids(CareScope((G2,), paired="W1")) == ["C1", "C2", "C4", "C3"]  # a worker's grid, and their pairs anywhere
    assert ids(CareScope(("440106",)), worker="W1") == ["C1"]
    assert ids(CareScope(("",)), due_by=today) == ["C1", "C2", "C3"]  # C4 is due on day 12
    assert ids(CareScope(()), due_by=today) == []
    counts = records.counts_by_grid("440106", today)
    assert counts == [{"grid_code": G1, "members": 1, "due": 1, "overdue": 1},
                      {"grid_code": G2, "members": 2, "due": 1, "overdue": 1}]  # fmt: skip


def _sweep(records: CareRecords, days: list[int], visit_on: int | None = None) -> list[list[dict[str, Any]]]:
    """Sweeps on DAY0 + each of `days` (a frozen clock) over an in-process bus; what each announced."""
    clock = {"today": DAY0}

    async def run() -> list[list[dict[str, Any]]]:
        bus = MemoryBus()
        heard = bus.subscribe([TOPIC], "test")
        sweep = CareOverdue(records, bus, lambda: POLICY, today=lambda: clock["today"])
        announced = []
        for day in days:
            if visit_on is not None and day == visit_on:
                current = records.get("C1")
                assert current is not None
                records.record_visit(_visit(current, DAY0 + timedelta(days=day), n=day))
            clock["today"] = DAY0 + timedelta(days=day)
            events = await sweep.sweep_once()
            got = [heard._queue.get_nowait() for _ in range(heard.backlog)]
            assert got == events and all(isinstance(e, Event) and e.type == OVERDUE for e in got)
            announced.append([e.data for e in events])
        return announced

    return asyncio.run(run())


def test_a_missed_visit_becomes_overdue_and_escalates_once_per_level(store: Store) -> None:
    records = care_store(store)
    records.add(_member(1), by="officer")  # weekly: due on day 7
    announced = _sweep(records, [7, 8, 8, 10, 11, 14, 15, 30])  # 1, 3, 4, 7, 8 days overdue
    levels = [[(e["membership_id"], e["level"]) for e in day] for day in announced]
    assert levels == [[], [("C1", 1)], [], [], [("C1", 2)], [], [("C1", 3)], []]
    first = announced[1][0]
    assert first == {"membership_id": "C1", "person_id": "P1", "grid_code": G1, "paired_with": "W1",
                     "next_visit_due": "2026-03-09", "days_overdue": 1, "level": 1, "target": "worker"}  # fmt: skip
    assert "group" not in first  # the group is sensitive: never on the bus


def test_a_visit_stops_the_escalation_and_the_next_cycle_starts_over(store: Store) -> None:
    records = care_store(store)
    records.add(_member(1), by="officer")
    announced = _sweep(records, [8, 9, 12, 16, 17], visit_on=9)  # visited on day 9: due day 16
    assert [[e["level"] for e in day] for day in announced] == [[1], [], [], [], [1]]
    assert announced[4][0]["next_visit_due"] == "2026-03-18"


def test_a_level_skipped_while_no_sweep_ran_is_announced_at_the_level_reached(store: Store) -> None:
    records = care_store(store)
    records.add(_member(1), by="officer")
    records.add(_member(2, paired="W2").model_copy(update={"active": False}), by="officer")  # ended: never raised
    assert [[(e["membership_id"], e["level"]) for e in day] for day in _sweep(records, [20, 21])] == [[("C1", 3)], []]


# the API, on SQLite
OFFICER = {"role": "officer", "user": "officer-440103", "jurisdiction": "440103"}
DISTRICT = {"role": "officer", "user": "officer-440104", "jurisdiction": "440104"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    mine: str  # the paired worker's grid (440103)
    worker: str  # paired
    stranger: str  # a worker of another grid, not paired
    person: str

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def send(self, method: str, path: str, body: Any, **who: str | None) -> httpx.Response:
        return httpx.request(method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10)


def _person(n: int, grid: str) -> Person:
    sealed = Sealed(cipher=f"v1:c{n}", index=f"{n:064x}", tail=f"{n:04d}")
    return Person(id=f"P{n}", grid_code=grid, household_id=f"H{n}", name="李四", id_number=sealed,
                  sex="F", birth_date=date(1940, 1, 2))  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("care")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = next(w for w in small_city.workers if w.grid_code.startswith("440103"))
    stranger = next(w for w in small_city.workers if w.grid_code != worker.grid_code and w.id != worker.id)
    base_data_store(rt.store).upsert("person", [_person(1, worker.grid_code), _person(2, worker.grid_code)], by="t")
    with serve_app(rt) as srv:
        yield World(srv, rt, worker.grid_code, worker.id, stranger.id, "P1")


def _worker(world: World, worker: str | None = None) -> dict[str, str]:
    return {"role": "worker", "worker_id": worker or world.worker, "user": f"u-{worker or world.worker}"}


@pytest.fixture(scope="module")
def membership(world: World) -> dict[str, Any]:
    since = (world.rt.dispatcher.today() - timedelta(days=8)).isoformat()
    body = {"person_id": world.person, "group": "elderly_alone", "since": since, "plan": "每周上门",
            "paired_with": world.worker}  # fmt: skip
    made = world.send("POST", "/api/care/memberships", body, **OFFICER)
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_an_officer_adds_a_membership_and_it_is_overdue(world: World, membership: dict[str, Any]) -> None:
    assert membership["visit_every_days"] == 7 and membership["days_overdue"] == 1 and membership["due"]
    assert membership["grid_code"] == world.mine and membership["group_name"] == "独居老人"
    again = world.send("POST", "/api/care/memberships", {"person_id": world.person, "group": "elderly_alone"}, **OFFICER)
    assert again.status_code == 409 and again.json()["detail"]["id"] == membership["id"]
    far = world.send("POST", "/api/care/memberships", {"person_id": "P2", "group": "dibao"}, **DISTRICT)
    assert far.status_code == 422 and far.json()["detail"]["field"] == "person_id"
    by_worker = world.send("POST", "/api/care/memberships", {"person_id": "P2", "group": "dibao"}, **_worker(world))
    assert by_worker.status_code == 403
    bad = world.send("POST", "/api/care/memberships", {"person_id": "P2", "group": "rich"}, **OFFICER)
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "group"
    overdue_now = world.get("/api/care/overdue", **OFFICER).json()
    assert [(i["id"], i["level"]) for i in overdue_now["items"]] == [(membership["id"], 1)]
    assert overdue_now["grids"] == [{"grid_code": world.mine, "members": 1, "due": 1, "overdue": 1}]


def test_an_officer_of_another_district_sees_nothing(world: World, membership: dict[str, Any]) -> None:
    listed = world.get("/api/care/memberships", **DISTRICT).json()
    assert listed["items"] == [] and listed["total"] == 0
    assert world.get(f"/api/care/memberships/{membership['id']}", **DISTRICT).status_code == 404
    assert world.get("/api/care/overdue", **DISTRICT).json()["items"] == []
    assert world.get("/api/care/memberships?area=440103", **DISTRICT).status_code == 403
    patch = world.send("PATCH", f"/api/care/memberships/{membership['id']}", {"version": 1, "plan": "x"}, **DISTRICT)
    assert patch.status_code == 404


def test_a_worker_neither_paired_nor_of_the_grid_is_refused(world: World, membership: dict[str, Any]) -> None:
    stranger = _worker(world, world.stranger)
    assert world.get(f"/api/care/memberships/{membership['id']}", **stranger).status_code == 404
    assert world.get("/api/care/memberships", **stranger).json()["items"] == []
    visit = world.send("POST", f"/api/care/memberships/{membership['id']}/visits", {"note": "x"}, **stranger)
    assert visit.status_code == 404
    assert world.get(f"/api/care/memberships?worker={world.worker}", **stranger).status_code == 403
    assert world.get("/api/care/memberships", role="emergency").status_code == 403


def test_reads_are_audited_once_per_user_in_ten_minutes(world: World, membership: dict[str, Any]) -> None:
    user = {"role": "officer", "user": "reader-1", "jurisdiction": "440103"}
    for _ in range(3):
        assert world.get("/api/care/memberships", **user).json()["total"] == 1
    rows = [r for r in world.rt.store.iter_audit() if r["actor"] == "reader-1"]
    assert [(r["action"], r["detail"]) for r in rows] == [("care.read", "1 memberships")]


def test_the_paired_worker_records_a_visit_and_the_overdue_stops(world: World, membership: dict[str, Any]) -> None:
    path = f"/api/care/memberships/{membership['id']}"
    mine = world.get(f"/api/care/memberships?due=1&worker={world.worker}", **_worker(world)).json()
    assert [i["id"] for i in mine["items"]] == [membership["id"]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert world.send("POST", f"{path}/visits", {"at": future}, **_worker(world)).json()["detail"]["field"] == "at"
    bad = world.send("POST", f"{path}/visits", {"photos": ["nope"]}, **_worker(world))
    assert bad.status_code == 422 and bad.json()["detail"]["field"].startswith("photos")
    # a visit's photos are the worker's own uploads (api/field_photos.py; refusals: tests/test_field_photos.py)
    png = cv2.imencode(".png", np.full((20, 30, 3), 90, np.uint8))[1].tobytes()
    photo = httpx.post(f"{world.srv.url}/api/field-photos", params={"grid": world.mine}, content=png, timeout=10,
                       headers=world.srv.headers(**_worker(world)) | {"Content-Type": "image/png"}).json()["id"]  # fmt: skip
    done = world.send("POST", f"{path}/visits", {"note": "已送米油", "outcome": "ok", "lon": 113.3, "lat": 23.1,
                                                  "photos": [photo]}, **_worker(world))  # fmt: skip
    assert done.status_code == 201, done.text
    after = done.json()["membership"]
    assert after["next_visit_due"] == (world.rt.dispatcher.today() + timedelta(days=7)).isoformat() and after["days_overdue"] == 0
    assert after["last_visit_at"] == world.rt.dispatcher.today().isoformat()
    shown = world.get(path, **_worker(world)).json()
    assert [v["note"] for v in shown["visits"]] == ["已送米油"] and shown["version"] == after["version"]
    assert world.get("/api/care/overdue", **OFFICER).json()["items"] == []
    # the sweep, its clock frozen at tomorrow, finds nothing to raise
    quiet = CareOverdue(care_store(world.rt.store), MemoryBus(), lambda: POLICY, today=lambda: world.rt.dispatcher.today() + timedelta(days=1))
    assert asyncio.run(quiet.sweep_once()) == []
    stale = world.send("PATCH", path, {"version": 1, "plan": "每日电话"}, **OFFICER)
    assert stale.status_code == 409 and stale.json()["detail"]["current"]["version"] == after["version"]
    changed = world.send("PATCH", path, {"version": after["version"], "visit_every_days": 14}, **OFFICER)
    assert changed.status_code == 200 and changed.json()["next_visit_due"] == (world.rt.dispatcher.today() + timedelta(days=14)).isoformat()
    actions = {r["action"] for r in world.rt.store.iter_audit()}
    assert {"care.create", "care.visit", "care.update"} <= actions

"""Verification tasks by cycle (基础数据定期核实, issue 19): the rules (basedata/verify_tasks.py),
the store on both databases with a frozen clock (store/verify_task_records.py: one task per
record opened `lead_days` before its next check, never twice, assigned to the grid's
worker, closed on time or late, counted by the database), and the API against a real
server (api/verify_tasks.py: who sees which tasks, a PATCH with "verified": true closing
the task and moving the next check, the KPIs in /api/kpi, the announcement to the worker)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError

from basedata.cycles import CheckCycles, next_check
from basedata.model import Address, Building, Household, Organisation, RecordKind
from basedata.verify_tasks import VerifyTaskPolicy, assignees, deadline, horizon, on_time, opens_on, state
from command_center.config import parse_config
from command_center.hub import Hub
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.basedata_records import base_data_store
from command_center.store.schema import metadata
from command_center.store.verify_task_records import VerifyTaskRecords, verify_task_store
from command_center.store.verify_task_views import KpiQuery, TaskQuery
from command_center.verify_tasks_job import OPENED, Sweep, VerifyTasksJob, for_runtime
from dispatch.city import City
from dispatch.city.model import Worker
from tests.helpers import ServerThread, build_runtime, serve_app

POLICY = VerifyTaskPolicy()  # a week's lead; addresses, buildings, households, organisations
CYCLES = CheckCycles()  # rental housing every 30 days, the rest every 90
G1, G2 = "440106001001001", "440106001001002"
D = date(2026, 3, 2)  # the day the records were last verified


def _worker(wid: str, grid: str, kind: Any = "full_time", shift: Any = "day") -> Worker:
    return Worker(id=wid, name=f"网格员{wid}", grid_code=grid, kind=kind, shift=shift, phone="13800000000")


# 一格多员: G1's full-time day worker W1 keeps its records, not the part-timer W0 nor nights' W9
ROSTER = [_worker("W0", G1, kind="part_time"), _worker("W9", G1, shift="night"), _worker("W1", G1),
          _worker("W2", G2)]  # fmt: skip


# the rules
def test_a_task_opens_lead_days_before_the_next_check_and_is_due_on_it() -> None:
    due = next_check("household", D, rental=True, cycles=CYCLES)
    assert due == D + timedelta(days=30) and opens_on(due, POLICY) == D + timedelta(days=23)
    assert horizon(D + timedelta(days=23), POLICY) == due and horizon(D + timedelta(days=22), POLICY) < due
    assert deadline(due, D, POLICY) == due
    assert deadline(None, D, POLICY) == D + timedelta(days=7)  # never checked: the lead time from today
    assert on_time(due, due) and not on_time(due + timedelta(days=1), due)
    assert [state(due, False, due), state(due, False, due + timedelta(days=1)), state(due, True, due + timedelta(days=9))] \
        == ["open", "overdue", "done"]  # fmt: skip
    assert assignees(ROSTER) == {G1: "W1", G2: "W2"}
    assert assignees([_worker("W0", G1, kind="part_time")]) == {G1: "W0"}  # a part-timer alone holds the grid
    assert "person" not in POLICY.kinds  # people are checked with their household
    with pytest.raises(ValidationError):
        VerifyTaskPolicy(kinds=["household", "household"])
    with pytest.raises(ValidationError):
        VerifyTaskPolicy(lead_days=-1)
    assert parse_config({}).basedata.verify_tasks == POLICY


# the store, on SQLite and PostgreSQL
@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def test_the_migration_makes_the_table_the_schema_defines(store: Store, empty_store_url: str) -> None:
    url = empty_store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata) if "verify_tasks" in repr(d)]
    finally:
        engine.dispose()
    assert diffs == []


def _seed(store: Store) -> None:
    """G1: a standard address, a rental building with a rental and an owned household, a shop;
    G2: a rental household. All verified on D, so each is due again by its cycle."""
    records = base_data_store(store)

    def checked(kind: RecordKind, rental: bool) -> dict[str, Any]:
        return {
            "source": "import",
            "verified_at": D,
            "next_check_at": next_check(kind, D, rental=rental, cycles=CYCLES),
        }

    records.upsert("address", [Address(code="A1", grid_code=G1, text="天河路1号", lon=113.3, lat=23.1,
                                       **checked("address", False))], by="t")  # fmt: skip
    records.upsert("building", [Building(code="B1", grid_code=G1, address_code="A1", name="1号楼", floors=6,
                                         use="residential", rental=True, lon=113.3, lat=23.1,
                                         **checked("building", True))], by="t")  # fmt: skip
    records.upsert("household", [
        Household(id="B1-101", grid_code=G1, building_code="B1", room="101", kind="rental", **checked("household", True)),
        Household(id="B1-102", grid_code=G1, building_code="B1", room="102", kind="owner", **checked("household", False)),
        Household(id="B1-201", grid_code=G2, building_code="B1", room="201", kind="rental", **checked("household", True)),
    ], by="t")  # fmt: skip
    records.upsert("organisation", [Organisation(id="O1", grid_code=G1, name="好又多商店", kind="shop",
                                                 address_code="A1", **checked("organisation", False))], by="t")  # fmt: skip


def _sweeps(
    tasks: VerifyTaskRecords, days: list[int], roster: list[Worker] = ROSTER
) -> tuple[list[Any], Hub]:
    """Sweeps on D + each of `days` (a frozen clock) announcing to a hub; what each did."""
    clock = {"today": D}
    hub = Hub()
    job = VerifyTasksJob(tasks, lambda: POLICY, lambda: roster, hub, today=lambda: clock["today"])

    async def run() -> list[Any]:
        done = []
        for day in days:
            clock["today"] = D + timedelta(days=day)
            done.append(await job.sweep_once())
        return done

    return asyncio.run(run()), hub


def _open(
    tasks: VerifyTaskRecords, on: date, worker: str | None = None, prefix: str = ""
) -> list[tuple[str, str, Any]]:
    rows, total = tasks.list(TaskQuery((prefix,), "open", worker), on)
    assert total == len(rows)
    return [(r["record_key"], r["due_on"], r["worker_id"]) for r in rows]


def test_a_rental_household_gets_its_task_a_week_before_its_monthly_check_and_only_once(store: Store) -> None:
    _seed(store)
    tasks = verify_task_store(store)
    swept, hub = _sweeps(tasks, [22, 23, 23, 24])
    assert [s.total for s in swept] == [0, 3, 0, 0]  # opened on D+30−7, not before, then never again
    assert swept[1].opened == {"address": 0, "building": 1, "household": 2, "organisation": 0}
    due = (D + timedelta(days=30)).isoformat()
    # G1's full-time day worker gets the rental building and household; G2's household is W2's
    assert _open(tasks, D + timedelta(days=24)) == [
        ("B1", due, "W1"),
        ("B1-101", due, "W1"),
        ("B1-201", due, "W2"),
    ]
    assert _open(tasks, D + timedelta(days=24), worker="W1") == [("B1", due, "W1"), ("B1-101", due, "W1")]
    assert _open(tasks, D + timedelta(days=24), prefix="440107") == []
    # one announcement per worker, on their own channel: a count, no names or addresses
    assert swept[1].by_worker == [("W1", 2), ("W2", 1)]
    said = [json.loads(m) for _, m, _ in hub.channel("tasks:W1").history]
    assert [(m["type"], m["data"]["opened"]) for m in said] == [(OPENED, 2)]
    # each task names its record in words, with the version a re-check must name
    rows, _ = tasks.list(TaskQuery((G1,), "open", "W1"), D + timedelta(days=24))
    labelled = {r["record_key"]: (r["name"], r["room"], r["address"], r["version"]) for r in rows}
    assert labelled == {"B1": ("1号楼", None, "天河路1号", 1), "B1-101": ("1号楼", "101", "天河路1号", 1)}
    # the quarterly ones come in their turn: D+90−7
    later, _ = _sweeps(tasks, [82, 83])
    assert [s.opened for s in later] == [
        {"address": 0, "building": 0, "household": 0, "organisation": 0},
        {"address": 1, "building": 0, "household": 1, "organisation": 1},
    ]


def test_closing_on_time_or_late_is_counted_by_worker_and_area(store: Store) -> None:
    _seed(store)
    tasks = verify_task_store(store)
    _sweeps(tasks, [23])
    due = D + timedelta(days=30)
    on = tasks.close("household", "B1-101", due, "W1")  # on the deadline: on time
    late = tasks.close("building", "B1", due + timedelta(days=2), "W1")
    assert on is not None and on.on_time and late is not None and not late.on_time
    assert tasks.close("building", "B1", due + timedelta(days=3), "W1") is None  # closed already
    done, total = tasks.list(TaskQuery(("",), "done"), due + timedelta(days=3))
    assert total == 2 and [(r["record_key"], r["closed_by"], bool(r["on_time"])) for r in done] == \
        [("B1", "W1", False), ("B1-101", "W1", True)]  # the latest closed first  # fmt: skip
    overdue, _ = tasks.list(TaskQuery(("",), "overdue"), due + timedelta(days=3))
    assert [r["record_key"] for r in overdue] == ["B1-201"]
    month = KpiQuery("worker", "", D, D + timedelta(days=60), due + timedelta(days=3))
    assert tasks.kpis(month) == [
        {"key": "W1", "due": 2, "done": 2, "on_time": 1, "overdue": 0},
        {"key": "W2", "due": 1, "done": 0, "on_time": 0, "overdue": 1},
    ]
    street = KpiQuery("street", "440106", D, D + timedelta(days=60), due + timedelta(days=3))
    assert tasks.kpis(street) == [{"key": "440106001", "due": 3, "done": 2, "on_time": 1, "overdue": 1}]
    # an open task still in time is not counted against anyone yet; another area counts nothing
    assert tasks.kpis(KpiQuery("worker", "", D, D + timedelta(days=60), due)) == [
        {"key": "W1", "due": 2, "done": 2, "on_time": 1, "overdue": 0}
    ]
    assert tasks.kpis(KpiQuery("district", "440107", D, D + timedelta(days=60), due)) == []
    # a range that ends before the deadline holds none of them
    assert tasks.kpis(KpiQuery("worker", "", D, due, due + timedelta(days=3))) == []


def test_open_tasks_follow_the_roster_and_a_recheck_made_elsewhere_closes_them(store: Store) -> None:
    _seed(store)
    tasks = verify_task_store(store)
    _sweeps(tasks, [23])
    moved, _ = _sweeps(tasks, [24], roster=[_worker("W5", G1), _worker("W2", G2)])  # W1 left the grid
    assert moved[0].reassigned == 2 and moved[0].total == 0
    assert [w for _, _, w in _open(tasks, D + timedelta(days=24))] == ["W5", "W5", "W2"]
    # B1-101 re-imported with a new check date (verified on D+25); B1-201 removed from the store;
    records = base_data_store(store)
    again = records.get("household", "B1-101")
    assert again is not None
    checked = D + timedelta(days=25)
    records.upsert("household", [again.model_copy(update={"verified_at": checked,
                                                          "next_check_at": checked + timedelta(days=30)})],
                   by="import:households.csv")  # fmt: skip
    # B1 re-imported under a longer cycle but its old check date: no re-check, its task stays
    building = records.get("building", "B1")
    assert building is not None
    records.upsert(
        "building", [building.model_copy(update={"next_check_at": D + timedelta(days=45)})], by="import"
    )
    with store._writing() as db:  # type: ignore[attr-defined]
        db.execute("DELETE FROM households WHERE id = 'B1-201'")
    settled, _ = _sweeps(tasks, [26], roster=[_worker("W5", G1), _worker("W2", G2)])
    assert (settled[0].settled, settled[0].dropped, settled[0].total) == (1, 1, 0)
    done, _ = tasks.list(TaskQuery(("",), "done"), D + timedelta(days=26))
    assert [(r["record_key"], r["closed_on"], r["closed_by"], bool(r["on_time"])) for r in done] == [
        ("B1-101", checked.isoformat(), "import:households.csv", True)
    ]
    assert [k for k, _, _ in _open(tasks, D + timedelta(days=26))] == ["B1"]


# the API, on SQLite, against a real server (today's real date: the store tests froze the clock)
OFFICER = {"role": "officer", "user": "officer-440103", "jurisdiction": "440103"}
DISTRICT = {"role": "officer", "user": "officer-440104", "jurisdiction": "440104"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    grid: str  # the worker's grid (440103…)
    worker: str  # the grid's worker (basedata.verify_tasks.assignees)
    other: str  # a worker of another grid

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def send(self, method: str, path: str, body: Any, **who: str | None) -> httpx.Response:
        return httpx.request(
            method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10
        )

    def me(self, worker: str | None = None) -> dict[str, str]:
        wid = worker or self.worker
        return {"role": "worker", "worker_id": wid, "user": f"u-{wid}"}


def _api_records(grid: str, today: date) -> list[tuple[str, Any]]:
    """In the worker's grid: a rental building with two rental households, one re-checked 25
    days ago (due in 5 days: its task opens now), one 40 days ago (10 days overdue); `today`
    the city's, by which the sweep and the routes count."""

    def on(days_ago: int) -> dict[str, Any]:
        checked = today - timedelta(days=days_ago)
        return {"source": "import", "verified_at": checked, "next_check_at": checked + timedelta(days=30)}

    return [
        ("address", Address(code="VA1", grid_code=grid, text="体育西路9号", lon=113.3, lat=23.1, **on(1))),
        ("building", Building(code="VB1", grid_code=grid, address_code="VA1", name="5号楼", floors=7,
                              use="residential", rental=True, lon=113.3, lat=23.1, **on(1))),
        ("household", Household(id="VB1-301", grid_code=grid, building_code="VB1", room="301", kind="rental", **on(25))),
        ("household", Household(id="VB1-302", grid_code=grid, building_code="VB1", room="302", kind="rental", **on(40))),
    ]  # fmt: skip


def _wait_for_tasks(world: World, total: int) -> None:
    """The serve node's own sweep runs as the server starts (app.py registers the job)."""
    deadline = time.monotonic() + 20
    while world.get("/api/basedata/tasks", **OFFICER).json()["total"] < total:
        assert time.monotonic() < deadline, "the serve node's sweep opened no tasks"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("verify-tasks")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    chosen = assignees(small_city.workers)
    grid = next(g for g in sorted(chosen) if g.startswith("440103"))
    other = next(w for g, w in sorted(chosen.items()) if w != chosen[grid])
    base_data_store(rt.store).upsert_mixed(_api_records(grid, rt.dispatcher.today()), by="t")
    with serve_app(rt) as srv:
        made = World(srv, rt, grid, chosen[grid], other)
        _wait_for_tasks(made, 2)
        yield made


def _next_type(conn: Any, wanted: str, timeout: float = 5.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, end - time.monotonic())))
        if msg.get("type") == wanted:
            return dict(msg)


@pytest.fixture(scope="module")
def swept(world: World) -> dict[str, Any]:
    """A household that came due since the node's first sweep, and a sweep heard on the
    worker's own channel."""
    checked = world.rt.dispatcher.today() - timedelta(days=24)  # due in 6 days: inside the week's lead
    newly = Household(id="VB1-303", grid_code=world.grid, building_code="VB1", room="303", kind="rental",
                      source="import", verified_at=checked, next_check_at=checked + timedelta(days=30))  # fmt: skip
    base_data_store(world.rt.store).upsert("household", [newly], by="t")
    with world.srv.ws_connect(**world.me()) as phone:
        phone.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{world.worker}"]}))
        _next_type(phone, "subscribed")
        job = for_runtime(world.rt)
        done = world.srv.run(job.sweep_once())
        heard = _next_type(phone, OPENED)
    return {"sweep": done, "heard": heard}


def test_the_sweep_opens_the_worker_tasks_and_tells_them(world: World, swept: dict[str, Any]) -> None:
    assert swept["sweep"].opened["household"] == 1 and swept["sweep"].total == 1
    assert swept["heard"]["channel"] == f"tasks:{world.worker}" and swept["heard"]["data"]["opened"] == 1
    page = world.get("/api/basedata/tasks", **world.me()).json()
    assert page["total"] == 3 and page["state"] == "open"
    first, second, third = page["items"]  # the earliest deadline first
    assert (first["record_id"], first["state"], first["days_overdue"]) == ("VB1-302", "overdue", 10)
    assert (second["record_id"], second["state"], second["days_overdue"]) == ("VB1-301", "open", 0)
    assert third["record_id"] == "VB1-303"
    assert second["label"] == "5号楼 301" and second["address"] == "体育西路9号" and second["version"] == 1
    assert second["worker_id"] == world.worker and second["worker_name"] and second["grid_name"]
    assert second["record_path"] == "/api/basedata/households/VB1-301"
    assert second["due_on"] == (world.rt.dispatcher.today() + timedelta(days=5)).isoformat()
    overdue = world.get("/api/basedata/tasks?state=overdue", **world.me()).json()
    assert [t["record_id"] for t in overdue["items"]] == ["VB1-302"]


def test_who_sees_which_tasks(world: World, swept: dict[str, Any]) -> None:
    assert world.get("/api/basedata/tasks", **world.me(world.other)).json()["items"] == []
    assert world.get(f"/api/basedata/tasks?worker={world.worker}", **world.me(world.other)).status_code == 403
    mine = world.get(f"/api/basedata/tasks?worker={world.worker}", **OFFICER).json()
    assert mine["total"] == 3
    assert world.get(f"/api/basedata/tasks?area={world.grid}", **OFFICER).json()["total"] == 3
    assert (
        world.get("/api/basedata/tasks?limit=1&offset=2", **OFFICER).json()["items"][0]["record_id"]
        == "VB1-303"
    )
    assert world.get("/api/basedata/tasks", **DISTRICT).json()["total"] == 0
    assert world.get("/api/basedata/tasks?area=440103", **DISTRICT).status_code == 403
    assert world.get("/api/basedata/tasks?state=later", **OFFICER).status_code == 400
    assert world.get("/api/basedata/tasks?limit=0", **OFFICER).status_code == 400
    assert world.get("/api/basedata/tasks", role="emergency").status_code == 403
    assert world.send("POST", "/api/basedata/tasks", {"x": 1}, **OFFICER).status_code == 404  # not a kind


def test_a_recheck_closes_the_task_moves_the_next_check_and_counts_in_the_kpis(
    world: World, swept: dict[str, Any]
) -> None:
    tasks = {t["record_id"]: t for t in world.get("/api/basedata/tasks", **world.me()).json()["items"]}
    for key in ("VB1-301", "VB1-302"):
        checked = world.send("PATCH", tasks[key]["record_path"], {"version": tasks[key]["version"], "verified": True},
                             **world.me())  # fmt: skip
        assert checked.status_code == 200, checked.text
        assert checked.json()["next_check_at"] == (world.rt.dispatcher.today() + timedelta(days=30)).isoformat()
        assert checked.json()["verified_at"] == world.rt.dispatcher.today().isoformat()
    assert [t["record_id"] for t in world.get("/api/basedata/tasks", **world.me()).json()["items"]] == [
        "VB1-303"
    ]
    done = world.get("/api/basedata/tasks?state=done", **world.me()).json()["items"]
    assert {(t["record_id"], t["on_time"], t["closed_by"]) for t in done} == {
        ("VB1-301", True, world.worker), ("VB1-302", False, world.worker)}  # fmt: skip
    # the next sweep opens nothing: the next checks are a month away
    again = world.srv.run(for_runtime(world.rt).sweep_once())
    assert isinstance(again, Sweep) and again.total == 0
    # 核查按期率 in /api/kpi, per worker and per district, next to the case KPIs
    by_worker = {r["key"]: r for r in world.get("/api/kpi?group=worker", **OFFICER).json()["items"]}
    mine = by_worker[world.worker]
    assert (mine["verify_due"], mine["verify_done"], mine["verify_on_time"], mine["verify_on_time_rate"]) == (
        2,
        2,
        1,
        0.5,
    )
    assert mine["cases"] == 0 and mine["verify_overdue"] == 0  # VB1-303 is open but not late: not counted
    districts = world.get("/api/kpi?group=district", **OFFICER).json()["items"]
    assert [(r["key"], r["verify_due"], r["verify_on_time_rate"]) for r in districts] == [
        ("440103000000000", 2, 0.5)
    ]
    assert world.get("/api/kpi?group=district", **DISTRICT).json()["items"] == []
    csv_text = world.get("/api/kpi?group=district&format=csv", **OFFICER).text
    assert csv_text.splitlines()[0].endswith("verify_overdue,verify_on_time_rate")
    assert csv_text.splitlines()[1].startswith("440103000000000,") and csv_text.splitlines()[1].endswith(
        ",0.5"
    )
    audited = [r["detail"] for r in world.rt.store.iter_audit() if r["action"] == "basedata.update"]
    assert len([d for d in audited if d.startswith("household") and d.endswith(", verified")]) == 2

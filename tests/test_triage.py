"""Urgency and triage: immediate matters run by the clock, confirm-first incidents wait for the
hall (command_center/triage.py), and a dismissed false alarm recalls its case."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from command_center.casework import CaseWork, describe
from command_center.config import parse_config
from command_center.events import Event
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.triage import HELD_BY_POLICY, HELD_NO_WORKER, NotWaiting, Triage, confirm
from dispatch.cases import CaseState
from dispatch.catalog import load_catalog
from dispatch.city import City, GridIndex
from dispatch.dispatcher import BadParams, Dispatcher
from dispatch.intake import Intake
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from tests.test_api import wait_case
from vision.evidence import snapshot
from vision.incident import Incident

CATALOG = load_catalog(ROOT / "configs" / "matters.yaml")
DAY = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Guangzhou
NIGHT = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)  # Sunday 03:00 in Guangzhou


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Bus:
    """What CaseWork announces, kept for the test to read."""

    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


def parts(store: Store, city: City, now: datetime) -> tuple[Dispatcher, CaseWork, Bus, Clock]:
    clock = Clock(now)
    dispatcher = Dispatcher(city, GridIndex(city), CATALOG, store, clock=clock)
    bus = Bus()
    return dispatcher, CaseWork(store, dispatcher, bus, {}), bus, clock  # type: ignore[arg-type]


def video(grid: Any, ref: str, rule: str, label: str = "person") -> Intake:
    return Intake("video", grid.lon, grid.lat, DAY, ref, rule, label)


# -- the catalogue -------------------------------------------------------------------------


def test_emergencies_have_an_urgency_and_immediate_ones_minutes() -> None:
    emergencies = [m for m in CATALOG.items if m.klass == "突发事件"]
    immediate = {m.code for m in emergencies if m.urgency == "immediate"}
    assert {"0401", "0402", "0403", "0404"} <= immediate  # fire, smoke, person down, crowding
    for matter in emergencies:
        if matter.urgency != "routine":  # by the clock: nights and Sundays count
            assert matter.time_limit.minutes is not None, matter.code
        if matter.urgency == "immediate":
            assert matter.time_limit.minutes <= 15 and matter.emergency_class, matter.code  # type: ignore[operator]
    assert CATALOG.match("fire", None).dispatch == "auto"  # life-safety: never waits for the hall
    assert CATALOG.match("fallen_person", None).dispatch == "auto"
    loitering, intrusion = CATALOG.match("loitering", None), CATALOG.match("zone_intrusion", None)
    assert (loitering.dispatch, loitering.unconfirmed) == ("confirm", "hold")
    assert (intrusion.dispatch, intrusion.unconfirmed) == ("confirm", "dispatch")


# -- deadlines by the clock ----------------------------------------------------------------


def test_an_immediate_case_is_warned_and_escalated_at_three_on_a_sunday(tmp_path: Path, small_city: City) -> None:
    dispatcher, _, _, _ = parts(create_store(f"sqlite:///{tmp_path / 'cc.db'}"), small_city, NIGHT)
    grid = small_city.grids[30]
    fire = dispatcher.intake(Intake("video", grid.lon, grid.lat, NIGHT, "I1", "fire", "fire")).case
    stall = dispatcher.intake(Intake("video", grid.lon, grid.lat, NIGHT, "I2", "stall", "stall")).case
    assert fire.urgency == "immediate" and fire.deadline - fire.created_at == timedelta(minutes=15)
    assert stall.urgency == "routine" and stall.deadline - stall.created_at > timedelta(hours=24)  # Monday's hours

    def sweep(minutes: float) -> list[tuple[str, str]]:
        cases = [dispatcher.get(fire.id), dispatcher.get(stall.id)]
        return [(s.case.id, s.kind) for s in dispatcher.supervise(cases, NIGHT + timedelta(minutes=minutes))]

    assert sweep(5) == []
    assert sweep(12) == [(fire.id, "warning")]  # 80% of 15 minutes
    assert sweep(13) == []  # once
    assert sweep(16) == [(fire.id, "overdue")]
    assert dispatcher.get(fire.id).level == 1 and dispatcher.get(stall.id).level == 0


# -- confirm-first: the wait and its end -----------------------------------------------------


def test_confirm_first_waits_then_the_sweep_sends_or_holds(empty_store_url: str, small_city: City) -> None:
    store = create_store(empty_store_url)
    try:
        dispatcher, casework, bus, clock = parts(store, small_city, DAY)
        grids = small_city.grids
        intrusion = dispatcher.intake(video(grids[10], "I1", "zone_intrusion")).case
        loitering = dispatcher.intake(video(grids[11], "I2", "loitering")).case
        for case in (intrusion, loitering):
            assert case.state == CaseState.REGISTERED and case.assignee is None
            assert case.confirm_by == DAY + timedelta(seconds=120)
        reported = dispatcher.intake(Intake("citizen", grids[12].lon, grids[12].lat, DAY, None, matter_code="0506"))
        assert reported.case.state == CaseState.DISPATCHED  # a person reported it: nothing to confirm

        triage = Triage(store, casework)
        assert asyncio.run(triage.sweep_once()) == 0  # still counting down
        clock.now = DAY + timedelta(seconds=121)
        assert asyncio.run(triage.sweep_once()) == 2

        sent, held = dispatcher.get(intrusion.id), dispatcher.get(loitering.id)
        assert sent.state == CaseState.DISPATCHED and sent.assignee and sent.confirm_by is None
        assert (sent.timeline[-1].action, sent.timeline[-1].actor) == ("dispatch", "system")
        assert held.state == CaseState.REGISTERED and held.assignee is None and held.confirm_by is None
        assert (held.timeline[-1].action, held.timeline[-1].actor, held.timeline[-1].note) == (
            "hold", "system", HELD_BY_POLICY
        )
        announced = {e.data["id"]: e.data for e in bus.events if e.type == "case.updated"}
        assert announced[sent.id]["assignee"] == sent.assignee and announced[held.id]["confirm_by"] is None
        assert asyncio.run(triage.sweep_once()) == 0  # each wait ends once
    finally:
        store.close()


def test_a_wait_that_ends_with_nobody_on_duty_is_held(tmp_path: Path, small_city: City) -> None:
    dispatcher, casework, _, clock = parts(create_store(f"sqlite:///{tmp_path / 'cc.db'}"), small_city, DAY)
    case = dispatcher.intake(video(small_city.grids[13], "I1", "zone_intrusion")).case
    dispatcher.pick_for = lambda *_args, **_kw: None  # type: ignore[method-assign]
    clock.now = DAY + timedelta(minutes=3)
    assert asyncio.run(Triage(dispatcher.repo, casework).sweep_once()) == 1  # type: ignore[arg-type]
    held = dispatcher.get(case.id)
    assert held.state == CaseState.REGISTERED and held.timeline[-1].note == HELD_NO_WORKER


def test_confirm_sends_a_waiting_case_once(tmp_path: Path, small_city: City) -> None:
    dispatcher, casework, _, _ = parts(create_store(f"sqlite:///{tmp_path / 'cc.db'}"), small_city, DAY)
    case = dispatcher.intake(video(small_city.grids[14], "I1", "loitering")).case
    with pytest.raises(BadParams):
        asyncio.run(confirm(casework, case.id, "officer", worker="W-nobody"))
    worker = small_city.workers[3].id
    sent = asyncio.run(confirm(casework, case.id, "officer", worker=worker, note="画面确认"))
    assert sent.state == CaseState.DISPATCHED and sent.assignee == worker and sent.confirm_by is None
    assert sent.timeline[-1].actor == "officer" and "画面确认" in sent.timeline[-1].note
    with pytest.raises(NotWaiting):
        asyncio.run(confirm(casework, case.id, "officer"))


def test_simulated_workers_take_confirmed_cases_and_drop_recalled_ones() -> None:
    from command_center.bus import create_bus
    from command_center.config import WorkersConfig
    from command_center.simulate import simulate_workers

    class Work:  # what the simulated people do
        def __init__(self) -> None:
            self.acts: list[tuple[str, str]] = []

        async def act(self, case_id: str, action: str, actor: str, note: str = "") -> None:
            self.acts.append((case_id, action))

    async def scenario() -> list[tuple[str, str]]:
        bus, work = create_bus("memory"), Work()
        await bus.start()
        config = WorkersConfig(simulate=True, accept_after_s=0.3, feedback_after_s=0, close_after_s=0)
        job = asyncio.create_task(simulate_workers(bus, work, config))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        waiting = {"id": "C1", "state": "registered", "assignee": None, "timeline": [{"action": "register"}]}
        await bus.publish(Event("cases", "case.created", waiting))  # confirm-first: nobody yet
        sent = waiting | {"state": "dispatched", "assignee": "W1", "timeline": [{"action": "dispatch"}]}
        await bus.publish(Event("cases", "case.updated", sent))  # confirmed in the hall
        recalled = {"id": "C2", "state": "dispatched", "assignee": "W2", "timeline": [{"action": "dispatch"}]}
        await bus.publish(Event("cases", "case.created", recalled))
        await bus.publish(Event("cases", "case.updated", recalled | {"state": "cancelled"}))  # before accepting
        for _ in range(60):  # the worker's own pace: 0.3 s, then 0.5 s on the way
            if len(work.acts) >= 4:
                break
            await asyncio.sleep(0.05)
        job.cancel()
        await bus.close()
        return work.acts

    acts = asyncio.run(scenario())
    assert [a for c, a in acts if c == "C1"] == ["accept", "start", "feedback", "close"]
    assert [a for c, a in acts if c == "C2"] == []


def test_a_video_case_is_described_in_words() -> None:
    doc = {"rule": "illegal_parking", "label": "vehicle", "camera_id": "cam-x"}
    assert describe(doc) == "违章停车：车辆"  # no camera name: left out, never its id
    assert describe(doc | {"camera_name": "体育西路口"}) == "违章停车：车辆（体育西路口）"


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("triage")
    where = {"lon": small_city.grids[0].lon, "lat": small_city.grids[0].lat}
    camera = {"id": "cam-hall", "name": "大厅摄像头", "kind": "whip", "url": "whip://cam-hall", "location": where}
    config = parse_config(
        {"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "cameras": [camera]}
    )
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def client(site: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site[0].url, timeout=10, headers=site[0].headers(role="officer")) as c:
        yield c


def record(site: tuple[ServerThread, Runtime], grid: Any, rule: str, label: str, camera: str = "cam-hall") -> dict:
    srv, rt = site
    image = np.zeros((120, 160, 3), np.uint8)
    incident = Incident(
        camera_id=camera, ts=time.time(), rule=rule, zone="z", label=label, score=0.9, box=(10, 10, 60, 40),
        lon=grid.lon, lat=grid.lat, track_id=1, snapshot_jpeg=snapshot(image, (10, 10, 60, 40), label),
    )  # fmt: skip
    return srv.run(rt.recorder.record(incident))  # type: ignore[return-value]


def test_an_incident_names_its_camera_rule_and_urgency(site, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    doc = record(site, small_city.grids[20], "fire", "fire")
    assert (doc["camera_name"], doc["rule_name"], doc["label_name"]) == ("大厅摄像头", "火情", "明火")
    assert (doc["urgency"], doc["emergency_class"], doc["matter_name"]) == ("immediate", "accident", "火情")
    case = wait_case(client, doc["id"])
    assert case["description"] == "火情：明火（大厅摄像头）" and case["urgency"] == "immediate"
    minutes = datetime.fromisoformat(case["deadline"]) - datetime.fromisoformat(case["created_at"])
    assert minutes == timedelta(minutes=15)

    other = record(site, small_city.grids[21], "illegal_parking", "vehicle", camera="cam-elsewhere")
    mine = client.get("/api/incidents", params={"camera": "cam-hall", "limit": 1000}).json()["items"]
    assert doc["id"] in [i["id"] for i in mine] and other["id"] not in [i["id"] for i in mine]
    assert other["camera_name"] is None and other["urgency"] == "routine"
    assert client.get("/api/incidents", params={"camera": ""}).status_code == 400


def test_confirm_sends_the_waiting_case(site, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, _ = site
    doc = record(site, small_city.grids[22], "zone_intrusion", "person")
    case = wait_case(client, doc["id"])
    assert case["state"] == "registered" and case["assignee"] is None and case["confirm_by"]
    url = f"/api/incidents/{doc['id']}/confirm"
    for bad in ({"worker": 5}, {"worker": ""}, {"note": ["x"]}):
        assert client.post(url, json=bad).status_code == 400, bad
    assert client.post(url, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(url, json={"worker": "W-nobody"}).status_code == 400
    assert client.post(url, json={}, headers=srv.headers(role="emergency")).status_code == 403

    done = client.post(url, json={"note": "画面确认"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "acked" and body["case"]["state"] == "dispatched" and body["case"]["assignee"]
    again = client.post(url, json={})
    assert again.status_code == 409
    assert again.json()["detail"] == {"case_id": case["id"], "state": "dispatched"}
    assert client.post("/api/incidents/nope/confirm", json={}).status_code == 404


def next_task(phone: Any, case_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(phone.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("channel", "").startswith("tasks:") and msg["data"].get("id") == case_id:
            return msg


def test_dismissing_an_untouched_incident_recalls_its_case(site, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, _ = site
    doc = record(site, small_city.grids[23], "illegal_parking", "vehicle")
    case = wait_case(client, doc["id"])
    assert case["state"] == "dispatched"
    worker = case["assignee"]
    with srv.ws_connect(role="worker", worker_id=worker) as phone:
        phone.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker}"]}))
        url = f"/api/incidents/{doc['id']}/dismiss"
        assert client.post(url, json={"case": "maybe"}).status_code == 400
        assert client.post(url, json={"note": 5}).status_code == 400
        dismissed = client.post(url, json={"note": "树影"})
        assert dismissed.status_code == 200, dismissed.text
        assert dismissed.json()["state"] == "dismissed" and dismissed.json()["case"]["state"] == "cancelled"
        told = next_task(phone, case["id"])
        assert told["type"] == "task.updated" and told["data"]["state"] == "cancelled"
    cancelled = client.get(f"/api/cases/{case['id']}").json()
    assert cancelled["timeline"][-1]["action"] == "cancel" and cancelled["timeline"][-1]["note"] == "误报：树影"

    waiting = record(site, small_city.grids[24], "loitering", "person")  # confirm-first: nobody was sent
    assert wait_case(client, waiting["id"])["state"] == "registered"
    gone = client.post(f"/api/incidents/{waiting['id']}/dismiss", json={}).json()
    assert gone["case"]["state"] == "cancelled" and gone["case"]["assignee"] is None


def test_dismissing_when_work_started_asks_the_officer(site, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    started = []
    for i, grid in enumerate(small_city.grids[25:27]):
        doc = record(site, grid, "stall", "stall")
        case = wait_case(client, doc["id"])
        accepted = client.post(f"/api/cases/{case['id']}/accept", json={"actor": case["assignee"]})
        assert accepted.json()["state"] == "accepted", (i, accepted.text)
        started.append((doc, case))

    (doc, case), (doc2, case2) = started
    url = f"/api/incidents/{doc['id']}/dismiss"
    asked = client.post(url, json={"note": "误报"})
    assert asked.status_code == 409 and asked.json()["error"] == "work has started on its case"
    assert asked.json()["detail"] == {"case_id": case["id"], "state": "accepted", "choices": ["recall", "keep"]}
    assert client.get(f"/api/incidents/{doc['id']}").json()["state"] == "new"  # nothing changed
    kept = client.post(url, json={"case": "keep"}).json()
    assert kept["state"] == "dismissed" and kept["case"]["state"] == "accepted"

    recalled = client.post(f"/api/incidents/{doc2['id']}/dismiss", json={"case": "recall"}).json()
    assert recalled["state"] == "dismissed" and recalled["case"]["state"] == "cancelled"
    assert client.get(f"/api/cases/{case2['id']}").json()["state"] == "cancelled"

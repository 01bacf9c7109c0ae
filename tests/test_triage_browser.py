"""Triage in real browsers: the officer's wall and a worker's terminal side by side.

(a) an immediate incident (fire) sounds the alarm on the wall and on the phone, and reaches
the worker's terminal within 2 s with its deadline in minutes; (b) a confirm-first incident
dismissed on the wall while it waits never reaches a worker, even after its window; (c) an
auto-dispatched incident dismissed on the wall leaves the worker's terminal within 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from dispatch.config import DispatchConfig
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import ROOT, build_runtime, serve_app
from vision.evidence import snapshot
from vision.incident import Incident

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "triage"
LIVE_MS = 2000  # the bound: on the terminal (and off it) within 2 s
CAMERA = "cam-triage"
WIDE = "() => document.documentElement.scrollWidth <= window.innerWidth"


def lone_worker_grid(city: City, now: datetime) -> tuple[Any, str]:
    """A grid with exactly one worker on duty now: every case there goes to them."""
    for grid in city.grids:
        on_duty = [w for w in city.workers_by_grid.get(grid.code, ()) if w.on_duty(now)]
        if len(on_duty) == 1:
            return grid, on_duty[0].id
    raise AssertionError("no grid with a single worker on duty")


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City, browser: Any) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("triage-browser")
    grid, worker = lone_worker_grid(small_city, datetime.now(ZoneInfo(DispatchConfig().timezone)))
    # A camera that waits for a publisher: its name on the pages, and no frames to decode.
    camera = {"id": CAMERA, "name": "大厅东门", "kind": "whip", "url": f"whip://{CAMERA}",
              "location": {"lon": grid.lon, "lat": grid.lat}}  # fmt: skip
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}", "cameras": [camera]})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account("officer", "officer", "officer"), Account(worker, "worker", "worker", worker_id=worker)])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        errors: list[str] = []
        wall = new_page(browser, 1600, 900, errors)
        wall.goto(f"{server.url}/wall")
        sign_in_form(wall, "officer", "officer")
        wall.wait_for_selector("#conn[data-state=open]", timeout=15000)
        terminal = new_page(browser, 390, 844, errors)
        terminal.goto(f"{server.url}/terminal?worker={worker}")
        sign_in_form(terminal, worker, "worker")
        terminal.wait_for_selector("#conn[data-state=open]", timeout=15000)
        api = httpx.Client(base_url=server.url, timeout=10, headers=server.headers(role="officer"))
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker, "wall": wall, "terminal": terminal,
               "api": api, "errors": errors}  # fmt: skip
        api.close()
        wall.context.close()
        terminal.context.close()


def record(hall: dict[str, Any], rule: str, label: str) -> dict[str, Any]:
    grid = hall["grid"]
    image = np.full((360, 640, 3), 90, np.uint8)
    incident = Incident(
        camera_id=CAMERA, ts=time.time(), rule=rule, zone="z", label=label, score=0.9, box=(200, 150, 420, 300),
        lon=grid.lon, lat=grid.lat, track_id=1, snapshot_jpeg=snapshot(image, (200, 150, 420, 300), label),
    )  # fmt: skip
    return hall["server"].run(hall["rt"].recorder.record(incident))


def case_of(hall: dict[str, Any], incident_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        incident = hall["api"].get(f"/api/incidents/{incident_id}").json()
        if incident.get("case_id"):
            return hall["api"].get(f"/api/cases/{incident['case_id']}").json()
        time.sleep(0.05)
    raise AssertionError(f"no case for incident {incident_id}")


def wait_state(hall: dict[str, Any], case_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        case = hall["api"].get(f"/api/cases/{case_id}").json()
        if case["state"] == state or time.monotonic() > deadline:
            return case
        time.sleep(0.05)


def test_an_immediate_incident_sounds_the_alarm_and_reaches_the_phone_in_minutes(hall: dict[str, Any]) -> None:
    wall, terminal = hall["wall"], hall["terminal"]
    t0 = time.monotonic()
    doc = record(hall, "fire", "fire")
    assert doc["urgency"] == "immediate"
    wall.wait_for_selector("#alarm:not([hidden])", timeout=LIVE_MS)
    wall.wait_for_function("() => window.ccAlarm && window.ccAlarm.playing === true", timeout=LIVE_MS)
    case = case_of(hall, doc["id"])
    assert case["assignee"] == hall["worker"] and case["urgency"] == "immediate"
    card = terminal.wait_for_selector(f".task[data-case-id='{case['id']}']", timeout=LIVE_MS)
    assert time.monotonic() - t0 < LIVE_MS / 1000 + 1.0
    assert "分钟" in card.inner_text()  # a 15-minute limit shows in minutes
    terminal.wait_for_selector("#alarm:not([hidden])", timeout=LIVE_MS)
    terminal.wait_for_function("() => window.ccAlarm && window.ccAlarm.playing === true", timeout=LIVE_MS)
    wall.screenshot(path=str(ARTIFACTS / "wall-alarm.png"))
    terminal.screenshot(path=str(ARTIFACTS / "terminal-alarm.png"))
    assert wall.evaluate(WIDE) and terminal.evaluate(WIDE)

    # Acknowledged (from any wall) and accepted on the phone: both fall silent.
    assert hall["api"].post(f"/api/incidents/{doc['id']}/ack", json={}).status_code == 200
    wall.wait_for_function("() => !window.ccAlarm.playing", timeout=LIVE_MS)
    wall.wait_for_selector("#alarm", state="hidden", timeout=LIVE_MS)
    worker = hall["server"].headers(role="worker", worker_id=hall["worker"])
    accepted = hall["api"].post(f"/api/cases/{case['id']}/accept", json={}, headers=worker)
    assert accepted.status_code == 200, accepted.text
    terminal.wait_for_function("() => !window.ccAlarm.playing", timeout=LIVE_MS)


def test_a_confirm_first_incident_dismissed_in_its_window_never_reaches_a_worker(hall: dict[str, Any]) -> None:
    wall, terminal, rt = hall["wall"], hall["terminal"], hall["rt"]
    doc = record(hall, "zone_intrusion", "person")  # unconfirmed in time it would be sent: dismiss it first
    case = case_of(hall, doc["id"])
    assert case["state"] == "registered" and case["assignee"] is None and case["confirm_by"]
    row = f"#incidents [data-incident-id='{doc['id']}'][data-waiting=true]"
    wall.wait_for_selector(row, timeout=LIVE_MS)
    wall.screenshot(path=str(ARTIFACTS / "wall-waiting.png"))
    wall.click(f"{row} button[data-action=dismiss]")
    gone = wait_state(hall, case["id"], "cancelled")
    assert gone["state"] == "cancelled" and gone["assignee"] is None

    # Past its window, the triage sweep has nothing to send.
    real = rt.dispatcher.clock
    rt.dispatcher.clock = lambda: real() + timedelta(seconds=600)
    try:
        hall["server"].run(rt.triage.sweep_once())
    finally:
        rt.dispatcher.clock = real
    assert hall["api"].get(f"/api/cases/{case['id']}").json()["state"] == "cancelled"
    terminal.wait_for_timeout(500)
    assert terminal.query_selector(f".task[data-case-id='{case['id']}']") is None


def test_a_dismissed_auto_dispatched_incident_leaves_the_terminal(hall: dict[str, Any]) -> None:
    wall, terminal = hall["wall"], hall["terminal"]
    doc = record(hall, "illegal_parking", "vehicle")
    case = case_of(hall, doc["id"])
    assert case["state"] == "dispatched" and case["assignee"] == hall["worker"]
    card = f".task[data-case-id='{case['id']}']"
    terminal.wait_for_selector(card, timeout=LIVE_MS)
    row = f"#incidents [data-incident-id='{doc['id']}']"
    wall.wait_for_selector(f"{row} button[data-action=dismiss]", timeout=LIVE_MS)
    wall.click(f"{row} button[data-action=dismiss]")
    terminal.wait_for_selector(card, state="detached", timeout=LIVE_MS)
    assert wait_state(hall, case["id"], "cancelled")["state"] == "cancelled"
    terminal.screenshot(path=str(ARTIFACTS / "terminal-recalled.png"))
    assert not hall["errors"], hall["errors"]

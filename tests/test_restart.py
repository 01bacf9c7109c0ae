"""Timers survive restarts: they are computed from stored times, not from sleeping tasks.

Open cases on a running server, stop it, move the clock past their deadlines, start a
new server on the same database: each overdue case is escalated exactly once, by the
new server's own supervision loop, and a third start escalates nothing more.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import build_runtime, serve_app

# Thursday 2026-12-03 10:00 in Guangzhou: a working day, so the limits start at once.
OPENED = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def runtime(tmp_path: Path, city: City, now: datetime) -> Runtime:
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "dispatch": {"supervise_every_s": 0.2},
        }
    )
    rt = build_runtime(config, city=city)
    rt.dispatcher.clock = lambda: now
    return rt


def escalations(rt: Runtime, case_id: str) -> int:
    case = rt.store.get_case(case_id)
    assert case is not None
    return sum(1 for e in case.timeline if e.action == "escalate")


def test_overdue_escalation_happens_once_after_a_restart(tmp_path: Path, small_city: City) -> None:
    first = runtime(tmp_path, small_city, OPENED)
    with serve_app(first) as server:
        ids = []
        for i, matter in enumerate(("0101", "0102", "0103")):
            grid = small_city.grids[40 + 7 * i]
            made = httpx.post(
                f"{server.url}/api/cases", headers=server.headers(),
                json={"matter_code": matter, "lon": grid.lon, "lat": grid.lat, "description": "restart test"},
            )
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
        time.sleep(0.6)  # a few sweeps while the clock stands still: nothing is due
        assert [escalations(first, i) for i in ids] == [0, 0, 0]
        deadline = max(first.store.get_case(i).deadline for i in ids)  # type: ignore[union-attr]

    # Stopped. The clock moves past every deadline while no server runs.
    later = first.dispatcher.calendar.add_hours(deadline, 1.0)
    second = runtime(tmp_path, small_city, later)
    with serve_app(second):
        until = time.monotonic() + 20
        while any(escalations(second, i) == 0 for i in ids) and time.monotonic() < until:
            time.sleep(0.1)
        time.sleep(1.0)  # several more sweeps: none may escalate again
        assert [escalations(second, i) for i in ids] == [1, 1, 1]
        assert all(second.store.get_case(i).level == 1 for i in ids)  # type: ignore[union-attr]

    third = runtime(tmp_path, small_city, later)
    with serve_app(third):
        time.sleep(1.0)
        assert [escalations(third, i) for i in ids] == [1, 1, 1]

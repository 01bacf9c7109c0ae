"""Attendance (basedata/attendance.py, store/patrol_records.py, api/attendance.py): late
starts by shift, the fix inside one's own grids; days, the month summary and the track's
retention in the store on both databases; and against a real server: check-in outside the
worker's grids refused with the distance, the track refused off duty, on/off and the month."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from shapely import Polygon

from basedata.attendance import is_late, month_bounds, place_fix
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.patrol_records import AlreadyOnDuty, TrackPoint, patrol_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

SQUARE = Polygon([(113.30, 23.10), (113.31, 23.10), (113.31, 23.11), (113.30, 23.11)])


def _locate(lon: float, lat: float) -> str | None:
    return "G1" if 113.30 <= lon <= 113.31 and 23.10 <= lat <= 23.11 else None


# the domain
def test_lateness_by_shift() -> None:
    assert not is_late(datetime(2026, 3, 2, 8, 10), "day", 10)
    assert is_late(datetime(2026, 3, 2, 8, 11), "day", 10)
    assert not is_late(datetime(2026, 3, 2, 20, 0), "night", 0)
    assert is_late(datetime(2026, 3, 3, 1, 0), "night", 30)  # after midnight
    assert not is_late(datetime(2026, 3, 2, 23, 0), "all", 0)
    assert month_bounds("2025-12") == (datetime(2025, 12, 1).date(), datetime(2026, 1, 1).date())
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2025-13")


def test_a_fix_outside_ones_grids_is_refused_with_the_distance() -> None:
    assert place_fix(113.305, 23.105, {"G1"}, _locate).grid_code == "G1"
    # 0.001° of latitude north of the square: about 111 m
    out = place_fix(113.305, 23.111, {"G1"}, _locate, lambda code: SQUARE)
    assert not out.allowed and out.distance_m == pytest.approx(111.3, abs=0.5)
    assert "in no grid" in out.reason and "111 m" in out.reason
    assert not place_fix(113.305, 23.105, set(), _locate).allowed


# the store, on both databases
@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _day(worker: str, day: str, hour: int, late: bool) -> dict[str, Any]:
    return {"worker_id": worker, "day": day, "on_at": f"{day}T{hour:02d}:00:00+08:00", "off_at": None,
            "on_lon": 113.3, "on_lat": 23.1, "off_lon": None, "off_lat": None, "grid_code": "G1",
            "late": late, "duty_s": None}  # fmt: skip


def test_days_the_month_and_the_tracks_retention(store: Store) -> None:
    records = patrol_store(store)
    records.start_day(_day("w1", "2026-03-02", 8, False))
    records.start_day(_day("w1", "2026-03-03", 9, True))
    records.start_day(_day("w1", "2026-03-31", 8, False))
    records.start_day(_day("w1", "2026-04-01", 8, True))  # next month
    records.start_day(_day("w2", "2026-03-02", 8, True))  # someone else
    with pytest.raises(AlreadyOnDuty) as twice:
        records.start_day(_day("w1", "2026-03-02", 10, True))
    assert twice.value.row["on_at"] == "2026-03-02T08:00:00+08:00" and twice.value.row["late"] is False
    off = datetime.fromisoformat("2026-03-02T17:30:00+08:00")
    assert records.end_day("w1", "2026-03-02", off, 113.3, 23.1, 9 * 3600 + 1800)
    assert not records.end_day("w1", "2026-03-02", off, 113.3, 23.1, 1)  # closed already
    assert records.end_day("w1", "2026-03-03", off + timedelta(days=1), 113.3, 23.1, 8 * 3600)
    open_now = records.open_day("w1")
    assert open_now is not None and open_now["day"] == "2026-04-01"
    summary = records.month("w1", "2026-03", *month_bounds("2026-03"))
    assert (summary.days_present, summary.late_starts, summary.hours_on_duty, summary.open_days) == (3, 1, 17.5, 1)
    empty = records.month("w1", "2025-01", *month_bounds("2025-01"))
    assert (empty.days_present, empty.hours_on_duty) == (0, 0)

    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(hours=1)
    assert records.add_track("w1", [TrackPoint(old, 113.3, 23.1), TrackPoint(recent, 113.301, 23.1)]) == 2
    assert records.add_track("w1", [TrackPoint(recent, 113.301, 23.1)]) == 0  # a resend
    assert records.prune_track(now - timedelta(days=30)) == 1
    assert [p.at for p in records.track_of("w1", now - timedelta(days=60))] == [recent]


# the API on a real server (SQLite)
@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    worker: str
    other_worker: str
    mine: str
    far: str

    def send(self, method: str, path: str, body: Any = None, worker: str | None = None, **who: str | None) -> httpx.Response:
        if worker is not None:
            who = {"role": "worker", "worker_id": worker}
        return httpx.request(method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10)

    def at(self, grid: str) -> dict[str, float]:
        area = self.rt.city.city.areas[grid]
        return {"lon": area.lon, "lat": area.lat}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("attendance")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    other = next(w for w in small_city.workers if w.id != worker.id)
    far = next(g.code for g in small_city.grids if g.code.startswith("440104") and g.code != worker.grid_code)
    with serve_app(rt) as srv:
        yield World(srv, rt, worker.id, other.id, worker.grid_code, far)


def test_on_off_and_the_track_only_on_duty(world: World) -> None:
    w = world.worker
    refused = world.send("POST", "/api/attendance/track", world.at(world.mine), worker=w)
    assert refused.status_code == 409 and "on duty" in refused.text
    assert world.send("POST", "/api/attendance/off", world.at(world.mine), worker=w).status_code == 409
    outside = world.send("POST", "/api/attendance/on", world.at(world.far), worker=w)
    assert outside.status_code == 422, outside.text
    detail = outside.json()["detail"]
    assert detail["grid_code"] == world.far and world.mine in detail["reason"] and detail["distance_m"] > 0
    assert world.send("POST", "/api/attendance/on", world.at(world.mine)).status_code == 403  # an admin
    on = world.send("POST", "/api/attendance/on", world.at(world.mine), worker=w)
    assert on.status_code == 201, on.text
    assert on.json()["grid_code"] == world.mine and isinstance(on.json()["late"], bool)
    assert world.send("POST", "/api/attendance/on", world.at(world.mine), worker=w).status_code == 409
    track = world.send("POST", "/api/attendance/track", {"points": [world.at(world.mine), world.at(world.far)]},
                       worker=w)  # fmt: skip
    assert track.status_code == 201 and track.json()["sent"] == 2
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    early = world.send("POST", "/api/attendance/track", {"points": [world.at(world.mine) | {"at": before}]}, worker=w)
    assert early.status_code == 422 and "on duty" in early.text
    stored = patrol_store(world.rt.store).track_of(w, datetime.now(UTC) - timedelta(hours=1))
    assert 1 <= len(stored) <= 2  # two points sent in the same instant are one
    off = world.send("POST", "/api/attendance/off", world.at(world.mine), worker=w)
    assert off.status_code == 200 and off.json()["duty_s"] >= 0
    after = world.send("POST", "/api/attendance/track", world.at(world.mine), worker=w)
    assert after.status_code == 409
    month = world.send("GET", "/api/attendance/month", worker=w)
    assert month.status_code == 200
    assert month.json()["days_present"] == 1 and month.json()["open_days"] == 0


def test_the_month_is_the_workers_own_or_their_areas_staff(world: World) -> None:
    records = patrol_store(world.rt.store)
    for day, late in (("2025-06-02", False), ("2025-06-03", True)):
        records.start_day(_day(world.other_worker, day, 8, late))
        off = datetime.fromisoformat(f"{day}T16:00:00+08:00")
        records.end_day(world.other_worker, day, off, 113.3, 23.1, 8 * 3600)
    asked = f"/api/attendance/month?worker={world.other_worker}&month=2025-06"
    officer = world.send("GET", asked, role="officer", user="officer-city")
    assert officer.status_code == 200, officer.text
    assert officer.json() == {"worker_id": world.other_worker, "month": "2025-06", "days_present": 2,
                              "hours_on_duty": 16.0, "late_starts": 1, "open_days": 0}  # fmt: skip
    assert world.send("GET", asked, worker=world.worker).status_code == 403
    grids = {g.grid_code for g in world.rt.city.grids_of(world.other_worker)}
    foreign = "440104" if not any(g.startswith("440104") for g in grids) else "440103"
    stranger = world.send("GET", asked, role="officer", user="o", jurisdiction=foreign)
    assert stranger.status_code == 404
    assert world.send("GET", asked.replace("2025-06", "2025-6x")).status_code == 400
    assert world.send("GET", asked, role="emergency").status_code == 403

"""Hotspots (热点预警): a spike over a grid's own baseline is flagged, steady load is not;
the live tracker alerts once per burst; the API and the bus event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from command_center.config import parse_config
from command_center.events import Event
from command_center.runtime import Runtime
from dispatch.cases import Case, CaseState, TimelineEntry
from dispatch.city import City
from dispatch.hotspots import HotspotRule, HotspotTracker, Occurrence, find_hotspots, occurrences_of
from tests.helpers import ServerThread, build_runtime, serve_app

NOW = datetime(2026, 11, 3, 15, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
STEADY, SPIKY, QUIET, NEW = "440104001001001", "440104001001002", "440104001001003", "440104001002001"


def every(grid: str, per_hour: int, hours: int, matter: str = "0101", end: datetime = NOW) -> list[Occurrence]:
    """`per_hour` reports in each of the `hours` hours before `end`, evenly spread."""
    return [
        Occurrence(end - h * HOUR - (i + 0.5) * HOUR / per_hour, grid, matter)
        for h in range(hours)
        for i in range(per_hour)
    ]


def history() -> list[Occurrence]:
    return [
        *every(STEADY, 4, 25),  # 4 an hour, recent hour included
        *every(SPIKY, 1, 25),
        *[Occurrence(NOW - timedelta(minutes=m), SPIKY, "0101") for m in range(1, 12)],  # +11 this hour
        *[Occurrence(NOW - timedelta(minutes=m), QUIET, "0101") for m in (5, 9)],  # 2: below min_count
        *[Occurrence(NOW - timedelta(minutes=m), NEW, "0101") for m in (3, 6, 9, 12)],  # 4, no history
    ]


def test_a_spike_is_flagged_and_steady_load_is_not() -> None:
    found = find_hotspots(history(), NOW)
    assert [h.code for h in found] == [SPIKY, NEW]  # hottest first
    spike = found[0]
    assert spike.recent == 12 and spike.baseline_mean == 1.0 and spike.baseline_std == 0.0
    assert spike.threshold == 4.0  # 1 + 3 · max(0, √1, 1)
    assert spike.series == (1,) * 24 + (12,) and spike.score == pytest.approx(11.0)
    assert spike.to_dict()["at"] == NOW.isoformat()


def test_random_steady_load_rarely_alarms() -> None:
    """Poisson counts at their own mean: the √μ floor keeps false alarms near the 3σ tail."""
    rng = np.random.default_rng(3)
    occurrences = []
    for g in range(200):
        grid = f"4401040010{g // 100 + 1:02d}{g % 100 + 1:03d}"
        for h, n in enumerate(rng.poisson(3.0, 25).tolist()):
            occurrences += [Occurrence(NOW - h * HOUR - timedelta(minutes=1 + i), grid, "0101") for i in range(n)]
    assert len(find_hotspots(occurrences, NOW)) <= 2  # of 200 grids


def test_levels_and_matters() -> None:
    # Three grids of one community, each a little busier than usual: none alone, the community yes.
    community = "440104001003000"
    occurrences = []
    for g in range(1, 4):
        grid = f"440104001003{g:03d}"
        occurrences += every(grid, 2, 24, end=NOW - HOUR) + every(grid, 5, 1)
    assert find_hotspots(occurrences, NOW) == []
    assert [h.code for h in find_hotspots(occurrences, NOW, level="community")] == [community]
    # A matter that spikes inside a busy grid stands out only when matters are counted apart.
    busy = every(STEADY, 10, 25, matter="0101") + every(STEADY, 1, 24, matter="0202", end=NOW - HOUR)
    busy += [Occurrence(NOW - timedelta(minutes=m), STEADY, "0202") for m in range(1, 7)]
    assert find_hotspots(busy, NOW) == []
    by_matter = find_hotspots(busy, NOW, by_matter=True)
    assert [(h.code, h.matter_code) for h in by_matter] == [(STEADY, "0202")]
    daily = find_hotspots(history(), NOW, HotspotRule(window=timedelta(days=1), baseline=1))
    assert [(h.code, h.recent, h.series) for h in daily if h.code == SPIKY] == [(SPIKY, 35, (1, 35))]


def test_the_tracker_alerts_once_per_burst() -> None:
    tracker = HotspotTracker()
    old = [o for o in history() if o.ts <= NOW - HOUR]
    tracker.seed(old)
    recent = sorted((o for o in history() if o.ts > NOW - HOUR), key=lambda o: o.ts)
    alerts = [(o.ts, hot) for o in recent if (hot := tracker.add(o)) is not None]
    assert [hot.code for _, hot in alerts] == [SPIKY, NEW]
    # SPIKY (baseline 1 an hour) turns hot at its 4th report of the hour, and stays quiet after.
    spiky_at = next(ts for ts, hot in alerts if hot.code == SPIKY)
    assert sum(1 for o in recent if o.grid_code == SPIKY and o.ts <= spiky_at) == 4
    # An hour later, still busy: announced again.
    later = [Occurrence(NOW + HOUR - timedelta(minutes=m), SPIKY, "0101") for m in range(20, 0, -1)]
    assert sum(1 for o in later if tracker.add(o) is not None) == 1
    tracker.prune(NOW + 30 * HOUR)
    assert tracker.add(Occurrence(NOW + 30 * HOUR, SPIKY, "0101")) is None


def test_every_intake_behind_a_case_counts(small_city: City) -> None:
    case = synthetic_case(small_city.grids[0].code, NOW - HOUR, attaches=2)
    assert [o.ts for o in occurrences_of([case])] == [NOW - HOUR, *(NOW - HOUR + timedelta(minutes=m) for m in (1, 2))]


def synthetic_case(grid: str, at: datetime, attaches: int = 0, matter: str = "0101", n: int = 0) -> Case:
    report = TimelineEntry(at, "report", "video", CaseState.REPORTED, CaseState.REPORTED, "test")
    extra = tuple(
        TimelineEntry(at + timedelta(minutes=i + 1), "attach", "video", CaseState.REPORTED, CaseState.REPORTED, "dup")
        for i in range(attaches)
    )
    return Case(
        id=f"C-hot-{grid}-{at:%H%M%S}-{n}",
        state=CaseState.REPORTED,
        matter_code=matter,
        grid_code=grid,
        source="video",
        created_at=at,
        deadline=at + timedelta(days=2),
        lon=113.3,
        lat=23.1,
        timeline=(report, *extra),
    )


# ---------------------------------------------------------------- API and bus


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("hotspots")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def client(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=30, headers=server[0].headers()) as c:
        yield c


def test_hotspots_endpoint(server: tuple[ServerThread, Runtime], client: httpx.Client, small_city: City) -> None:
    rt = server[1]
    now = datetime.now(UTC)
    steady, spiky = small_city.grids[10].code, small_city.grids[11].code
    for i, hours_ago in enumerate(range(24, 0, -1)):
        rt.store.insert_case(synthetic_case(steady, now - hours_ago * HOUR + timedelta(minutes=30), n=i))
        rt.store.insert_case(synthetic_case(spiky, now - hours_ago * HOUR + timedelta(minutes=30), n=i))
    rt.store.insert_case(synthetic_case(steady, now - timedelta(minutes=20), n=99))
    rt.store.insert_case(synthetic_case(spiky, now - timedelta(minutes=20), attaches=9, n=99))  # one case, 10 reports
    body = client.get("/api/hotspots", params={"window": "1h", "baseline": 24}).json()
    codes = [item["code"] for item in body["items"]]
    assert spiky in codes and steady not in codes
    item = body["items"][codes.index(spiky)]
    assert item["recent"] == 11 and item["name"] == small_city.areas[spiky].name and item["series"][-1] == 11
    assert body["rule"] == {"window_s": 3600.0, "baseline": 24, "k": 3.0, "min_count": 3}
    series = client.get("/api/hotspots/series", params={"code": spiky[:12] + "000"}).json()
    assert series["series"][-1] >= 11 and "0101" in series["matters"]
    other_district = next(d.code for d in small_city.districts if not spiky.startswith(d.code[:6]))
    officer = server[0].headers(role="officer", jurisdiction=other_district[:6])
    assert client.get("/api/hotspots", headers=officer).json()["items"] == []
    for params in ({"window": "soon"}, {"window": "5s"}, {"level": "block"}, {"k": "x"}, {"baseline": "0"}, {"by": "who"}):
        response = client.get("/api/hotspots", params=params)
        assert response.status_code == 400, (params, response.text)
    assert client.get("/api/hotspots/series").status_code == 400
    assert client.get("/api/hotspots/series", params={"code": "440199999999999"}).status_code == 404


def test_a_grid_turning_hot_is_published(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = server
    grid = small_city.grids[20].code
    for i in range(5):
        case = synthetic_case(grid, datetime.now(UTC), n=100 + i)
        srv.run(rt.bus.publish(Event("cases", "case.created", case.to_dict())))
    deadline = time.monotonic() + 10
    alerts: list[dict] = []
    while time.monotonic() < deadline and not alerts:
        channel = rt.hub.channels.get("hotspots")
        alerts = [json.loads(m) for _, m, _ in channel.history] if channel else []
        time.sleep(0.05)
    assert [(a["type"], a["data"]["code"], a["data"]["recent"]) for a in alerts] == [("hotspot", grid, 3)]

"""Forecast and seasonal early warning (docs/STATS.md, "Forecast and alerts") over test_stats.py's
generated year (10,000 cases of 2026, the clock frozen on 6 December, 12:00 in the city), on
SQLite and PostgreSQL: the history each forecast is fitted on equals SQL written here over
`case_facts`; the model beats seasonal-naive on a series with a weekday pattern and a trend;
a burst of cases today in one place is flagged for its area and its cell, and only there;
the hotspots after writes (the monthly cells' bounds) still equal the plain count.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from command_center import stats_forecast as model
from command_center.store.stats_hotspots import bounded_hotspots
from command_center.store.stats_queries import StatsQuery
from command_center.store.stats_records import stats_store
from dispatch.cases import Case, CaseState
from tests import test_stats
from tests.test_stats import NOW, World, _areas, _edit, _figures, _same, _where

world = test_stats.world  # its fixture: a generated year per database (module-scoped: generated again here)

TODAY = date(2026, 12, 6)


def _daily(world: World, prefix: str, start: date, end: date, extra: str = "") -> dict[str, int]:
    rows = world.hand(f"SELECT created_day, count(*) FROM case_facts WHERE counted = 1 AND created_day >= '{start}' "
                      f"AND created_day <= '{end}' AND substr(grid_code, 1, {len(prefix)}) = '{prefix}'{extra} GROUP BY 1")  # fmt: skip
    return {d: int(n) for d, n in rows}


@pytest.mark.parametrize("level", ["city", "district", "street"])
def test_forecast_history_equals_hand_sql(world: World, level: str) -> None:
    code = _areas(world)[level]
    prefix = code[: {"city": 4, "district": 6, "street": 9}[level]]
    body = world.ok(f"/api/stats/forecast?area={code}&class=01")
    assert body["today"] == TODAY.isoformat() and body["class"] == "01" and body["area"]["code"] == code
    start = TODAY - timedelta(days=56)
    hand = _daily(world, prefix, start, TODAY - timedelta(days=1), " AND matter_class = '01'")
    assert [(h["day"], h["count"]) for h in body["history"]] == [
        ((start + timedelta(days=i)).isoformat(), hand.get((start + timedelta(days=i)).isoformat(), 0))
        for i in range(56)
    ]
    assert [f["day"] for f in body["forecast"]] == [(TODAY + timedelta(days=i)).isoformat() for i in range(7)]
    assert all(0 <= f["lo"] <= f["count"] <= f["hi"] for f in body["forecast"])
    assert set(body["error"]) == {"weeks", "mape", "mase", "naive_mape", "naive_mase"}
    assert [c["class"] for c in body["classes"]] == ["01"]
    assert body["classes"][0]["last_week"] == sum(h["count"] for h in body["history"][-7:])
    children = [a for a in world.city.areas.values() if a.parent == code]
    assert [a["code"] for a in body["areas"]] == sorted(a.code for a in children)
    digits = len(prefix) + 3 if level != "community" else 15
    week = TODAY - timedelta(days=7)
    for row in body["areas"][:3]:
        hand_week = _daily(
            world, row["code"][:digits], week, TODAY - timedelta(days=1), " AND matter_class = '01'"
        )
        assert (
            row["last_week"] == sum(hand_week.values()) and row["name"] == world.city.areas[row["code"]].name
        )


def test_forecast_all_classes_and_refusals(world: World) -> None:
    body = world.ok("/api/stats/forecast")
    assert [c["class"] for c in body["classes"]] == ["01", "02", "03", "04", "05", "99"]
    assert sum(c["last_week"] for c in body["classes"]) == sum(h["count"] for h in body["history"][-7:])
    assert world.get("/api/stats/forecast?class=07").status_code == 400
    assert world.get("/api/stats/alerts?area=4401").status_code == 400
    district = _areas(world)["district"]
    other = next(a.code for a in world.city.districts if a.code != district)
    officer = {"role": "officer", "user": "d-officer", "jurisdiction": district[:6]}
    for path in ("forecast", "alerts"):
        assert world.get(f"/api/stats/{path}?area={other}", **officer).status_code == 403
        assert world.get(f"/api/stats/{path}", role="worker", user="w-1", worker_id="W1").status_code == 403
    assert world.ok("/api/stats/forecast", **officer)["area"]["code"] == district


def test_model_beats_seasonal_naive() -> None:
    rng = np.random.default_rng(3)
    days = 364
    first = date(2026, 1, 5)  # a Monday
    weekday = np.array([1.1, 1.03, 1.0, 0.97, 0.92, 0.74, 0.68])
    level = 60 + 0.05 * np.arange(days)
    holidays = {first + timedelta(days=d) for d in (30, 31, 32, 150, 270, 271)}
    mean = (
        level
        * weekday[np.arange(days) % 7]
        * np.array([0.45 if first + timedelta(days=d) in holidays else 1.0 for d in range(days)])
    )
    y = rng.poisson(mean).astype(float)
    errors = model.backtest(y, first, holidays)
    assert errors["ours"].mase is not None and errors["naive"].mase is not None
    assert errors["ours"].mase < 0.85 * errors["naive"].mase and errors["ours"].mape < errors["naive"].mape  # type: ignore[operator]
    assert 0.3 < model.holiday_factor(y, first, holidays) < 0.6
    ahead = model.forecast(y, first, holidays)
    expected = (60 + 0.05 * np.arange(days, days + 7)) * weekday[np.arange(days, days + 7) % 7]
    assert np.all(np.abs(ahead.mean - expected) < 0.15 * expected)


def _burst(world: World, grid: str, lon: float, lat: float, n: int) -> None:
    at = NOW - timedelta(hours=1)
    for i in range(n):
        world.rt.store.insert_case(Case(
            id=f"BURST-{grid}-{i}", state=CaseState.DISPATCHED, matter_code="0101", grid_code=grid, source="citizen",
            created_at=at + timedelta(seconds=i), deadline=at + timedelta(hours=4), lon=lon, lat=lat,
        ))  # fmt: skip


def test_alerts_flag_a_burst_and_hotspots_stay_exact(world: World) -> None:
    quiet = world.hand(
        "SELECT grid_code FROM case_facts GROUP BY grid_code ORDER BY count(*), grid_code LIMIT 1"
    )[0][0]
    area = world.city.areas[quiet]
    before = world.ok(f"/api/stats/alerts?area={quiet[:6].ljust(15, '0')}")
    assert before["day"] == TODAY.isoformat() and before["as_of"] == "12:00" and before["baseline_weeks"] == 8
    _burst(world, quiet, area.lon, area.lat, 12)
    street = quiet[:9].ljust(15, "0")
    body = world.ok(f"/api/stats/alerts?area={street}")
    flagged = [a for a in body["areas"] if a["code"] == quiet[:12].ljust(15, "0") and a["class"] == "01"]
    assert flagged and flagged[0]["observed"] >= 12 and flagged[0]["p"] < 0.01 and flagged[0]["name"]
    cell = (round(area.lon * 1000), round(area.lat * 1000))
    spots = [c for c in body["cells"] if (round(c["lon"] * 1000), round(c["lat"] * 1000)) == cell]
    assert spots and spots[0]["observed"] >= 12 and spots[0]["expected"] < 3
    assert all(c["observed"] >= 3 for c in body["cells"])
    # the monthly cells' bounds with today dirty: the city's and the district's hotspots are still the plain count
    for prefix in ("", quiet[:6]):
        code = (prefix or next(a.code for a in world.city.areas.values() if a.level == "city")[:4]).ljust(
            15, "0"
        )
        spots = world.ok(f"/api/stats/hotspots?area={code}&from=2026-11-01&to={TODAY}&limit=10")["rows"]
        hand = world.hand(f"SELECT cell_x, cell_y, count(*) FROM case_facts WHERE counted = 1 AND created_day >= '2026-11-01' "
                          f"AND substr(grid_code, 1, {len(prefix)}) = '{prefix}' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10")  # fmt: skip
        assert [(round(s["lon"] * 1000), round(s["lat"] * 1000), s["cases"]) for s in spots] == hand
    # the bounds settle it (no plain count) with today dirty, and again once the job has summed today
    stats = stats_store(world.rt.store)
    december = StatsQuery(start=date(2026, 12, 1), end=TODAY, prefix=quiet[:6])
    for refresh in (False, True):
        if refresh:
            assert stats.refresh(most_days=400) >= 1
        with world.rt.store._reading() as db:  # type: ignore[attr-defined]
            bounded = bounded_hotspots(db, stats.dialect, december.params(), (), december.start, TODAY, 1)
        assert bounded is not None and bounded[0][:2] == cell and bounded[0][2] >= 12
        assert [(x, y, n) for x, y, n, _ in bounded] == [
            (h.cell_x, h.cell_y, h.cases) for h in stats.hotspots(december, 1)
        ]
    again = world.ok(
        f"/api/stats/hotspots?area={quiet[:6].ljust(15, '0')}&from=2026-11-01&to={TODAY}&limit=10"
    )["rows"]
    assert [(round(s["lon"] * 1000), round(s["lat"] * 1000), s["cases"]) for s in again][:1] == [
        (*cell, again[0]["cases"])
    ]


def test_whole_months_partial_months_and_dirty_months_equal_hand_sql(world: World) -> None:
    """Summary, areas and matters read whole clean months from `case_monthly`, the rest from the
    daily rows and the facts: exact with a month made dirty by an edit, and after the job."""
    district = _areas(world)["district"]
    june = world.hand(
        f"SELECT id FROM case_facts WHERE created_day >= '2026-06-01' AND created_day <= '2026-06-30' "
        f"AND state = 'in_progress' AND substr(grid_code, 1, 6) = '{district[:6]}' ORDER BY id LIMIT 1"
    )[0][0]
    case = world.rt.store.get_case(june)
    assert case is not None
    _edit(world, case, ("feedback", NOW - timedelta(hours=1)), ("close", NOW))  # June dirty: closed one more
    spans = [("2026-05-01", "2026-07-31"), ("2026-05-17", "2026-08-03"), ("2026-06-01", "2026-06-30"),
             ("2026-06-09", "2026-06-11"), ("2026-01-01", "2026-12-06")]  # fmt: skip
    stats = stats_store(world.rt.store)
    # June's day dirty; then its days summed and its roll-ups behind (marked); then all summed
    # (the server's own stats job may run between: every state must answer the same)
    for rollups in (None, False, True):
        if rollups is not None:
            stats.refresh(most_days=400, rollups=rollups)
            assert world.hand(
                "SELECT count(*) FROM case_daily_dirty WHERE substr(day, 1, 7) = '2026-06'"
            ) == [(0,)]
        december = StatsQuery(start=date(2026, 6, 1), end=date(2026, 7, 31), prefix="")
        plain = world.hand("SELECT cell_x, cell_y, count(*) FROM case_facts WHERE counted = 1 AND created_day >= "
                           "'2026-06-01' AND created_day <= '2026-07-31' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 5")  # fmt: skip
        assert [(h.cell_x, h.cell_y, h.cases) for h in stats.hotspots(december, 5)] == plain
        for start, end in spans:
            for code, prefix in ((district, district[:6]), (_areas(world)["city"], "")):
                span = f"area={code}&from={start}&to={end}"
                _same(
                    world.ok(f"/api/stats/summary?{span}")["current"],
                    _figures(world, _where(prefix, start, end)),
                )
                matters = world.ok(f"/api/stats/matters?{span}")["rows"]
                assert [(r["code"], r["cases"], r["closed"]) for r in matters] == world.hand(
                    f"SELECT matter_code, count(*), sum(closed) FROM case_facts WHERE {_where(prefix, start, end)} "
                    "GROUP BY 1 ORDER BY 2 DESC, 1"
                )
            for code, digits in (
                (_areas(world)["city"], 6),
                (district, 9),
            ):  # districts; streets (monthly_street)
                span = f"area={code}&from={start}&to={end}&source=citizen"
                for child in world.ok(f"/api/stats/areas?{span}")["children"]:
                    hand = _figures(
                        world, _where(child["code"][:digits], start, end, " AND source = 'citizen'")
                    )
                    hand.pop("mean_close_min")
                    _same(child, hand)

"""Case statistics (docs/STATS.md) on SQLite and PostgreSQL, over a generated year of cases
(command_center/stats_generate.py: 10,000 drawn in 2026, the clock frozen on 6 December).

Every figure of every endpoint is checked against SQL written here by hand over
`case_facts` (or, for the KPI meaning of the facts themselves, against dispatch/kpi.py
over the cases loaded whole); `case_daily` against the facts after edits (a case closed
late, one returned, one merged); jurisdiction; 400s; the XLSX opened with openpyxl.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.stats_generate import generate
from command_center.store import CaseQuery
from command_center.store.stats_queries import StatsQuery
from command_center.store.stats_records import stats_store
from dispatch.cases import Case, CaseState, transition
from dispatch.city import City
from dispatch.kpi import kpis
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
PERIOD = ("2026-03-01", "2026-08-31")
SPAN = f"from={PERIOD[0]}&to={PERIOD[1]}"
CASES = 10_000
CITY_ADMIN = {"role": "admin", "user": "city-admin"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    city: City

    def get(self, path: str, **who: Any) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**(who or CITY_ADMIN)), timeout=30)

    def ok(self, path: str, **who: Any) -> Any:
        answer = self.get(path, **who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def hand(self, sql: str) -> list[Any]:
        """SQL written by hand, values inline (they are the test's own)."""
        with self.rt.store._reading() as db:  # type: ignore[attr-defined]
            return [tuple(r) for r in db.execute(sql, {}).fetchall()]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    data = tmp_path_factory.mktemp("stats")
    with _store_url(request.param, data) as url:
        rt = build_runtime(parse_config({"server": {"data_dir": str(data)}, "store": url}), city=small_city)
        rt.dispatcher.clock = lambda: NOW
        generate(rt.store, small_city, rt.catalog, CASES, 2026, seed=11, now=NOW, progress=False)  # type: ignore[arg-type]
        with serve_app(rt) as srv:
            yield World(srv, rt, small_city)
        rt.store.close()


def _store_url(kind: str, data: Any) -> Any:
    if kind == "postgresql":
        return postgres_database("cc_stats")
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{data / 'cc.db'}")


def _where(prefix: str, start: str = PERIOD[0], end: str = PERIOD[1], extra: str = "") -> str:
    return (f"counted = 1 AND created_day >= '{start}' AND created_day <= '{end}' "
            f"AND substr(grid_code, 1, {len(prefix)}) = '{prefix}'{extra}")  # fmt: skip


def _figures(world: World, where: str) -> dict[str, Any]:
    row = world.hand(
        "SELECT count(*), coalesce(sum(closed), 0), coalesce(sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), 0), "
        f"coalesce(sum(deferred), 0), coalesce(sum(reworked), 0), sum(close_min) FROM case_facts WHERE {where}"
    )[0]
    cases, closed, on_time, deferred, reworked, close_min = row
    due = cases - deferred
    return {
        "cases": cases,
        "closed": closed,
        "on_time_rate": round(on_time / due, 4) if due else None,
        "closure_rate": round(closed / due, 4) if due else None,
        "rework_rate": round(reworked / closed, 4) if closed else None,
        "mean_close_min": round(close_min / closed, 2) if closed else None,
    }


def _same(ours: dict[str, Any], hand: dict[str, Any]) -> None:
    assert ours.keys() >= hand.keys()
    for key, value in hand.items():
        if key == "mean_close_min" and value is not None:  # sums of minutes in another order
            assert ours[key] == pytest.approx(value, abs=0.011), key
        else:
            assert ours[key] == value, key


def _areas(world: World) -> dict[str, str]:
    """One area of each level, the busiest under its parent (by the facts)."""
    city = next(a.code for a in world.city.areas.values() if a.level == "city")
    found = {"city": city}
    prefix = ""
    for level, digits in (("district", 6), ("street", 9), ("community", 12), ("grid", 15)):
        top = world.hand(f"SELECT substr(grid_code, 1, {digits}), count(*) FROM case_facts "
                         f"WHERE substr(grid_code, 1, {len(prefix)}) = '{prefix}' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")  # fmt: skip
        prefix = top[0][0]
        found[level] = prefix.ljust(15, "0")
    return found


def test_generated_year_looks_like_a_city(world: World) -> None:
    total, closed, open_, merged = world.hand(
        "SELECT count(*), sum(closed), sum(is_open), sum(1 - counted) FROM case_facts"
    )[0]
    assert 0.9 * CASES < total <= CASES and 0.8 < closed / total < 0.97 and open_ > 0 and merged > 0
    weekday, weekend = world.hand(
        "SELECT sum(CASE WHEN created_day NOT IN ('2026-03-07','2026-03-08') THEN 1 ELSE 0 END) / 5.0, "
        "sum(CASE WHEN created_day IN ('2026-03-07','2026-03-08') THEN 1 ELSE 0 END) / 2.0 "
        "FROM case_facts WHERE created_day >= '2026-03-02' AND created_day <= '2026-03-08'"
    )[0]
    assert weekday > weekend  # fewer cases at the weekend
    sources = {s for (s,) in world.hand("SELECT DISTINCT source FROM case_facts")}
    assert sources == {"video", "iot", "citizen", "worker", "emergency"}


def test_summary_equals_hand_sql(world: World) -> None:
    matter = world.hand("SELECT matter_code FROM case_facts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    filters = {"": "", "&source=video": " AND source = 'video'", "&matter_class=05": " AND matter_class = '05'",
               f"&matter={matter}": f" AND matter_code = '{matter}'"}  # fmt: skip
    for level, code in _areas(world).items():
        prefix = code[: {"city": 4, "district": 6, "street": 9, "community": 12, "grid": 15}[level]]
        # every filter on the daily rows (a district) and on the facts (a community); none elsewhere
        for param, extra in filters.items() if level in ("district", "community") else [("", "")]:
            body = world.ok(f"/api/stats/summary?area={code}&{SPAN}{param}")
            assert body["area"]["code"] == code and body["area"]["level"] == level
            assert body["period"] == {"from": PERIOD[0], "to": PERIOD[1]}
            _same(body["current"], _figures(world, _where(prefix, extra=extra)))
            _same(body["last_year"], _figures(world, _where(prefix, "2025-03-01", "2025-08-31", extra)))
    assert world.ok(f"/api/stats/summary?{SPAN}")["current"]["cases"] > 0  # the default area: the city


def test_facts_keep_the_kpi_meaning(world: World) -> None:
    """The facts' figures for a community equal dispatch/kpi.py's over its cases loaded whole."""
    community = _areas(world)["community"]
    start, end = (
        datetime(2026, 3, 1, tzinfo=world.rt.dispatcher.tz),
        datetime(2026, 9, 1, tzinfo=world.rt.dispatcher.tz),
    )
    cases, _ = world.rt.store.list_cases(
        CaseQuery(grid_prefix=community[:12], created_since=start, created_before=end, limit=5000)
    )
    (kpi,) = kpis(cases, "community", start, end)
    body = world.ok(f"/api/stats/summary?area={community}&{SPAN}")["current"]
    assert (body["cases"], body["closed"]) == (kpi.cases, kpi.closed)
    assert (body["on_time_rate"], body["closure_rate"], body["rework_rate"]) == (
        kpi.on_time_rate,
        kpi.closure_rate,
        kpi.rework_rate,
    )
    assert body["mean_close_min"] == pytest.approx(kpi.mean_close_min, abs=0.011)


def _quarter(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) + 2) // 3}"


def test_series_equal_hand_sql(world: World) -> None:
    district = _areas(world)["district"]
    body = world.ok(f"/api/stats/series?area={district}&{SPAN}&bucket=month&by=source")
    assert body["bucket"] == "month" and body["by"] == "source"
    hand = world.hand(f"SELECT substr(created_day, 1, 7), source, count(*) FROM case_facts WHERE {_where(district[:6])} "
                      "GROUP BY 1, 2 ORDER BY 1, 2")  # fmt: skip
    assert [(p["bucket"], p["key"], p["count"]) for p in body["points"]] == hand
    body = world.ok(
        f"/api/stats/series?area={district}&from=2026-01-01&to=2026-12-31&bucket=quarter&by=matter_class"
    )
    quarters: dict[tuple[str, str], int] = {}
    for month, klass, n in world.hand(
        f"SELECT substr(created_day, 1, 7), matter_class, count(*) FROM case_facts "
        f"WHERE {_where(district[:6], '2026-01-01', '2026-12-31')} GROUP BY 1, 2"
    ):
        quarters[(_quarter(month), klass)] = quarters.get((_quarter(month), klass), 0) + n
    assert {(p["bucket"], p["key"]): p["count"] for p in body["points"]} == quarters
    weeks = world.ok(f"/api/stats/series?area={district}&from=2026-03-02&to=2026-03-15&bucket=week")["points"]
    assert {p["bucket"] for p in weeks} == {"2026-W10", "2026-W11"}
    assert (
        sum(p["count"] for p in weeks)
        == _figures(world, _where(district[:6], "2026-03-02", "2026-03-15"))["cases"]
    )


@pytest.mark.parametrize("level", ["city", "district", "street", "community"])
def test_areas_equal_hand_sql(world: World, level: str) -> None:
    code = _areas(world)[level]
    body = world.ok(f"/api/stats/areas?area={code}&{SPAN}&source=citizen")
    children = [a for a in world.city.areas.values() if a.parent == code]
    assert [c["code"] for c in body["children"]] == sorted(a.code for a in children)
    digits = {"district": 6, "street": 9, "community": 12, "grid": 15}[body["children"][0]["level"]]
    for child in body["children"]:
        assert child["name"] == world.city.areas[child["code"]].name
        hand = _figures(world, _where(child["code"][:digits], extra=" AND source = 'citizen'"))
        hand.pop("mean_close_min")
        _same(child, hand)
        assert (
            f"grid={child['code'][:digits]}" in child["cases_url"] and "source=citizen" in child["cases_url"]
        )
    assert (body["parent"] is None) == (level == "city")


def test_matters_and_hotspots_equal_hand_sql(world: World) -> None:
    street = _areas(world)["street"]
    rows = world.ok(f"/api/stats/matters?area={street}&{SPAN}")["rows"]
    hand = world.hand(f"SELECT matter_code, count(*), sum(closed) FROM case_facts WHERE {_where(street[:9])} "
                      "GROUP BY 1 ORDER BY 2 DESC, 1")  # fmt: skip
    assert [(r["code"], r["cases"], r["closed"]) for r in rows] == hand
    first = rows[0]
    assert first["name"] == world.rt.catalog.get(first["code"]).name and first["class"] == first["code"][:2]
    assert first["class_name"] == world.rt.catalog.get(first["code"]).klass
    spots = world.ok(f"/api/stats/hotspots?area={street}&{SPAN}&limit=5")["rows"]
    cells = world.hand(f"SELECT cell_x, cell_y, count(*) FROM case_facts WHERE {_where(street[:9])} "
                       "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 5")  # fmt: skip
    assert [(round(s["lon"] * 1000), round(s["lat"] * 1000), s["cases"]) for s in spots] == cells
    x, y, _ = cells[0]
    top = world.hand(f"SELECT matter_code FROM case_facts WHERE {_where(street[:9])} AND cell_x = {x} AND cell_y = {y} "
                     "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")  # fmt: skip
    assert spots[0]["top_matter"] == top[0][0] and spots[0]["cases"] > 3  # a recurring spot


def _daily_equals_facts(world: World) -> None:
    """Every day not marked dirty: its daily rows are the facts' sums. One statement (one
    snapshot): the server's own jobs, escalating overdue cases, keep marking days meanwhile."""
    clean = "NOT IN (SELECT day FROM case_daily_dirty)"
    daily = ("SELECT day, district, matter_code, source, cases, closed, closed_on_time, deferred, reworked "
             f"FROM case_daily WHERE day {clean}")  # fmt: skip
    facts = (
        "SELECT created_day, substr(grid_code, 1, 6), matter_code, source, count(*), sum(closed), "
        "sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), sum(deferred), sum(reworked) FROM case_facts WHERE counted = 1 "
        f"AND created_day {clean} GROUP BY created_day, substr(grid_code, 1, 6), matter_code, source"
    )
    ((rows, extra, missing),) = world.hand(
        f"SELECT (SELECT count(*) FROM ({daily}) AS d), (SELECT count(*) FROM ({daily} EXCEPT {facts}) AS e), "
        f"(SELECT count(*) FROM ({facts} EXCEPT {daily}) AS m)"
    )
    assert rows > 500 and (extra, missing) == (0, 0)


def _edit(world: World, case: Case, *steps: tuple[str, datetime]) -> Case:
    for action, at in steps:
        case, entry = transition(
            case, action, "hall-2", note="test", now=at, **({"merged_into": "X"} if action == "merge" else {})
        )
        assert world.rt.store.save_transition(case, entry)
    return case


def test_daily_follows_edits(world: World) -> None:
    _daily_equals_facts(world)
    store = world.rt.store
    day = world.hand("SELECT created_day FROM case_facts WHERE state = 'in_progress' GROUP BY 1 "  # the last day: 2 in progress
                     "HAVING count(*) >= 2 ORDER BY 1 DESC LIMIT 1")[0][0]  # fmt: skip
    open_ids = [
        r[0]
        for r in world.hand(
            f"SELECT id FROM case_facts WHERE created_day = '{day}' AND state = 'in_progress' ORDER BY id LIMIT 2"
        )
    ]
    dispatched = world.hand(
        f"SELECT id FROM case_facts WHERE created_day = '{day}' AND state = 'dispatched' ORDER BY id LIMIT 1"
    )
    late = store.get_case(open_ids[0])
    assert late is not None
    after = late.deadline + timedelta(hours=5)
    _edit(world, late, ("feedback", after - timedelta(hours=1)), ("close", after))  # closed late
    again = store.get_case(open_ids[1])
    assert again is not None
    _edit(
        world, again, ("feedback", NOW - timedelta(hours=2)), ("return", NOW - timedelta(hours=1))
    )  # reworked
    if dispatched:
        merged = store.get_case(dispatched[0][0])
        assert merged is not None
        _edit(world, merged, ("merge", NOW))
    district = late.grid_code[:6].ljust(15, "0")
    query = f"/api/stats/summary?area={district}&from={day}&to={day}"
    before_job = world.ok(query)["current"]  # the day is dirty: read from the facts, exact
    _same(before_job, _figures(world, _where(district[:6], day, day)))
    assert world.hand(f"SELECT closed, on_time FROM case_facts WHERE id = '{late.id}'") == [(1, 0)]
    assert world.hand(f"SELECT reworked FROM case_facts WHERE id = '{again.id}'") == [(1,)]
    assert world.hand(f"SELECT count(*) FROM case_daily_dirty WHERE day = '{day}'")[0][0] >= 2
    assert stats_store(store).refresh(most_days=400) >= 1
    _daily_equals_facts(world)

    assert world.ok(query)["current"] == before_job


def test_jurisdiction(world: World) -> None:
    areas = _areas(world)
    district = areas["district"]
    other = next(a.code for a in world.city.districts if a.code != district)
    officer = {"role": "officer", "user": "d-officer", "jurisdiction": district[:6]}
    assert world.get(f"/api/stats/summary?area={other}&{SPAN}", **officer).status_code == 403
    assert world.get(f"/api/stats/areas?area={areas['city']}&{SPAN}", **officer).status_code == 403
    mine = world.ok(f"/api/stats/areas?{SPAN}", **officer)
    assert mine["area"]["code"] == district and mine["parent"] is None
    assert (
        world.ok(f"/api/stats/summary?{SPAN}", **officer)["current"]
        == world.ok(f"/api/stats/summary?area={district}&{SPAN}")["current"]
    )
    assert (
        world.ok(f"/api/stats/areas?area={areas['street']}&{SPAN}", **officer)["parent"]["code"] == district
    )
    assert (
        world.get(f"/api/stats/summary?{SPAN}", role="worker", user="w-1", worker_id="W1").status_code == 403
    )


@pytest.mark.parametrize(
    "query",
    ["from=2026-13-01", "from=yesterday", "from=2026-05-01&to=2026-04-01", "from=2020-01-01&to=2026-01-01", "area=4401",
     "area=999999999999999", "source=fax", "matter_class=07", "matter=a%20b", "bucket=decade", "by=worker", "limit=0"],
)  # fmt: skip
def test_bad_parameters(world: World, query: str) -> None:
    path = "/api/stats/hotspots" if query.startswith("limit") else "/api/stats/series"
    answer = world.get(f"{path}?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]


def test_exports(world: World) -> None:
    district = _areas(world)["district"]
    areas = world.ok(f"/api/stats/areas?area={district}&{SPAN}")["children"]
    answer = world.get(f"/api/stats/export?view=areas&format=xlsx&area={district}&{SPAN}")
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("区域编码", "区域", "层级", "案件数")
    assert [(r[0], r[1], r[3], r[5]) for r in rows[1:]] == [
        (a["code"], a["name"], a["cases"], a["on_time_rate"]) for a in areas
    ]
    text = world.get(f"/api/stats/export?view=matters&format=csv&area={district}&{SPAN}").content.decode(
        "utf-8"
    )
    assert text.startswith("\ufeff事项编码,事项")
    assert len(text.strip().splitlines()) == 1 + len(
        world.ok(f"/api/stats/matters?area={district}&{SPAN}")["rows"]
    )
    assert world.get("/api/stats/export?view=cases&format=csv").status_code == 400
    assert world.get("/api/stats/export?view=series&format=pdf").status_code == 400


def test_period_defaults_to_the_year_so_far(world: World) -> None:
    body = world.ok("/api/stats/summary")
    assert body["period"] == {"from": "2026-01-01", "to": date(2026, 12, 6).isoformat()}
    assert body["current"]["cases"] == _figures(world, _where("", "2026-01-01", "2026-12-06"))["cases"]


@pytest.mark.parametrize("many", [3, 12])  # PostgreSQL's group commit: pipelined INSERTs up to 8, COPY beyond
def test_facts_are_written_with_the_cases_in_a_group_commit(empty_store_url: str, many: int) -> None:
    from command_center.store import create_store

    store = create_store(empty_store_url)
    try:
        created = datetime(2026, 5, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 May in the city
        cases = [Case(id=f"C{i}", state=CaseState.DISPATCHED, matter_code="0501", grid_code="440106001001001",
                      source="citizen", created_at=created, deadline=created + timedelta(hours=4), lon=113.3, lat=23.1)
                 for i in range(many)]  # fmt: skip
        with store.batch():
            for case in cases:
                store.insert_case(case)
        with store._reading() as db:  # type: ignore[attr-defined]
            facts = db.execute(
                "SELECT count(*), min(created_day), min(matter_class) FROM case_facts", {}
            ).fetchall()
            marks = db.execute(
                "SELECT count(*) FROM case_daily_dirty WHERE day = '2026-05-02'", {}
            ).fetchall()
        assert [tuple(facts[0]), tuple(marks[0])] == [(many, "2026-05-02", "05"), (many,)]
        stats = stats_store(store)
        query = StatsQuery(start=date(2026, 5, 2), end=date(2026, 5, 2), prefix="440106")
        assert stats.summary(query)["cases"] == many  # from the facts: the day is dirty
        assert stats.refresh() == 1
        assert stats.summary(query)["cases"] == many  # from case_daily
    finally:
        store.close()


@pytest.mark.parametrize("batched", [False, True])
def test_each_store_counts_its_own_citys_days(empty_store_url: str, batched: bool) -> None:
    """The statistics' days are the zone the store was made with (the runtime gives it the
    city's), not one process-wide zone: a case at 16:30 UTC is on 1 May in a UTC city."""
    from zoneinfo import ZoneInfo

    from command_center.store import create_store

    store = create_store(empty_store_url, ZoneInfo("UTC"))
    try:
        created = datetime(2026, 5, 1, 16, 30, tzinfo=UTC)
        case = Case(id="C-utc", state=CaseState.DISPATCHED, matter_code="0501", grid_code="440106001001001",
                    source="citizen", created_at=created, deadline=created + timedelta(hours=4), lon=113.3, lat=23.1)  # fmt: skip
        if batched:
            with store.batch():
                store.insert_case(case)
        else:
            store.insert_case(case)
        with store._reading() as db:  # type: ignore[attr-defined]
            days = db.execute("SELECT created_day FROM case_facts", {}).fetchall()
        assert [tuple(r) for r in days] == [("2026-05-01",)]
    finally:
        store.close()

"""Issue 21's Done-when at full size: a frozen clock over a generated year of 1,000,000 cases
across the sample city (11 districts, 20,032 grids), each figure the statistics page shows
checked against a direct SQL query, on PostgreSQL.

The statistics read only `case_facts` and the tables summed from it (store/stats_*.py), so
the year is written straight into `case_facts` by one INSERT … SELECT over generate_series
(a deterministic hash of the row number draws its day, hour, grid, place, matter, source
and outcome; busy grids, skewed matters, recurring spots at the grids' centres), then
summed by the store's own `rebuild` (case_daily, the class roll-up, the monthly cells):
about a minute, against many minutes through the store's case writes. Then, for the city,
the busiest district and its busiest street: summary (this year and last), series, child
areas, matters, hotspots, the forecast's history and today's alerts, each against SQL
written here over the facts (tests/test_stats.py's helpers).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from command_center.assessment_service import Assessment, AssessmentError
from command_center.config import parse_config
from command_center.store.assessment_records import assessment_store
from command_center.store.assessment_sql import MonthSpan
from command_center.store.stats_records import stats_store
from dispatch.city import City, generate_city
from tests.helpers import build_runtime, postgres_database, serve_app
from tests.test_stats import World, _figures, _same, _where

pytestmark = pytest.mark.slow
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)  # 12:00 on 6 December in the city
CASES = 1_000_000
SPAN = "from=2026-01-01&to=2026-12-06"


def _h(k: int, n: int) -> str:
    """The k-th draw of row i, 0 … n-1: a deterministic hash of the row number (PostgreSQL's hashint8)."""
    return f"mod(abs(hashint8(i * 16 + {k})::bigint), {n})"


_CLOSED_AT = "at + close_min * interval '1 minute'"
_FACTS = f"""INSERT INTO case_facts (id, created_at, created_day, source, matter_code, matter_class, grid_code, state,
  is_open, counted, closed, closed_at, closed_day, on_time, reworked, deferred, accept_min, close_min, cell_x, cell_y, lon, lat)
SELECT 'F' || lpad(i::text, 7, '0'), to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
  to_char(at + interval '8 hours', 'YYYY-MM-DD'), src, matter,
  CASE WHEN left(matter, 2) IN ('01', '02', '03', '04', '05') THEN left(matter, 2) ELSE '99' END, grid, state,
  (state IN ('in_progress', 'deferred'))::int, (state NOT IN ('merged', 'cancelled'))::int, (state = 'closed')::int,
  CASE WHEN state = 'closed' THEN to_char({_CLOSED_AT}, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') END,
  CASE WHEN state = 'closed' THEN to_char({_CLOSED_AT} + interval '8 hours', 'YYYY-MM-DD') END,
  CASE WHEN state = 'closed' THEN ({_h(7, 10)} < 8)::int END, (state = 'closed' AND {_h(8, 20)} = 0)::int,
  (state = 'deferred')::int, 5 + {_h(9, 60)}, CASE WHEN state = 'closed' THEN close_min END,
  round(lon * 1000)::int, round(lat * 1000)::int, lon, lat
FROM (
  SELECT i, at, src, mm.matter, close_min, p.code AS grid,
    CASE WHEN r < 2 THEN 'merged' WHEN r < 3 THEN 'cancelled' WHEN r < 5 THEN 'deferred'
         WHEN r < 14 OR at > %(now)s::timestamp - interval '2 days' THEN 'in_progress' ELSE 'closed' END AS state,
    p.lon + CASE WHEN spot THEN 0 ELSE ({_h(10, 6001)} - 3000) / 1e6 END AS lon,
    p.lat + CASE WHEN spot THEN 0 ELSE ({_h(11, 6001)} - 3000) / 1e6 END AS lat
  FROM (
    SELECT i,
      -- the day (1 January … 6 December, that day only until noon) and the hour, in UTC
      timestamp '2025-12-31 16:00' + (d * interval '1 day') + ({_h(3, 3600)} * interval '1 second')
        + (CASE WHEN d = 339 THEN {_h(2, 12)} ELSE {_h(2, 24)} END) * interval '1 hour' AS at,
      1 + floor(%(n_grids)s * power({_h(4, 1000000)} / 1e6, 3))::int AS g,
      1 + floor(%(n_matters)s * power({_h(5, 1000000)} / 1e6, 2))::int AS m,
      (ARRAY['citizen', 'worker', 'video', 'iot', 'emergency'])[1 + {_h(6, 5)}] AS src,
      {_h(12, 100)} AS r, {_h(13, 2)} = 0 AS spot, 30 + {_h(14, 2000)} AS close_min
    FROM generate_series(1, {CASES}) AS i, LATERAL (SELECT {_h(1, 340)} AS d) AS day
  ) AS drawn
  JOIN unnest(%(grids)s::text[], %(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS p(code, lon, lat, g) USING (g)
  JOIN unnest(%(matters)s::text[]) WITH ORDINALITY AS mm(matter, m) USING (m)
) AS c"""


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    city = generate_city(seed=7)
    with postgres_database("cc_stats1m") as url:
        data = tmp_path_factory.mktemp("stats1m")
        # (the load and the hand-written sums over a million rows take longer than a request may)
        store = f"{url}?statement_timeout_s=300"
        rt = build_runtime(parse_config({"server": {"data_dir": str(data)}, "store": store}), city=city)
        rt.dispatcher.clock = lambda: NOW
        began = time.perf_counter()
        _generate(rt, city)
        print(f"1,000,000 facts written and summed in {time.perf_counter() - began:.0f} s")
        with serve_app(rt) as srv:
            yield World(srv, rt, city)
        rt.store.close()


def _generate(rt: Any, city: City) -> None:
    grids = city.grids
    params = {"grids": [g.code for g in grids], "lons": [g.lon for g in grids], "lats": [g.lat for g in grids],
              "n_grids": len(grids), "matters": [m.code for m in rt.catalog.matters], "n_matters": len(rt.catalog.matters),
              "now": NOW.replace(tzinfo=None)}  # fmt: skip
    indexes = _facts_indexes(rt)
    began = time.perf_counter()
    with rt.store._writing() as db:  # the indexes built once after the rows (faster than row by row)
        for name, _ in indexes:
            db.execute(f"DROP INDEX {name}", {})
        db.execute(_FACTS, params)
        for _, definition in indexes:
            db.execute(definition, {})
    written = time.perf_counter()
    with rt.store._reading() as db:  # autocommit: as autovacuum would after a load
        db.execute("VACUUM ANALYZE case_facts", {})
    stats_store(rt.store).rebuild()
    print(f"facts {written - began:.0f} s, vacuum and sums {time.perf_counter() - written:.0f} s")


def _facts_indexes(rt: Any) -> list[tuple[str, str]]:
    with rt.store._reading() as db:
        rows = db.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'case_facts' "
                          "AND indexname <> 'case_facts_pkey'", {}).fetchall()  # fmt: skip
    assert len(rows) >= 3
    return [(r[0], r[1]) for r in rows]


def _codes(world: World) -> dict[str, str]:
    """The city, its busiest district and that district's busiest street."""
    found = {"city": next(a.code for a in world.city.areas.values() if a.level == "city")}
    prefix = ""
    for level, digits in (("district", 6), ("street", 9)):
        top = world.hand(f"SELECT substr(grid_code, 1, {digits}) FROM case_facts WHERE grid_code LIKE '{prefix}%%' "
                         "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")  # fmt: skip
        prefix = top[0][0]
        found[level] = prefix.ljust(15, "0")
    return found


PREFIX = {"city": 4, "district": 6, "street": 9}


def test_a_million_cases(big: World) -> None:
    assert big.hand("SELECT count(*), count(DISTINCT grid_code) FROM case_facts")[0][0] == CASES


@pytest.mark.parametrize("level", ["city", "district", "street"])
def test_every_figure_equals_direct_sql(big: World, level: str) -> None:
    code = _codes(big)[level]
    prefix = code[: PREFIX[level]]
    where = _where(prefix, "2026-01-01", "2026-12-06")
    body = big.ok(f"/api/stats/summary?area={code}&{SPAN}")
    _same(body["current"], _figures(big, where))
    _same(body["last_year"], _figures(big, _where(prefix, "2025-01-01", "2025-12-06")))
    series = big.ok(f"/api/stats/series?area={code}&{SPAN}&bucket=month&by=source")["points"]
    assert [(p["bucket"], p["key"], p["count"]) for p in series] == big.hand(
        f"SELECT substr(created_day, 1, 7), source, count(*) FROM case_facts WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    digits = PREFIX[level] + (2 if level == "city" else 3)
    children = big.ok(f"/api/stats/areas?area={code}&{SPAN}")["children"]
    hand = {
        c: n
        for c, n in big.hand(
            f"SELECT substr(grid_code, 1, {digits}), count(*) FROM case_facts WHERE {where} GROUP BY 1"
        )
    }
    assert {c["code"][:digits]: c["cases"] for c in children if c["cases"]} == hand
    matters = big.ok(f"/api/stats/matters?area={code}&{SPAN}")["rows"]
    assert [(r["code"], r["cases"], r["closed"]) for r in matters] == big.hand(
        f"SELECT matter_code, count(*), sum(closed) FROM case_facts WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    spots = big.ok(f"/api/stats/hotspots?area={code}&{SPAN}&limit=20")["rows"]
    assert [(round(s["lon"] * 1000), round(s["lat"] * 1000), s["cases"]) for s in spots] == big.hand(
        f"SELECT cell_x, cell_y, count(*) FROM case_facts WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20"
    )
    forecast = big.ok(f"/api/stats/forecast?area={code}&class=01")
    daily = dict(big.hand(f"SELECT created_day, count(*) FROM case_facts WHERE {_where(prefix, '2026-10-11', '2026-12-05')} "
                          "AND matter_class = '01' GROUP BY 1"))  # fmt: skip
    assert [(h["day"], h["count"]) for h in forecast["history"]] == [
        (d, daily.get(d, 0)) for d in sorted(daily)
    ]
    alerts = big.ok(f"/api/stats/alerts?area={code}")
    for row in alerts["areas"][:5]:  # today's cases until noon (04:00 UTC), as flagged
        n = big.hand(f"SELECT count(*) FROM case_facts WHERE {_where(row['code'][:digits], '2026-12-06', '2026-12-06')} "
                     f"AND matter_class = '{row['class']}' AND created_at < '2026-12-06T04:00:00+00:00'")[0][0]  # fmt: skip
        assert row["observed"] == n


def test_a_month_of_the_million_is_assessed_in_sql_and_a_recompute_reproduces_it(big: World) -> None:
    """The monthly assessment (assessment_service.py) over the same year: November frozen, each
    district's cases and closure rate as SQL written here counts them, the recompute the same."""
    service = Assessment(assessment_store(big.rt.store))
    began = time.perf_counter()
    while (run := service.records.run("2026-11")) is None:  # the server's freeze job does it (grace over)
        assert time.perf_counter() - began < 120, "November not frozen by the job"
        time.sleep(0.5)
    print(f"November of the million frozen by the job after {time.perf_counter() - began:.1f} s: {run['subjects']} subjects")
    with pytest.raises(AssessmentError, match="frozen already"):
        service.freeze("2026-11", "test", NOW)
    again = service.freeze("2026-11", "test", NOW, recompute=True)
    assert again["digest"] == run["digest"] and run["subjects"] > 1_000
    span = MonthSpan.of("2026-11", service.scheme().grace_days)
    done = f"closed = 1 AND closed_day <= '{span.cutoff}'"
    hand = big.hand(
        f"SELECT substr(grid_code, 1, 6), count(*), sum(CASE WHEN {done} THEN 1 ELSE 0 END), sum(deferred) "
        f"FROM case_facts WHERE counted = 1 AND created_day >= '{span.lo}' AND created_day <= '{span.hi}' GROUP BY 1"
    )
    districts = {r.subject: r for r in service.compute("2026-11", service.scheme_of("2026-11")) if r.level == "district"}
    assert len(districts) == len(hand) == 11
    for code, cases, closed, deferred in hand:
        row = districts[code.ljust(15, "0")]
        assert row.cases == cases and row.values["closure_rate"] == round(closed / (cases - deferred), 4)

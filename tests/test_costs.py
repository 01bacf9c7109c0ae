"""Cost–benefit accounting (docs/COSTS.md) on SQLite and PostgreSQL: budget lines entered and
imported (a file with bad rows: each reported by file, row and column, nothing stored), the
attribution against a hand computation on a small fixture written straight into the tables,
the counts against direct SQL, and the scope (jurisdiction, roles)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
MONTH = "2026-11"
D, OTHER = "440104000000000", "440103000000000"
S1, S2 = "440104001000000", "440104002000000"
C1 = "440104001001000"
G1, G2, G3, G4 = "440104001001001", "440104001001002", "440104002001001", "440103001001001"
EMPTY_COMMUNITY = "440104002002000"
CITY = "440100000000000"
# (id, grid, matter, source, counted, closed, accept_min, close_min, day): minutes by the rules
FACTS = [
    ("F1", G1, "0101", "video", 1, 1, 10.0, 70.0, "2026-11-02"),  # 60
    ("F2", G1, "0101", "citizen", 1, 1, 5.0, 1000.0, "2026-11-03"),  # 995 → capped 480
    ("F3", G2, "0501", "iot", 1, 0, None, None, "2026-11-04"),  # open → 30
    ("F4", G2, "0501", "worker", 1, 1, 20.0, 50.0, "2026-11-30"),  # 30
    ("F5", G3, "0101", "video", 1, 1, None, 40.0, "2026-11-05"),  # no accept → 30
    ("F6", G3, "0101", "citizen", 0, 0, None, None, "2026-11-05"),  # merged: not counted
    ("F7", G1, "0101", "video", 1, 1, 10.0, 20.0, "2026-10-31"),  # October
    ("F8", G4, "0101", "citizen", 1, 1, 10.0, 40.0, "2026-11-06"),  # 30, the other district
]
CHECKINS = [(G1, "2026-11-03T09:00:00+08:00"), (G3, "2026-11-04T09:00:00+08:00"),
            (G3, "2026-11-05T09:00:00+08:00"), (G1, "2026-10-30T09:00:00+08:00")]  # fmt: skip
VISITS = [(G2, "2026-11-10T10:00:00+08:00")]
PEOPLE = {G1: 100, G2: 50, G3: 10, G4: 7}
# (area, category, grade, yuan)
LINES = [(D, "staff", "专职网格员A", "10000"), (S1, "video", "", "3000"), (G3, "equipment", "", "500"),
         (EMPTY_COMMUNITY, "other", "", "100"), (CITY, "staff", "专职网格员B", "20000")]  # fmt: skip
CITY_ADMIN = {"role": "admin", "user": "city-admin"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    city: City

    def call(self, method: str, path: str, who: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        headers = self.srv.headers(**(who or CITY_ADMIN))
        return httpx.request(method, self.srv.url + path, headers=headers, timeout=30, **kw)

    def ok(self, path: str, who: dict[str, str] | None = None) -> Any:
        answer = self.call("GET", path, who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def sql(self, sql: str) -> list[Any]:
        with self.rt.store._reading() as db:  # type: ignore[attr-defined]
            return [tuple(r) for r in db.execute(sql, {}).fetchall()]

    def write(self, sql: str, rows: list[dict[str, Any]]) -> None:
        with self.rt.store._writing() as db:  # type: ignore[attr-defined]
            for row in rows:
                db.execute(sql, row)


def _ph(kind: str, names: list[str]) -> str:
    return ", ".join((f":{n}" if kind == "sqlite" else f"%({n})s") for n in names)


def _insert(world: World, kind: str, table: str, rows: list[dict[str, Any]]) -> None:
    names = list(rows[0])
    world.write(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_ph(kind, names)})", rows)


def _fixture(world: World, kind: str) -> None:
    facts = [{"id": i, "created_at": f"{day}T02:00:00+00:00", "created_day": day, "source": src, "matter_code": m,
              "matter_class": m[:2], "grid_code": g, "state": "closed" if closed else "accepted", "is_open": 1 - closed,
              "counted": counted, "closed": closed, "reworked": 0, "deferred": 0, "accept_min": acc,
              "close_min": cls, "cell_x": 113300, "cell_y": 23100}
             for i, g, m, src, counted, closed, acc, cls, day in FACTS]  # fmt: skip
    _insert(world, kind, "case_facts", facts)
    checkins = [{"id": f"P{n}", "place_id": "KP1", "worker_id": "W1", "grid_code": g, "at": at, "lon": 113.3,
                 "lat": 23.1, "distance_m": 3.0, "answers": "{}", "hazard_note": ""} for n, (g, at) in enumerate(CHECKINS)]  # fmt: skip
    _insert(world, kind, "patrol_checkins", checkins)
    _insert(world, kind, "care_memberships", [{"id": "M1", "person_id": "PE1", "care_group": "elderly_alone",
            "grid_code": G2, "since": "2026-01-01", "plan": "", "visit_every_days": 30, "next_visit_due": "2026-12-10",
            "active": True, "version": 1, "escalated": 0, "created_at": "2026-01-01", "updated_at": "2026-01-01",
            "updated_by": "t"}])  # fmt: skip
    visits = [{"id": f"V{n}", "membership_id": "M1", "person_id": "PE1", "worker_id": "W1", "at": at, "note": "",
               "photos": "[]", "outcome": "visited", "created_at": at} for n, (_, at) in enumerate(VISITS)]  # fmt: skip
    _insert(world, kind, "care_visits", visits)
    counts = [{"grid_code": g, "addresses": 0, "buildings": 0, "households": 0, "people": n, "organisations": 0,
               "overdue": 0, "as_of": "2026-12-06"} for g, n in PEOPLE.items()]  # fmt: skip
    _insert(world, kind, "basedata_counts", counts)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    data = tmp_path_factory.mktemp("costs")
    with _store_url(request.param, data) as url:
        rt = build_runtime(parse_config({"server": {"data_dir": str(data)}, "store": url}), city=small_city)
        rt.dispatcher.clock = lambda: NOW
        with serve_app(rt) as srv:
            found = World(srv, rt, small_city)
            _fixture(found, request.param)
            for area, category, grade, yuan in LINES:
                body = {
                    "area_code": area,
                    "month": MONTH,
                    "category": category,
                    "grade": grade,
                    "amount": yuan,
                }
                assert found.call("POST", "/api/costs/lines", json=body).status_code == 201
            yield found
        rt.store.close()


def _store_url(kind: str, data: Any) -> Any:
    if kind == "postgresql":
        return postgres_database("cc_costs")
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{data / 'cc.db'}")


# ---- the hand computation: docs/COSTS.md's rules over the fixture above ----

POOL = {
    "staff": "work",
    "services": "work",
    "other": "work",
    "equipment": "sensing",
    "iot": "iot",
    "video": "video",
}


def _units() -> list[tuple[str, str, str, float]]:
    """(grid, matter, source, minutes) of MONTH."""
    units = []
    for _, g, m, src, counted, closed, acc, cls, day in FACTS:
        if counted and day.startswith(MONTH):
            measured = closed and acc is not None and cls is not None and cls > acc
            units.append((g, m, src, min(cls - acc, 480.0) if measured else 30.0))  # type: ignore[operator]
    units += [(g, "patrol", "patrol", 20.0) for g, at in CHECKINS if at.startswith(MONTH)]
    units += [(g, "care", "care", 30.0) for g, at in VISITS if at.startswith(MONTH)]
    return units


def _weight(pool: str, source: str, minutes: float) -> float:
    if pool == "work":
        return minutes
    return float(source in (("video", "iot") if pool == "sensing" else (pool,)))


def _prefix(code: str) -> str:
    return code.rstrip("0") if code != CITY else "4401"


def hand_shares() -> tuple[dict[tuple[str, str, str], float], dict[str, float]]:
    """{(grid, matter, category): fen}, {line area: unattributed fen}."""
    shares: dict[tuple[str, str, str], float] = defaultdict(float)
    lost: dict[str, float] = defaultdict(float)
    for area, category, _, yuan in LINES:
        reach = [u for u in _units() if u[0].startswith(_prefix(area))]
        total = sum(_weight(POOL[category], u[2], u[3]) for u in reach)
        if total == 0:
            lost[area] += int(yuan) * 100
            continue
        for g, m, src, minutes in reach:
            shares[(g, m, category)] += int(yuan) * 100 * _weight(POOL[category], src, minutes) / total
    return shares, lost


def test_attribution_equals_the_hand_computation(world: World) -> None:
    shares, lost = hand_shares()
    for area in (CITY, D, S1, S2, C1, G1, G3):
        body = world.ok(f"/api/costs/summary?area={area}&month={MONTH}")
        inside = {k: v for k, v in shares.items() if k[0].startswith(_prefix(area))}
        cost = sum(inside.values()) + sum(v for a, v in lost.items() if a.startswith(_prefix(area)))
        assert body["totals"]["cost"] == pytest.approx(cost / 100, abs=0.01), area
        for child in body["children"]:
            mine = sum(v for k, v in inside.items() if k[0].startswith(_prefix(child["code"])))
            mine += sum(v for a, v in lost.items() if a.startswith(_prefix(child["code"])))
            assert child["cost"] == pytest.approx(mine / 100, abs=0.01), child["code"]
        for row in body["matters"]:
            mine = sum(v for k, v in inside.items() if k[1] == row["code"])
            assert row["cost"] == pytest.approx(mine / 100, abs=0.01), (area, row["code"])
    # worked by hand: street S1 in November (docs/COSTS.md's example)
    street = next(
        c for c in world.ok(f"/api/costs/summary?area={D}&month={MONTH}")["children"] if c["code"] == S1
    )
    # district staff 1,000,000 fen × 650/720 + city staff 2,000,000 × 650/750 + S1's video 300,000
    assert street["cost"] == pytest.approx(
        (1_000_000 * 650 / 720 + 2_000_000 * 650 / 750 + 300_000) / 100, abs=0.01
    )
    # the cases' part (600 of the 650 minutes are cases) over its 4 cases
    case_fen = 1_000_000 * 600 / 720 + 2_000_000 * 600 / 750 + 300_000
    assert street["cases"] == 4 and street["cost_per_case"] == pytest.approx(case_fen / 100 / 4, abs=0.01)
    assert street["residents"] == 150 and street["cost_per_resident"] == pytest.approx(
        street["cost"] / 150, abs=0.01
    )
    assert (street["sensed"], street["worker_found"], street["citizen"], street["early_share"]) == (
        2,
        1,
        1,
        0.75,
    )
    assert street["by_category"]["video"] == 3000.0


def test_budget_and_unattributed(world: World) -> None:
    body = world.ok(f"/api/costs/summary?area={D}&month={MONTH}")
    assert body["totals"]["budget"] == 10000 + 3000 + 500 + 100  # the city's line is above the district
    assert body["totals"]["unattributed"] == 100.0  # a community with no work that month
    by = {c["code"]: c for c in body["children"]}
    assert by[S1]["budget"] == 3000 and by[S2]["budget"] == 600 and by[S2]["unattributed"] == 100
    cats = {c["category"]: c for c in body["categories"]}
    assert cats["staff"]["budget"] == 10000 and cats["equipment"]["cost"] == 500.0
    assert cats["other"]["unattributed"] == 100.0 and cats["other"]["cost"] == 0.0
    october = world.ok(f"/api/costs/summary?area={D}&month=2026-10")
    assert october["totals"]["budget"] == 0 and october["totals"]["cost"] == 0


def test_counts_equal_direct_sql(world: World) -> None:
    body = world.ok(f"/api/costs/summary?area={D}&month={MONTH}")
    rows = world.sql(f"SELECT substr(grid_code, 1, 9), count(*), sum(CASE WHEN source IN ('video', 'iot') THEN 1 ELSE 0 END) "
                     f"FROM case_facts WHERE counted = 1 AND created_day >= '{MONTH}-01' AND created_day <= '{MONTH}-31' "
                     f"AND grid_code >= '440104' AND grid_code < '440105' GROUP BY 1")  # fmt: skip
    hand = {code: (n, sensed) for code, n, sensed in rows}
    for child in body["children"]:
        assert (child["cases"], child["sensed"]) == hand.get(child["code"][:9], (0, 0)), child["code"]
    people = world.sql(
        "SELECT sum(people) FROM basedata_counts WHERE grid_code >= '440104' AND grid_code < '440105'"
    )
    assert body["totals"]["residents"] == people[0][0]
    assert body["totals"]["checkins"] == 3 and body["totals"]["visits"] == 1


def test_lines_crud_and_conflicts(world: World) -> None:
    body = {
        "area_code": C1,
        "month": "2026-09",
        "category": "services",
        "amount": "1,234.56",
        "note": "保洁外包",
    }
    made = world.call("POST", "/api/costs/lines", json=body)
    assert made.status_code == 201 and made.json()["amount_fen"] == 123456
    line = made.json()
    assert world.call("POST", "/api/costs/lines", json=body).status_code == 409
    other = world.call("POST", "/api/costs/lines", json=body | {"category": "other"}).json()
    clash = world.call(
        "PATCH", f"/api/costs/lines/{other['id']}", json={"version": 1, "category": "services"}
    )
    assert clash.status_code == 409 and clash.json()["error"] == "line exists", clash.text
    assert world.call("DELETE", f"/api/costs/lines/{other['id']}").status_code == 200
    for bad, field in (({"amount": "-1"}, "amount"), ({"amount": "1.234"}, "amount"), ({"month": "2026-13"}, "month"),
                       ({"category": "food"}, "category"), ({"area_code": "123"}, "area_code"),
                       ({"grade": "A"}, "grade")):  # fmt: skip
        answer = world.call("POST", "/api/costs/lines", json=body | bad)
        assert answer.status_code == 400 and field in answer.json()["error"], (bad, answer.text)
    changed = world.call("PATCH", f"/api/costs/lines/{line['id']}", json={"version": 1, "amount": 99})
    assert (
        changed.status_code == 200 and changed.json()["amount_fen"] == 9900 and changed.json()["version"] == 2
    )
    assert (
        world.call("PATCH", f"/api/costs/lines/{line['id']}", json={"version": 1, "amount": 5}).status_code
        == 409
    )
    assert world.ok(f"/api/costs/lines/{line['id']}")["amount"] == 99.0
    listed = world.ok(f"/api/costs/lines?area={S1}&month=2026-09")
    assert [i["id"] for i in listed["items"]] == [line["id"]] and listed["total"] == 1
    assert world.call("DELETE", f"/api/costs/lines/{line['id']}").status_code == 200
    assert world.call("GET", f"/api/costs/lines/{line['id']}").status_code == 404


def _csv(rows: list[str]) -> bytes:
    return ("\ufeff区域编码,月份,类别,职级,金额（元）,备注\n" + "\n".join(rows) + "\n").encode()


def test_import_with_bad_rows_reports_each_and_stores_nothing(world: World) -> None:
    before = world.sql("SELECT count(*), sum(amount_fen) FROM cost_budget_lines")[0]
    bad = _csv([f"{S1},2026-08,人员,专职网格员A,5000,",   # row 2: good
                f"{S1},2026-8x,人员,专职网格员A,5000,",   # row 3: month
                "440104999000000,2026-08,设备,,10,",      # row 4: no such area
                f"{S1},2026-08,餐费,,10,",                 # row 5: category
                f"{S1},2026-08,设备,A,10,",                # row 6: a grade on equipment
                f"{S1},2026-08,视频运行,,-3,",             # row 7: amount
                f"{S1},2026-08,人员,专职网格员A,6000,"])  # row 8: the key of row 2 again  # fmt: skip
    answer = world.call("POST", "/api/costs/lines/import?filename=预算.csv", content=bad)
    assert answer.status_code == 422, answer.text
    found = {(p["row"], p["column"]) for p in answer.json()["detail"]["problems"]}
    assert found == {
        (3, "月份"),
        (4, "区域编码"),
        (5, "类别"),
        (6, "职级"),
        (7, "金额（元）"),
        (8, "区域编码"),
    }
    assert {p["file"] for p in answer.json()["detail"]["problems"]} == {"预算.csv"}
    assert world.sql("SELECT count(*), sum(amount_fen) FROM cost_budget_lines")[0] == before
    # a district admin imports only their district's lines
    other = _csv([f"{OTHER},2026-08,人员,专职网格员A,5000,"])
    district_admin = {"role": "admin", "user": "d-admin", "jurisdiction": "440104"}
    refused = world.call("POST", "/api/costs/lines/import?filename=b.csv", district_admin, content=other)
    assert refused.status_code == 422 and refused.json()["detail"]["problems"][0]["column"] == "区域编码"
    # the same file, fixed, as XLSX: every line stored; imported again, the amounts are set, not added
    book = Workbook()
    sheet = book.active
    sheet.append(["区域编码", "月份", "类别", "职级", "金额（元）"])
    sheet.append([S1, "2026-08", "人员", "专职网格员A", 5000])
    sheet.append([S1, datetime(2026, 8, 1), "视频运行", None, 1200.5])  # a date cell: its month
    out = io.BytesIO()
    book.save(out)
    for _ in range(2):
        done = world.call("POST", "/api/costs/lines/import?filename=预算.xlsx", content=out.getvalue())
        assert done.status_code == 200 and done.json()["lines"] == 2, done.text
    stored = world.sql(
        "SELECT category, amount_fen FROM cost_budget_lines WHERE month = '2026-08' ORDER BY 1"
    )
    assert stored == [("staff", 500000), ("video", 120050)]


def test_scope_and_roles(world: World) -> None:
    outsider = {"role": "officer", "user": "o-103", "jurisdiction": "440103"}
    assert world.call("GET", f"/api/costs/summary?area={D}&month={MONTH}", outsider).status_code == 403
    mine = world.ok(f"/api/costs/summary?month={MONTH}", outsider)
    assert mine["area"]["code"] == OTHER and mine["parent"] is None and mine["totals"]["cases"] == 1
    line = world.ok(f"/api/costs/lines?area={S1}&month={MONTH}")["items"][0]
    assert world.call("GET", f"/api/costs/lines/{line['id']}", outsider).status_code == 404
    officer = {"role": "officer", "user": "o-city"}
    assert world.call("GET", f"/api/costs/summary?area={D}&month={MONTH}", officer).status_code == 200
    body = {"area_code": S1, "month": "2026-07", "category": "other", "amount": 1}
    assert world.call("POST", "/api/costs/lines", officer, json=body).status_code == 403
    worker = {"role": "worker", "user": "w-1", "worker_id": "W1"}
    assert world.call("GET", f"/api/costs/summary?month={MONTH}", worker).status_code == 403
    district_admin = {"role": "admin", "user": "d-admin", "jurisdiction": "440104"}
    assert (
        world.call("POST", "/api/costs/lines", district_admin, json=body | {"area_code": G4}).status_code
        == 403
    )
    above = world.ok(f"/api/costs/lines?area={CITY}&month={MONTH}&limit=1000")["items"]
    city_line = next(i for i in above if i["area_code"] == CITY)  # the city's line is no district's
    for method, extra in (("GET", {}), ("PATCH", {"json": {"version": 1, "amount": 1}}), ("DELETE", {})):
        answer = world.call(method, f"/api/costs/lines/{city_line['id']}", district_admin, **extra)
        assert answer.status_code == 404, (method, answer.text)
    for bad in ("month=2026-1", "month=x", "area=12", "area=440104999000000"):
        assert world.call("GET", f"/api/costs/summary?{bad}").status_code == 400, bad


def test_export_opens_in_a_reader(world: World) -> None:
    answer = world.call("GET", f"/api/costs/export?view=areas&format=xlsx&area={D}&month={MONTH}")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("区域编码", "区域", "预算（元）", "归集成本（元）")
    body = world.ok(f"/api/costs/summary?area={D}&month={MONTH}")
    assert [r[0] for r in rows[1:]] == [c["code"] for c in body["children"]]
    assert [r[3] for r in rows[1:]] == [c["cost"] for c in body["children"]]
    text = world.call(
        "GET", f"/api/costs/export?view=matters&format=csv&area={D}&month={MONTH}"
    ).content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("事项编码,事项,大类")
    assert world.call("GET", "/api/costs/export?view=x&format=csv").status_code == 400


def test_a_sample_year_loads_at_once_and_sums_as_sql(world: World) -> None:
    """`costs sample`'s lines in one transaction (PostgreSQL analyses the table after it); the
    city's budget of a month equals the sum of the stored lines."""
    from itertools import islice

    from command_center.costs.sample import sample_lines
    from command_center.store.cost_records import cost_store

    lines = list(islice(sample_lines(world.city, 2025), 600))
    assert cost_store(world.rt.store).upsert_all(lines, "sample") == 600
    month = lines[0].month
    body = world.ok(f"/api/costs/summary?month={month}")
    stored = world.sql(f"SELECT sum(amount_fen) FROM cost_budget_lines WHERE month = '{month}'")[0][0]
    assert body["totals"]["budget"] == stored / 100 and body["totals"]["cases"] == 0
    assert body["totals"]["cost"] == body["totals"]["unattributed"] == stored / 100  # no work in 2025

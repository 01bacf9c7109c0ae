"""Cross-analysis of the base data with the cases, and the care-demand forecast's SQL input
(store/basedata_analysis.py, store/care_demand.py) on SQLite and PostgreSQL, then the API
(api/basedata_analysis.py) and the hotspots normalised by population (api/hotspots.py per=).

A hand-built district where every figure is known: three grids with residents (two in one
community, one in the next street) and a fourth with cases but no one recorded:

    grid  households (kind: people's birth years)                        residents elderly alone
    G1    rental: 1950 · rental: 1940, 1990 · owner: 2000 · vacant: —         4        2      1
    G2    owner: 1955 · rental: 1995, 1996, 1997, one turning 60 next quarter 5        2      1
    G3    rental: 1991, 1992 · rental: 1970 (never checked)                   3        0      0
    G4    —                                                                   0        0      0

"60 or more" is by birth year (store/basedata_sums.py): the one turning 60 next quarter counts
from 1 January of that year. Buildings: G1 two (one rental), G2 one, G3 one (rental). Cases in March 2025 in the city's
zone (Asia/Shanghai): G1 two (one at 00:30 on 1 March local, 16:30 UTC the day before), G2
one, G3 one (23:00 on 31 March local), G4 one; left out: a merged and a cancelled one, one
at 23:30 on 28 February local, one at 00:30 on 1 April local, and one in another district.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from basedata.care import CarePolicy, new_membership
from basedata.forecast import Quarter
from basedata.model import Address, Building, Household, Person, Record, Sealed
from basedata.sample import years_before
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.basedata_analysis import AreaFigures, by_area, grouped_by_area, residents_in
from command_center.store.basedata_records import base_data_store
from command_center.store.care_demand import demand_input
from command_center.store.care_records import care_store
from dispatch.cases import Case, CaseState, TimelineEntry
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

TZ = ZoneInfo("Asia/Shanghai")
MARCH = (datetime(2025, 3, 1, tzinfo=TZ), datetime(2025, 4, 1, tzinfo=TZ))
FAR_FUTURE = date(2099, 1, 1)
ON = date(2026, 5, 20)  # the store tests' "today": Q2 2026, next quarter 2026Q3
COMING = Quarter(2026, 3)


@dataclass(frozen=True)
class Grids:
    g1: str
    g2: str  # same community as g1
    g3: str  # another street
    g4: str  # same community as g1: cases, no residents
    far: str  # another district

    @property
    def district(self) -> str:
        return self.g1[:6]


FIXED = Grids("440106001001001", "440106001001002", "440106002001001", "440106001001003", "440107001001001")


def _sealed(n: int) -> Sealed:
    return Sealed(cipher=f"v1:c{n}", index=f"{n:064x}", tail=f"{n % 10000:04d}")


def _person(n: int, grid: str, household: str, born: date, checked: date | None = FAR_FUTURE) -> Person:
    return Person(id=f"P{n}", grid_code=grid, household_id=household, name="张三", id_number=_sealed(n), sex="F",
                  birth_date=born, kind="registered", next_check_at=checked)  # fmt: skip


def district(g: Grids, turning_60: date) -> list[tuple[str, list[Record]]]:
    """The table in the docstring; one overdue building (B1) and one person never checked (P11)."""

    def building(code: str, grid: str, rental: bool, checked: date = FAR_FUTURE) -> Building:
        return Building(code=code, grid_code=grid, address_code=f"A-{grid}", name=code, floors=6, rental=rental,
                        lon=113.3, lat=23.1, next_check_at=checked)  # fmt: skip

    def household(hid: str, grid: str, kind: str) -> Household:
        return Household(id=hid, grid_code=grid, building_code=hid.split("-")[0], room=hid.split("-")[1],
                         kind=kind, next_check_at=FAR_FUTURE)  # type: ignore[arg-type]  # fmt: skip

    def born(year: int) -> date:
        return date(year, 6, 15)

    addresses = [Address(code=f"A-{grid}", grid_code=grid, text="体育西路1号", lon=113.3, lat=23.1,
                         next_check_at=FAR_FUTURE) for grid in (g.g1, g.g2, g.g3)]  # fmt: skip
    buildings = [building("B1", g.g1, True, date(2020, 1, 1)), building("B2", g.g1, False),
                 building("B3", g.g2, False), building("B4", g.g3, True)]  # fmt: skip
    households = [household("B1-101", g.g1, "rental"), household("B1-102", g.g1, "rental"),
                  household("B2-101", g.g1, "owner"), household("B2-102", g.g1, "vacant"),
                  household("B3-101", g.g2, "owner"), household("B3-102", g.g2, "rental"),
                  household("B4-101", g.g3, "rental"), household("B4-102", g.g3, "rental")]  # fmt: skip
    people = [
        _person(1, g.g1, "B1-101", born(1950)), _person(2, g.g1, "B1-102", born(1940)),
        _person(3, g.g1, "B1-102", born(1990)), _person(4, g.g1, "B2-101", born(2000)),
        _person(5, g.g2, "B3-101", born(1955)), _person(6, g.g2, "B3-102", born(1995)),
        _person(7, g.g2, "B3-102", born(1996)), _person(8, g.g2, "B3-102", born(1997)),
        _person(9, g.g3, "B4-101", born(1991)), _person(10, g.g3, "B4-101", born(1992)),
        _person(11, g.g3, "B4-102", born(1970), checked=None), _person(12, g.g2, "B3-102", turning_60),
    ]  # fmt: skip
    return [("address", addresses), ("building", buildings), ("household", households), ("person", people)]


def _case(n: int, grid: str, at: datetime, state: CaseState = CaseState.DISPATCHED) -> Case:
    at = at.astimezone(UTC)
    return Case(id=f"C-an-{n}", state=state, matter_code="0101", grid_code=grid, source="video", created_at=at,
                deadline=at + timedelta(days=2), lon=113.3, lat=23.1,
                timeline=(TimelineEntry(at, "report", "video", CaseState.REPORTED, CaseState.REPORTED, "t"),))  # fmt: skip


def march_cases(g: Grids) -> list[Case]:
    local = lambda d, h, m=0: datetime(2025, 3 if d > 0 else 2, abs(d), h, m, tzinfo=TZ)  # noqa: E731
    return [
        _case(1, g.g1, local(10, 12)), _case(2, g.g1, local(1, 0, 30)), _case(3, g.g2, local(20, 12)),
        _case(4, g.g3, local(31, 23)), _case(5, g.g4, local(15, 12)),
        # left out
        _case(6, g.g1, local(12, 12), CaseState.MERGED), _case(7, g.g1, local(13, 12), CaseState.CANCELLED),
        _case(8, g.g1, local(-28, 23, 30)), _case(9, g.g3, datetime(2025, 4, 1, 0, 30, tzinfo=TZ)),
        _case(10, g.far, local(10, 12)),
    ]  # fmt: skip


def ledger(g: Grids, current: Quarter, today: date) -> list[Any]:
    """独居老人: P1 (G1) enrolled, P5 (G2) not. 残疾人 in G1's community: 1, 2, 3, 4, 5 new in the
    five complete quarters before the current one (all active), 2 more long ago and ended.
    特困 in G3's community: 2 members (a small cell)."""
    policy = CarePolicy()
    found = [new_membership("M-alone-1", "P1", "elderly_alone", g.g1, today - timedelta(days=1000), policy)]
    for back, count in zip(range(5, 0, -1), (1, 2, 3, 4, 5), strict=True):
        start = current.shift(-back).start
        found += [new_membership(f"M-dis-{back}-{i}", f"PD{back}{i}", "disabled", g.g1 if i % 2 else g.g2,
                                 start + timedelta(days=10 + i), policy) for i in range(count)]  # fmt: skip
    found += [new_membership(f"M-old-{i}", f"PO{i}", "disabled", g.g1, current.shift(-12).start, policy, active=False)
              for i in range(2)]  # fmt: skip
    found += [new_membership(f"M-tk-{i}", f"PT{i}", "tekun", g.g3, current.start, policy) for i in range(2)]
    return found


def seed(store: Store, g: Grids, today: date) -> None:
    coming = Quarter.of(today).shift(1)
    turning = years_before(coming.start, 60) + timedelta(days=20)
    base_data_store(store).upsert_all(district(g, turning), by="test")
    for case in march_cases(g):
        store.insert_case(case)
    care = care_store(store)
    for membership in ledger(g, Quarter.of(today), today):
        care.add(membership, by="test")


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    seed(opened, FIXED, ON)
    yield opened
    opened.close()


def figures(rows: list[AreaFigures]) -> dict[str, dict[str, Any]]:
    return {row.code: row.to_dict() for row in rows}


# ---------------------------------------------------------------- the store, both databases


def test_per_grid_figures_are_exact(store: Store) -> None:
    rows = figures(by_area(base_data_store(store), "grid", FIXED.district, ON, *MARCH))
    assert list(rows) == sorted([FIXED.g1, FIXED.g2, FIXED.g3, FIXED.g4])
    g1, g2, g3, g4 = (rows[c] for c in (FIXED.g1, FIXED.g2, FIXED.g3, FIXED.g4))
    assert (
        g1["residents"],
        g1["households"],
        g1["rental_households"],
        g1["buildings"],
        g1["rental_buildings"],
    ) == (4, 4, 2, 2, 1)
    assert (g1["elderly"], g1["elderly_alone"], g1["elderly_alone_share"]) == (2, 1, 0.5)
    assert (g2["elderly"], g2["elderly_alone"], g2["elderly_alone_share"]) == (2, 1, 0.5)  # P12: 60 this year
    assert (g3["elderly"], g3["elderly_alone"], g3["elderly_alone_share"]) == (
        0,
        0,
        None,
    )  # no elderly: no share
    assert (g1["rental_share"], g1["rental_per_building"], g3["rental_share"], g3["rental_per_building"]) == (
        0.5,
        1.0,
        1.0,
        2.0,
    )
    assert (g1["cases"], g2["cases"], g3["cases"], g4["cases"]) == (2, 1, 1, 1)
    assert (g1["per_1000"], g2["per_1000"], g3["per_1000"]) == (500.0, 200.0, 333.33)
    assert (g4["residents"], g4["per_1000"]) == (0, None)  # cases but no one recorded: not divided by zero
    assert (g1["overdue"], g2["overdue"], g3["overdue"]) == (1, 0, 1)  # B1's check (2020); P11 never checked


def test_the_kept_sums_and_the_case_facts_answer_as_the_grouping(store: Store) -> None:
    """by_area (kept sums, the cases from their facts) against grouped_by_area (the records
    and the cases themselves), with cases on both edges of a local day."""
    records = base_data_store(store)
    first_day = (MARCH[0], MARCH[0] + timedelta(days=1))
    for level in ("grid", "community", "district"):
        for span in (MARCH, first_day):
            assert by_area(records, level, FIXED.district, ON, *span) == grouped_by_area(
                records, level, FIXED.district, ON, *span
            ), (level, span)
    assert figures(by_area(records, "grid", FIXED.district, ON, *first_day))[FIXED.g1]["cases"] == 1  # 00:30 local


def test_rolled_up_to_community_street_and_district(store: Store) -> None:
    records = base_data_store(store)
    community = figures(by_area(records, "community", FIXED.district, ON, *MARCH))
    c1, c3 = FIXED.g1[:12] + "000", FIXED.g3[:12] + "000"
    assert list(community) == [c1, c3]
    assert (community[c1]["residents"], community[c1]["cases"], community[c1]["per_1000"]) == (9, 4, 444.44)
    assert (community[c3]["residents"], community[c3]["cases"], community[c3]["per_1000"]) == (3, 1, 333.33)
    assert community[c1]["elderly_alone"] == 2 and community[c1]["elderly_alone_share"] == 0.5
    whole = by_area(records, "district", FIXED.district, ON, *MARCH)
    assert [
        (r.code, r.residents, r.cases, r.elderly_alone, r.households, r.rental_households) for r in whole
    ] == [(FIXED.district + "0" * 9, 12, 5, 2, 8, 5)]
    assert whole[0].to_dict()["per_1000"] == round(5 * 1000 / 12, 2)
    streets = by_area(records, "street", FIXED.g1[:9], ON, *MARCH)  # scoped: the other street is left out
    assert [(r.code, r.residents) for r in streets] == [(FIXED.g1[:9] + "000000", 9)]


def test_the_range_and_the_day_asked_move_the_figures(store: Store) -> None:
    records = base_data_store(store)
    april = (datetime(2025, 4, 1, tzinfo=TZ), datetime(2025, 5, 1, tzinfo=TZ))
    rows = figures(by_area(records, "grid", FIXED.district, ON, *april))
    assert rows[FIXED.g3]["cases"] == 1 and rows[FIXED.g1]["cases"] == 0  # 00:30 on 1 April local
    early = figures(by_area(records, "grid", FIXED.district, date(1999, 12, 31), *MARCH))
    assert (
        early[FIXED.g1]["elderly"] == 0 and early[FIXED.g2]["elderly_alone"] == 0
    )  # born 1940 and 1955: not 60 yet
    assert early[FIXED.g1]["overdue"] == 0  # B1's check (2020) was not due yet


def test_people_moved_out_are_not_counted(store: Store) -> None:
    """迁出 (left_on): P3 leaves B1-102, so P2 (born 1940) now lives alone; P5 leaves G2."""
    records = base_data_store(store)
    for person in ("P3", "P5"):
        records.update("person", person, {"left_on": date(2026, 5, 1)}, 1, "test")
    rows = figures(by_area(records, "grid", FIXED.district, ON, *MARCH))
    people = {code: (r["residents"], r["elderly"], r["elderly_alone"]) for code, r in rows.items()}
    assert (people[FIXED.g1], people[FIXED.g2]) == ((3, 2, 2), (4, 1, 0))  # P12, 60 this year, not alone
    assert residents_in(records, [FIXED.g2], 15) == {FIXED.g2: 4}


def test_residents_of_given_areas(store: Store) -> None:
    records = base_data_store(store)
    grids = residents_in(records, [FIXED.g1, FIXED.g4, "not-a-code"], 15)
    assert grids == {FIXED.g1: 4, FIXED.g4: 0}
    assert residents_in(records, [FIXED.g1[:12] + "000"], 12) == {FIXED.g1[:12] + "000": 9}


def test_the_forecast_input_per_community(store: Store) -> None:
    found = demand_input(base_data_store(store), 12, FIXED.district, COMING, 5)
    assert [q.label for q in found.quarters] == ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    by_code = {c.code: c for c in found.areas}
    c1, c3 = by_code[FIXED.g1[:12] + "000"], by_code[FIXED.g3[:12] + "000"]
    assert (c1.residents, c1.elderly, c1.over_80, c1.elderly_alone, c1.alone_unenrolled) == (
        9,
        3,
        1,
        2,
        1,
    )  # P5: not enrolled
    assert (c1.turning_60, c1.alone_turning_60, c3.residents, c3.elderly, c3.turning_60) == (1, 0, 3, 0, 0)
    disabled = c1.ledger["disabled"]
    assert (
        disabled.new_per_quarter == (1, 2, 3, 4, 5) and disabled.active == 15
    )  # the ended two are not active
    assert disabled.visits_per_month == pytest.approx(15 * 30.4375 / 30)
    assert c1.ledger["elderly_alone"].active == 1 and c1.ledger["elderly_alone"].new_per_quarter == (
        0,
        0,
        0,
        0,
        0,
    )
    assert c3.ledger["tekun"].active == 2


# ---------------------------------------------------------------- the API


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    grids: Grids
    worker: str

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=20)


OFFICER = {"role": "officer", "user": "an-officer"}


def city_grids(city: City) -> tuple[Grids, str]:
    worker = city.workers[0]
    same = [g.code for g in city.grids if g.code[:12] == worker.grid_code[:12] and g.code != worker.grid_code]
    other = next(
        g.code
        for g in city.grids
        if g.code[:6] == worker.grid_code[:6] and g.code[:9] != worker.grid_code[:9]
    )
    far = next(g.code for g in city.grids if g.code[:6] != worker.grid_code[:6])
    return Grids(worker.grid_code, same[0], other, same[1], far), worker.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("analysis")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    grids, worker = city_grids(small_city)
    seed(rt.store, grids, city_today(rt))
    with serve_app(rt) as srv:
        yield World(srv, rt, grids, worker)


MARCH_QUERY = "from=2025-03-01&to=2025-03-31"


def test_analysis_per_grid_with_names_and_totals(world: World) -> None:
    g = world.grids
    answer = world.get(f"/api/basedata/analysis?area={g.district}&{MARCH_QUERY}", **OFFICER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = {i["code"]: i for i in body["items"]}
    assert set(items) == {g.g1, g.g2, g.g3, g.g4}
    assert all(i["name"] == world.rt.city.city.areas[c].name for c, i in items.items())
    assert (items[g.g1]["residents"], items[g.g1]["cases"], items[g.g1]["per_1000"]) == (4, 2, 500.0)
    assert items[g.g4]["per_1000"] is None
    assert (
        body["totals"]["residents"] == 12
        and body["totals"]["cases"] == 5
        and body["totals"]["elderly_alone"] == 2
    )
    assert body["totals"]["per_1000"] == round(5000 / 12, 2)
    assert (body["from"], body["to"], body["level"]) == ("2025-03-01", "2025-03-31", "grid")
    assert "P1" not in answer.text and "张三" not in answer.text  # counts only, never a person


def test_analysis_rolls_up_and_takes_a_padded_area_code(world: World) -> None:
    g = world.grids
    community = g.g1[:12] + "000"
    body = world.get(
        f"/api/basedata/analysis?level=community&area={community}&{MARCH_QUERY}", **OFFICER
    ).json()
    assert [(i["code"], i["residents"], i["cases"]) for i in body["items"]] == [(community, 9, 4)]
    assert body["items"][0]["name"] == world.rt.city.city.areas[community].name and body["area"] == g.g1[:12]


def test_analysis_csv(world: World) -> None:
    answer = world.get(
        f"/api/basedata/analysis?area={world.grids.district}&level=district&{MARCH_QUERY}&format=csv"
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    lines = answer.text.lstrip("\ufeff").splitlines()
    head, row = lines[0].split(","), lines[1].split(",")
    assert head[:4] == ["code", "name", "residents", "households"] and len(lines) == 2
    assert row[head.index("residents")] == "12" and row[head.index("per_1000")] == str(round(5000 / 12, 2))


def test_analysis_is_scoped(world: World) -> None:
    g = world.grids
    district = {"role": "officer", "user": "far-officer", "jurisdiction": g.far[:6]}
    assert world.get(f"/api/basedata/analysis?area={g.district}", **district).status_code == 403
    mine = world.get(f"/api/basedata/analysis?{MARCH_QUERY}", **district).json()
    assert [i["code"] for i in mine["items"]] == [g.far]  # only the other district's one case
    worker = world.get(
        f"/api/basedata/analysis?level=community&{MARCH_QUERY}", role="worker", worker_id=world.worker
    )
    assert worker.status_code == 200, worker.text
    assert [(i["code"], i["residents"]) for i in worker.json()["items"]] == [
        (g.g1[:12] + "000", 4)
    ]  # their grid only
    assert world.get("/api/basedata/analysis", role="emergency").status_code == 403
    assert httpx.get(world.srv.url + "/api/basedata/analysis", timeout=10).status_code == 401


@pytest.mark.parametrize(
    "query",
    ["level=block", "from=2025-13-01", "from=yesterday", "to=2025-03-01&from=2025-03-02", "from=2000-01-01&to=2025-01-01",
     "format=xml", "from=0001-01-01&to=0001-01-02", "to=9999-12-31", "area=44x"],
)  # fmt: skip
def test_analysis_refuses_bad_input_with_a_reason(world: World, query: str) -> None:
    answer = world.get(f"/api/basedata/analysis?{query}")
    assert answer.status_code == 400 and answer.json()["error"], (query, answer.text)


def city_today(rt: Runtime) -> date:
    """Today in the city (the dispatcher's clock and zone), as the analysis routes take it."""
    return rt.dispatcher.today()


def test_forecast_per_community_with_its_backtest(world: World) -> None:
    g = world.grids
    answer = world.get(f"/api/basedata/forecast?area={g.district}", **OFFICER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    today = city_today(world.rt)  # the route's: the city's date, not the machine's
    coming = Quarter.of(today).shift(1)
    assert body["quarter"] == coming.label and body["from"] == coming.start.isoformat()
    # 1, 2, 3, 4 new a quarter, then 5: the trend forecasts 5 exactly, the others miss
    assert (
        body["backtest"]["method"] == "trend" == body["method"] and body["backtest"]["wape"]["trend"] == 0.0
    )
    assert body["backtest"]["actual"] == 5 and body["backtest"]["wape"]["naive"] == 0.2
    items = {i["code"]: i for i in body["items"]}
    c1 = items[g.g1[:12] + "000"]
    assert c1["name"] == world.rt.city.city.areas[g.g1[:12] + "000"].name
    disabled = next(x for x in c1["groups"] if x["group"] == "disabled")
    left = Quarter.of(today).left_after(today)
    assert disabled["active"] == 15 and disabled["expected_new"] == round(left * 6 + 7, 1)
    assert disabled["visits_per_month"] == round((15 + left * 6 + 7) * 30.4375 / 30, 1)
    assert (c1["elderly_alone"], c1["alone_unenrolled"]) == (2, None)  # 1 enrolled: 2 − 1 would tell it
    tekun = next(x for x in items[g.g3[:12] + "000"]["groups"] if x["group"] == "tekun")
    assert tekun == {**tekun, "active": None, "expected": None, "suppressed": True}  # 2 members: hidden
    assert (
        items[g.g3[:12] + "000"]["rounded"] is True and items[g.g3[:12] + "000"]["visits_per_month"] % 10 == 0
    )
    assert c1["turning_60"] == 1 and items[g.g3[:12] + "000"]["turning_60"] == 0


def test_forecast_is_for_care_roles_audited_and_exported(world: World) -> None:
    g = world.grids
    config = world.rt.config.basedata
    assert world.get("/api/basedata/forecast", role="emergency").status_code == 403
    saved = list(config.care_roles)
    config.care_roles = ["admin"]  # type: ignore[list-item]
    try:
        assert world.get("/api/basedata/forecast", **OFFICER).status_code == 403
    finally:
        config.care_roles = saved
    answer = world.get(f"/api/basedata/forecast?area={g.district}&format=csv&method=mean", user="exporter")
    assert answer.status_code == 200 and "disabled_expected" in answer.text.splitlines()[0]
    actions = [(r["actor"], r["action"]) for r in world.rt.store.iter_audit()]
    assert ("exporter", "care.forecast.export") in actions and ("exporter", "care.read") in actions
    assert world.get("/api/basedata/forecast?method=best").status_code == 400
    assert world.get("/api/basedata/forecast?level=grid").status_code == 400


def test_hotspots_normalised_by_population(world: World) -> None:
    """In the last hour G1 5 reports (4 residents), G3 4 (3 residents), G4 3 (no one recorded):
    by count G1, G3, G4; per 1,000 residents G3 (1,333.333), G1 (1,250), and G4 last, its
    rate None (not divided by zero)."""
    g, now = world.grids, datetime.now(UTC)
    for k, (grid, count) in enumerate(((g.g1, 5), (g.g3, 4), (g.g4, 3))):
        for i in range(count):
            world.rt.store.insert_case(_case(1000 + 10 * k + i, grid, now - timedelta(minutes=5 + i)))
    plain = world.get("/api/hotspots?window=1h&baseline=24").json()
    assert [i["code"] for i in plain["items"]] == [g.g1, g.g3, g.g4] and plain["per"] is None
    per = world.get("/api/hotspots?window=1h&baseline=24&per=1000")
    assert per.status_code == 200, per.text
    items = per.json()["items"]
    assert [(i["code"], i["residents"], i["rate"]) for i in items] == [
        (g.g3, 3, 1333.333),
        (g.g1, 4, 1250.0),
        (g.g4, 0, None),
    ]
    assert [
        i["code"] for i in world.get("/api/hotspots?window=1h&baseline=24&per=1000&limit=1").json()["items"]
    ] == [g.g3]
    community = world.get("/api/hotspots?window=1h&baseline=24&per=1000&level=community").json()["items"]
    c1 = next(i for i in community if i["code"] == g.g1[:12] + "000")
    assert (c1["recent"], c1["residents"], c1["rate"]) == (8, 9, round(8000 / 9, 3))
    assert world.get("/api/hotspots?per=0").status_code == 400

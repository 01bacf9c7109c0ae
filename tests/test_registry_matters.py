"""The matter catalogue per district, the working calendar and the supervision settings,
through the API of a real server: a district's proposal applies to its district's new cases
only once the city approves it and from its effective day; a second node follows within
seconds; a holiday moves deadlines; a setting changes supervision; imports are all or nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.registry.imports import ImportContext, ImportOptions, run_import
from command_center.runtime import Runtime
from dispatch.city import City
from dispatch.deadlines import deadline_for
from dispatch.intake import Intake
from tests.helpers import ServerThread, build_runtime, serve_app

CODE = "0101"  # 暴露垃圾: 2 working hours in configs/matters.yaml


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime, Runtime]]:
    """Two nodes over one store: the first serves the API, the second only follows."""
    data = tmp_path_factory.mktemp("matters")
    raw = {"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"}
    rt = build_runtime(parse_config(raw), city=small_city)
    other = build_runtime(parse_config(raw | {"server": {"data_dir": str(data / "b")}}), city=small_city)
    with serve_app(rt) as srv, serve_app(other):
        yield srv, rt, other


def districts(city: City) -> tuple[str, str]:
    return city.districts[0].code[:6], city.districts[1].code[:6]


def client(srv: ServerThread, jurisdiction: str = "") -> httpx.Client:
    who = {"user": f"admin{jurisdiction}", "jurisdiction": jurisdiction}
    return httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(**who))


def today(rt: Runtime) -> date:
    return rt.dispatcher.clock().astimezone(rt.dispatcher.tz).date()


def new_case_hours(rt: Runtime, city: City, district: str, n: int, code: str = CODE) -> float:
    """The working hours a new case of `code` gets in the n-th grid of `district`."""
    grid = [g for g in city.grids if g.code.startswith(district)][n]
    case = rt.dispatcher.intake(Intake("citizen", grid.lon, grid.lat, datetime.now(UTC), matter_code=code)).case
    assert case.grid_code.startswith(district)
    return round(rt.dispatcher.calendar.hours_between(case.created_at, case.deadline), 3)


def proposal(district: str, hours: float, day: date, change: str = "change", code: str = CODE) -> dict[str, Any]:
    matter = {"code": code, "name": "暴露垃圾", "name_en": "Exposed garbage", "class": "市容环境",
              "department": "城市管理和综合执法局（环卫）", "handler": "worker", "time_limit": {"hours": hours},
              "closure_standard": "垃圾清运完毕", "rules": ["dumping"], "labels": ["garbage"]}  # fmt: skip
    return {"district": district, "change": change, "matter": matter, "effective_from": day.isoformat(), "reason": "faster"}


def test_a_district_change_applies_there_once_approved(nodes: tuple[ServerThread, Runtime, Runtime], small_city: City) -> None:
    srv, rt, other = nodes
    a, b = districts(small_city)
    with client(srv, a) as dadmin, client(srv) as admin:
        assert dadmin.post("/api/matters/proposals", json=proposal(b, 1, today(rt))).status_code == 403
        bad = dadmin.post("/api/matters/proposals", json=proposal(a, -1, today(rt)))
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "time_limit.hours"
        late = dadmin.post("/api/matters/proposals", json=proposal(a, 1, today(rt) - timedelta(days=1)))
        assert late.status_code == 422
        made = dadmin.post("/api/matters/proposals", json=proposal(a, 1, today(rt)))
        assert made.status_code == 201, made.text
        first = made.json()
        assert (first["version"], first["status"], first["district"]) == (1, "proposed", a)
        assert new_case_hours(rt, small_city, a, 0) == 2.0  # not before the city approves

        assert dadmin.post(f"/api/matters/proposals/{first['id']}/approve", json={}).status_code == 403
        approved = admin.post(f"/api/matters/proposals/{first['id']}/approve", json={"note": "ok"})
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        assert admin.post(f"/api/matters/proposals/{first['id']}/reject", json={}).status_code == 409
        assert new_case_hours(rt, small_city, a, 1) == 1.0
        assert new_case_hours(rt, small_city, b, 0) == 2.0  # another district keeps the city's

        listed = {m["code"]: m for m in dadmin.get("/api/matters").json()["items"]}  # the caller's district
        assert listed[CODE]["time_limit"] == {"minutes": None, "hours": 1.0, "days": None}
        assert (listed[CODE]["source"], listed[CODE]["version"], listed[CODE]["district"]) == ("district", 1, a)
        assert admin.get("/api/matters", params={"district": b}).json()["district"] == b

        # effective tomorrow: numbered 2, approved, and still not today's
        later = dadmin.post("/api/matters/proposals", json=proposal(a, 3, today(rt) + timedelta(days=1))).json()
        assert later["version"] == 2
        assert admin.post(f"/api/matters/proposals/{later['id']}/approve", json={}).status_code == 200
        assert new_case_hours(rt, small_city, a, 2) == 1.0
        tomorrow = (today(rt) + timedelta(days=1)).isoformat()
        ahead = {m["code"]: m for m in admin.get("/api/matters", params={"district": a, "day": tomorrow}).json()["items"]}
        assert ahead[CODE]["time_limit"]["hours"] == 3.0

        # rejected and withdrawn ones change nothing; only the proposing district withdraws
        rejected = dadmin.post("/api/matters/proposals", json=proposal(a, 5, today(rt))).json()
        assert admin.post(f"/api/matters/proposals/{rejected['id']}/reject", json={"note": "no"}).json()["status"] == "rejected"
        pending = dadmin.post("/api/matters/proposals", json=proposal(a, 6, today(rt))).json()
        assert admin.post(f"/api/matters/proposals/{pending['id']}/withdraw", json={}).status_code == 403
        assert dadmin.post(f"/api/matters/proposals/{pending['id']}/withdraw", json={}).json()["status"] == "withdrawn"
        assert new_case_hours(rt, small_city, a, 3) == 1.0

        history = admin.get(f"/api/matters/{CODE}/versions", params={"district": a}).json()["items"]
        assert [(v["version"], v["status"]) for v in history] == [
            (4, "withdrawn"), (3, "rejected"), (2, "approved"), (1, "approved")
        ]
        assert dadmin.post("/api/matters/proposals", json=proposal(a, 1, today(rt), change="add")).status_code == 422
        audit = [r["action"] for r in admin.get("/api/audit", params={"limit": 50}).json()["items"]]
        assert {"matter.propose", "matter.approve", "matter.reject", "matter.withdraw"} <= set(audit)

    # the second node follows from the store within ~2 s
    deadline = time.monotonic() + 3
    while other.dispatcher.book.for_area(a.ljust(15, "0"), today(rt)).get(CODE).time_limit.hours != 1.0:
        assert time.monotonic() < deadline, "the second node did not follow"
        time.sleep(0.05)
    assert other.dispatcher.book.for_area(b.ljust(15, "0"), today(rt)).get(CODE).time_limit.hours == 2.0


def test_a_district_adds_a_matter_of_its_own(nodes: tuple[ServerThread, Runtime, Runtime], small_city: City) -> None:
    srv, rt, _ = nodes
    a, b = districts(small_city)
    with client(srv, b) as dadmin, client(srv) as admin:
        made = dadmin.post("/api/matters/proposals", json=proposal(b, 4, today(rt), change="add", code="0188")).json()
        admin.post(f"/api/matters/proposals/{made['id']}/approve", json={})
        codes_b = {m["code"] for m in admin.get("/api/matters", params={"district": b}).json()["items"]}
        codes_a = {m["code"] for m in admin.get("/api/matters", params={"district": a}).json()["items"]}
    assert "0188" in codes_b and "0188" not in codes_a
    assert new_case_hours(rt, small_city, b, 5, code="0188") == 4.0


def test_a_holiday_moves_deadlines(nodes: tuple[ServerThread, Runtime, Runtime]) -> None:
    srv, rt, other = nodes
    calendar = rt.dispatcher.calendar
    day = today(rt) + timedelta(days=30)
    while not calendar.is_working_day(day) or not calendar.is_working_day(day + timedelta(days=1)):
        day += timedelta(days=1)
    eve = datetime.combine(day - timedelta(days=1), datetime.min.time(), rt.dispatcher.tz).replace(hour=17, minute=30)
    matter = rt.dispatcher.catalog.get(CODE)
    before = deadline_for(rt.dispatcher.calendar, matter, eve)
    assert before.astimezone(rt.dispatcher.tz).date() == day
    with client(srv) as admin, client(srv, "440104") as dadmin:
        assert dadmin.put(f"/api/calendar/{day}", json={"kind": "holiday"}).status_code == 403
        assert admin.put(f"/api/calendar/{day}", json={"kind": "vacation"}).status_code == 422
        assert admin.put(f"/api/calendar/{day}", json={"kind": "holiday", "name": "测试假日"}).status_code == 200
        moved = deadline_for(rt.dispatcher.calendar, matter, eve)
        assert moved.astimezone(rt.dispatcher.tz).date() > day
        days = admin.get("/api/calendar", params={"year": day.year}).json()["days"]
        assert {"day": day.isoformat(), "kind": "holiday", "name": "测试假日", "source": "stored"} in days
        deadline = time.monotonic() + 3
        while other.dispatcher.calendar.is_working_day(day):
            assert time.monotonic() < deadline, "the second node did not follow"
            time.sleep(0.05)
        assert admin.delete(f"/api/calendar/{day}").status_code == 204
        assert admin.delete(f"/api/calendar/{day}").status_code == 404
        assert deadline_for(rt.dispatcher.calendar, matter, eve) == before


def test_supervision_settings_apply(nodes: tuple[ServerThread, Runtime, Runtime], small_city: City) -> None:
    srv, rt, _ = nodes
    grid = small_city.grids[-1]
    case = rt.dispatcher.intake(Intake("citizen", grid.lon, grid.lat, datetime.now(UTC), matter_code="0102")).case
    cal = rt.dispatcher.calendar
    at = cal.add_hours(case.created_at, 0.4 * cal.hours_between(case.created_at, case.deadline))  # 40% used
    assert rt.dispatcher.supervise([case], at) == []  # 75% by default
    with client(srv) as admin, client(srv, "440104") as dadmin:
        assert admin.put("/api/settings/supervision", json={"warn_at": 1.5, "supervise_every_s": 30}).status_code == 422
        assert dadmin.put("/api/settings/supervision", json={"warn_at": 0.3, "supervise_every_s": 30}).status_code == 403
        put = admin.put("/api/settings/supervision", json={"warn_at": 0.3, "supervise_every_s": 20})
        assert put.status_code == 200 and put.json()["warn_at"] == 0.3
        assert dadmin.get("/api/settings/supervision").json()["defaults"]["warn_at"] == 0.75
    assert rt.dispatcher.config.supervise_every_s == 20
    [warned] = rt.dispatcher.supervise([case], at)
    assert warned.kind == "warning"


GOOD_CSV = """事项编码,事项名称,事项类别,责任部门,处置方式,时限（小时）,时限（工作日）,结案标准,区县,生效日期
0101,暴露垃圾,市容环境,环卫,网格员,1.5,,清理干净,{a},{day}
0601,占道摆卖,街面秩序,城管,部门,,2,摊点撤离,,{day}
"""
BAD_CSV = """事项编码,事项名称,事项类别,责任部门,处置方式,时限（小时）,时限（工作日）,结案标准,区县,生效日期
0101,暴露垃圾,市容环境,环卫,网格员,1.5,,清理干净,{a},{day}
0602,乱扔,不存在的类别,城管,部门,,2,标准,,{day}
0603,乱扔,街面秩序,城管,机器人,,,标准,,not-a-day
0604,乱扔,街面秩序,城管,部门,,2,标准,999999,{day}
0101,暴露垃圾,市容环境,环卫,网格员,2,,清理干净,{a},{day}
"""


def test_import_matters_all_or_nothing(nodes: tuple[ServerThread, Runtime, Runtime], small_city: City, tmp_path: Path) -> None:
    srv, rt, _ = nodes
    a, b = districts(small_city)
    day = (today(rt) + timedelta(days=10)).isoformat()
    context = ImportContext(rt.store, small_city, rt.config)
    before = len(rt.store.matter_versions())
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV.format(a=a, day=day), encoding="utf-8")
    refused = run_import("matters", bad, context, ImportOptions(actor="admin"))
    assert not refused.applied and len(rt.store.matter_versions()) == before
    places = {(p.row, p.column) for p in refused.problems}
    assert {(3, "事项类别"), (4, "处置方式"), (4, "时限（小时）"), (4, "生效日期"), (5, "区县"), (6, "事项编码")} <= places

    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV.format(a=a, day=day), encoding="utf-8")
    done = run_import("matters", good, context, ImportOptions(actor="admin"))
    assert done.applied and done.counts["approved"] == 2, done.problems
    rows = {(r["code"], r["district"]): r for r in rt.store.matter_versions(status="approved")}
    assert rows[("0601", "")]["change"] == "add" and rows[("0601", "")]["doc"]["time_limit"] == {"minutes": None, "hours": None, "days": 2.0}
    assert rows[("0101", a)]["effective_from"] == day

    # through the console, a district admin's rows become proposals of their district
    with client(srv, a) as dadmin:
        outside = dadmin.post("/api/import/matters", params={"filename": "m.csv"}, content=GOOD_CSV.format(a=b, day=day))
        assert outside.status_code == 422  # another district's row
        assert outside.json()["detail"]["problems"][0]["column"] == "区县"
        sent = dadmin.post("/api/import/matters", params={"filename": "m.csv"}, content=GOOD_CSV.format(a=a, day=day))
        assert sent.status_code == 200 and sent.json()["counts"]["proposed"] == 2, sent.text  # no district: theirs
        pending = dadmin.get("/api/matters/proposals", params={"status": "proposed"}).json()["items"]
        assert {(p["code"], p["district"]) for p in pending} >= {("0101", a), ("0601", a)}


def test_store_records_on_both_databases(empty_store_url: str) -> None:
    """The statements of store/matter_records.py on SQLite and PostgreSQL."""
    from command_center.store import create_store

    store = create_store(empty_store_url)
    try:
        row = {"code": "0101", "district": "440104", "status": "proposed", "change": "change", "doc": {"code": "0101"},
               "effective_from": "2026-01-01", "proposed_by": "a", "proposed_at": "t", "reason": "r"}  # fmt: skip
        stored = store.add_matter_versions([row, row])
        assert [s["version"] for s in stored] == [1, 2]
        assert store.decide_matter_version(stored[0]["seq"], "approved", "b", "t2", "ok")
        assert not store.decide_matter_version(stored[0]["seq"], "rejected", "b", "t2", "")
        assert [r["version"] for r in store.matter_versions(status="approved", district="440104")] == [1]
        store.put_day("2026-10-01", "holiday", "国庆", "a", "t")
        store.put_day("2026-10-01", "workday", "调休", "a", "t")
        assert [(d["day"], d["kind"]) for d in store.stored_days()] == [("2026-10-01", "workday")]
        assert store.delete_day("2026-10-01") and not store.delete_day("2026-10-01")
        store.put_setting("supervision", {"warn_at": 0.5}, "a", "t")
        store.put_setting("supervision", {"warn_at": 0.6}, "a", "t")
        assert store.setting("supervision")["doc"] == {"warn_at": 0.6}  # type: ignore[index]
    finally:
        store.close()

"""Patrol plans (basedata/patrol.py, store/patrol_records.py, api/patrols.py): the distance
and radius check, today's route, the catalogue; places and check-ins in the store on both
databases; and against a real server: a check-in 80 m from a 50 m place refused with the
distance, one inside accepted and the place's due date moved, a hazard reported as a case
in the place's grid, coverage per grid."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from basedata.patrol import (
    EARTH_RADIUS_M,
    CatalogueError,
    CheckIn,
    KeyPlace,
    after_check,
    check_answers,
    check_in_allowed,
    haversine_m,
    load_checklists,
    route_for,
)
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.patrol_records import PlaceExists, VersionConflict, patrol_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

G1, G2 = "440106001001001", "440106001001002"
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180  # metres per degree of latitude on the sphere
CATALOGUE = load_checklists()


def _place(pid: str, grid: str = G1, lon: float = 113.32, lat: float = 23.13, **more: Any) -> KeyPlace:
    return KeyPlace(id=pid, name=f"场所{pid}", kind="market", grid_code=grid, lon=lon, lat=lat,
                    checklist=CATALOGUE["market"], **more)  # fmt: skip


def _north(lat: float, metres: float) -> float:
    return lat + metres / M_PER_DEG


# the domain
def test_haversine_and_the_radius() -> None:
    place = _place("A")
    assert haversine_m(113.32, 23.13, 113.32, _north(23.13, 80)) == pytest.approx(80, abs=0.01)
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)  # a degree at the equator
    inside, distance = check_in_allowed(place, 113.32, _north(23.13, 30))
    assert inside and distance == pytest.approx(30, abs=0.01)
    outside, distance = check_in_allowed(place, 113.32, _north(23.13, 80))
    assert not outside and distance == pytest.approx(80, abs=0.01)
    with pytest.raises(ValueError, match="radius_m"):
        _place("B", radius_m=5)


def test_the_route_is_todays_due_places_of_the_grids_nearest_first() -> None:
    today = date(2026, 3, 10)
    start = _place("S", next_due=date(2026, 3, 1))  # the most overdue: the walk starts here
    far = _place("F", lat=_north(23.13, 900), next_due=None)
    near = _place("N", lat=_north(23.13, 100), next_due=today)
    later = _place("L", lat=_north(23.13, 50), next_due=today + timedelta(days=1))  # not due
    elsewhere = _place("E", grid=G2, next_due=None)  # not the worker's grid
    walk = route_for([far, near, later, elsewhere, start], {G1}, today)
    # never checked sorts first (None: date.min); then the nearest each step
    assert [p.id for p in walk] == ["F", "N", "S"]
    assert route_for([later, elsewhere], {G1}, today) == []


def test_answers_are_checked_against_the_checklist() -> None:
    place = _place("A")
    ids = [item.id for item in place.checklist]
    good = {i: "ok" for i in ids} | {ids[1]: "hazard"}
    assert check_answers(place, good) == good
    with pytest.raises(ValueError, match="not on this place's checklist"):
        check_answers(place, good | {"fe-door": "ok"})
    with pytest.raises(ValueError, match=f"{ids[0]}: 'bad'"):
        check_answers(place, good | {ids[0]: "bad"})
    with pytest.raises(ValueError, match=f"unanswered checklist items {ids[-1]}"):
        check_answers(place, {i: "ok" for i in ids[:-1]})
    checked = after_check(place.model_copy(update={"every_days": 3}), datetime(2026, 3, 10, 9, tzinfo=UTC))
    assert checked.next_due == date(2026, 3, 13)


def test_the_catalogue_has_every_kind_and_bad_files_name_the_entry(tmp_path: Path) -> None:
    assert set(CATALOGUE) == {"fire_exit", "rental_housing", "school_gate", "construction_site", "market", "other"}
    assert all(3 <= len(items) <= 6 for items in CATALOGUE.values())
    bad = tmp_path / "c.yaml"
    bad.write_text("market:\n  - {id: m1, text: 通道畅通}\n  - {id: m1, text: 重复}\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"c\.yaml: market item 2: id 'm1' is used twice"):
        load_checklists(bad)
    bad.write_text("market:\n  - {id: 'a b', text: x}\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"market item 1: id"):
        load_checklists(bad)


# the store, on both databases
@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def test_places_and_checkins_in_the_store(store: Store) -> None:
    records = patrol_store(store)
    records.add_place(_place("A"), "t")
    records.add_place(_place("B", grid=G2, next_due=date(2026, 3, 20)), "t")
    with pytest.raises(PlaceExists):
        records.add_place(_place("A"), "t")
    assert records.get_place("A") == _place("A")
    changed = records.update_place("A", {"name": "农贸市场", "radius_m": 80}, 1, "t")
    assert changed.version == 2 and records.get_place("A") == changed
    with pytest.raises(VersionConflict) as conflict:
        records.update_place("A", {"name": "x"}, 1, "t")
    assert conflict.value.current.name == "农贸市场"
    at = datetime(2026, 3, 10, 9, 30).astimezone()
    checkin = CheckIn(id="C1", place_id="A", worker_id="w1", grid_code=G1, at=at, lon=113.32, lat=23.13,
                      distance_m=3.2, answers={i.id: "ok" for i in CATALOGUE["market"]})  # fmt: skip
    records.record_checkin(checkin, after_check(changed, at), "w1")
    records.set_checkin_case("C1", "CASE-1")
    stored = records.get_place("A")
    assert stored is not None and stored.next_due == date(2026, 3, 17) and stored.version == 3
    assert stored.last_checked_at == at
    assert records.checkins_of("A")[0] == checkin.model_copy(update={"case_id": "CASE-1"})
    assert [p.id for p in records.places_in([G1, G2])] == ["A", "B"]
    assert [p.id for p in records.places_under("4401060010010")] == ["A", "B"]
    assert records.coverage("440106", date(2026, 3, 10)) == [
        {"grid_code": G1, "due": 1, "checked": 1, "places": 1},  # checked today counts as due today
        {"grid_code": G2, "due": 0, "checked": 0, "places": 1},  # due on the 20th
    ]
    assert records.coverage("440106", date(2026, 3, 20))[1] == {"grid_code": G2, "due": 1, "checked": 0, "places": 1}


# the API on a real server (SQLite)
@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    worker: str
    mine: str
    far: str

    def send(self, method: str, path: str, body: Any = None, **who: str | None) -> httpx.Response:
        return httpx.request(method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10)

    def as_worker(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.send(method, path, body, role="worker", worker_id=self.worker)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("patrols")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    far = next(g.code for g in small_city.grids if g.code.startswith("440104"))
    with serve_app(rt) as srv:
        yield World(srv, rt, worker.id, worker.grid_code, far)


def _new_place(world: World, grid: str, name: str, **more: Any) -> dict[str, Any]:
    area = world.rt.city.city.areas[grid]
    made = world.send("POST", "/api/patrols/places", {"name": name, "kind": "market", "lon": area.lon,
                                                      "lat": area.lat, **more})  # fmt: skip
    assert made.status_code == 201, made.text
    return dict(made.json())


def _answers(place: dict[str, Any], hazard: str | None = None) -> dict[str, str]:
    return {item["id"]: "hazard" if item["id"] == hazard else "ok" for item in place["checklist"]}


def test_who_manages_places(world: World) -> None:
    place = _new_place(world, world.mine, "菜市场")
    assert place["grid_code"] == world.mine and place["radius_m"] == 50 and place["due"]
    assert [i["id"] for i in place["checklist"]] == [i.id for i in CATALOGUE["market"]]
    body = {"name": "x", "kind": "market", "lon": place["lon"], "lat": place["lat"]}
    assert world.as_worker("POST", "/api/patrols/places", body).status_code == 403
    district = {"role": "officer", "user": "o-440104", "jurisdiction": "440104"}
    assert world.send("POST", "/api/patrols/places", body, **district).status_code == 403
    listed = world.as_worker("GET", "/api/patrols/places").json()["items"]
    assert place["id"] in {p["id"] for p in listed} and {p["grid_code"] for p in listed} == {world.mine}
    stale = world.send("PATCH", f"/api/patrols/places/{place['id']}", {"version": 1, "every_days": 3})
    assert stale.status_code == 200 and stale.json()["version"] == 2
    again = world.send("PATCH", f"/api/patrols/places/{place['id']}", {"version": 1, "name": "y"})
    assert again.status_code == 409 and again.json()["detail"]["current"]["every_days"] == 3


def test_a_check_in_outside_the_radius_is_refused_and_inside_moves_the_due_date(world: World) -> None:
    place = _new_place(world, world.mine, "五金市场", every_days=7)
    path = f"/api/patrols/places/{place['id']}/checkins"
    far = world.as_worker("POST", path, {"lon": place["lon"], "lat": _north(place["lat"], 80),
                                         "answers": _answers(place)})  # fmt: skip
    assert far.status_code == 422, far.text
    detail = far.json()["detail"]
    assert detail["distance_m"] == pytest.approx(80, abs=0.5) and detail["radius_m"] == 50
    assert "80 m" in detail["reason"] and "50 m" in detail["reason"]
    assert world.send("GET", "/api/patrols/places").status_code == 200
    route = world.as_worker("GET", "/api/patrols/route").json()
    assert place["id"] in [p["id"] for p in route["items"]]
    unanswered = world.as_worker("POST", path, {"lon": place["lon"], "lat": place["lat"], "answers": {}})
    assert unanswered.status_code == 422 and "unanswered" in unanswered.text
    near = world.as_worker("POST", path, {"lon": place["lon"], "lat": _north(place["lat"], 20),
                                          "answers": _answers(place)})  # fmt: skip
    assert near.status_code == 201, near.text
    body = near.json()
    assert body["distance_m"] == pytest.approx(20, abs=0.5) and body["case_id"] is None
    stored = patrol_store(world.rt.store).get_place(place["id"])
    assert stored is not None and stored.next_due == world.rt.dispatcher.today() + timedelta(days=7)
    assert body["place"]["next_due"] == stored.next_due.isoformat() and not body["place"]["due"]
    route = world.as_worker("GET", "/api/patrols/route").json()
    assert place["id"] not in [p["id"] for p in route["items"]]  # done for today
    officer = world.send("POST", path, {"lon": place["lon"], "lat": place["lat"], "answers": _answers(place)})
    assert officer.status_code == 403


def test_a_hazard_reported_becomes_a_case_in_the_grid(world: World) -> None:
    place = _new_place(world, world.mine, "农贸市场")
    path = f"/api/patrols/places/{place['id']}/checkins"
    hazard = "mk-gas"
    body = {"lon": place["lon"], "lat": place["lat"], "answers": _answers(place, hazard),
            "report": True, "hazard_note": "闻到燃气味"}  # fmt: skip
    made = world.as_worker("POST", path, body)
    assert made.status_code == 201, made.text
    case_id = made.json()["case_id"]
    case = world.rt.store.get_case(case_id)
    assert case is not None and case.grid_code == world.mine and case.source == "worker"
    assert case.matter_code == "0407"  # the item's matter: 燃气泄漏
    assert "燃气" in case.description and "闻到燃气味" in case.description
    assert patrol_store(world.rt.store).checkins_of(place["id"])[0].case_id == case_id
    nothing = world.as_worker("POST", path, body | {"answers": _answers(place)})
    assert nothing.status_code == 422 and "report" in nothing.text


def test_coverage_per_grid(world: World) -> None:
    for n in range(3):
        _new_place(world, world.far, f"学校{n}", kind="school_gate")
    before = world.send("GET", f"/api/patrols/coverage?area={world.far}").json()
    assert before["items"] == [before["items"][0]] and before["items"][0]["grid_code"] == world.far
    assert before["items"][0] | {"name": None} == {"grid_code": world.far, "name": None, "due": 3, "checked": 0,
                                                    "places": 3, "share": 0.0}  # fmt: skip
    assert before["items"][0]["name"] == world.rt.city.city.areas[world.far].name
    mine = world.send("GET", f"/api/patrols/coverage?area={world.mine}").json()["items"][0]
    assert mine["checked"] >= 2 and mine["due"] >= mine["checked"] and 0 < mine["share"] <= 1
    district = {"role": "officer", "user": "o-440104", "jurisdiction": "440104"}
    assert world.send("GET", f"/api/patrols/coverage?area={world.mine}", **district).status_code == 403
    own = world.send("GET", "/api/patrols/coverage", **district).json()
    assert {i["grid_code"] for i in own["items"]} == {world.far} and own["totals"]["due"] == 3


def test_the_days_are_the_citys_whatever_the_machines_zone(world: World) -> None:
    """At 17:00 UTC it is already 01:00 the next day in Guangzhou: the route and a check-in's
    new due date go by the city's day (the dispatcher's clock and zone), never the machine's."""
    dispatcher = world.rt.dispatcher
    real_clock = dispatcher.clock
    dispatcher.clock = lambda: datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    try:
        assert dispatcher.today() == date(2026, 12, 7)
        place = _new_place(world, world.mine, "夜市", every_days=7)
        done = world.as_worker("POST", f"/api/patrols/places/{place['id']}/checkins",
                               {"lon": place["lon"], "lat": place["lat"], "answers": _answers(place)})  # fmt: skip
        assert done.status_code == 201, done.text
        assert done.json()["place"]["next_due"] == "2026-12-14"  # 7 days from the city's day
        assert world.as_worker("GET", "/api/patrols/route").json()["day"] == "2026-12-07"
    finally:
        dispatcher.clock = real_clock

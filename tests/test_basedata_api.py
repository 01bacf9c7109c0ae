"""The base-data API (api/basedata.py) against a real server: per-grid counts with names,
lists and records scoped by jurisdiction and by a worker's grids, ID numbers and phones
masked, the audited reveal for admins only, compare-and-set changes (a stale version gets
409 with the current record), new records checked and sealed; and the key file's place
(config basedata.key_file, under the data dir)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from basedata.identity import check_id_number, id_check_char
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.basedata_config import KEY_ENV, base_data_key
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

PEOPLE = 300
MASKED_ID = re.compile(r"^\*{14}[0-9X]{4}$")
MASKED_PHONE = re.compile(r"^\*+[0-9-]{1,4}$")
ID_BODY = "44010619900307123"  # a Guangzhou resident born 1990-03-07 (odd sequence: male)
NEW_ID = ID_BODY + id_check_char(ID_BODY)
BAD_ID = ID_BODY + ("0" if id_check_char(ID_BODY) != "0" else "1")  # the check digit wrong


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    data: Path
    mine: str  # the worker's grid (district 440103)
    other: str  # another grid of 440103
    far: str  # a grid of district 440104
    worker: str

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def send(self, method: str, path: str, body: Any, **who: str | None) -> httpx.Response:
        return httpx.request(method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10)


OFFICER = {"role": "officer", "user": "officer-city"}
DISTRICT = {"role": "officer", "user": "officer-440104", "jurisdiction": "440104"}


def seed(rt: Runtime, key: Path, grids: list[tuple[str, float, float]]) -> None:
    """~300 people over the grids, sealed under the server's own key file."""
    cipher = FieldCipher(FieldKey.generate(key))
    base_data_store(rt.store).upsert_mixed(generate(grids, SampleSpec(people=PEOPLE, seed=3), cipher), by="test")


def _grids(city: City) -> tuple[str, str, str, str]:
    worker = city.workers[0]
    other = next(g.code for g in city.grids if g.code.startswith("440103") and g.code != worker.grid_code)
    far = next(g.code for g in city.grids if g.code.startswith("440104"))
    return worker.id, worker.grid_code, other, far


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("basedata")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker, mine, other, far = _grids(small_city)
    areas = small_city.areas
    seed(rt, data / "keys" / "basedata.key", [(g, areas[g].lon, areas[g].lat) for g in (mine, other, far)])
    with serve_app(rt) as srv:
        yield World(srv, rt, data, mine, other, far, worker)


def _worker(world: World) -> dict[str, str]:
    return {"role": "worker", "worker_id": world.worker}


def _first_person(world: World, grid: str) -> dict[str, Any]:
    found = world.get(f"/api/basedata/people?area={grid}&limit=1")
    assert found.status_code == 200, found.text
    return found.json()["items"][0]


# who may ask, and what they see
def test_anonymous_is_401_and_emergency_is_403(world: World) -> None:
    assert httpx.get(world.srv.url + "/api/basedata/counts", timeout=10).status_code == 401
    assert world.get("/api/basedata/people", role="emergency").status_code == 403


def test_counts_per_grid_carry_the_grid_names_and_follow_the_jurisdiction(world: World) -> None:
    everything = world.get("/api/basedata/counts")
    assert everything.status_code == 200, everything.text
    body = everything.json()
    names = {g.code: g.name for g in world.rt.city.city.grids}
    assert [i["grid_code"] for i in body["items"]] == sorted([world.mine, world.other, world.far])
    assert all(i["name"] == names[i["grid_code"]] and i["name"] for i in body["items"])
    assert body["totals"]["people"] == PEOPLE and body["totals"]["buildings"] > 0
    assert body["totals"]["overdue"] == sum(i["overdue"] for i in body["items"])

    district = world.get("/api/basedata/counts", **DISTRICT).json()  # no area: their district
    assert [i["grid_code"] for i in district["items"]] == [world.far]
    refused = world.get("/api/basedata/counts?area=440103", **DISTRICT)
    assert refused.status_code == 403 and "440104" in refused.text
    narrowed = world.get("/api/basedata/counts?area=440103", **OFFICER).json()
    assert {i["grid_code"] for i in narrowed["items"]} == {world.mine, world.other}


def test_the_district_officer_lists_and_reads_only_their_district(world: World) -> None:
    listed = world.get("/api/basedata/people?limit=1000", **DISTRICT).json()
    assert listed["total"] == len(listed["items"]) > 0
    assert {p["grid_code"] for p in listed["items"]} == {world.far}
    elsewhere = _first_person(world, world.mine)
    assert world.get(f"/api/basedata/people/{elsewhere['id']}", **DISTRICT).status_code == 404
    assert world.get("/api/basedata/people?area=440103", **DISTRICT).status_code == 403


def test_an_officer_sees_ids_and_phones_masked_and_cannot_reveal(world: World) -> None:
    page = world.get("/api/basedata/people?limit=50", **OFFICER)
    assert page.status_code == 200 and page.json()["total"] == PEOPLE
    people = page.json()["items"]
    assert len(people) == 50 and all(MASKED_ID.match(p["id_number"]) for p in people)
    assert all(p["phone"] is None or MASKED_PHONE.match(p["phone"]) for p in people)
    assert "cipher" not in page.text and "index" not in page.text and "v1:" not in page.text
    one = world.get(f"/api/basedata/people/{people[0]['id']}", **OFFICER).json()
    assert MASKED_ID.match(one["id_number"]) and one["id"] == people[0]["id"]
    refused = world.send("POST", f"/api/basedata/people/{one['id']}/reveal",
                         {"field": "id_number", "reason": "核实"}, **OFFICER)  # fmt: skip
    assert refused.status_code == 403
    assert not [r for r in world.rt.store.iter_audit() if r["action"] == "basedata.reveal" and r["actor"] == "officer-city"]


def test_an_admin_reveals_with_a_reason_and_the_reveal_is_audited(world: World) -> None:
    person = _first_person(world, world.other)
    path = f"/api/basedata/people/{person['id']}/reveal"
    assert world.send("POST", path, {"field": "id_number"}).status_code == 422  # no reason
    assert world.send("POST", path, {"field": "id_number_index", "reason": "x"}).json()["detail"]["field"] == "field"
    revealed = world.send("POST", path, {"field": "id_number", "reason": "走访核实身份"})
    assert revealed.status_code == 200, revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    value = revealed.json()["value"]
    assert check_id_number(value).number == value and value[-4:] == person["id_number"][-4:]
    rows = [r for r in world.rt.store.iter_audit() if r["action"] == "basedata.reveal"]
    assert rows and rows[-1]["target"] == person["id"] and rows[-1]["actor"] == "admin"
    assert "id_number" in rows[-1]["detail"] and "走访核实身份" in rows[-1]["detail"]
    assert value not in rows[-1]["detail"]  # the log says what was revealed, not the value


def test_a_worker_sees_and_changes_only_their_own_grid(world: World) -> None:
    who = _worker(world)
    listed = world.get("/api/basedata/households?limit=1000", **who).json()
    assert listed["total"] == len(listed["items"]) > 0 and {h["grid_code"] for h in listed["items"]} == {world.mine}
    counts = world.get("/api/basedata/counts", **who).json()
    assert [i["grid_code"] for i in counts["items"]] == [world.mine]
    assert world.get(f"/api/basedata/counts?area={world.far[:6]}", **who).status_code == 403
    theirs = world.get(f"/api/basedata/households?area={world.other}&limit=1", **OFFICER).json()["items"][0]
    assert world.get(f"/api/basedata/households/{theirs['id']}", **who).status_code == 404
    patched = world.send("PATCH", f"/api/basedata/households/{theirs['id']}", {"version": theirs["version"],
                         "room": "9-901"}, **who)  # fmt: skip
    assert patched.status_code == 404
    assert world.get(f"/api/basedata/households/{theirs['id']}", **OFFICER).json()["room"] == theirs["room"]


def test_a_stale_change_gets_409_with_the_current_record(world: World) -> None:
    who = _worker(world)
    person = _first_person(world, world.mine)
    path = f"/api/basedata/people/{person['id']}"
    first = world.send("PATCH", path, {"version": person["version"], "name": "王小明"}, **who)
    assert first.status_code == 200, first.text
    assert first.json()["name"] == "王小明" and first.json()["version"] == person["version"] + 1
    stale = world.send("PATCH", path, {"version": person["version"], "name": "王大明"}, **who)
    assert stale.status_code == 409, stale.text
    current = stale.json()["detail"]["current"]
    assert current["version"] == person["version"] + 1 and current["name"] == "王小明"
    assert MASKED_ID.match(current["id_number"])
    assert world.get(path, **who).json()["name"] == "王小明"


def test_a_re_check_moves_the_next_check_by_the_cycle(world: World) -> None:
    households = world.get(f"/api/basedata/households?area={world.mine}&limit=1000").json()["items"]
    rental = next(h for h in households if h["kind"] == "rental")
    owned = next(h for h in households if h["kind"] == "owner")
    today = world.rt.dispatcher.today()  # the city's date, as the routes take it
    for household, days in ((rental, 30), (owned, 90)):
        done = world.send("PATCH", f"/api/basedata/households/{household['id']}",
                          {"version": household["version"], "verified": True}, **_worker(world))  # fmt: skip
        assert done.status_code == 200, done.text
        after = done.json()
        assert after["verified_at"] == today.isoformat() and after["source"] == "verify"
        assert after["next_check_at"] == (today + timedelta(days=days)).isoformat() and after["due"] is False


def test_new_records_are_checked_sealed_and_refused_twice(world: World) -> None:
    who = _worker(world)
    household = world.get(f"/api/basedata/households?area={world.mine}&limit=1").json()["items"][0]
    form = {"household_id": household["id"], "name": "陈新", "id_number": BAD_ID, "phone": "138 0013 8000"}
    bad = world.send("POST", "/api/basedata/people", form, **who)
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "id_number"
    assert BAD_ID not in bad.text
    bad_phone = world.send("POST", "/api/basedata/people", form | {"id_number": NEW_ID, "phone": "12345"}, **who)
    assert bad_phone.status_code == 422 and bad_phone.json()["detail"]["field"] == "phone"
    made = world.send("POST", "/api/basedata/people", form | {"id_number": NEW_ID}, **who)
    assert made.status_code == 201, made.text
    person = made.json()
    assert (person["grid_code"], person["source"], person["version"]) == (world.mine, "collect", 1)
    assert person["id_number"] == "*" * 14 + NEW_ID[-4:] and person["phone"] == "*******8000"
    assert (person["sex"], person["birth_date"]) == ("M", "1990-03-07")  # read from the ID number
    assert NEW_ID not in made.text
    again = world.send("POST", "/api/basedata/people", form | {"id_number": NEW_ID}, **who)
    assert again.status_code == 409 and again.json()["detail"]["current"]["id"] == person["id"]
    same_id = world.send("POST", "/api/basedata/people", form | {"id_number": NEW_ID, "id": "P-other"}, **who)
    assert same_id.status_code == 409 and same_id.json()["detail"]["ids"] == [person["id"]]
    neighbour = next(p for p in world.get(f"/api/basedata/people?area={world.mine}&limit=5").json()["items"]
                     if p["id"] != person["id"])  # fmt: skip
    taken = world.send("PATCH", f"/api/basedata/people/{neighbour['id']}",
                       {"version": neighbour["version"], "id_number": NEW_ID}, **who)  # fmt: skip
    assert taken.status_code == 409 and taken.json()["detail"]["ids"] == [person["id"]]
    revealed = world.send("POST", f"/api/basedata/people/{person['id']}/reveal", {"field": "phone", "reason": "回访"})
    assert revealed.json()["value"] == "13800138000"
    elsewhere = world.send("POST", "/api/basedata/addresses", {"code": "AX1", "text": "越秀路1号", "lon": 113.27,
                           "lat": 23.13, "grid_code": world.far}, **who)  # fmt: skip
    assert elsewhere.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/api/basedata/cars", None, 404, "no such kind of base data"),
        ("GET", "/api/basedata/people?due=maybe", None, 400, "bad query parameter 'due'"),
        ("GET", "/api/basedata/people?area=44x", None, 400, "bad query parameter 'area'"),
        ("GET", "/api/basedata/people?limit=0", None, 400, "bad query parameter 'limit'"),
        ("GET", "/api/basedata/buildings/nope", None, 404, "no such building"),
        ("POST", "/api/basedata/addresses", "{not json", 400, "malformed JSON"),
        ("POST", "/api/basedata/addresses", {"code": "A1", "version": 3}, 422, "bad field 'version'"),
        ("POST", "/api/basedata/buildings", {"code": "B9", "address_code": "nope"}, 422, "bad field 'address_code'"),
        ("PATCH", "/api/basedata/households/any", {"room": "1"}, 422, "bad field 'version'"),
        ("PATCH", "/api/basedata/people/any", {"version": 1, "sex": "F"}, 422, "bad field 'sex'"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(
    world: World, method: str, path: str, body: Any, status: int, error: str
) -> None:
    headers = world.srv.headers()
    if isinstance(body, str):
        got = httpx.request(method, world.srv.url + path, content=body, headers=headers, timeout=10)
    else:
        got = httpx.request(method, world.srv.url + path, json=body, headers=headers, timeout=10)
    assert (got.status_code, got.json()["error"]) == (status, error), got.text


def test_an_unknown_field_and_a_bad_value_are_422_naming_them(world: World) -> None:
    household = world.get(f"/api/basedata/households?area={world.far}&limit=1").json()["items"][0]
    path = f"/api/basedata/households/{household['id']}"
    unknown = world.send("PATCH", path, {"version": household["version"], "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "colour"
    wrong = world.send("PATCH", path, {"version": household["version"], "kind": "castle"})
    assert wrong.status_code == 422 and wrong.json()["detail"]["field"] == "kind"
    assert world.get(path).json()["version"] == household["version"]  # nothing changed


# the key file
def test_the_key_file_lies_under_the_data_dir_unless_overridden(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    config = world.rt.config
    assert config.basedata.key_path(config.server.data_dir) == world.data / "keys" / "basedata.key"
    assert (world.data / "keys" / "basedata.key").exists()  # the one the server opened for the reveal
    absolute = parse_config({"basedata": {"key_file": str(tmp_path / "k" / "b.key")}}).basedata
    assert absolute.key_path(Path("anywhere")) == tmp_path / "k" / "b.key"
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.key"))
    assert config.basedata.key_path(config.server.data_dir) == tmp_path / "env.key"
    # made on first use; never made anew while sealed values are stored (they would be lost)
    records = base_data_store(world.rt.store)
    with pytest.raises(ValueError, match="restore the key file"):
        base_data_key(records, tmp_path / "missing.key")
    assert not (tmp_path / "missing.key").exists()


def test_on_postgresql_counts_lists_and_a_stale_change(tmp_path: Path, small_city: City) -> None:
    with postgres_database("cc_basedata_api") as url:
        config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": url})
        rt = build_runtime(config, city=small_city)
        _, mine, _, far = _grids(small_city)
        grids = [(g, small_city.areas[g].lon, small_city.areas[g].lat) for g in (mine, far)]
        seed(rt, tmp_path / "keys" / "basedata.key", grids)
        with serve_app(rt) as srv:
            headers = srv.headers(**DISTRICT)
            counts = httpx.get(srv.url + "/api/basedata/counts", headers=headers, timeout=10).json()
            assert [i["grid_code"] for i in counts["items"]] == [far] and counts["items"][0]["name"]
            people = httpx.get(srv.url + "/api/basedata/people?due=1&limit=5", headers=headers, timeout=10).json()
            assert people["items"] and all(MASKED_ID.match(p["id_number"]) for p in people["items"])
            person = people["items"][0]
            path = f"{srv.url}/api/basedata/people/{person['id']}"
            body = {"version": person["version"], "name": "林一"}
            assert httpx.patch(path, json=body, headers=headers, timeout=10).status_code == 200
            stale = httpx.patch(path, json=body, headers=headers, timeout=10)
            assert stale.status_code == 409 and stale.json()["detail"]["current"]["version"] == person["version"] + 1
        rt.store.close()

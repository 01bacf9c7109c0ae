"""The terminal's collection through the API (api/basedata_collect.py), on SQLite and
PostgreSQL against a real server: a new record sent with a client id is made once, and a
resend whose first answer was lost gets that record back (200, one row, one audit entry),
even when both arrive at once; the client id is the caller's own; a stale change gets 409
with the record as it stands now (what the terminal shows as a conflict); a building's
households with their people, masked and scoped; the door-plate photo id on households and
buildings (migration 0018)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from basedata.identity import id_check_char
from basedata.model import PHOTO_ID, Household
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.config import parse_config
from command_center.photos import PHOTO_ID as SERVER_PHOTO_ID
from command_center.runtime import Runtime
from command_center.store import create_store
from command_center.store.basedata_records import base_data_store
from command_center.store.collect_records import ClaimTaken, collect_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

MASKED_ID = re.compile(r"^\*{14}[0-9X]{4}$")
BODY = "44010619880412231"  # a Guangzhou resident born 1988-04-12
NEW_ID = BODY + id_check_char(BODY)
OFFICER = {"role": "officer", "user": "officer-city"}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    mine: str  # the worker's grid
    other: str  # a grid of the same district that is not theirs
    worker: str

    def send(self, method: str, path: str, body: Any = None, **who: str | None) -> httpx.Response:
        who = who or {"role": "worker", "worker_id": self.worker}
        return httpx.request(
            method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=20
        )

    def building(self, grid: str) -> dict[str, Any]:
        page = self.send("GET", f"/api/basedata/buildings?area={grid}&limit=1", **OFFICER)
        assert page.status_code == 200, page.text
        return dict(page.json()["items"][0])

    def creates(self, key: str) -> list[dict[str, Any]]:
        return [
            r for r in self.rt.store.iter_audit() if r["action"] == "basedata.create" and r["target"] == key
        ]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    data = tmp_path_factory.mktemp(f"collect-{request.param}")
    worker = small_city.workers[0]
    other = next(
        g.code for g in small_city.grids if g.code[:6] == worker.grid_code[:6] and g.code != worker.grid_code
    )
    grids = [(g, small_city.areas[g].lon, small_city.areas[g].lat) for g in (worker.grid_code, other)]
    with _store_url(request.param, data) as url:
        rt = build_runtime(parse_config({"server": {"data_dir": str(data)}, "store": url}), city=small_city)
        cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
        base_data_store(rt.store).upsert_mixed(
            generate(grids, SampleSpec(people=60, seed=5), cipher), by="test"
        )
        with serve_app(rt) as srv:
            yield World(srv, rt, worker.grid_code, other, worker.id)
        rt.store.close()


def _store_url(kind: str, data: Path) -> Any:
    if kind == "postgresql":
        return postgres_database("cc_collect")
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{data / 'cc.db'}")


def test_a_resent_household_and_person_are_made_once(world: World) -> None:
    building = world.building(world.mine)
    form = {"building_code": building["code"], "room": "7-0701", "kind": "rental", "client_id": "hh-7f3a9c21"}
    first = world.send("POST", "/api/basedata/households", form)
    assert first.status_code == 201, first.text
    household = first.json()
    assert (household["id"], household["source"], household["version"]) == (
        f"{building['code']}-7-0701",
        "collect",
        1,
    )
    assert "client_id" not in household and "resent" not in household
    again = world.send("POST", "/api/basedata/households", form)  # the first answer never reached the phone
    assert again.status_code == 200, again.text
    assert again.json() | {"resent": None} == household | {"resent": None} and again.json()["resent"] is True
    person_form = {"household_id": household["id"], "name": "黄晓燕", "id_number": NEW_ID, "phone": "13912345678",
                   "kind": "migrant", "arrival_date": "2024-03-01", "client_id": "pp-01HZX9K2M"}  # fmt: skip
    made = world.send("POST", "/api/basedata/people", person_form)
    assert made.status_code == 201, made.text
    resent = world.send("POST", "/api/basedata/people", person_form)
    assert resent.status_code == 200 and resent.json()["id"] == made.json()["id"], resent.text
    assert MASKED_ID.match(resent.json()["id_number"]) and NEW_ID not in resent.text
    records = base_data_store(world.rt.store)
    rooms = [
        h for h in records.list("household", world.mine, limit=1000) if h.model_dump()["room"] == "7-0701"
    ]
    assert len(rooms) == 1 and rooms[0].version == 1  # not overwritten by the resend either
    found = records.find_person_by_index(records.get("person", made.json()["id"]).id_number.index)  # type: ignore[union-attr]
    assert [p.id for p in found] == [made.json()["id"]]
    assert len(world.creates(household["id"])) == 1 and len(world.creates(made.json()["id"])) == 1
    # without a client id a second form for the same room is still a conflict, as before
    plain = world.send(
        "POST", "/api/basedata/households", {k: v for k, v in form.items() if k != "client_id"}
    )
    assert plain.status_code == 409 and plain.json()["detail"]["current"]["id"] == household["id"]


def test_two_sends_of_one_form_at_once_make_one_record(world: World) -> None:
    building = world.building(world.mine)
    form = {"building_code": building["code"], "room": "8-0802", "client_id": "race-0123456789"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: world.send("POST", "/api/basedata/households", form), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(world.creates(answers[0].json()["id"])) == 1


def test_a_client_id_is_the_callers_own_and_names_one_kind(world: World) -> None:
    building = world.building(world.mine)
    mine = world.send("POST", "/api/basedata/households",
                      {"building_code": building["code"], "room": "9-0903", "client_id": "shared-id-42"})  # fmt: skip
    assert mine.status_code == 201, mine.text
    theirs = world.send("POST", "/api/basedata/households",
                        {"building_code": building["code"], "room": "9-0904", "client_id": "shared-id-42"}, **OFFICER)  # fmt: skip
    assert theirs.status_code == 201 and theirs.json()["room"] == "9-0904", theirs.text
    other_kind = world.send("POST", "/api/basedata/people", {"household_id": mine.json()["id"], "name": "李四",
                            "id_number": NEW_ID, "client_id": "shared-id-42"})  # fmt: skip
    assert other_kind.status_code == 422 and other_kind.json()["detail"]["field"] == "client_id", (
        other_kind.text
    )
    for bad in ("short", "has space in it", 12345678, "x" * 65):
        refused = world.send("POST", "/api/basedata/households", {"building_code": building["code"], "room": "1",
                             "client_id": bad})  # fmt: skip
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == "client_id", refused.text


def test_a_stale_change_answers_409_with_the_record_as_it_stands(world: World) -> None:
    listed = world.send("GET", f"/api/basedata/people?area={world.mine}&limit=1").json()["items"][0]
    path = f"/api/basedata/people/{listed['id']}"
    officer = world.send("PATCH", path, {"version": listed["version"], "name": "张建国"}, **OFFICER)
    assert officer.status_code == 200, officer.text
    stale = world.send("PATCH", path, {"version": listed["version"], "name": "张建华", "verified": True})
    assert stale.status_code == 409, stale.text
    body = stale.json()
    assert body["error"] == "changed meanwhile: the record has a newer version"
    current = body["detail"]["current"]
    assert (current["name"], current["version"]) == ("张建国", listed["version"] + 1)
    assert MASKED_ID.match(current["id_number"]) and current["id"] == listed["id"]
    kept = world.send(
        "PATCH", path, {"version": current["version"], "name": "张建华", "verified": True}
    )  # keep mine
    assert kept.status_code == 200 and kept.json()["name"] == "张建华" and kept.json()["source"] == "verify"


def test_a_building_with_its_households_and_people(world: World) -> None:
    building = world.building(world.mine)
    got = world.send("GET", f"/api/basedata/buildings/{building['code']}/households")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["building"]["code"] == building["code"] and body["truncated"] is False
    homes = body["households"]
    assert homes and all(h["building_code"] == building["code"] for h in homes)
    assert [h["id"] for h in homes] == sorted(h["id"] for h in homes)
    people = [p for h in homes for p in h["people"]]
    assert people and all(p["household_id"] in {h["id"] for h in homes} for p in people)
    assert all(MASKED_ID.match(p["id_number"]) for p in people) and "cipher" not in got.text
    expected = world.send("GET", f"/api/basedata/households?area={world.mine}&limit=1000").json()["items"]
    assert {h["id"] for h in homes} == {h["id"] for h in expected if h["building_code"] == building["code"]}
    gone = people[0]["id"]  # marked moved out (迁出): left out, as the lists leave them out
    assert world.send("DELETE", f"/api/basedata/people/{gone}", **OFFICER).status_code in (200, 204)
    again = world.send("GET", f"/api/basedata/buildings/{building['code']}/households").json()
    assert gone not in {p["id"] for h in again["households"] for p in h["people"]}
    assert len([p for h in again["households"] for p in h["people"]]) == len(people) - 1
    theirs = world.building(world.other)
    assert world.send("GET", f"/api/basedata/buildings/{theirs['code']}/households").status_code == 404
    assert (
        world.send("GET", f"/api/basedata/buildings/{theirs['code']}/households", **OFFICER).status_code
        == 200
    )
    missing = world.send("GET", "/api/basedata/buildings/NOPE-1/households")
    assert (missing.status_code, missing.json()["error"]) == (404, "no such building")


def _photo(world: World, grid: str, **who: str | None) -> str:
    jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    headers = world.srv.headers(**(who or {"role": "worker", "worker_id": world.worker})) | {
        "Content-Type": "image/jpeg"
    }
    sent = httpx.post(
        f"{world.srv.url}/api/field-photos?grid={grid}", content=jpeg, headers=headers, timeout=20
    )
    assert sent.status_code == 201, sent.text
    return str(sent.json()["id"])


def test_a_door_plate_photo_on_households_and_buildings(world: World) -> None:
    assert SERVER_PHOTO_ID.pattern == PHOTO_ID  # basedata keeps its own copy of the server's pattern
    building = world.building(world.mine)
    path = f"/api/basedata/buildings/{building['code']}"
    current = world.send("GET", path).json()
    assert current["plate_photo_id"] is None
    bad = world.send("PATCH", path, {"version": current["version"], "plate_photo_id": "../x.jpg"})
    assert bad.status_code == 400 and bad.json()["error"] == "unknown photo", bad.text
    made_up = world.send("PATCH", path, {"version": current["version"], "plate_photo_id": "P0123456789ab"})
    assert made_up.status_code == 400 and made_up.json()["error"] == "unknown photo", made_up.text
    elsewhere = _photo(world, world.other, **OFFICER)  # the officer's, of another grid
    wrong_grid = world.send(
        "PATCH", path, {"version": current["version"], "plate_photo_id": elsewhere}, **OFFICER
    )
    assert wrong_grid.status_code == 400 and wrong_grid.json()["error"] == "photo of another grid", (
        wrong_grid.text
    )
    plate = _photo(world, world.mine)
    changed = world.send("PATCH", path, {"version": current["version"], "plate_photo_id": plate})
    assert changed.status_code == 200 and changed.json()["plate_photo_id"] == plate, changed.text
    door = _photo(world, world.mine)
    form = {
        "building_code": building["code"],
        "room": "2-0201",
        "plate_photo_id": door,
        "client_id": "door-2-0201",
    }
    home = world.send("POST", "/api/basedata/households", form)
    assert home.status_code == 201 and home.json()["plate_photo_id"] == door, home.text
    assert (
        world.send("POST", "/api/basedata/households", form).status_code == 200
    )  # its resend takes it again, harmlessly
    stored = base_data_store(world.rt.store).get("household", home.json()["id"])
    assert stored is not None and stored.model_dump()["plate_photo_id"] == door
    shown = httpx.get(f"{world.srv.url}/api/field-photos/{door}", timeout=20,
                      headers=world.srv.headers(role="worker", worker_id=world.worker))  # fmt: skip
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    # A re-import of the building (its file has no photo column) keeps the door plate.
    records = base_data_store(world.rt.store)
    again = records.get("building", building["code"])
    assert again is not None
    records.upsert_mixed([("building", again.model_copy(update={"plate_photo_id": None}))], "import")
    kept = records.get("building", building["code"])
    assert kept is not None and kept.model_dump()["plate_photo_id"] == plate


def test_a_client_id_written_meanwhile_makes_the_second_write_nothing(empty_store_url: str) -> None:
    """The store's half of "sent once", as when two nodes take the same resend: the second
    write of one client id raises ClaimTaken and leaves no record; another caller's same id
    is theirs."""
    store = create_store(empty_store_url)
    try:
        records = base_data_store(store)
        collect = collect_store(records)
        first = Household(id="B1-101", grid_code="440103001001001", building_code="B1", room="101")
        collect.create("household", first, "W1", ("W1", "form-000001"))
        assert collect.find("W1", "form-000001") == ("household", "B1-101")
        second = Household(id="B1-102", grid_code="440103001001001", building_code="B1", room="102")
        with pytest.raises(ClaimTaken):
            collect.create("household", second, "W1", ("W1", "form-000001"))
        assert records.get("household", "B1-102") is None and collect.find("W2", "form-000001") is None
        collect.create("household", second, "W2", ("W2", "form-000001"))
        assert records.get("household", "B1-102") is not None
        assert collect.find("W2", "form-000001") == ("household", "B1-102")
    finally:
        store.close()

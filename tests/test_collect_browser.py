"""Base-data collection on the worker's terminal (the 采集 tab, issue 19), in Chromium on a 390 px
phone against a real server (SQLite): with the browser offline the worker adds a household with
its door-plate photo and a person in it (a mistyped ID number is caught on the phone first);
back online the first send of the household reaches the server but its answer is lost (the
page's request is let through to the server and its response cut), and the queue still
syncs ONCE: one household row, one person, one 'basedata.create' audit each. Then a change
made on a version someone else changed meanwhile shows both versions: kept (sent again on
the current version) for a person, dropped for a household; and the re-check hook
('collect:edit') opens a household's form whose submit records a re-check."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from basedata.identity import id_check_char
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.basedata_records import BaseDataRecords, base_data_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = NEEDS_BROWSER
ARTIFACTS = ROOT / "var" / "test-artifacts" / "collect"
PASSWORD = "worker-pass"
ROOM, NAME, THEIR_NAME, MY_NAME = "12-1203", "黄晓燕", "黄晓红", "黄小燕"
BODY = "44010619880412231"
GOOD_ID = BODY + id_check_char(BODY)
BAD_ID = BODY + ("0" if id_check_char(BODY) != "0" else "1")


@dataclass
class Field:
    srv: ServerThread
    rt: Runtime
    worker: str
    building: str

    @property
    def records(self) -> BaseDataRecords:
        return base_data_store(self.rt.store)

    def creates(self, key: str) -> int:
        return sum(
            1 for r in self.rt.store.iter_audit() if r["action"] == "basedata.create" and r["target"] == key
        )

    def officer(self, method: str, path: str, body: Any = None) -> httpx.Response:
        who = {"role": "officer", "user": "officer-city"}
        return httpx.request(
            method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10
        )


@pytest.fixture
def field(tmp_path: Any, small_city: City) -> Iterator[Field]:
    """A worker of a grid holding sampled base data (sealed under the server's key file)."""
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    area = small_city.areas[worker.grid_code]
    cipher = FieldCipher(FieldKey.generate(tmp_path / "keys" / "basedata.key"))
    records = base_data_store(rt.store)
    records.upsert_mixed(
        generate([(worker.grid_code, area.lon, area.lat)], SampleSpec(people=30, seed=11), cipher), "test"
    )
    building = records.list("building", worker.grid_code, limit=1)[0].model_dump()["code"]
    with serve_app(rt) as srv:
        rt.auth.users.seed([Account(worker.id, PASSWORD, "worker", worker_id=worker.id)])
        yield Field(srv, rt, worker.id, building)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_collected_offline_synced_once_and_conflicts_settled(field: Field, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{field.srv.url}/terminal#collect")
        sign_in_form(page, field.worker, PASSWORD)
        page.wait_for_selector("#collect:not([hidden])", timeout=10000)
        page.click(f".collect-building-item[data-code='{field.building}']", timeout=10000)
        page.wait_for_selector(".collect-household", timeout=10000)
        _check_digits_as_the_server(page)
        home = _collect_offline(page, context, field)
        _sync_once_with_a_lost_answer(page, field, home)
        person = _person_conflict_kept(page, field, home)
        _household_conflict_dropped(page, field, home)
        _recheck_hook(page, field, home)
        words = visible_texts(page, "#collect")["words"]
        assert not english_words(words), words  # Chinese by default
        assert overflow_px(page) == 0
        assert person and not errors, errors
    except Exception:
        shot(page, "failed")
        raise
    finally:
        context.close()


def _check_digits_as_the_server(page: Any) -> None:
    """The phone's GB 11643 check (collect_check.js) agrees with basedata.identity's."""
    rng = random.Random(19)
    bodies = [f"{rng.choice((11, 44, 65))}{rng.randrange(10**15):015d}" for _ in range(200)]
    got = page.evaluate("async (bodies) => { const m = await import('/ui/terminal/collect_check.js');"
                        " return bodies.map((b) => m.idCheckChar(b)); }", bodies)  # fmt: skip
    assert got == [id_check_char(b) for b in bodies]
    assert "X" in got  # the tenth check value is a letter: it is covered


def _collect_offline(page: Any, context: Any, field: Field) -> str:
    context.set_offline(True)
    page.click(".collect-head [data-act=add_household]")
    page.fill("#collect-form input[name=room]", ROOM)
    page.select_option("#collect-form select[name=kind]", "rental")
    jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 120, np.uint8))[1].tobytes()
    page.set_input_files("#collect-form input[type=file]", files=[{"name": "plate.jpg", "mimeType": "image/jpeg",
                                                                    "buffer": jpeg}])  # fmt: skip
    page.wait_for_selector("#collect-form .collect-photo-preview img", timeout=5000)
    page.click("#collect-form button[type=submit]")
    home = f"{field.building}-{ROOM}"
    card = f".collect-household[data-household-id='{home}']"
    page.wait_for_selector(f"{card}[data-waiting=true]", timeout=5000)
    assert page.inner_text("#count-collect") == "1"
    assert page.get_attribute("#collect-queue", "data-state") == "offline"
    assert "离线：1 条待发送" in page.inner_text("#collect-queue-text")
    # a person in the household not sent yet; a mistyped ID number is caught on the phone
    page.click(f"{card} [data-act=add_person]")
    page.fill("#collect-form input[name=name]", NAME)
    page.fill("#collect-form input[name=id_number]", BAD_ID)
    page.fill("#collect-form input[name=phone]", "139 1234 5678")
    page.select_option("#collect-form select[name=kind]", "migrant")
    page.fill("#collect-form input[name=arrival_date]", "2024-03-01")
    page.click("#collect-form button[type=submit]")
    refused = page.wait_for_selector("#collect-form .rounds-error:not([hidden])", timeout=3000).inner_text()
    assert refused == "身份证号校验位不正确，请核对。", refused
    assert page.inner_text("#count-collect") == "1"
    page.fill("#collect-form input[name=id_number]", GOOD_ID)
    page.click("#collect-form button[type=submit]")
    page.wait_for_selector(f"{card} .collect-person[data-waiting=true]", timeout=5000)
    assert page.inner_text("#count-collect") == "2" and "离线：2 条待发送" in page.inner_text(
        "#collect-queue-text"
    )
    shot(page, "offline-queued")
    stored = page.evaluate("(w) => localStorage.getItem(`cc.collect.${w}`)", field.worker)
    assert ROOM in stored and NAME in stored
    assert field.records.get("household", home) is None  # nothing reached the server
    return home


def _sync_once_with_a_lost_answer(page: Any, field: Field, home: str) -> None:
    lost: list[int] = []

    def cut(route: Any) -> None:
        """The first POST reaches the server (which makes the household); its answer never reaches the page."""
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/basedata/households", cut)
    page.context.set_offline(False)  # the 'online' event sends the queue
    page.evaluate("() => window.cc.collect.flush()")
    wait_for(lambda: lost, 10, "the household's first send")
    assert lost == [201]
    page.wait_for_selector(
        "#collect-queue[data-state=offline]", timeout=5000
    )  # the lost answer reads as no network
    assert field.records.get("household", home) is not None and page.inner_text("#count-collect") == "2"
    page.unroute("**/api/basedata/households")
    page.evaluate("() => window.cc.collect.flush()")  # sent again: answered with the household the first made
    page.wait_for_selector("#count-collect:text-is('0')", timeout=10000)
    page.wait_for_selector("#collect-queue[data-state=empty]", timeout=5000)
    homes = [h for h in field.records.list("household", "", limit=100000) if h.model_dump()["room"] == ROOM]
    assert len(homes) == 1 and homes[0].version == 1
    household = homes[0].model_dump()
    assert household["kind"] == "rental" and household["plate_photo_id"], household
    people = [p for p in field.records.list("person", "", limit=100000) if p.model_dump()["name"] == NAME]
    assert len(people) == 1 and people[0].model_dump()["household_id"] == home
    assert people[0].model_dump()["arrival_date"] == date(2024, 3, 1)
    assert field.creates(home) == 1 and field.creates(people[0].model_dump()["id"]) == 1
    person = f".collect-household[data-household-id='{home}'] .collect-person[data-person-id='{people[0].model_dump()['id']}']"
    shown = page.wait_for_selector(person, timeout=5000).inner_text()
    assert NAME in shown and GOOD_ID[-4:] in shown and GOOD_ID not in shown  # masked as the API gives it
    page.wait_for_selector(f".collect-household[data-household-id='{home}'] img.collect-plate", timeout=5000)
    shot(page, "synced")


def _person_conflict_kept(page: Any, field: Field, home: str) -> str:
    person = next(p for p in field.records.list("person", "", limit=100000) if p.model_dump()["name"] == NAME)
    row = f".collect-person[data-person-id='{person.id}']"  # type: ignore[attr-defined]
    theirs = field.officer("PATCH", f"/api/basedata/people/{person.id}", {"version": 1, "name": THEIR_NAME})  # type: ignore[attr-defined]
    assert theirs.status_code == 200, theirs.text
    page.click(f"{row} [data-act=edit]")
    page.fill("#collect-form input[name=name]", MY_NAME)
    page.click("#collect-form button[type=submit]")
    conflict = page.wait_for_selector(".collect-conflict", timeout=10000)
    assert "在您修改期间已被他人修改" in conflict.inner_text()
    assert page.inner_text(".collect-conflict tr[data-field=name] td.mine") == MY_NAME
    assert page.inner_text(".collect-conflict tr[data-field=name] td.now") == THEIR_NAME
    assert (
        page.get_attribute("#collect-queue", "data-state") == "conflict"
        and page.inner_text("#count-collect") == "1"
    )
    shot(page, "conflict")
    page.click(".collect-conflict [data-keep]")
    page.wait_for_selector("#count-collect:text-is('0')", timeout=10000)
    after = field.records.get("person", person.id)  # type: ignore[attr-defined]
    assert after is not None and after.model_dump()["name"] == MY_NAME and after.version == 3
    return str(person.id)  # type: ignore[attr-defined]


def _household_conflict_dropped(page: Any, field: Field, home: str) -> None:
    card = f".collect-household[data-household-id='{home}']"
    page.wait_for_selector(f"{card}[data-waiting=false]", timeout=5000)
    theirs = field.officer("PATCH", f"/api/basedata/households/{home}", {"version": 1, "kind": "vacant"})
    assert theirs.status_code == 200, theirs.text
    page.click(f"{card} > .collect-actions [data-act=verify]")  # on the version the page read: stale
    page.wait_for_selector(".collect-conflict", timeout=10000)
    assert page.inner_text(".collect-conflict tbody tr td.mine") == "今日核实无误"
    page.click(".collect-conflict [data-drop]")
    page.wait_for_selector(".collect-conflict", state="detached", timeout=5000)
    assert page.inner_text("#count-collect") == "0"
    after = field.records.get("household", home)
    assert after is not None and after.version == 2 and after.model_dump()["kind"] == "vacant"


def _recheck_hook(page: Any, field: Field, home: str) -> None:
    page.click(".tab[data-tab=tasks]")
    page.evaluate(
        "(id) => window.dispatchEvent(new CustomEvent('collect:edit', {detail: {kind: 'households', id}}))",
        home,
    )
    page.wait_for_selector("#collect:not([hidden]) #collect-form form.collect-form", timeout=10000)
    assert page.inner_text("#collect-form h2") == f"核查住户：{ROOM}"
    assert page.input_value("#collect-form select[name=kind]") == "vacant"  # the record as it stands
    page.select_option("#collect-form select[name=kind]", "rental")
    assert page.inner_text("#collect-form button[type=submit]") == "核实无误并发送"
    page.click("#collect-form button[type=submit]")
    page.wait_for_selector("#collect-form", state="hidden", timeout=5000)

    def rechecked() -> bool:
        found = field.records.get("household", home)
        return found is not None and found.version == 3

    wait_for(rechecked, 10, "the re-check")
    after = field.records.get("household", home)
    assert after is not None and after.source == "verify" and after.verified_at == field.rt.dispatcher.today()
    assert after.model_dump()["kind"] == "rental"
    shot(page, "rechecked")


ADDRESS_CODE, BUILDING_CODE, BUILDING_NAME, NEW_NAME = "GZ-TEST-0001", "4401060019-B77", "试验楼", "试验楼东座"


def test_new_address_and_building_offline_edited_in_the_queue_and_sent_once(field: Field, browser: Any) -> None:
    """Offline, the worker adds a standard address and a building on it (placed by the phone's
    GPS), changes the building while it still waits, and adds a household whose room they then
    correct in the queue; back online each is made ONCE, as last changed."""
    area = field.rt.city.city.areas[field.records.get("building", field.building).grid_code]  # type: ignore[union-attr]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"latitude": area.lat, "longitude": area.lon})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{field.srv.url}/terminal#collect")
        sign_in_form(page, field.worker, PASSWORD)
        page.click(f".collect-building-item[data-code='{field.building}']", timeout=10000)
        page.wait_for_selector(".collect-household", timeout=10000)  # seen once online, kept for offline
        page.click("[data-back]")
        context.set_offline(True)
        page.click("[data-act=new_address]")
        page.fill("#collect-form input[name=code]", ADDRESS_CODE)
        page.fill("#collect-form input[name=text]", "天河区试验路1号")
        page.wait_for_function("() => document.querySelector('#collect-form .collect-where').textContent.includes('GPS')")
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f".collect-new[data-code='{ADDRESS_CODE}']", timeout=5000)
        page.click("[data-act=new_building]")
        page.fill("#collect-form input[name=code]", "楼 1")  # not a building code: caught on the phone
        page.fill("#collect-form input[name=address_code]", ADDRESS_CODE)
        page.fill("#collect-form input[name=floors]", "9")
        page.click("#collect-form button[type=submit]")
        refused = page.wait_for_selector("#collect-form .rounds-error:not([hidden])", timeout=3000).inner_text()
        assert "编码只能由字母、数字" in refused, refused
        page.fill("#collect-form input[name=code]", BUILDING_CODE)
        page.fill("#collect-form input[name=name]", BUILDING_NAME)
        page.wait_for_function("() => document.querySelector('#collect-form .collect-where').textContent.includes('GPS')")
        page.click("#collect-form button[type=submit]")
        queued = f".collect-new[data-code='{BUILDING_CODE}']"
        page.wait_for_selector(queued, timeout=5000)
        assert page.inner_text("#count-collect") == "2"
        # changed while it waits: the same entry, the same client id
        page.click(f"{queued} [data-act=edit]")
        assert page.input_value("#collect-form input[name=name]") == BUILDING_NAME
        page.fill("#collect-form input[name=name]", NEW_NAME)
        page.click("#collect-form button[type=submit]")
        page.wait_for_selector(f"{queued}:has-text('{NEW_NAME}')", timeout=5000)
        assert page.inner_text("#count-collect") == "2"
        _household_corrected_in_the_queue(page, field)
        assert overflow_px(page) == 0
        shot(page, "new-offline")
        lost: list[int] = []

        def cut(route: Any) -> None:  # the building's first answer lost: sent again, made once
            if route.request.method == "POST" and not lost:
                lost.append(route.fetch().status)
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route("**/api/basedata/buildings", cut)
        context.set_offline(False)
        page.evaluate("() => window.cc.collect.flush()")
        wait_for(lambda: lost, 10, "the building's first send")
        page.unroute("**/api/basedata/buildings")
        page.evaluate("() => window.cc.collect.flush()")
        page.wait_for_selector("#count-collect:text-is('0')", timeout=10000)
        address, building = field.records.get("address", ADDRESS_CODE), field.records.get("building", BUILDING_CODE)
        assert address is not None and building is not None and lost == [201]
        made = building.model_dump()
        assert made["name"] == NEW_NAME and made["address_code"] == ADDRESS_CODE and made["floors"] == 9
        assert made["grid_code"] == area.code and abs(made["lat"] - area.lat) < 1e-6 and building.version == 1
        assert field.creates(ADDRESS_CODE) == 1 and field.creates(BUILDING_CODE) == 1
        homes = [h for h in field.records.list("household", "", limit=100000) if h.model_dump()["building_code"] == field.building]
        assert [h.model_dump()["room"] for h in homes].count("8-0808") == 1 and "8-0801" not in [h.model_dump()["room"] for h in homes]
        assert field.creates(f"{field.building}-8-0808") == 1
        assert not errors, errors
    except Exception:
        shot(page, "new-failed")
        raise
    finally:
        context.close()


def _household_corrected_in_the_queue(page: Any, field: Field) -> None:
    page.click(f".collect-building-item[data-code='{field.building}']", timeout=10000)
    page.click(".collect-head [data-act=add_household]")
    page.fill("#collect-form input[name=room]", "8-0801")
    page.click("#collect-form button[type=submit]")
    card = f".collect-household[data-household-id='{field.building}-8-0801']"
    page.wait_for_selector(f"{card}[data-waiting=true]", timeout=5000)
    page.click(f"{card} [data-act=edit]")
    assert page.input_value("#collect-form input[name=room]") == "8-0801"
    page.fill("#collect-form input[name=room]", "8-0808")
    page.click("#collect-form button[type=submit]")
    page.wait_for_selector(f".collect-household[data-household-id='{field.building}-8-0808'][data-waiting=true]", timeout=5000)
    assert page.query_selector(card) is None and page.inner_text("#count-collect") == "3"
    page.click("[data-back]")

"""The grid worker's day on the terminal's 巡查 tab (issue 19, browser part 1), in Chromium on a
390 px phone against a real server (SQLite): check in for duty by GPS, today's route with a
key place by name, its checklist answered with a hazard reported as a case (in 任务 at once),
a second place refused 200 m away with the distance shown, then checked in offline and sent
once, a care visit recorded (its next due date moves), and check out. Every step is checked
through the API or the store, not only on the page."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from basedata.model import Person, Sealed
from basedata.patrol import EARTH_RADIUS_M
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.basedata_records import base_data_store
from command_center.store.patrol_records import PatrolRecords, patrol_store
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = NEEDS_BROWSER
ARTIFACTS = ROOT / "var" / "test-artifacts" / "rounds"
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180  # metres per degree of latitude
PASSWORD = "worker-pass"
MARKET, FIRE_EXIT, PERSON = "体育西农贸市场", "天河路消防通道", "陈桂英"


@dataclass
class Day:
    srv: ServerThread
    rt: Runtime
    worker: str
    lon: float
    lat: float
    market: str
    fire_exit: str
    membership: str

    def api(self, method: str, path: str, body: Any = None, **who: str | None) -> httpx.Response:
        return httpx.request(
            method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10
        )

    def as_worker(self, path: str) -> httpx.Response:
        return self.api("GET", path, role="worker", worker_id=self.worker, user=self.worker)

    @property
    def records(self) -> PatrolRecords:
        return patrol_store(self.rt.store)


def _place(srv: ServerThread, name: str, kind: str, lon: float, lat: float) -> str:
    made = httpx.post(f"{srv.url}/api/patrols/places", json={"name": name, "kind": kind, "lon": lon, "lat": lat},
                      headers=srv.headers(), timeout=10)  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.fixture
def day(tmp_path: Any, small_city: City) -> Iterator[Day]:
    """A worker the dispatcher gives their grid's cases to, two key places at the grid's centre,
    and a person living there in the 独居老人 group, paired with the worker, a day overdue."""
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    grid = small_city.grids[len(small_city.grids) // 2]
    worker = pick_worker(small_city, grid.code, datetime.now(rt.dispatcher.tz), lambda ids: {})
    assert worker is not None and worker.grid_code == grid.code
    area = rt.city.city.areas[grid.code]
    located = rt.city.index.locate(area.lon, area.lat)
    assert located is not None and located.grid_code == grid.code  # the centre lies in the grid
    sealed = Sealed(cipher="v1:c1", index=f"{1:064x}", tail="0021")
    person = Person(id="H1-1", grid_code=grid.code, household_id="H1", name=PERSON, id_number=sealed,
                    sex="F", birth_date=date(1941, 5, 6))  # fmt: skip
    base_data_store(rt.store).upsert("person", [person], by="test")
    with serve_app(rt) as srv:
        rt.auth.users.seed([Account(worker.id, PASSWORD, "worker", worker_id=worker.id)])
        market = _place(srv, MARKET, "market", area.lon, area.lat)
        fire_exit = _place(srv, FIRE_EXIT, "fire_exit", area.lon, area.lat)
        since = (rt.dispatcher.today() - timedelta(days=8)).isoformat()  # the city's date, as the routes take it
        care = {"person_id": person.id, "group": "elderly_alone", "since": since, "plan": "每周上门，查看用药",
                "paired_with": worker.id}  # fmt: skip
        made = httpx.post(f"{srv.url}/api/care/memberships", json=care, headers=srv.headers(), timeout=10)
        assert made.status_code == 201 and made.json()["days_overdue"] == 1, made.text
        yield Day(srv, rt, worker.id, area.lon, area.lat, market, fire_exit, made.json()["id"])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def route_ids(day: Day) -> list[str]:
    return [p["id"] for p in day.as_worker("/api/patrols/route").json()["items"]]


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def answer(page: Any, place: str, hazard: str | None = None) -> None:
    """Open the place's checklist; one item a hazard (if given), the rest 正常 by the button."""
    card = f".place[data-place-id='{place}']"
    page.click(f"{card} .place-head")
    page.wait_for_selector(f"{card} form.checklist", timeout=5000)
    if hazard:
        page.click(f"{card} .check-item[data-item='{hazard}'] .seg-option[data-answer=hazard]")
    page.click(f"{card} [data-all-ok]")


def test_the_workers_day_on_the_terminal(day: Day, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"longitude": day.lon, "latitude": day.lat, "accuracy": 5})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{day.srv.url}/terminal#rounds")
        sign_in_form(page, day.worker, PASSWORD)
        page.wait_for_selector("#rounds:not([hidden])", timeout=10000)
        _on_duty(page, day)
        _hazard_becomes_a_case(page, day)
        _too_far_then_offline(page, context, day)
        _visit(page, day)
        words = visible_texts(page, "#rounds")["words"]
        assert not english_words(words), words  # Chinese by default, no English words
        assert overflow_px(page) == 0
        _off_duty(page, day)
        assert not errors, errors
    except Exception:
        shot(page, "failed")
        raise
    finally:
        context.close()


def _on_duty(page: Any, day: Day) -> None:
    page.wait_for_selector("#duty[data-state=off]", timeout=10000)
    page.click("#duty-toggle")
    page.wait_for_selector("#duty[data-state=on]", timeout=10000)
    assert re.fullmatch(r"在岗 · \d\d:\d\d 起(（迟到）)?", page.inner_text("#duty-state"))
    assert page.inner_text("#duty-toggle") == "下班签退"
    opened = day.records.open_day(day.worker)
    assert opened is not None and opened["on_lon"] == pytest.approx(day.lon)
    since = datetime.fromisoformat(opened["on_at"])
    # the track starts with the duty (then a point a minute)
    wait_for(lambda: day.records.track_of(day.worker, since), 10, "the first track point")
    assert page.evaluate("() => window.cc.rounds.tracking()")


def _hazard_becomes_a_case(page: Any, day: Day) -> None:
    card = f".place[data-place-id='{day.market}']"
    page.wait_for_selector(f"{card} .place-name:text-is('{MARKET}')", timeout=10000)
    # the distance once the phone has a fix; the count once the route and the visits are in
    meta = page.wait_for_selector(f"{card} .place-meta:has-text('约 0 米')", timeout=10000).inner_text()
    assert "农贸市场" in meta and "从未检查" in meta and "约 0 米" in meta, meta
    page.wait_for_selector("#count-rounds:text-is('3')", timeout=5000)  # two places and a visit due
    answer(page, day.market, hazard="mk-gas")
    page.wait_for_selector(f"{card} .hazard-box:not([hidden])", timeout=3000)
    page.check(f"{card} .hazard-box input[name=report]")
    page.fill(f"{card} .hazard-box textarea", "闻到燃气味")
    shot(page, "checklist")
    assert overflow_px(page) == 0  # the open checklist fits the phone
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector("#rounds-result:not([hidden])", timeout=10000)
    case_id = page.get_attribute("#rounds-result", "data-case-id")
    assert case_id, page.inner_text("#rounds-result")
    result = page.inner_text("#rounds-result")
    assert f"已打卡：{MARKET}" in result and f"…{case_id[-8:]}" in result and "已列入“待办”" in result, result
    case = day.api("GET", f"/api/cases/{case_id}").json()
    assert (
        case["source"] == "worker" and case["matter_code"] == "0407" and "闻到燃气味" in case["description"]
    )
    assert case["assignee"] == day.worker
    # the place left today's route, in the API and on the page
    assert day.market not in route_ids(day) and day.fire_exit in route_ids(day)
    page.wait_for_selector(card, state="detached", timeout=5000)
    shot(page, "case-reported")
    page.click(".tab[data-tab=tasks]")
    page.wait_for_selector(f"#tasks article.task[data-case-id='{case_id}']", timeout=5000)
    page.click(".tab[data-tab=rounds]")


def _too_far_then_offline(page: Any, context: Any, day: Day) -> None:
    card = f".place[data-place-id='{day.fire_exit}']"
    context.set_geolocation({"longitude": day.lon, "latitude": day.lat + 200 / M_PER_DEG, "accuracy": 5})
    answer(page, day.fire_exit)
    page.click(f"{card} button[type=submit]")
    refused = page.wait_for_selector(f"{card} .rounds-error:has-text('距离')", timeout=10000).inner_text()
    assert re.search(r"距离 (199|200|201) 米，需在 50 米内", refused), refused
    assert day.fire_exit in route_ids(day) and not day.records.checkins_of(day.fire_exit)
    shot(page, "too-far")
    # back at the place, without network: kept in the outbox, then sent once
    context.set_geolocation({"longitude": day.lon, "latitude": day.lat, "accuracy": 5})
    context.set_offline(True)
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(f"{card}[data-waiting=true]", timeout=10000)
    assert not day.records.checkins_of(day.fire_exit)
    context.set_offline(False)
    page.evaluate("() => window.cc.rounds.flush()")
    page.wait_for_selector(card, state="detached", timeout=10000)
    page.evaluate("() => window.cc.rounds.flush()")  # a second flush has nothing left to send
    assert len(day.records.checkins_of(day.fire_exit)) == 1 and route_ids(day) == []
    page.wait_for_selector("#route .empty", timeout=5000)


def _visit(page: Any, day: Day) -> None:
    card = f".visit[data-membership-id='{day.membership}']"
    page.wait_for_selector(f"{card} .visit-name:text-is('{PERSON}')", timeout=5000)
    assert page.inner_text(f"{card} .visit-group") == "独居老人"
    assert page.inner_text(f"{card} .visit-due") == "逾期 1 天"
    assert page.get_attribute(f"{card} .visit-due", "data-overdue") == "true"
    assert "0021" not in page.inner_text(card)  # never an ID number, not even its tail
    page.click(f"{card} [data-record]")
    page.click(f"{card} .seg-option[data-outcome=ok]")
    page.fill(f"{card} textarea", "身体尚可，已送米油")
    shot(page, "visit")
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(card, state="detached", timeout=10000)
    after = day.api("GET", f"/api/care/memberships/{day.membership}").json()
    next_due = (day.rt.dispatcher.today() + timedelta(days=7)).isoformat()
    assert after["next_visit_due"] == next_due and after["days_overdue"] == 0
    assert [(v["note"], v["outcome"], v["worker_id"]) for v in after["visits"]] == [
        ("身体尚可，已送米油", "ok", day.worker)
    ]
    assert next_due in page.inner_text("#rounds-result")
    assert page.inner_text("#count-rounds") == "0"


def _off_duty(page: Any, day: Day) -> None:
    page.click("#duty-toggle")
    page.wait_for_selector("#duty[data-state=done]", timeout=10000)
    assert page.inner_text("#duty-state").startswith("今日已签退")
    assert day.records.open_day(day.worker) is None
    assert not page.evaluate("() => window.cc.rounds.tracking()")
    shot(page, "off-duty")

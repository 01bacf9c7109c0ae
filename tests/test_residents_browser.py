"""The residents' part of the citizen page in a phone-sized Chromium (issue 22, part 1): sign in
with the SMS code (read from the demo `log` sender's test hook), report, see it in 我的上报, the
case closed through the API by its worker and an officer, the reply and the closing photo shown,
rated with stars once; the rating on the case. On a weak network the list comes from the cache."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from command_center.config import parse_config
from command_center.store.resident_records import resident_store
from dispatch.city import City
from residents.sms import LogSender
from tests.browser import NEEDS_BROWSER, new_page
from tests.helpers import build_runtime, serve_app

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
PHONE = "13812345678"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("residents-browser")
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        yield {"server": server, "rt": rt, "city": small_city}


def sent_code(server: Any) -> str:
    """The code the demo's sender wrote to the log (its test hook), waited for."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        desk = getattr(server.app.state, "residents", None)
        sender = desk.sender if desk is not None else None
        if isinstance(sender, LogSender) and (code := sender.latest(PHONE)):
            return code
        time.sleep(0.1)
    raise AssertionError("no code was sent")


def close_case(server: Any, rt: Any, case_id: str) -> None:
    """The grid worker fixes it and sends a photo; an officer checks and closes it."""
    case = rt.store.get_case(case_id)
    worker, officer = server.headers(role="worker", worker_id=case.assignee), server.headers(role="officer")
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (40, 140, 200)).save(out, "JPEG")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        photo = http.post(f"/api/cases/{case_id}/photos", content=out.getvalue(),
                          headers=worker | {"Content-Type": "image/jpeg"})  # fmt: skip
        assert photo.status_code == 201, photo.text
        steps = (("accept", worker, {}), ("feedback", worker, {"note": "井盖已更换", "photos": [photo.json()["id"]]}),
                 ("close", officer, {"note": "核查通过"}))  # fmt: skip
        for action, who, body in steps:
            assert http.post(f"/api/cases/{case_id}/{action}", json=body, headers=who).status_code == 200


def test_a_resident_signs_in_reports_follows_and_rates(site: dict[str, Any], browser: Any) -> None:
    server, rt = site["server"], site["rt"]
    errors: list[str] = []
    page = new_page(browser, 390, 844, errors)
    page.goto(f"{server.url}/citizen")
    page.wait_for_selector("#service optgroup", state="attached", timeout=15000)
    assert page.inner_text("#tab-account") == "登录"
    page.click("#tab-account")
    page.fill("#phone", PHONE)
    page.click("#get-code")
    page.wait_for_selector("#signin-note:not([hidden])", timeout=10000)
    page.fill("#code", sent_code(server))
    page.click("#sign-in")
    page.wait_for_selector("#mine:not([hidden])", timeout=10000)
    assert page.inner_text("#tab-account") == "138****5678"  # the masked phone, never the number
    # report while signed in
    page.click("#tab-report")
    grid = site["city"].grids[60]
    page.select_option("#service", "0101")
    page.fill("#description", "小区门口井盖缺失")
    page.fill("#lat", str(grid.lat))
    page.fill("#long", str(grid.lon))
    page.click("#send")
    page.wait_for_selector("#status:not([hidden])", timeout=15000)
    report_id = page.inner_text("#tracking")
    # 我的上报: the report, its status chip, the grid's name
    page.click("#tab-mine")
    item = page.locator(f".mine-item[data-id='{report_id}']")
    item.wait_for(timeout=10000)
    assert item.locator(".chip").inner_text() in {"已派遣", "已立案", "已受理"}
    assert grid.name in item.inner_text()
    # closed through the API; the page reloaded shows the reply and the photo, and offers stars
    case_id = rt.store.get_report(report_id)["case_id"]
    close_case(server, rt, case_id)
    page.reload()
    page.wait_for_selector(f".mine-item[data-id='{report_id}'] .chip[data-status='closed']", timeout=15000)
    assert item.locator(".chip").inner_text() == "已办结"
    assert "井盖已更换" in item.locator(".mine-reply").inner_text()
    photo = item.locator(".mine-photo")
    photo.wait_for(timeout=10000)
    deadline = time.monotonic() + 15  # (wait_for_function evaluates a string: the page's CSP forbids it)
    while not photo.evaluate("img => img.complete && img.naturalWidth > 0") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert photo.evaluate("img => img.naturalWidth") > 0
    item.locator(".rate .star[data-n='4']").click()
    item.locator(".rate textarea").fill("很快就修好了")
    item.locator(".rate button[type=submit]").click()
    item.locator(".rated").wait_for(timeout=10000)
    assert item.locator(".rated .stars").inner_text().count("★") == 4
    assert resident_store(rt.store).case_rating(case_id) == (1, 4.0)  # the rating is on the case
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # a weak network: the list request fails; the cached list shows at once, said to be cached
    page.route("**/api/residents/me/reports", lambda route: route.abort())
    page.reload()
    page.wait_for_selector(f".mine-item[data-id='{report_id}'] .rated", timeout=10000)
    assert "上次加载" in page.inner_text("#mine-state")
    assert errors == []

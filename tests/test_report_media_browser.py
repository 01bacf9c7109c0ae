"""A clue with media on the citizen page in a phone-sized Chromium (issue 22): the resident signs
in with the SMS code (the demo `log` sender's test hook), reports with a photo, a voice note and
a 5-second video clip recorded from Chromium's fake camera and microphone
(--use-fake-device-for-media-stream, --use-fake-ui-for-media-stream), sees the suggested matter,
follows the case to closed (我的上报) and rates it. A neighbour is offered the open case nearby
(同一问题？关注它) and follows it. The page is an installable app: the manifest linked and served
as application/manifest+json, the service worker registered and in control."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from command_center.config import parse_config
from command_center.store.report_media_records import report_media_store
from command_center.store.resident_records import resident_store
from dispatch.city import City
from residents.sms import LogSender
from tests.browser import ARGS, CHROMIUM, NEEDS_BROWSER, new_page
from tests.helpers import build_runtime, serve_app
from tests.test_residents_browser import close_case

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("report-media-browser")
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        yield {"server": server, "rt": rt, "city": small_city}


@pytest.fixture(scope="module")
def media_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*ARGS, *MEDIA_ARGS])
        try:
            yield browser
        finally:
            browser.close()


def sent_code(server: Any, phone: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        desk = getattr(server.app.state, "residents", None)
        sender = desk.sender if desk is not None else None
        if isinstance(sender, LogSender) and (code := sender.latest(phone)):
            return code
        time.sleep(0.1)
    raise AssertionError("no code was sent")


def sign_in(page: Any, server: Any, phone: str) -> None:
    page.click("#tab-account")
    page.fill("#phone", phone)
    page.click("#get-code")
    page.wait_for_selector("#signin-note:not([hidden])", timeout=10000)
    page.fill("#code", sent_code(server, phone))
    page.click("#sign-in")
    page.wait_for_selector("#mine:not([hidden])", timeout=10000)
    page.click("#tab-report")


def record(page: Any, kind: str, seconds: float) -> None:
    page.click(f"#record-{kind}")
    page.wait_for_selector(f"#record-{kind}:text('停止')", timeout=10000)
    time.sleep(seconds)
    page.click(f"#record-{kind}")
    page.wait_for_selector(f"#{kind}-preview:not([hidden])", timeout=10000)


def photo_file(tmp: Any) -> str:
    path = tmp / "pothole.jpg"
    Image.new("RGB", (320, 240), (90, 90, 90)).save(path, "JPEG")
    return str(path)


def test_report_with_photo_voice_and_video_then_follow_and_rate(site: dict[str, Any], media_browser: Any, tmp_path: Any) -> None:  # noqa: E501
    server, rt, city = site["server"], site["rt"], site["city"]
    errors: list[str] = []
    page = new_page(media_browser, 390, 844, errors)
    page.goto(f"{server.url}/citizen")
    page.wait_for_selector("#service optgroup", state="attached", timeout=15000)
    sign_in(page, server, "13822223333")
    grid = city.grids[70]
    page.fill("#description", "路口垃圾成堆，没人清理")
    page.set_input_files("#media", photo_file(tmp_path))
    # the suggested matter (POST /api/suggestions): shown as chips; picking one sets 问题类型
    page.wait_for_selector("#suggest .suggest-chip", timeout=15000)
    chip = page.locator("#suggest .suggest-chip").first
    suggested = chip.get_attribute("data-code")
    chip.click()
    assert page.input_value("#service") == suggested
    page.select_option("#service", "0101")  # the reporter may change it
    page.fill("#lat", str(grid.lat))
    page.fill("#long", str(grid.lon))
    page.dispatch_event("#long", "change")
    page.wait_for_selector("#grid-name:not([hidden])", timeout=10000)
    assert grid.name in page.inner_text("#grid-name")
    record(page, "voice", 2)
    record(page, "video", 5)
    assert 4 <= float(page.get_attribute("#video-state", "data-seconds")) <= 7
    page.click("#send")
    page.wait_for_selector("#status:not([hidden])", timeout=20000)
    report_id = page.inner_text("#tracking")
    media = report_media_store(rt.store).of_report(report_id)
    assert [m.kind for m in media] == ["photo", "voice", "video"]
    assert media[2].mime == "video/webm" and 4 <= (media[2].duration_s or 0) <= 7
    assert media[1].mime == "audio/webm"
    case_id = rt.store.get_report(report_id)["case_id"]
    # the worker plays the voice note back: it is served to staff of the case
    with httpx.Client(base_url=server.url, timeout=10) as http:
        listed = http.get(f"/api/cases/{case_id}/media", headers=server.headers(role="officer")).json()["items"]
        assert [m["kind"] for m in listed] == ["photo", "voice", "video"]
        assert http.get(listed[1]["url"], headers=server.headers(role="officer")).content[:4] == b"\x1a\x45\xdf\xa3"
    # a neighbour is offered the open case nearby and follows it instead of reporting again
    neighbour = new_page(media_browser, 390, 844, errors)
    neighbour.goto(f"{server.url}/citizen")
    neighbour.wait_for_selector("#service optgroup", state="attached", timeout=15000)
    sign_in(neighbour, server, "13822224444")
    neighbour.select_option("#service", "0101")
    neighbour.fill("#lat", str(grid.lat + 0.0001))
    neighbour.fill("#long", str(grid.lon))
    neighbour.dispatch_event("#long", "change")
    button = neighbour.locator(f"#dupes .dupe[data-case='{case_id}'] button.follow")
    button.wait_for(timeout=10000)
    assert button.inner_text() == "同一问题？关注它"
    button.click()
    neighbour.wait_for_selector(f"#dupes .dupe[data-case='{case_id}'] .dupe-note:text('已关注')", timeout=10000)
    assert report_media_store(rt.store).followers(case_id) == 1
    # closed by its worker and an officer: both see it closed; the reporter rates it
    close_case(server, rt, case_id)
    neighbour.click("#tab-mine")
    neighbour.wait_for_selector(f"#follow-list .follow-item[data-case='{case_id}'][data-status='closed']", timeout=15000)
    page.reload()
    page.click("#tab-mine")
    item = page.locator(f".mine-item[data-id='{report_id}']")
    page.wait_for_selector(f".mine-item[data-id='{report_id}'] .chip[data-status='closed']", timeout=15000)
    item.locator(".rate .star[data-n='5']").click()
    item.locator(".rate button[type=submit]").click()
    item.locator(".rated").wait_for(timeout=10000)
    assert resident_store(rt.store).case_rating(case_id) == (1, 5.0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []


def test_the_page_is_an_installable_app(site: dict[str, Any], media_browser: Any) -> None:
    server = site["server"]
    page = new_page(media_browser, 390, 844)
    page.goto(f"{server.url}/citizen")
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = httpx.get(server.url + href)
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["name"].startswith("市民上报") and body["start_url"] == "/citizen" and body["display"] == "standalone"
    sizes = {i["sizes"] for i in body["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        got = httpx.get(server.url + icon["src"])
        assert got.status_code == 200 and got.headers["content-type"].startswith(icon["type"])
        if icon["type"] == "image/png":
            assert Image.open(io.BytesIO(got.content)).size == tuple(int(n) for n in icon["sizes"].split("x"))
    worker = httpx.get(f"{server.url}/citizen-sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert "worker-src 'self'" in worker.headers["content-security-policy"]
    # registered and in control of the page after a reload
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not page.evaluate("!!navigator.serviceWorker.controller"):
        time.sleep(0.5)
        page.reload()  # a page is controlled by the worker that was active when it loaded
    assert page.evaluate("!!navigator.serviceWorker.controller")
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/citizen-sw.js")


def test_a_report_made_offline_is_queued_and_sent_once_back_online(site: dict[str, Any], media_browser: Any) -> None:
    server, rt, city = site["server"], site["rt"], site["city"]
    context = media_browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server.url}/citizen")
    deadline = time.monotonic() + 15
    while not page.evaluate("!!navigator.serviceWorker.controller") and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()  # controlled from the load after the worker took over
    page.wait_for_selector("#service optgroup", state="attached", timeout=15000)
    grid = city.grids[90]
    page.select_option("#service", "0101")
    page.fill("#description", "地下通道里没有信号时上报")
    page.fill("#lat", str(grid.lat))
    page.fill("#long", str(grid.lon))
    before = len(rt.store.list_reports(500))
    context.set_offline(True)
    page.click("#send")
    page.wait_for_selector("#error:not([hidden])", timeout=10000)
    assert "联网后自动发送" in page.inner_text("#error")
    assert len(rt.store.list_reports(500)) == before
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#offline-note:not([hidden])", timeout=15000)
    assert "已发送" in page.inner_text("#offline-note")
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second flush sends nothing more
    time.sleep(1)
    made = rt.store.list_reports(500)
    assert len(made) == before + 1 and made[0]["description"] == "地下通道里没有信号时上报"
    context.close()

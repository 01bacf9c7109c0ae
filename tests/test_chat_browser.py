"""The chat with the grid worker in phone-sized Chromium (issue 22): a resident (signed in by
the SMS code) on the citizen page and the grid's worker on the terminal, each in a context of
their own; messages both ways arrive within 1 s, the worker's reading shows as 已读 on the
resident's side, a message sent while the store is held shows pending at once and is confirmed
once stored, and the worker turns the conversation into a case in one tap, which the
resident sees as "已转为案件 #…". Office hours cover the whole day here: the grid's
all-day worker answers whenever the test runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from residents.sms import LogSender
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
PHONE = "13912345678"
LIVE_MS = 1000  # the bound on delivery, send to shown at the other party


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("chat-browser")
    chat = {"office_hours": {"hours": "00:00-24:00"}}
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}",
                           "residents": {"chat": chat}})  # fmt: skip
    grid, worker = all_day_grid(small_city)
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account(worker.id, "worker", "worker", worker_id=worker.id)])
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker}


def all_day_grid(city: City) -> tuple[Any, Any]:
    """A grid with one worker, on duty all day: who answers its residents is never in doubt."""
    return next(
        (g, ws[0]) for g in city.grids if len(ws := city.workers_by_grid.get(g.code, [])) == 1 and ws[0].shift == "all"
    )


def sent_code(server: Any) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        desk = getattr(server.app.state, "residents", None)
        sender = desk.sender if desk is not None else None
        if isinstance(sender, LogSender) and (code := sender.latest(PHONE)):
            return code
        time.sleep(0.1)
    raise AssertionError("no code was sent")


def resident_page(browser: Any, site: dict[str, Any], errors: list[str]) -> Any:
    server = site["server"]
    page = new_page(browser, 390, 844, errors)
    page.goto(f"{server.url}/citizen")
    page.click("#tab-account")
    page.fill("#phone", PHONE)
    page.click("#get-code")
    page.wait_for_selector("#signin-note:not([hidden])", timeout=10000)
    page.fill("#code", sent_code(server))
    page.click("#sign-in")
    page.wait_for_selector("#mine:not([hidden])", timeout=10000)
    page.goto(f"{server.url}/citizen?grid={site['grid'].code}#chat")  # as from the grid's worker card
    page.wait_for_selector("#chat-start", timeout=10000)
    assert page.inner_text("#tab-chat") == "联系网格员"
    page.click("#chat-start")
    page.wait_for_selector("#chat-input", timeout=10000)
    return page


def worker_page(browser: Any, site: dict[str, Any], errors: list[str]) -> Any:
    page = new_page(browser, 390, 844, errors)
    page.goto(f"{site['server'].url}/terminal")
    sign_in_form(page, site["worker"].id, "worker")
    page.click("[data-tab=chat]")
    page.wait_for_selector("#chat:not([hidden])", timeout=10000)
    return page


@contextlib.contextmanager
def held_commits(server: Any) -> Iterator[None]:
    """The chat's group commit held until the block ends (what is sent meanwhile stays pending)."""
    desk, release = server.app.state.chat_desk, threading.Event()
    real = desk.commits.batch

    @contextlib.contextmanager
    def slow() -> Iterator[None]:
        release.wait(10)
        with real():
            yield

    desk.commits.batch = slow
    try:
        yield
    finally:
        release.set()
        desk.commits.batch = real


def timed(page: Any, selector: str) -> float:
    """Milliseconds until `selector` shows, at most LIVE_MS."""
    start = time.monotonic()
    page.wait_for_selector(selector, timeout=LIVE_MS)
    return (time.monotonic() - start) * 1000


def test_resident_and_worker_chat_live_with_receipts_and_a_case(site: dict[str, Any], browser: Any) -> None:
    errors: list[str] = []
    resident = resident_page(browser, site, errors)
    worker = worker_page(browser, site, errors)
    time.sleep(0.5)  # both sockets subscribed
    # resident → worker: the conversation appears in the worker's list with its unread count
    resident.fill("#chat-input", "楼道灯坏了")
    resident.click("#chat-send")
    took = timed(worker, ".chat-item:has-text('楼道灯坏了')")
    assert worker.inner_text("#count-chat") == "1"
    worker.click(".chat-item:has-text('楼道灯坏了')")
    worker.wait_for_selector(".chat-msg.from-resident", timeout=5000)
    # the worker has read it: 已读 under the resident's message
    resident.wait_for_selector(".chat-msg.mine .chat-meta:has-text('已读')", timeout=5000)
    # worker → resident
    worker.fill("#chat-input", "马上来")
    worker.click("#chat-send")
    back = timed(resident, ".chat-msg.from-worker:has-text('马上来')")
    assert site["worker"].name in resident.inner_text(".chat-msg.from-worker .chat-sender")
    # delivered before it is stored: shown pending (发送中… at the sender), confirmed once stored
    with held_commits(site["server"]):
        worker.fill("#chat-input", "请稍等")
        worker.click("#chat-send")
        resident.wait_for_selector(".chat-msg.from-worker.pending:has-text('请稍等')", timeout=5000)
        worker.wait_for_selector(".chat-msg.mine.pending:has-text('请稍等') .chat-meta:has-text('发送中')", timeout=5000)
    resident.wait_for_selector(".chat-msg.from-worker:not(.pending):has-text('请稍等')", timeout=5000)
    worker.wait_for_selector(".chat-msg.mine:not(.pending):has-text('请稍等')", timeout=5000)
    assert resident.locator(".chat-msg:has-text('请稍等')").count() == 1  # the live one and the stored one: once
    # one tap: a case; the resident is told its number. The tap's press and release straddle a
    # message arriving: the panel repaints in place, so the button pressed is the one released
    # (a repaint that made new elements lost such a tap: no click without both on one element).
    box = worker.locator("#chat-to-case").bounding_box()
    assert box is not None
    worker.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    worker.mouse.down()
    resident.fill("#chat-input", "好的谢谢")
    resident.click("#chat-send")
    worker.wait_for_selector(".chat-msg.from-resident:not(.pending):has-text('好的谢谢')", timeout=5000)
    worker.mouse.up()
    worker.wait_for_selector("#chat-case", timeout=5000)
    case_id = worker.inner_text("#chat-case").split("#")[-1].strip()
    resident.wait_for_selector(f".chat-msg.from-system:has-text('已转为案件 #{case_id}')", timeout=5000)
    case = site["rt"].store.get_case(case_id)
    assert case is not None and case.grid_code == site["grid"].code and "楼道灯坏了" in case.description
    for page in (resident, worker):
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')].filter((n) => n.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map((n) => n.tagName + '.' + n.className + '#' + n.id + ':' + Math.round(n.getBoundingClientRect().right))"""
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    assert not errors, errors
    print(f"resident → worker {took:.0f} ms, worker → resident {back:.0f} ms")

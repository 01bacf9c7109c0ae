"""The hall's 居民消息 (/chats): the grids' service desk in Chromium (issue 22's "office hours and an
automatic handover when the worker is off duty", answered from a page). At 03:00 in the city a
resident's message goes to the grid's service desk; it reaches an officer's /chats within 1 s,
marked 服务台; the officer answers (the resident sees it from 网格服务台) and turns the
conversation into a case in one tap. The page is in the officer's navigation; a worker's
conversations stay on their terminal, and a district officer elsewhere sees none of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form
from tests.helpers import build_runtime, serve_app
from tests.test_chat_browser import LIVE_MS, all_day_grid, resident_page

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
OFFICER, PASSWORD = "desk-officer", "desk-pass"


def _at_three_in_the_morning(tz: str) -> timedelta:
    """How far to move the clock so that it is 03:00 today in the city: outside office hours."""
    local = datetime.now(UTC).astimezone(ZoneInfo(tz))
    return local.replace(hour=3, minute=0, second=0, microsecond=0) - local


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("chats-desk")
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}",
                           "residents": {"chat": {"office_hours": {"hours": "08:30-17:30"}}}})  # fmt: skip
    grid, worker = all_day_grid(small_city)
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        assert httpx.get(f"{server.url}/api/chats", headers=server.headers(role="officer"), timeout=10).status_code == 200
        desk = server.app.state.chat_desk  # made by the first chat request
        shift = _at_three_in_the_morning(config.dispatch.timezone)
        desk.clock = lambda: datetime.now(UTC) + shift
        rt.auth.users.seed([Account(OFFICER, PASSWORD, "officer")])
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker}


def test_the_service_desk_answers_off_hours_and_makes_a_case(site: dict[str, Any], browser: Any) -> None:
    server, errors = site["server"], []
    officer = new_page(browser, 1280, 800, errors)
    officer.goto(f"{server.url}/chats")
    sign_in_form(officer, OFFICER, PASSWORD)
    officer.wait_for_selector("#chats-main:not([hidden]) #chat", timeout=10000)
    assert officer.inner_text("nav a[href='/chats']") == "居民消息"  # in the officer's navigation
    resident = resident_page(browser, site, errors)
    time.sleep(0.5)  # both sockets subscribed
    resident.fill("#chat-input", "晚上楼下一直很吵")
    resident.click("#chat-send")
    start = time.monotonic()
    item = ".chat-item:has-text('晚上楼下一直很吵')"
    officer.wait_for_selector(item, timeout=LIVE_MS)
    took = (time.monotonic() - start) * 1000
    assert officer.inner_text(f"{item} .chat-item-who") == "服务台"
    assert officer.inner_text("#count-chats") == "1"
    resident.wait_for_selector(".chat-msg.from-system:has-text('网格服务台')", timeout=5000)  # told who has it
    officer.click(item)
    officer.wait_for_selector(".chat-msg.from-resident:has-text('晚上楼下一直很吵')", timeout=5000)
    officer.fill("#chat-input", "已通知社区民警前往处理")
    officer.click("#chat-send")
    resident.wait_for_selector(".chat-msg:has-text('已通知社区民警前往处理')", timeout=LIVE_MS)
    assert "网格服务台" in resident.inner_text(".chat-msg:has-text('已通知社区民警前往处理') .chat-sender")
    officer.click("#chat-to-case")
    officer.wait_for_selector("#chat-case", timeout=5000)
    case_id = officer.inner_text("#chat-case").split("#")[-1].strip()
    resident.wait_for_selector(f".chat-msg.from-system:has-text('已转为案件 #{case_id}')", timeout=5000)
    case = site["rt"].store.get_case(case_id)
    assert case is not None and case.grid_code == site["grid"].code and "晚上楼下一直很吵" in case.description
    assert overflow_px(officer) == 0
    # another district's officer sees none of it (the API the page reads, scoped by jurisdiction)
    elsewhere = next(d for d in site["rt"].city.city.districts if not site["grid"].code.startswith(d.code))
    theirs = httpx.get(f"{server.url}/api/chats", timeout=10,
                       headers=server.headers(role="officer", jurisdiction=elsewhere.code)).json()  # fmt: skip
    assert theirs["items"] == []
    assert not errors, errors
    print(f"resident → service desk {took:.0f} ms")

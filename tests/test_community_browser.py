"""服务超市 and 论坛 in a phone-sized Chromium (390×844, issue 22): a resident requests a service,
its provider accepts it and marks it done in a second context, the resident rates it; a forum
post made by a resident, reported by another, is hidden by the community's officer on
/community and is gone from the residents' page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from command_center.store.community_market import market_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.community_world import World, approved_provider, community_world
from tests.helpers import TEST_PASSWORD

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
RESIDENT, PROVIDER, REPORTER = "13700000001", "13700000002", "13700000003"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    yield from community_world("sqlite", tmp_path_factory.mktemp("community-browser"), small_city)


def phone_page(browser: Any, world: World, phone: str, errors: list[str]) -> Any:
    """The citizen page in a fresh phone-sized context, signed in as the resident, in our community."""
    page = new_page(browser, 390, 844, errors)
    token = world.resident(phone)["Authorization"].split()[1]
    held = {"token": token, "phone": phone[:3] + "****" + phone[-4:], "expires_at": time.time() + 3600}
    city = world.rt.city.city
    community = {"code": world.community.code, "name": world.community.name, "path": [],
                 "grids": [{"code": g.code, "name": g.name} for g in city.children(world.community.code)]}  # fmt: skip
    page.context.add_init_script(
        f"localStorage.setItem('cc.resident', {json.dumps(json.dumps(held))});"
        f"localStorage.setItem('cc.community', {json.dumps(json.dumps(community, ensure_ascii=False))});"
    )
    return page


def test_a_service_requested_accepted_done_and_rated(world: World, browser: Any) -> None:
    errors: list[str] = []
    with httpx.Client(base_url=world.srv.url, timeout=10) as http:
        provider = approved_provider(world, PROVIDER, http)
        offer = {"category": "elderly_meals", "title": "助老午餐送餐", "price": 0, "hours": "每天 11:00-12:30",
                 "area": world.grid.code}  # fmt: skip
        service = http.post("/api/residents/me/services", headers=provider, json=offer).json()["id"]
    page = phone_page(browser, world, RESIDENT, errors)
    page.goto(f"{world.srv.url}/citizen#services")
    item = page.locator(f".sv-item[data-id='{service}']")
    item.wait_for(timeout=15000)
    assert "免费" in item.inner_text() and "助老餐" in item.inner_text()
    item.locator("button", has_text="申请服务").click()
    item.locator(".sv-ask input").fill("两份，不要辣")
    item.locator(".sv-ask button[type=submit]").click()
    mine = page.locator("#sv-mine .mine-item").first
    mine.wait_for(timeout=10000)
    assert mine.locator(".chip").inner_text() == "待接单"
    # the provider, on their own phone
    other = phone_page(browser, world, PROVIDER, errors)
    other.goto(f"{world.srv.url}/citizen#services")
    incoming = other.locator("#sv-incoming .mine-item").first
    incoming.wait_for(timeout=15000)
    assert "两份，不要辣" in incoming.inner_text()
    incoming.locator("[data-action=accept]").click()
    other.locator("#sv-incoming [data-action=done]").click(timeout=10000)
    other.wait_for_selector("#sv-incoming .chip[data-state=done]", timeout=10000)
    # the resident sees it done and rates it
    page.reload()
    page.wait_for_selector("#sv-mine .chip[data-state=done]", timeout=15000)
    page.locator("#sv-mine .star[data-stars='5']").click()
    page.wait_for_selector("#sv-mine .rated", timeout=10000)
    assert page.locator("#sv-mine .rated").inner_text().count("★") == 5
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert market_store(world.rt.store).provider_rating(mine_provider(world)) == (1, 5.0)  # stored once
    assert errors == []


def mine_provider(world: World) -> str:
    with httpx.Client(base_url=world.srv.url, timeout=10) as http:
        return str(
            http.get("/api/residents/me/provider", headers=world.resident(PROVIDER)).json()["provider"]["id"]
        )


def test_a_post_reported_and_hidden_by_the_officer(world: World, browser: Any) -> None:
    errors: list[str] = []
    page = phone_page(browser, world, RESIDENT, errors)
    page.goto(f"{world.srv.url}/citizen#forum")
    page.locator("#fm-new summary").click(timeout=15000)
    page.fill("#fm-title", "出售二手自行车")
    page.fill("#fm-body", "九成新，加微信详聊")
    page.click("#fm-post")
    thread = page.locator("#fm-threads .fm-post", has_text="出售二手自行车")
    thread.wait_for(timeout=10000)
    post = thread.get_attribute("data-id")
    # another resident reports it
    reporter = phone_page(browser, world, REPORTER, errors)
    reporter.goto(f"{world.srv.url}/citizen#forum")
    button = reporter.locator(f"#fm-threads .fm-post[data-id='{post}'] > .row .fm-report")
    button.click(timeout=15000)
    reporter.wait_for_selector(f"#fm-threads .fm-post[data-id='{post}'] .fm-report[disabled]", timeout=10000)
    # the community's officer hides it on /community (a phone too)
    world.officer()  # makes the account officer-mine
    staff = new_page(browser, 390, 844, errors)
    staff.goto(f"{world.srv.url}/community")
    sign_in_form(staff, "officer-mine", TEST_PASSWORD)
    queued = staff.locator(f"#queue .cm-item[data-id='{post}']")
    queued.wait_for(timeout=15000)
    assert "被举报1次" in queued.inner_text()
    queued.locator("[data-action=hide]").click()
    staff.wait_for_selector(f"#queue .cm-item[data-id='{post}'][data-state=hidden]", timeout=10000)
    assert staff.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # gone for residents
    page.reload()
    page.wait_for_selector("#fm-threads", timeout=15000)
    assert page.locator(f"#fm-threads .fm-post[data-id='{post}']").count() == 0
    assert errors == []

"""Suggested classes in real pages (Chromium driven by Playwright): the citizen types "路边有人
摆摊卖水果", chips with matter names appear, picking one sets the category and the report
records it as the choice; the desk shows a case's 建议分类, keeps the class (采纳) and changes
it to a suggested one with a reason (改为…), both recorded as feedback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
OFFICER, PASSWORD = "suggest-officer", "suggest-officer-pass"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("suggest-browser")
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account(OFFICER, PASSWORD, "officer")])
        rt.suggestions.retrain()  # fitted before the pages ask, so no wait shows in the timings
        yield {"server": server, "rt": rt, "city": small_city}


def test_citizen_picks_a_suggested_class(site: dict[str, Any], browser: Any) -> None:
    errors: list[str] = []
    page = new_page(browser, 390, 844, errors)
    page.goto(f"{site['server'].url}/citizen")
    page.wait_for_selector("#service optgroup", state="attached", timeout=15000)
    page.fill("#description", "路边有人摆摊卖水果")
    page.wait_for_selector("#suggest .suggest-chip", timeout=20000)
    chips = page.locator("#suggest .suggest-chip")
    assert 1 <= chips.count() <= 3
    names = chips.all_inner_texts()
    assert names[0] == "占道经营" and not any(n.isdigit() for n in names)  # names, not codes
    chips.first.click()
    assert page.input_value("#service") == "0501"
    assert chips.first.get_attribute("aria-pressed") == "true"
    suggestion = page.input_value("#suggestion-id")
    assert suggestion.startswith("S")
    grid = site["city"].grids[50]
    page.fill("#lat", str(grid.lat))
    page.fill("#long", str(grid.lon))
    page.click("#send")
    page.wait_for_selector("#status:not([hidden])", timeout=15000)
    row = site["rt"].suggestions.records.get(suggestion)
    assert row["chosen_code"] == "0501" and row["chosen_by"] == "citizen" and row["case_id"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []


def test_desk_keeps_and_changes_the_class(site: dict[str, Any], browser: Any) -> None:
    server, rt = site["server"], site["rt"]
    grid = site["city"].grids[220]
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as admin:
        case = admin.post("/api/cases", json={"matter_code": "0101", "lon": grid.lon, "lat": grid.lat, "source": "citizen",
                                               "description": "楼下井盖不见了，一个黑窟窿"}).json()  # fmt: skip
    errors: list[str] = []
    page = new_page(browser, 1600, 900, errors)
    page.goto(f"{server.url}/desk#case={case['id']}")
    sign_in_form(page, OFFICER, PASSWORD)
    page.wait_for_selector(f"#detail[data-case-id='{case['id']}'] .detail-suggest .suggest-chip", timeout=20000)
    panel = page.locator("#detail .detail-suggest")
    assert "建议分类" in panel.inner_text()
    assert page.locator("#detail .suggest-chip").first.get_attribute("data-code") == "9902"
    assert "井盖缺失" in page.locator("#detail .suggest-chip").first.inner_text()
    page.click("#detail .suggest-accept")  # 采纳: the class stays, the choice is recorded
    page.wait_for_function("() => document.querySelector('#detail .suggest-status').textContent.includes('已记录')", timeout=10000)
    suggestion = rt.suggestions.records.latest_of_case(case["id"])
    assert suggestion["chosen_code"] == "0101" and suggestion["chosen_by"] == OFFICER
    page.click("#detail .suggest-chip[data-code='9902']")
    page.click("#detail .suggest-change")  # first press asks for the reason
    page.fill("#detail .suggest-reason", "描述是井盖缺失，不是垃圾")
    page.click("#detail .suggest-change")
    page.wait_for_function("() => (document.querySelector('#detail h2') || {}).textContent === '井盖缺失'", timeout=10000)
    assert rt.store.get_case(case["id"]).matter_code == "9902"
    # The live update may show the new class before the page has recorded the choice.
    deadline = time.monotonic() + 10
    while rt.suggestions.records.get(suggestion["id"])["chosen_code"] != "9902" and time.monotonic() < deadline:
        time.sleep(0.1)
    chosen = rt.suggestions.records.get(suggestion["id"])
    assert chosen["chosen_code"] == "9902" and chosen["case_id"] == case["id"]
    assert errors == []

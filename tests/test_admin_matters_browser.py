"""The matter catalogue in the admin console, in a real browser (issue 16's Done-when): a district
admin proposes a change to a matter, the city admin approves it, and it then shows as in effect
for that district (and the dispatcher uses it); the calendar and the supervision settings
sections work for the city admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import ServerThread, build_runtime, serve_app

pytestmark = NEEDS_BROWSER

CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}
D1 = "440104"  # small_city's 越秀区


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("admin_matters")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "auth": CHEAP_HASH})
    rt = build_runtime(config, city=small_city)
    rt.auth.users.seed(
        [Account("admin", "admin-password", "admin"), Account("dadmin", "dadmin-password", "admin", jurisdiction=D1)]
    )
    with serve_app(rt) as srv:
        yield srv, rt


def section(browser: Any, url: str, user: str, tab: str, ready: str, errors: list[str], width: int = 1280) -> Any:
    page = new_page(browser, width, 900, errors)
    page.goto(f"{url}/admin#{tab}")
    sign_in_form(page, user, f"{user}-password")
    page.wait_for_selector(ready, timeout=15000)
    return page


def test_a_district_proposes_and_the_city_approves(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv, rt = server
    errors: list[str] = []
    mine = section(browser, srv.url, "dadmin", "matters", "#tab-matters tr[data-code='0101']", errors, 390)
    assert "越秀区" in mine.inner_text("#tab-matters select[data-part=district]")
    mine.click("#tab-matters tr[data-code='0101'] button:has-text('调整')")
    form = "#tab-matters form[data-part=propose]"
    mine.fill(f"{form} input[name=limit]", "1")
    mine.fill(f"{form} input[name=reason]", "本区加快暴露垃圾处置")
    mine.click(f"{form} button[type=submit]")
    mine.wait_for_selector("#tab-matters tbody[data-part=proposals] tr[data-code='0101'] >> text=待审批", timeout=10000)

    city = section(browser, srv.url, "admin", "matters", "#tab-matters tbody[data-part=proposals] tr[data-code='0101']", errors)
    city.on("dialog", lambda dialog: dialog.accept("同意"))
    row = "#tab-matters tbody[data-part=proposals] tr[data-code='0101']"
    assert "越秀区" in city.inner_text(row)
    city.click(f"{row} button[data-act=approve]")
    city.wait_for_selector(f"{row} >> text=已批准", timeout=10000)
    city.select_option("#tab-matters select[data-part=district]", D1)
    effective = "#tab-matters tbody[data-part=items] tr[data-code='0101']"
    city.wait_for_selector(f"{effective} >> text=本区调整", timeout=10000)
    assert "1 工作小时" in city.inner_text(f"{effective} .limit")

    mine.reload()
    mine.wait_for_selector(f"{effective} >> text=本区调整", timeout=15000)
    assert "1 工作小时" in mine.inner_text(f"{effective} .limit")
    grid = next(g for g in rt.city.city.grids if g.code.startswith(D1))
    today = datetime.now(UTC)
    assert rt.dispatcher.book.for_area(grid.code, today.astimezone(rt.dispatcher.tz).date()).get("0101").time_limit.hours == 1
    assert errors == []


def test_calendar_and_settings_sections(server: tuple[ServerThread, Runtime], browser: Any) -> None:
    srv, rt = server
    errors: list[str] = []
    page = section(browser, srv.url, "admin", "calendar", "#tab-calendar .month-grid .day", errors, 390)
    assert page.locator("#tab-calendar .month").count() == 12
    page.select_option("#tab-calendar select[data-part=kind]", "holiday")
    page.fill("#tab-calendar input[data-part=name]", "测试假日")
    day = page.locator("#tab-calendar .day:not(.weekend):not(.holiday)").nth(40)
    iso = day.get_attribute("data-day")
    day.click()
    page.wait_for_selector(f"#tab-calendar .day.holiday.stored[data-day='{iso}']", timeout=10000)
    assert not rt.dispatcher.calendar.is_working_day(datetime.fromisoformat(iso).date())
    page.goto(f"{srv.url}/admin#settings")
    page.wait_for_selector("#tab-settings [data-part=defaults]:has-text('75%')", timeout=10000)
    assert page.input_value("#tab-settings input[name=warn_at]") == "75"
    page.fill("#tab-settings input[name=warn_at]", "60")
    page.click("#tab-settings button[type=submit]")
    page.wait_for_selector("#tab-settings [data-part=updated]:has-text('admin')", timeout=10000)
    assert rt.dispatcher.config.warn_at == 0.6
    assert errors == []

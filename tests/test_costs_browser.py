"""The cost–benefit page (/costs, 成本效益) in a real browser over generated cases of 2026 and
the sample budget lines (command-center costs sample): the page in Chinese, every tile equal
to /api/costs/summary's figure, a child area's row drilling down with the tiles following
the API, a 390 px phone without sideways scrolling, and an admin importing a file through the
page: a bad CSV shows each problem by row and column and stores nothing, a good XLSX adds its
line to the budget lines shown. Screenshots go to var/test-artifacts/costs/."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from command_center.app import ECHARTS_DIR
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.costs.sample import sample_lines
from command_center.stats_generate import generate
from command_center.store.cost_records import cost_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = [
    *NEEDS_BROWSER,
    pytest.mark.skipif(not (ECHARTS_DIR / "echarts.esm.min.mjs").exists(), reason="needs ECharts from npm"),
    pytest.mark.slow,
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "costs"
MONTH = "2026-11"
USERS = {"officer": ("cs-officer", "cs-officer-pass"), "admin": ("cs-admin", "cs-admin-pass")}
TILES = ("budget", "cost", "cost_per_case", "cost_per_resident", "early_share", "cases")


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("costs-browser")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    generate(rt.store, small_city, rt.catalog, 2000, 2026, seed=11, now=datetime(2026, 12, 6, tzinfo=UTC),  # type: ignore[arg-type]
             progress=False)  # fmt: skip
    cost_store(rt.store).upsert_all(sample_lines(small_city, 2026), "sample")
    with serve_app(rt) as server:
        rt.auth.users.seed([Account(*USERS["officer"], "officer"), Account(*USERS["admin"], "admin")])
        api = httpx.Client(base_url=server.url, headers=server.headers(role="officer"), timeout=20)
        yield {"server": server, "api": api, "city": small_city}
        api.close()


def summary(hall: dict[str, Any], **params: str) -> Any:
    answer = hall["api"].get("/api/costs/summary", params={"month": MONTH, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_costs(
    browser: Any, hall: dict[str, Any], path: str, role: str = "officer", width: int = 1440
) -> Any:
    page = new_page(browser, width, 900)
    page.goto(f"{hall['server'].url}{path}")
    sign_in_form(page, *USERS[role])
    page.wait_for_selector("#costs[data-loaded]", timeout=20000)
    return page


def wait_for_area(page: Any, code: str) -> None:
    page.wait_for_function(
        "(code) => document.getElementById('costs').dataset.area === code", arg=code, timeout=20000
    )


def check_tiles(page: Any, body: dict[str, Any]) -> None:
    for key in TILES:
        shown = page.get_attribute(f"#tiles .tile[data-key={key}]", "data-value")
        expected = body["totals"][key]
        assert (shown == "" and expected is None) or float(shown) == pytest.approx(expected), (
            key,
            shown,
            expected,
        )


def test_page_in_chinese_equals_the_api_and_drills_down(browser: Any, hall: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = open_costs(browser, hall, f"/costs?month={MONTH}")
    city = summary(hall)
    assert city["totals"]["cost"] > 0 and city["totals"]["cases"] > 0
    check_tiles(page, city)
    assert page.inner_text("#costs-title") == "成本效益"
    assert "每案成本" in page.inner_text("#tiles") and "人均成本" in page.inner_text("#tiles")
    words = visible_texts(page, "#costs")["words"]
    assert not english_words(words), english_words(words)[:20]
    rows = page.locator("#area-table tbody tr")
    assert rows.count() == len(city["children"])
    assert int(page.get_attribute("#per-case-chart", "data-drawn") or 0) >= 1
    # the table sorts by cost (most first): its first row is the costliest district
    first = max(city["children"], key=lambda c: c["cost"])
    assert page.get_attribute("#area-table tbody tr:first-child", "data-code") == first["code"]
    page.screenshot(path=str(ARTIFACTS / "city.png"), full_page=True)
    page.click(f"#area-table tbody tr[data-code='{first['code']}']")
    wait_for_area(page, first["code"])
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'ready'", timeout=20000)
    district = summary(hall, area=first["code"])
    check_tiles(page, district)
    assert first["name"] in page.inner_text("#crumbs")
    cost_cell = page.inner_text(
        f"#area-table tbody tr[data-code='{district['children'][0]['code']}'] td[data-col=cost]"
    )
    assert cost_cell.replace("¥", "").replace(",", "") == f"{district['children'][0]['cost']:.2f}"
    page.context.close()


def test_fits_a_phone(browser: Any, hall: dict[str, Any]) -> None:
    page = open_costs(browser, hall, f"/costs?month={MONTH}", width=390)
    assert overflow_px(page) == 0
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    page.context.close()


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_admin_imports_through_the_page(browser: Any, hall: dict[str, Any], tmp_path: Path) -> None:
    city: City = hall["city"]
    community = next(a for a in city.areas.values() if a.level == "community")
    page = open_costs(browser, hall, f"/costs?area={community.code}&month={MONTH}", role="admin")
    before = int(page.get_attribute("#lines-panel", "data-count") or 0)
    stored = hall["api"].get("/api/costs/lines", params={"month": MONTH}).json()["total"]
    bad = tmp_path / "预算.csv"
    bad.write_text(f"区域编码,月份,类别,金额（元）\n{community.code},2026-13,人员,100\n{community.code},{MONTH},餐费,-1\n",
                   encoding="utf-8")  # fmt: skip
    page.set_input_files("#import-file", str(bad))
    page.wait_for_selector("#import-problems li", timeout=20000)
    problems = {(li.get_attribute("data-row"), li.get_attribute("data-column"))
                for li in page.locator("#import-problems li").all()}  # fmt: skip
    assert problems == {("2", "月份"), ("3", "类别"), ("3", "金额（元）")}
    assert "第 2 行" in page.inner_text("#import-problems")
    assert hall["api"].get("/api/costs/lines", params={"month": MONTH}).json()["total"] == stored
    good = tmp_path / "预算.xlsx"
    good.write_bytes(
        _xlsx(
            [
                ["区域编码", "月份", "类别", "金额（元）", "备注"],
                [community.code, MONTH, "购买服务", 4321.5, "保洁"],
            ]
        )
    )
    loaded = page.get_attribute("#costs", "data-loaded")
    page.set_input_files("#import-file", str(good))
    page.wait_for_function(
        "(n) => document.getElementById('costs').dataset.loaded !== n", arg=loaded, timeout=20000
    )
    assert "已导入" in page.inner_text("#import-result")
    assert int(page.get_attribute("#lines-panel", "data-count") or 0) == before + 1
    assert "保洁" in page.inner_text("#line-table") and "¥4,321.50" in page.inner_text("#line-table")
    page.screenshot(path=str(ARTIFACTS / "import.png"), full_page=True)
    page.context.close()

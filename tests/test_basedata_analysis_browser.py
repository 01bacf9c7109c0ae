"""The cross-analysis on /basedata (ui/basedata/analysis.js) and the wall's 热点 按数量 / 按人口
switch (ui/wall/hotspot_rank.js) in a real browser, over the hand-built district of
tests/test_basedata_analysis.py (its `seed`), plus reports in the last hour: G1 five (4
residents: 1,250 per 1,000), G3 four (3 residents: 1,333.33), G2 none (5 residents): G3
first per resident, G1 by count, both on the page (the last 90 days) and on the wall.

An officer sees the areas by name with the API's figures, sorted by events per 1,000 (most
first), re-sorted by a click on a heading, rolled up to communities, the forecast per
community with its backtest and a small care group hidden; the Chinese page has no English.
Screenshots go to var/test-artifacts/analysis/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tests.test_basedata_analysis as data
from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "analysis"
USER = ("an-officer", "an-officer-pass")


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("analysis-browser")
    config = parse_config({"server": {"data_dir": str(folder)}, "store": f"sqlite:///{folder / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    grids, _ = data.city_grids(small_city)
    data.seed(rt.store, grids, data.city_today(rt))
    now = datetime.now(UTC)
    recent = [(grids.g1, now - timedelta(minutes=5 + i)) for i in range(5)]
    recent += [(grids.g3, now - timedelta(minutes=5 + i)) for i in range(4)]
    for n, (grid, at) in enumerate(recent):
        rt.store.insert_case(data._case(2000 + n, grid, at))
    with serve_app(rt) as server:
        rt.auth.users.seed([Account(*USER, "officer")])
        yield {"server": server, "rt": rt, "grids": grids}


def open_page(browser: Any, hall: dict[str, Any], path: str, errors: list[str]) -> Any:
    page = new_page(browser, 1440, 900, errors)
    page.goto(f"{hall['server'].url}{path}")
    sign_in_form(page, *USER)
    return page


def names_in(page: Any, table: str) -> list[str]:
    return page.eval_on_selector_all(f"{table} tbody tr", "rs => rs.map(r => r.dataset.code)")


def test_the_analysis_shows_areas_by_name_sorted_and_the_forecast(browser: Any, hall: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    g, areas = hall["grids"], hall["rt"].city.city.areas
    errors: list[str] = []
    page = open_page(browser, hall, "/basedata", errors)
    try:
        page.wait_for_selector("#analysis[data-loaded=true]", timeout=15000)
        # the last 90 days: G3 4 events of 3 residents, G1 5 of 4, G2 none of 5; G4 had nothing then
        assert names_in(page, "#an-table") == [g.g3, g.g1, g.g2]
        for code, per in ((g.g3, "1,333.33"), (g.g1, "1,250"), (g.g2, "0")):
            row = f"#an-table tr[data-code='{code}']"
            assert page.inner_text(f"{row} .an-name") == areas[code].name
            assert page.inner_text(f"{row} td[data-col=per_1000] .an-value") == per
        assert page.inner_text(f"#an-table tr[data-code='{g.g2}'] td[data-col=residents] .an-value") == "5"
        assert page.inner_text("#an-table tfoot td[data-col=residents]") == "12"
        assert page.get_attribute("#an-table th[data-col=per_1000]", "aria-sort") == "descending"
        page.click("#an-table th[data-col=residents] button")
        assert names_in(page, "#an-table")[0] == g.g2  # 5 residents
        page.select_option("#an-level", "community")
        page.wait_for_selector("#analysis[data-loaded=true]", timeout=15000)
        communities = {g.g1[:12] + "000", g.g3[:12] + "000"}
        assert set(names_in(page, "#an-table")) == communities
        for code in communities:
            assert page.inner_text(f"#an-table tr[data-code='{code}'] .an-name") == areas[code].name
        # the forecast: per community, the backtest named in words, a small group hidden
        backtest = page.inner_text("#an-backtest")
        assert "回测" in backtest and "线性趋势" in backtest and "季度" in backtest
        c1, c3 = (
            f"#an-forecast-table tr[data-code='{g.g1[:12]}000']",
            f"#an-forecast-table tr[data-code='{g.g3[:12]}000']",
        )
        assert page.inner_text(f"{c1} .an-name") == areas[g.g1[:12] + "000"].name
        assert page.inner_text(f"{c1} td[data-group=disabled]").startswith("现有 15，预计")
        assert page.inner_text(f"{c3} td[data-group=tekun]") == "少于5"
        words = english_words(visible_texts(page, "#analysis")["words"])
        assert not words, f"English on the Chinese page: {sorted(set(words))[:15]}"
        for width, height in ((375, 812), (1440, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(250)
            page.locator("#analysis").screenshot(path=str(ARTIFACTS / f"analysis-{width}.png"))
            assert overflow_px(page) == 0, f"{width}px: wider than the viewport"
    finally:
        page.context.close()
    assert not errors, errors


def test_the_wall_ranks_hotspots_by_count_or_per_resident(browser: Any, hall: dict[str, Any]) -> None:
    g, areas = hall["grids"], hall["rt"].city.city.areas
    errors: list[str] = []
    page = open_page(browser, hall, "/wall", errors)
    try:
        page.wait_for_selector("#hot-rank[data-loaded]", timeout=20000)
        if page.get_attribute("#hot-rank", "data-loaded") != "count":
            page.click(".hot-mode[data-mode=count]")
            page.wait_for_selector("#hot-rank[data-loaded=count]", timeout=10000)
        first = page.eval_on_selector_all("#hot-rank li", "ls => ls.map(l => l.dataset.code)")
        assert first[:2] == [g.g1, g.g3] and page.inner_text("#hot-rank li:first-child .hot-figure") == "5 起"
        assert page.inner_text("#hot-rank li:first-child .hot-name") == areas[g.g1].name
        page.click(".hot-mode[data-mode=population]")
        page.wait_for_selector("#hot-rank[data-loaded=population]", timeout=10000)
        ranked = page.eval_on_selector_all("#hot-rank li", "ls => ls.map(l => l.dataset.code)")
        assert ranked[:2] == [g.g3, g.g1]  # 4 of 3 residents before 5 of 4
        assert page.inner_text("#hot-rank li:first-child .hot-figure") == "每千人 1,333.3 起"
        assert page.get_attribute(".hot-mode[data-mode=population]", "aria-pressed") == "true"
        page.screenshot(path=str(ARTIFACTS / "wall-population.png"))
        page.reload()  # the choice is kept
        page.wait_for_selector("#hot-rank[data-loaded=population]", timeout=20000)
    finally:
        page.context.close()
    assert not errors, errors

"""The statistics page (/stats, 统计分析) in a real browser over a generated year of cases
(issue 21's Done-when: drill-down from city to a grid, export to XLSX opened with a real
reader, each figure on the page equal to the API's).

A real server holds 3,000 generated cases of 2026 in the small city (command_center/
stats_generate.py, as `command-center stats generate` writes them). An officer opens the
page in Chinese: the summary tiles show /api/stats/summary's numbers; clicking a district's
bar, a street on the map, then a community's and a grid's table row drills down to the grid,
the breadcrumbs naming each level as the city map does and the tiles following the API;
the breadcrumbs and the address bring the view back; the areas' XLSX opens with openpyxl
with the table's rows; an area's 查看案件, the 案件数 tile and a bar of the series link to the
desk's search for their cases; the page fits a 390 px phone; a grid worker is shown the way
to their own page and the API refuses them. Screenshots go to var/test-artifacts/stats/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import openpyxl
import pytest

from command_center.app import ECHARTS_DIR
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.stats_generate import generate
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = [
    *NEEDS_BROWSER,
    pytest.mark.skipif(
        not (ECHARTS_DIR / "echarts.esm.min.mjs").exists(), reason="needs ECharts from npm: run `make setup`"
    ),
    pytest.mark.slow,
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "stats"
YEAR = {"from": "2026-01-01", "to": "2026-12-31"}
YEAR_VIEW = "/stats?period=year&date=2026-01-01"
TILES = ("cases", "closed", "on_time_rate", "closure_rate", "rework_rate", "mean_close_min")
USERS = {"officer": ("st-officer", "st-officer-pass"), "admin": ("st-admin", "st-admin-pass")}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("stats-browser")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    written = generate(
        rt.store,  # type: ignore[arg-type]  # both stores are StoreAccess (their bulk writers)
        small_city,
        rt.catalog,
        3000,
        2026,
        seed=11,
        now=datetime(2026, 12, 6, tzinfo=UTC),
        progress=False,
    )
    assert written > 2500
    worker = small_city.workers[0]
    with serve_app(rt) as server:
        rt.auth.users.seed([
            Account(*USERS["officer"], "officer"),
            Account(*USERS["admin"], "admin"),
            Account(worker.id, "st-worker-pass", "worker", worker_id=worker.id),
        ])  # fmt: skip
        api = httpx.Client(base_url=server.url, headers=server.headers(role="officer"), timeout=20)
        yield {"server": server, "api": api, "worker": worker.id}
        api.close()


def get(hall: dict[str, Any], path: str, **params: str) -> Any:
    answer = hall["api"].get(path, params=params)
    assert answer.status_code == 200, (path, params, answer.text)
    return answer.json()


def open_stats(browser: Any, hall: dict[str, Any], path: str = YEAR_VIEW, width: int = 1440, role: str = "officer",
               errors: list[str] | None = None, console: list[str] | None = None) -> Any:  # fmt: skip
    page = new_page(browser, width, 900, errors)
    if console is not None:
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{hall['server'].url}{path}")
    sign_in_form(page, *USERS[role])
    page.wait_for_selector("#stats[data-loaded]", timeout=20000)
    return page


def loaded(page: Any) -> str:
    return str(page.get_attribute("#stats", "data-loaded"))


def wait_for_area(page: Any, code: str, before: str) -> None:
    """The load after `before` has finished, showing area `code`."""
    page.wait_for_function(
        "([code, before]) => { const s = document.getElementById('stats'); return s.dataset.loaded && s.dataset.loaded !== before && s.dataset.area === code; }",
        arg=[code, before], timeout=20000,
    )  # fmt: skip


def check_tiles(page: Any, hall: dict[str, Any], area: str) -> dict[str, Any]:
    """Every tile holds the API's figure for `area` over 2026, written as people read it."""
    summary = get(hall, "/api/stats/summary", **YEAR, area=area)
    current = summary["current"]
    for key in TILES:
        shown = page.get_attribute(f"#tiles .tile[data-key={key}]", "data-value")
        expected = current[key]
        assert (shown == "" and expected is None) or float(shown) == pytest.approx(expected), (
            area,
            key,
            shown,
            expected,
        )
    assert page.inner_text("#tiles .tile[data-key=cases] .tile-value") == f"{current['cases']:,}"
    assert page.inner_text("#tiles .tile[data-key=closed] .tile-value") == f"{current['closed']:,}"
    if current["on_time_rate"] is not None:
        assert (
            page.inner_text("#tiles .tile[data-key=on_time_rate] .tile-value")
            == f"{current['on_time_rate'] * 100:.1f}%"
        )
    return summary


def crumbs(page: Any) -> list[str]:
    names: list[str] = page.eval_on_selector_all("#crumbs li", "ls => ls.map(l => l.innerText.trim())")
    return names


def busiest(hall: dict[str, Any], area: str) -> dict[str, Any]:
    children = get(hall, "/api/stats/areas", **YEAR, area=area)["children"]
    assert children, area
    child: dict[str, Any] = max(children, key=lambda c: c["cases"])
    assert child["cases"] > 0
    return child


def click_figure(page: Any, chart: str, code: str) -> None:
    """Clicks area `code` where the chart (`bars` or `map`) drew it (ECharts draws on a canvas)."""
    point = page.evaluate("([chart, code]) => window.cc.stats[chart].pixelOf(code)", [chart, code])
    assert point, (chart, code)
    box = "#area-bars" if chart == "bars" else "#area-map"
    page.locator(box).click(position={"x": point["x"], "y": point["y"]})


def test_the_page_shows_the_apis_figures_in_chinese(browser: Any, hall: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    console: list[str] = []
    page = open_stats(browser, hall, errors=errors, console=console)
    try:
        assert page.get_attribute("#site-nav a[data-page=stats]", "aria-current") == "page"
        summary = check_tiles(page, hall, "")
        assert summary["area"]["level"] == "city" and crumbs(page) == [summary["area"]["name"]]
        assert page.get_attribute("#status", "data-state") == "ready" and "数据时间" in page.inner_text(
            "#status"
        )
        # the areas table: the API's children by name, with their counts
        areas = get(hall, "/api/stats/areas", **YEAR)
        for child in areas["children"]:
            row = f"#area-table tr[data-code='{child['code']}']"
            assert page.inner_text(f"{row} td[data-col=name]") == child["name"]
            assert page.inner_text(f"{row} td[data-col=cases]") == f"{child['cases']:,}"
        # a figure's header sorts the table, and the bars follow it showing that figure
        page.click("#area-table th[data-col=rework_rate] button")
        assert page.get_attribute("#area-table th[data-col=rework_rate]", "aria-sort") == "descending"
        order = page.eval_on_selector_all("#area-table tbody tr", "rs => rs.map(r => r.dataset.code)")
        by_rate = sorted(areas["children"], key=lambda c: -(c["rework_rate"] or 0))
        assert order == [c["code"] for c in by_rate] and page.input_value("#metric") == "rework_rate"
        bars = page.evaluate("() => window.cc.stats.bars.chart.getOption().series[0].data")
        assert bars == [
            c["rework_rate"] or 0 for c in reversed(by_rate)
        ]  # ECharts draws the first at the bottom
        # the matters table: top 20 by cases, names not codes
        matters = get(hall, "/api/stats/matters", **YEAR)["rows"]
        shown = page.eval_on_selector_all("#matter-table tbody tr", "rs => rs.map(r => r.dataset.code)")
        assert shown == [m["code"] for m in sorted(matters, key=lambda m: -m["cases"])[:20]]
        first = matters[0]
        assert (
            page.inner_text(f"#matter-table tr[data-code='{first['code']}'] td[data-col=name]")
            == first["name"]
        )
        # the series: this year's points drawn (ECharts on a canvas: its option holds the numbers)
        points = get(hall, "/api/stats/series", **YEAR, bucket="month", by="source")["points"]
        drawn = page.evaluate(
            "() => window.cc.stats.series.chart.getOption().series.filter(s => s.type === 'bar').flatMap(s => s.data).reduce((a, b) => a + b, 0)"
        )
        assert drawn == sum(p["count"] for p in points) == summary["current"]["cases"]
        page.wait_for_function(
            "() => [...document.querySelectorAll('#hotspot-table .place')].every(p => p.textContent !== '…')",
            timeout=15000,
        )
        texts = visible_texts(page, "main")
        assert not english_words(texts["words"]), english_words(texts["words"])[:20]
        page.screenshot(path=str(ARTIFACTS / "city-year.png"), full_page=True)
    finally:
        page.context.close()
    assert not errors, errors
    assert not [c for c in console if "Content Security Policy" in c], console


def test_drill_down_from_the_city_to_a_grid_and_back(browser: Any, hall: dict[str, Any]) -> None:
    errors: list[str] = []
    page = open_stats(browser, hall, errors=errors)
    try:
        path: list[dict[str, Any]] = []
        city = get(hall, "/api/stats/areas", **YEAR)["area"]
        area = city["code"]
        for how in ("bars", "map", "row", "row"):  # to a district, a street, a community, a grid
            child = busiest(hall, area)
            before = loaded(page)
            if how == "row":
                page.click(f"#area-table tr[data-code='{child['code']}'] td[data-col=name]")
            else:
                click_figure(page, how, child["code"])
            wait_for_area(page, child["code"], before)
            path.append(child)
            area = child["code"]
            assert f"area={area}" in page.url
            named = [a["name"] for a in get(hall, f"/api/grids/{area}")["path"]]
            assert crumbs(page) == named == [city["name"], *(c["name"] for c in path)], (crumbs(page), named)
            check_tiles(page, hall, area)
        assert page.get_attribute("#stats", "data-level") == "grid"
        assert page.is_visible("#areas-leaf") and page.is_hidden("#area-table-wrap")
        assert page.locator("#area-table tbody tr.pick").count() == 0
        page.screenshot(path=str(ARTIFACTS / "grid.png"), full_page=True)
        # the address reproduces the view: a reload shows the same grid and crumbs
        before = loaded(page)
        page.reload()
        wait_for_area(page, area, "")
        assert crumbs(page) == [city["name"], *(c["name"] for c in path)]
        # a crumb goes back up: the district again, with its figures
        before = loaded(page)
        page.click(f"#crumbs li[data-code='{path[0]['code']}'] a")
        wait_for_area(page, path[0]["code"], before)
        check_tiles(page, hall, path[0]["code"])
        # Back returns to the grid
        before = loaded(page)
        page.go_back()
        wait_for_area(page, area, before)
    finally:
        page.context.close()
    assert not errors, errors


def test_the_areas_export_opens_in_a_real_reader(browser: Any, hall: dict[str, Any]) -> None:
    district = busiest(hall, get(hall, "/api/stats/areas", **YEAR)["area"]["code"])
    page = open_stats(browser, hall, f"{YEAR_VIEW}&area={district['code']}")
    try:
        rows = page.eval_on_selector_all(
            "#area-table tbody tr.pick", "rs => rs.map(r => [r.querySelector('[data-col=name]').innerText, r.querySelector('[data-col=cases]').innerText])"
        )  # fmt: skip
        with page.expect_download(timeout=20000) as event:
            page.click("#export-areas-xlsx")
        saved = ARTIFACTS / "areas.xlsx"
        event.value.save_as(saved)
        assert event.value.suggested_filename.endswith(".xlsx")
        sheet = openpyxl.load_workbook(saved, read_only=True).active
        head, *body = list(sheet.iter_rows(values_only=True))
        assert "区域" in head and "案件数" in head
        name, cases = head.index("区域"), head.index("案件数")
        assert len(body) == len(rows) > 1
        assert {r[name]: f"{r[cases]:,}" for r in body} == dict(rows)
    finally:
        page.context.close()


def test_every_figure_links_to_the_desks_search_for_its_cases(browser: Any, hall: dict[str, Any]) -> None:
    """In a district: an area row's 查看案件 is the API's `cases_url` (the desk's search over the
    street's grid prefix and the period's days, which lists that street's cases); the 案件数
    tile links where the API links the district's own row one level up; a bar of the series
    opens the desk's list of that month's cases of that source in the district."""
    district = busiest(hall, get(hall, "/api/stats/areas", **YEAR)["area"]["code"])
    street = busiest(hall, district["code"])
    page = open_stats(browser, hall, f"{YEAR_VIEW}&area={district['code']}")
    try:
        link = f"#area-table tr[data-code='{street['code']}'] a.cases-link"
        assert page.get_attribute(link, "href") == street["cases_url"]
        assert (
            page.get_attribute("#tiles .tile[data-key=cases] a.cases-link", "href") == district["cases_url"]
        )
        keys = page.evaluate("() => window.cc.stats.series.keys")
        months = page.evaluate("() => window.cc.stats.series.chart.getOption().xAxis[0].data")
        counts = page.evaluate("() => window.cc.stats.series.chart.getOption().series[0].data")
        month = max(range(len(months)), key=lambda i: counts[i])
        point = page.evaluate(
            "([i, v]) => window.cc.stats.series.chart.convertToPixel({ seriesIndex: 0 }, [i, v])",
            [month, counts[month] / 2],
        )
        page.locator("#series-chart").click(position={"x": point[0], "y": point[1]})
        page.wait_for_url("**/desk#*", timeout=15000)
        page.wait_for_selector("#desk:not([hidden])", timeout=15000)
        bar = {k: v[0] for k, v in parse_qs(urlparse(page.url).fragment).items()}
    finally:
        page.context.close()
    row = {k: v[0] for k, v in parse_qs(urlparse(street["cases_url"]).fragment).items()}
    assert row == {"grid": street["code"][:9], "since": YEAR["from"], "until": YEAR["to"]}
    found = get(hall, "/api/cases", **row, limit="1000", order="created")
    # merged and cancelled cases are listed by the desk but not counted by the statistics
    assert found["total"] >= street["cases"] > 0
    assert all(c["grid_code"].startswith(row["grid"]) for c in found["items"])
    first = f"{months[month]}-01"
    assert bar["grid"] == district["code"][:6] and bar["source"] == keys[0]
    assert bar["since"] == first and bar["until"][:7] == months[month] and bar["until"] > first
    found = get(hall, "/api/cases", **bar, limit="1000")
    assert found["total"] >= counts[month] > 0 and {c["source"] for c in found["items"]} == {keys[0]}


def test_the_desk_opens_filtered_by_a_figures_link(browser: Any, hall: dict[str, Any]) -> None:
    child = busiest(hall, get(hall, "/api/stats/areas", **YEAR)["area"]["code"])
    search = {k: v[0] for k, v in parse_qs(urlparse(child["cases_url"]).fragment).items()}
    page = new_page(browser, 1440, 900)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/cases?" in r.url else None)
    try:
        page.goto(f"{hall['server'].url}{child['cases_url']}")
        sign_in_form(page, *USERS["officer"])
        page.wait_for_selector("#desk:not([hidden])", timeout=15000)
        page.wait_for_timeout(1500)  # the first search
        assert any(
            urlencode({"grid": search["grid"]}) in url and f"since={YEAR['from']}" in url for url in asked
        ), asked
        assert page.input_value("#f-since") == YEAR["from"] and page.input_value("#f-state") == ""
        chosen = page.input_value("#f-street") or page.input_value("#f-area")  # the area, by name in its select
        assert chosen.startswith(search["grid"]) and child["name"] in page.inner_text("#search")
    finally:
        page.context.close()


def test_the_page_fits_a_phone(browser: Any, hall: dict[str, Any]) -> None:
    page = open_stats(browser, hall, width=390)
    try:
        assert overflow_px(page) <= 0
        assert page.is_hidden("#site-nav .nav-body")  # folded behind the menu button
        assert page.locator("#tiles .tile").count() == len(TILES)
        page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    finally:
        page.context.close()


def test_a_worker_and_the_public_cannot_reach_it(browser: Any, hall: dict[str, Any]) -> None:
    server = hall["server"]
    page = new_page(browser, 1440, 900)
    try:
        page.goto(f"{server.url}/stats")
        sign_in_form(page, hall["worker"], "st-worker-pass")
        page.wait_for_selector("#denied .nav-denied-go", timeout=15000)
        assert page.get_attribute("#denied a.nav-denied-go", "href") == "/terminal"
        links = page.eval_on_selector_all("#site-nav .nav-links a", "as => as.map(a => a.dataset.page)")
        assert "stats" not in links and page.is_hidden("#stats")
    finally:
        page.context.close()
    worker = httpx.get(
        f"{server.url}/api/stats/summary",
        headers=server.headers(role="worker", worker_id=hall["worker"]),
        timeout=10,
    )
    assert worker.status_code == 403
    assert httpx.get(f"{server.url}/api/stats/summary", timeout=10).status_code == 401
    assert httpx.get(f"{server.url}/api/stats/export?view=areas&format=xlsx", timeout=10).status_code == 401

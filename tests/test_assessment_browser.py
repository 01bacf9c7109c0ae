"""The assessment page (/assessment, 绩效考核) in a real browser over frozen months of generated
cases (tests/test_assessment.py's world, on SQLite).

An officer opens it in Chinese: the ranking table holds the API's rows in rank order, with the
honours' badges; a row opens its indicator breakdown (ECharts); the level tabs switch to grids;
the district's monthly PDF is downloaded and its first page read with pypdf (district, month,
ranking rows); the officer files an appeal from a ranking row, and an admin approves it on the
page, the worker's score changing as the API says. The page fits a 390 px phone. Screenshots
go to var/test-artifacts/assessment/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from command_center.app import ECHARTS_DIR
from command_center.auth.users import Account
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT
from tests.test_assessment import World, build_world
from tests.test_i18n import english_words

pytestmark = [
    *NEEDS_BROWSER,
    pytest.mark.skipif(not (ECHARTS_DIR / "echarts.esm.min.mjs").exists(), reason="needs ECharts from npm: run `make setup`"),
    pytest.mark.slow,
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "assessment"
USERS = {"officer": ("as-officer", "as-officer-pass"), "admin": ("as-admin", "as-admin-pass")}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("assessment-browser")
    for world in build_world(f"sqlite:///{data / 'cc.db'}", data, small_city):
        world.rt.auth.users.seed([Account(*USERS["officer"], "officer"), Account(*USERS["admin"], "admin")])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield world


def open_page(browser: Any, hall: World, role: str = "officer", width: int = 1440, errors: list[str] | None = None) -> Any:
    page = new_page(browser, width, 900, errors)
    page.goto(f"{hall.srv.url}/assessment")
    sign_in_form(page, *USERS[role])
    page.wait_for_selector("#assessment[data-loaded]", timeout=30000)
    return page


def wait_loaded(page: Any, before: str, level: str = "worker") -> None:
    page.wait_for_function(
        "([before, level]) => { const s = document.getElementById('assessment'); return s.dataset.loaded && s.dataset.loaded !== before && s.dataset.level === level; }",
        arg=[before, level], timeout=30000,
    )  # fmt: skip


def test_ranking_breakdown_levels_and_pdf_in_chinese(browser: Any, hall: World) -> None:
    errors: list[str] = []
    page = open_page(browser, hall, errors=errors)
    try:
        assert page.inner_text("#as-title") == "绩效考核"
        assert page.get_attribute("#assessment", "data-month") == "2026-11"
        assert "绩效考核" in page.inner_text("#site-nav")
        rows = hall.ok("/api/assessment/2026-11/scores?level=worker")["rows"]
        shown = page.eval_on_selector_all("#rank-table tbody tr", "rs => rs.map(r => [r.cells[0].innerText, r.cells[1].innerText, r.cells[3].innerText])")
        assert len(shown) == len(rows)
        for (rank, name, score), row in zip(shown, rows, strict=True):
            assert rank == str(row["rank"]) and name.startswith(row["name"]) and score == f"{row['score']:.2f}"
        honoured = [r for r in rows if r["honours"]]
        for row in honoured:
            assert "★金牌网格员" in page.inner_text(f"#rank-table tr[data-subject='{row['subject']}']")
        drawn = page.evaluate("() => window.cc.assessment.charts['rank-chart'].getOption().series[0].data.length")
        assert drawn == min(30, len(rows))
        page.click(f"#rank-table tr[data-subject='{rows[0]['subject']}'] td.name")
        page.wait_for_function("() => window.cc.assessment.charts['breakdown-chart']", timeout=10000)
        assert rows[0]["name"] in page.inner_text("#breakdown-who")
        texts = visible_texts(page, "main")
        assert not english_words(texts["words"]), english_words(texts["words"])[:20]
        page.screenshot(path=str(ARTIFACTS / "workers.png"), full_page=True)
        before = page.get_attribute("#assessment", "data-loaded")
        page.click("#levels button[data-level=grid]")
        wait_loaded(page, before, "grid")
        grids = hall.ok("/api/assessment/2026-11/scores?level=grid")["rows"]
        assert page.locator("#rank-table tbody tr").count() == len(grids)
        district = page.eval_on_selector("#district", "s => [s.value, s.options[s.selectedIndex].text]")
        with page.expect_download(timeout=30000) as event:
            page.click("#pdf")
        saved = ARTIFACTS / "report.pdf"
        event.value.save_as(saved)
        from pypdf import PdfReader

        first = PdfReader(str(saved)).pages[0].extract_text()
        assert district[1] in first and "2026年11月" in first and "绩效考核月报" in first
        top_district = hall.ok(f"/api/assessment/2026-11/scores?level=district&area={district[0]}")["rows"][0]
        assert f"{top_district['score']:.2f}" in first
    finally:
        page.context.close()
    assert not errors, errors


def test_an_officer_appeals_and_an_admin_approves_on_the_page(browser: Any, hall: World) -> None:
    month = "2026-11"
    rows = {r["subject"]: r for r in hall.ok(f"/api/assessment/{month}/scores?level=worker")["rows"]}
    late = hall.hand("SELECT c.assignee, f.id FROM case_facts f JOIN cases c ON c.id = f.id WHERE f.counted = 1 "
                     f"AND f.created_day >= '{month}-01' AND f.created_day <= '{month}-30' AND f.deferred = 0 "
                     "AND (f.on_time = 0 OR f.on_time IS NULL) ORDER BY f.id")  # fmt: skip
    worker, case_id = next((w, c) for w, c in late if w in rows and rows[w]["cases"] >= 3)
    page = open_page(browser, hall)
    try:
        page.click(f"#rank-table tr[data-subject='{worker}'] button[data-appeal]")
        page.fill("#appeal-case", case_id)
        page.fill("#appeal-reason", "暴雨停电，无法按期处置")
        before = page.get_attribute("#assessment", "data-loaded")
        page.click("#appeal-form button[type=submit]")
        wait_loaded(page, before)
        assert "待审核" in page.inner_text("#appeal-table")
    finally:
        page.context.close()
    page = open_page(browser, hall, role="admin", width=390)
    try:
        assert overflow_px(page) == 0
        row = page.locator("#appeal-table tbody tr").first
        row.locator("input").fill("情况属实")
        before = page.get_attribute("#assessment", "data-loaded")
        row.locator("button[data-decide=approve]").click()
        wait_loaded(page, before)
        assert "已批准" in page.inner_text("#appeal-table") and "情况属实" in page.inner_text("#appeal-table")
        after = {r["subject"]: r for r in hall.ok(f"/api/assessment/{month}/scores?level=worker")["rows"]}
        assert after[worker]["score"] != rows[worker]["score"]
        assert {s for s in rows if rows[s]["score"] != after[s]["score"]} == {worker}
        shown = page.inner_text(f"#rank-table tr[data-subject='{worker}']")
        assert f"{after[worker]['score']:.2f}" in shown
        assert overflow_px(page) == 0
        page.screenshot(path=str(ARTIFACTS / "phone-admin.png"), full_page=True)
    finally:
        page.context.close()
    with httpx.Client(base_url=hall.srv.url, headers=hall.srv.headers(role="worker", worker_id=worker)) as client:
        assert client.get(f"/api/assessment/{month}/appeals").status_code == 403  # a worker reads no appeals


def test_a_top_worker_reads_the_notice_on_the_terminal(browser: Any, hall: World) -> None:
    best = hall.ok("/api/assessment/2026-11/top?level=worker")["top"][0]
    hall.rt.auth.users.seed([Account("as-worker", "as-worker-pass", "worker", worker_id=best["subject"])])
    page = new_page(browser, 390, 800)
    try:
        page.goto(f"{hall.srv.url}/terminal")
        sign_in_form(page, "as-worker", "as-worker-pass")
        page.click(".tab[data-tab=history]")
        page.wait_for_selector("#assessment-notices li[data-kind=top]", timeout=20000)
        text = page.inner_text("#assessment-notices")
        assert "考核通知" in text and "2026-11 绩效考核：第 1 名" in text
        assert overflow_px(page) == 0
        page.screenshot(path=str(ARTIFACTS / "terminal-notice.png"))
    finally:
        page.context.close()

"""The re-check tasks on the terminal (基础数据定期核实, issue 19), in Chromium on a 390 px phone
against a real server (SQLite): the serve node's sweep opens the worker's tasks, the 采集 tab
lists them in words with the overdue one in red, 修改 opens the record's form (collect.js),
核实无误 closes each task (checked through the API: on time or late, the next check moved), and
the wall's 核查按期率 tile shows the share done in time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from basedata.verify_tasks import assignees
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from tests.test_i18n import english_words
from tests.test_verify_tasks import _api_records

pytestmark = NEEDS_BROWSER
ARTIFACTS = ROOT / "var" / "test-artifacts" / "verify-tasks"
PASSWORD = "worker-pass"


@dataclass
class Hall:
    srv: ServerThread
    rt: Runtime
    worker: str

    def get(self, path: str) -> Any:
        return httpx.get(
            self.srv.url + path, headers=self.srv.headers(role="officer", user="t-officer"), timeout=10
        ).json()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


@pytest.fixture
def hall(tmp_path: Any, small_city: City) -> Iterator[Hall]:
    """A grid's worker with two rental households to re-check: one due in 5 days, one 10 days overdue."""
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    chosen = assignees(small_city.workers)
    grid = next(g for g in sorted(chosen) if g.startswith("440103"))
    base_data_store(rt.store).upsert_mixed(_api_records(grid, rt.dispatcher.today()), by="t")
    with serve_app(rt) as srv:
        rt.auth.users.seed([Account(chosen[grid], PASSWORD, "worker", worker_id=chosen[grid]),
                            Account("hall", PASSWORD, "officer")])  # fmt: skip
        made = Hall(srv, rt, chosen[grid])
        wait_for(lambda: made.get("/api/basedata/tasks")["total"] == 2, 20, "the serve node's first sweep")
        yield made


def test_the_worker_rechecks_from_the_list_and_the_wall_counts_it(hall: Hall, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{hall.srv.url}/terminal#collect")
        sign_in_form(page, hall.worker, PASSWORD)
        page.wait_for_selector("#collect-checks .check >> nth=1", timeout=15000)
        _listed(page)
        # 修改: the 采集 tab's form opens on the record (collect.js hears 'collect:edit')
        page.click(".check[data-state=open] [data-action=edit]")
        page.wait_for_selector("#collect-form:not([hidden])", timeout=10000)
        page.screenshot(path=str(ARTIFACTS / "list.png"), full_page=True)
        for key in ("VB1-302", "VB1-301"):  # the overdue one first: late; then one in time
            label = f"5号楼 {key[-3:]}"
            page.click(f".check:has(.check-label:text-is('{label}')) [data-action=verify]")
            page.wait_for_selector(f".check-label:text-is('{label}')", state="detached", timeout=10000)
        page.wait_for_selector("#collect-checks .empty:text-is('暂无待核查的记录。')", timeout=5000)
        done = {t["record_id"]: t["on_time"] for t in hall.get("/api/basedata/tasks?state=done")["items"]}
        assert done == {"VB1-302": False, "VB1-301": True}
        record = hall.get("/api/basedata/households/VB1-302")
        assert record["next_check_at"] == (hall.rt.dispatcher.today() + timedelta(days=30)).isoformat()
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failed.png"), full_page=True)
        raise
    finally:
        context.close()
    _wall(hall, browser)


def _listed(page: Any) -> None:
    """Both tasks in words, the overdue one first and in red; Chinese only; nothing overflows."""
    labels = page.locator("#collect-checks .check-label").all_inner_texts()
    assert labels == ["5号楼 302", "5号楼 301"], labels
    overdue = page.locator(".check[data-state=overdue] .check-when")
    assert overdue.inner_text() == "已逾期 10 天"
    red = page.evaluate(
        "() => getComputedStyle(document.querySelector('.check[data-state=overdue] .check-when')).color"
    )
    plain = page.evaluate(
        "() => getComputedStyle(document.querySelector('.check[data-state=open] .check-when')).color"
    )
    assert red != plain, (red, plain)
    assert "前核查" in page.locator(".check[data-state=open] .check-when").inner_text()
    assert "体育西路9号" in page.locator(".check[data-state=open] .check-where").inner_text()
    assert page.inner_text("#checks-count") == "2"
    words = visible_texts(page, "#collect-checks")["words"]
    assert not english_words(words), words
    assert overflow_px(page) == 0


def _wall(hall: Hall, browser: Any) -> None:
    """The hall's wall: 核查按期率 over the district's decided tasks (one on time of two)."""
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{hall.srv.url}/wall")
        sign_in_form(page, "hall", PASSWORD)
        page.wait_for_selector("#kpi-verify:text-is('50%')", timeout=20000)
        tile = page.locator(".kpi[data-kpi=verify]")
        assert tile.locator(".kpi-label").inner_text() == "核查按期率"
        assert page.get_attribute("#kpi-verify", "title") == "基础数据定期核查：按期完成 1 / 应完成 2"
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "wall-failed.png"), full_page=True)
        raise
    finally:
        context.close()

"""The hall's base-data page (/basedata, 人口房屋) in a real browser: issue 19's Done-when "an
officer without the right never sees an ID number (API and page), and a reveal is audited".

A real server holds basedata.sample over three grids of small_city, sealed under the server's
own key; the clear ID numbers are kept here only to look for them in the page. An officer
sees the grids by name with the API's counts, a grid's people with masked ID numbers and no
查看, and no ID number anywhere in the page's HTML; an admin reveals one with a reason (the
value shows, masks again after 30 s, and the audit log has the reveal); 标记已核实 moves the
next check, and a stale one shows the conflict. The nav offers 人口房屋 to officers and admins,
not to workers. Screenshots go to var/test-artifacts/basedata/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from basedata.model import Person
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "basedata"
PEOPLE = 120
MASKED_ID = re.compile(r"^\*{14}[0-9X]{4}$")
ANY_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
COUNTED = ("addresses", "buildings", "households", "people", "organisations", "overdue")
USERS = {"officer": ("bd-officer", "bd-officer-pass"), "admin": ("bd-admin", "bd-admin-pass")}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    """Three grids' sample base data, the clear ID numbers by person id, and the accounts."""
    data = tmp_path_factory.mktemp("basedata-browser")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    other = next(g.code for g in small_city.grids if g.code[:6] == worker.grid_code[:6] and g.code != worker.grid_code)
    far = next(g.code for g in small_city.grids if g.code[:6] != worker.grid_code[:6])
    grids = [worker.grid_code, other, far]
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))  # the server's own key file
    records = list(generate([(g, small_city.areas[g].lon, small_city.areas[g].lat) for g in grids],
                            SampleSpec(people=PEOPLE, seed=5), cipher))  # fmt: skip
    clear = {r.id: cipher.open("id_number", r.id_number) for _, r in records if isinstance(r, Person)}
    base_data_store(rt.store).upsert_mixed(iter(records), by="test")
    with serve_app(rt) as server:
        rt.auth.users.seed([
            Account(*USERS["officer"], "officer"),
            Account(*USERS["admin"], "admin"),
            Account(worker.id, "bd-worker-pass", "worker", worker_id=worker.id),
        ])  # fmt: skip
        api = httpx.Client(base_url=server.url, headers=server.headers(), timeout=10)
        yield {"server": server, "rt": rt, "grids": grids, "clear": clear, "worker": worker.id, "api": api}
        api.close()


def open_page(browser: Any, hall: dict[str, Any], role: str, hash_: str = "", width: int = 1440,
              errors: list[str] | None = None, clock: bool = False) -> Any:  # fmt: skip
    page = new_page(browser, width, 900, errors)
    if clock:
        page.clock.install()  # the 30 s of a reveal, fast-forwarded
    page.goto(f"{hall['server'].url}/basedata{hash_}")
    sign_in_form(page, *USERS[role])
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    return page


def open_people(page: Any, grid: str) -> None:
    page.click(f"#grid-rows tr.grid-row[data-grid='{grid}']")
    page.click(".bd-tab[data-kind=people]")
    page.wait_for_selector(f"#records[data-grid='{grid}'][data-kind=people][data-loaded=true]", timeout=10000)


def nav_pages(page: Any) -> list[str]:
    links: list[str] = page.eval_on_selector_all("#site-nav .nav-links a", "as => as.map(a => a.dataset.page)")
    return links


def test_an_officer_sees_the_grids_and_only_masked_id_numbers(browser: Any, hall: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_page(browser, hall, "officer", errors=errors)
    reveals: list[str] = []
    page.on("request", lambda r: reveals.append(r.url) if "/reveal" in r.url else None)
    try:
        assert "basedata" in nav_pages(page)
        assert page.get_attribute("#site-nav a[data-page=basedata]", "aria-current") == "page"
        # the grid table: names (not codes) and the API's counts, overdue red when > 0
        counts = hall["api"].get("/api/basedata/counts", headers=hall["server"].headers(role="officer")).json()
        assert len(counts["items"]) == 3
        for item in counts["items"]:
            row = f"#grid-rows tr[data-grid='{item['grid_code']}']"
            assert page.inner_text(f"{row} .grid-name") == item["name"] and item["name"]
            for key in COUNTED:
                assert page.inner_text(f"{row} td[data-col={key}]") == str(item[key]), (item, key)
            red = "overdue" in (page.get_attribute(f"{row} td[data-col=overdue]", "class") or "")
            assert red == (item["overdue"] > 0)
        for key in COUNTED:
            assert page.inner_text(f"#grid-totals td[data-col={key}]") == str(counts["totals"][key])

        grid = hall["grids"][1]
        open_people(page, grid)
        assert page.inner_text("#records-title") == next(i["name"] for i in counts["items"] if i["grid_code"] == grid)
        shown = page.eval_on_selector_all("#record-rows td[data-col=id_number] .value", "ns => ns.map(n => n.textContent)")
        assert shown and all(MASKED_ID.match(s) for s in shown), shown[:5]
        people = page.eval_on_selector_all("#record-rows tr.record-row", "rs => rs.map(r => r.dataset.id)")
        assert all(hall["clear"][p][-4:] == s[-4:] for p, s in zip(people, shown, strict=True))
        assert page.locator("button.reveal").count() == 0  # no 查看 for an officer
        html = page.content()
        assert not [n for n in hall["clear"].values() if n in html]
        assert not ANY_ID_NUMBER.findall(html)
        words = english_words(visible_texts(page, "#basedata")["words"])
        assert not words, f"English on the Chinese page: {sorted(set(words))[:15]}"
        for width, height in ((375, 812), (768, 1024), (1440, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(250)
            page.screenshot(path=str(ARTIFACTS / f"officer-{width}.png"), full_page=width < 1440)
            assert overflow_px(page) == 0, f"{width}px: wider than the viewport"
    finally:
        page.context.close()
    assert not reveals and not errors, (reveals, errors)


def test_an_admin_reveals_an_id_number_with_a_reason_and_it_is_audited(browser: Any, hall: dict[str, Any]) -> None:
    grid = hall["grids"][0]
    errors: list[str] = []
    page = open_page(browser, hall, "admin", f"#grid={grid}&kind=people", errors=errors, clock=True)
    try:
        page.wait_for_selector(f"#records[data-grid='{grid}'][data-loaded=true]", timeout=10000)
        row = page.locator("#record-rows tr.record-row").first
        person, cell = row.get_attribute("data-id"), row.locator("td[data-col=id_number] .value")
        masked = cell.inner_text()
        assert MASKED_ID.match(masked)
        row.locator("button.reveal[data-field=id_number]").click()
        page.wait_for_selector("#reveal-dialog[open]")
        page.click("#reveal-ok")  # no reason: refused here, nothing sent
        assert page.inner_text("#reveal-error") == "请填写查看原因"
        assert page.evaluate("() => document.querySelector('#reveal-dialog').open")
        page.fill("#reveal-reason", "走访核实身份")
        page.click("#reveal-ok")
        page.wait_for_selector("#record-rows .value.revealed", timeout=5000)
        assert cell.inner_text() == hall["clear"][person]
        page.screenshot(path=str(ARTIFACTS / "admin-revealed.png"))
        audit = [r for r in hall["rt"].store.iter_audit() if r["action"] == "basedata.reveal"]
        assert audit and audit[-1]["target"] == person and audit[-1]["actor"] == USERS["admin"][0]
        assert "走访核实身份" in audit[-1]["detail"] and hall["clear"][person] not in audit[-1]["detail"]
        page.clock.run_for(31_000)  # after 30 s the mask is back
        page.wait_for_selector("#record-rows .value.revealed", state="detached", timeout=5000)
        assert cell.inner_text() == masked
    finally:
        page.context.close()
    assert not errors, errors


def test_marking_verified_moves_the_next_check_and_a_stale_one_shows_the_conflict(
    browser: Any, hall: dict[str, Any]
) -> None:
    grid, api = hall["grids"][2], hall["api"]
    errors: list[str] = []
    page = open_page(browser, hall, "officer", f"#grid={grid}&kind=households", errors=errors)
    try:
        page.check("#due-only")  # the re-check list: due ones only
        page.wait_for_selector("#records[data-kind=households][data-loaded=true] tr.record-row[data-due=true]", timeout=10000)
        household = page.locator("#record-rows tr.record-row").first.get_attribute("data-id")
        before = api.get(f"/api/basedata/households/{household}").json()
        assert before["due"] is True
        page.click(f"#record-rows tr[data-id='{household}'] button.verify")
        days = 30 if before["kind"] == "rental" else 90
        today = hall["rt"].dispatcher.today()  # the city's date, as the routes take it
        expected = (today + timedelta(days=days)).isoformat()
        page.wait_for_selector(f"#record-rows tr[data-id='{household}'][data-due=false]", timeout=5000)
        assert page.inner_text(f"#record-rows tr[data-id='{household}'] td[data-col=next_check_at]") == expected
        after = api.get(f"/api/basedata/households/{household}").json()
        assert (after["next_check_at"], after["verified_at"]) == (expected, today.isoformat())

        # someone else changes the next row meanwhile: the page's version is stale
        stale = page.locator("#record-rows tr.record-row[data-due=true]").first.get_attribute("data-id")
        current = api.get(f"/api/basedata/households/{stale}").json()
        changed = api.patch(f"/api/basedata/households/{stale}", json={"version": current["version"], "room": "9901"})
        assert changed.status_code == 200, changed.text
        page.click(f"#record-rows tr[data-id='{stale}'] button.verify")
        page.wait_for_selector("#conflict:not([hidden])", timeout=5000)
        assert "记录已被他人修改" in page.inner_text("#conflict") and "9901" in page.inner_text("#conflict")
        page.wait_for_function(  # the list again, with the record as it stands
            f"() => document.querySelector(\"#record-rows tr[data-id='{stale}']\")?.dataset.version === '{current['version'] + 1}'",
            timeout=5000,
        )
        assert api.get(f"/api/basedata/households/{stale}").json()["next_check_at"] == current["next_check_at"]
        page.screenshot(path=str(ARTIFACTS / "conflict.png"))
    finally:
        page.context.close()
    assert not errors, errors


def test_the_nav_offers_the_page_to_officers_and_admins_not_to_workers(browser: Any, hall: dict[str, Any]) -> None:
    page = open_page(browser, hall, "admin")
    try:
        assert "basedata" in nav_pages(page) and page.inner_text("#site-nav a[data-page=basedata]") == "人口房屋"
        page.click("#site-nav .nav-lang")  # English on choice: the page reloads in it
        page.wait_for_selector("body[data-ready=true]", timeout=15000)
        assert page.inner_text(".bd-tab[data-kind=people]") == "People"
        assert page.inner_text("#site-nav a[data-page=basedata]") == "Population & housing"
        assert page.inner_text("#grid-totals th") == "Total"
    finally:
        page.context.close()
    page = new_page(browser, 390, 844)
    try:
        page.goto(f"{hall['server'].url}/basedata")
        sign_in_form(page, hall["worker"], "bd-worker-pass")
        page.wait_for_selector("#denied .nav-denied-go", timeout=15000)
        assert nav_pages(page) == ["terminal"]
        assert page.is_hidden("#basedata") and page.locator("#grid-rows tr").count() == 0
    finally:
        page.context.close()

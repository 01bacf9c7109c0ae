"""导出 and 迁出 on the hall's base-data page (/basedata) in a real browser.

An officer opens 导出 on a grid's people: the dialog first says that the file records their
name and the time, offers no full values, and the CSV downloaded names them in its first line
with masked ID numbers only; an admin is offered full values and must give a reason. 迁出 on a
person's row, confirmed, takes them out of the list and marks them moved out in the store,
audited. Screenshots go to var/test-artifacts/basedata/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from basedata.model import Person
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, overflow_px, sign_in_form
from tests.helpers import ROOT, build_runtime, serve_app

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "basedata"
ANY_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
USERS = {"officer": ("ex-officer", "ex-officer-pass"), "admin": ("ex-admin", "ex-admin-pass")}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("export-browser")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    grid = small_city.workers[0].grid_code
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
    records = list(generate([(grid, small_city.areas[grid].lon, small_city.areas[grid].lat)],
                            SampleSpec(people=30, seed=8), cipher))  # fmt: skip
    clear = {r.id: cipher.open("id_number", r.id_number) for _, r in records if isinstance(r, Person)}
    base_data_store(rt.store).upsert_mixed(iter(records), by="test")
    with serve_app(rt) as server:
        rt.auth.users.seed([Account(*USERS["officer"], "officer"), Account(*USERS["admin"], "admin")])
        yield {"server": server, "rt": rt, "grid": grid, "clear": clear}


def open_people(browser: Any, hall: dict[str, Any], role: str, errors: list[str]) -> Any:
    page = new_page(browser, 1440, 900, errors)
    page.goto(f"{hall['server'].url}/basedata#grid={hall['grid']}&kind=people")
    sign_in_form(page, *USERS[role])
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    page.wait_for_selector(
        f"#records[data-grid='{hall['grid']}'][data-kind=people][data-loaded=true]", timeout=10000
    )
    return page


def test_an_officer_exports_a_grids_people_with_the_watermark_notice(
    browser: Any, hall: dict[str, Any], tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_people(browser, hall, "officer", errors)
    try:
        page.click("#export-open")
        page.wait_for_selector("#export-dialog[open]")
        assert page.inner_text(".bd-export-notice") == "导出文件将记录您的姓名与时间"
        assert page.inner_text("#export-what") == "人员" and page.is_checked("#export-scope-grid")
        assert not page.is_visible("#export-reveal-row")  # no full values for an officer
        page.select_option("#export-format", "csv")
        page.screenshot(path=str(ARTIFACTS / "export-dialog.png"))
        with page.expect_download(timeout=15000) as event:
            page.click("#export-ok")
        download = event.value
        saved = tmp_path / "export.csv"
        download.save_as(saved)
        text = saved.read_text(encoding="utf-8-sig")
        assert download.suggested_filename.endswith(".csv") and "人员" in download.suggested_filename
        first, rest = text.split("\n", 1)
        assert first.startswith("# 导出人 ex-officer") and "导出时间" in first and "编号 EX" in first
        assert len(rest.strip().splitlines()) == 1 + len(hall["clear"]) and not ANY_ID_NUMBER.search(text)
        page.wait_for_selector("#export-dialog[data-last-export]", state="hidden")  # closed once saved
        export_id = page.get_attribute("#export-dialog", "data-last-export")
        rows = [
            r
            for r in hall["rt"].store.iter_audit()
            if r["action"] == "basedata.export" and r["target"] == export_id
        ]
        assert len(rows) == 1 and rows[0]["actor"] == "ex-officer"
        assert overflow_px(page) == 0
    finally:
        page.context.close()
    assert not errors, errors


def test_an_admin_is_offered_full_values_only_with_a_reason(browser: Any, hall: dict[str, Any]) -> None:
    errors: list[str] = []
    page = open_people(browser, hall, "admin", errors)
    try:
        page.click("#export-open")
        page.wait_for_selector("#export-reveal-row", state="visible")
        page.check("#export-reveal")
        page.click("#export-ok")
        assert page.inner_text("#export-error") == "请填写导出完整信息的原因"
        assert page.is_visible("#export-dialog[open]")
    finally:
        page.context.close()
    assert not errors, errors


def test_moving_a_person_out_takes_them_off_the_list_and_undoing_it_puts_them_back(browser: Any, hall: dict[str, Any]) -> None:
    errors: list[str] = []
    page = open_people(browser, hall, "officer", errors)
    try:
        first = page.get_attribute("#record-rows tr.record-row", "data-id")
        confirms: list[str] = []

        def accept(dialog: Any) -> None:
            confirms.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        page.click(f"#record-rows tr.record-row[data-id='{first}'] button.leave")
        page.wait_for_selector(
            f"#record-rows tr.record-row[data-id='{first}']", state="detached", timeout=10000
        )
        assert confirms and "迁出" in confirms[0]
        person = base_data_store(hall["rt"].store).get("person", first)
        assert isinstance(person, Person) and person.left_on is not None
        audited = [r for r in hall["rt"].store.iter_audit() if r["action"] == "basedata.leave"]
        assert [r["target"] for r in audited] == [first] and audited[0]["actor"] == "ex-officer"
        # marked in error: 撤销迁出 on the line left behind puts the person back
        line = page.wait_for_selector(f"#record-rows tr.left-row[data-id='{first}']", timeout=5000)
        assert "迁出" in line.inner_text()
        page.click(f"#record-rows tr.left-row[data-id='{first}'] button.return")
        page.wait_for_selector(f"#record-rows tr.record-row[data-id='{first}']", timeout=10000)
        back = base_data_store(hall["rt"].store).get("person", first)
        assert isinstance(back, Person) and back.left_on is None
        returned = [r for r in hall["rt"].store.iter_audit() if r["action"] == "basedata.return"]
        assert [r["target"] for r in returned] == [first]
    finally:
        page.context.close()
    assert not errors, errors

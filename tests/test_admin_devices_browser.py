"""The admin console's 设备 section in a real browser: an admin adds a device (its grid found
from the point), sees it listed by name with its kind and grid by name, edits it, imports a
file whose bad row is named by row and column (nothing written), and retires the device."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.store.device_records import device_store
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, chromium, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

pytestmark = NEEDS_BROWSER


@pytest.fixture
def site(tmp_path: Path, small_city: City) -> Iterator[dict[str, Any]]:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account("admin", "admin", "admin")])
        yield {
            "server": server,
            "rt": rt,
            "grid": small_city.grids[len(small_city.grids) // 2],
            "dir": tmp_path,
        }


def test_an_admin_adds_edits_imports_and_retires_a_device(site: dict[str, Any]) -> None:
    server, grid, rt = site["server"], site["grid"], site["rt"]
    errors: list[str] = []
    with chromium() as browser:
        page = new_page(browser, 1280, 900, errors)
        page.goto(f"{server.url}/admin#devices")
        sign_in_form(page, "admin", "admin")
        section = page.locator("#tab-devices")
        section.locator("[data-part=add]").click(timeout=15000)
        form = section.locator("[data-part=form]")
        form.locator("input[name=id]").fill("SMK-0001")
        form.locator("input[name=name]").fill("体育西路三楼烟感")
        form.locator("select[name=kind]").select_option("smoke")
        form.locator("input[name=lon]").fill(str(grid.lon))
        form.locator("input[name=lat]").fill(str(grid.lat))
        form.locator("input[name=thresholds]").fill("battery_low.high=0.2")
        section.locator("[data-part=save]").click()
        row = section.locator("tr[data-id='SMK-0001']")
        row.wait_for(timeout=15000)
        text = row.inner_text()
        assert "体育西路三楼烟感" in text and "烟感" in text and grid.name in text and "离线" in text
        assert "SMK-0001" not in text and grid.code not in text  # names, not ids
        stored = device_store(rt.store).get("SMK-0001")
        assert (
            stored is not None
            and stored.grid_code == grid.code
            and stored.thresholds == {"overrides": {"battery_low": {"high": 0.2}}}
        )
        # edit: the form opens with the stored values and saves on the version read
        row.locator("button", has_text="编辑").click()
        assert form.locator("input[name=thresholds]").input_value() == "battery_low.high=0.2"
        form.locator("input[name=address]").fill("体育西路1号")
        section.locator("[data-part=save]").click()
        page.wait_for_function(
            "() => document.querySelector('#tab-devices [data-part=editor]').hidden", timeout=10000
        )
        assert device_store(rt.store).get("SMK-0001").address == "体育西路1号"  # type: ignore[union-attr]
        # a file with a bad row: named by row and column, nothing written
        path = site["dir"] / "设备.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows([["设备编号", "设备名称", "类型", "经度", "纬度"],
                                       ["WL-1", "隧道水位", "水位", grid.lon, grid.lat],
                                       ["RD-1", "雷达", "雷达", grid.lon, grid.lat]])  # fmt: skip
        section.locator("[data-part=upload] input[name=file]").set_input_files(str(path))
        page.once("dialog", lambda dialog: dialog.accept())
        section.locator("[data-part=apply]").click()
        problems = section.locator("[data-part=problems] li")
        problems.first.wait_for(timeout=15000)
        assert "第 3 行 · 类型" in problems.first.inner_text() and "雷达" in problems.first.inner_text()
        assert device_store(rt.store).get("WL-1") is None
        # retire
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button", has_text="停用").click()
        row.wait_for(state="detached", timeout=10000)
        assert device_store(rt.store).get("SMK-0001") is None
        # a phone: the section stacks within 390 px
        page.set_viewport_size({"width": 390, "height": 800})
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 392
    assert errors == []

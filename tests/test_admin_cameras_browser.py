"""The issue's Done-when for cameras, in a real browser: an admin adds a simulated camera in the
console, picks its model and a simulated PTZ head, tests the connection (the snapshot shows), draws a zone over most of the frame with a
rule that fires on that scene, saves, and without a restart the camera is online and an incident
in that zone arrives. The section also fits a 390 px wide phone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, chromium, new_page, sign_in_form
from tests.helpers import build_runtime, serve_app

pytestmark = NEEDS_BROWSER
CAMERA, ZONE = "cam-console", "全画面"


@pytest.fixture
def site(tmp_path: Path, small_city: City) -> Iterator[dict[str, Any]]:
    # The motion detector: every moving thing is a track at once, so an intrusion fires in seconds.
    config = parse_config({
        "server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}",
        "detector": {"backend": "motion"}, "evidence": {"clips": False},
        # a second named model, for the form's model choice
        "detectors": {"moving": {"backend": "motion"}},
    })  # fmt: skip
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account("admin", "admin", "admin")])
        yield {"server": server, "rt": rt, "grid": small_city.grids[len(small_city.grids) // 2]}


def incident_in_zone(server: Any, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=10) as http:
        while time.monotonic() < deadline:
            items = http.get("/api/incidents", params={"limit": 50}).json()["items"]
            found = [i for i in items if i["camera_id"] == CAMERA and i.get("zone") == ZONE]
            if found:
                return found[0]
            time.sleep(0.5)
    return None


def test_an_admin_adds_a_camera_draws_a_zone_and_an_incident_arrives(site: dict[str, Any]) -> None:
    server, grid = site["server"], site["grid"]
    errors: list[str] = []
    with chromium() as browser:
        page = new_page(browser, 1280, 900, errors)
        page.goto(f"{server.url}/admin#cameras")
        sign_in_form(page, "admin", "admin")
        section = page.locator("#tab-cameras")
        section.locator("[data-part=add]").click(timeout=15000)
        form = section.locator("[data-part=form]")
        form.locator("input[name=id]").fill(CAMERA)
        form.locator("input[name=name]").fill("测试路口")
        form.locator("select[name=kind]").select_option("sim")
        form.locator("input[name=url]").fill("sim://street?seed=5")
        form.locator("input[name=lon]").fill(str(grid.lon))
        form.locator("input[name=lat]").fill(str(grid.lat))
        form.locator("input[name=lat]").dispatch_event("change")
        form.locator("input[name=fps]").fill("4")
        # The models the configuration has (by name, the default one in words), the PTZ head.
        assert form.locator("[data-part=models] label").all_inner_texts()[0].startswith("默认模型")
        form.locator("input[name=model][value=moving]").check()
        form.locator("select[name=ptz_kind]").select_option("sim")
        assert not form.locator("input[name=ptz_url]").is_visible()  # ONVIF's fields only for ONVIF
        form.locator("input[name=ptz_home]").fill("wide")
        section.locator("[data-part=probe]").click()
        page.wait_for_function(
            "() => document.querySelector('#tab-cameras [data-part=image]').naturalWidth > 0", timeout=20000
        )
        assert "连接成功" in section.locator("[data-part=probe-state]").inner_text()
        assert grid.name in section.locator("[data-part=grid]").inner_text()  # the grid's name, located
        overlay = section.locator("[data-part=overlay]")
        box = overlay.bounding_box()
        assert box is not None and box["width"] > 100
        for fx, fy in ((0.03, 0.03), (0.97, 0.03), (0.97, 0.97), (0.03, 0.97)):
            overlay.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        zone = section.locator("[data-part=zone]")
        zone.locator("input[name=zone_name]").fill(ZONE)
        assert zone.locator("label", has_text="垃圾满溢").count() == 1  # the server's rules, the new ones too
        zone.locator("label", has_text="区域闯入").locator("input").check()
        section.locator("[data-part=zone-done]").click()
        assert "区域闯入" in section.locator("[data-part=zones]").inner_text()
        section.locator("[data-part=save]").click()
        row = section.locator(f"tr[data-id='{CAMERA}']")
        row.wait_for(timeout=15000)
        page.wait_for_function(
            f"() => document.querySelector(\"#tab-cameras tr[data-id='{CAMERA}']\")?.textContent.includes('在线')",
            timeout=30000,
        )
        assert "测试路口" in row.inner_text()
        saved = site["rt"].cameras.config_of(CAMERA)
        assert saved.models == ["moving"] and saved.ptz is not None and (saved.ptz.kind, saved.ptz.home) == ("sim", "wide")
        incident = incident_in_zone(server, 60)
        assert incident is not None, "no incident in the drawn zone within 60 s"
        assert incident["rule"] == "zone_intrusion"
        # The drawn zone, in source pixels, covers most of the frame.
        polygon = site["rt"].cameras.config_of(CAMERA).zones[0].polygon
        xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
        width, height = map(int, section.locator("[data-part=probe-state]").inner_text().split("·")[1].strip().split("×"))
        assert (max(xs) - min(xs)) > 0.9 * width and (max(ys) - min(ys)) > 0.9 * height
        # A phone: the section stacks within 390 px.
        page.set_viewport_size({"width": 390, "height": 800})
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 392
    assert errors == []

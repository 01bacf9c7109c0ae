"""Citizen reports over Open311 GeoReport v2 and the web form, on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

URL = "/open311/v2/requests.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("open311")
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "citizen": {"reports_per_minute": 600, "burst": 100, "max_photo_mb": 1},
        }
    )
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def http(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=10, headers=server[0].headers()) as client:
        yield client


def form(city: City, i: int = 0, **extra: str) -> dict[str, str]:
    grid = city.grids[100 + i]
    return {"service_code": "0101", "lat": str(grid.lat), "long": str(grid.lon), "description": "垃圾堆在路口", **extra}


def test_services_come_from_the_catalog(http: httpx.Client) -> None:
    services = http.get("/open311/v2/services.json").json()
    assert len(services) >= 35
    assert {"service_code", "service_name", "group", "type"} <= set(services[0])


def test_report_becomes_a_case_and_can_be_followed(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    _, rt = server
    photo = "https://example.org/clue/42.jpg"  # only stored and echoed: nothing is fetched
    created = http.post(URL, data=form(small_city, media_url=photo))
    assert created.status_code == 201, created.text
    report_id = created.json()[0]["service_request_id"]
    (request,) = http.get(f"/open311/v2/requests/{report_id}.json").json()
    assert request["status"] == "open" and request["service_code"] == "0101"
    assert request["media_url"] == photo
    assert request["expected_datetime"] and request["agency_responsible"]
    report = rt.store.get_report(report_id)
    case = rt.store.get_case(report["case_id"])
    assert case is not None and case.source == "citizen" and case.grid_code == small_city.grids[100].code
    listed = http.get(URL, params={"service_request_id": report_id}).json()
    assert [r["service_request_id"] for r in listed] == [report_id]
    # The loop closes: the citizen sees it closed. Each acts under their own login (the
    # checker is not the handler).
    worker, officer = server[0].headers(role="worker", worker_id=case.assignee), server[0].headers(role="officer")
    for action, who in (("accept", worker), ("feedback", worker), ("close", officer)):
        assert http.post(f"/api/cases/{case.id}/{action}", json={"note": "done"}, headers=who).status_code == 200
    assert http.get(f"/open311/v2/requests/{report_id}.json").json()[0]["status"] == "closed"


def test_photo_upload_is_served(http: httpx.Client, small_city: City) -> None:
    ok, png = cv2.imencode(".png", np.full((40, 60, 3), 200, np.uint8))
    created = http.post(URL, data=form(small_city, 1), files={"media": ("p.png", png.tobytes(), "image/png")})
    assert created.status_code == 201, created.text
    (request,) = http.get(f"/open311/v2/requests/{created.json()[0]['service_request_id']}.json").json()
    photo = http.get(request["media_url"])
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"service_code": "nope"}, 400, "unknown service_code"),
        ({"lat": "north"}, 400, "must be numbers"),
        ({"lat": "-33.9", "long": "151.2"}, 400, "outside the city"),
        ({"description": "  "}, 400, "description is required"),
        ({"description": "buy http://a http://b http://c"}, 400, "spam"),
        ({"media_url": "ftp://x"}, 400, "media_url"),
    ],
)
def test_bad_reports_are_refused_with_a_reason(http: httpx.Client, small_city: City, change, status, error) -> None:  # noqa: ANN001
    response = http.post(URL, data={**form(small_city, 2), **change})
    assert response.status_code == status and error in response.json()[0]["description"]


def test_missing_location_bad_photo_size_and_type(http: httpx.Client, small_city: City) -> None:
    no_place = {k: v for k, v in form(small_city).items() if k not in ("lat", "long")}
    assert "lat and long, or address_string" in http.post(URL, data=no_place).json()[0]["description"]
    not_image = http.post(URL, data=form(small_city), files={"media": ("x.jpg", b"not an image", "image/jpeg")})
    assert not_image.status_code == 400 and "photo" in not_image.json()[0]["description"]
    huge = http.post(URL, data=form(small_city), files={"media": ("big.jpg", b"\xff" * 2_000_000, "image/jpeg")})
    assert huge.status_code == 413
    assert http.post(URL, content=b"<xml/>", headers={"content-type": "text/xml"}).status_code == 415
    assert http.get("/open311/v2/requests/R-none.json").status_code == 404


def test_rate_limit_per_address(tmp_path: Path, small_city: City) -> None:
    config = parse_config(
        {"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}",
         "citizen": {"reports_per_minute": 1, "burst": 2}}
    )  # fmt: skip
    with serve_app(config, city=small_city) as srv, httpx.Client(base_url=srv.url) as client:
        codes = [client.post(URL, data=form(small_city, i)).status_code for i in range(4)]
        assert codes == [201, 201, 429, 429]
        assert "retry after" in client.post(URL, data=form(small_city)).json()[0]["description"]


def test_citizen_form_in_a_browser(server) -> None:  # noqa: ANN001
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium not installed")
    srv, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        page.goto(f"{srv.url}/citizen")
        page.wait_for_selector("#service option", state="attached")
        page.select_option("#service", "0101")
        page.fill("#description", "a pile of rubbish")
        grid = server[1].city.city.grids[120]
        page.fill("#lat", str(grid.lat))
        page.fill("#long", str(grid.lon))
        page.click("#send")
        page.wait_for_selector("#status:not([hidden])")
        assert page.inner_text("#tracking").startswith("R")
        assert page.get_attribute("#status", "data-status") == "open"
        assert "?id=R" in page.url
        browser.close()

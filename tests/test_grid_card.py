"""The public worker card (三公开): the card API of a grid, its QR code, workers' photos (set by
admins, public only while the worker is assigned) and the card and poster pages in a browser."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

import cv2
import httpx
import numpy as np
import pytest
import qrcode
from PIL import Image

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import create_store
from dispatch.city import City, Worker
from tests.browser import NEEDS_BROWSER, chromium, new_page
from tests.helpers import ServerThread, build_runtime, serve_app

DARK_MODULE = re.compile(r"M(\d+),(\d+)H")
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));"""


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("card")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


def shifted_grid(city: City) -> str:
    """A grid worked by a day and a night worker: one of them is off duty at any hour."""
    for code, workers in sorted(city.workers_by_grid.items()):
        if {"day", "night"} <= {w.shift for w in workers}:
            return code
    raise AssertionError("the test city has no grid with day and night shifts")


def number(worker: Worker) -> str:
    return str(getattr(worker, "code", "") or worker.id)


def png(width: int, height: int) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (60, 120, 220), -1)
    return cv2.imencode(".png", image)[1].tobytes()


def jpeg_with_gps() -> bytes:
    """A photo as a phone writes it: EXIF with a GPS position."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (23.0, 7.0, 48.0), 3: "E", 4: (113.0, 19.0, 12.0)}  # GPSInfo
    out = io.BytesIO()
    Image.fromarray(np.full((300, 200, 3), 128, np.uint8)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_the_card_lists_the_grids_workers_on_duty_and_its_matters(site: tuple[ServerThread, Runtime]) -> None:
    srv, rt = site
    city = rt.city.city
    code = shifted_grid(city)
    response = httpx.get(f"{srv.url}/api/public/grids/{code}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=60"
    card = response.json()
    assert card["grid"]["code"] == code and card["grid"]["name"] == city.areas[code].name
    assert card["grid"]["path"] == [
        a.name for a in city.path(code) if a.level in ("district", "street", "community")
    ]
    assert len(card["grid"]["path"]) == 3
    now = datetime.now(rt.dispatcher.tz)
    expected = {number(w): w for w in city.workers_by_grid[code]}
    assert {w["number"] for w in card["workers"]} == set(expected)
    for shown in card["workers"]:
        worker = expected[shown["number"]]
        assert set(shown) == {"name", "number", "phone", "photo_url", "shift", "on_duty", "kind", "level"}
        assert (shown["name"], shown["phone"], shown["kind"]) == (worker.name, worker.phone, worker.kind)
        assert shown["on_duty"] is worker.on_duty(now)
        assert shown["shift"].startswith({"day": "白班", "night": "夜班", "all": "全天"}[worker.shift])
    assert {True, False} <= {w["on_duty"] for w in card["workers"]}
    assert card["workers"][0]["on_duty"], "who is on duty comes first"
    handled = [m for m in rt.dispatcher.catalog.items if m.handler == "worker"]
    assert card["matters"] == [{"code": m.code, "name": m.name, "class": m.klass} for m in handled]
    assert 0 < len(card["matters"]) < len(rt.dispatcher.catalog.items)


def test_only_grids_have_cards(site: tuple[ServerThread, Runtime]) -> None:
    srv, rt = site
    community = rt.city.city.communities[0].code
    for code, error in (
        ("999999999999999", "grid not found"),
        (community, "not a grid"),
        ("abc", "grid not found"),
    ):
        for path in (f"/api/public/grids/{code}", f"/api/public/grids/{code}/qr.svg"):
            response = httpx.get(srv.url + path, timeout=10)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["error"] == error


def test_the_qr_code_encodes_the_cards_address(site: tuple[ServerThread, Runtime]) -> None:
    srv, rt = site
    code = rt.city.city.grids[3].code
    response = httpx.get(f"{srv.url}/api/public/grids/{code}/qr.svg", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    drawn = {(int(x), int(y)) for x, y in DARK_MODULE.findall(path.get("d", ""))}
    qr = qrcode.QRCode(border=4)
    qr.add_data(f"{srv.url}/grid/{code}")
    matrix = qr.get_matrix()
    dark = {(x, y) for y, row in enumerate(matrix) for x, on in enumerate(row) if on}
    assert drawn == dark  # module for module the QR code of this URL
    other = qrcode.QRCode(border=4)
    other.add_data(f"{srv.url}/grid/{rt.city.city.grids[4].code}")
    assert dark != {(x, y) for y, row in enumerate(other.get_matrix()) for x, on in enumerate(row) if on}


def test_worker_photos_are_set_by_admins_and_public_while_assigned(
    site: tuple[ServerThread, Runtime],
) -> None:
    srv, rt = site
    city = rt.city.city
    worker = city.workers_by_grid[shifted_grid(city)][0]
    url = f"{srv.url}/api/workers/{worker.id}/photo"
    other_district = next(d.code[:6] for d in city.districts if not worker.grid_code.startswith(d.code[:6]))
    refused = [
        httpx.post(url, content=png(40, 40), headers={"Content-Type": "image/png"}, timeout=10).status_code,
        httpx.post(url, content=png(40, 40), headers={"Content-Type": "image/png", **srv.headers(role="officer")}, timeout=10).status_code,
        httpx.post(url, content=png(40, 40), headers={"Content-Type": "image/png", **srv.headers(user="d2", jurisdiction=other_district)}, timeout=10).status_code,
        httpx.post(url, content=b"hello", headers={"Content-Type": "text/plain", **srv.headers()}, timeout=10).status_code,
        httpx.post(url, content=b"not an image", headers={"Content-Type": "image/jpeg", **srv.headers()}, timeout=10).status_code,
        httpx.post(f"{srv.url}/api/workers/nobody/photo", content=png(9, 9), headers={"Content-Type": "image/png", **srv.headers()}, timeout=10).status_code,
    ]  # fmt: skip
    assert refused == [401, 403, 403, 415, 422, 404]
    big = httpx.post(
        url, content=png(1200, 900), headers={"Content-Type": "image/png", **srv.headers()}, timeout=10
    )
    assert big.status_code == 200, big.text
    assert (big.json()["width"], big.json()["height"]) == (600, 450)
    done = httpx.post(
        url, content=jpeg_with_gps(), headers={"Content-Type": "image/jpeg", **srv.headers()}, timeout=10
    )
    assert done.status_code == 200, done.text
    card = httpx.get(f"{srv.url}/api/public/grids/{worker.grid_code}", timeout=10).json()
    photo_url = next(w["photo_url"] for w in card["workers"] if w["number"] == number(worker))
    assert photo_url == done.json()["photo_url"] and worker.id not in photo_url.replace(number(worker), "")
    served = httpx.get(srv.url + photo_url, timeout=10)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(served.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[:2] == (300, 200)
    assert b"Exif" not in served.content  # re-encoded: the GPS position is gone
    # In the store, not on this node's disk: another node over the same store serves the same photo.
    other = create_store(rt.config.store)
    try:
        assert (found := other.worker_photo(worker.id)) is not None and found[0] == served.content
    finally:
        other.close()
    actions = [row["action"] for row in rt.store.iter_audit() if row["target"] == worker.id]
    assert actions.count("worker.photo") == 2
    # Off the roster, the photo is no one's contact any more: not served.
    rt.city.replace_city(
        City(dict(city.areas), [w for w in city.workers if w.id != worker.id]), persist=False
    )
    try:
        assert httpx.get(srv.url + photo_url, timeout=10).status_code == 404
    finally:
        rt.city.replace_city(city, persist=False)
    assert httpx.get(srv.url + photo_url, timeout=10).status_code == 200
    assert httpx.delete(url, headers=srv.headers(), timeout=10).status_code == 204
    assert httpx.get(srv.url + photo_url, timeout=10).status_code == 404


@pytest.mark.parametrize("browser_marks", [pytest.param(None, marks=NEEDS_BROWSER)], ids=["chromium"])
def test_the_card_and_its_poster_in_a_phone_browser(
    site: tuple[ServerThread, Runtime], browser_marks: None
) -> None:
    srv, rt = site
    city = rt.city.city
    code = shifted_grid(city)
    names = [w.name for w in city.workers_by_grid[code]]
    errors: list[str] = []
    with chromium() as browser:
        page = new_page(browser, 390, 844, errors)
        page.add_init_script(WATCH_CSP)
        page.goto(f"{srv.url}/grid/{code}")
        page.wait_for_selector("#workers li.worker", timeout=15000)
        assert page.inner_text("#title") == city.areas[code].name
        shown = page.inner_text("#workers")
        assert all(name in shown for name in names)
        assert page.locator("#workers a.phone").first.get_attribute("href", timeout=5000).startswith("tel:")
        assert "lat=" in (page.get_attribute("#report", "href") or "")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        page.goto(f"{srv.url}/grid/{code}/poster")
        page.wait_for_function(
            "() => document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0",
            timeout=15000,
        )
        assert "扫码查看网格员信息与上报问题" in page.inner_text("#qr-box")
        assert all(name in page.inner_text("#workers") for name in names)
        assert page.evaluate("window.__csp") == []
        page.goto(f"{srv.url}/grid/999999999999999")
        page.wait_for_selector("#status.error", timeout=15000)
        assert "未找到" in page.inner_text("#status")
    assert errors == []

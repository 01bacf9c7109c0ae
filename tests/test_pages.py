"""The wall and the worker terminal in a real browser (Chromium driven by Playwright).

An officer signs in on /wall, a worker on /terminal (a second browser context); an incident
recorded at a simulated camera must reach the wall's feed and map and, as a case, the worker's
terminal within 2 s; the worker accepts, starts and reports back with a photo, and the wall's
case board follows. Screenshots go to var/test-artifacts/ and must not be blank.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from command_center.app import MAPLIBRE_DIR
from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.helpers import ROOT, build_runtime, serve_app
from vision.evidence import snapshot
from vision.incident import Incident

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts"
# SwiftShader gives headless Chromium a software WebGL context for MapLibre (no GPU here).
ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
]  # fmt: skip
LIVE_S = 2.0  # the bound: an incident on the wall, a case on the terminal

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package (pip install playwright)"),
    pytest.mark.skipif(not (MAPLIBRE_DIR / "maplibre-gl.mjs").exists(), reason="needs MapLibre from npm: run `make setup`"),
]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path, small_city: City) -> Iterator[dict[str, Any]]:
    grid = small_city.grids[len(small_city.grids) // 2]
    camera = {
        "id": "cam-hall", "name": "Hall test camera", "kind": "sim", "url": "sim://street?seed=5",
        "location": {"lon": grid.lon, "lat": grid.lat}, "fps": 4,
    }  # fmt: skip
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "cameras": [camera],
        }
    )
    rt = build_runtime(config, city=small_city)
    worker = pick_worker(small_city, grid.code, datetime.now(rt.dispatcher.tz), lambda ids: {})
    assert worker is not None
    with serve_app(rt) as server:
        rt.auth.users.seed(
            [
                Account("officer", "officer", "officer"),
                Account(worker.id, "worker", "worker", worker_id=worker.id),
            ]
        )
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker.id}


def record_incident(
    site: dict[str, Any], rule: str = "illegal_parking", label: str = "vehicle"
) -> dict[str, Any]:
    """An incident at the camera, as the vision pipeline would record it."""
    image = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(image, (200, 150), (420, 300), (40, 40, 220), -1)
    grid = site["grid"]
    incident = Incident(
        camera_id="cam-hall", ts=time.time(), rule=rule, zone="no-parking", label=label, score=0.91,
        box=(200, 150, 420, 300), lon=grid.lon, lat=grid.lat, track_id=7,
        snapshot_jpeg=snapshot(image, (200, 150, 420, 300), label),
    )  # fmt: skip
    return site["server"].run(site["rt"].recorder.record(incident))  # type: ignore[no-any-return]


def sign_in(page: Any, user: str, password: str) -> None:
    """Through the page's own login overlay (shown on the first 401)."""
    page.wait_for_selector("#login", timeout=15000)
    page.fill("#login input[name=username]", user)
    page.fill("#login input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#conn[data-state=open]", timeout=15000)


def variance(png: bytes) -> float:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return float(image.std())


def test_wall_and_terminal_in_a_browser(site: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server, worker = site["server"], site["worker"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            wall = browser.new_context(viewport={"width": 1600, "height": 900}).new_page()
            errors: list[str] = []
            wall.on("pageerror", lambda exc: errors.append(str(exc)))
            wall.goto(f"{server.url}/wall")
            sign_in(wall, "officer", "officer")
            # The map: MapLibre loaded its style and the city outlines from /api/grids.
            wall.wait_for_function(
                "() => window.cc.map()?.map?.isStyleLoaded() && window.cc.map().cityBounds",  # .map: once MapLibre loaded
                timeout=20000,
            )
            wall.wait_for_selector(".cam-tile[data-camera-id=cam-hall][data-loaded=true]", timeout=20000)

            terminal = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            terminal.goto(f"{server.url}/terminal?worker={worker}")
            sign_in(terminal, worker, "worker")
            terminal.wait_for_selector("#tasks .empty", timeout=10000)

            # (1) an incident reaches the wall's feed and map
            t0 = time.monotonic()
            incident = record_incident(site)
            wall.wait_for_selector(f"#incidents [data-incident-id='{incident['id']}']", timeout=LIVE_S * 1000)
            wall.wait_for_selector(f".inc-marker[data-incident-id='{incident['id']}']", timeout=LIVE_S * 1000)
            assert time.monotonic() - t0 < LIVE_S + 0.5

            # (2) its case reaches the assigned worker's terminal
            card = terminal.wait_for_selector(".task[data-state=dispatched]", timeout=LIVE_S * 1000)
            assert time.monotonic() - t0 < LIVE_S + 1.0
            case_id = card.get_attribute("data-case-id")
            task = f".task[data-case-id='{case_id}']"
            wall.wait_for_selector(f"tr.case[data-case-id='{case_id}'][data-state=dispatched]", timeout=5000)

            terminal.click(f"{task} button[data-action=accept]")
            terminal.wait_for_selector(f"{task}[data-state=accepted]", timeout=5000)
            terminal.click(f"{task} button[data-action=start]")
            terminal.wait_for_selector(f"{task} button[data-action=feedback]", timeout=5000)
            terminal.click(f"{task} button[data-action=feedback]")
            terminal.fill(f"{task} textarea[name=note]", "Vehicle moved on; kerb clear.")
            photo = np.zeros((480, 640, 3), np.uint8)
            cv2.putText(photo, "kerb clear", (60, 240), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
            jpeg = cv2.imencode(".jpg", photo)[1].tobytes()
            terminal.set_input_files(
                f"{task} input[type=file]",
                files=[{"name": "result.jpg", "mimeType": "image/jpeg", "buffer": jpeg}],
            )
            terminal.click(f"{task} button[data-submit=feedback]")

            # (3) the wall's board follows, and the case holds the photo
            wall.wait_for_selector(f"tr.case[data-case-id='{case_id}'][data-state=feedback]", timeout=5000)
            terminal.wait_for_selector(f"{task}[data-state=feedback]", timeout=5000)
            case = site["rt"].store.get_case(case_id)
            feedback = [e for e in case.timeline if e.action == "feedback"]
            assert feedback and feedback[-1].actor == worker
            assert case.photos and case.photos[0].startswith(f"/api/cases/{case_id}/photos/"), case.photos
            # Who reported the work does not see the review buttons.
            assert terminal.query_selector(f"{task} button[data-action=close]") is None

            # Offline: an action taken without network waits in the outbox and is sent once, on reconnect.
            record_incident(site, rule="stall", label="stall")
            card = terminal.wait_for_selector(".task[data-state=dispatched]", timeout=LIVE_S * 1000)
            second_id = card.get_attribute("data-case-id")
            second = f".task[data-case-id='{second_id}']"
            terminal.context.set_offline(True)
            terminal.click(f"{second} button[data-action=accept]")
            terminal.wait_for_selector(f"{second} .task-queued", timeout=5000)
            assert site["rt"].store.get_case(second_id).state.value == "dispatched"
            terminal.context.set_offline(False)
            terminal.wait_for_selector(f"{second}[data-state=accepted]", timeout=15000)
            accepts = [e for e in site["rt"].store.get_case(second_id).timeline if e.action == "accept"]
            assert len(accepts) == 1
            assert terminal.evaluate("() => window.cc.outbox.entries().length") == 0

            # The grid's fill follows its open case once zoomed in (grids load on demand).
            grid = site["grid"]
            wall.evaluate(
                "([lon, lat]) => { const m = window.cc.map(); m.map.jumpTo({center: [lon, lat], zoom: m.cityZoom + 3}); }",
                [grid.lon, grid.lat],
            )
            wall.wait_for_function(
                "(code) => { const m = window.cc.map(); return m.fineLoaded && m.map.getFeatureState({source: 'fine', id: code}).open >= 1; }",
                arg=grid.code, timeout=10000,
            )  # fmt: skip

            # A drone's position on the `drones` channel: a marker where it is.
            rt = site["rt"]
            track = [
                [grid.lon - 0.004, grid.lat - 0.002],
                [grid.lon - 0.002, grid.lat - 0.001],
                [grid.lon, grid.lat],
            ]
            drone = {
                "id": "drone-9",
                "lon": grid.lon,
                "lat": grid.lat,
                "alt": 80.0,
                "heading": 60.0,
                "track": track,
            }
            server.call(rt.hub.publish, "drones", "drone.position", drone)
            wall.wait_for_selector(".drone-marker[data-drone-id=drone-9]", timeout=LIVE_S * 1000)

            # Emergency mode: a banner, the map on the scene, its camera first.
            emergency = {
                "id": "EM-1", "class": "fire", "title": "Test fire", "center": {"lon": grid.lon, "lat": grid.lat},
                "radius_m": 300, "cameras": ["cam-hall"], "drones": ["drone-9"],
            }  # fmt: skip
            server.call(rt.hub.publish, "emergency", "emergency.started", emergency)
            wall.wait_for_selector("#emergency:not([hidden])", timeout=LIVE_S * 1000)
            assert "Test fire" in wall.inner_text("#emergency")
            wall.wait_for_selector(".cam-tile[data-camera-id=cam-hall][data-pinned=true]", timeout=2000)
            wall.wait_for_function("() => window.cc.map().savedView !== null", timeout=2000)
            wall.wait_for_timeout(1800)  # the fly-to
            wall.screenshot(path=str(ARTIFACTS / "wall-emergency.png"))
            server.call(rt.hub.publish, "emergency", "emergency.ended", {"id": "EM-1"})
            wall.wait_for_selector("#emergency", state="hidden", timeout=LIVE_S * 1000)
            assert wall.get_attribute(".cam-tile[data-camera-id=cam-hall]", "data-pinned") == "false"

            wall.wait_for_timeout(1500)  # let the map settle before the screenshot
            wall.screenshot(path=str(ARTIFACTS / "wall.png"))
            terminal.screenshot(path=str(ARTIFACTS / "terminal.png"), full_page=True)
            map_png = wall.locator("#map canvas").screenshot()
            tile_png = wall.locator(".cam-tile[data-camera-id=cam-hall] img").screenshot()
            (ARTIFACTS / "wall-map.png").write_bytes(map_png)
            (ARTIFACTS / "wall-camera.png").write_bytes(tile_png)
            assert variance(map_png) > 4.0, "the map canvas is blank"
            assert variance(tile_png) > 4.0, "the camera tile is blank"
            assert not errors, errors
        except Exception:
            # What the pages looked like when it failed: the artifacts a reader needs first.
            for ctx in browser.contexts:
                for i, pg in enumerate(ctx.pages):
                    pg.screenshot(
                        path=str(ARTIFACTS / f"failed-{browser.contexts.index(ctx)}-{i}.png"), full_page=True
                    )
            raise
        finally:
            browser.close()

"""The worker terminal's "Report a clue" and "Go live" (issue 6).

Over HTTP: a resend with the same client id returns the first case; the reporter, and only
they, may add photos to a clue the dispatcher gave to someone else. In Chromium: the worker
reports a clue with a photo (online, then offline through the outbox, sent once) and it reaches
the API and the wall's case board; then the phone's (fake) camera goes live over WHIP as the
worker's stream and shows up as an online camera.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest

from command_center.api.webrtc import hubs
from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts"
ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
    # a camera for getUserMedia without a prompt, and WebRTC over loopback
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path, small_city: City) -> Iterator[dict[str, Any]]:
    grid = small_city.grids[len(small_city.grids) // 2]
    base = {
        "server": {"data_dir": str(tmp_path)},
        "store": f"sqlite:///{tmp_path / 'cc.db'}",
        "webrtc": {"ice_hosts": ["127.0.0.1"], "connect_timeout_s": 3},
    }
    tz = ZoneInfo(parse_config(base).dispatch.timezone)
    worker = pick_worker(small_city, grid.code, datetime.now(tz), lambda ids: {})
    assert worker is not None
    # No camera configured for the worker's phone: "Go live" adds it (workers.live_video).
    rt = build_runtime(parse_config(base), city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed(
            [
                Account("officer", "officer", "officer"),
                Account(worker.id, "worker", "worker", worker_id=worker.id),
            ]
        )
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker.id, "city": small_city}


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def jpeg(text: str) -> bytes:
    image = np.zeros((480, 640, 3), np.uint8)
    cv2.putText(image, text, (40, 240), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
    return cv2.imencode(".jpg", image)[1].tobytes()


def matter_codes(server: ServerThread) -> list[str]:
    return [s["service_code"] for s in httpx.get(f"{server.url}/open311/v2/services.json").json()]


def worker_cases(server: ServerThread) -> list[dict[str, Any]]:
    items = httpx.get(f"{server.url}/api/cases?limit=1000", headers=server.headers()).json()["items"]
    return [c for c in items if c["source"] == "worker"]


def photos_of(server: ServerThread, case_id: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{server.url}/api/cases/{case_id}/photos", headers=server.headers())
    return res.json()["items"]  # type: ignore[no-any-return]


def test_report_resend_and_reporter_photos(site: dict[str, Any]) -> None:
    server, grid, worker = site["server"], site["grid"], site["worker"]
    me = server.headers(user=worker, role="worker", worker_id=worker)
    code = matter_codes(server)[0]
    body = {
        "matter_code": code,
        "lon": grid.lon,
        "lat": grid.lat,
        "source": "worker",
        "client_id": "clue-0001-abcd",
    }
    first = httpx.post(f"{server.url}/api/cases", json=body, headers=me)
    assert first.status_code == 201, first.text
    again = httpx.post(f"{server.url}/api/cases", json=body, headers=me)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and again.json()["resent"]
    assert len(worker_cases(server)) == 1
    assert (
        httpx.post(f"{server.url}/api/cases", json=body | {"client_id": "no"}, headers=me).status_code == 400
    )

    # A clue in another grid goes to that grid's worker; its reporter still adds the photo.
    city, now = site["city"], datetime.now(site["rt"].dispatcher.tz)
    other = next(
        g
        for g in city.grids
        if (w := pick_worker(city, g.code, now, lambda ids: {})) is not None and w.id != worker
    )
    clue = httpx.post(
        f"{server.url}/api/cases", json={"matter_code": code, "lon": other.lon, "lat": other.lat}, headers=me
    ).json()
    assert clue["assignee"] != worker
    photo = {"photo": ("clue.jpg", jpeg("clue"), "image/jpeg")}
    assert (
        httpx.post(f"{server.url}/api/cases/{clue['id']}/photos", files=photo, headers=me).status_code == 201
    )
    assert len(photos_of(server, clue["id"])) == 1
    # ...but not to a case someone else reported and another worker holds.
    staff = httpx.post(
        f"{server.url}/api/cases",
        json={
            "matter_code": matter_codes(server)[1],
            "lon": other.lon,
            "lat": other.lat,
            "source": "citizen",
        },
        headers=server.headers(),
    ).json()
    assert (
        httpx.post(f"{server.url}/api/cases/{staff['id']}/photos", files=photo, headers=me).status_code == 404
    )


def sign_in(page: Any, user: str, password: str) -> None:
    page.wait_for_selector("#login", timeout=15000)
    page.fill("#login input[name=username]", user)
    page.fill("#login input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#conn[data-state=open]", timeout=15000)


def form_overflow(page: Any) -> list[str]:
    """What of the open report form reaches past the viewport's right edge (issue 17: the
    matter select made the form wider than a 390 px phone), and the page's own overflow."""
    return page.evaluate(
        """() => {
          const width = window.innerWidth;
          const out = [...document.querySelectorAll('#report *')]
            .filter((e) => e.getBoundingClientRect().right > width)
            .map((e) => `${e.tagName.toLowerCase()}#${e.id} reaches ${Math.round(e.getBoundingClientRect().right)}`);
          if (document.documentElement.scrollWidth > width) out.push(`page ${document.documentElement.scrollWidth} px`);
          return out;
        }"""
    )


def report_clue(page: Any, code: str, note: str, photo: bytes) -> None:
    """Through the form, from the phone's (given) GPS position."""
    page.click("#report-open")
    page.wait_for_selector(f"#report-matter option[value='{code}']", state="attached", timeout=10000)
    page.wait_for_selector("#report[data-located=gps]", state="attached", timeout=10000)
    assert form_overflow(page) == [], form_overflow(page)  # the phone's width holds the whole form
    page.select_option("#report-matter", code)
    page.fill("#report-note", note)
    page.set_input_files(
        "#report-photo", files=[{"name": "clue.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.click("#report-send")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package")
def test_terminal_reports_a_clue_and_goes_live(site: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server, grid, worker = site["server"], site["grid"], site["worker"]
    codes = matter_codes(server)
    stream = f"worker-{worker}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            wall = browser.new_context(viewport={"width": 1600, "height": 900}).new_page()
            wall.goto(f"{server.url}/wall")
            sign_in(wall, "officer", "officer")

            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                geolocation={"longitude": grid.lon, "latitude": grid.lat, "accuracy": 8},
                permissions=["geolocation"],
            )
            terminal = phone.new_page()
            errors: list[str] = []
            terminal.on("pageerror", lambda exc: errors.append(str(exc)))
            terminal.goto(f"{server.url}/terminal?worker={worker}")
            sign_in(terminal, worker, "worker")

            # (1) online: a case from the worker, in their grid, with the photo
            report_clue(terminal, codes[0], "Broken kerb stone by the bus stop", jpeg("kerb"))
            terminal.wait_for_selector("#report", state="hidden", timeout=10000)
            case = wait_for(lambda: worker_cases(server), 5, "the reported case")[0]
            assert case["grid_code"] == grid.code and case["matter_code"] == codes[0]
            assert "Broken kerb stone" in case["description"]
            assert len(photos_of(server, case["id"])) == 1
            wall.wait_for_selector(f"tr.case[data-case-id='{case['id']}']", state="attached", timeout=5000)

            # (2) offline: kept in the outbox, sent once when the network is back
            phone.set_offline(True)
            report_clue(terminal, codes[1], "Overflowing bin", jpeg("bin"))
            terminal.wait_for_selector("#report", state="hidden", timeout=10000)
            assert terminal.evaluate("() => window.cc.outbox.entries().length") == 1
            assert len(worker_cases(server)) == 1
            phone.set_offline(False)
            terminal.evaluate("() => window.cc.outbox.flush()")
            wait_for(
                lambda: terminal.evaluate("() => window.cc.outbox.entries().length") == 0, 10, "the outbox"
            )
            second = [c for c in worker_cases(server) if c["matter_code"] == codes[1]]
            assert len(second) == 1 and len(photos_of(server, second[0]["id"])) == 1
            assert len(worker_cases(server)) == 2

            # (3) go live: the fake camera publishes as the worker's stream
            terminal.click("#live-start")
            camera = f"{server.url}/api/cameras/{stream}"
            wait_for(
                lambda: httpx.get(camera, headers=server.headers()).json().get("state") == "online", 10, "online"
            )
            terminal.wait_for_selector("#live[data-phase=live]", timeout=5000)
            wall.wait_for_selector(f".cam-tile[data-camera-id='{stream}']", state="attached", timeout=5000)
            terminal.screenshot(path=str(ARTIFACTS / "terminal-live.png"), full_page=True)
            terminal.click("#live-stop")
            wait_for(lambda: not hubs(site["server"].app).whip.sessions, 5, "the WHIP session to end")
            assert terminal.is_hidden("#live")
            assert not errors, errors
        except Exception:
            for i, ctx in enumerate(browser.contexts):
                for j, pg in enumerate(ctx.pages):
                    pg.screenshot(path=str(ARTIFACTS / f"report-failed-{i}-{j}.png"), full_page=True)
            raise
        finally:
            browser.close()

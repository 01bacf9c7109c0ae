"""Every page, as its users open it, in Chinese: no English words and no raw identifiers in
what people see (rule keys, camera ids, event types, worker ids where a name exists), and
no page wider than its viewport at 390, 1600 and 3840 px.

Text inside elements marked translate="no" (case numbers, usernames, grid codes: what people
copy as is) is left out of the English check, but never out of the identifier check."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, WIDTHS, new_page, sign_in_form, visible_texts
from tests.helpers import ROOT, build_runtime, serve_app
from tests.test_i18n import english_words
from vision.evidence import snapshot
from vision.incident import Incident

pytestmark = [*NEEDS_BROWSER, pytest.mark.slow]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "language"
CAMERA = "cam-lang-1"
EVENT_TYPE = re.compile(r"\b(incident|case|emergency|task|camera|drone|hotspot)\.[a-z_]+\b")


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("language")
    grid = small_city.grids[len(small_city.grids) // 3]
    camera = {
        "id": CAMERA, "name": "天河路口东", "kind": "sim", "url": "sim://street?seed=5",
        "location": {"lon": grid.lon, "lat": grid.lat}, "fps": 2,
    }  # fmt: skip
    config = parse_config({"server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}", "cameras": [camera]})
    rt = build_runtime(config, city=small_city)
    worker = pick_worker(small_city, grid.code, datetime.now(rt.dispatcher.tz), lambda ids: {})
    assert worker is not None
    with serve_app(rt) as server:
        rt.auth.users.seed([
            Account("officer", "officer", "officer"),
            Account("admin", "admin", "admin"),
            Account("emergency", "emergency", "emergency"),
            Account(worker.id, "worker", "worker", worker_id=worker.id),
        ])  # fmt: skip
        image = np.full((360, 640, 3), 90, np.uint8)
        for rule, label in (("illegal_parking", "vehicle"), ("stall", "stall")):
            incident = Incident(
                camera_id=CAMERA, ts=time.time(), rule=rule, zone="no-parking", label=label, score=0.9,
                box=(200, 150, 420, 300), lon=grid.lon, lat=grid.lat, track_id=1,
                snapshot_jpeg=snapshot(image, (200, 150, 420, 300), label),
            )  # fmt: skip
            server.run(rt.recorder.record(incident))
        yield {"server": server, "rt": rt, "grid": grid, "worker": worker.id}


def pages(hall: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(path, user, password): each page as the role it is for opens it."""
    grid, worker = hall["grid"].code, hall["worker"]
    return [
        ("/wall", "officer", "officer"),
        ("/desk", "officer", "officer"),
        ("/chats", "officer", "officer"),
        ("/basedata", "officer", "officer"),
        ("/stats", "officer", "officer"),
        ("/costs", "officer", "officer"),
        ("/community", "officer", "officer"),
        ("/emergency", "emergency", "emergency"),
        ("/admin", "admin", "admin"),
        (f"/terminal?worker={worker}", worker, "worker"),
        ("/citizen", None, None),
        ("/publish", None, None),
        (f"/grid/{grid}", None, None),
    ]


def identifiers(hall: dict[str, Any]) -> list[str]:
    """What must never show where a name exists."""
    catalog = hall["rt"].dispatcher.catalog
    rules = {r for m in catalog.items for r in m.rules}
    return sorted({CAMERA, *rules})


def test_every_page_is_chinese_and_fits(browser: Any, hall: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    raw = identifiers(hall)
    problems: list[str] = []
    for path, user, password in pages(hall):
        errors: list[str] = []
        page = new_page(browser, 1600, 900, errors)
        page.goto(hall["server"].url + path)
        if user is not None:
            sign_in_form(page, user, password or "")
        page.wait_for_load_state("networkidle", timeout=20000)
        page.wait_for_timeout(800)  # live panels fill from the websocket
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(400)
            wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if wide[0] > wide[1] + 1:
                problems.append(f"{path} at {width}px is {wide[0]}px wide")
            # A 4K screenshot costs seconds: kept where a page is too wide, or every one on asking.
            if wide[0] > wide[1] + 1 or os.environ.get("CC_SCREENSHOTS"):
                name = re.sub(r"\W+", "_", path.strip("/")) or "root"
                page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))
        texts = visible_texts(page)
        english = sorted(set(english_words(texts["words"])))
        if english:
            problems.append(f"{path}: English words {english[:15]}")
        shown = [r for r in raw if r in texts["all"]] + sorted(set(EVENT_TYPE.findall(texts["all"])))
        if shown:
            problems.append(f"{path}: raw identifiers {shown}")
        # The terminal is the worker's own; the public card publishes each worker's number
        # (工号), which is the worker id where the roster gives none.
        if hall["worker"] in texts["all"] and not path.startswith(("/terminal", "/grid/")):
            problems.append(f"{path}: a worker id where the worker's name belongs")
        problems.extend(f"{path}: page error {e}" for e in errors)
        page.context.close()
    assert not problems, "\n".join(problems)


def test_the_english_choice_switches_the_pages(browser: Any, hall: dict[str, Any]) -> None:
    page = new_page(browser, 1600, 900)
    page.goto(hall["server"].url + "/citizen")
    page.evaluate("() => localStorage.setItem('cc.lang', 'en')")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    text = page.evaluate("() => document.body.innerText")
    assert not re.search(r"[\u4e00-\u9fff]{4,}", text.replace("中文", "")), "Chinese left on the English page"
    page.context.close()



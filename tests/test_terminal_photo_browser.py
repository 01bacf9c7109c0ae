"""Field photos on the terminal's 巡查 tab (issue 19: check-ins "and a photo", visits with
photos), in Chromium on a 390 px phone against a real server (SQLite): a phone-sized JPEG
picked for a check-in is downscaled to 1600 px, uploaded, and shown with the check-in's
record; a second check-in's photo taken without network waits with the check-in and goes up
before it, once; a visit carries two photos. Each step is checked in the store and the API."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from basedata.model import Person, Sealed
from basedata.patrol import EARTH_RADIUS_M
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.basedata_records import base_data_store
from command_center.store.field_photo_records import FieldPhotoRecords, field_photo_store
from command_center.store.patrol_records import PatrolRecords, patrol_store
from dispatch.assign import pick_worker
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, overflow_px, sign_in_form
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app

pytestmark = NEEDS_BROWSER
ARTIFACTS = ROOT / "var" / "test-artifacts" / "field-photos"
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
PASSWORD = "worker-pass"


@dataclass
class Rounds:
    srv: ServerThread
    rt: Runtime
    worker: str
    lon: float
    lat: float
    market: str
    fire_exit: str
    membership: str

    @property
    def checkins(self) -> PatrolRecords:
        return patrol_store(self.rt.store)

    @property
    def photos(self) -> FieldPhotoRecords:
        return field_photo_store(self.rt.store)


def _place(srv: ServerThread, name: str, kind: str, lon: float, lat: float) -> str:
    made = httpx.post(f"{srv.url}/api/patrols/places", json={"name": name, "kind": kind, "lon": lon, "lat": lat},
                      headers=srv.headers(), timeout=10)  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.fixture
def rounds(tmp_path: Path, small_city: City) -> Iterator[Rounds]:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    grid = small_city.grids[len(small_city.grids) // 2]
    worker = pick_worker(small_city, grid.code, datetime.now(rt.dispatcher.tz), lambda ids: {})
    assert worker is not None and worker.grid_code == grid.code
    area = rt.city.city.areas[grid.code]
    sealed = Sealed(cipher="v1:c1", index=f"{1:064x}", tail="0021")
    person = Person(id="H1-1", grid_code=grid.code, household_id="H1", name="陈桂英", id_number=sealed,
                    sex="F", birth_date=date(1941, 5, 6))  # fmt: skip
    base_data_store(rt.store).upsert("person", [person], by="test")
    with serve_app(rt) as srv:
        rt.auth.users.seed([Account(worker.id, PASSWORD, "worker", worker_id=worker.id)])
        market = _place(srv, "体育西农贸市场", "market", area.lon, area.lat)
        fire_exit = _place(srv, "天河路消防通道", "fire_exit", area.lon, area.lat)
        since = (rt.dispatcher.today() - timedelta(days=8)).isoformat()  # the city's date, as the routes take it
        care = {"person_id": person.id, "group": "elderly_alone", "since": since, "paired_with": worker.id}
        made = httpx.post(f"{srv.url}/api/care/memberships", json=care, headers=srv.headers(), timeout=10)
        assert made.status_code == 201, made.text
        yield Rounds(srv, rt, worker.id, area.lon, area.lat, market, fire_exit, made.json()["id"])


def phone_jpeg(path: Path, width: int = 2400, height: int = 1800) -> Path:
    """A phone-sized photo with a GPS position in its EXIF."""
    image = Image.new("RGB", (width, height), (90, 140, 200))
    for x in range(0, width, 200):  # some detail, so the JPEG is not trivially small
        image.paste((240, 220, 40), (x, 0, x + 60, height))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (23.0, 7.0, 30.0), 3: "E", 4: (113.0, 19.0, 12.0)})
    image.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def open_checklist(page: Any, place: str) -> str:
    card = f".place[data-place-id='{place}']"
    page.click(f"{card} .place-head")
    page.wait_for_selector(f"{card} form.checklist", timeout=5000)
    page.click(f"{card} [data-all-ok]")
    return card


@pytest.mark.slow
def test_photos_on_check_ins_and_visits(rounds: Rounds, browser: Any, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"longitude": rounds.lon, "latitude": rounds.lat, "accuracy": 5})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{rounds.srv.url}/terminal#rounds")
        sign_in_form(page, rounds.worker, PASSWORD)
        page.wait_for_selector(f".place[data-place-id='{rounds.market}']", timeout=10000)
        _check_in_with_a_photo(page, rounds, phone_jpeg(tmp_path / "market.jpg"))
        _photo_taken_offline(page, context, rounds, phone_jpeg(tmp_path / "exit.jpg", 1200, 1600))
        _visit_with_photos(page, rounds, [phone_jpeg(tmp_path / f"v{i}.jpg", 800, 600) for i in range(2)])
        _the_modules_own_functions(page, rounds, phone_jpeg(tmp_path / "plate.jpg", 3000, 1000))
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failed.png"), full_page=True)
        raise
    finally:
        context.close()


def _check_in_with_a_photo(page: Any, rounds: Rounds, photo: Path) -> None:
    card = open_checklist(page, rounds.market)
    assert page.inner_text(f"{card} .field-photo .file-button") == "拍照或选择照片"
    page.set_input_files(f"{card} .field-photo input[type=file]", str(photo))
    thumb = page.wait_for_selector(f"{card} .field-photo-thumb[data-state=done]", timeout=15000)
    photo_id = thumb.get_attribute("data-photo-id")
    assert photo_id and page.inner_text(f"{card} .field-photo-state") == "照片已上传"
    row = rounds.photos.get(photo_id)
    # downscaled on the phone to 1600 px before it left: 2400×1800 → 1600×1200
    assert row is not None and (row.width, row.height, row.owner, row.used_at) == (
        1600,
        1200,
        rounds.worker,
        None,
    )
    assert overflow_px(page) == 0
    page.screenshot(path=str(ARTIFACTS / "checklist-photo.png"), full_page=True)
    page.click(f"{card} button[type=submit]")
    shown = page.wait_for_selector(
        f"#rounds-result img.rounds-photo[data-photo-id='{photo_id}']", timeout=10000
    )
    assert "已打卡：体育西农贸市场" in page.inner_text("#rounds-result")
    # the check-in's record holds the photo, and the page loaded it from the server
    [checkin] = rounds.checkins.checkins_of(rounds.market)
    assert checkin.photo_id == photo_id
    assert (
        wait_for(lambda: shown.evaluate("img => img.complete && img.naturalWidth"), 10, "the photo to load")
        == 1600
    )
    used = rounds.photos.get(photo_id)
    assert used is not None and used.used_by == f"checkin:{checkin.id}"
    served = httpx.get(f"{rounds.srv.url}/api/field-photos/{photo_id}", timeout=10,
                       headers=rounds.srv.headers(role="worker", worker_id=rounds.worker, user=rounds.worker))  # fmt: skip
    assert served.status_code == 200 and not Image.open(io.BytesIO(served.content)).getexif()  # no GPS left
    page.screenshot(path=str(ARTIFACTS / "checked-in.png"), full_page=True)


def _photo_taken_offline(page: Any, context: Any, rounds: Rounds, photo: Path) -> None:
    card = open_checklist(page, rounds.fire_exit)
    context.set_offline(True)
    page.set_input_files(f"{card} .field-photo input[type=file]", str(photo))
    page.wait_for_selector(f"{card} .field-photo-thumb[data-state=waiting]", timeout=15000)
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(f"{card}[data-waiting=true]", timeout=10000)
    assert not rounds.checkins.checkins_of(rounds.fire_exit)
    kept = page.evaluate(f"() => JSON.parse(localStorage.getItem('cc.outbox.{rounds.worker}.rounds'))")
    assert [(e["kind"], len(e["photos"])) for e in kept] == [("checkin", 1)]
    context.set_offline(False)
    page.evaluate("() => window.cc.rounds.flush()")
    page.wait_for_selector(card, state="detached", timeout=15000)
    page.evaluate("() => window.cc.rounds.flush()")  # nothing left: no second upload, no second check-in
    [checkin] = rounds.checkins.checkins_of(rounds.fire_exit)
    assert checkin.photo_id is not None
    row = rounds.photos.get(checkin.photo_id)
    assert (
        row is not None and (row.width, row.height) == (1200, 1600) and row.used_by == f"checkin:{checkin.id}"
    )
    uploaded = list((rounds.rt.config.server.data_dir / "field_photos").rglob("*.jpg"))
    assert len(uploaded) == 2, uploaded  # the market's and this one: the offline photo went up once


def _visit_with_photos(page: Any, rounds: Rounds, photos: list[Path]) -> None:
    card = f".visit[data-membership-id='{rounds.membership}']"
    page.wait_for_selector(f"{card} [data-record]", timeout=10000)
    page.click(f"{card} [data-record]")
    page.fill(f"{card} textarea", "身体尚可")
    page.set_input_files(f"{card} .field-photo input[type=file]", [str(p) for p in photos])
    wait_for(
        lambda: page.locator(f"{card} .field-photo-thumb[data-state=done]").count() == 2, 15, "two photos up"
    )
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(card, state="detached", timeout=10000)
    visits = httpx.get(f"{rounds.srv.url}/api/care/memberships/{rounds.membership}", headers=rounds.srv.headers(),
                       timeout=10).json()["visits"]  # fmt: skip
    assert len(visits) == 1 and len(visits[0]["photos"]) == 2
    shown = page.eval_on_selector_all(
        "#rounds-result img.rounds-photo", "imgs => imgs.map((i) => i.dataset.photoId)"
    )
    assert shown == visits[0]["photos"]
    assert all(rounds.photos.get(p).used_by == f"visit:{visits[0]['id']}" for p in shown)  # type: ignore[union-attr]
    page.screenshot(path=str(ARTIFACTS / "visit-photos.png"), full_page=True)


def _the_modules_own_functions(page: Any, rounds: Rounds, photo: Path) -> None:
    """What the door-plate form (collect, helper H1) uses: pickAndUpload() opens the chooser and
    uploads; uploadDataUrl() sends a photo kept offline as a data URL."""
    grid = rounds.rt.city.grids_of(rounds.worker)[0].grid_code
    module = "/ui/terminal/field_photo.js"
    with page.expect_file_chooser() as chooser:
        page.evaluate(
            f"g => {{ window.__picked = import('{module}').then((m) => m.pickAndUpload(g)); }}", grid
        )
    chooser.value.set_files(str(photo))
    picked = page.evaluate("() => window.__picked.then((p) => ({id: p.id, url: p.url, width: p.width}))")
    assert picked["width"] == 1600 and picked["url"] == f"/api/field-photos/{picked['id']}"
    sent = page.evaluate(
        """async ([module, g]) => {
          const m = await import(module);
          const canvas = Object.assign(document.createElement('canvas'), {width: 40, height: 30});
          return (await m.uploadDataUrl(g, canvas.toDataURL('image/jpeg'))).id;
        }""",
        [module, grid],
    )
    for photo_id, width in ((picked["id"], 1600), (sent, 40)):
        row = rounds.photos.get(photo_id)
        assert row is not None and (row.owner, row.grid_code, row.width) == (rounds.worker, grid, width)

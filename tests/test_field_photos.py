"""Field photos (issue 19: "check-ins ... and a photo", "visit records with notes and photos",
"photos of door plates"): the store on both databases (store/field_photo_records.py), and
against a real server (api/field_photos.py): real JPEG and PNG uploads re-encoded with their
EXIF gone, what is not an image refused, who may upload for which grid and who may see a
photo, check-ins and care visits that take only the caller's own photos of the right grid,
and the retention sweep deleting photos no record took."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from basedata.model import Person, Sealed
from command_center.config import parse_config
from command_center.photos import PHOTO_ID
from command_center.retention import FIELD_PHOTOS, UNUSED_FIELD_PHOTO_DAYS, Retention
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.basedata_records import base_data_store
from command_center.store.field_photo_records import FieldPhoto, field_photo_store
from command_center.store.patrol_records import patrol_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

G1, G2 = "440106001001001", "440106001001002"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def jpeg_with_exif(width: int = 80, height: int = 40) -> bytes:
    """A phone-like JPEG: its maker, the owner's name, a GPS position, rotated by EXIF."""
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x013B] = "Owner Zhang San"  # Artist
    exif[0x0112] = 6  # orientation: turn 90° clockwise to show
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (23.0, 7.0, 30.0), 3: "E", 4: (113.0, 19.0, 12.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 30, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 90)).save(out, "PNG")
    return out.getvalue()


# the store, on both databases
@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _row(n: int, grid: str = G1, at: datetime = NOW, owner: str = "W1") -> FieldPhoto:
    return FieldPhoto(
        id=f"P{n:012x}", owner=owner, grid_code=grid, created_at=at, bytes=100 + n, width=64, height=48
    )


def test_photos_in_the_store_used_and_unused(store: Store) -> None:
    records = field_photo_store(store)
    for n, at in ((1, NOW - timedelta(days=40)), (2, NOW - timedelta(days=35)), (3, NOW)):
        records.add(_row(n, at=at))
    assert records.get(_row(1).id) == _row(1, at=NOW - timedelta(days=40))
    assert records.get("P000000000099") is None
    assert records.mark_used([_row(2).id, _row(2).id, _row(3).id], "checkin:PC1", NOW) == 2
    assert records.mark_used([_row(2).id], "visit:V9", NOW) == 0  # the first record keeps it
    taken = records.get(_row(2).id)
    assert taken is not None and (taken.used_by, taken.used_at) == ("checkin:PC1", NOW)
    cutoff = NOW - timedelta(days=30)
    assert records.unused_before(cutoff) == [(_row(1).id, G1)]  # not 2 (used), not 3 (new)
    assert records.delete_unused(_row(1).id) and not records.delete_unused(_row(2).id)
    assert records.get(_row(1).id) is None and records.get(_row(2).id) is not None
    assert records.unused_before(cutoff) == []


# against a real server (SQLite)
@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    grid: str  # the worker's grid, which has two workers
    worker: str
    colleague: str  # the same grid's other worker
    stranger: str  # a worker of another grid
    other_grid: str
    place: str  # a key place at the grid's centre
    membership: str  # a care membership paired with the worker
    lon: float
    lat: float

    def who(self, worker: str) -> dict[str, str]:
        return {"role": "worker", "worker_id": worker, "user": worker}

    def upload(
        self, body: bytes, grid: str | None = None, ctype: str = "image/jpeg", **who: str
    ) -> httpx.Response:
        params = {} if grid == "" else {"grid": grid or self.grid}
        headers = self.srv.headers(**(who or self.who(self.worker))) | {"Content-Type": ctype}
        return httpx.post(
            f"{self.srv.url}/api/field-photos", params=params, content=body, headers=headers, timeout=10
        )

    def get(self, path: str, **who: str) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def post(self, path: str, body: Any, **who: str) -> httpx.Response:
        return httpx.post(self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("field-photos")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}",
                           "dispatch": {"max_photo_bytes": 200_000}})  # fmt: skip
    rt = build_runtime(config, city=small_city)
    by_grid: dict[str, list[str]] = {}
    for w in small_city.workers:
        by_grid.setdefault(w.grid_code, []).append(w.id)
    grid = next(g for g, ids in by_grid.items() if len(ids) >= 2 and len(rt.city.grids_of(ids[0])) == 1)
    worker, colleague = by_grid[grid][:2]
    other = next(g for g, ids in by_grid.items() if g[:6] != grid[:6])
    area = rt.city.city.areas[grid]
    sealed = Sealed(cipher="v1:c1", index=f"{1:064x}", tail="0021")
    person = Person(id="H1-1", grid_code=grid, household_id="H1", name="陈桂英", id_number=sealed,
                    sex="F", birth_date=date(1941, 5, 6))  # fmt: skip
    base_data_store(rt.store).upsert("person", [person], by="test")
    with serve_app(rt) as srv:
        admin = srv.headers()
        place = httpx.post(f"{srv.url}/api/patrols/places", headers=admin, timeout=10,
                           json={"name": "体育西农贸市场", "kind": "market", "lon": area.lon, "lat": area.lat})  # fmt: skip
        care = httpx.post(f"{srv.url}/api/care/memberships", headers=admin, timeout=10,
                          json={"person_id": person.id, "group": "elderly_alone", "paired_with": worker})  # fmt: skip
        assert place.status_code == 201 and care.status_code == 201, (place.text, care.text)
        yield World(srv, rt, grid, worker, colleague, by_grid[other][0], other, place.json()["id"],
                    care.json()["id"], area.lon, area.lat)  # fmt: skip


def test_a_phone_jpeg_is_kept_without_its_exif_and_served_to_its_uploader(world: World) -> None:
    raw = jpeg_with_exif()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the upload does carry a GPS position
    made = world.upload(raw)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert PHOTO_ID.match(shown["id"]) and shown["url"] == f"/api/field-photos/{shown['id']}"
    # turned upright by its EXIF orientation, then the EXIF dropped with the re-encoding
    assert (shown["width"], shown["height"], shown["grid_code"], shown["sent_as"]) == (
        40,
        80,
        world.grid,
        "jpeg",
    )
    kept = world.rt.config.server.data_dir / FIELD_PHOTOS / world.grid / f"{shown['id']}.jpg"
    assert kept.is_file() and kept.stat().st_size == shown["bytes"]
    got = world.get(shown["url"], **world.who(world.worker))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.content == kept.read_bytes()
    image = Image.open(io.BytesIO(got.content))
    assert image.format == "JPEG" and image.size == (40, 80) and not image.getexif()
    assert b"Exif" not in got.content and b"Zhang San" not in got.content and b"PhoneMaker" not in got.content
    row = field_photo_store(world.rt.store).get(shown["id"])
    assert row is not None and (row.owner, row.grid_code, row.used_at) == (world.worker, world.grid, None)


def test_png_and_multipart_uploads_become_jpegs(world: World) -> None:
    made = world.upload(png(), ctype="image/png")
    assert made.status_code == 201 and made.json()["sent_as"] == "png", made.text
    got = world.get(made.json()["url"], **world.who(world.worker))
    assert Image.open(io.BytesIO(got.content)).format == "JPEG"
    form = httpx.post(f"{world.srv.url}/api/field-photos", params={"grid": world.grid}, timeout=10,
                      files={"photo": ("plate.png", png(64, 32), "image/png")},
                      headers=world.srv.headers(**world.who(world.worker)))  # fmt: skip
    assert form.status_code == 201 and (form.json()["width"], form.json()["height"]) == (64, 32), form.text


def test_what_is_not_a_photo_or_not_for_the_callers_grid_is_refused(world: World) -> None:
    text = world.upload(b"GIF89a... not a photo at all")
    assert text.status_code == 415 and "JPEG, PNG or WebP" in text.json()["detail"]
    assert world.upload(b"{}", ctype="application/json").status_code == 415
    assert world.upload(b"\x89PNG\r\n\x1a\n broken", ctype="image/png").status_code == 415
    assert world.upload(b"\xff\xd8\xff" + b"x" * 300_000).status_code == 413  # over dispatch.max_photo_bytes
    missing = world.upload(png(), grid="")
    assert missing.status_code == 400 and missing.json()["error"] == "bad query parameter 'grid'"
    assert world.upload(png(), grid="440106999999999").status_code == 400  # not a grid on the map
    assert world.upload(png(), grid=world.grid[:9]).status_code == 400  # a community, not a grid
    refused = world.upload(png(), grid=world.other_grid)  # another grid's worker
    assert refused.status_code == 403 and world.other_grid in refused.json()["detail"]
    district = {"role": "officer", "user": "officer-other", "jurisdiction": world.other_grid[:6]}
    assert world.upload(png(), **district).status_code == 403
    assert world.upload(png(), role="emergency", user="emergency").status_code == 403  # not a rounds role
    stored = list((world.rt.config.server.data_dir / FIELD_PHOTOS).rglob("*.jpg"))
    assert all(field_photo_store(world.rt.store).get(p.stem) for p in stored)  # nothing refused was kept


def test_who_sees_a_photo(world: World) -> None:
    url = world.upload(jpeg_with_exif()).json()["url"]
    assert world.get(url, **world.who(world.stranger)).status_code == 404  # another grid's worker
    outside = {"role": "officer", "user": "officer-other", "jurisdiction": world.other_grid[:6]}
    assert world.get(url, **outside).status_code == 404
    assert world.get("/api/field-photos/P000000000000", **world.who(world.worker)).status_code == 404
    assert world.get("/api/field-photos/cc.db", **world.who(world.worker)).status_code == 404
    assert world.get(url, role="emergency", user="emergency").status_code == 403
    # staff of the district see the original, and the view is audited
    officer = {"role": "officer", "user": "officer-in", "jurisdiction": world.grid[:6]}
    seen = world.get(url, **officer)
    assert seen.status_code == 200 and "x-evidence-blurred" not in seen.headers
    views = [r for r in world.rt.store.iter_audit() if r["actor"] == "officer-in"]
    assert [(r["action"], r["target"]) for r in views] == [("evidence.view", world.grid)]
    # a colleague of the grid sees it as workers see evidence: blurred
    colleague = world.get(url, **world.who(world.colleague))
    assert colleague.status_code == 200 and colleague.headers["x-evidence-blurred"] == "faces,plates"


def _checkin(world: World, photo: str, **who: str) -> httpx.Response:
    place = patrol_store(world.rt.store).get_place(world.place)
    assert place is not None
    answers = {item.id: "ok" for item in place.checklist}
    body = {"lon": world.lon, "lat": world.lat, "answers": answers, "photo_id": photo}
    return world.post(f"/api/patrols/places/{world.place}/checkins", body, **(who or world.who(world.worker)))


def test_a_check_in_takes_only_the_workers_own_photo_of_the_places_grid(world: World) -> None:
    theirs = world.upload(png(), **world.who(world.colleague)).json()["id"]
    refused = _checkin(world, theirs)
    assert refused.status_code == 400 and refused.json()["error"] == "unknown photo", refused.text
    assert refused.json()["detail"]["photo"] == theirs
    assert _checkin(world, "P0123456789ab").status_code == 400  # well-formed, never uploaded
    assert _checkin(world, "../x").status_code == 422
    # the worker's own photo, uploaded for another grid (before a roster change, say)
    elsewhere = FieldPhoto("P00000000e15e", world.worker, world.other_grid, datetime.now(UTC), 1, 30, 20)
    field_photo_store(world.rt.store).add(elsewhere)
    other = _checkin(world, elsewhere.id)
    assert other.status_code == 400 and other.json()["error"] == "photo of another grid", other.text
    assert world.other_grid in other.json()["detail"]["reason"]
    assert not patrol_store(world.rt.store).checkins_of(world.place)
    mine = world.upload(jpeg_with_exif()).json()["id"]
    done = _checkin(world, mine)
    assert done.status_code == 201 and done.json()["photo_id"] == mine, done.text
    [kept] = patrol_store(world.rt.store).checkins_of(world.place)
    assert kept.photo_id == mine and kept.worker_id == world.worker
    row = field_photo_store(world.rt.store).get(mine)
    assert row is not None and row.used_by == f"checkin:{kept.id}"
    untouched = field_photo_store(world.rt.store).get(theirs)
    assert untouched is not None and untouched.used_at is None  # a refused check-in marks nothing


def test_a_visit_takes_only_the_callers_own_photos(world: World) -> None:
    path = f"/api/care/memberships/{world.membership}/visits"
    theirs = world.upload(png(), **world.who(world.colleague)).json()["id"]
    mine = [world.upload(png()).json()["id"], world.upload(jpeg_with_exif()).json()["id"]]
    refused = world.post(path, {"note": "身体尚可", "photos": [mine[0], theirs]}, **world.who(world.worker))
    assert refused.status_code == 400 and refused.json()["detail"]["photo"] == theirs, refused.text
    assert field_photo_store(world.rt.store).get(mine[0]).used_at is None  # type: ignore[union-attr]
    done = world.post(path, {"note": "身体尚可", "photos": mine}, **world.who(world.worker))
    assert done.status_code == 201 and done.json()["visit"]["photos"] == mine, done.text
    visit = done.json()["visit"]["id"]
    assert {field_photo_store(world.rt.store).get(p).used_by for p in mine} == {f"visit:{visit}"}  # type: ignore[union-attr]
    shown = world.get(f"/api/care/memberships/{world.membership}", **world.who(world.worker)).json()
    assert shown["visits"][0]["photos"] == mine


def test_the_sweep_deletes_photos_no_record_took(world: World) -> None:
    records, root = field_photo_store(world.rt.store), world.rt.config.server.data_dir / FIELD_PHOTOS
    old = datetime.now(UTC) - timedelta(days=UNUSED_FIELD_PHOTO_DAYS + 1)
    made = {}
    for name, at in (("unused", old), ("used", old), ("recent", datetime.now(UTC))):
        made[name] = world.upload(png()).json()["id"]
        records.delete_unused(made[name])  # re-added with its age: as if uploaded then
        records.add(FieldPhoto(made[name], world.worker, world.grid, at, 1, 30, 20))
    records.mark_used([made["used"]], "checkin:PC-test")
    counters: dict[str, int] = {}
    result = Retention(world.rt.config, world.rt.store, counters).sweep(time.time())
    assert result.errors == 0 and result.files >= 1
    assert records.get(made["unused"]) is None and not (root / world.grid / f"{made['unused']}.jpg").exists()
    for name in ("used", "recent"):
        assert records.get(made[name]) is not None and (root / world.grid / f"{made[name]}.jpg").is_file()
    assert world.get(f"/api/field-photos/{made['unused']}", **world.who(world.worker)).status_code == 404

"""Citizens' reports with media and duplicates to follow (issue 22) on a real server, on SQLite
and PostgreSQL: a photo, a voice note and a video clip accepted and served by scope (staff of
the case's area, its worker, the resident who sent them; nobody else); a wrong type, an
oversized file, too many photos, a video without a picture refused with the field named and
nothing stored (no report, no media row, no file); an open case nearby offered and followed,
the follow listed with the case's status; a closed case not followable."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.report_media_records import report_media_store
from dispatch.city import City
from residents.sms import LogSender
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

URL = "/api/citizen/reports"


def clip(video: bool, seconds: float = 2.0) -> bytes:
    """A WebM as Chromium's MediaRecorder makes it: Opus sound, VP8 picture when `video`."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        sound = container.add_stream("libopus", rate=48000)
        sound.layout = "mono"
        if video:
            picture = container.add_stream("libvpx", rate=10)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
            for i in range(int(seconds * 10)):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 9 % 255, np.uint8), format="rgb24")
                for packet in picture.encode(frame):
                    container.mux(packet)
            for packet in picture.encode():
                container.mux(packet)
        for i in range(int(seconds * 50)):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, i * 960
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return out.getvalue()


def jpeg(color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), color).save(out, "PNG")  # sent as PNG: kept as a re-encoded JPEG
    return out.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("report-media")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_report_media") if request.param == "postgresql" else sqlite as url:
        config = parse_config({
            "server": {"data_dir": str(data)}, "store": url,
            "citizen": {"reports_per_minute": 600, "burst": 100, "max_photo_mb": 1},
            "report_media": {"max_photos": 2, "max_video_mb": 0.5, "duplicate_radius_m": 50},
        })  # fmt: skip
        rt = build_runtime(config, city=small_city)
        with serve_app(rt) as srv:
            yield srv, rt


@pytest.fixture
def http(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=20) as client:
        yield client


def sign_in(http: httpx.Client, srv: ServerThread, phone: str) -> dict[str, str]:
    assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    sender = srv.app.state.residents.sender  # type: ignore[attr-defined]
    assert isinstance(sender, LogSender)
    answer = http.post("/api/residents/session", json={"phone": phone, "code": sender.latest(phone)})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def fields(city: City, i: int, code: str = "0101", text: str = "路口垃圾堆积") -> dict[str, str]:
    grid = city.grids[i]
    return {"service_code": code, "lat": str(grid.lat), "long": str(grid.lon), "description": text}


def stored(rt: Runtime) -> tuple[int, int, int]:
    """(reports, media rows, media folders): what a refusal must leave as it was."""
    store = report_media_store(rt.store).store
    with store._reading() as db:
        reports = int(db.execute("SELECT count(*) FROM reports").fetchone()[0])
        media = int(db.execute("SELECT count(*) FROM report_media").fetchone()[0])
    folder = Path(rt.config.server.data_dir) / "uploads" / "media"
    return reports, media, len(list(folder.iterdir())) if folder.is_dir() else 0


def test_photo_voice_and_video_are_kept_and_served_by_scope(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    who = sign_in(http, srv, "13811110001")
    voice, video = clip(False), clip(True)
    files: list[tuple[str, Any]] = [("photos", ("a.png", jpeg(), "image/png")), ("photos", ("b.jpg", jpeg((9, 9, 9)), "image/jpeg")),
                                    ("voice", ("note.bin", voice, "application/octet-stream")),  # the type is sniffed
                                    ("video", ("clip.webm", video, "video/webm"))]  # fmt: skip
    made = http.post(URL, data=fields(small_city, 30), files=files, headers=who)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["account_id"] and [m["kind"] for m in body["media"]] == ["photo", "photo", "voice", "video"]
    assert [m["mime"] for m in body["media"]] == ["image/jpeg", "image/jpeg", "audio/webm", "video/webm"]
    assert 1.5 <= body["media"][3]["duration_s"] <= 2.5
    report_id = body["service_request_id"]
    case = rt.store.get_case(rt.store.get_report(report_id)["case_id"])
    assert case is not None
    # staff of the area: the list and each file, as sent
    staff = srv.headers(role="officer")
    listed = http.get(f"/api/cases/{case.id}/media", headers=staff).json()["items"]
    assert [m["kind"] for m in listed] == ["photo", "photo", "voice", "video"]
    got = http.get(listed[2]["url"], headers=staff)
    assert got.status_code == 200 and got.content == voice and got.headers["content-type"] == "audio/webm"
    assert http.get(listed[0]["url"], headers=staff).content[:2] == b"\xff\xd8"  # re-encoded JPEG
    # its worker yes; another worker, a district officer elsewhere and the public no
    worker = srv.headers(role="worker", worker_id=case.assignee) if case.assignee else staff
    assert http.get(listed[3]["url"], headers=worker).content == video
    other = next(w.id for w in small_city.workers if w.id != case.assignee)
    assert http.get(f"/api/cases/{case.id}/media", headers=srv.headers(role="worker", worker_id=other)).status_code == 404
    elsewhere = next(a.code for a in small_city.districts if not case.grid_code.startswith(a.code))
    far = srv.headers(role="officer", user="far-officer", jurisdiction=elsewhere)
    assert http.get(listed[3]["url"], headers=far).status_code == 404
    assert http.get(f"/api/cases/{case.id}/media").status_code == 401
    # the resident who sent them; another resident gets the missing report's 404
    mine = http.get(f"/api/residents/me/reports/{report_id}/media", headers=who).json()["items"]
    assert len(mine) == 4 and http.get(mine[3]["url"], headers=who).content == video
    stranger = sign_in(http, srv, "13811110002")
    assert http.get(f"/api/residents/me/reports/{report_id}/media", headers=stranger).status_code == 404
    assert http.get(mine[2]["url"], headers=stranger).status_code == 404


@pytest.mark.parametrize(
    ("files", "status", "field", "words"),
    [
        ([("voice", ("v.webm", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "audio/webm"))], 400, "voice", "格式不支持"),
        ([("video", ("v.webm", clip(False), "video/webm"))], 400, "video", "没有画面"),
        ([("voice", ("v.webm", clip(True), "audio/webm"))], 400, "voice", "只含声音"),
        ([("video", ("big.webm", b"\x1a\x45\xdf\xa3" + b"0" * 600_000, "video/webm"))], 413, "video", "过大"),
        ([("photos", (f"{i}.png", jpeg(), "image/png")) for i in range(3)], 400, "photos", "最多2张"),
        ([("photos", ("x.jpg", b"not a picture", "image/jpeg"))], 400, "photos", "无法识别"),
        ([("voice", ("v.webm", b"\x1a\x45\xdf\xa3broken", "audio/webm"))], 400, "voice", "损坏"),
    ],
)
def test_bad_media_is_refused_and_nothing_is_stored(server, http: httpx.Client, small_city: City, files, status, field, words) -> None:  # noqa: ANN001
    _, rt = server
    before = stored(rt)
    # a good photo alongside: it is not kept either (all or nothing)
    sent = [("photos", ("ok.png", jpeg(), "image/png")), *files] if field != "photos" else files
    answer = http.post(URL, data=fields(small_city, 31), files=sent)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]["field"] == field and words in answer.json()["error"]
    assert stored(rt) == before


def test_bad_fields_and_a_plain_form_are_refused(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    _, rt = server
    before = stored(rt)
    no_code = http.post(URL, data={**fields(small_city, 32), "service_code": "nope"}, files=[("voice", ("v", clip(False), "x"))])
    assert no_code.status_code == 400 and "service_code" in no_code.json()["error"]
    assert http.post(URL, data=fields(small_city, 32)).status_code == 415  # urlencoded: not this route's
    assert stored(rt) == before


def test_an_open_case_nearby_is_offered_and_followed(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    reporter = sign_in(http, srv, "13811110003")
    made = http.post(URL, data=fields(small_city, 40, "0102", "人行道破损"), files=[("photos", ("p.png", jpeg(), "image/png"))],
                     headers=reporter)  # fmt: skip
    assert made.status_code == 201, made.text
    case_id = rt.store.get_report(made.json()["service_request_id"])["case_id"]
    listed = http.get("/open311/v2/requests.json", params={"service_code": "0102,0103", "status": "open"}).json()
    assert made.json()["service_request_id"] in [r["service_request_id"] for r in listed]  # the list's SQL, here
    grid = small_city.grids[40]
    near = http.get("/api/citizen/nearby", params={"service_code": "0102", "lat": grid.lat + 0.0002, "long": grid.lon})
    assert near.status_code == 200
    (offered,) = [i for i in near.json()["items"] if i["case_id"] == case_id]
    assert offered["distance_m"] <= 30 and offered["grid"] == grid.name and offered["matter"]
    far = http.get("/api/citizen/nearby", params={"service_code": "0102", "lat": grid.lat + 0.01, "long": grid.lon})
    assert case_id not in [i["case_id"] for i in far.json()["items"]]
    other = http.get("/api/citizen/nearby", params={"service_code": "0101", "lat": grid.lat, "long": grid.lon})
    assert case_id not in [i["case_id"] for i in other.json()["items"]]
    bad = http.get("/api/citizen/nearby", params={"service_code": "0102", "lat": "north", "long": grid.lon})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "lat"
    # a neighbour follows it instead of reporting again: once, listed with the case's status
    follower = sign_in(http, srv, "13811110004")
    assert http.post("/api/residents/me/follows", json={"case_id": case_id}).status_code == 401
    assert http.post("/api/residents/me/follows", json={"case_id": case_id}, headers=follower).status_code == 201
    assert http.post("/api/residents/me/follows", json={"case_id": case_id}, headers=follower).status_code == 200
    assert http.post("/api/residents/me/follows", json={"case_id": "C-none"}, headers=follower).status_code == 404
    (item,) = http.get("/api/residents/me/follows", headers=follower).json()["items"]
    assert item["case_id"] == case_id and item["status"] == "open" and item["status_text"] in {"已派遣", "已立案", "已受理"}
    assert report_media_store(rt.store).followers(case_id) == 1
    again = http.get("/api/citizen/nearby", params={"service_code": "0102", "lat": grid.lat, "long": grid.lon})
    assert next(i for i in again.json()["items"] if i["case_id"] == case_id)["followers"] == 1
    # closed: the follow shows it, and a closed case is not followed anew
    case = rt.store.get_case(case_id)
    worker, officer = srv.headers(role="worker", worker_id=case.assignee), srv.headers(role="officer")
    for action, actor in (("accept", worker), ("feedback", worker), ("close", officer)):
        assert http.post(f"/api/cases/{case_id}/{action}", json={"note": "已修复"}, headers=actor).status_code == 200
    (item,) = http.get("/api/residents/me/follows", headers=follower).json()["items"]
    assert item["status"] == "closed" and item["status_text"] == "已办结" and item["reply"] == "已修复"
    late = sign_in(http, srv, "13811110005")
    refused = http.post("/api/residents/me/follows", json={"case_id": case_id}, headers=late)
    assert refused.status_code == 409 and "已办结" in refused.json()["error"]


def test_a_report_queued_offline_is_made_once(server, http: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    """The service worker's resend (same client_ref) answers the report the first try made."""
    _, rt = server
    ref = "20261206-" + "ab" * 12
    files = [("voice", ("v.webm", clip(False), "audio/webm"))]
    first = http.post(URL, data={**fields(small_city, 33), "client_ref": ref}, files=files)
    assert first.status_code == 201, first.text
    before = stored(rt)
    again = http.post(URL, data={**fields(small_city, 33), "client_ref": ref}, files=files)
    assert again.status_code == 200 and again.json()["service_request_id"] == first.json()["service_request_id"]
    assert [m["kind"] for m in again.json()["media"]] == ["voice"]
    assert stored(rt) == before

"""Residents' chat with their grid worker (issue 22) on a real server, SQLite and PostgreSQL:
messages both ways (live over the resident's socket and the worker's task channel), history in
pages, read receipts, offline delivery by seq, a conversation turned into a case, a worker of
another grid refused with nothing stored, a flood refused with nothing stored, and the
off-hours handover to the grid's desk. The residents' and the chat's clocks are frozen."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from command_center.chat_service import ChatDesk
from command_center.config import parse_config
from command_center.photos import PhotoStore
from command_center.store.chat_records import chat_store
from dispatch.city import City
from residents.sms import LogSender
from tests.helpers import ServerThread, auth_headers, build_runtime, postgres_database, serve_app

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 10, 10, 0, tzinfo=TZ)  # a Tuesday, within office hours, day shift on duty
NIGHT = datetime(2026, 3, 10, 22, 0, tzinfo=TZ)


class Clock:
    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> datetime:
        return self.now


def _grids(city: City) -> tuple[str, str, str, str]:
    """(grid, its day worker, another grid, that one's day worker): grids with a day and a night shift."""
    found = []
    for grid in city.grids:
        workers = sorted(city.workers_by_grid.get(grid.code, []), key=lambda w: w.shift)
        if [w.shift for w in workers] == ["day", "night"]:
            found.append((grid.code, workers[0].id))
        if len(found) == 2:
            break
    (a, wa), (b, wb) = found
    return a, wa, b, wb


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("chat")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_chat") if request.param == "postgresql" else sqlite as url:
        chat = {"burst_messages": 4, "burst_s": 10, "minute_messages": 30}
        config = parse_config({"server": {"data_dir": str(data)}, "store": url, "residents": {"chat": chat}})
        rt = build_runtime(config, city=small_city)
        with serve_app(rt) as srv:
            httpx.post(srv.url + "/api/residents/code", json={"phone": "x"})  # makes the residents' desk
            clock = Clock()
            # the chat's desk made here, with the frozen clock (the app makes it on first use)
            desk = ChatDesk(chat_store(rt.store), PhotoStore(data / "chat_photos"), TZ, clock)
            srv.app.state.chat_desk = desk  # type: ignore[attr-defined]
            grid, worker, other_grid, other = _grids(small_city)
            yield {"srv": srv, "rt": rt, "clock": clock, "grid": grid, "worker": worker,
                   "other_grid": other_grid, "other": other}  # fmt: skip


def chat_desk(srv: ServerThread) -> ChatDesk:
    found: ChatDesk = srv.app.state.chat_desk  # type: ignore[attr-defined]
    return found


@pytest.fixture
def http(server: dict[str, Any]) -> Iterator[httpx.Client]:
    server["clock"].now = DAY
    with httpx.Client(base_url=server["srv"].url, timeout=10) as client:
        yield client


def sign_in(http: httpx.Client, srv: ServerThread, phone: str) -> dict[str, str]:
    assert http.post("/api/residents/code", json={"phone": phone}).status_code == 202
    sender = srv.app.state.residents.sender  # type: ignore[attr-defined]
    assert isinstance(sender, LogSender)
    answer = http.post("/api/residents/session", json={"phone": phone, "code": sender.latest(phone)})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def worker_headers(server: dict[str, Any], worker: str) -> dict[str, str]:
    return auth_headers(server["rt"], role="worker", worker_id=worker)


def rows(server: dict[str, Any]) -> int:
    records = chat_desk(server["srv"]).records
    with records.store._reading() as db:
        return int(db.execute("SELECT count(*) FROM chat_messages").fetchone()[0])


def receive(
    ws: ClientConnection, type_: str, sender: str | None = None, timeout: float = 3.0
) -> dict[str, Any]:
    """The next message of `type_` (from `sender`, for chat messages; batched frames are lists).
    A resident's socket hears their own messages too (their other devices)."""
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        for msg in frame if isinstance(frame, list) else [frame]:
            if msg.get("type") == type_ and (sender is None or msg["data"].get("from") == sender):
                return msg


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_messages_both_ways_live_with_history_and_receipts(
    server: dict[str, Any], http: httpx.Client
) -> None:
    srv, grid, worker = server["srv"], server["grid"], server["worker"]
    me = sign_in(http, srv, "13800138001")
    opened = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me)
    assert opened.status_code == 201, opened.text
    chat = opened.json()
    assert chat["at_desk"] is False and chat["grid_name"]
    again = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me)
    assert again.status_code == 200 and again.json()["id"] == chat["id"]  # one open conversation per grid
    resident_id = http.get("/api/residents/me", headers=me).json()["id"]
    with (
        connect(srv.url.replace("http", "ws") + "/api/residents/me/chats/ws", additional_headers=me) as rws,
        connect(srv.ws_url, additional_headers=worker_headers(server, worker)) as wws,
    ):
        rws.send(json.dumps({"op": "subscribe", "channels": [f"chat:{resident_id}"]}))
        receive(rws, "subscribed")
        wws.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker}"]}))
        receive(wws, "subscribed")
        sent = http.post(
            f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "路灯坏了"}, headers=me
        )
        assert sent.status_code == 201, sent.text
        heard = receive(wws, "chat.message")["data"]  # delivered pending, then confirmed with its seq
        assert heard["text"] == "路灯坏了" and heard["from"] == "resident" and heard["pending"] is True
        assert receive(wws, "chat.stored")["data"] == {"id": heard["id"], "seq": sent.json()["seq"],
                                                       "conversation_id": chat["id"]}  # fmt: skip
        staff = worker_headers(server, worker)
        reply = http.post(f"/api/chats/{chat['id']}/messages", json={"text": "马上到"}, headers=staff)
        assert reply.status_code == 201, reply.text
        got = receive(rws, "chat.message", "worker")["data"]
        assert got["text"] == "马上到" and got["from"] == "worker" and got["id"] == reply.json()["id"]
        got["seq"] = receive(rws, "chat.stored")["data"]["seq"]
        assert got["seq"] == reply.json()["seq"] > sent.json()["seq"]
        # the worker reads the resident's message: the resident hears the receipt
        assert (
            http.post(f"/api/chats/{chat['id']}/read", json={"upto": got["seq"]}, headers=staff).json()[
                "marked"
            ]
            == 1
        )
        receipt = receive(rws, "chat.read")["data"]
        assert receipt["conversation_id"] == chat["id"]
        # a location and a photo
        where = {"kind": "location", "lon": 113.3, "lat": 23.1}
        assert (
            http.post(f"/api/residents/me/chats/{chat['id']}/messages", json=where, headers=me).status_code
            == 201
        )
        photo = http.post(f"/api/residents/me/chats/{chat['id']}/photos", content=jpeg(),
                          headers=me | {"Content-Type": "image/jpeg"})  # fmt: skip
        assert photo.status_code == 201, photo.text
        assert http.get(photo.json()["photo_url"], headers=me).headers["content-type"] == "image/jpeg"
        assert receive(wws, "chat.message", "resident")["data"]["kind"] in ("location", "photo")
    history = http.get(
        f"/api/residents/me/chats/{chat['id']}/messages", params={"limit": 2}, headers=me
    ).json()
    assert history["more"] is True and [m["kind"] for m in history["items"]] == ["location", "photo"]
    older = http.get(f"/api/residents/me/chats/{chat['id']}/messages",
                     params={"before": history["items"][0]["seq"]}, headers=me).json()  # fmt: skip
    assert [m["text"] for m in older["items"]] == ["路灯坏了", "马上到"]
    assert older["items"][0]["read_at"] is not None and older["items"][1]["read_at"] is None  # 已读 / not yet
    listed = http.get("/api/chats", headers=worker_headers(server, worker)).json()
    assert any(c["id"] == chat["id"] for c in listed["items"])
    bad = http.post(f"/api/residents/me/chats/{chat['id']}/photos", content=b"not an image",
                    headers=me | {"Content-Type": "image/jpeg"})  # fmt: skip
    assert bad.status_code == 415 and bad.json()["detail"]["field"] == "photo"


def test_offline_delivery_after_the_last_seen_seq(server: dict[str, Any], http: httpx.Client) -> None:
    grid, worker = server["grid"], server["worker"]
    me = sign_in(http, server["srv"], "13800138002")
    chat = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    first = http.post(
        f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "在吗"}, headers=me
    ).json()
    staff = worker_headers(server, worker)
    for text in ("在的", "请讲"):  # the resident is offline: stored, not lost
        assert (
            http.post(f"/api/chats/{chat['id']}/messages", json={"text": text}, headers=staff).status_code
            == 201
        )
    missed = http.get("/api/residents/me/chats/messages", params={"after": first["seq"]}, headers=me).json()
    assert [m["text"] for m in missed["items"]] == ["在的", "请讲"]
    seen = http.get("/api/chats/messages", params={"after": first["seq"] - 1}, headers=staff).json()
    assert [m["text"] for m in seen["items"]][:1] == ["在吗"]
    mine = http.get("/api/residents/me/chats", headers=me).json()["items"]
    assert mine[0]["unread"] == 2 and mine[0]["last_text"] == "请讲"


def test_another_grids_worker_is_refused_and_nothing_stored(
    server: dict[str, Any], http: httpx.Client
) -> None:
    grid, other, other_grid = server["grid"], server["other"], server["other_grid"]
    me = sign_in(http, server["srv"], "13800138003")
    before = rows(server)
    named = http.post("/api/residents/me/chats", json={"grid_code": grid, "worker": other}, headers=me)
    assert named.status_code == 403 and named.json()["detail"]["field"] == "worker"
    chat = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    before = rows(server)
    stranger = worker_headers(server, other)
    refused = http.post(f"/api/chats/{chat['id']}/messages", json={"text": "hi"}, headers=stranger)
    assert refused.status_code == 403 and refused.json()["error"] == "该会话不属于您负责的网格"
    assert http.get(f"/api/chats/{chat['id']}/messages", headers=stranger).status_code == 403
    assert http.post(f"/api/chats/{chat['id']}/case", json={}, headers=stranger).status_code == 403
    assert all(c["grid_code"] == other_grid for c in http.get("/api/chats", headers=stranger).json()["items"])
    assert rows(server) == before
    # another resident cannot read it either (404, as a missing one)
    them = sign_in(http, server["srv"], "13800138004")
    assert http.get(f"/api/residents/me/chats/{chat['id']}/messages", headers=them).status_code == 404
    assert http.get("/api/chats", headers=me).status_code == 401  # a resident's token is no staff token


def test_a_flood_is_refused_and_nothing_stored(server: dict[str, Any], http: httpx.Client) -> None:
    me = sign_in(http, server["srv"], "13800138005")
    chat = http.post("/api/residents/me/chats", json={"grid_code": server["grid"]}, headers=me).json()
    for n in range(4):
        assert (
            http.post(
                f"/api/residents/me/chats/{chat['id']}/messages", json={"text": f"#{n}"}, headers=me
            ).status_code
            == 201
        )
    before = rows(server)
    flood = http.post(f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "#5"}, headers=me)
    assert (
        flood.status_code == 429 and "频繁" in flood.json()["error"] and flood.headers["Retry-After"] == "10"
    )
    assert rows(server) == before
    empty = http.post(f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "  "}, headers=me)
    assert empty.status_code == 400 and empty.json()["detail"]["field"] == "text"
    server["clock"].now += timedelta(seconds=11)
    assert (
        http.post(
            f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "ok"}, headers=me
        ).status_code
        == 201
    )


def test_off_hours_hand_over_to_the_desk_then_to_the_next_on_duty(
    server: dict[str, Any], http: httpx.Client
) -> None:
    server["clock"].now = NIGHT
    me = sign_in(http, server["srv"], "13800138006")
    chat = http.post("/api/residents/me/chats", json={"grid_code": server["other_grid"]}, headers=me).json()
    assert chat["at_desk"] is True
    notice = http.get(f"/api/residents/me/chats/{chat['id']}/messages", headers=me).json()["items"]
    assert notice[-1]["from"] == "system" and "非工作时间" in notice[-1]["text"]
    officer = auth_headers(
        server["rt"], role="officer", user="desk-officer", jurisdiction=server["other_grid"][:6]
    )
    assert any(
        c["id"] == chat["id"] and c["at_desk"]
        for c in http.get("/api/chats", headers=officer).json()["items"]
    )
    server["clock"].now = DAY + timedelta(days=1)  # morning: the next message goes to the worker on duty
    http.post(f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "早上好"}, headers=me)
    items = http.get(f"/api/residents/me/chats/{chat['id']}/messages", headers=me).json()["items"]
    assert "已接待" in items[-2]["text"] and items[-1]["text"] == "早上好"
    assert http.get("/api/residents/me/chats", headers=me).json()["items"][0]["at_desk"] is False


def test_a_conversation_becomes_a_case(server: dict[str, Any], http: httpx.Client) -> None:
    grid, worker = server["grid"], server["worker"]
    me = sign_in(http, server["srv"], "13800138007")
    chat = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    http.post(f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "井盖丢了"}, headers=me)
    http.post(
        f"/api/residents/me/chats/{chat['id']}/photos",
        content=jpeg(),
        headers=me | {"Content-Type": "image/jpeg"},
    )
    staff = worker_headers(server, worker)
    made = http.post(f"/api/chats/{chat['id']}/case", json={}, headers=staff)
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["grid_code"] == grid and case["source"] == "citizen"
    again = http.post(f"/api/chats/{chat['id']}/case", json={}, headers=staff)
    assert again.status_code == 409
    admin = auth_headers(server["rt"])
    assert "井盖丢了" in http.get(f"/api/cases/{case['id']}", headers=admin).json()["description"]
    assert http.get(f"/api/cases/{case['id']}/photos", headers=admin).json()["items"]
    mine = http.get("/api/residents/me/chats", headers=me).json()["items"][0]
    assert mine["case_id"] == case["id"] and mine["last_text"] == f"已转为案件 #{case['id']}"


def test_sending_on_the_socket(server: dict[str, Any], http: httpx.Client) -> None:
    """`chat.send` on the websockets: the same checks and delivery as over HTTP, an answer to the sender."""
    srv, grid, worker, other = server["srv"], server["grid"], server["worker"], server["other"]
    me = sign_in(http, srv, "13800138008")
    chat = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    resident_id = http.get("/api/residents/me", headers=me).json()["id"]
    with (
        connect(srv.url.replace("http", "ws") + "/api/residents/me/chats/ws", additional_headers=me) as rws,
        connect(srv.ws_url, additional_headers=worker_headers(server, worker)) as wws,
        connect(srv.ws_url, additional_headers=worker_headers(server, other)) as stranger,
    ):
        rws.send(json.dumps({"op": "subscribe", "channels": [f"chat:{resident_id}"]}))
        receive(rws, "subscribed")
        wws.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker}"]}))
        receive(wws, "subscribed")
        rws.send(json.dumps({"op": "chat.send", "ref": 1, "conversation": chat["id"], "text": "垃圾没清"}))
        assert receive(rws, "chat.sent")["ref"] == 1
        assert receive(wws, "chat.message", "resident")["data"]["text"] == "垃圾没清"
        wws.send(json.dumps({"op": "chat.send", "ref": "a", "conversation": chat["id"], "text": "收到"}))
        assert receive(rws, "chat.message", "worker")["data"]["text"] == "收到"  # delivered before it is stored:
        assert receive(wws, "chat.sent")["ref"] == "a"  # the answer comes after the commit
        before = rows(server)
        stranger.send(json.dumps({"op": "chat.send", "ref": 2, "conversation": chat["id"], "text": "hi"}))
        refused = receive(stranger, "error")
        assert refused["status"] == 403 and refused["ref"] == 2
        rws.send(json.dumps({"op": "chat.send", "ref": 3, "conversation": chat["id"], "text": ""}))
        assert receive(rws, "error")["detail"] == {"field": "text"}
        assert rows(server) == before


def test_staff_cannot_listen_on_a_residents_channels_nor_outside_their_area(
    server: dict[str, Any], http: httpx.Client
) -> None:
    """A resident's channels carry no area, so staff may not subscribe to them at all; the
    worker's task channel carries the grid, so an officer elsewhere hears nothing of the chat."""
    srv, grid, worker, other_grid = server["srv"], server["grid"], server["worker"], server["other_grid"]
    me = sign_in(http, srv, "13800138009")
    chat = http.post("/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    resident_id = http.get("/api/residents/me", headers=me).json()["id"]
    city_officer = auth_headers(server["rt"], role="officer", user="officer-city")
    elsewhere = auth_headers(server["rt"], role="officer", user="officer-elsewhere", jurisdiction=other_grid)
    with (
        connect(srv.ws_url, additional_headers=city_officer) as officer,
        connect(srv.ws_url, additional_headers=elsewhere) as stranger,
    ):
        theirs = [f"chat:{resident_id}", f"market:{resident_id}", f"forum:{grid}"]
        officer.send(json.dumps({"op": "subscribe", "channels": theirs}))
        refused = receive(officer, "error")
        assert refused["error"] == "not allowed to subscribe" and refused["refused"] == 3, refused
        stranger.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker}"]}))
        receive(stranger, "subscribed")
        sent = http.post(f"/api/residents/me/chats/{chat['id']}/messages", json={"text": "井盖丢了"}, headers=me)
        assert sent.status_code == 201, sent.text
        with pytest.raises(TimeoutError):
            receive(stranger, "chat.message", timeout=1.5)

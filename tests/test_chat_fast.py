"""The chat's send path at the hub's speed (chat_fast.py, issue 22) on a real server, SQLite and
PostgreSQL: a message is delivered while its commit is still held and answered only after it;
one the store refuses at the commit (its flood counts, a conversation closed meanwhile) is
retracted on both sides with nothing stored; a re-send with the same ref is stored once (in
flight, after the answer, and after the node forgot it); and across two nodes on one Redis bus
a resident on node A and their worker on node B hear each other live."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from command_center.chat_service import ChatDesk
from command_center.config import parse_config
from command_center.photos import PhotoStore
from command_center.store.chat_records import chat_store
from dispatch.city import City
from tests.helpers import REDIS, ServerThread, auth_headers, build_runtime, postgres_database, serve_app

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 10, 10, 0, tzinfo=TZ)  # a Tuesday, within office hours, day shift on duty
CHAT = {"burst_messages": 4, "burst_s": 10, "minute_messages": 30}


def _grid(city: City) -> tuple[str, str]:
    """A grid with a day and a night worker, and its day worker."""
    for grid in city.grids:
        workers = sorted(city.workers_by_grid.get(grid.code, []), key=lambda w: w.shift)
        if [w.shift for w in workers] == ["day", "night"]:
            return grid.code, workers[0].id
    raise AssertionError("no grid with a day and a night shift")


def _desk(srv: ServerThread, rt: Any, data: Any) -> ChatDesk:
    """The chat's desk with the clock frozen at DAY (the app would make one on first use)."""
    desk = ChatDesk(chat_store(rt.store), PhotoStore(data / "chat_photos"), TZ, lambda: DAY)
    srv.app.state.chat_desk = desk  # type: ignore[attr-defined]
    return desk


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("chat-fast")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_chat_fast") if request.param == "postgresql" else sqlite as url:
        config = parse_config({"server": {"data_dir": str(data)}, "store": url, "residents": {"chat": CHAT}})
        rt = build_runtime(config, city=small_city)
        with serve_app(rt) as srv:
            grid, worker = _grid(small_city)
            yield {"srv": srv, "rt": rt, "desk": _desk(srv, rt, data), "grid": grid, "worker": worker}


def sign_in(srv: ServerThread, phone: str) -> dict[str, str]:
    assert httpx.post(f"{srv.url}/api/residents/code", json={"phone": phone}).status_code == 202
    code = srv.app.state.residents.sender.latest(phone)  # type: ignore[attr-defined]
    answer = httpx.post(f"{srv.url}/api/residents/session", json={"phone": phone, "code": code})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def receive(ws: ClientConnection, type_: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
    """The next message of `type_` whose data has `match` (batched frames are lists)."""
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        for msg in frame if isinstance(frame, list) else [frame]:
            data = msg.get("data") or {}
            if msg.get("type") == type_ and all(data.get(k) == v for k, v in match.items()):
                return msg


def nothing_of(ws: ClientConnection, type_: str, within: float = 0.4) -> None:
    with contextlib.suppress(TimeoutError):
        while True:
            frame = json.loads(ws.recv(timeout=within))
            for msg in frame if isinstance(frame, list) else [frame]:
                assert msg.get("type") != type_, msg


def everything(ws: ClientConnection, within: float = 0.6) -> list[dict[str, Any]]:
    """Every message until the socket has been quiet for `within` seconds (heartbeats left out)."""
    out: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while True:
            frame = json.loads(ws.recv(timeout=within))
            out += [m for m in (frame if isinstance(frame, list) else [frame]) if m.get("type") != "heartbeat"]
    return out


def rows(desk: ChatDesk) -> int:
    with desk.records.store._reading() as db:
        return int(db.execute("SELECT count(*) FROM chat_messages").fetchone()[0])


@contextlib.contextmanager
def sockets(server: dict[str, Any], me: dict[str, str]) -> Iterator[tuple[ClientConnection, ClientConnection, str]]:
    """(the resident's socket, their grid worker's, the conversation's id), both subscribed."""
    srv = server["srv"]
    with paired(srv, srv, server["rt"], me, server["grid"], server["worker"]) as found:
        yield found


@contextlib.contextmanager
def paired(
    resident_node: ServerThread, worker_node: ServerThread, worker_rt: Any, me: dict[str, str], grid: str, worker: str
) -> Iterator[tuple[ClientConnection, ClientConnection, str]]:
    """The same, the resident on one node and the worker on another (or the same)."""
    url = resident_node.url
    chat = httpx.post(f"{url}/api/residents/me/chats", json={"grid_code": grid}, headers=me).json()
    resident = httpx.get(f"{url}/api/residents/me", headers=me).json()["id"]
    staff = auth_headers(worker_rt, role="worker", worker_id=worker)
    with (
        connect(url.replace("http", "ws") + "/api/residents/me/chats/ws", additional_headers=me) as rws,
        connect(worker_node.ws_url, additional_headers=staff) as wws,
    ):
        rws.send(json.dumps({"op": "subscribe", "channels": [f"chat:{resident}"]}))
        receive(rws, "subscribed")
        wws.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker}"]}))
        receive(wws, "subscribed")
        yield rws, wws, chat["id"]


@contextlib.contextmanager
def held(desk: ChatDesk) -> Iterator[threading.Event]:
    """The group commit held before its transaction until the event is set."""
    release, real = threading.Event(), desk.commits.batch

    @contextlib.contextmanager
    def slow() -> Iterator[None]:
        assert release.wait(10)
        with real():
            yield

    desk.commits.batch = slow
    try:
        yield release
    finally:
        release.set()
        desk.commits.batch = real


def say(ws: ClientConnection, conversation: str, text: str, ref: Any) -> None:
    ws.send(json.dumps({"op": "chat.send", "ref": ref, "conversation": conversation, "text": text}))


def test_delivered_before_the_commit_and_answered_after(server: dict[str, Any]) -> None:
    desk = server["desk"]
    with sockets(server, sign_in(server["srv"], "13800139001")) as (rws, wws, chat), held(desk) as release:
        before = rows(desk)
        say(rws, chat, "水管爆了", "r1")
        heard = receive(wws, "chat.message", text="水管爆了")["data"]  # while the commit is held
        assert heard["pending"] is True and heard["seq"] is None and heard["id"].startswith("M")
        say(rws, chat, "二楼也是", "r2")  # the socket is not held up by the first one's commit
        assert receive(wws, "chat.message", text="二楼也是")["data"]["pending"] is True
        early = everything(rws, 0.4)  # no answer before it is stored, and no echo of its own
        assert not [m for m in early if m["type"] in ("chat.sent", "chat.message")], early
        assert rows(desk) == before
        release.set()
        stored = receive(wws, "chat.stored", id=heard["id"])["data"]
        # The sending socket hears only its answers, each with the id and seq that its own
        # message's echo and chat.stored would bring (the other party and the hall get those).
        own = everything(rws)
        assert [m["type"] for m in own] == ["chat.sent", "chat.sent"], own
        assert [m["ref"] for m in own] == ["r1", "r2"] and own[0]["id"] == heard["id"]
        assert own[0]["seq"] == stored["seq"] and rows(desk) == before + 2


def test_refused_at_the_commit_is_retracted_on_both_sides(server: dict[str, Any]) -> None:
    desk, srv = server["desk"], server["srv"]
    me = sign_in(srv, "13800139002")
    with sockets(server, me) as (rws, wws, chat):
        resident = httpx.get(f"{srv.url}/api/residents/me", headers=me).json()["id"]
        for k in range(CHAT["burst_messages"]):  # what another node stored: this node's window never saw them
            desk.records.add({"conversation_id": chat, "sender_kind": "resident", "sender_id": resident,
                              "kind": "text", "body": f"#{k}", "created_at": DAY.isoformat()})  # fmt: skip
        before = rows(desk)
        say(rws, chat, "再说一次", 7)
        heard = receive(wws, "chat.message", text="再说一次")["data"]
        assert receive(wws, "chat.retracted", id=heard["id"])["data"]["reason"] == "flood"
        assert receive(rws, "chat.retracted", id=heard["id"])["data"]["reason"] == "flood"
        refused = receive(rws, "error")
        assert refused["status"] == 429 and refused["ref"] == 7
        assert rows(desk) == before
        # closed in the store while this node's cache still has it open: the store has the last word
        staff = auth_headers(server["rt"], role="worker", worker_id=server["worker"])
        ok = httpx.post(f"{srv.url}/api/chats/{chat}/messages", json={"text": "好的"}, headers=staff)
        assert ok.status_code == 201  # (the refusal made this node read it again: cached, open)
        before = rows(desk)
        with desk.records.store._writing() as db:
            db.execute(f"UPDATE chat_conversations SET state = 'closed' WHERE id = '{chat}'")
        answer = httpx.post(f"{srv.url}/api/chats/{chat}/messages", json={"text": "还在吗"}, headers=staff)
        assert answer.status_code == 409, answer.text
        gone = receive(rws, "chat.message", text="还在吗")["data"]
        assert receive(rws, "chat.retracted", id=gone["id"])["data"]["reason"] == "closed"
        assert rows(desk) == before
        again = httpx.post(f"{srv.url}/api/chats/{chat}/messages", json={"text": "还在吗"}, headers=staff)
        assert again.status_code == 409  # now refused before delivery: the cache was read again
        nothing_of(rws, "chat.message")


def test_a_resend_with_the_same_ref_is_stored_once(server: dict[str, Any]) -> None:
    desk = server["desk"]
    with sockets(server, sign_in(server["srv"], "13800139003")) as (rws, wws, chat):
        before = rows(desk)
        with held(desk) as release:
            say(wws, chat, "稍等", "w1")
            say(wws, chat, "稍等", "w1")  # sent again while the first is in flight
            first = receive(rws, "chat.message", text="稍等")["data"]
            release.set()
            answers = [receive(wws, "chat.sent"), receive(wws, "chat.sent")]
        assert {a["seq"] for a in answers} == {answers[0]["seq"]} and answers[0]["id"] == first["id"]
        say(wws, chat, "稍等", "w1")  # again after the answer
        assert receive(wws, "chat.sent")["seq"] == answers[0]["seq"]
        assert rows(desk) == before + 1
        desk.fast.done.clear()  # a node that forgot it (restarted, another node): the store knows the ref
        say(wws, chat, "稍等", "w1")
        again = receive(wws, "chat.sent")
        assert again["seq"] == answers[0]["seq"] and again["id"] == first["id"]
        assert receive(rws, "chat.retracted", reason="duplicate")["data"]["seq"] == answers[0]["seq"]
        assert rows(desk) == before + 1


def test_two_nodes_on_one_redis_bus_hear_each_other(
    tmp_path: Any, small_city: City, prefix: str
) -> None:
    """A resident's socket on node A, the worker's on node B: a message each way arrives live."""
    grid, worker = _grid(small_city)
    store = f"sqlite:///{tmp_path / 'cc.db'}"
    nodes = []
    for name in ("a", "b"):
        config = parse_config({"server": {"data_dir": str(tmp_path / name)}, "store": store,
                               "bus": f"{REDIS}?prefix={prefix}&block_ms=200", "residents": {"chat": CHAT},
                               "auth": {"secret": "two-nodes-one-secret-" + "x" * 16}})  # fmt: skip
        nodes.append(build_runtime(config, city=small_city))
    with serve_app(nodes[0]) as a, serve_app(nodes[1]) as b:
        desks = [_desk(a, nodes[0], tmp_path / "a"), _desk(b, nodes[1], tmp_path / "b")]
        me = sign_in(a, "13800139004")
        with paired(a, b, nodes[1], me, grid, worker) as (rws, wws, chat):
            say(rws, chat, "楼道灯不亮", 1)  # on node A
            heard = receive(wws, "chat.message", timeout=5, text="楼道灯不亮")["data"]  # on node B
            assert heard["from"] == "resident"
            seq = receive(rws, "chat.sent")["seq"]
            assert receive(wws, "chat.stored", timeout=5, id=heard["id"])["data"]["seq"] == seq
            say(wws, chat, "今晚修好", 2)  # on node B
            back = receive(rws, "chat.message", timeout=5, text="今晚修好")["data"]  # on node A
            assert back["from"] == "worker" and receive(wws, "chat.sent")["seq"] > seq
            assert desks[0].fast.conversations.rows[chat]["worker_id"] == worker  # B's takeover reached A's cache
            nothing_of(wws, "chat.message")  # each once: a node does not relay its own events back

"""服务超市 and 论坛 live over the hub (issue 22), on a real server, SQLite and PostgreSQL: each
change reaches its audiences only — a resident their own requests' changes and their community's
board, a provider the requests for their services, staff the queues of their jurisdiction alone
(an officer of another district hears nothing of ours); a resident's socket may subscribe to
no one else's channel, and none opens without a resident's sign-in (403 at the handshake); an
event announced on one node reaches its audience on another, over the Redis bus."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from command_center.community_live import community_event, community_posts
from dispatch.city import City
from tests.community_world import World, approved_provider, community_world

RESIDENT, PROVIDER, OTHER = "13600000001", "13600000002", "13600000003"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[World]:
    yield from community_world(request.param, tmp_path_factory.mktemp("community-live"), small_city)


@pytest.fixture
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.srv.url, timeout=10) as client:
        yield client


def test_an_event_goes_to_the_audiences_it_names_and_no_further() -> None:
    event = community_event("service.accepted", "440103001001001", residents=["RS" + "a" * 16, "RS" + "b" * 16],
                            id="SR1", state="accepted")  # fmt: skip
    posts = community_posts(event)
    assert [(p.channel, p.area) for p in posts] == [
        ("market:RS" + "a" * 16, "440103001001001"),
        ("market:RS" + "b" * 16, "440103001001001"),
    ]
    assert "to" not in posts[0].data and posts[0].data["state"] == "accepted"  # who else heard it: not said
    staff = community_posts(community_event("post.reported", "440103001001000", staff=True, id="P1"))
    assert [(p.channel, p.area) for p in staff] == [("community", "440103001001000")]
    board = community_posts(community_event("notice.posted", "440103001001000", forum="440103001001000"))
    assert [p.channel for p in board] == ["forum:440103001001000"]
    # a malformed audience (not a resident id, not a community code) makes no channel
    assert community_posts(community_event("x", "1", residents=["../etc"], forum="4401")) == []


@contextmanager
def socket(world: World, path: str, headers: dict[str, str], channels: list[str]) -> Iterator[ClientConnection]:
    with connect(world.srv.url.replace("http", "ws") + path, additional_headers=headers) as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": channels}))
        assert receive(ws, "subscribed")["type"] == "subscribed"
        yield ws


def receive(ws: ClientConnection, type_: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next message of the type (others before it skipped); AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if msg.get("type") == type_:
            return dict(msg)
    raise AssertionError(f"no {type_} within {timeout} s")


def community_messages(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every message on the `community` channel until none comes for `quiet` seconds."""
    got = []
    while True:
        try:
            msg = json.loads(ws.recv(timeout=quiet))
        except TimeoutError:
            return got
        if msg.get("channel") == "community":
            got.append(msg)


def resident_socket(world: World, phone: str, channels: list[str]) -> AbstractContextManager[ClientConnection]:
    path = f"/api/residents/me/community/ws?community={world.community.code}"
    return socket(world, path, world.resident(phone), channels)


def test_requests_reach_the_resident_and_the_provider_live(world: World, http: httpx.Client) -> None:
    provider = approved_provider(world, PROVIDER, http)
    offer = {"category": "repairs", "title": "上门修理", "price": 0, "area": world.grid.code}
    service = http.post("/api/residents/me/services", headers=provider, json=offer).json()["id"]
    me = http.get("/api/residents/me", headers=world.resident(RESIDENT)).json()["id"]
    them = http.get("/api/residents/me", headers=provider).json()["id"]
    with (
        resident_socket(world, RESIDENT, [f"market:{me}", f"forum:{world.community.code}"]) as mine,
        resident_socket(world, PROVIDER, [f"market:{them}"]) as theirs,
    ):
        asked = http.post("/api/residents/me/service-requests", headers=world.resident(RESIDENT),
                          json={"service_id": service, "note": "风扇不转"})  # fmt: skip
        assert asked.status_code == 201, asked.text
        heard = receive(theirs, "service.requested")
        assert heard["channel"] == f"market:{them}" and heard["data"]["id"] == asked.json()["id"]
        assert "风扇" not in json.dumps(heard, ensure_ascii=False)  # ids and states only, no texts
        assert receive(mine, "service.requested")["channel"] == f"market:{me}"
        started = time.monotonic()
        accepted = http.post(f"/api/residents/me/incoming/{asked.json()['id']}/accept", headers=provider)
        assert accepted.status_code == 200, accepted.text
        news = receive(mine, "service.accepted", timeout=2.0)
        assert news["data"] == {"id": asked.json()["id"], "state": "accepted", "area_code": world.grid.code}
        assert time.monotonic() - started < 2.0
        # the community's board: a thread posted shows on the board's channel
        thread = http.post("/api/residents/me/threads", headers=provider,
                           json={"community": world.community.code, "title": "周末义诊", "body": "社区广场"})  # fmt: skip
        assert thread.status_code == 201, thread.text
        board = receive(mine, "thread.posted")
        assert board["channel"] == f"forum:{world.community.code}" and board["data"]["id"] == thread.json()["id"]


def test_the_queues_reach_staff_of_their_jurisdiction_only(world: World, http: httpx.Client) -> None:
    thread = http.post("/api/residents/me/threads", headers=world.resident(RESIDENT),
                       json={"community": world.community.code, "title": "出售旧冰箱", "body": "八成新"})  # fmt: skip
    post = thread.json()["id"]
    with (
        socket(world, "/ws", world.officer("mine"), ["community"]) as ours,
        socket(world, "/ws", world.officer("other"), ["community"]) as theirs,
    ):
        reported = http.post(f"/api/residents/me/posts/{post}/report", headers=world.resident(OTHER), json={})
        assert reported.status_code == 201, reported.text
        heard = receive(ours, "post.reported")
        assert heard["data"]["id"] == post and heard["data"]["area_code"] == world.community.code
        # an application in the other district: its officer hears that, and nothing of ours before it
        applied = http.post("/api/residents/me/provider", headers=world.resident(OTHER),
                            json={"name": "李师傅维修", "community": world.other.code})  # fmt: skip
        assert applied.status_code == 201, applied.text
        got = community_messages(theirs)
        assert [(m["type"], m["data"]["area_code"]) for m in got] == [("provider.applied", world.other.code)]
        assert [m["type"] for m in community_messages(ours)] == []  # nor ours of theirs
        hidden = http.post(f"/api/community-admin/posts/{post}/hide", headers=world.officer(), json={})
        assert hidden.status_code == 200, hidden.text
        assert receive(ours, "post.hidden")["data"]["state"] == "hidden"
        assert community_messages(theirs) == []


def test_a_resident_socket_hears_only_its_own_channels(world: World, http: httpx.Client) -> None:
    me = http.get("/api/residents/me", headers=world.resident(RESIDENT)).json()["id"]
    someone = http.get("/api/residents/me", headers=world.resident(OTHER)).json()["id"]
    path = f"/api/residents/me/community/ws?community={world.community.code}"
    with connect(world.srv.url.replace("http", "ws") + path, additional_headers=world.resident(RESIDENT)) as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": [f"market:{someone}", f"forum:{world.other.code}",
                                                            "community", f"market:{me}"]}))  # fmt: skip
        refused = receive(ws, "error")
        assert refused["error"] == "not allowed to subscribe" and refused["refused"] == 3
        assert receive(ws, "subscribed")["channels"] == [f"market:{me}"]
    with pytest.raises(InvalidStatus) as refused_socket:  # closed before it is accepted: 403
        connect(world.srv.url.replace("http", "ws") + path).close()
    assert refused_socket.value.response.status_code == 403


def test_an_event_on_one_node_reaches_its_audience_on_another(prefix: str, tmp_path: Path, small_city: City) -> None:
    """Over the Redis bus: a change announced on node a is heard on node b by the officer of its
    district, and not by the officer of the other."""
    from tests.test_hub_nodes import node, rt

    area = small_city.grids[0].code
    elsewhere = next(d.code[:6] for d in small_city.districts if not area.startswith(d.code[:6]))
    with node(tmp_path, "a", prefix, small_city) as a, node(tmp_path, "b", prefix, small_city) as b:
        mine = b.ws_connect(role="officer", user="officer-a", jurisdiction=area[:6])
        theirs = b.ws_connect(role="officer", user="officer-b", jurisdiction=elsewhere)
        with mine, theirs:
            for ws in (mine, theirs):
                ws.send(json.dumps({"op": "subscribe", "channels": ["community"]}))
                receive(ws, "subscribed")
            event = community_event("post.reported", area, staff=True, id="P1")
            a.run(rt(a).bus.publish(event))
            heard = receive(mine, "post.reported")
            assert heard["channel"] == "community" and heard["data"]["id"] == "P1"
            assert community_messages(theirs) == []

"""Authenticated ingress against a real server (../shared/reviews/security.md findings 2, 3,
5, 7 and the publish/telemetry part of 19): WHIP publishers and telemetry need a credential
for their stream, a live publisher cannot be taken over, fixed cameras never move, WHEP is
scoped to the jurisdiction, live views are capped per user and end with their token."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from command_center.api.webrtc import hubs
from command_center.auth.principal import normalize_jurisdiction
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from streams.telemetry import TELEMETRY
from streams.webrtc import WebRTCConfig, new_peer
from tests.helpers import ServerThread, auth_headers, build_runtime, serve_app
from tests.test_store_postgres import pg_db  # noqa: F401  (a PostgreSQL database for this session)
from tests.test_whip import CHROMIUM_ARGS, SDP, MovingSquare, client_offer, wait_for

DRONE = "drone-7"  # a WHIP drone: mobile
GATE = "gate-cam"  # a fixed camera publishing over WHIP (a tripod, a pole)


def districts(city: City) -> list[tuple[str, Any]]:
    """(jurisdiction, a grid inside it) for each district of the city."""
    out = []
    for area in sorted(city.areas.values(), key=lambda a: a.code):
        if area.level == "district":
            prefix = normalize_jurisdiction(area.code)
            out.append((prefix, next(g for g in city.grids if g.code.startswith(prefix))))
    return out


def make_runtime(tmp_path: Path, city: City, auth: dict[str, Any] | None = None) -> Runtime:
    (home, home_grid), (_other, other_grid) = districts(city)[:2]
    where = {"lon": home_grid.lon, "lat": home_grid.lat}
    cameras = [
        {"id": DRONE, "kind": "whip", "url": f"whip://{DRONE}", "location": where, "fps": 5, "mobile": True},
        {"id": GATE, "kind": "whip", "url": f"whip://{GATE}", "location": where, "fps": 5},
        {"id": "cam-home", "kind": "sim", "url": "sim://street?seed=3", "location": where, "fps": 5},
        {
            "id": "cam-away",
            "kind": "sim",
            "url": "sim://street?seed=4",
            "location": {"lon": other_grid.lon, "lat": other_grid.lat},
            "fps": 5,
        },
    ]
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "webrtc": {"ice_hosts": ["127.0.0.1"], "connect_timeout_s": 3},
            "auth": auth or {},
            "cameras": cameras,
        }
    )
    for cam_id in (DRONE, GATE, "cam-home", "cam-away"):
        TELEMETRY.clear(cam_id)
    return build_runtime(config, city=city)


def make_key(server: ServerThread, stream: str, name: str = "device") -> dict[str, Any]:
    res = httpx.post(f"{server.url}/api/publish-keys", json={"name": name, "stream": stream}, headers=server.headers())
    assert res.status_code == 201, res.text
    assert res.json()["token"].startswith("cck_")
    return res.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_log(rt: Runtime) -> list[dict[str, Any]]:
    """Every audit row, newest first (read while the server runs: its store closes with it)."""
    return rt.store.list_audit(limit=1000)[0]


def rows(log: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [r for r in log if r["action"] == action]


async def go_live(base: str, stream: str, headers: dict[str, str]) -> tuple[RTCPeerConnection, str]:
    """A real aiortc publisher on `stream`: (its peer, its session's Location)."""
    pc = new_peer(WebRTCConfig())
    pc.addTrack(MovingSquare())
    async with httpx.AsyncClient(base_url=base) as http:
        res = await http.post(f"/whip/{stream}", content=await client_offer(pc), headers={**SDP, **headers})
    assert res.status_code == 201, res.text
    await pc.setRemoteDescription(RTCSessionDescription(sdp=res.text, type="answer"))
    return pc, res.headers["location"]


async def offer_for(direction: str) -> str:
    pc = new_peer(WebRTCConfig())
    pc.addTransceiver("video", direction=direction)
    try:
        return await client_offer(pc)
    finally:
        await pc.close()


async def until(check: Any, timeout: float, what: str) -> Any:
    """Poll without blocking this loop (the client's peers run on it)."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.05)
    return value


async def frames_flow(rt: Runtime, cam_id: str, seconds: float = 1.0) -> int:
    """How many frames the camera took in over the next `seconds` (>0: the publisher streams)."""
    before = rt.cameras.runners[cam_id].health.frames_in
    await asyncio.sleep(seconds)
    return rt.cameras.runners[cam_id].health.frames_in - before


def test_finding_3_nobody_takes_over_a_live_worker_stream(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    worker, other = small_city.workers[0], small_city.workers[1]
    stream = f"worker-{worker.id}"
    with serve_app(rt) as server:

        async def scenario() -> dict[str, Any]:
            mine = auth_headers(rt, role="worker", worker_id=worker.id)
            pc, location = await go_live(server.url, stream, mine)
            try:
                await until(lambda: rt.cameras.runners.get(stream) and rt.cameras.runners[stream].health.frames_in > 0, 5, "frames")
                first = hubs(server.app).whip.live_owner(stream)
                attempts = {
                    "anonymous": {},
                    "anonymous again": {},
                    "another worker": auth_headers(rt, role="worker", worker_id=other.id),
                    "an officer": auth_headers(rt, role="officer"),
                    "a made-up key": bearer("cck_0123456789ab_not-a-real-secret"),
                    "a bad token": bearer("eyJhbGciOiJIUzI1NiJ9.e30.bad"),
                }
                refused, flowing = {}, {}
                async with httpx.AsyncClient(base_url=server.url) as http:
                    for who, headers in attempts.items():
                        offer = await offer_for("sendonly")
                        res = await http.post(f"/whip/{stream}", content=offer, headers={**SDP, **headers})
                        refused[who] = res.status_code
                        assert hubs(server.app).whip.live_owner(stream) == first, f"{who} changed the publisher"
                        flowing[who] = await frames_flow(rt, stream, 0.6)
                    # Nor can anyone but the worker (or an admin) end the worker's session.
                    ends = {
                        "anonymous": (await http.delete(location)).status_code,
                        "another worker": (
                            await http.delete(location, headers=auth_headers(rt, role="worker", worker_id=other.id))
                        ).status_code,
                    }
                    assert hubs(server.app).whip.live_owner(stream) == first
                    ends["the worker"] = (await http.delete(location, headers=mine)).status_code
                return {"refused": refused, "flowing": flowing, "ends": ends}
            finally:
                await pc.close()

        out = asyncio.run(scenario())
        time.sleep(0.3)  # the end's audit row is written as the session ends
        log = audit_log(rt)

    assert out["refused"] == {
        "anonymous": 401,
        "anonymous again": 401,
        "another worker": 403,
        "an officer": 403,
        "a made-up key": 401,
        "a bad token": 401,
    }
    assert all(n > 0 for n in out["flowing"].values()), out["flowing"]  # the worker kept streaming
    assert out["ends"] == {"anonymous": 401, "another worker": 403, "the worker": 200}
    published = rows(log, "whip.publish")
    assert [(r["actor"], r["target"]) for r in published] == [(worker.id, stream)]
    refusals = rows(log, "whip.refuse")
    anonymous = [r for r in refusals if r["actor"] == "anonymous"]
    assert len(anonymous) == 2  # one per 10 s per address and target: the publishes, the delete
    assert {r["actor"] for r in refusals} >= {"anonymous", other.id, "officer"}
    ended = rows(log, "whip.end")
    assert ended and ended[0]["actor"] == worker.id and f"ended by {worker.id}" in ended[0]["detail"]


def test_finding_3_a_drone_stream_needs_its_key_and_keys_can_be_rotated_and_revoked(
    tmp_path: Path, small_city: City
) -> None:
    rt = make_runtime(tmp_path, small_city)
    (home, _), (away, _) = districts(small_city)[:2]
    with serve_app(rt) as server:
        drone_key, gate_key, spare_key = make_key(server, DRONE), make_key(server, GATE), make_key(server, DRONE)
        listed = httpx.get(f"{server.url}/api/publish-keys", headers=server.headers()).json()
        assert listed["total"] == 3 and all("token" not in k and "secret_hash" not in k for k in listed["items"])
        assert httpx.get(f"{server.url}/api/publish-keys", headers=auth_headers(rt, role="officer")).status_code == 403

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with httpx.AsyncClient(base_url=server.url) as http:

                async def try_publish(headers: dict[str, str]) -> int:
                    offer = await offer_for("sendonly")
                    return (await http.post(f"/whip/{DRONE}", content=offer, headers={**SDP, **headers})).status_code

                out["no key"] = await try_publish({})
                pc, _location = await go_live(server.url, DRONE, bearer(drone_key["token"]))
                try:
                    await until(lambda: rt.cameras.runners[DRONE].health.frames_in > 0, 5, "the drone's frames")
                    first = hubs(server.app).whip.live_owner(DRONE)
                    out["refused"] = {
                        "no key": await try_publish({}),
                        "the gate's key": await try_publish(bearer(gate_key["token"])),
                        "another key of the drone, while it is live": await try_publish(bearer(spare_key["token"])),
                        "an officer of another district": await try_publish(
                            auth_headers(rt, role="officer", jurisdiction=away)
                        ),
                        "an officer of its district, while it is live": await try_publish(
                            auth_headers(rt, role="officer", jurisdiction=home)
                        ),
                    }
                    out["same publisher"] = hubs(server.app).whip.live_owner(DRONE) == first
                    out["flowing"] = await frames_flow(rt, DRONE)
                    rotated = await http.post(f"/api/publish-keys/{drone_key['id']}/rotate", headers=server.headers())
                    assert rotated.status_code == 200
                    # Rotation ends the key's live publish at once, and its old token is refused.
                    await until(lambda: hubs(server.app).whip.live_owner(DRONE) is None, 5, "the rotated key's session to end")
                    out["old token"] = await try_publish(bearer(drone_key["token"]))
                    revoked = await http.delete(f"/api/publish-keys/{spare_key['id']}", headers=server.headers())
                    assert revoked.status_code == 200 and revoked.json()["active"] is False
                    out["revoked"] = await try_publish(bearer(spare_key["token"]))
                    out["revoked again"] = (
                        await http.delete(f"/api/publish-keys/{spare_key['id']}", headers=server.headers())
                    ).status_code
                finally:
                    await pc.close()
                pc, location = await go_live(server.url, DRONE, bearer(rotated.json()["token"]))
                try:
                    # An admin may take over (and it is audited).
                    pc2, location2 = await go_live(server.url, DRONE, server.headers())
                    out["admin took over"] = hubs(server.app).whip.live_owner(DRONE)[1] == "user:admin"
                    await pc2.close()
                    await http.delete(location2, headers=server.headers())
                finally:
                    await pc.close()
            return out

        out = asyncio.run(scenario())
        time.sleep(0.3)
        log = audit_log(rt)

    assert out["no key"] == 401
    assert out["refused"] == {
        "no key": 401,
        "the gate's key": 403,
        "another key of the drone, while it is live": 409,
        "an officer of another district": 403,
        "an officer of its district, while it is live": 409,
    }
    assert out["same publisher"] and out["flowing"] > 0
    assert out["old token"] == 401 and out["revoked"] == 401 and out["revoked again"] == 404
    assert out["admin took over"]
    replaced = rows(log, "whip.replace")
    assert len(replaced) == 1 and replaced[0]["actor"] == "admin" and f"key:{drone_key['id']}" in replaced[0]["detail"]
    assert {r["action"] for r in log} >= {
        "publish_key.create",
        "publish_key.rotate",
        "publish_key.revoke",
        "whip.publish",
        "whip.refuse",
        "whip.end",
    }
    ends = [r["detail"] for r in rows(log, "whip.end")]
    assert any("rotated" in d for d in ends) and any("replaced" in d for d in ends)


def test_finding_2_metrics_are_not_public(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        assert httpx.get(f"{server.url}/metrics", headers=auth_headers(rt, role="officer")).status_code == 403
        assert httpx.get(f"{server.url}/metrics", headers=server.headers()).status_code == 200


def test_finding_2_spoofed_telemetry_never_moves_a_camera(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as server, httpx.Client(base_url=server.url) as http:
        wait_for(lambda: http.get("/api/cameras/cam-home", headers=server.headers()).json()["state"] == "online", 10, "cam")
        installed = http.get("/api/cameras/cam-home", headers=server.headers()).json()["location"]
        elsewhere = {"lat": 23.2, "lon": 113.4}

        def post(cam_id: str, headers: dict[str, str]) -> httpx.Response:
            return http.post(f"/api/drones/{cam_id}/telemetry", json=elsewhere, headers=headers)

        home_key, drone_key = make_key(server, "cam-home"), make_key(server, DRONE)
        answers = {
            "anonymous, fixed camera": post("cam-home", {}).status_code,
            "anonymous, drone": post(DRONE, {}).status_code,
            "the drone's key, fixed camera": post("cam-home", bearer(drone_key["token"])).status_code,
            "a worker": post(DRONE, auth_headers(rt, role="worker", worker_id=small_city.workers[0].id)).status_code,
        }
        fixed = post("cam-home", bearer(home_key["token"]))
        admin_fixed = post("cam-home", server.headers())
        assert answers == {
            "anonymous, fixed camera": 401,
            "anonymous, drone": 401,
            "the drone's key, fixed camera": 403,
            "a worker": 403,
        }
        assert fixed.status_code == 409 and "not mobile" in fixed.json()["detail"]
        assert admin_fixed.status_code == 409  # nobody moves a fixed camera
        time.sleep(0.5)
        assert TELEMETRY.get("cam-home") is None
        assert http.get("/api/cameras/cam-home", headers=server.headers()).json()["location"] == installed

        for _ in range(3):  # the drone's own key moves the drone; audited once a minute, not per post
            assert post(DRONE, bearer(drone_key["token"])).status_code == 200
        stored = TELEMETRY.get(DRONE)
        assert stored is not None and (stored.lat, stored.lon) == (23.2, 113.4)
        log = audit_log(rt)
    accepted = rows(log, "telemetry.accept")
    assert [(r["actor"], r["target"]) for r in accepted] == [(f"key:{drone_key['id']}", DRONE)]
    refused = rows(log, "telemetry.refuse")
    assert {r["target"] for r in refused} == {"cam-home", DRONE}
    assert any("409" in (r["detail"] or "") for r in refused)


def test_finding_2_a_fixed_whip_camera_ignores_telemetry_on_its_data_channel(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as server:
        gate_key = make_key(server, GATE)

        async def scenario() -> None:
            pc = new_peer(WebRTCConfig())
            pc.addTrack(MovingSquare())
            channel = pc.createDataChannel("telemetry")
            async with httpx.AsyncClient(base_url=server.url) as http:
                res = await http.post(
                    f"/whip/{GATE}", content=await client_offer(pc), headers={**SDP, **bearer(gate_key["token"])}
                )
                assert res.status_code == 201, res.text
                await pc.setRemoteDescription(RTCSessionDescription(sdp=res.text, type="answer"))
                try:
                    deadline = time.monotonic() + 5
                    while hubs(server.app).whip.fixed_telemetry < 3:
                        assert time.monotonic() < deadline, "the data channel's telemetry never arrived"
                        if channel.readyState == "open":
                            channel.send(json.dumps({"lat": 23.3, "lon": 113.5}))
                        await asyncio.sleep(0.1)
                finally:
                    await http.delete(res.headers["location"], headers=bearer(gate_key["token"]))
                    await pc.close()

        asyncio.run(scenario())
        assert TELEMETRY.get(GATE) is None
        view = httpx.get(f"{server.url}/api/cameras/{GATE}", headers=server.headers()).json()
        assert view["telemetry"] is None and view["location"] == rt.config.cameras[1].location.model_dump()


def test_finding_5_whep_is_scoped_to_the_jurisdiction(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    (home, _), _ = districts(small_city)[:2]
    with serve_app(rt) as server, httpx.Client(base_url=server.url) as http:
        officer = auth_headers(rt, role="officer", user="district-officer", jurisdiction=home)
        offer = asyncio.run(offer_for("recvonly"))
        away = http.post("/whep/cam-away", content=offer, headers={**SDP, **officer})
        assert away.status_code == 404, away.text  # as the MJPEG view answers: no such camera for them
        assert http.get("/api/cameras/cam-away/live.mjpg", headers=officer).status_code == 404
        mine = http.post("/whep/cam-home", content=offer, headers={**SDP, **officer})
        assert mine.status_code == 201, mine.text
        # Someone else cannot end the officer's view; the officer can.
        other = auth_headers(rt, role="officer", user="another-officer")
        assert http.delete(mine.headers["location"], headers=other).status_code == 404
        assert http.delete(mine.headers["location"], headers=officer).status_code == 200


async def first_bytes(response: httpx.Response) -> tuple[Any, int]:
    """Some of an endless body, and the iterator to keep (dropping it closes the connection)."""
    chunks = response.aiter_bytes()
    return chunks, len(await chunks.__anext__())


def test_finding_7_live_views_are_capped_per_user(tmp_path: Path, small_city: City) -> None:
    caps = {"max_sessions_per_user": {"mjpeg": 2, "whep": 1}}
    rt = make_runtime(tmp_path, small_city, caps)
    with serve_app(rt) as server:
        wait_for(lambda: rt.cameras.runners["cam-home"].latest is not None, 10, "a frame")
        officer = auth_headers(rt, role="officer", user="watcher")
        url = "/api/cameras/cam-home/live.mjpg"

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                async with http.stream("GET", url, headers=officer) as one, http.stream("GET", url, headers=officer) as two:
                    (keep_one, got_one), (keep_two, got_two) = await first_bytes(one), await first_bytes(two)
                    out["open"] = [one.status_code, two.status_code, got_one, got_two]
                    third = await http.get(url, headers=officer)
                    out["third"] = (third.status_code, third.json())
                    out["snapshot"] = (await http.get("/api/cameras/cam-home/snapshot.jpg", headers=officer)).status_code
                    async with http.stream("GET", url, headers=server.headers()) as admin:
                        out["admin"] = admin.status_code  # another user's cap is their own
                    # The admin's view ends with its connection; the officer's two stay.
                    out["still open"] = await until(lambda: rt.auth.sessions.live("mjpeg") == 2, 3, "the admin's end")
                    del keep_one, keep_two
                # Both closed by the client: the slots come back.
                deadline = time.monotonic() + 5
                while rt.auth.sessions.live("mjpeg") > 0:
                    assert time.monotonic() < deadline, "closed MJPEG views still count"
                    await asyncio.sleep(0.1)
                async with http.stream("GET", url, headers=officer) as again:
                    out["again"] = again.status_code

                offer = await offer_for("recvonly")
                first = await http.post("/whep/cam-home", content=offer, headers={**SDP, **officer})
                second = await http.post("/whep/cam-home", content=await offer_for("recvonly"), headers={**SDP, **officer})
                out["whep"] = [first.status_code, second.status_code]
                await http.delete(first.headers["location"], headers=officer)
                third = await http.post("/whep/cam-home", content=await offer_for("recvonly"), headers={**SDP, **officer})
                out["whep after delete"] = third.status_code
                await http.delete(third.headers["location"], headers=officer)
            return out

        out = asyncio.run(scenario())
    assert out["open"][:2] == [200, 200] and min(out["open"][2:]) > 0
    assert out["third"][0] == 429 and out["third"][1]["detail"]["kind"] == "mjpeg"
    assert out["third"][1]["detail"]["limit"] == 2
    assert out["admin"] == 200 and out["still open"] and out["again"] == 200 and out["snapshot"] == 200
    assert out["whep"] == [201, 429] and out["whep after delete"] == 201


def test_finding_7_live_views_end_when_the_token_expires(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, {"token_ttl_s": 3})
    with serve_app(rt) as server:
        wait_for(lambda: rt.cameras.runners["cam-home"].latest is not None, 10, "a frame")
        officer = auth_headers(rt, role="officer", user="short-shift")
        expires_at = rt.auth.signer.verify(officer["Authorization"].split()[1]).expires_at

        async def scenario() -> dict[str, float]:
            ended: dict[str, float] = {}
            viewer = new_peer(WebRTCConfig())
            viewer.addTransceiver("video", direction="recvonly")
            async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
                whep = await http.post("/whep/cam-home", content=await client_offer(viewer), headers={**SDP, **officer})
                assert whep.status_code == 201, whep.text
                await viewer.setRemoteDescription(RTCSessionDescription(sdp=whep.text, type="answer"))
                try:
                    track = viewer.getTransceivers()[0].receiver.track
                    await asyncio.wait_for(track.recv(), 5)  # a connected viewer, receiving
                    async with http.stream("GET", "/api/cameras/cam-home/live.mjpg", headers=officer) as mjpeg:
                        assert mjpeg.status_code == 200
                        async for _chunk in mjpeg.aiter_bytes():
                            pass  # the server ends the body when the token lapses
                    ended["mjpeg"] = time.time() - expires_at
                    await until(lambda: len(hubs(server.app).whep.sessions) == 0, 5, "the WHEP session to end")
                    ended["whep"] = time.time() - expires_at
                finally:
                    await viewer.close()
            return ended

        ended = asyncio.run(scenario())
    # Seconds after the token's expiry: not before it, and within the sweep's couple of seconds.
    assert 0 <= ended["mjpeg"] < 2.5 and 0 <= ended["whep"] < 2.5, ended


def test_admin_page_manages_publish_keys_and_is_linked_from_the_wall(tmp_path: Path, small_city: City) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:

            def signed_in_page(**who: str) -> Any:
                token = auth_headers(rt, **who)["Authorization"].split()[1]
                page = browser.new_context().new_page()
                page.add_init_script(f"localStorage.setItem('cc.token', {json.dumps(token)})")
                page.on("dialog", lambda dialog: dialog.accept())  # the rotate/revoke confirmations
                return page

            prefix = districts(small_city)[0][0]
            district = next(a for a in small_city.areas.values() if a.level == "district" and a.code.startswith(prefix))
            auth_headers(rt, role="officer", user="district", jurisdiction=prefix)  # an account to show
            page = signed_in_page()
            console: list[str] = []
            page.on("console", lambda msg: console.append(msg.text))
            page.goto(f"{server.url}/wall")
            page.wait_for_selector("#admin-link:not([hidden])", timeout=10_000)
            page.click("#admin-link")
            page.wait_for_selector("#main:not([hidden])", timeout=10_000)
            page.wait_for_selector('#tab-users tr[data-user="admin"]')
            # A jurisdiction shows its area's name beside the code prefix.
            page.wait_for_function(
                "(name) => document.querySelector('#tab-users tr[data-user=\"district\"] .area-name')?.textContent === name",
                arg=district.name,
            )
            assert page.text_content('#tab-users tr[data-user="admin"] .area-name') == "全市"

            page.click("#tabs a[data-tab=keys]")  # the console's publish-keys tab
            tab = "#tab-keys"
            page.wait_for_selector(f"{tab} [data-part=key-form]")
            page.fill(f"{tab} [data-part=key-form] input[name=name]", "1 号无人机")
            page.fill(f"{tab} [data-part=key-form] input[name=stream]", DRONE)
            page.click(f"{tab} [data-part=key-form] button[type=submit]")
            page.wait_for_selector(f"{tab} [data-part=secret]:not([hidden])")
            first = page.input_value(f"{tab} [data-part=secret-value]")
            assert first.startswith("cck_")
            page.click(f"{tab} [data-part=secret-done]")
            assert page.input_value(f"{tab} [data-part=secret-value]") == ""  # shown once, then gone
            row = page.wait_for_selector(f"{tab} tr[data-id]")
            key_id = row.get_attribute("data-id")
            assert key_id and key_id in first

            page.click(f'{tab} tr[data-id="{key_id}"] button:has-text("轮换")')
            page.wait_for_selector(f"{tab} [data-part=secret]:not([hidden])")
            second = page.input_value(f"{tab} [data-part=secret-value]")
            assert second.startswith(f"cck_{key_id}_") and second != first
            page.click(f'{tab} tr[data-id="{key_id}"] button:has-text("吊销")')
            page.wait_for_selector(f'{tab} tr.revoked[data-id="{key_id}"]')
            assert not [line for line in console if "Content Security Policy" in line], console
            artifacts = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
            artifacts.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(artifacts / "admin.png"), full_page=True)

            officer = signed_in_page(role="officer")
            officer.goto(f"{server.url}/wall")
            officer.wait_for_function("() => document.querySelector('#conn') !== null")
            time.sleep(1.0)
            assert officer.is_hidden("#admin-link")
            officer.goto(f"{server.url}/admin")
            officer.wait_for_selector("#denied:not([hidden])", timeout=10_000)
            assert officer.is_hidden("#main")
        finally:
            browser.close()
        keys = {k["id"]: k for k in httpx.get(f"{server.url}/api/publish-keys", headers=server.headers()).json()["items"]}
        assert keys[key_id]["active"] is False and keys[key_id]["rotated_at"] is not None


@pytest.fixture(params=["sqlite", "postgresql"])
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from command_center.store import create_store

    url = f"sqlite:///{tmp_path / 'keys.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_db")
    store = create_store(url)
    yield store
    store.close()


def test_publish_keys_are_stored_hashed_and_checked_in_both_stores(key_store: Any) -> None:
    from command_center.auth.publish_keys import PublishKeys

    keys = PublishKeys(key_store)
    key, token = keys.create("1 号无人机", DRONE, "北区巡逻", "admin")
    stored = key_store.get_publish_key(key.id)
    secret = token.split("_", 2)[2]
    assert secret not in json.dumps(stored) and len(stored["secret_hash"]) == 64  # only its SHA-256
    assert keys.verify(token) == key and keys.get(key.id) == key
    assert key.id in {k.id for k in keys.list()}
    for bad in ("", "cck_", f"cck_{key.id}_", f"cck_{key.id}_{secret}x", f"cck_{key.id.upper()}_{secret}",
                f"cck_nothexnothex_{secret}", f"cck_{key.id}_{'a' * 200}", token.replace("cck_", "ck_")):  # fmt: skip
        assert keys.verify(bad) is None, bad
    rotated = keys.rotate(key.id)
    assert rotated is not None and keys.verify(token) is None and keys.verify(rotated[1]) is not None
    assert rotated[0].rotated_at is not None
    revoked = keys.revoke(key.id)
    assert revoked is not None and not revoked.active and keys.verify(rotated[1]) is None
    assert keys.revoke(key.id) is None and keys.rotate(key.id) is None and keys.rotate("000000000000") is None


def test_finding_6_a_disabled_workers_live_publish_ends(tmp_path: Path, small_city: City) -> None:
    """A live publish under a user's token is a session like a websocket: disabling the
    worker ends it within seconds, and the stream is free again."""
    rt = make_runtime(tmp_path, small_city)
    worker = small_city.workers[0]
    stream = f"worker-{worker.id}"
    with serve_app(rt) as server:

        async def scenario() -> float:
            pc, _location = await go_live(server.url, stream, auth_headers(rt, role="worker", worker_id=worker.id))
            try:
                await until(lambda: hubs(server.app).whip.live_owner(stream), 5, "the publish")
                async with httpx.AsyncClient(base_url=server.url, headers=auth_headers(rt)) as http:
                    res = await http.post(f"/api/users/{worker.id}/disable")
                    assert res.status_code == 200, res.text
                started = time.monotonic()
                await until(lambda: hubs(server.app).whip.live_owner(stream) is None, 5, "the publish to end")
                return time.monotonic() - started
            finally:
                await pc.close()

        took = asyncio.run(scenario())
        time.sleep(0.3)
        ends = rows(audit_log(rt), "whip.end")
    assert took < 5
    assert ends and "revoked" in (ends[-1]["detail"] or "")

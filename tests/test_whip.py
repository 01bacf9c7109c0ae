"""WebRTC through a real uvicorn server on loopback: WHIP ingest from an aiortc client and
from headless Chromium, bad input, WHEP viewing, and drone telemetry over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack
from av import VideoFrame

from command_center.api.webrtc import hubs
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from streams.telemetry import TELEMETRY
from streams.webrtc import WebRTCConfig, advertise_hosts, new_peer
from tests.helpers import ServerThread, auth_headers, build_runtime, serve_app

STREAM = "drone-7"
SDP = {"Content-Type": "application/sdp"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def runtime(tmp_path: Path, city: City, extra_cameras: list[dict[str, Any]] | None = None) -> Runtime:
    grid = city.grids[len(city.grids) // 2]
    drone = {
        "id": STREAM,
        "kind": "whip",
        "url": f"whip://{STREAM}",
        "location": {"lon": grid.lon, "lat": grid.lat},
        "fps": 5,
        "mobile": True,  # a drone: its telemetry moves it
        # Short, so the test sees the camera go offline soon after the publisher leaves.
        "stall_after_s": 1.0,
        "offline_after_s": 2.0,
    }
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "webrtc": {"ice_hosts": ["127.0.0.1"], "connect_timeout_s": 3},
            "cameras": [drone, *(extra_cameras or [])],
        }
    )
    TELEMETRY.clear(STREAM)
    return build_runtime(config, city=city)


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def camera(server: ServerThread, cam_id: str = STREAM) -> dict[str, Any]:
    return httpx.get(f"{server.url}/api/cameras/{cam_id}", headers=server.headers()).json()


def server_tasks(server: ServerThread) -> set[str]:
    """What runs on the server's loop, by coroutine (names of aiortc's tasks say nothing)."""

    async def names() -> set[str]:
        me = asyncio.current_task()
        return {t.get_coro().__qualname__ for t in asyncio.all_tasks() if t is not me}  # type: ignore[union-attr]

    return server.run(names())  # type: ignore[return-value]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def assert_no_sessions(server: ServerThread, rt: Runtime, tasks: set[str], fds: int | None = None) -> None:
    """Every session ended, and nothing it started is left: no task, no socket (`fds`: the
    count before; None where a browser's keep-alive connections make it meaningless)."""
    the = hubs(server.app)
    wait_for(lambda: len(the.whip.sessions) == 0 and len(the.whep.sessions) == 0, 5, "sessions to end")
    wait_for(lambda: server_tasks(server) <= tasks, 5, f"tasks to finish: {server_tasks(server) - tasks}")
    if fds is not None:
        wait_for(lambda: open_fds() <= fds + 2, 5, f"sockets to close ({open_fds()} open, {fds} before)")


class MovingSquare(VideoStreamTrack):
    """A synthetic camera: a white square crossing a grey field, 320×240 at 30 fps."""

    async def recv(self) -> VideoFrame:  # type: ignore[override]
        pts, time_base = await self.next_timestamp()
        image = np.full((240, 320, 3), 60, np.uint8)
        x = (pts // 3000) % 280
        image[100:140, x : x + 40] = 255
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def client_offer(pc: RTCPeerConnection) -> str:
    # The client, like the server, needs a loopback candidate: aioice offers none itself.
    await advertise_hosts(pc, ["127.0.0.1"])
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


def loopback_only(sdp: str) -> str:
    """Drop every ICE candidate but 127.0.0.1's, as if loopback were the only interface."""
    lines = [line for line in sdp.split("\r\n") if not line.startswith("a=candidate:") or " 127.0.0.1 " in line]
    assert any(line.startswith("a=candidate:") for line in lines), "no 127.0.0.1 candidate"
    return "\r\n".join(lines)


async def publish(http: httpx.AsyncClient, pc: RTCPeerConnection, loopback: bool = False, stream: str = STREAM) -> str:
    offer = await client_offer(pc)
    res = await http.post(f"/whip/{stream}", content=loopback_only(offer) if loopback else offer, headers=SDP)
    assert res.status_code == 201, res.text
    assert res.headers["content-type"].startswith("application/sdp")
    answer = loopback_only(res.text) if loopback else res.text
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return res.headers["location"]


def test_aiortc_publisher_goes_online_and_moves(tmp_path: Path, small_city: City) -> None:
    rt = runtime(tmp_path, small_city)
    base = (23.10, 113.30)
    with serve_app(rt) as server:
        configured = camera(server)["location"]
        tasks, fds = server_tasks(server), open_fds()

        async def scenario() -> dict[str, Any]:
            pc = new_peer(WebRTCConfig())
            pc.addTrack(MovingSquare())
            pc.addTrack(AudioStreamTrack())  # audio is accepted and ignored
            channel = pc.createDataChannel("telemetry")
            step = 0

            async def send_positions() -> None:
                nonlocal step
                while True:
                    if channel.readyState == "open":
                        step += 1
                        lat, lon = base[0] + step * 1e-4, base[1] + step * 1e-4
                        channel.send(json.dumps({"lat": lat, "lon": lon, "alt": 80, "heading": 90, "ts": time.time()}))
                    await asyncio.sleep(0.1)

            sender = asyncio.create_task(send_positions())
            out: dict[str, Any] = {}
            try:
                async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
                    started = time.monotonic()
                    # Loopback candidates only: this is what webrtc.ice_hosts is for.
                    location = await publish(http, pc, loopback=True)
                    assert location.startswith(f"/whip/{STREAM}/")
                    while (await http.get(f"/api/cameras/{STREAM}")).json()["state"] != "online":
                        assert time.monotonic() - started < 5, "not online within 5 s"
                        await asyncio.sleep(0.05)
                    out["online_s"] = time.monotonic() - started

                    # The camera's location follows the telemetry, and keeps following it.
                    await asyncio.sleep(1.0)
                    first = (await http.get(f"/api/cameras/{STREAM}")).json()
                    await asyncio.sleep(1.0)
                    second = (await http.get(f"/api/cameras/{STREAM}")).json()
                    out["steps"], out["first"], out["second"] = step, first, second

                    # A second publish to the same stream replaces the first.
                    pc2 = new_peer(WebRTCConfig())
                    pc2.addTrack(MovingSquare())
                    location2 = await publish(http, pc2)
                    assert len(hubs(server.app).whip.sessions) == 1
                    assert (await http.delete(location)).status_code == 404
                    await asyncio.sleep(1.0)
                    out["replaced"] = (await http.get(f"/api/cameras/{STREAM}")).json()

                    assert (await http.delete(location2)).status_code in (200, 204)
                    assert len(hubs(server.app).whip.sessions) == 0
                    await pc2.close()
            finally:
                sender.cancel()
                await pc.close()
            return out

        out = asyncio.run(scenario())
        print(f"\naiortc publisher: online {out['online_s']:.2f} s after POST /whip")

        first, second = out["first"], out["second"]
        assert first["location"] != configured and first["telemetry"]["alt"] == 80
        for view in (first, second):
            lat, lon = view["location"]["lat"], view["location"]["lon"]
            assert abs((lat - base[0]) - (lon - base[1])) < 1e-9  # it is one of the points we sent
            assert 0 < (lat - base[0]) / 1e-4 <= out["steps"] + 0.5
        assert second["location"]["lat"] > first["location"]["lat"] + 5e-4  # it moved with the drone
        assert out["replaced"]["state"] == "online"

        runner = rt.cameras.runners[STREAM]
        assert runner.health.frames_in >= 10
        assert runner.latest is not None and runner.latest.image.shape == (240, 320, 3)
        assert runner.latest.telemetry is not None

        # The publisher has gone: the camera goes offline, and nothing is left running.
        wait_for(lambda: camera(server)["state"] == "offline", 5, "the camera to go offline")
        assert "no publisher" in (camera(server)["last_error"] or "")
        assert_no_sessions(server, rt, tasks, fds)


def test_a_worker_goes_live_on_their_own_stream_only(tmp_path: Path, small_city: City) -> None:
    rt = runtime(tmp_path, small_city)
    worker, other = small_city.workers[0], small_city.workers[1]
    stream = f"worker-{worker.id}"
    with serve_app(rt) as server:

        async def scenario() -> dict[str, Any]:
            pc = new_peer(WebRTCConfig())
            pc.addTrack(MovingSquare())
            offer = await client_offer(pc)
            refused = {}
            async with httpx.AsyncClient(base_url=server.url) as anyone:
                for who, headers in {
                    "nobody": {},
                    "another worker": auth_headers(rt, role="worker", worker_id=other.id),
                    "an officer": auth_headers(rt, role="officer"),
                }.items():
                    res = await anyone.post(f"/whip/{stream}", content=offer, headers={**SDP, **headers})
                    refused[who] = res.status_code
                res = await anyone.post("/whip/worker-nobody-by-that-id", content=offer, headers=SDP)
                refused["unknown worker, anonymous"] = res.status_code  # no credential: told nothing more
                res = await anyone.post(
                    "/whip/worker-nobody-by-that-id", content=offer, headers={**SDP, **server.headers()}
                )
                refused["unknown worker"] = res.status_code
            assert stream not in rt.cameras.runners  # nothing added by a refused publish
            mine = auth_headers(rt, role="worker", worker_id=worker.id)
            async with httpx.AsyncClient(base_url=server.url, headers=mine) as http:
                try:
                    started = time.monotonic()
                    location = await publish(http, pc, loopback=True, stream=stream)
                    while camera(server, stream).get("state") != "online":
                        assert time.monotonic() - started < 5, "not online within 5 s"
                        await asyncio.sleep(0.05)
                    listed = httpx.get(f"{server.url}/api/cameras", headers=server.headers()).json()
                    await asyncio.sleep(1.0)
                    frames = rt.cameras.runners[stream].health.frames_in
                    assert (await http.delete(location)).status_code in (200, 204)
                finally:
                    await pc.close()
            return {"refused": refused, "listed": listed, "frames": frames}

        out = asyncio.run(scenario())
        assert out["refused"] == {
            "nobody": 401,
            "another worker": 403,
            "an officer": 403,
            "unknown worker, anonymous": 401,
            "unknown worker": 404,
        }
        cams = out["listed"]["items"]
        live = next(c for c in cams if c["id"] == stream)
        assert live["kind"] == "whip" and worker.name in live["name"]
        home = small_city.areas[worker.grid_code]
        assert live["location"] == {"lon": home.lon, "lat": home.lat}  # their grid until the phone sends a fix
        assert out["frames"] >= 3 and stream in rt.cameras.vision.cameras  # frames flow, and vision watches them
        assert len(hubs(server.app).whip.sessions) == 0


def test_chromium_publisher_goes_online_and_moves(tmp_path: Path, small_city: City) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    rt = runtime(tmp_path, small_city)
    lat, lon = 23.1234, 113.3456
    with serve_app(rt) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda msg: console.append(msg.text))
            tasks = server_tasks(server)
            made = httpx.post(
                f"{server.url}/api/publish-keys", json={"name": "phone on a tripod", "stream": STREAM},
                headers=server.headers(),
            )
            assert made.status_code == 201, made.text
            page.goto(f"{server.url}/ui/publish/index.html?stream={STREAM}&lat={lat}&lon={lon}")
            assert page.input_value("#stream") == STREAM
            page.fill("#key", made.json()["token"])  # a device publishes with its key
            started = time.monotonic()
            page.click("#start")
            wait_for(lambda: camera(server)["state"] == "online", 5, f"online; page said {console}")
            online_s = time.monotonic() - started
            print(f"\nchromium publisher: online {online_s:.2f} s after pressing Go live")
            page.wait_for_selector('body[data-phase="live"]', timeout=5000)

            view = wait_for(
                lambda: (v := camera(server))["location"] == {"lon": lon, "lat": lat} and v, 5, "the phone's position"
            )
            assert view["telemetry"]["lat"] == lat
            assert rt.cameras.runners[STREAM].latest is not None and rt.cameras.runners[STREAM].latest.image.shape[2] == 3

            page.click("#stop")
            page.wait_for_selector('body[data-phase="idle"]', timeout=5000)
            assert_no_sessions(server, rt, tasks)
            wait_for(lambda: camera(server)["state"] == "offline", 5, "the camera to go offline")
        finally:
            browser.close()


def test_bad_input_gets_4xx_and_leaks_nothing(tmp_path: Path, small_city: City) -> None:
    sim = {"id": "cam-sim", "kind": "sim", "url": "sim://street?seed=3", "location": {"lon": 113.3, "lat": 23.1}}
    rt = runtime(tmp_path, small_city, [sim])
    with serve_app(rt) as server, httpx.Client(base_url=server.url, headers=server.headers()) as http:
        tasks, fds = server_tasks(server), open_fds()

        def post(path: str, body: bytes | str, headers: dict[str, str] = SDP) -> httpx.Response:
            res = http.post(path, content=body, headers=headers)
            assert res.headers["content-type"].startswith("application/json")
            assert set(res.json()) == {"error", "detail"}
            return res

        async def make_offer(video: str) -> str:
            pc = new_peer(WebRTCConfig())
            pc.addTransceiver("video", direction=video)
            sdp = await client_offer(pc)
            await pc.close()  # a peer that will never answer the checks
            return sdp

        real_offer = asyncio.run(make_offer("sendonly"))
        viewer_offer = asyncio.run(make_offer("recvonly"))

        assert post(f"/whip/{STREAM}", "hello, this is not SDP").status_code == 400
        assert post(f"/whip/{STREAM}", b"\xff\xfe\x00garbage").status_code == 400
        assert post(f"/whip/{STREAM}", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n").status_code == 400
        assert post(f"/whip/{STREAM}", viewer_offer).status_code == 400  # nothing to publish
        no_codec = re.sub(r"a=rtpmap:(\d+) \w+/", r"a=rtpmap:\1 NOPE/", real_offer)
        assert "codec" in str(post(f"/whip/{STREAM}", no_codec).json()["detail"]).lower()
        assert post(f"/whip/{STREAM}", real_offer.replace("a=setup:actpass", "a=setup:bogus")).status_code == 400
        res = post(f"/whip/{STREAM}", "v=0\r\n" + "a=x-padding\r\n" * 6000)
        assert res.status_code == 413, res.text
        assert post("/whip/no-such-stream", real_offer).status_code == 404
        assert post("/whip/cam-sim", real_offer).status_code == 404  # a camera, but not a whip one
        assert post(f"/whip/{STREAM}", real_offer, {"Content-Type": "application/json"}).status_code == 415
        assert post(f"/whip/{STREAM}", real_offer, {}).status_code == 415
        assert http.delete(f"/whip/{STREAM}/0123456789abcdef").status_code == 404
        assert post("/whep/no-such-camera", viewer_offer).status_code == 404
        assert post("/whep/cam-sim", "garbage").status_code == 400
        assert post("/whep/cam-sim", real_offer).status_code == 400  # it only sends: nothing to view
        assert http.delete("/whep/cam-sim/0123456789abcdef").status_code == 404
        assert len(hubs(server.app).whip.sessions) == 0 and len(hubs(server.app).whep.sessions) == 0

        # A well-formed offer from a peer that is gone: answered, then ended when ICE never connects.
        res = http.post(f"/whip/{STREAM}", content=real_offer, headers=SDP)
        assert res.status_code == 201
        assert len(hubs(server.app).whip.sessions) == 1
        # …and its session is not someone else's to end.
        assert http.delete(res.headers["location"].replace(STREAM, "cam-sim")).status_code == 404
        assert_no_sessions(server, rt, tasks, fds)


def test_whep_viewer_receives_the_camera(tmp_path: Path, small_city: City) -> None:
    sim = {"id": "cam-sim", "kind": "sim", "url": "sim://street?seed=3", "location": {"lon": 113.3, "lat": 23.1}}
    rt = runtime(tmp_path, small_city, [sim])
    with serve_app(rt) as server:
        wait_for(lambda: camera(server, "cam-sim")["state"] == "online", 10, "the sim camera")
        tasks, fds = server_tasks(server), open_fds()

        async def scenario() -> tuple[list[VideoFrame], float]:
            pc = new_peer(WebRTCConfig())
            pc.addTransceiver("video", direction="recvonly")
            try:
                async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
                    started = time.monotonic()
                    res = await http.post("/whep/cam-sim", content=await client_offer(pc), headers=SDP)
                    assert res.status_code == 201, res.text
                    assert res.headers["location"].startswith("/whep/cam-sim/")
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=res.text, type="answer"))
                    track = pc.getTransceivers()[0].receiver.track
                    frames = [await asyncio.wait_for(track.recv(), 10) for _ in range(5)]
                    first_s = time.monotonic() - started
                    assert len(hubs(server.app).whep.sessions) == 1
                    assert (await http.delete(res.headers["location"])).status_code in (200, 204)
                    return frames, first_s  # type: ignore[return-value]
            finally:
                await pc.close()

        frames, took = asyncio.run(scenario())
        print(f"\nwhep: 5 frames {took:.2f} s after POST /whep")
        assert all((f.width, f.height) == (640, 360) for f in frames)
        image = frames[-1].to_ndarray(format="bgr24")
        assert image.std() > 10  # a rendered street, not the black placeholder
        assert_no_sessions(server, rt, tasks, fds)


def test_drone_telemetry_over_http(tmp_path: Path, small_city: City) -> None:
    rt = runtime(tmp_path, small_city)
    with serve_app(rt) as server, httpx.Client(base_url=server.url, headers=server.headers()) as http:
        url = f"/api/drones/{STREAM}/telemetry"

        def bad(body: Any, **kw: Any) -> str:
            res = http.post(url, json=body, **kw) if "content" not in kw else http.post(url, **kw)
            assert res.status_code == 400, res.text
            return res.json()["detail"]

        assert "lat" in bad({"lat": 123, "lon": 113.3})
        assert "lat" in bad({"lat": "23.1", "lon": 113.3})
        assert "lon" in bad({"lat": 23.1})
        assert "heading" in bad({"lat": 23.1, "lon": 113.3, "heading": True})
        assert "lat" in bad(None, content=b'{"lat": NaN, "lon": 113.3}', headers={"Content-Type": "application/json"})
        assert "object" in bad([23.1, 113.3])
        bad(None, content=b"{not json", headers={"Content-Type": "application/json"})
        assert http.post("/api/drones/no-such-drone/telemetry", json={"lat": 23.1, "lon": 113.3}).status_code == 404

        res = http.post(url, json={"lat": 23.15, "lon": 113.35, "alt": 120, "heading": 450, "ts": 1_700_000_000_000})
        assert res.status_code == 200, res.text
        stored = TELEMETRY.get(STREAM)
        assert stored is not None and (stored.lat, stored.lon, stored.alt) == (23.15, 113.35, 120)
        assert stored.heading == 90 and stored.ts == 1_700_000_000  # a browser's milliseconds, normalised
        assert res.json()["telemetry"]["lat"] == 23.15

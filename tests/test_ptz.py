"""PTZ presets (streams/ptz.py, streams/onvif.py, POST /api/cameras/{id}/ptz/preset).

The sim head is checked by frames: at a preset the rendered frame is its crop window,
zoomed. ONVIF is checked against a small SOAP endpoint on loopback that parses each
envelope, recomputes the WS-Security password digest and answers as a camera would: it
covers what this client sends and how it reads answers and faults, not any real camera's
quirks (HTTP digest auth, clock skew, vendor preset naming).
"""

from __future__ import annotations

import base64
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from command_center.config import CameraConfig, parse_config
from dispatch.city import City
from scenes import SceneRenderer
from streams.onvif import NS, PASSWORD_DIGEST, OnvifPtz, password_digest
from streams.ptz import SIM_PTZ, PtzConfig, PtzError, SimPtz, UnknownPreset, create_ptz
from streams.registry import create_source
from tests.helpers import build_runtime, free_port, serve_app

STILL = "sim://street?seed=3&density=0&noise=0&fps=20"  # no traffic, no noise: frames differ only by the head


def zoom(image: np.ndarray, window: tuple[float, float, float, float]) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (round(window[0] * w), round(window[1] * h), round(window[2] * w), round(window[3] * h))
    return cv2.resize(image[y1:y2, x1:x2], (w, h), interpolation=cv2.INTER_LINEAR)


def differs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


# the simulated head


def test_sim_head_zooms_into_its_window_and_truth_follows() -> None:
    image, _ = SceneRenderer(3, kind="street", density=0.0).render(1.0)
    truth = [("person", (100.0, 120.0, 140.0, 220.0)), ("vehicle", (400.0, 200.0, 600.0, 300.0))]
    head = SimPtz()
    assert head.presets() == ["wide", "p1"] and head.current == "wide"
    same, same_truth = head.view(image, truth)
    assert same is image and same_truth == truth  # home: untouched
    head.goto_preset("p1")  # the left half, middle, at 2×
    zoomed, seen = head.view(image, truth)
    assert zoomed.shape == image.shape
    assert np.array_equal(zoomed, zoom(image, (0.0, 0.25, 0.5, 0.75)))
    # The person (left) doubles in size about the window's corner (0, 90); the vehicle
    # (right half) is out of the window.
    assert seen == [("person", (200.0, 60.0, 280.0, 260.0))]
    with pytest.raises(UnknownPreset) as refused:
        head.goto_preset("p9")
    assert refused.value.known == ["wide", "p1"]


def test_sim_source_renders_through_its_cameras_head() -> None:
    cam = CameraConfig.model_validate(
        {"id": "ptz-sim-1", "url": STILL, "location": {"lon": 113.3, "lat": 23.1},
         "ptz": {"kind": "sim", "presets": {"home": [0, 0, 1, 1], "gate": [0.5, 0.5, 1, 1]}}}
    )  # fmt: skip
    head = create_ptz(cam.id, cam.ptz)  # type: ignore[arg-type]
    assert SIM_PTZ.get(cam.id) is head and head.presets() == ["home", "gate"]
    source = create_source(cam)
    source.open()
    try:
        wide = source.read().image
        head.goto_preset("gate")
        at_gate = source.read().image
    finally:
        source.close()
        SIM_PTZ.remove(cam.id)
    assert differs(at_gate, zoom(wide, (0.5, 0.5, 1.0, 1.0))) < 1.0  # the same street, zoomed
    assert differs(at_gate, wide) > 10.0


def test_ptz_config_is_checked() -> None:
    with pytest.raises(ValueError, match="needs url"):
        PtzConfig(kind="onvif")
    with pytest.raises(ValueError, match="x1 < x2"):
        PtzConfig(kind="sim", presets={"bad": (0.5, 0, 0.4, 1)})
    with pytest.raises(ValueError, match="presets are for kind sim"):
        PtzConfig(kind="onvif", url="http://cam/onvif/ptz", presets={"a": (0, 0, 1, 1)})
    with pytest.raises(ValueError, match="unknown PTZ kind"):
        create_ptz("c", PtzConfig(kind="pelco"))


# ONVIF against a loopback SOAP peer


class OnvifPeer:
    """A camera's PTZ and media services on loopback: checks the envelope and the digest."""

    def __init__(self, user: str = "operator", password: str = "s3cret") -> None:
        self.user, self.password = user, password
        self.presets = [("1", "Home"), ("2", "Gate"), ("3", "")]  # token, name (the last unnamed)
        self.calls: list[dict[str, str]] = []
        self.nonces: set[str] = set()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                status, reply = peer.answer(self.headers.get("Content-Type", ""), raw)
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/onvif/ptz_service"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, content_type: str, raw: bytes) -> tuple[int, bytes]:
        root = ET.fromstring(raw)
        assert root.tag == f"{{{NS['s']}}}Envelope", "not a SOAP 1.2 envelope"
        assert content_type.startswith("application/soap+xml")
        token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
        if not self._authorized(token):
            return 400, _fault("ter:NotAuthorized", "Sender not Authorized")
        op = next(iter(root.find("s:Body", NS)))  # type: ignore[arg-type]
        name = op.tag.split("}")[1]
        assert f'action="{op.tag[1:].split("}")[0]}/{name}"' in content_type, content_type
        call = {"op": name, **{child.tag.split("}")[1]: child.text or "" for child in op}}
        self.calls.append(call)
        if name == "GetProfiles":
            return 200, _reply(f'<trt:GetProfilesResponse xmlns:trt="{NS["trt"]}"><trt:Profiles token="prof0"/>'
                               '<trt:Profiles token="prof1"/></trt:GetProfilesResponse>')  # fmt: skip
        if call.get("ProfileToken") != "prof0":
            return 400, _fault("ter:InvalidArgVal", "No such profile")
        if name == "GetPresets":
            items = "".join(
                f'<tptz:Preset token="{tok}">' + (f"<tt:Name>{label}</tt:Name>" if label else "") + "</tptz:Preset>"
                for tok, label in self.presets
            )
            return 200, _reply(f'<tptz:GetPresetsResponse xmlns:tptz="{NS["tptz"]}" xmlns:tt="{NS["tt"]}">{items}</tptz:GetPresetsResponse>')
        if name == "GotoPreset" and call["PresetToken"] in {tok for tok, _ in self.presets}:
            return 200, _reply(f'<tptz:GotoPresetResponse xmlns:tptz="{NS["tptz"]}"/>')
        return 400, _fault("ter:InvalidArgVal", "No such preset")

    def _authorized(self, token: ET.Element | None) -> bool:
        if token is None:
            return False
        password = token.find("wsse:Password", NS)
        nonce, created = token.findtext("wsse:Nonce", namespaces=NS), token.findtext("wsu:Created", namespaces=NS)
        if password is None or password.get("Type") != PASSWORD_DIGEST or not nonce or not created:
            return False
        when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        fresh = abs((datetime.now(UTC) - when).total_seconds()) < 300 and nonce not in self.nonces
        self.nonces.add(nonce)
        expected = password_digest(base64.b64decode(nonce), created, self.password)
        return fresh and token.findtext("wsse:Username", namespaces=NS) == self.user and password.text == expected

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _reply(body: str) -> bytes:
    return f'<?xml version="1.0"?><s:Envelope xmlns:s="{NS["s"]}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


def _fault(code: str, reason: str) -> bytes:
    return _reply(
        '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:ter="http://www.onvif.org/ver10/error">'
        f'{code}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault>'
    )


@pytest.fixture
def peer() -> Iterator[OnvifPeer]:
    running = OnvifPeer()
    yield running
    running.close()


def test_onvif_lists_presets_and_goes_to_one_by_name(peer: OnvifPeer) -> None:
    ptz = create_ptz("onvif-1", PtzConfig(kind="onvif", url=peer.url, user="operator", password="s3cret"))
    assert isinstance(ptz, OnvifPtz)
    assert ptz.presets() == ["Home", "Gate", "3"]  # an unnamed preset goes by its token
    ptz.goto_preset("Gate")
    assert peer.calls[0] == {"op": "GetProfiles"}  # no profile configured: the first one
    assert peer.calls[-1] == {"op": "GotoPreset", "ProfileToken": "prof0", "PresetToken": "2"}
    assert len(peer.nonces) == len(peer.calls) == 4  # a fresh nonce on every request
    with pytest.raises(UnknownPreset) as refused:
        ptz.goto_preset("Roof")
    assert refused.value.known == ["Home", "Gate", "3"]


def test_onvif_wrong_password_and_unreachable_camera_are_ptz_errors(peer: OnvifPeer) -> None:
    wrong = OnvifPtz(peer.url, "operator", "guess", profile="prof0")
    with pytest.raises(PtzError, match="GetPresets refused .*Sender not Authorized"):
        wrong.goto_preset("Home")
    assert peer.calls == []  # refused before any operation ran
    gone = OnvifPtz(f"http://127.0.0.1:{free_port()}/onvif/ptz_service", "operator", "s3cret", profile="prof0", timeout_s=2)
    with pytest.raises(PtzError, match="ConnectError"):
        gone.presets()


# the API


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def test_officers_send_a_camera_to_a_preset(tmp_path: Path, small_city: City, peer: OnvifPeer) -> None:
    grid = small_city.grids[0]
    where = {"lon": grid.lon, "lat": grid.lat}
    onvif = {"kind": "onvif", "url": peer.url, "user": "operator"}
    config = parse_config({
        "server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}",
        "cameras": [{"id": "ptz-cam", "url": STILL, "location": where, "ptz": {"kind": "sim"}},
                    {"id": "fixed-cam", "url": STILL, "location": where},
                    {"id": "onvif-cam", "url": STILL, "location": where, "ptz": {**onvif, "password": "s3cret"}},
                    {"id": "onvif-locked", "url": STILL, "location": where, "ptz": {**onvif, "password": "guess"}}],
    })  # fmt: skip
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        officer = server.headers(role="officer")
        listed = http.get("/api/cameras/ptz-cam/ptz", headers=officer)
        assert listed.status_code == 200 and listed.json() == {"camera": "ptz-cam", "kind": "sim", "presets": ["wide", "p1"]}
        runner = rt.cameras.runners["ptz-cam"]
        wide = wait_for(lambda: runner.latest, 10, "a first frame")
        moved = http.post("/api/cameras/ptz-cam/ptz/preset", json={"preset": "p1"}, headers=officer)
        assert moved.status_code == 200 and moved.json() == {"camera": "ptz-cam", "preset": "p1"}
        # The running sim source renders through the head from then on: a later frame shows p1's
        # view. Waited for, not taken as the second frame after: frames already on their way
        # through the pipeline when the preset landed still show the wide view (CI, under load).
        p1 = zoom(wide.image, (0.0, 0.25, 0.5, 0.75))
        wait_for(lambda: (f := runner.latest) is not None and f.index > wide.index and differs(f.image, p1) < 1.0,
                 10, "a frame through the head at p1")  # fmt: skip
        audited = rt.store.list_audit(limit=20)[0]
        assert any(r["action"] == "camera.ptz" and r["target"] == "ptz-cam" and r["actor"] == "officer" for r in audited)

        def post(cam: str, body: object, **who: str) -> httpx.Response:
            return http.post(f"/api/cameras/{cam}/ptz/preset", json=body, headers=server.headers(**who))

        unknown = post("ptz-cam", {"preset": "roof"}, role="officer")
        assert unknown.status_code == 422 and unknown.json()["detail"] == {"preset": "roof", "known": ["wide", "p1"]}
        assert post("ptz-cam", {"preset": ""}, role="officer").status_code == 400
        assert post("ptz-cam", {"preset": 3}, role="officer").status_code == 400
        assert post("fixed-cam", {"preset": "wide"}, role="officer").json()["error"] == "camera has no PTZ"
        assert post("nowhere", {"preset": "wide"}, role="admin").status_code == 404
        assert post("ptz-cam", {"preset": "wide"}, role="emergency").status_code == 403
        assert post("ptz-cam", {"preset": "wide"}, role="worker", worker_id="w1").status_code == 403
        assert post("ptz-cam", {"preset": "wide"}, role="admin").status_code == 200
        # ONVIF: the camera is asked (the loopback peer above); its refusal is a 502 with its reason.
        assert http.get("/api/cameras/onvif-cam/ptz", headers=officer).json()["presets"] == ["Home", "Gate", "3"]
        assert post("onvif-cam", {"preset": "Gate"}, role="officer").status_code == 200
        assert peer.calls[-1] == {"op": "GotoPreset", "ProfileToken": "prof0", "PresetToken": "2"}
        locked = post("onvif-locked", {"preset": "Gate"}, role="officer")
        assert locked.status_code == 502 and "Sender not Authorized" in locked.json()["detail"]


def test_a_verification_check_sends_a_ptz_camera_home_first(tmp_path: Path) -> None:
    """A camera moved to another preset since its incident goes back to its `home` (the view
    its zones are drawn for) before the check looks; one that cannot get there is not checked."""
    from vision.verify import CheckRequest

    config = parse_config(
        {"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}",
         "cameras": [{"id": "ptz-home", "url": STILL, "location": {"lon": 113.3, "lat": 23.1},
                      "ptz": {"kind": "sim", "presets": {"wide": [0, 0, 1, 1], "gate": [0.5, 0.5, 1, 1]}, "home": "wide"}}]}
    )  # fmt: skip
    rt = build_runtime(config)
    try:
        head = SIM_PTZ.get("ptz-home")
        assert isinstance(head, SimPtz)
        rt.cameras.goto_preset("ptz-home", "gate")
        pipeline = rt.cameras.pipelines["ptz-home"]
        check = CheckRequest(id="V1", camera_id="ptz-home", region=(0, 0, 10, 10), labels=frozenset({"stall"}), preset="wide")
        rt.camera_checks._move_then_check(pipeline, check)
        assert head.current == "wide" and "V1" in pipeline.checks
        lost = CheckRequest(id="V2", camera_id="ptz-home", region=(0, 0, 10, 10), labels=frozenset({"stall"}), preset="nowhere")
        rt.camera_checks._move_then_check(pipeline, lost)
        assert "V2" not in pipeline.checks and head.current == "wide"
    finally:
        SIM_PTZ.remove("ptz-home")

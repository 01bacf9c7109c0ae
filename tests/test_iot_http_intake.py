"""POST /api/iot/readings, the HTTP intake for gateways without MQTT, on a real server: 503
until a handler is set; a gateway:/device: publish key names the topic the body is handed
under; a missing, unknown or revoked key is 401, a camera's key 403; the handler's
ValueError is a 400 with its reason, any other failure a 503."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from command_center.api.iot_intake import set_handler
from command_center.auth.publish_keys import PublishKeys
from command_center.config import parse_config
from dispatch.city import City
from tests.helpers import ServerThread, serve_app

URL = "/api/iot/readings"
READING = {"ts": "2026-11-01T08:00:00+08:00", "readings": {"smoke": 0.12, "temp_c": 41.5}}


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []

    async def __call__(self, topic: str, payload: bytes) -> None:
        data = json.loads(payload)  # a ValueError: the caller's 400
        if isinstance(data, dict) and data.get("boom"):
            raise RuntimeError("the store is down")
        self.got.append((topic, payload))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("iot-http")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    with serve_app(config, city=small_city) as srv:
        yield srv


def key_for(server: ServerThread, stream: str) -> str:
    keys = PublishKeys(server.app.state.store)  # type: ignore[attr-defined]
    return keys.create(f"test {stream}", stream, "", "admin")[1]


def post(
    server: ServerThread, token: str | None, body: bytes, media: str = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": media} | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx.post(server.url + URL, content=body, headers=headers)


def test_without_a_handler_the_route_says_it_is_not_configured(server: ServerThread) -> None:
    set_handler(server.app, None)  # type: ignore[arg-type]
    res = post(server, key_for(server, "gateway:gw-01"), json.dumps(READING).encode())
    assert res.status_code == 503, res.text
    assert res.json()["error"] == "IoT intake not configured"


def test_a_gateway_key_and_a_device_key_hand_the_body_over_under_their_topics(server: ServerThread) -> None:
    handler = Recorder()
    set_handler(server.app, handler)  # type: ignore[arg-type]
    batch = json.dumps(
        [{"device_id": "smoke-0001", **READING}, {"device_id": "gas-0002", **READING}]
    ).encode()
    res = post(server, key_for(server, "gateway:gw-01"), batch)
    assert res.status_code == 200, res.text
    assert res.json() == {"topic": "cc/gateways/gw-01/readings"}
    senml = json.dumps([{"bn": "urn:dev:smoke-0001:", "n": "smoke", "v": 0.2}]).encode()
    res = post(server, key_for(server, "device:smoke-0001"), senml, "application/senml+json; charset=utf-8")
    assert res.status_code == 200, res.text
    assert handler.got == [("cc/gateways/gw-01/readings", batch), ("cc/devices/smoke-0001/readings", senml)]


def test_credentials_are_checked_before_anything_is_handed_over(server: ServerThread) -> None:
    handler = Recorder()
    set_handler(server.app, handler)  # type: ignore[arg-type]
    body = json.dumps(READING).encode()
    assert post(server, None, body).status_code == 401
    assert post(server, "cck_0123456789ab_not-a-real-secret", body).status_code == 401
    assert (
        post(server, server.headers()["Authorization"].split(" ", 1)[1], body).status_code == 401
    )  # a user's token
    camera_key = post(server, key_for(server, "drone-01"), body)
    assert camera_key.status_code == 403 and camera_key.json()["error"] == "not an IoT key"
    token = key_for(server, "gateway:gw-02")
    keys = PublishKeys(server.app.state.store)  # type: ignore[attr-defined]
    keys.revoke(token.split("_")[1])
    assert post(server, token, body).status_code == 401
    assert handler.got == []


def test_bad_readings_are_a_400_with_the_reason_and_a_failing_service_a_503(server: ServerThread) -> None:
    handler = Recorder()
    set_handler(server.app, handler)  # type: ignore[arg-type]
    token = key_for(server, "gateway:gw-03")
    bad = post(server, token, b"{not json")
    assert (
        bad.status_code == 400
        and bad.json()["error"] == "bad readings"
        and "Expecting" in bad.json()["detail"]
    )
    assert post(server, token, b"  ").status_code == 400
    assert post(server, token, b"x=1", "application/x-www-form-urlencoded").status_code == 415
    failed = post(server, token, json.dumps({"boom": True}).encode())
    assert failed.status_code == 503 and failed.json()["error"] == "readings not taken"
    assert handler.got == []


def test_an_admin_makes_keys_for_gateways_and_registered_devices_only(server: ServerThread) -> None:
    from command_center.registry.device_model import Device
    from command_center.store.device_records import device_store

    device_store(server.app.state.store).add(  # type: ignore[attr-defined]
        Device.model_validate({"id": "sm-77", "name": "烟感 77", "kind": "smoke", "lon": 113.3, "lat": 23.1,
                               "grid_code": "440106001001001"}), "admin")  # fmt: skip
    with httpx.Client(
        base_url=server.url, timeout=10, headers=server.headers(user="root", role="admin")
    ) as admin:
        made = admin.post("/api/publish-keys", json={"name": "网关 9", "stream": "gateway:gw-9"})
        assert made.status_code == 201, made.text
        assert (
            admin.post("/api/publish-keys", json={"name": "烟感", "stream": "device:sm-77"}).status_code
            == 201
        )
        refused = admin.post("/api/publish-keys", json={"name": "无此设备", "stream": "device:nope"})
        assert refused.status_code == 400 and "device:" in refused.json()["detail"]
    set_handler(server.app, Recorder())  # type: ignore[arg-type]
    assert post(server, made.json()["token"], json.dumps(READING).encode()).status_code == 200

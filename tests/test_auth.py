"""Sign-in, tokens, roles and jurisdictions, and the audit log, over a real server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from command_center.auth import Principal
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.events import Event
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app, token_for

CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}  # argon2id still, at test speed


def make_runtime(data: Path, city: City, **auth: object) -> Runtime:
    config = parse_config(
        {"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "auth": {**CHEAP_HASH, **auth}}
    )
    return build_runtime(config, city=city)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    rt = make_runtime(tmp_path_factory.mktemp("auth"), small_city, login_burst=100, login_per_minute=600)
    worker = small_city.workers[0]
    rt.auth.users.seed(
        [
            Account("boss", "boss-password", "admin"),
            Account("duty", "duty-password", "officer"),
            Account("d103", "d103-password", "officer", "440103"),
            Account(worker.id, "worker-password", "worker", worker_id=worker.id),
        ]
    )
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def anon(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=10) as client:
        yield client


def as_(server: tuple[ServerThread, Runtime], **who: str | None) -> httpx.Client:
    return httpx.Client(base_url=server[0].url, timeout=10, headers=server[0].headers(**who))


def grid_in(city: City, district: str, i: int = 0) -> tuple[float, float]:
    grid = [g for g in city.grids if g.code.startswith(district)][50 + 13 * i]
    return grid.lon, grid.lat


def report(client: httpx.Client, city: City, district: str, i: int) -> dict:
    lon, lat = grid_in(city, district, i)
    created = client.post("/api/cases", json={"matter_code": "0101", "lon": lon, "lat": lat, "source": "citizen"})
    assert created.status_code in (200, 201), created.text
    return created.json()


def test_login_gives_a_token_that_opens_the_api(anon: httpx.Client) -> None:
    assert anon.get("/api/cases").status_code == 401
    res = anon.post("/api/auth/login", json={"username": "d103", "password": "d103-password"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["token_type"] == "Bearer" and body["expires_at"] > time.time() + 3600
    assert body["user"]["role"] == "officer" and body["user"]["jurisdiction"] == "440103"
    me = anon.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"}).json()
    assert me["username"] == "d103" and me["role"] == "officer" and me["jurisdiction"] == "440103"
    # the answer sets the session cookie too (images, the websocket); a ?token= is never read
    assert res.cookies.get("cc_session") == body["token"]
    assert anon.get("/api/cases").status_code == 200  # by the cookie (a GET)
    anon.cookies.clear()
    assert anon.get("/api/cases", params={"token": body["token"]}).status_code == 401


def test_bad_credentials_are_401_and_bad_bodies_400(anon: httpx.Client) -> None:
    wrong = anon.post("/api/auth/login", json={"username": "duty", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid username or password"
    nobody = anon.post("/api/auth/login", json={"username": "ghost", "password": "nope"})
    assert nobody.status_code == 401 and nobody.json() == wrong.json()  # no hint of which names exist
    assert anon.post("/api/auth/login", json={"username": "duty"}).status_code == 400
    assert anon.post("/api/auth/login", json={"username": 7, "password": "x"}).status_code == 400
    assert anon.post("/api/auth/login", content=b"{nope").status_code == 400


def test_login_is_rate_limited_per_address(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, login_burst=3, login_per_minute=1)
    rt.auth.users.seed([Account("duty", "duty-password", "officer")])
    with serve_app(rt) as srv, httpx.Client(base_url=srv.url) as client:
        codes = [client.post("/api/auth/login", json={"username": "duty", "password": "bad"}).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        # now even the right password waits: guessing stays slow
        limited = client.post("/api/auth/login", json={"username": "duty", "password": "duty-password"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert limited.json()["detail"]["retry_after_s"] > 0


def test_tampered_expired_and_foreign_tokens_are_refused(server: tuple[ServerThread, Runtime], anon: httpx.Client) -> None:
    _, rt = server
    token = token_for(rt, role="worker", worker_id="W0000001")
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged = base64.urlsafe_b64encode(json.dumps(claims | {"role": "admin"}).encode()).rstrip(b"=").decode()

    def refused(tok: str) -> str:
        res = anon.get("/api/audit", headers={"Authorization": f"Bearer {tok}"})
        assert res.status_code == 401 and res.headers["www-authenticate"].startswith("Bearer")
        return res.json()["detail"]

    assert refused(f"{head}.{forged}.{sig}") == "bad signature"
    assert refused("not-a-token") == "malformed token"
    expired, _ = rt.auth.signer.issue(Principal("boss", "admin"), now=time.time() - rt.auth.config.token_ttl_s - 1)
    assert refused(expired) == "token expired"
    missing = anon.get("/api/incidents")
    assert missing.status_code == 401 and missing.json()["error"] == "sign in required"


def test_public_endpoints_need_no_token(anon: httpx.Client) -> None:
    for path in ("/api/health", "/open311/v2/services.json", "/wall", "/terminal", "/citizen", "/ui/common/live.js"):
        assert anon.get(path).status_code == 200, path
    assert anon.get("/metrics").status_code == 401  # camera ids are in it: admins only unless auth.public_metrics
    # a stale token does not spoil a public page
    assert anon.get("/wall", headers={"Authorization": "Bearer stale"}).status_code == 200


def test_roles_are_enforced(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    worker = small_city.workers[0]
    with as_(server, role="worker", worker_id=worker.id) as w, as_(server, role="officer") as officer:
        for path in ("/api/incidents", "/api/cameras", "/api/kpi", "/api/audit", "/api/hub", f"/api/grids/{worker.grid_code}"):
            res = w.get(path)
            assert res.status_code == 403 and res.json()["detail"]["role"] == "worker", path
        assert w.get("/api/workers/W0000002").status_code == 403  # someone else's record
        assert w.get(f"/api/workers/{worker.id}").status_code == 200
        assert w.get("/api/cases", params={"assignee": "W0000002"}).status_code == 403
        assert officer.get("/api/audit").status_code == 403
        assert officer.post("/api/users", json={}).status_code == 403
        assert officer.put("/api/grids", content=b"{}").status_code == 403


def test_a_worker_sees_and_acts_only_on_their_own_cases(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    with as_(server) as admin:
        case = report(admin, small_city, "440104", 0)
        other = report(admin, small_city, "440104", 1)
    mine, theirs = case["assignee"], other["assignee"]
    assert mine and theirs and mine != theirs
    with as_(server, role="worker", worker_id=mine) as w:
        listed = w.get("/api/cases").json()["items"]
        assert {c["assignee"] for c in listed} == {mine} and case["id"] in {c["id"] for c in listed}
        assert w.get(f"/api/cases/{other['id']}").status_code == 404
        assert w.post(f"/api/cases/{other['id']}/accept", json={}).status_code == 404
        assert w.post(f"/api/cases/{case['id']}/accept", json={"actor": theirs}).status_code == 403
        accepted = w.post(f"/api/cases/{case['id']}/accept", json={})
        assert accepted.status_code == 200 and accepted.json()["timeline"][-1]["actor"] == mine
        assert w.post(f"/api/cases/{case['id']}/close", json={}).status_code == 403  # checks are for officers


def test_jurisdiction_filters_cases_incidents_and_kpis(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    with as_(server) as admin:
        a = report(admin, small_city, "440103", 2)
        b = report(admin, small_city, "440104", 2)
        everything = {c["id"] for c in admin.get("/api/cases", params={"limit": 1000}).json()["items"]}
    assert {a["id"], b["id"]} <= everything
    with as_(server, role="officer", user="d103", jurisdiction="440103") as d103:
        items = d103.get("/api/cases", params={"limit": 1000}).json()["items"]
        assert items and all(c["grid_code"].startswith("440103") for c in items)
        assert a["id"] in {c["id"] for c in items} and b["id"] not in {c["id"] for c in items}
        assert d103.get(f"/api/cases/{b['id']}").status_code == 404
        assert d103.get(f"/api/cases/{a['id']}").status_code == 200
        assert d103.get("/api/cases", params={"grid": "440104"}).status_code == 403
        assert d103.get("/api/cases", params={"grid": "440103001"}).status_code == 200
        kpi = d103.get("/api/kpi").json()["items"]
        assert kpi and all(row["key"].startswith("440103") for row in kpi), kpi
        assert d103.get("/api/grids/440104000000000").status_code == 403
        lon, lat = grid_in(small_city, "440104", 3)
        outside = d103.post("/api/cases", json={"matter_code": "0101", "lon": lon, "lat": lat, "source": "citizen"})
        assert outside.status_code == 403


def test_audit_log_and_hashed_passwords(server: tuple[ServerThread, Runtime], anon: httpx.Client, small_city: City) -> None:
    srv, rt = server
    assert anon.post("/api/auth/login", json={"username": "duty", "password": "wrong"}).status_code == 401
    token = anon.post("/api/auth/login", json={"username": "duty", "password": "duty-password"}).json()["token"]
    duty = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=srv.url, headers=duty) as client:
        case = report(client, small_city, "440103", 4)
    assert anon.post(f"/api/cases/{case['id']}/escalate", json={"note": "urgent"}, headers=duty).status_code == 200
    with as_(server, user="boss") as admin:
        rows = admin.get("/api/audit", params={"actor": "duty"}).json()["items"]
        failed = admin.get("/api/audit", params={"action": "login.failed"}).json()["items"]
    actions = [r["action"] for r in rows]
    assert actions[:3] == ["case.escalate", "case.report", "login"], actions  # newest first
    assert all(r["role"] == "officer" and r["ip"] == "127.0.0.1" and r["ts"] for r in rows[:3])
    assert rows[0]["target"] == case["id"]
    assert failed and failed[0]["actor"] == "duty"
    stored = rt.store.get_user("duty")
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    assert "duty-password" not in stored["password_hash"]


def test_admin_creates_accounts(server: tuple[ServerThread, Runtime], anon: httpx.Client, small_city: City) -> None:
    worker = small_city.workers[5]
    with as_(server, user="boss") as admin:
        made = admin.post(
            "/api/users",
            json={"username": "w5", "password": "long-enough", "role": "worker", "worker_id": worker.id},
        )
        assert made.status_code == 201 and "password_hash" not in made.json()
        assert admin.post("/api/users", json={"username": "w5", "password": "long-enough", "role": "worker",
                                              "worker_id": worker.id}).status_code == 409  # fmt: skip
        bad = admin.post("/api/users", json={"username": "x", "password": "long-enough", "role": "mayor"})
        assert bad.status_code == 400 and "role" in bad.json()["detail"]
        assert admin.post("/api/users", json={"username": "y", "password": "short", "role": "officer"}).status_code == 400
        null = admin.post("/api/users", json={"username": "z", "password": "long-enough", "role": "officer", "jurisdiction": None})
        assert null.status_code == 400 and "jurisdiction" in null.json()["error"]
        assert any(u["username"] == "w5" for u in admin.get("/api/users").json()["items"])
    login = anon.post("/api/auth/login", json={"username": "w5", "password": "long-enough"}).json()
    assert login["user"]["role"] == "worker" and login["user"]["worker_id"] == worker.id


def test_websocket_needs_a_token_and_is_scoped(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = server
    forged = {"Authorization": "Bearer forged.token.here"}
    for headers, reason in (({}, "sign in required"), (forged, "invalid token")):
        with connect(srv.ws_url, additional_headers=headers) as refused:
            said = json.loads(refused.recv(timeout=5))
            assert said["type"] == "error" and said["status"] == 401 and said["error"] == reason
            with pytest.raises(ConnectionClosed) as closed:
                refused.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    a_grid = next(g for g in small_city.grids if g.code.startswith("440103"))
    b_grid = next(g for g in small_city.grids if g.code.startswith("440104"))
    worker = small_city.workers[0]
    with (
        srv.ws_connect(role="officer", user="d103", jurisdiction="440103") as district,
        srv.ws_connect(role="officer") as city,
        srv.ws_connect(role="worker", worker_id=worker.id) as phone,
    ):
        district.send(json.dumps({"op": "subscribe", "channels": ["incidents", "cameras"]}))
        city.send(json.dumps({"op": "subscribe", "channels": ["incidents", "cameras"]}))
        phone.send(json.dumps({"op": "subscribe", "channels": ["incidents", f"tasks:{worker.id}"]}))
        for conn in (district, city):
            assert next_type(conn, "subscribed")["channels"] == ["incidents", "cameras"]
        refusal = next_type(phone, "error")
        assert refusal["channels"] == ["incidents"]
        assert next_type(phone, "subscribed")["channels"] == [f"tasks:{worker.id}"]

        events = [
            Event("incidents", "incident.created", {"id": "in-a", "grid_code": a_grid.code}),
            Event("incidents", "incident.created", {"id": "in-b", "grid_code": b_grid.code}),
            Event("incidents", "incident.created", {"id": "in-nowhere", "grid_code": None}),
            Event("cameras", "camera.status", {"id": "cam-b", "location": {"lon": b_grid.lon, "lat": b_grid.lat}}),
            Event("cameras", "camera.status", {"id": "cam-a", "location": {"lon": a_grid.lon, "lat": a_grid.lat}}),
        ]
        for event in events:
            srv.run(rt.bus.publish(event))
        got_city = [channel_msg(city)["data"]["id"] for _ in events]
        assert got_city == ["in-a", "in-b", "in-nowhere", "cam-b", "cam-a"]
        got_district = [channel_msg(district)["data"]["id"] for _ in range(2)]
        assert got_district == ["in-a", "cam-a"]
        with pytest.raises(TimeoutError):
            channel_msg(district, timeout=0.5)
        with pytest.raises(TimeoutError):
            channel_msg(phone, timeout=0.2)


def next_type(conn, type_: str, timeout: float = 5.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("type") == type_:
            return msg


def channel_msg(conn, timeout: float = 5.0) -> dict:  # noqa: ANN001
    """The next channel message, skipping heartbeats and live camera status from the runtime."""
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if "channel" in msg:
            return msg


def test_start_up_accounts(tmp_path: Path, small_city: City) -> None:
    from command_center.auth.seed import seed_users

    fresh = make_runtime(tmp_path / "serve", small_city)
    lines = seed_users(fresh.auth.users, fresh.city, fresh.config.cameras, demo=False)
    admin_password = next(line for line in lines if line.startswith("admin/")).split()[0].split("/", 1)[1]
    assert len(admin_password) >= 12 and admin_password != "admin"
    assert fresh.auth.users.authenticate("admin", admin_password) is not None
    assert seed_users(fresh.auth.users, fresh.city, fresh.config.cameras, demo=False) == []  # only on an empty user table

    demo = make_runtime(tmp_path / "demo", small_city)
    lines = seed_users(demo.auth.users, demo.city, demo.config.cameras, demo=True)
    assert any(line.startswith("admin/admin") for line in lines) and any("<worker id>/worker" in line for line in lines)
    district = demo.auth.users.authenticate("district", "district")
    assert district is not None and len(district.jurisdiction) == 6
    worker = small_city.workers[-1]
    signed_in = demo.auth.users.authenticate(worker.id, "worker")
    assert signed_in is not None and signed_in.role == "worker" and signed_in.worker_id == worker.id
    assert demo.store.list_users(limit=1)[1] == 4 + len(small_city.workers)

"""Sessions and tokens (../shared/reviews/security.md findings 1, 6, 7, 13, 14, 15, 20, 21), on real servers.

Each test reproduces the attack or fault of its finding against a real uvicorn server (and,
for the pages, a real Chromium) and asserts the safe answer.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from command_center.auth import Principal
from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.hub_feed import TOPICS
from command_center.hub_parts import TOPICS as HUB_TOPICS
from command_center.runtime import Runtime
from command_center.store import CaseQuery
from dispatch.city import City
from tests.helpers import TEST_HASH, TEST_PASSWORD, ServerThread, build_runtime, serve_app, token_for
from tests.test_store_postgres import make_case, pg_db, store, store_url  # noqa: F401  # fixtures, both backends

CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}  # argon2id still, at test speed
SECOND_NODE_S = 5.0  # the issue's bound: a revoked token refused, its websocket closed


def make_runtime(data: Path, city: City, server: dict[str, Any] | None = None, **auth: Any) -> Runtime:
    config = parse_config(
        {
            "server": {"data_dir": str(data), **(server or {})},
            "store": f"sqlite:///{data / 'cc.db'}",
            "auth": {**CHEAP_HASH, **auth},
        }
    )
    return build_runtime(config, city=city)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)


def ws_as(server: ServerThread, token: str) -> ClientConnection:
    return connect(server.ws_url, additional_headers=bearer(token))


def messages_until_closed(conn: ClientConnection, timeout: float) -> tuple[int, str, list[dict[str, Any]]]:
    """(close code, reason, what was said first); AssertionError if still open after `timeout`."""
    said: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            raw = conn.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return exc.rcvd.code, exc.rcvd.reason, said
        except TimeoutError:
            raise AssertionError(f"websocket still open after {timeout} s; it said {said}") from None
        said.append(json.loads(raw))


def next_type(conn: ClientConnection, type_: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if isinstance(msg, dict) and msg.get("type") == type_:
            return msg


def seconds_until(check: Any, timeout: float) -> float:
    """How long until check() is true; AssertionError past `timeout`."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - began


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    rt = make_runtime(tmp_path_factory.mktemp("sessions"), small_city, login_burst=100, login_per_minute=600,
                      login_account_burst=100, login_account_per_minute=600, login_all_burst=100)  # fmt: skip
    with serve_app(rt) as srv:
        yield srv, rt


# Finding 6: tokens cannot be revoked; sessions outlive the token.


def test_finding_6_disabled_user_is_refused_on_every_node_and_its_websocket_closed(tmp_path: Path, small_city: City) -> None:
    # Two nodes: separate runtimes, stores and caches over one database file and one secret.
    a_rt, b_rt = make_runtime(tmp_path, small_city), make_runtime(tmp_path, small_city)
    a_rt.auth.users.seed([Account("night", "night-password", "officer")])
    with serve_app(a_rt) as a, serve_app(b_rt) as b, httpx.Client(timeout=10) as http:
        res = http.post(f"{a.url}/api/auth/login", json={"username": "night", "password": "night-password"})
        assert res.status_code == 200, res.text
        token = res.json()["token"]
        for srv in (a, b):
            assert http.get(f"{srv.url}/api/cases", headers=bearer(token)).status_code == 200
        with ws_as(a, token) as ws_a, ws_as(b, token) as ws_b:
            for conn in (ws_a, ws_b):
                conn.send(json.dumps({"op": "subscribe", "channels": ["cases"]}))
                next_type(conn, "subscribed")
            t0 = time.monotonic()
            admin = a.headers(user="chief")
            assert http.post(f"{a.url}/api/users/night/disable", headers=admin).status_code == 200
            refused = http.get(f"{a.url}/api/cases", headers=bearer(token))
            assert refused.status_code == 401 and refused.json()["detail"] == "account disabled"  # at once here

            def refused_on_b() -> bool:
                return http.get(f"{b.url}/api/cases", headers=bearer(token)).status_code == 401

            took = seconds_until(refused_on_b, SECOND_NODE_S)
            print(f"second node refused the disabled user's token after {took:.2f} s")
            for conn in (ws_a, ws_b):
                code, reason, said = messages_until_closed(conn, SECOND_NODE_S - (time.monotonic() - t0) + 1)
                assert code == 4401 and reason == "account disabled", (code, reason)
                assert said[-1] == {"type": "error", "status": 401, "error": "session ended", "detail": "account disabled"}
            assert time.monotonic() - t0 < SECOND_NODE_S + 1
        with http_for(a) as on_a:
            assert login(on_a, "night", "night-password").status_code == 401  # cannot sign in again
            assert on_a.post("/api/users/night/enable", headers=admin).status_code == 200
            assert login(on_a, "night", "night-password").status_code == 200
            assert on_a.get("/api/cases", headers=bearer(token)).json()["detail"] == "token revoked"  # still
        rows = b_rt.store.list_audit(actor="chief")[0]
        assert {"user.disable", "user.enable"} <= {r["action"] for r in rows}


def http_for(server: ServerThread) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def test_finding_6_a_database_edit_revokes_within_seconds(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as srv, http_for(srv) as http:
        token = token_for(rt, role="officer", user="dbedit")
        assert http.get("/api/cases", headers=bearer(token)).status_code == 200
        rt.store.update_user("dbedit", disabled=1)  # no API: only the shared database changes
        took = seconds_until(lambda: http.get("/api/cases", headers=bearer(token)).status_code == 401, SECOND_NODE_S)
        assert took < 2.5, took  # cached for about a second


def test_finding_6_password_and_role_changes_revoke_tokens(node: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = node
    rt.auth.users.seed([Account("clerk", "clerk-password", "officer", "440103")])
    with http_for(srv) as http:
        old = login(http, "clerk", "clerk-password").json()["token"]
        mine = bearer(old)
        assert http.post("/api/auth/password", headers=mine,
                         json={"old_password": "wrong-one", "new_password": "new-clerk-password"}).status_code == 403  # fmt: skip
        short = http.post("/api/auth/password", headers=mine, json={"old_password": "clerk-password", "new_password": "x"})
        assert short.status_code == 400 and "password" in short.json()["detail"]
        changed = http.post("/api/auth/password", headers=mine,
                            json={"old_password": "clerk-password", "new_password": "new-clerk-password"})  # fmt: skip
        assert changed.status_code == 200, changed.text
        new = changed.json()["token"]
        assert http.get("/api/cases", headers=mine).json()["detail"] == "token revoked"
        assert http.get("/api/cases", headers=bearer(new)).status_code == 200
        assert login(http, "clerk", "clerk-password").status_code == 401
        assert login(http, "clerk", "new-clerk-password").status_code == 200

        admin = srv.headers(user="chief")
        bad = http.patch("/api/users/clerk", headers=admin, json={"role": "mayor"})
        assert bad.status_code == 400 and "role" in bad.json()["detail"]
        assert http.patch("/api/users/clerk", headers=admin, json={"colour": "red"}).status_code == 400
        assert http.patch("/api/users/nobody", headers=admin, json={"role": "officer"}).status_code == 404
        assert http.get("/api/users/nobody", headers=admin).status_code == 404
        moved = http.patch("/api/users/clerk", headers=admin, json={"jurisdiction": "440104"})
        assert moved.status_code == 200 and moved.json()["jurisdiction"] == "440104", moved.text
        assert http.get("/api/cases", headers=bearer(new)).json()["detail"] == "token revoked"
        relog = login(http, "clerk", "new-clerk-password").json()
        assert relog["user"]["jurisdiction"] == "440104"
        promoted = http.patch("/api/users/clerk", headers=admin, json={"role": "emergency"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "emergency"
        assert http.get("/api/cases", headers=bearer(relog["token"])).status_code == 401
        assert http.get("/api/users/clerk", headers=admin).json()["role"] == "emergency"

        reset = http.post("/api/users/clerk/reset-password", headers=admin)
        assert reset.status_code == 200
        given = reset.json()["password"]
        assert given and len(given) >= 12 and "password_hash" not in reset.json()["user"]
        assert login(http, "clerk", "new-clerk-password").status_code == 401
        assert login(http, "clerk", given).status_code == 200
        chosen = http.post("/api/users/clerk/reset-password", headers=admin, json={"password": "chosen-password"})
        assert chosen.status_code == 200 and chosen.json()["password"] is None  # not echoed
        assert login(http, "clerk", "chosen-password").status_code == 200

        own = http.post("/api/users/chief/disable", headers=admin)
        assert own.status_code == 400 and "themself" in own.json()["detail"]
        assert http.patch("/api/users/chief", headers=admin, json={"role": "officer"}).status_code == 400
        officer = srv.headers(role="officer", user="plain")
        assert http.post("/api/users/clerk/disable", headers=officer).status_code == 403
        actions = {r["action"] for r in rt.store.list_audit(limit=200)[0]}
        assert {"password.change", "password.change.failed", "user.update", "user.reset_password"} <= actions


def test_finding_6_an_expired_token_closes_its_websocket(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, token_ttl_s=2)
    with serve_app(rt) as srv, ws_as(srv, token_for(rt, role="officer")) as ws:
        t0 = time.monotonic()
        ws.send(json.dumps({"op": "subscribe", "channels": ["incidents"]}))
        code, reason, _ = messages_until_closed(ws, 6)
        assert code == 4401 and reason == "token expired"
        assert time.monotonic() - t0 < 4.5  # 2 s of token, then at most a sweep or two


def test_logout_clears_the_cookie_and_me_sets_it_from_the_header(node: tuple[ServerThread, Runtime]) -> None:
    srv, rt = node
    token = token_for(rt, role="officer", user="cookie-user")
    with http_for(srv) as http:
        me = http.get("/api/auth/me", headers=bearer(token))
        cookie = me.headers["set-cookie"]
        assert me.cookies.get("cc_session") == token
        assert all(part in cookie for part in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=")), cookie
        assert "Secure" not in cookie  # plain http here
        # The cookie signs in reads only: a POST with the cookie alone is not signed in (no CSRF).
        assert http.get("/api/cases").status_code == 200
        assert http.post("/api/cases", json={"matter_code": "0101", "lon": 113.3, "lat": 23.1}).status_code == 401
        out = http.post("/api/auth/logout")
        assert out.status_code == 200 and "cc_session=" in out.headers["set-cookie"]
        assert http.get("/api/cases").status_code == 401


def test_a_websocket_signed_in_by_cookie_must_come_from_this_site(node: tuple[ServerThread, Runtime]) -> None:
    srv, rt = node
    cookie = {"Cookie": f"cc_session={token_for(rt, role='officer', user='cookie-ws')}"}
    with connect(srv.ws_url, additional_headers=cookie | {"Origin": srv.url}) as ws:
        ws.send(json.dumps({"op": "ping"}))
        assert next_type(ws, "pong")
    with connect(srv.ws_url, additional_headers=cookie | {"Origin": "http://evil.example"}) as ws:
        code, _, said = messages_until_closed(ws, 5)
        assert code == 4403 and said[0]["status"] == 403


# Finding 7: unbounded channels and connections.


def test_finding_7_a_huge_subscribe_is_refused_and_creates_no_channels(node: tuple[ServerThread, Runtime]) -> None:
    srv, rt = node
    before = len(rt.hub.channels)
    with srv.ws_connect(role="officer", user="flooder") as ws:
        million = json.dumps({"op": "subscribe", "channels": [f"c{i}" for i in range(1_000_000)]})
        assert len(million) > 10_000_000
        ws.send(million)
        assert next_type(ws, "error", 30)["error"] == "message too large"
        many = [f"tasks:W{i:07d}" for i in range(65)]
        ws.send(json.dumps({"op": "subscribe", "channels": many}))
        assert next_type(ws, "error")["error"] == "too many channels"
        ws.send(json.dumps({"op": "subscribe", "channels": ["no-such-channel", "x" * 500, "cases"]}))
        unknown = next_type(ws, "error")
        assert unknown["error"] == "unknown channels" and unknown["refused"] == 2
        assert next_type(ws, "subscribed")["channels"] == ["cases"]
        ws.send(json.dumps({"op": "subscribe", "channels": many[:63]}))
        assert len(next_type(ws, "subscribed")["channels"]) == 63
        ws.send(json.dumps({"op": "subscribe", "channels": many[63:]}))  # 64 + 2 > 64 in all
        assert next_type(ws, "error")["error"] == "too many channels"
        assert not any(name in rt.hub.channels for name in ("no-such-channel", "c0", "c999999", many[64]))
        assert len(rt.hub.channels) <= before + 64
        ws.send(json.dumps({"op": "ping"}))
        assert next_type(ws, "pong")  # refused, not disconnected
    # Channels with no subscriber and nothing said are freed with the connection.
    seconds_until(lambda: not any(name in rt.hub.channels for name in many), 5)


def test_finding_7_a_user_has_a_websocket_cap(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, max_sessions_per_user={"ws": 3})
    with serve_app(rt) as srv, contextlib.ExitStack() as stack:
        token = token_for(rt, role="officer", user="tabs")
        held = [stack.enter_context(ws_as(srv, token)) for _ in range(3)]
        for conn in held:
            conn.send(json.dumps({"op": "ping"}))
            next_type(conn, "pong")
        with ws_as(srv, token) as fourth:
            code, _, said = messages_until_closed(fourth, 5)
            assert code == 4429 and said[0]["detail"] == {"kind": "ws", "limit": 3}
        with srv.ws_connect(role="officer", user="someone-else") as other:  # the cap is per user
            other.send(json.dumps({"op": "ping"}))
            next_type(other, "pong")
        held[0].close()
        seconds_until(lambda: rt.auth.sessions.live("ws") <= 2, 5)
        with ws_as(srv, token) as again:
            again.send(json.dumps({"op": "ping"}))
            next_type(again, "pong")


def test_hub_knows_the_runtime_topics() -> None:
    assert frozenset(TOPICS) == HUB_TOPICS


# Finding 13: login throttling per address only, behind proxies, and argon2 on the shared pool.


def test_finding_13_an_account_is_locked_across_rotating_addresses(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, {"trusted_proxies": ["127.0.0.1"]},
                      login_account_burst=3, login_account_per_minute=1)  # fmt: skip
    rt.auth.users.seed([Account("target", "target-password", "officer")])
    with serve_app(rt) as srv, http_for(srv) as http:
        codes = [login(http, "target", f"guess-{i}", **{"X-Forwarded-For": f"2001:db8::{i}"}).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429], codes
        locked = login(http, "target", "target-password", **{"X-Forwarded-For": "2001:db8::99"})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        # Other accounts from those addresses are not locked.
        assert login(http, "someone", "x", **{"X-Forwarded-For": "2001:db8::1"}).status_code == 401


def test_finding_13_successful_logins_are_not_counted(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, login_burst=2, login_per_minute=1)
    rt.auth.users.seed([Account(f"hall{i}", "hall-password", "officer") for i in range(6)])
    with serve_app(rt) as srv, http_for(srv) as http:
        # A whole hall signing in from one address (a proxy, a NAT) uses up nothing.
        assert [login(http, f"hall{i}", "hall-password").status_code for i in range(6)] == [200] * 6
        assert [login(http, "hall0", "wrong").status_code for _ in range(3)] == [401, 401, 429]


def test_finding_13_x_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path, small_city: City) -> None:
    for trusted, expect in (([], ["127.0.0.1"] * 2), (["127.0.0.0/8"], ["198.51.100.7", "198.51.100.8"])):
        rt = make_runtime(tmp_path / str(len(trusted)), small_city, {"trusted_proxies": trusted}, login_burst=2,
                          login_per_minute=1)  # fmt: skip
        with serve_app(rt) as srv, http_for(srv) as http:
            # A client behind the proxy adds its own (forged) hop on the left: the proxy's is the last.
            codes = [login(http, f"u{i}", "x", **{"X-Forwarded-For": f"10.9.9.9, 198.51.100.{7 + i}"}).status_code
                     for i in range(3)]  # fmt: skip
            ips = [r["ip"] for r in rt.store.list_audit(action="login.failed")[0]][::-1]
        if trusted:
            assert codes == [401, 401, 401] and ips[:2] == expect, (codes, ips)  # each address its own bucket
        else:
            assert codes == [401, 401, 429] and ips == expect, (codes, ips)  # one client, whatever it claims


def test_finding_13_failed_sign_ins_of_everyone_are_bounded_too(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, {"trusted_proxies": ["127.0.0.1"]}, login_all_burst=4, login_all_per_minute=1)
    rt.auth.users.seed([Account("steady", "steady-password", "officer")])
    with serve_app(rt) as srv, http_for(srv) as http:
        # ever new addresses for ever new names: the per-address and per-account buckets never fill
        codes = [login(http, f"name{i}", "x", **{"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(6)]
        assert codes == [401] * 4 + [429] * 2, codes
        assert login(http, "steady", "steady-password", **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_finding_13_argon2_has_its_own_bounded_pool(tmp_path: Path, small_city: City) -> None:
    rt = make_runtime(tmp_path, small_city, hash_time_cost=3, hash_memory_kib=65536, hash_threads=1, hash_queue=1,
                      login_burst=100, login_per_minute=600)  # fmt: skip
    with serve_app(rt) as srv:
        token = token_for(rt, role="officer", user="reader")

        def attempt(i: int) -> tuple[int, float]:
            with http_for(srv) as http:
                t0 = time.monotonic()
                return login(http, f"nobody{i}", "x").status_code, time.monotonic() - t0

        with ThreadPoolExecutor(12) as pool, http_for(srv) as reader:
            flood = [pool.submit(attempt, i) for i in range(12)]
            time.sleep(0.05)
            t0 = time.monotonic()
            assert reader.get("/api/cases", headers=bearer(token)).status_code == 200
            read_s = time.monotonic() - t0
            results = [f.result() for f in flood]
        codes = [code for code, _ in results]
        assert 503 in codes and 401 in codes, codes
        assert max(took for code, took in results if code == 503) < 1.0  # answered at once, not queued
        assert read_s < 1.0, read_s
        assert any(t.name.startswith("argon2") for t in threading.enumerate())


# Finding 14: a non-ASCII token was a 500.


def test_finding_14_non_ascii_token(node: tuple[ServerThread, Runtime]) -> None:
    srv, _ = node
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        assert http.get("/api/health?token=%C3%A9").status_code == 200
        for headers in ([(b"Authorization", b"Bearer \xc3\xa9")], [(b"Cookie", b"cc_session=\xc3\xa9.\xc3\xa9.x")]):
            assert http.get("/api/health", headers=headers).status_code == 200  # public: ignored
            closed = http.get("/api/cases", headers=headers)
            assert closed.status_code == 401 and closed.json()["detail"] == "malformed token", closed.text
        assert http.get("/api/cases", headers=bearer("a." * 3000 + "b")).status_code == 401


def test_tokens_are_pyjwt_hs256_with_required_claims(node: tuple[ServerThread, Runtime]) -> None:
    srv, rt = node
    token_for(rt, role="admin", user="claims")
    secret = rt.auth.signer._key  # noqa: SLF001  # the server's own key: only the claims are wrong
    now = int(time.time())
    good = {"sub": "claims", "role": "admin", "ver": 0, "iat": now, "exp": now + 60}
    cases = {
        "alg none": jwt.encode(good, None, algorithm="none"),  # type: ignore[arg-type]
        "HS512": jwt.encode(good, secret * 2, algorithm="HS512"),
        "no ver": jwt.encode({k: v for k, v in good.items() if k != "ver"}, secret, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, secret, algorithm="HS256"),
        "bad role": jwt.encode(good | {"role": "mayor"}, secret, algorithm="HS256"),
        "worker without id": jwt.encode(good | {"role": "worker"}, secret, algorithm="HS256"),
    }
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        assert http.get("/api/audit", headers=bearer(jwt.encode(good, secret, algorithm="HS256"))).status_code == 200
        for what, token in cases.items():
            res = http.get("/api/audit", headers=bearer(token))
            assert res.status_code == 401, what
    head = json.loads(base64.urlsafe_b64decode(token_for(rt).split(".")[0] + "=="))
    assert head["alg"] == "HS256"


# Finding 15 (token part): ?token= accepted everywhere and saved from the page URL.


def test_finding_15_no_query_token(node: tuple[ServerThread, Runtime]) -> None:
    srv, rt = node
    token = token_for(rt, role="officer", user="linked")
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        assert http.get("/api/cases", params={"token": token}).status_code == 401
    with connect(f"{srv.ws_url}?token={token}") as ws:
        code, _, said = messages_until_closed(ws, 5)
        assert code == 4401 and said[0]["error"] == "sign in required"
    chromium = pytest.importorskip("tests.test_pages")
    if not chromium.CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium.CHROMIUM), headless=True, args=chromium.ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{srv.url}/terminal?worker=W0000001&token={token}")  # a link that plants a token
            page.wait_for_selector("#login", timeout=15000)  # not signed in by it
            assert page.evaluate("() => localStorage.getItem('cc.token')") is None
            assert "token=" not in page.url and "worker=W0000001" in page.url  # wiped from the address bar
        finally:
            browser.close()


# Finding 1 (page side): the worker's token went to the reporter's server.


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        self.wfile.write(b"\xff\xd8\xff\xd9")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Another origin (another port of this host): what it receives."""
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def test_finding_1_worker_token_stays_home(tmp_path: Path, small_city: City, elsewhere: tuple[str, list]) -> None:
    tests_pages = pytest.importorskip("tests.test_pages")
    if not tests_pages.CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    origin, seen = elsewhere
    photo = f"{origin}/p.jpg"
    rt = make_runtime(tmp_path, small_city)
    with serve_app(rt) as srv, http_for(srv) as http:
        grid = small_city.grids[120]
        filed = http.post("/open311/v2/requests.json", data={
            "service_code": "0101", "lat": str(grid.lat), "long": str(grid.lon), "description": "路口堆放垃圾",
            "media_url": photo,
        })  # fmt: skip
        assert filed.status_code == 201, filed.text
        report = rt.store.get_report(filed.json()[0]["service_request_id"])
        case = rt.store.get_case(report["case_id"])
        assert case is not None and case.assignee, "the report's case went to a worker"
        worker = case.assignee
        token_for(rt, role="worker", worker_id=worker)  # the worker's account (password TEST_PASSWORD)
        requests: list[dict[str, Any]] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(tests_pages.CHROMIUM), headless=True, args=tests_pages.ARGS)
            try:
                context = browser.new_context(viewport={"width": 390, "height": 844})
                page = context.new_page()
                page.on("request", lambda r: requests.append({"url": r.url, "headers": r.all_headers()}))
                page.goto(f"{srv.url}/terminal?worker={worker}")
                tests_pages.sign_in(page, worker, TEST_PASSWORD)
                card = f".task[data-case-id='{case.id}']"
                page.wait_for_selector(card, timeout=10000)
                link = page.wait_for_selector(f"{card} a[data-external]", timeout=5000)
                assert link.get_attribute("href") == photo and link.inner_text() == "外部图片链接"
                assert set(link.get_attribute("rel").split()) >= {"noopener", "noreferrer"}
                assert page.query_selector(f"{card} img") is None  # never loaded
                page.wait_for_timeout(500)
                token = page.evaluate("() => localStorage.getItem('cc.token')")
                cookie = next(c for c in context.cookies() if c["name"] == "cc_session")
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
                assert page.evaluate("() => document.cookie").find("cc_session") < 0  # scripts cannot read it
                # The cookie gone (expired, cleared) but the stored token good: the page gets it back
                # from GET /api/auth/me and its websocket and images work without signing in again.
                context.clear_cookies()
                page.reload()
                page.wait_for_selector("#conn[data-state=open]", timeout=15000)
                page.wait_for_selector(card, timeout=10000)
                assert page.query_selector("#login") is None
            finally:
                browser.close()
    assert token, "signed in"
    assert seen == [], seen  # the other origin got nothing at all
    outside = [r for r in requests if not r["url"].startswith((srv.url, srv.ws_url))]
    assert outside == [], outside
    assert not [r for r in requests if token in r["url"] or "token=" in r["url"]], "a token in a URL"


# Finding 20: check-config printed the PostgreSQL password.


def test_finding_20_check_config_masks_the_store_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from command_center.cli import main

    path = tmp_path / "cc.yaml"
    path.write_text(json.dumps({"store": "postgresql://cc:s3cret-pw@db.internal:5432/cc",
                                "bus": "redis://:redis-pw@127.0.0.1:6379/0"}))  # fmt: skip
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "s3cret-pw" not in printed and "redis-pw" not in printed
    assert "postgresql://cc:***@db.internal:5432/cc" in printed and "redis://:***@127.0.0.1:6379/0" in printed


# Finding 21: a worker account with an empty worker id listed every case.


def test_finding_21_a_worker_without_a_worker_id_sees_nothing(node: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = node
    with http_for(srv) as http:
        grid = small_city.grids[77]
        made = http.post("/api/cases", headers=srv.headers(), json={"matter_code": "0101", "lon": grid.lon, "lat": grid.lat})
        assert made.status_code in (200, 201), made.text
        for name, wid in (("ghost-null", None), ("ghost-empty", "")):
            rt.store.add_users([{"username": name, "password_hash": TEST_HASH, "role": "worker", "jurisdiction": "",
                                 "worker_id": wid, "created_at": datetime.now(UTC).isoformat()}])  # fmt: skip
            refused = login(http, name, TEST_PASSWORD)
            assert refused.status_code == 403 and "worker id" in refused.json()["detail"], refused.text
            minted, _ = rt.auth.signer.issue(Principal(name, "worker", "", wid))
            assert http.get("/api/cases", headers=bearer(minted)).status_code == 401
    assert rt.store.list_cases(CaseQuery())[1] >= 1
    assert rt.store.list_cases(CaseQuery(assignee="")) == ([], 0)  # fails closed in SQL too
    nobody = Principal("ghost", "worker")
    assert nobody.worker_id == "" and not nobody.sees_case("440103", None) and not nobody.sees_case("440103", "")


# The store side, on both backends (SQLite and a real PostgreSQL).


def test_both_stores_keep_token_versions_and_fail_closed(store: Any) -> None:  # noqa: F811
    row = {"username": "v", "password_hash": TEST_HASH, "role": "officer", "jurisdiction": "", "worker_id": None,
           "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    assert store.add_users([row, row | {"username": "w"}]) == 2
    assert store.get_user("v")["token_version"] == 0  # the migration's default
    store.update_user("v", token_version=3, disabled=1)
    found = {r["username"]: r for r in store.get_users(["v", "w", "nobody"])}
    assert set(found) == {"v", "w"} and found["v"]["token_version"] == 3 and found["v"]["disabled"] == 1
    assert store.get_users([]) == []
    store.insert_case(make_case(1))
    assert store.list_cases(CaseQuery(assignee="W1"))[1] == 1
    assert store.list_cases(CaseQuery(assignee=""))[1] == 0  # finding 21: no worker id, no cases
    assert store.list_cases(CaseQuery())[1] == 1

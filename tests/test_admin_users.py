"""The admin console's accounts API (issue 16): district admins manage only their district's
accounts, generated passwords, the last sign-in, and the audit log's filters (both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import Store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app
from tests.test_store_postgres import pg_db, store, store_url  # noqa: F401  # fixtures, both backends

CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}
D1, D2 = "440104", "440103"  # small_city's two districts: 越秀区, 荔湾区
STREET1 = "440104001"  # 石坊街道, in D1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("admin_users")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "auth": CHEAP_HASH})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        # accounts (token_for makes them): the city's, each district's, one street's
        for user, role, jurisdiction in (
            ("chief", "admin", ""), ("cityoff", "officer", ""), ("d1admin", "admin", D1), ("d1off", "officer", D1),
            ("d1street", "officer", STREET1), ("d2admin", "admin", D2), ("d2off", "officer", D2),
        ):  # fmt: skip
            srv.headers(user=user, role=role, jurisdiction=jurisdiction)
        yield srv, rt


def client(server: tuple[ServerThread, Runtime], user: str, jurisdiction: str = "") -> httpx.Client:
    srv = server[0]
    return httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(user=user, role="admin", jurisdiction=jurisdiction))


def names(res: httpx.Response) -> set[str]:
    assert res.status_code == 200, res.text
    return {u["username"] for u in res.json()["items"]}


def worker_in(city: City, district: str) -> str:
    return next(w.id for w in city.workers if w.grid_code.startswith(district))


def test_a_district_admin_lists_only_their_districts_accounts(server: tuple[ServerThread, Runtime]) -> None:
    with client(server, "d1admin", D1) as d1, client(server, "chief") as chief:
        listed = names(d1.get("/api/users", params={"limit": 1000}))
        assert {"d1admin", "d1off", "d1street"} <= listed
        assert not listed & {"chief", "cityoff", "d2admin", "d2off"}  # never city-wide, never the other district
        assert d1.get("/api/users").json()["total"] == len(listed)
        everyone = names(chief.get("/api/users", params={"limit": 1000}))
        assert {"chief", "cityoff", "d1off", "d2off"} <= everyone
        # filters: text in the name, role, status
        assert names(chief.get("/api/users", params={"q": "D1"})) >= {"d1admin", "d1off", "d1street"}
        assert "d2off" not in names(chief.get("/api/users", params={"q": "d1"}))
        assert names(d1.get("/api/users", params={"role": "admin"})) == {"d1admin"}
        assert "d1off" in names(d1.get("/api/users", params={"status": "active"}))
        assert names(d1.get("/api/users", params={"status": "disabled"})) == set()
        assert chief.get("/api/users", params={"role": "mayor"}).status_code == 400
        assert chief.get("/api/users", params={"status": "asleep"}).status_code == 400


def test_a_district_admin_cannot_see_or_change_another_districts_accounts(server: tuple[ServerThread, Runtime]) -> None:
    with client(server, "d1admin", D1) as d1:
        for outside in ("d2off", "cityoff", "chief"):
            assert d1.get(f"/api/users/{outside}").status_code == 404
            assert d1.patch(f"/api/users/{outside}", json={"role": "officer"}).status_code == 404
            for action in ("disable", "enable", "reset-password"):
                assert d1.post(f"/api/users/{outside}/{action}", json={}).status_code == 404
        assert server[1].store.get_user("d2off")["disabled"] == 0  # type: ignore[index]
        # inside: fine; but not moved out of the district, nor made city-wide
        assert d1.get("/api/users/d1street").status_code == 200
        assert d1.patch("/api/users/d1off", json={"jurisdiction": D2}).status_code == 403
        assert d1.patch("/api/users/d1off", json={"jurisdiction": ""}).status_code == 403
        assert server[1].store.get_user("d1off")["jurisdiction"] == D1  # type: ignore[index]
        moved = d1.patch("/api/users/d1off", json={"jurisdiction": STREET1})
        assert moved.status_code == 200 and moved.json()["jurisdiction"] == STREET1
        # the city's own business stays closed to a district admin
        assert d1.get("/api/audit").status_code == 403
        assert d1.get("/api/publish-keys").status_code == 403


def test_a_district_admin_creates_accounts_only_inside_their_district(server: tuple[ServerThread, Runtime]) -> None:
    city = server[1].city.city
    with client(server, "d1admin", D1) as d1:
        def make(name: str, **fields: str) -> httpx.Response:
            return d1.post("/api/users", json={"username": name, "role": "officer", "password": "long-enough-1"} | fields)

        assert make("cw", jurisdiction="").status_code == 403  # city-wide
        assert make("other", jurisdiction=D2).status_code == 403
        assert make("boss", role="admin", jurisdiction="").status_code == 403  # an admin above them
        assert server[1].store.get_users(["cw", "other", "boss"]) == []
        defaulted = make("mine")  # no jurisdiction said: their own
        assert defaulted.status_code == 201 and defaulted.json()["jurisdiction"] == D1
        street_admin = make("streetadmin", role="admin", jurisdiction=STREET1)
        assert street_admin.status_code == 201 and street_admin.json()["jurisdiction"] == STREET1
        # a worker account gets its worker's district, and only a worker of theirs
        own_worker, other_worker = worker_in(city, D1), worker_in(city, D2)
        made = make(own_worker, role="worker", worker_id=own_worker)
        assert made.status_code == 201 and made.json()["jurisdiction"] == D1
        assert own_worker in names(d1.get("/api/users", params={"role": "worker"}))
        assert make(other_worker, role="worker", worker_id=other_worker).status_code == 403


def test_generated_password_is_shown_once_and_last_login_is_kept(server: tuple[ServerThread, Runtime]) -> None:
    srv = server[0]
    with client(server, "chief") as chief, httpx.Client(base_url=srv.url, timeout=10) as anon:
        made = chief.post("/api/users", json={"username": "newbie", "role": "officer", "jurisdiction": D2})
        assert made.status_code == 201, made.text
        password = made.json()["password"]
        assert password and len(password) >= 12 and "password_hash" not in made.json()
        assert chief.get("/api/users/newbie").json()["last_login_at"] is None
        before = datetime.now(UTC)
        assert anon.post("/api/auth/login", json={"username": "newbie", "password": password}).status_code == 200
        seen = chief.get("/api/users/newbie").json()
        assert "password" not in seen and seen["last_login_ip"]
        assert datetime.fromisoformat(seen["last_login_at"]) >= before
        given = chief.post("/api/users", json={"username": "given", "role": "officer", "password": "my-own-pass"})
        assert given.status_code == 201 and given.json()["password"] is None


def test_audit_api_filters_by_actor_action_prefix_target_and_time(server: tuple[ServerThread, Runtime]) -> None:
    with client(server, "chief") as chief:
        assert chief.post("/api/users/d2off/disable", json={}).status_code == 200
        assert chief.post("/api/users/d2off/enable", json={}).status_code == 200
        since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        page = chief.get("/api/audit", params={"actor": "chief", "action": "user.", "target": "d2off", "since": since})
        assert page.status_code == 200, page.text
        actions = [r["action"] for r in page.json()["items"]]
        assert actions[:2] == ["user.enable", "user.disable"] and set(actions) <= {"user.enable", "user.disable"}
        exact = chief.get("/api/audit", params={"action": "user.disable", "target": "d2off"}).json()
        assert [r["action"] for r in exact["items"]] == ["user.disable"]
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert chief.get("/api/audit", params={"since": future}).json()["total"] == 0
        assert chief.get("/api/audit", params={"until": since, "target": "d2off"}).json()["total"] == 0
        assert chief.get("/api/audit", params={"since": "yesterday"}).status_code == 400
        assert chief.get("/api/audit", params={"since": "0001-01-01T00:00:00+01:00"}).status_code == 400
        assert chief.get("/api/audit", params={"actor": "a\x00b"}).status_code == 400
        assert chief.get("/api/users", params={"q": "x" * 65}).status_code == 400


def test_store_filters_audit_and_users_on_both_stores(store: Store) -> None:  # noqa: F811
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for i, (actor, action, target) in enumerate(
        [("ann", "user.create", "bob"), ("ann", "user.disable", "bob"), ("cal", "login", "cal"),
         ("ann", "camera.update", "cam-1"), ("cal", "user_x.odd", "z")]
    ):  # fmt: skip
        ts = (t0 + timedelta(hours=i)).isoformat()
        store.add_audit({"ts": ts, "actor": actor, "role": "admin", "action": action, "target": target, "ip": "", "detail": None})
    rows, total = store.list_audit(actor="ann", action_prefix="user.")
    assert total == 2 and [r["action"] for r in rows] == ["user.disable", "user.create"]
    assert store.list_audit(action_prefix="user_")[1] == 1  # "_" is literal, not LIKE's any-character
    assert store.list_audit(target="bob")[1] == 2
    since = (t0 + timedelta(hours=2)).isoformat()
    assert [r["action"] for r in store.list_audit(since=since)[0]] == ["user_x.odd", "camera.update", "login"]
    assert [r["action"] for r in store.list_audit(until=since)[0]] == ["user.disable", "user.create"]
    assert store.list_audit(action="login")[1] == 1
    now = datetime.now(UTC).isoformat()
    store.add_users(
        [{"username": u, "password_hash": "x", "role": r, "jurisdiction": j, "worker_id": w, "created_at": now, "disabled": d}
         for u, r, j, w, d in (("Ann", "admin", "", None, 0), ("d1x", "officer", D1, None, 1),
                               ("w7", "worker", D1 + "001", "W0000007", 0), ("d2x", "officer", D2, None, 0))]
    )  # fmt: skip
    assert {u["username"] for u in store.list_users(prefix=D1)[0]} == {"d1x", "w7"}
    assert [u["username"] for u in store.list_users(q="ann")[0]] == ["Ann"]  # any case
    assert [u["username"] for u in store.list_users(q="0007")[0]] == ["w7"]  # the worker id
    assert [u["username"] for u in store.list_users(disabled=True)[0]] == ["d1x"]
    assert store.list_users(role="officer", disabled=False)[1] == 1
    store.update_user("w7", last_login_at=now, last_login_ip="10.0.0.7")
    assert store.get_user("w7")["last_login_ip"] == "10.0.0.7"  # type: ignore[index]

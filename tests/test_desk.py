"""The hall's case desk API (api/case_desk.py, the desk's actions in api/cases.py): search
with every filter on both databases, the unrouted queue, candidates, bulk actions, what a
worker may not do, reasons, and jurisdiction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import CaseQuery, create_store
from dispatch.assign import pick_worker
from dispatch.cases import Case, CaseState, new_case_id, transition
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
S = CaseState


def stored_case(i: int, **over: Any) -> Case:
    base = Case(
        id=f"C20261205-{i:04d}", state=S.DISPATCHED, matter_code="0101", grid_code="440103001001001",
        source="video", created_at=NOW + timedelta(minutes=i), deadline=NOW + timedelta(hours=10 - i),
        lon=113.3, lat=23.1, assignee="W1", description=f"第{i}件",
    )  # fmt: skip
    return replace(base, **over)


def ids(found: tuple[list[Case], int]) -> list[str]:
    return [c.id for c in found[0]]


def test_search_filters_on_both_databases(empty_store_url: str) -> None:
    store = create_store(empty_store_url)
    try:
        store.insert_case(stored_case(1, description="路边垃圾 堆放_100%"))
        store.insert_case(stored_case(2, source="citizen", matter_code="0201", grid_code="440104002001001", urgency="urgent"))
        store.insert_case(stored_case(3, state=S.REGISTERED, assignee=None, urgency="immediate"))
        store.insert_case(stored_case(4, state=S.REGISTERED, assignee="W2"))
        store.insert_case(stored_case(5, state=S.CLOSED, created_at=NOW - timedelta(days=2)))
        third = stored_case(3, state=S.REGISTERED, assignee=None, urgency="immediate")
        noted, entry = transition(third, "escalate", "officer", "群众多次来电反映", NOW)
        assert store.save_transition(noted, entry)

        assert ids(store.list_cases(CaseQuery(id_prefix="C20261205-000"))) == ids(store.list_cases(CaseQuery()))
        assert ids(store.list_cases(CaseQuery(id_prefix="C20261205-0002"))) == ["C20261205-0002"]
        assert ids(store.list_cases(CaseQuery(id_prefix="-0004"))) == ["C20261205-0004"]  # or its end
        assert ids(store.list_cases(CaseQuery(id_prefix="C2026_"))) == []  # "_" is a letter, not a wildcard
        assert ids(store.list_cases(CaseQuery(matter_code="0201"))) == ["C20261205-0002"]
        assert ids(store.list_cases(CaseQuery(source="citizen"))) == ["C20261205-0002"]
        assert ids(store.list_cases(CaseQuery(urgency="immediate"))) == ["C20261205-0003"]
        assert len(ids(store.list_cases(CaseQuery(urgency="routine")))) == 3
        assert ids(store.list_cases(CaseQuery(grid_prefix="440104"))) == ["C20261205-0002"]
        both = CaseQuery(states=("registered", "closed"), order="created")
        assert ids(store.list_cases(both)) == ["C20261205-0004", "C20261205-0003", "C20261205-0005"]
        assert ids(store.list_cases(CaseQuery(unrouted=True))) == ["C20261205-0003"]
        assert ids(store.list_cases(CaseQuery(assignees=("W2", "W9"), order="created"))) == ["C20261205-0004"]
        # words in the description, or in a timeline note; % and _ are taken literally
        assert ids(store.list_cases(CaseQuery(text="垃圾"))) == ["C20261205-0001"]
        assert ids(store.list_cases(CaseQuery(text="多次来电"))) == ["C20261205-0003"]
        assert ids(store.list_cases(CaseQuery(text="_100%"))) == ["C20261205-0001"]
        assert ids(store.list_cases(CaseQuery(text="0%x"))) == []
        window = CaseQuery(created_since=NOW + timedelta(minutes=2), created_before=NOW + timedelta(minutes=4))
        assert ids(store.list_cases(replace(window, order="created"))) == ["C20261205-0003", "C20261205-0002"]
        newest, total = store.list_cases(CaseQuery(order="created", limit=2, offset=1))
        assert total == 5 and [c.id for c in newest] == ["C20261205-0003", "C20261205-0002"]

        # incidents by camera (the wall's camera view)
        for n, camera in enumerate(("cam-a", "cam-b", "cam-a")):
            store.add_incident({"id": f"I{n}", "ts": f"2026-12-05T02:0{n}:00+00:00", "camera_id": camera, "state": "new"})
        found, total = store.list_incidents(camera_id="cam-a")
        assert total == 2 and [i["id"] for i in found] == ["I2", "I0"]
        assert store.list_incidents(camera_id="cam-c") == ([], 0)
    finally:
        store.close()


# ---------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("desk")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


def client(srv: ServerThread, **who: str | None) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=10, headers=srv.headers(**who))


def staffed(rt: Runtime, city: City, district: str, skip: int = 0) -> Any:
    """A grid of the district with a worker on duty now (the `skip`-th such grid)."""
    now = datetime.now(rt.dispatcher.tz)
    found = [g for g in city.grids if g.code.startswith(district) and pick_worker(city, g.code, now, lambda _: {})]
    return found[skip]


def report(c: httpx.Client, grid: Any, matter: str = "0101", source: str = "citizen", text: str = "") -> dict[str, Any]:
    answer = c.post("/api/cases", json={"matter_code": matter, "lon": grid.lon, "lat": grid.lat, "source": source,
                                        "description": text})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def unrouted_case(rt: Runtime, grid: Any) -> Case:
    """A registered case nobody was sent to (no worker on duty when it came in)."""
    now = datetime.now(UTC)
    case = Case(
        id=new_case_id(now), state=S.REPORTED, matter_code="0101", grid_code=grid.code, source="citizen",
        created_at=now, deadline=now + timedelta(days=2), lon=grid.lon, lat=grid.lat, description="无人值守",
    )  # fmt: skip
    case, _ = transition(case, "register", "system", now=now)
    rt.store.insert_case(case)
    return case


def test_search_api_filters_and_bad_parameters(desk: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = desk
    with client(srv) as admin:
        a = report(admin, staffed(rt, small_city, "440103", 10), text="井盖松动 desk-search-一")
        b = report(admin, staffed(rt, small_city, "440104", 10), matter="0201", source="emergency")
        got = admin.get("/api/cases", params={"q": "desk-search-一"}).json()
        assert [c["id"] for c in got["items"]] == [a["id"]] and got["total"] == 1
        assert got["items"][0]["matter_name"] and got["items"][0]["grid_name"]
        assert [c["id"] for c in admin.get("/api/cases", params={"id": b["id"][:-3]}).json()["items"]] == [b["id"]]
        by = {"matter": "0201", "source": "emergency", "state": "open", "grid": "440104", "urgency": "routine"}
        assert b["id"] in [c["id"] for c in admin.get("/api/cases", params=by).json()["items"]]
        assert a["id"] not in [c["id"] for c in admin.get("/api/cases", params=by).json()["items"]]
        name = next(w.name for w in small_city.workers if w.id == a["assignee"])
        assert a["id"] in [c["id"] for c in admin.get("/api/cases", params={"worker": name}).json()["items"]]
        assert admin.get("/api/cases", params={"worker": "无此人"}).json()["total"] == 0
        listed = admin.get("/api/cases", params={"state": "dispatched,closed", "order": "created", "limit": 2}).json()
        assert listed["items"][0]["id"] == b["id"]  # newest first
        since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        assert admin.get("/api/cases", params={"since": since, "q": "desk-search"}).json()["total"] == 1
        assert admin.get("/api/cases", params={"until": "2020-01-01", "q": "desk-search"}).json()["total"] == 0
        assert admin.get("/api/cases?since=2020-01-01T00:00:00 08:00&q=desk-search").json()["total"] == 1  # a lost "+"
        for name, value in [("state", "bogus"), ("state", "open,nope"), ("source", "drone"), ("since", "yesterday"),
                            ("until", "2026-13-01"), ("order", "random"), ("id", "C%"), ("unrouted", "maybe"),
                            ("urgency", "now"), ("grid", "44a"), ("limit", "0"), ("q", "字" * 201)]:  # fmt: skip
            answer = admin.get("/api/cases", params={name: value})
            assert answer.status_code == 400, (name, value, answer.text)
            assert name in answer.json()["error"]


def test_unrouted_queue_and_manual_dispatch(desk: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = desk
    grid = staffed(rt, small_city, "440103", 20)
    waiting = unrouted_case(rt, grid)
    with client(srv) as admin:
        queue = admin.get("/api/cases", params={"unrouted": "1"}).json()
        assert waiting.id in [c["id"] for c in queue["items"]] and queue["total"] >= 1
        assert all(c["state"] == "registered" and c["assignee"] is None for c in queue["items"])
        url = f"/api/cases/{waiting.id}"
        assert admin.post(f"{url}/dispatch", json={}).json()["error"] == "dispatch needs 'worker'"
        assert admin.post(f"{url}/dispatch", json={"worker": "W-nobody"}).json()["error"] == "unknown worker"
        worker = admin.get(f"{url}/candidates").json()["workers"][0]
        sent = admin.post(f"{url}/dispatch", json={"worker": worker["id"], "note": "人工派遣"})
        assert sent.status_code == 200 and sent.json()["state"] == "dispatched"
        assert sent.json()["assignee"] == worker["id"] and sent.json()["assignee_name"] == worker["name"]
        assert waiting.id not in [c["id"] for c in admin.get("/api/cases", params={"unrouted": "1"}).json()["items"]]


def test_candidates_on_duty_first_then_by_load(desk: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = desk
    grid = staffed(rt, small_city, "440104", 30)
    with client(srv) as admin:
        case = report(admin, grid)
        for n in range(2):  # load on the case's own worker: two more cases elsewhere in their name
            other = report(admin, staffed(rt, small_city, "440104", 40 + n))
            admin.post(f"/api/cases/{other['id']}/reassign", json={"worker": case["assignee"], "note": "集中处理"})
        answer = admin.get(f"/api/cases/{case['id']}/candidates").json()
    workers = answer["workers"]
    assert answer["departments"] and all(isinstance(d, str) for d in answer["departments"])
    assert {w["tier"] for w in workers} <= {"grid", "community", "street"} and workers[0]["grids"]
    keys = [(not w["on_duty"], w["load"]) for w in workers]
    on_duty = [w for w in workers if w["on_duty"]]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys), "on duty first"
    assert [w["load"] for w in on_duty] == sorted(w["load"] for w in on_duty), "then the least loaded"
    mine = next(w for w in workers if w["id"] == case["assignee"])
    assert mine["assigned"] and mine["load"] >= 3 and mine["tier"] == "grid"
    assert len({w["id"] for w in workers}) == len(workers)  # a worker of several grids once


def test_bulk_each_case_on_its_own(desk: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = desk
    with client(srv) as admin:
        mine = [report(admin, staffed(rt, small_city, "440103", 50 + n)) for n in range(2)]
        theirs = report(admin, staffed(rt, small_city, "440104", 50))
        closed = report(admin, staffed(rt, small_city, "440103", 53))
        admin.post(f"/api/cases/{closed['id']}/cancel", json={"note": "误报"})
    with client(srv, role="officer", user="desk-officer-103", jurisdiction="440103") as officer:
        wanted = [mine[0]["id"], "C20990101-nope", theirs["id"], closed["id"], mine[1]["id"], mine[0]["id"]]
        answer = officer.post("/api/cases/bulk", json={"ids": wanted, "action": "escalate", "note": "批量督办"})
        assert answer.status_code == 200, answer.text
        results = {r["id"]: r for r in answer.json()["results"]}
        assert len(answer.json()["results"]) == 5  # the repeated id once
        assert results[mine[0]["id"]] == {"id": mine[0]["id"], "ok": True, "state": "dispatched"}
        assert results[mine[1]["id"]]["ok"] is True
        assert results["C20990101-nope"]["ok"] is False and results["C20990101-nope"]["error"] == "case not found"
        assert results[theirs["id"]]["error"] == "case not found"  # another district's: as if missing
        assert results[closed["id"]]["ok"] is False and results[closed["id"]]["status"] == 409
        assert officer.get(f"/api/cases/{mine[0]['id']}").json()["level"] == 1
        for body in [{}, {"ids": "C1", "action": "escalate"}, {"ids": [], "action": "escalate"},
                     {"ids": ["C1"] * 201, "action": "escalate"}, {"ids": [1], "action": "escalate"},
                     {"ids": ["C1"], "action": "teleport"}, {"ids": ["C1"], "action": "register"},
                     {"ids": ["C1"], "action": "escalate", "params": {"version": 1}},
                     {"ids": ["C1"], "action": "escalate", "note": 5}]:  # fmt: skip
            assert officer.post("/api/cases/bulk", json=body).status_code == 400, body
        # A reason-needing action without one fails each case with 400, and changes nothing.
        cancel = officer.post("/api/cases/bulk", json={"ids": [mine[1]["id"]], "action": "cancel"}).json()
        assert cancel["results"][0]["status"] == 400 and "reason" in cancel["results"][0]["error"]


def test_a_worker_may_not_dispatch_reassign_cancel_or_reclassify(
    desk: tuple[ServerThread, Runtime], small_city: City
) -> None:
    srv, rt = desk
    with client(srv) as admin:
        case = report(admin, staffed(rt, small_city, "440103", 60))
    worker = case["assignee"]
    with client(srv, role="worker", worker_id=worker) as phone:
        url = f"/api/cases/{case['id']}"
        for action, body in [("dispatch", {"worker": worker}), ("reassign", {"worker": worker, "note": "x"}),
                             ("cancel", {"note": "x"}), ("reclassify", {"matter": "0201", "note": "x"})]:  # fmt: skip
            assert phone.post(f"{url}/{action}", json={"actor": worker, **body}).status_code == 403, action
        assert phone.get(f"{url}/candidates").status_code == 403
        assert phone.post("/api/cases/bulk", json={"ids": [case["id"]], "action": "escalate"}).status_code == 403
        assert phone.post(f"{url}/accept", json={"actor": worker}).json()["state"] == "accepted"  # their own step


def test_reasons_are_required_and_the_desk_actions_work(desk: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = desk
    with client(srv) as admin:
        case = report(admin, staffed(rt, small_city, "440103", 70))
        url = f"/api/cases/{case['id']}"
        first = admin.get(f"{url}/candidates").json()["workers"]
        other = next(w for w in first if not w["assigned"])
        for action, body in [("reassign", {"worker": other["id"]}), ("reclassify", {"matter": "0201"}),
                             ("cancel", {}), ("cancel", {"note": "   "})]:  # fmt: skip
            answer = admin.post(f"{url}/{action}", json=body)
            assert answer.status_code == 400 and answer.json()["error"] == f"{action} needs a reason", action
        assert admin.post(f"{url}/reassign", json={"worker": other["id"], "note": "原网格员请假"}).json()["assignee"] == other["id"]
        assert admin.post(f"{url}/reclassify", json={"note": "实为广告"}).json()["error"] == "reclassify needs 'matter'"
        moved = admin.post(f"{url}/reclassify", json={"matter": "0201", "note": "实为小广告"}).json()
        assert moved["matter_code"] == "0201" and moved["matter_name"] != case["matter_name"]
        assert admin.post(f"{url}/reclassify", json={"matter": "no-such-matter", "note": "x"}).status_code == 400
        assert admin.post(f"{url}/return", json={}).status_code == 400  # a reason first, then the state
        gone = admin.post(f"{url}/cancel", json={"note": "重复上报"}).json()
        assert gone["state"] == "cancelled" and gone["timeline"][-1]["note"] == "重复上报"
        audit = admin.get("/api/audit", params={"target": case["id"]}).json()
        assert {"case.reassign", "case.reclassify", "case.cancel"} <= {r["action"] for r in audit["items"]}


def test_a_district_officer_sees_and_acts_on_their_district_only(
    desk: tuple[ServerThread, Runtime], small_city: City
) -> None:
    srv, rt = desk
    with client(srv) as admin:
        theirs = report(admin, staffed(rt, small_city, "440104", 80))
        mine = report(admin, staffed(rt, small_city, "440103", 80))
    with client(srv, role="officer", user="desk-officer-103", jurisdiction="440103") as officer:
        url = f"/api/cases/{theirs['id']}"
        assert officer.get(url).status_code == 404
        assert officer.get(f"{url}/candidates").status_code == 404
        assert officer.post(f"{url}/escalate", json={"note": "x"}).status_code == 404
        assert officer.post(f"{url}/cancel", json={"note": "x"}).status_code == 404
        assert officer.get("/api/cases", params={"grid": "440104"}).status_code == 403
        found = [c["id"] for c in officer.get("/api/cases", params={"limit": 1000}).json()["items"]]
        assert mine["id"] in found and theirs["id"] not in found
        assert all(c.startswith("440103") for c in [c["grid_code"] for c in officer.get("/api/cases").json()["items"]])
        # nor send one of their own cases to a worker of the other district
        stranger = next(w for w in small_city.workers if w.grid_code.startswith("440104"))
        answer = officer.post(f"/api/cases/{mine['id']}/reassign", json={"worker": stranger.id, "note": "x"})
        assert answer.status_code == 400 and answer.json()["error"] == "unknown worker"

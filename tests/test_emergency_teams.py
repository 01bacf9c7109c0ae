"""Incident mode's people: emergency teams seeded from the roster, plan tasks assigned to a
member or a team and reaching their terminals' channels, who may ack and finish them, the
timeline in words, positions, admins' plans, the handover summary and its export."""

from __future__ import annotations

import csv
import io
import json
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.emergency.teams import TEAM_SIZE, seeds_from_city, street_of, team_id_of
from command_center.emergency.timeline import sentence
from command_center.events import Event
from command_center.hub_feed import task_posts
from command_center.registry.imports import ImportContext, ImportOptions, run_import
from command_center.runtime import Runtime
from command_center.store import create_store
from command_center.store.team_records import TeamSeed, team_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("teams")
    grid = small_city.grids[9]
    config = parse_config({
        "server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}",
        "cameras": [{"id": "cam-near", "name": "天河路口", "kind": "sim", "url": "sim://street?seed=4&width=64&height=64",
                     "fps": 1, "location": {"lon": grid.lon + 0.0005, "lat": grid.lat}}],
    })  # fmt: skip
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        yield {"rt": rt, "server": server, "grid": grid}


def client(site: dict[str, Any], **who: str | None) -> httpx.Client:
    server: ServerThread = site["server"]
    return httpx.Client(base_url=server.url, headers=server.headers(**who), timeout=10)


def start(site: dict[str, Any], cls: str = "accident") -> dict[str, Any]:
    grid = site["grid"]
    with client(site, role="officer") as http:
        reply = http.post("/api/emergency", json={"class": cls, "title": "仓库火情", "lon": grid.lon, "lat": grid.lat})
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def recv_type(conn: Any, type_: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("type") == type_:
            return msg  # type: ignore[no-any-return]


def test_each_street_gets_a_team_of_its_professional_workers(small_city: City) -> None:
    street = small_city.streets[0]
    inside = [w for w in small_city.workers if street_of(w.grid_code) == street.code]
    pros = {w.id for w in inside[:3]}
    city = City(small_city.areas, [replace(w, level="professional") if w.id in pros else w for w in small_city.workers])
    seeds = {s.street_code: s for s in seeds_from_city(city)}
    mine = seeds[street.code]
    assert set(mine.workers) == pros and mine.name == f"{street.name}应急队" and mine.id == team_id_of(street.code)
    # the others, with no professional worker: their full-time workers, at most TEAM_SIZE
    other = seeds[small_city.streets[1].code]
    kinds = {w.id: w.kind for w in small_city.workers}
    assert 0 < len(other.workers) <= TEAM_SIZE and all(kinds[w] == "full_time" for w in other.workers)


def test_a_roster_import_seeds_teams_and_keeps_an_edited_one(tmp_path: Path, small_city: City) -> None:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    teams = team_store(rt.store)
    street = small_city.streets[0]
    grids = [g.code for g in small_city.grids if street_of(g.code) == street.code][:2]
    path = tmp_path / "roster.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["工号", "编号", "姓名", "手机", "网格编码", "专兼职", "级别", "班次"])
        out.writerow(["P1", "N1", "王伟", "13800000001", grids[0], "专职", "专业", "全天"])
        out.writerow(["P2", "N2", "李娜", "13800000002", grids[1], "兼职", "专业", "白班"])
        out.writerow(["P3", "N3", "陈强", "13800000003", grids[1], "专职", "基础", "全天"])
    result = run_import("roster", path, ImportContext(rt.store, small_city, config), ImportOptions())
    assert result.applied and result.counts["emergency_teams"] == 1
    team = teams.get_team(team_id_of(street.code))
    assert team is not None and [(m["worker_id"], m["role"]) for m in team["members"]] == [("P1", "leader"), ("P2", "member")]
    teams.put_team_member(team["id"], "P3", "leader", "2026-01-01T00:00:00+00:00", "admin")  # an admin's edit
    again = run_import("roster", path, ImportContext(rt.store, small_city, config), ImportOptions())
    assert again.applied and again.counts["emergency_teams"] == 0
    edited = teams.get_team(team["id"])
    assert edited is not None and edited["members"][0] == {"worker_id": "P3", "role": "leader"}


def test_tasks_go_to_the_street_team_a_member_and_back(site: dict[str, Any]) -> None:
    rt: Runtime = site["rt"]
    server: ServerThread = site["server"]
    mode = start(site)
    team_id = team_id_of(street_of(mode["grid_code"]) or "")
    with client(site, role="emergency") as staff:
        teams = staff.get("/api/emergency/teams", params={"near": f"{mode['center']['lon']},{mode['center']['lat']}"})
        assert teams.status_code == 200, teams.text
        first = teams.json()["items"][0]
        assert first["id"] == team_id and first["distance_m"] is not None and first["members"]
        assert all(m["name"] and isinstance(m["on_duty"], bool) for m in first["members"])
        assert staff.get("/api/emergency/teams", params={"near": "x"}).status_code == 400
        one = staff.get("/api/emergency/teams", params={"limit": 1, "near": f"{mode['center']['lon']},{mode['center']['lat']}"})
        assert [t["id"] for t in one.json()["items"]] == [team_id] and one.json()["total"] > 1
    leader, member = first["members"][0], first["members"][-1]
    # by the plan: the leader alone for the first task, the whole street team for the others
    tasks = mode["tasks"]
    assert tasks[0]["assignee"]["kind"] == "worker" and tasks[0]["workers"] == [leader["worker_id"]]
    assert tasks[1]["assignee"] == {"kind": "team", "id": team_id, "name": first["name"], "team": first["name"]}
    assert set(tasks[1]["workers"]) == {m["worker_id"] for m in first["members"]}

    # reassigned to one named member: their channel has it at once, the others' lose it
    others = [m["worker_id"] for m in first["members"] if m["worker_id"] != member["worker_id"]]
    with (
        server.ws_connect(role="worker", worker_id=member["worker_id"]) as mine,
        server.ws_connect(role="worker", worker_id=others[0]) as theirs,
        client(site, role="officer") as officer,
    ):
        for ws, w in ((mine, member["worker_id"]), (theirs, others[0])):
            ws.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{w}"]}))
            recv_type(ws, "subscribed")
        t0 = time.monotonic()
        moved = officer.post(f"/api/emergency/{mode['id']}/tasks/t2/assign", json={"worker": member["worker_id"]})
        assert moved.status_code == 200, moved.text
        got = recv_type(mine, "emergency.task", timeout=2.0)
        assert time.monotonic() - t0 < 2.0
        assert got["data"]["mode"]["id"] == mode["id"] and "t2" in [t["id"] for t in got["data"]["tasks"]]
        lost = recv_type(theirs, "emergency.task", timeout=2.0)
        assert "t2" not in [t["id"] for t in lost["data"]["tasks"]]
        assert officer.post(f"/api/emergency/{mode['id']}/tasks/t2/assign", json={}).status_code == 400
        assert officer.post(f"/api/emergency/{mode['id']}/tasks/t2/assign", json={"worker": "nobody"}).status_code == 422
        assert officer.post(f"/api/emergency/{mode['id']}/tasks/t9/assign", json={"team": team_id}).status_code == 404

    # who may work on it: not another worker; the member acks and finishes it
    stranger = next(w.id for w in rt.city.city.workers if street_of(w.grid_code) != street_of(mode["grid_code"]))
    with client(site, role="worker", worker_id=stranger) as other:
        assert other.post(f"/api/emergency/{mode['id']}/tasks/t2/done").status_code == 403
        assert other.post(f"/api/emergency/{mode['id']}/tasks/t2/ack").status_code == 403
        assert other.get("/api/emergency/mine").json() == {"items": []}
        assert other.post(f"/api/workers/{stranger}/position", json={"lon": 113.3, "lat": 23.1}).status_code == 409
        assert other.post(f"/api/workers/{member['worker_id']}/position", json={"lon": 1, "lat": 2}).status_code == 403
    with client(site, role="worker", worker_id=member["worker_id"]) as worker:
        held = worker.get("/api/emergency/mine").json()["items"]
        assert [t["id"] for t in held[0]["tasks"]] == ["t2", "t3", "t4"]  # the team's, and the one named to them
        assert worker.post(f"/api/emergency/{mode['id']}/tasks/t2/ack").status_code == 200
        assert worker.post(f"/api/emergency/{mode['id']}/tasks/t2/ack").status_code == 409
        fix = worker.post(f"/api/workers/{member['worker_id']}/position", json={"lon": 113.3, "lat": 23.1, "accuracy": 8})
        assert fix.status_code == 200, fix.text
        assert worker.post(f"/api/workers/{member['worker_id']}/position", json={"lon": "x"}).status_code == 400
        done = worker.post(f"/api/emergency/{mode['id']}/tasks/t2/done", json={"note": "已拉警戒线"})
        assert done.status_code == 200, done.text
        task = next(t for t in done.json()["tasks"] if t["id"] == "t2")
        assert task["state"] == "done" and task["done_by"] == member["worker_id"] and task["note"] == "已拉警戒线"
        entry = done.json()["timeline"][-1]
        assert entry["actor_name"] == member["name"] and entry["actor_team"] == first["name"]
        assert sentence(entry) == f"{member['name']}（{first['name']}）完成任务「{task['title']}」：已拉警戒线"
        # the team's task: any member may finish it
        assert worker.post(f"/api/emergency/{mode['id']}/tasks/t3/done").status_code == 200
    with client(site, role="emergency") as staff:
        seen = staff.get("/api/emergency/teams").json()["items"]
        me = next(m for t in seen for m in t["members"] if m["worker_id"] == member["worker_id"])
        assert me["position"]["lon"] == 113.3 and me["position"]["accuracy"] == 8
        staff.get("/api/emergency/teams")  # looked at again at once: not audited twice
        rows, count = rt.store.list_audit(action="team.positions.view")
        assert count == 1 and rows[0]["role"] == "emergency"  # where people are is personal data
        assert staff.post(f"/api/emergency/{mode['id']}/end").status_code == 200


def test_emergency_events_reach_each_assignee_with_their_tasks() -> None:
    tasks = [{"id": "t1", "workers": ["W1"]}, {"id": "t2", "workers": ["W1", "W2"]}]
    data = {"id": "em-1", "title": "x", "tasks": tasks, "task_assignees": ["W1", "W2", "W3"], "ended_at": None}
    posts = {p.channel: p for p in task_posts(Event("emergency", "emergency.updated", data), "440")}
    assert set(posts) == {"tasks:W1", "tasks:W2", "tasks:W3"}
    assert [t["id"] for t in posts["tasks:W1"].data["tasks"]] == ["t1", "t2"]
    assert posts["tasks:W3"].data["tasks"] == [] and posts["tasks:W2"].type == "emergency.task"
    assert task_posts(Event("emergency", "emergency.updated", {**data, "task_assignees": []}), None) == []


def test_plans_are_validated_and_only_city_admins_change_them(site: dict[str, Any]) -> None:
    with client(site, role="officer") as officer, client(site) as admin:
        plans = officer.get("/api/emergency/plans").json()["items"]
        assert [p["class"] for p in plans] == ["natural_disaster", "accident", "public_health", "social_security"]
        plan = next(p for p in plans if p["class"] == "public_health")["plan"]
        assert officer.put("/api/emergency/plans/public_health", json=plan).status_code == 403
        with client(site, role="admin", user="district-admin", jurisdiction=site["grid"].code[:6]) as district:
            assert district.put("/api/emergency/plans/public_health", json=plan).status_code == 403
        bad = admin.put("/api/emergency/plans/public_health", json={**plan, "radius_m": -5})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "radius_m"
        bad = admin.put("/api/emergency/plans/public_health", json={**plan, "tasks": [{"title": "x", "role": "y"}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "tasks.0.due_min"
        bad = admin.put("/api/emergency/plans/public_health",
                        json={**plan, "tasks": [{"title": "x", "role": "y", "due_min": 5, "team": "team-none"}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "tasks.0.team"
        assert admin.put("/api/emergency/plans/public_health", content=b"[1]").status_code == 400
        assert admin.put("/api/emergency/plans/flood", json=plan).status_code == 404
        changed = {**plan, "tasks": [{"title": "核酸采样点布设", "role": "卫健", "due_min": 45, "assign": "leader"}]}
        saved = admin.put("/api/emergency/plans/public_health", json=changed)
        assert saved.status_code == 200 and saved.json()["source"] == "admin", saved.text
        assert next(p for p in admin.get("/api/emergency/plans").json()["items"] if p["class"] == "public_health")[
            "plan"]["tasks"][0]["title"] == "核酸采样点布设"  # fmt: skip
        audit = admin.get("/api/audit", params={"action": "emergency.plan"}).json()["items"]
        assert audit and audit[0]["target"] == "public_health"
    mode = start(site, "public_health")  # modes started after use it
    assert [t["title"] for t in mode["tasks"]] == ["核酸采样点布设"]
    with client(site, role="officer") as officer:
        assert officer.post(f"/api/emergency/{mode['id']}/end").status_code == 200


def test_handover_and_export_after_the_end(site: dict[str, Any]) -> None:
    mode = start(site)
    leader = mode["tasks"][0]["workers"][0]
    with client(site, role="worker", worker_id=leader) as worker:
        assert worker.post(f"/api/emergency/{mode['id']}/tasks/t1/done", json={"note": "消防已到场"}).status_code == 200
    with client(site, role="officer") as officer:
        assert officer.post(f"/api/emergency/{mode['id']}/timeline", json={"text": "无人机已起飞"}).status_code == 200
        ended = officer.post(f"/api/emergency/{mode['id']}/end", json={"note": "明火扑灭"})
        assert ended.status_code == 200
        links = ended.json()["links"]
        assert links["zip"] == f"/api/emergency/{mode['id']}/export.zip"
        doc = officer.get(links["handover"]).json()
        assert doc["class_name"] == "事故灾难" and doc["ended_at"] and doc["duration_min"] is not None
        first = doc["tasks"][0]
        assert first["done_by"] == site["rt"].city.workers[leader].name and first["note"] == "消防已到场"
        assert first["done_at"] and first["assignee"]
        texts = [e["text"] for e in doc["timeline"]]
        assert any("完成任务" in t and "消防已到场" in t for t in texts) and texts[-1].endswith("结束应急模式：明火扑灭")
        assert texts[-2] == "值班员：无人机已起飞"
        assert doc["cameras"] == [{"id": "cam-near", "name": "天河路口"}]
        page = officer.get(links["html"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "应急处置交接报告" in page.text and "消防已到场" in page.text
        bundle = officer.get(links["zip"])
        assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
            assert sorted(z.namelist()) == ["cap.xml", "handover.html", "handover.json"]
            alert = ET.fromstring(z.read("cap.xml"))
            assert alert.findtext("cap:msgType", namespaces=CAP) == "Cancel"
            assert "交接报告" in z.read("handover.html").decode("utf-8")
            assert json.loads(z.read("handover.json"))["id"] == mode["id"]
        assert officer.get("/api/emergency/em-nope/handover").status_code == 404
        english = officer.get(f"{links['html']}?lang=en")
        assert english.status_code == 200 and "交接报告" not in english.text and 'lang="en"' in english.text
        assert officer.get(f"{links['handover']}?lang=fr").status_code == 400


def test_admins_edit_teams_within_their_district(site: dict[str, Any], small_city: City) -> None:
    street = small_city.streets[-1]
    workers = [w.id for w in small_city.workers if street_of(w.grid_code) == street.code][:3]
    other_district = next(d.code for d in small_city.districts if not street.code.startswith(d.code[:6]))
    with client(site) as admin:
        made = admin.post("/api/roster/teams", json={"name": "机动应急队", "street_code": street.code,
                                                      "members": [{"worker_id": w} for w in workers[:2]]})  # fmt: skip
        assert made.status_code == 201, made.text
        team = made.json()
        assert [m["role"] for m in team["members"]] == ["leader", "member"]
        added = admin.post(f"/api/roster/teams/{team['id']}/members", json={"worker_id": workers[2], "role": "leader"})
        assert added.status_code == 200 and added.json()["members"][0]["worker_id"] == workers[2]
        assert admin.post(f"/api/roster/teams/{team['id']}/members", json={"worker_id": "nobody"}).status_code == 422
        assert admin.delete(f"/api/roster/teams/{team['id']}/members/{workers[0]}").status_code == 200
        assert admin.delete(f"/api/roster/teams/{team['id']}/members/{workers[0]}").status_code == 404
        renamed = admin.put(f"/api/roster/teams/{team['id']}", json={"name": "机动队"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "机动队"
        assert admin.post("/api/roster/teams", json={"name": "x", "street_code": "123"}).status_code == 422
        with client(site, role="admin", user="other-admin", jurisdiction=other_district[:6]) as district:
            assert team["id"] not in [t["id"] for t in district.get("/api/roster/teams").json()["items"]]
            assert district.put(f"/api/roster/teams/{team['id']}", json={"name": "y"}).status_code == 404
        with client(site, role="officer") as officer:
            assert officer.get("/api/roster/teams").status_code == 403
        assert admin.delete(f"/api/roster/teams/{team['id']}").status_code == 200
        assert admin.delete(f"/api/roster/teams/{team['id']}").status_code == 404


def test_team_records_on_both_stores(empty_store_url: str) -> None:
    store = create_store(empty_store_url)
    try:
        teams = team_store(store)
        seeds = [TeamSeed("team-1", "一街应急队", "440100001000000", ("W1", "W2")),
                 TeamSeed("team-2", "二街应急队", "440100002000000", ("W3",))]  # fmt: skip
        assert teams.seed_teams(seeds, "2026-01-01T00:00:00+00:00") == 2
        assert teams.seed_teams(seeds, "2026-01-01T00:00:00+00:00") == 0  # once
        teams.put_team_member("team-1", "W2", "leader", "2026-01-02T00:00:00+00:00", "admin")
        got = teams.get_team("team-1")
        assert got is not None and got["members"] == [{"worker_id": "W2", "role": "leader"}, {"worker_id": "W1", "role": "member"}]
        assert got["updated_by"] == "admin"
        # re-seeding leaves the edited team alone and re-makes the one still as seeded
        again = [TeamSeed("team-1", "一街应急队", "440100001000000", ("W9",)),
                 TeamSeed("team-2", "二街应急队", "440100002000000", ("W4", "W3"))]  # fmt: skip
        assert teams.seed_teams(again, "2026-01-03T00:00:00+00:00", reseed=True) == 1
        listed = {t["id"]: [m["worker_id"] for m in t["members"]] for t in teams.list_teams()}
        assert listed == {"team-1": ["W2", "W1"], "team-2": ["W4", "W3"]}
        assert teams.delete_team_member("team-2", "W4", "2026-01-04T00:00:00+00:00", "admin")
        assert not teams.delete_team_member("team-2", "W4", "2026-01-04T00:00:00+00:00", "admin")
        assert teams.delete_team("team-2") and teams.get_team("team-2") is None
        teams.save_team({"id": "team-x", "name": "机动队", "street_code": "440100001000000",
                         "updated_at": "t", "updated_by": "admin"}, [("W5", "leader")])  # fmt: skip
        assert [t["id"] for t in teams.list_teams()] == ["team-1", "team-x"]
        teams.put_plan_doc("accident", '{"name": "x"}', "admin", "2026-01-05T00:00:00+00:00")
        teams.put_plan_doc("accident", '{"name": "y"}', "admin2", "2026-01-06T00:00:00+00:00")
        assert teams.plan_rows() == {"accident": {"doc": '{"name": "y"}', "updated_by": "admin2",
                                                  "updated_at": "2026-01-06T00:00:00+00:00"}}  # fmt: skip
    finally:
        store.close()

"""Video verification's records on both databases, the coverage geometry, and the API
(api/verifications.py): who may read and decide, 404 and 409, jurisdiction, a confirmed
verdict acting on the case through the dispatcher, evidence and the case detail's fields."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from command_center.config import CameraConfig, VerificationConfig, parse_config
from command_center.coverage import covers, plan_check, strip
from command_center.runtime import Runtime
from command_center.store import create_store
from command_center.store.verification_records import verification_store
from command_center.verification import NO_VERDICT_GRACE_S
from dispatch.cases import Case, CaseState
from dispatch.catalog import load_catalog
from dispatch.city import City
from dispatch.intake import Intake
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from vision.evidence import encode_jpeg

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
JPEG = encode_jpeg(np.full((90, 160, 3), 128, np.uint8))
S = CaseState


def case_row(i: int, **over: Any) -> Case:
    base = Case(
        id=f"C20261205-{i:04d}", state=S.FEEDBACK, matter_code="0501", grid_code="440103001001001",
        source="video", created_at=NOW, deadline=NOW + timedelta(hours=2), lon=113.3, lat=23.1, assignee="W1",
    )  # fmt: skip
    return replace(base, **over)


def verification(vid: str, case_id: str, state: str = "checking", **doc: Any) -> dict[str, Any]:
    return {"id": vid, "case_id": case_id, "camera_id": "cam-1", "purpose": doc.pop("purpose", "verify"),
            "mode": doc.pop("mode", "suggest"), "state": state, "created_at": doc.pop("created_at", NOW.isoformat()),
            "doc": {"zone": "no-vending", "label": "stall", **doc}}  # fmt: skip


# the records, on SQLite and PostgreSQL
def test_records_on_both_databases(empty_store_url: str) -> None:
    store = create_store(empty_store_url)
    try:
        records = verification_store(store)
        store.insert_case(case_row(1))
        store.insert_case(case_row(2, grid_code="440104002001001"))
        records.add_verification(verification("V1", "C20261205-0001", created_at="2026-12-05T02:00:00+00:00"))
        records.add_verification(
            verification("V2", "C20261205-0001", "cleared", created_at="2026-12-05T02:01:00+00:00")
        )
        records.add_verification(
            verification("V3", "C20261205-0002", "present", created_at="2026-12-05T02:02:00+00:00")
        )
        records.add_verification(verification("V4", "C20261205-0002", "cleared", mode="auto",
                                              created_at="2026-12-05T02:03:00+00:00"))  # fmt: skip
        got = records.get_verification("V1")
        assert (
            got is not None
            and got["state"] == "checking"
            and got["zone"] == "no-vending"
            and got["decided_at"] is None
        )
        assert records.get_verification("nope") is None

        rows, total = records.list_verifications()
        assert total == 4 and [r["id"] for r in rows] == ["V4", "V3", "V2", "V1"]  # newest first
        assert [r["id"] for r in records.list_verifications(awaiting=True)[0]] == [
            "V3",
            "V2",
        ]  # suggest, decided
        assert [r["id"] for r in records.list_verifications(grid_prefix="440104")[0]] == ["V4", "V3"]
        assert [
            r["id"]
            for r in records.list_verifications(states=("cleared", "present"), grid_prefix="440103")[0]
        ] == ["V2"]
        assert [r["id"] for r in records.verifications_of("C20261205-0001")] == ["V2", "V1"]
        assert [r["id"] for r in records.checking()] == ["V1"]
        page, total = records.list_verifications(limit=1, offset=1)
        assert total == 4 and [r["id"] for r in page] == ["V3"]

        # a decision is a compare-and-set on the state; the doc merges
        first = records.update_verification("V2", state="confirmed", decided_by="officer", decided_at="t1",
                                            doc={"note": "ok"}, expect=("cleared", "present"))  # fmt: skip
        assert (
            first is not None
            and first["state"] == "confirmed"
            and first["note"] == "ok"
            and first["zone"] == "no-vending"
        )
        again = records.update_verification("V2", state="rejected", expect=("cleared", "present"))
        assert again is None
        stored = records.get_verification("V2")
        assert stored is not None and stored["state"] == "confirmed" and stored["decided_by"] == "officer"
        with pytest.raises(ValueError):
            records.update_verification("V1", state="bogus")

        # flags: once per case and kind
        assert records.add_flag(
            "C20261205-0001", "recurred", {"earlier_case_id": "C0"}, "2026-12-05T02:05:00+00:00"
        )
        assert not records.add_flag(
            "C20261205-0001", "recurred", {"earlier_case_id": "C9"}, "2026-12-05T02:06:00+00:00"
        )
        assert records.add_flag("C20261205-0001", "self_resolved", {}, "2026-12-05T02:07:00+00:00")
        flags = records.flags_of("C20261205-0001")
        assert [f["kind"] for f in flags] == ["recurred", "self_resolved"] and flags[0][
            "earlier_case_id"
        ] == "C0"
        assert [f["case_id"] for f in records.flags_by_kind("recurred")] == ["C20261205-0001"]

        # closed cases of a matter near a point (the recurrence check's candidates)
        store.insert_case(case_row(3, state=S.CLOSED, lon=113.30010, lat=23.10010))
        store.insert_case(case_row(4, state=S.CLOSED, lon=113.31000, lat=23.10000))  # a kilometre away
        store.insert_case(case_row(5, state=S.CLOSED, matter_code="0101"))
        near = records.closed_cases_near("0501", 113.3, 23.1, 30.0, NOW - timedelta(days=30))
        assert [c["id"] for c in near] == ["C20261205-0003"] and near[0]["updated_at"]
    finally:
        store.close()


# coverage
def camera(**over: Any) -> CameraConfig:
    raw = {"id": "cam-1", "url": "sim://street", "location": {"lon": 113.3, "lat": 23.1}, "heading": 90.0,
           "fov_deg": 60.0, "range_m": 50.0} | over  # fmt: skip
    return CameraConfig.model_validate(raw)


def test_a_camera_covers_what_lies_in_its_view() -> None:
    east = camera()  # looking east, 60° wide, 50 m
    metre = 1 / 111_320.0
    assert covers(east, 113.3 + 30 * metre / 0.92, 23.1)  # 30 m east, straight ahead
    assert not covers(east, 113.3 - 30 * metre / 0.92, 23.1)  # behind it
    assert not covers(east, 113.3 + 80 * metre / 0.92, 23.1)  # beyond its range
    assert not covers(east, 113.3, 23.1 + 30 * metre)  # 30 m north: 90° off its heading
    assert not covers(camera(heading=None), 113.3 + 30 * metre, 23.1)  # where it looks is unknown
    # ahead: the strip is the picture's middle; 20° right of ahead: right of the middle
    ahead = strip(east, 113.3 + 30 * metre / 0.92, 23.1, 1000, 500)
    assert ahead is not None and ahead[0] < 500 < ahead[2] and ahead[1] == 0 and ahead[3] == 500
    south_east = 113.3 + 30 * metre / 0.92, 23.1 - 30 * metre * 0.36  # ~20° right of east
    right = strip(east, *south_east, 1000, 500)
    assert right is not None and right[0] > 600


def test_a_check_is_planned_on_the_incidents_camera_or_one_that_covers_the_case() -> None:
    catalog = load_catalog(ROOT / "configs" / "matters.yaml")
    stall = catalog.get("0501")
    zone = {
        "name": "no-vending",
        "polygon": [[100, 100], [300, 100], [300, 200], [100, 200]],
        "rules": ["stall"],
    }
    own = camera(id="cam-own", heading=None, zones=[zone])
    other = camera(id="cam-other", location={"lon": 113.2999, "lat": 23.1})
    incident = {
        "camera_id": "cam-own",
        "rule": "stall",
        "zone": "no-vending",
        "label": "stall",
        "box": [150, 120, 200, 180],
    }
    settings = VerificationConfig()
    plan = plan_check(settings, [own, other], (113.3, 23.1), incident, stall, "verify")
    assert plan is not None and plan["camera_id"] == "cam-own" and plan["labels"] == ["stall"]
    assert plan["region"][0] < 150 and plan["region"][2] > 200 and plan["strip"] is None  # padded
    assert plan["hold_s"] == stall.verify_hold_s and plan["every_s"] == 0 and plan["zone"] == "no-vending"
    # the incident's camera is gone: one whose view holds the case's point, by a strip of its width
    plan = plan_check(settings, [other], (113.3, 23.1), incident, stall, "watch")
    assert plan is not None and plan["camera_id"] == "cam-other" and plan["region"] is None
    assert 0 <= plan["strip"][0] < plan["strip"][1] <= 1 and plan["every_s"] == settings.watch_every_s
    assert plan_check(settings, [], (113.3, 23.1), incident, stall, "verify") is None
    crowd = {
        "camera_id": "cam-own",
        "rule": "crowding",
        "zone": "plaza",
        "label": "person",
        "box": [0, 0, 5, 5],
    }
    plaza = camera(id="cam-own", zones=[{"name": "plaza", "polygon": [[0, 0], [600, 0], [600, 300]],
                                         "rules": ["crowding"], "min_count": 6}])  # fmt: skip
    plan = plan_check(settings, [plaza], (113.3, 23.1), crowd, catalog.get("0404"), "verify")
    assert (
        plan is not None
        and plan["labels"] == ["person"]
        and plan["min_count"] == 6
        and plan["region"][2] >= 600
    )


# the API
@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[Runtime, ServerThread]]:
    data = tmp_path_factory.mktemp("verify-api")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as server:
        yield rt, server


GRIDS = itertools.count(1)


def video_case_in_feedback(rt: Runtime) -> Case:
    """A stall case raised by video (each in a grid of its own, so none is a duplicate of
    another), sent, accepted and reported handled by its worker."""
    grid = rt.city.city.grids[next(GRIDS) * 3]
    intake = Intake(
        "video", grid.lon, grid.lat, rt.dispatcher.clock(), matter_code="0501", description="占道经营"
    )
    made = rt.dispatcher.intake(intake)
    assert made.created
    case = made.case
    if case.assignee is None:
        worker = next(w for w in rt.city.city.workers)
        case = rt.dispatcher.act(case.id, "dispatch", "officer", worker=worker.id)
    worker_id = case.assignee
    assert worker_id
    rt.dispatcher.act(case.id, "accept", worker_id)
    return rt.dispatcher.act(case.id, "feedback", worker_id, "已劝离")


def seeded(rt: Runtime, state: str = "cleared", mode: str = "suggest") -> tuple[Case, str]:
    case = video_case_in_feedback(rt)
    vid = f"V{datetime.now(UTC).timestamp() * 1000:.0f}-{case.id[-6:]}"
    outcome = state if state in ("cleared", "present", "unsure") else None
    row = verification(vid, case.id, state, mode=mode, outcome=outcome, grid_code=case.grid_code,
                       explanation="视频核查：禁摆区内60秒未见摊档" if outcome == "cleared" else "视频核查：禁摆区内摊档仍在",
                       after_url=f"/api/verifications/{vid}/after.jpg", before_url=None)  # fmt: skip
    verification_store(rt.store).add_verification(row)
    rt.snapshots.save(vid, JPEG)
    return case, vid


def test_workers_may_not_read_or_decide_but_see_their_cases_evidence(
    served: tuple[Runtime, ServerThread],
) -> None:
    rt, server = served
    case, vid = seeded(rt)
    assert case.assignee
    mine = server.headers(role="worker", worker_id=case.assignee)
    other = server.headers(role="worker", worker_id="W-nobody", user="w-nobody")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/api/verifications", headers=mine).status_code == 403
        assert http.get(f"/api/verifications/{vid}", headers=mine).status_code == 403
        assert http.post(f"/api/verifications/{vid}/confirm", headers=mine, json={}).status_code == 403
        after = http.get(f"/api/verifications/{vid}/after.jpg", headers=mine)
        assert (
            after.status_code in (200, 503) and after.status_code != 404
        )  # blurred (503 only without a blur model)
        assert http.get(f"/api/verifications/{vid}/after.jpg", headers=other).status_code == 404
        assert http.get(f"/api/verifications/{vid}/clip.mp4", headers=mine).status_code == 404  # none yet
        officer = http.get(f"/api/verifications/{vid}/after.jpg", headers=server.headers(role="officer"))
        assert officer.status_code == 200 and officer.content == JPEG


def test_confirm_verifies_the_case_once(served: tuple[Runtime, ServerThread]) -> None:
    rt, server = served
    case, vid = seeded(rt)
    officer = server.headers(role="officer")
    with httpx.Client(base_url=server.url, timeout=10, headers=officer) as http:
        assert http.get("/api/verifications/V0000000000000-none").status_code == 404
        assert http.post("/api/verifications/V0000000000000-none/confirm", json={}).status_code == 404
        listed = http.get("/api/verifications", params={"awaiting": "1"}).json()
        assert vid in [r["id"] for r in listed["items"]] and all(r["awaiting"] for r in listed["items"])
        assert http.get("/api/verifications", params={"state": "bogus"}).status_code == 400
        assert http.post(f"/api/verifications/{vid}/confirm", json={"note": 7}).status_code == 400
        done = http.post(f"/api/verifications/{vid}/confirm", json={"note": "现场已清理"})
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["verification"]["state"] == "confirmed" and body["verification"]["outcome"] == "cleared"
        assert body["verification"]["case_action"] == "verify" and not body["verification"]["awaiting"]
        assert body["case"]["state"] == "verified"
        last = body["case"]["timeline"][-1]
        assert (
            last["action"] == "verify"
            and "禁摆区内60秒未见摊档" in last["note"]
            and "现场已清理" in last["note"]
        )
        assert f"/api/verifications/{vid}/after.jpg" in body["case"]["photos"]
        again = http.post(f"/api/verifications/{vid}/confirm", json={})
        assert again.status_code == 409 and again.json()["error"] == "not awaiting a decision"
        assert http.post(f"/api/verifications/{vid}/reject", json={}).status_code == 409
        detail = http.get(f"/api/cases/{case.id}").json()
        assert [v["id"] for v in detail["verifications"]] == [vid] and detail["flags"] == []
        assert detail["verifications"][0]["state"] == "confirmed"


def test_confirm_of_present_returns_and_reject_changes_nothing(served: tuple[Runtime, ServerThread]) -> None:
    rt, server = served
    present_case, present = seeded(rt, "present")
    kept_case, rejected = seeded(rt, "cleared")
    _, auto = seeded(rt, "cleared", mode="auto")
    with httpx.Client(base_url=server.url, timeout=10, headers=server.headers(role="officer")) as http:
        back = http.post(f"/api/verifications/{present}/confirm", json={}).json()
        assert back["case"]["state"] == "dispatched" and back["case"]["returns"] == 1
        assert back["case"]["timeline"][-1]["note"].startswith("视频核查：禁摆区内摊档仍在")
        assert f"/api/verifications/{present}/after.jpg" in back["case"]["photos"]  # the worker sees why
        no = http.post(f"/api/verifications/{rejected}/reject", json={"note": "画面被遮挡"})
        assert no.status_code == 200 and no.json()["verification"]["state"] == "rejected"
        assert no.json()["case"]["state"] == "feedback" and no.json()["case"]["version"] == kept_case.version
        assert (
            http.post(f"/api/verifications/{auto}/confirm", json={}).status_code == 409
        )  # auto: nobody decides
    assert present_case.id != kept_case.id


def test_reads_are_scoped_by_jurisdiction(served: tuple[Runtime, ServerThread]) -> None:
    rt, server = served
    case, vid = seeded(rt)
    elsewhere = "9" * 6 if not case.grid_code.startswith("9") else "1" * 6
    outsider = server.headers(role="officer", user="officer-elsewhere", jurisdiction=elsewhere)
    insider = server.headers(role="officer", user="officer-here", jurisdiction=case.grid_code[:6])
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get(f"/api/verifications/{vid}", headers=outsider).status_code == 404
        assert http.post(f"/api/verifications/{vid}/reject", headers=outsider, json={}).status_code == 404
        assert vid not in [r["id"] for r in http.get("/api/verifications", headers=outsider).json()["items"]]
        assert http.get(f"/api/verifications/{vid}", headers=insider).json()["id"] == vid
        mine = http.get("/api/verifications", headers=insider, params={"case_id": case.id}).json()
        assert mine["total"] == 1 and mine["items"][0]["case_id"] == case.id


def test_the_case_detail_carries_flags(served: tuple[Runtime, ServerThread]) -> None:
    rt, server = served
    case = video_case_in_feedback(rt)
    verification_store(rt.store).add_flag(
        case.id, "recurred", {"earlier_case_id": "C20261201-0001"}, NOW.isoformat()
    )
    with httpx.Client(base_url=server.url, timeout=10, headers=server.headers(role="officer")) as http:
        detail = http.get(f"/api/cases/{case.id}").json()
    assert detail["flags"] == [
        {"kind": "recurred", "created_at": NOW.isoformat(), "earlier_case_id": "C20261201-0001"}
    ]
    assert detail["verifications"] == [] and detail["state"] == "feedback"
    assert json.loads(json.dumps(detail))  # plain JSON
    assert Path(rt.config.server.data_dir).exists()


# the service's own decisions, on the in-process bus (no camera: verdicts are handed in)
@pytest.fixture
def runtime(tmp_path: Path, small_city: City) -> Runtime:
    config = parse_config({"server": {"data_dir": str(tmp_path)}, "store": f"sqlite:///{tmp_path / 'cc.db'}"})
    return build_runtime(config, city=small_city)


def test_restart_asks_again_for_checks_left_running_and_cancels_moved_on_ones(runtime: Runtime) -> None:
    rt, records = runtime, verification_store(runtime.store)
    waiting, moved = video_case_in_feedback(rt), video_case_in_feedback(rt)
    rt.dispatcher.act(moved.id, "verify", "officer", "现场核实")
    request = {"id": "V1", "camera_id": "cam-1", "labels": ["stall"], "timeout_s": 300}
    records.add_verification(verification("V1", waiting.id, request=request, requested_at=0, timeout_s=300))
    records.add_verification(verification("V2", moved.id, request=request | {"id": "V2"}))

    async def restart() -> tuple[list[Any], int]:
        sub = rt.bus.subscribe(["verifications"], "test")
        await rt.verifications.resume()
        seen = [sub._queue.get_nowait() for _ in range(sub.backlog)]  # type: ignore[attr-defined]
        # no camera answers (the restart asked again just now): unsure once its timeout is long past
        assert await rt.verifications.sweep_once(time.time() + 60) == 0
        ended = await rt.verifications.sweep_once(time.time() + 300 + NO_VERDICT_GRACE_S + 1)
        return seen, ended

    seen, ended = asyncio.run(restart())
    asked = [e.data["id"] for e in seen if e.type == "verification.requested"]
    cancelled = [e.data["id"] for e in seen if e.type == "verification.cancelled"]
    assert asked == ["V1"] and cancelled == ["V2"]
    assert (records.get_verification("V2") or {})["state"] == "cancelled"
    assert ended == 1 and (records.get_verification("V1") or {})["state"] == "unsure"
    assert rt.store.get_case(waiting.id).state == S.FEEDBACK  # type: ignore[union-attr]  # people check it


def test_a_watch_that_saw_the_problem_go_flags_the_case_once(runtime: Runtime) -> None:
    rt, records = runtime, verification_store(runtime.store)
    grid = rt.city.city.grids[5]
    case = rt.dispatcher.intake(
        Intake("video", grid.lon, grid.lat, rt.dispatcher.clock(), matter_code="0501")
    ).case
    records.add_verification(
        verification("W1", case.id, purpose="watch", mode="auto", zone_name="禁摆区", label_name="摊档")
    )
    verdict = {"id": "W1", "outcome": "cleared", "ts": 1.0e9, "absent_s": 60.2, "looked_s": 75.0, "frames": 40,
               "present_frames": 0, "best_score": 0.0, "after_url": "/api/verifications/W1/after.jpg"}  # fmt: skip
    asyncio.run(rt.verifications.decided(verdict))
    asyncio.run(rt.verifications.decided(verdict))  # delivered twice: decided once
    flags = records.flags_of(case.id)
    assert [f["kind"] for f in flags] == ["self_resolved"] and flags[0]["verification_id"] == "W1"
    stored = rt.store.get_case(case.id)
    assert stored is not None and stored.state == case.state  # no state change
    notes = [e for e in stored.timeline if e.action == "video_check"]
    assert len(notes) == 1 and notes[0].actor == "video" and "禁摆区内60秒未见摊档" in notes[0].note
    assert (records.get_verification("W1") or {})["state"] == "cleared"


def test_a_new_video_case_where_one_was_closed_lately_is_flagged_recurred(runtime: Runtime) -> None:
    rt, records = runtime, verification_store(runtime.store)
    grid = rt.city.city.grids[7]
    now = datetime.now(UTC)
    old = replace(case_row(90, state=S.CLOSED, lon=grid.lon + 0.0001, lat=grid.lat, grid_code=grid.code),
                  created_at=now - timedelta(days=3), updated_at=now - timedelta(days=1))  # fmt: skip
    far = replace(case_row(91, state=S.CLOSED, lon=grid.lon + 0.01, lat=grid.lat, grid_code=grid.code),
                  created_at=now - timedelta(days=3), updated_at=now - timedelta(days=1))  # fmt: skip
    rt.store.insert_case(old)
    rt.store.insert_case(far)
    made = rt.dispatcher.intake(
        Intake("video", grid.lon, grid.lat, rt.dispatcher.clock(), matter_code="0501")
    )
    asyncio.run(rt.verifications.case_changed(rt.casework.case_view(made.case), created=True))
    flags = records.flags_of(made.case.id)
    assert [(f["kind"], f["earlier_case_id"]) for f in flags] == [("recurred", old.id)]
    assert flags[0]["distance_m"] < 30
    stored = rt.store.get_case(made.case.id)
    assert stored is not None and any("复发" in e.note and old.id in e.note for e in stored.timeline)

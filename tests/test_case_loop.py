"""The whole case loop and its branches on the real Dispatcher and SQLite store, then over HTTP:
every step, failed checks, deferral (缓办), transfer (转办), merge, overdue escalation, photos,
separation of duties, and 50 workers racing for one task. The clock is frozen on the Thursday
before a public holiday (from the config's work calendar) and a weekend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import CaseQuery, SQLiteStore
from dispatch.cases import ActorNotAllowed, Case, CaseState, InvalidTransition
from dispatch.catalog import load_catalog
from dispatch.city import City, GridIndex
from dispatch.dispatcher import BadParams, ConcurrentUpdate, Dispatcher, UnknownMatter
from dispatch.intake import Intake
from dispatch.kpi import kpis
from tests.helpers import ServerThread, build_runtime, serve_app

GZ = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=GZ)


# Thursday 17:00; Friday 2027-01-01 is a holiday in the config below, then the weekend.
T0 = local(2026, 12, 31, 17, 0)
# "0101" (exposed garbage) has 2 working hours: 1 on Thursday (17–18), 1 on Monday from 08:30.
DUE = local(2027, 1, 4, 9, 30)
SETTINGS = {
    "dispatch": {"calendar": {"holidays": ["2027-01-01"]}, "supervise_every_s": 3600, "max_photo_bytes": 100_000}
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def dispatcher(tmp_path: Path, small_city: City, clock: Clock) -> Dispatcher:
    config = parse_config({**SETTINGS, "server": {"data_dir": str(tmp_path)}})
    catalog = load_catalog(config.catalog)
    store = SQLiteStore(tmp_path / "cc.db")
    return Dispatcher(small_city, GridIndex(small_city), catalog, store, config.dispatch, clock=clock)


def report(d: Dispatcher, city: City, i: int, matter: str = "0101") -> Case:
    grid = city.grids[100 + 7 * i]  # apart: no two reports are one case
    case = d.intake(Intake("worker", grid.lon, grid.lat, T0, f"I{i}", matter_code=matter, description="seen")).case
    assert case.state == CaseState.DISPATCHED and case.assignee
    return case


def sweep(d: Dispatcher, when: datetime) -> list[str]:
    cases, _ = d.repo.list_cases(CaseQuery(open_only=True))  # type: ignore[attr-defined]
    return [s.kind for s in d.supervise(cases, when.astimezone(UTC))]


def test_time_limit_skips_the_holiday_and_weekend_then_escalates(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 0)
    assert case.deadline == DUE
    assert sweep(dispatcher, local(2027, 1, 1, 12, 0)) == []  # the holiday: no working time passes
    assert sweep(dispatcher, local(2027, 1, 3, 17, 0)) == []  # Sunday
    assert sweep(dispatcher, local(2027, 1, 4, 8, 59)) == []  # 1.48 of 2 hours
    assert sweep(dispatcher, local(2027, 1, 4, 9, 0)) == ["warning"]  # 75%
    assert sweep(dispatcher, local(2027, 1, 4, 9, 31)) == ["overdue"]
    assert sweep(dispatcher, local(2027, 1, 4, 11, 0)) == []  # once per deadline
    stored = dispatcher.get(case.id)
    assert stored.level == 1 and stored.state == CaseState.DISPATCHED
    assert stored.timeline[-1].note == f"overdue: supervised by {case.grid_code[:12]}000"


def test_a_failed_check_returns_the_case_and_is_counted(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 1)
    worker = case.assignee or ""
    for round_ in (1, 2):
        dispatcher.act(case.id, "accept", worker)
        dispatcher.act(case.id, "feedback", worker, "cleared")
        with pytest.raises(ActorNotAllowed):
            dispatcher.act(case.id, "return", worker, "not clean")  # the handler cannot judge himself
        returned = dispatcher.act(case.id, "return", "checker", "photo shows rubbish left")
        assert returned.state == CaseState.DISPATCHED and returned.returns == round_ and returned.assignee == worker
    dispatcher.act(case.id, "accept", worker)
    dispatcher.act(case.id, "feedback", worker, "cleared, really")
    closed = dispatcher.act(case.id, "close", "checker", "ok")
    (row,) = kpis([closed], "worker")
    assert row.reworked == 1 and row.closed == 1 and row.rework_rate == 1.0


def test_the_handler_cannot_verify_or_close_his_own_work(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 2)
    worker = case.assignee or ""
    dispatcher.act(case.id, "accept", worker)
    done = dispatcher.act(case.id, "feedback", worker, "done")
    for action in ("verify", "close", "return"):
        with pytest.raises(ActorNotAllowed, match="someone other than who gave the feedback"):
            dispatcher.act(case.id, action, worker, "looks fine to me")
    assert dispatcher.get(case.id).version == done.version  # refused: nothing stored
    verified = dispatcher.act(case.id, "verify", "checker")
    with pytest.raises(ActorNotAllowed):
        dispatcher.act(case.id, "close", worker)
    assert dispatcher.act(case.id, "close", "officer").version == verified.version + 1


def test_deferral_stops_the_clock_until_its_date(dispatcher: Dispatcher, small_city: City, clock: Clock) -> None:
    case = report(dispatcher, small_city, 3)
    clock.now = local(2026, 12, 31, 17, 30)
    dispatcher.act(case.id, "accept", case.assignee or "")
    # One working day on hold from Thursday 17:30: 0.5 h Thursday, then Monday until 17:30.
    deferred = dispatcher.act(case.id, "defer", "officer", "waiting for the sanitation truck", days=1)
    assert deferred.state == CaseState.DEFERRED
    assert deferred.deferred_until == local(2027, 1, 4, 17, 30)
    # 1.5 h were left at 17:30 Thursday; they restart when the hold ends: Monday 17:30 → Tuesday 09:30.
    assert deferred.deadline == local(2027, 1, 5, 9, 30)
    assert deferred.to_dict()["deferred_until"] == deferred.deferred_until.isoformat()
    assert deferred.timeline[-1].note.endswith("(until 2027-01-04 17:30; deadline 2027-01-05 09:30)")
    assert sweep(dispatcher, DUE + timedelta(minutes=30)) == []  # past the old deadline: on hold, no escalation
    assert sweep(dispatcher, local(2027, 1, 4, 17, 0)) == []  # nor a warning
    assert sweep(dispatcher, local(2027, 1, 4, 17, 31)) == ["resumed"]
    resumed = dispatcher.get(case.id)
    assert resumed.state == CaseState.ACCEPTED and resumed.deferred_until is None
    assert resumed.deadline == local(2027, 1, 5, 9, 30) and resumed.timeline[-1].actor == "supervision"
    assert sweep(dispatcher, local(2027, 1, 5, 9, 10)) == ["warning"]  # 75% of what was left, hold excluded
    assert sweep(dispatcher, local(2027, 1, 5, 9, 31)) == ["overdue"]
    (row,) = kpis([dispatcher.get(case.id)], "grid")
    assert row.deferred == 1  # 缓办 leaves the due count
    worker = case.assignee or ""
    dispatcher.act(case.id, "feedback", worker, "done at last")
    closed = dispatcher.act(case.id, "close", "checker", "ok")
    (row,) = kpis([closed], "grid")  # closed after its deferral: due and closed, not over 100 %
    assert (row.deferred, row.closed, row.closure_rate) == (0, 1, 1.0)


def test_deferral_until_a_date_and_early_resume(dispatcher: Dispatcher, small_city: City, clock: Clock) -> None:
    case = report(dispatcher, small_city, 4)
    worker = case.assignee or ""
    with pytest.raises(InvalidTransition):  # not before someone has accepted the task
        dispatcher.act(case.id, "defer", "officer", "why", hours=4)
    clock.now = local(2026, 12, 31, 17, 30)
    dispatcher.act(case.id, "accept", worker)
    dispatcher.act(case.id, "start", worker)
    for bad in ({"hours": 2, "days": 1}, {}, {"hours": -1}, {"until": T0}, {"days": True}):
        with pytest.raises(BadParams):
            dispatcher.act(case.id, "defer", "officer", "why", **bad)
    held = dispatcher.act(case.id, "defer", "officer", "road closed", until=datetime(2027, 1, 5, 9, 0))  # local
    assert held.deferred_until == local(2027, 1, 5, 9, 0) and held.deadline == local(2027, 1, 5, 10, 30)
    longer = dispatcher.act(case.id, "defer", "officer", "still closed", until=datetime(2027, 1, 6, 9, 0))
    assert longer.state == CaseState.DEFERRED and longer.deadline == local(2027, 1, 6, 10, 30)
    with pytest.raises(InvalidTransition):
        dispatcher.act(case.id, "feedback", worker, "done")  # on hold: resume first
    clock.now = local(2027, 1, 4, 10, 0)
    resumed = dispatcher.act(case.id, "resume", worker, "road open again")
    assert resumed.state == CaseState.IN_PROGRESS  # back to the step it left
    assert resumed.deadline == local(2027, 1, 4, 11, 30) and resumed.deferred_until is None  # 1.5 h from now
    with pytest.raises(InvalidTransition):
        dispatcher.act(case.id, "resume", worker)


def test_transfer_to_the_department(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 5, matter="0105")  # open-air barbecue: the department's
    matter = dispatcher.catalog.get("0105")
    assert matter.handler == "department"
    dispatcher.act(case.id, "accept", case.assignee or "")
    with pytest.raises(BadParams, match="unknown department") as info:
        dispatcher.act(case.id, "transfer", case.assignee or "", department="Ministry of Magic")
    assert matter.department in info.value.detail  # type: ignore[operator]
    moved = dispatcher.act(case.id, "transfer", case.assignee or "", "needs enforcement")
    assert moved.state == CaseState.DISPATCHED
    assert moved.assignee == moved.department == matter.department
    assert moved.timeline[-1].note == f"to {matter.department}: needs enforcement"
    assert moved.deadline == case.deadline  # a transfer does not restart the time limit
    for action in ("accept", "start"):
        dispatcher.act(case.id, action, matter.department)
    dispatcher.act(case.id, "feedback", matter.department, "stall removed")
    closed = dispatcher.act(case.id, "close", "checker", "ok")
    assert closed.state == CaseState.CLOSED
    other = report(dispatcher, small_city, 6)
    dispatcher.act(other.id, "accept", other.assignee or "")
    assert dispatcher.act(other.id, "transfer", "officer", department="水务局").assignee == "水务局"


def test_merge_moves_the_incidents_to_the_surviving_case(dispatcher: Dispatcher, small_city: City) -> None:
    a, b, done = report(dispatcher, small_city, 7), report(dispatcher, small_city, 8), report(dispatcher, small_city, 9)
    merged = dispatcher.act(a.id, "merge", "officer", "same pile", into=b.id)
    assert merged.state == CaseState.MERGED and merged.merged_into == b.id and not merged.is_open
    survivor = dispatcher.get(b.id)
    assert survivor.incident_ids == (*b.incident_ids, *a.incident_ids)
    assert survivor.timeline[-1].action == "attach" and a.id in survivor.timeline[-1].note
    dispatcher.act(done.id, "merge", "officer", into=b.id)
    for into in (done.id, "C-none", b.id):  # no longer open, missing, itself
        with pytest.raises(BadParams):
            dispatcher.act(b.id, "merge", "officer", into=into)
    with pytest.raises(InvalidTransition):
        dispatcher.act(a.id, "merge", "officer", into=b.id)  # merged already


def test_out_of_order_changes_nothing_and_unknown_matter_is_refused(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 10)
    with pytest.raises(InvalidTransition) as info:
        dispatcher.act(case.id, "close", "officer")
    assert info.value.allowed == ["accept", "escalate", "merge", "reassign", "reclassify", "cancel"]
    assert dispatcher.get(case.id) == case
    with pytest.raises(ConcurrentUpdate):
        dispatcher.act(case.id, "accept", case.assignee or "", expected_version=case.version - 1)
    grid = small_city.grids[5]
    with pytest.raises(UnknownMatter):
        dispatcher.intake(Intake("worker", grid.lon, grid.lat, T0, matter_code="9998"))


def race(n: int, attempt: Callable[[int], object]) -> list[object]:
    """Run attempt(0..n-1) on n threads released at the same instant; returns results or errors."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt(i)
        except Exception as exc:  # noqa: BLE001 - the errors are what we count
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_fifty_workers_accept_one_task_and_one_wins(dispatcher: Dispatcher, small_city: City) -> None:
    case = report(dispatcher, small_city, 11)
    results = race(50, lambda i: dispatcher.act(case.id, "accept", f"W{i}"))
    winners = [r for r in results if isinstance(r, Case)]
    losers = [r for r in results if isinstance(r, InvalidTransition | ConcurrentUpdate)]
    assert len(winners) == 1 and len(losers) == 49, results
    stored = dispatcher.get(case.id)
    assert [e.action for e in stored.timeline].count("accept") == 1
    assert stored.timeline[-1].actor == winners[0].timeline[-1].actor  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime, Clock]]:
    data = tmp_path_factory.mktemp("loop")
    config = parse_config({**SETTINGS, "server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    clock = Clock(T0)
    rt.dispatcher.clock = clock
    with serve_app(rt) as srv:
        yield srv, rt, clock


@pytest.fixture
def http(served: tuple[ServerThread, Runtime, Clock]) -> Iterator[httpx.Client]:
    served[2].now = T0
    with httpx.Client(base_url=served[0].url, timeout=30, headers=served[0].headers()) as client:
        yield client


def new_case(http: httpx.Client, city: City, i: int, matter: str = "0101") -> dict:
    grid = city.grids[400 + 7 * i]
    body = {"matter_code": matter, "lon": grid.lon, "lat": grid.lat, "description": "rubbish at the gate"}
    created = http.post("/api/cases", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def png(w: int = 64, h: int = 48, noise: bool = False) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, (h, w, 3), np.uint8) if noise else np.full((h, w, 3), 90, np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def test_every_step_over_http(http: httpx.Client, small_city: City, served: tuple) -> None:
    case = new_case(http, small_city, 0)
    url, worker = f"/api/cases/{case['id']}", case["assignee"]
    # Each acts under their own login: the actor is always the signed-in user.
    as_worker, officer = served[0].headers(role="worker", worker_id=worker), served[0].headers(role="officer")
    assert case["state"] == "dispatched" and datetime.fromisoformat(case["deadline"]) == DUE
    assert case["overdue"] is False and case["photos"] == []
    for action, state in (("accept", "accepted"), ("start", "in_progress")):
        assert http.post(f"{url}/{action}", json={"actor": worker}, headers=as_worker).json()["state"] == state
    photo = http.post(f"{url}/photos", content=png(), headers={"content-type": "image/png"})
    assert photo.status_code == 201, photo.text
    served = http.get(photo.json()["url"])
    assert served.headers["content-type"] == "image/jpeg" and served.content[:3] == b"\xff\xd8\xff"
    assert photo.json()["sent_as"] == "png" and (photo.json()["width"], photo.json()["height"]) == (64, 48)
    body = {"note": "cleared", "photos": [photo.json()["id"]]}
    fed = http.post(f"{url}/feedback", json=body, headers=as_worker).json()
    assert fed["state"] == "feedback" and fed["photos"] == [photo.json()["url"]] and fed["handled_by"] == worker
    own = http.post(f"{url}/verify", json={"actor": worker}, headers=as_worker)
    assert own.status_code == 403 and "checks" in own.json()["detail"]["reason"]  # checks are for officers
    assert http.get(url).json()["version"] == fed["version"]
    for action, state in (("verify", "verified"), ("close", "closed"), ("evaluate", "evaluated")):
        assert http.post(f"{url}/{action}", json={"note": "ok"}, headers=officer).json()["state"] == state
    timeline = [e["action"] for e in http.get(url).json()["timeline"]]
    assert timeline == ["report", "register", "dispatch", "accept", "start", "feedback", "verify", "close", "evaluate"]


def test_branches_over_http(http: httpx.Client, small_city: City, served: tuple) -> None:
    case = new_case(http, small_city, 1, matter="0105")
    url, worker = f"/api/cases/{case['id']}", case["assignee"]
    officer = served[0].headers(role="officer")
    http.post(f"{url}/accept", json={"actor": worker})
    assert http.post(f"{url}/defer", json={"actor": "officer", "hours": 4}).status_code == 400  # no reason
    held = http.post(f"{url}/defer", json={"actor": "officer", "note": "rain", "until": "2027-01-04T12:00:00+08:00"})
    assert held.json()["state"] == "deferred" and held.json()["deferred_until"] == local(2027, 1, 4, 12).isoformat()
    assert "resume" in held.json()["allowed_actions"]
    assert http.post(f"{url}/resume", json={"actor": worker}).json()["state"] == "accepted"
    unknown = http.post(f"{url}/transfer", json={"actor": worker, "department": "Ministry of Magic"})
    assert unknown.status_code == 400 and "城市管理和综合执法局" in unknown.json()["detail"]
    moved = http.post(f"{url}/transfer", json={"actor": worker, "note": "enforcement needed"}).json()
    assert moved["assignee"] == moved["department"] == "城市管理和综合执法局" and moved["state"] == "dispatched"
    other = new_case(http, small_city, 2)
    merged = http.post(f"/api/cases/{other['id']}/merge", json={"actor": "officer", "into": case["id"]}).json()
    assert merged["state"] == "merged" and merged["merged_into"] == case["id"]
    returned = http.post(f"{url}/accept", json={"actor": "城市管理和综合执法局"})
    assert returned.status_code == 200
    http.post(f"{url}/feedback", json={"actor": "城市管理和综合执法局", "note": "done"})
    # The department's work was recorded by the admin (on its behalf): another user checks it.
    back = http.post(f"{url}/return", json={"note": "stall is back"}, headers=officer).json()
    assert back["state"] == "dispatched" and back["returns"] == 1


@pytest.mark.parametrize(
    ("i", "path", "body", "status", "error"),
    [
        (10, "close", {"actor": "officer"}, 409, "invalid transition"),
        (11, "transfer", {"actor": "officer", "department": "Ministry of Magic"}, 409, "invalid transition"),
        (12, "defer", {"actor": "officer"}, 400, "defer needs a note"),
        (13, "merge", {"into": "C-none"}, 404, "case to merge into not found"),
        (14, "feedback", {"note": "x", "photos": ["P000000000000"]}, 400, "unknown photo"),
        (15, "accept", {"version": "one"}, 400, "bad field 'version'"),
        (16, "accept", {"version": 0}, 409, "case changed meanwhile"),
    ],
)
def test_bad_actions_over_http_change_nothing(
    http: httpx.Client, small_city: City, i: int, path: str, body: dict, status: int, error: str
) -> None:
    case = new_case(http, small_city, i)
    response = http.post(f"/api/cases/{case['id']}/{path}", json=body)
    assert response.status_code == status and response.json()["error"] == error, response.text
    assert http.get(f"/api/cases/{case['id']}").json()["version"] == case["version"]


def test_bad_reports_and_photos_over_http(http: httpx.Client, small_city: City, served: tuple) -> None:
    grid = small_city.grids[3]
    unknown = http.post("/api/cases", json={"matter_code": "9998", "lon": grid.lon, "lat": grid.lat})
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown matter_code"
    assert http.post("/api/cases", json={"matter_code": "0101", "lon": 200, "lat": 0}).status_code == 400
    assert http.post("/api/cases", json={"matter_code": "0101", "lon": 0.0, "lat": 0.0}).status_code == 400
    case = new_case(http, small_city, 30)
    url, worker = f"/api/cases/{case['id']}", case["assignee"]
    folder = served[1].config.server.data_dir / "photos" / case["id"]
    too_big = http.post(f"{url}/photos", content=png(400, 400, noise=True), headers={"content-type": "image/png"})
    assert too_big.status_code == 413 and "at most" in too_big.json()["detail"]  # refused while read
    fake = http.post(f"{url}/photos", content=b"GIF89a not really", headers={"content-type": "image/jpeg"})
    assert fake.status_code == 415 and "JPEG, PNG or WebP" in fake.json()["detail"]
    chunked = http.post(f"{url}/photos", content=iter([png(400, 400, noise=True)]), headers={"content-type": "image/png"})
    assert chunked.status_code == 413  # no declared length: cut off while reading
    broken = http.post(f"{url}/photos", content=png()[:40], headers={"content-type": "image/png"})
    assert broken.status_code == 415
    assert http.post(f"{url}/photos", content=b"<svg/>", headers={"content-type": "image/svg+xml"}).status_code == 415
    assert not folder.exists() or not list(folder.iterdir())  # nothing stored
    jpeg = cv2.imencode(".jpg", np.zeros((30, 40, 3), np.uint8))[1].tobytes()
    form = http.post(f"{url}/photos", files={"photo": ("site.jpg", jpeg, "image/jpeg")})
    assert form.status_code == 201 and form.json()["sent_as"] == "jpeg"
    webp = cv2.imencode(".webp", np.zeros((30, 40, 3), np.uint8))[1].tobytes()
    assert http.post(f"{url}/photos", content=webp, headers={"content-type": "image/webp"}).status_code == 201
    assert len(list(folder.iterdir())) == 2 and len(http.get(f"{url}/photos").json()["items"]) == 2
    http.post(f"{url}/accept", json={"actor": worker})
    wrong = http.post(f"{url}/feedback", json={"actor": worker, "note": "x", "photos": ["P999999999999"]})
    assert wrong.status_code == 400 and wrong.json()["error"] == "unknown photo"
    assert http.get(f"{url}/photos/../../cc.db").status_code == 404
    assert http.get(f"{url}/photos/P999999999999.jpg").status_code == 404


def test_fifty_workers_accept_over_http(http: httpx.Client, small_city: City, served: tuple) -> None:
    case = new_case(http, small_city, 40)
    url = f"{served[0].url}/api/cases/{case['id']}/accept"
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=60), headers=served[0].headers()) as pool:
        results = race(50, lambda i: pool.post(url, json={"actor": f"W{i}"}))
    codes = sorted(r.status_code for r in results if isinstance(r, httpx.Response))
    assert codes == [200] + [409] * 49, results
    errors = {r.json()["error"] for r in results if isinstance(r, httpx.Response) and r.status_code == 409}
    assert errors <= {"invalid transition", "case changed meanwhile"}
    timeline = http.get(f"/api/cases/{case['id']}").json()["timeline"]
    assert [e["action"] for e in timeline].count("accept") == 1

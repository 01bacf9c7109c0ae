"""The case loop: transitions, the durable store, and intake → grid → worker."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from command_center.store import CaseQuery, SQLiteStore
from dispatch.cases import (
    ActorNotAllowed,
    Case,
    CaseState,
    InvalidTransition,
    TimelineEntry,
    UnknownAction,
    allowed_actions,
    check_actor,
    transition,
)
from dispatch.catalog import load_catalog
from dispatch.city import City, GridIndex
from dispatch.dispatcher import Dispatcher
from dispatch.intake import Intake
from tests.helpers import ROOT

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # 14:00 in Guangzhou: day shift


def make_case(state: CaseState = CaseState.DISPATCHED) -> Case:
    return Case(
        id="C1", state=state, matter_code="X", grid_code="440106001001001", source="video",
        created_at=NOW, deadline=NOW + timedelta(hours=4), lon=113.3, lat=23.1, assignee="W1",
    )


def test_full_loop_in_order() -> None:
    case = make_case()
    for action, expected in [
        ("accept", "accepted"), ("start", "in_progress"), ("feedback", "feedback"),
        ("verify", "verified"), ("close", "closed"), ("evaluate", "evaluated"),
    ]:
        case, entry = transition(case, action, "W1", now=NOW)
        assert case.state == expected
        assert entry.to_state == expected
    assert [e.action for e in case.timeline] == ["accept", "start", "feedback", "verify", "close", "evaluate"]
    assert case.version == 6
    assert not case.is_open


def test_invalid_transition_lists_allowed_next_actions() -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(make_case(CaseState.DISPATCHED), "close", "officer")
    assert info.value.allowed == ["accept", "escalate", "merge", "reassign", "reclassify", "cancel"]
    assert allowed_actions("feedback") == ["verify", "close", "return", "escalate", "merge", "reclassify"]
    with pytest.raises(UnknownAction):
        transition(make_case(), "teleport", "x")


def test_failed_check_returns_and_counts() -> None:
    case, _ = transition(make_case(CaseState.FEEDBACK), "return", "officer", "photo does not show the site")
    assert case.state == CaseState.DISPATCHED and case.returns == 1


def test_defer_holds_and_resume_returns_to_the_step_it_left() -> None:
    assert allowed_actions("accepted") == [
        "start", "feedback", "escalate", "merge", "defer", "transfer", "reassign", "reclassify", "cancel"
    ]
    until = NOW + timedelta(days=3)
    case, _ = transition(make_case(CaseState.IN_PROGRESS), "defer", "officer", "no budget yet", deferred_until=until)
    assert case.state == CaseState.DEFERRED
    assert allowed_actions(case.state) == ["escalate", "merge", "defer", "resume", "reclassify", "cancel"]
    case, _ = transition(case, "defer", "officer", "still waiting", deferred_until=until + timedelta(days=1))
    resumed, entry = transition(case, "resume", "W1", deferred_until=None)
    assert resumed.state == entry.to_state == CaseState.IN_PROGRESS and resumed.deferred_until is None


def test_transfer_hands_the_case_to_a_department() -> None:
    for state in (CaseState.REGISTERED, CaseState.ACCEPTED, CaseState.IN_PROGRESS):
        case, _ = transition(make_case(state), "transfer", "officer", "to 水务局", assignee="水务局", department="水务局")
        assert case.state == CaseState.DISPATCHED and case.assignee == "水务局"
    with pytest.raises(InvalidTransition):
        transition(make_case(CaseState.FEEDBACK), "transfer", "officer")


def test_the_handler_may_not_check_his_own_feedback() -> None:
    case, _ = transition(make_case(CaseState.IN_PROGRESS), "feedback", "W1", "done")
    for action in ("verify", "close", "return"):
        with pytest.raises(ActorNotAllowed) as info:
            check_actor(case, action, "W1")
        assert info.value.reason.startswith("the check must be made by someone other")
        check_actor(case, action, "officer")
    check_actor(case, "escalate", "W1")  # only checks are reserved


def test_new_fields_survive_a_round_trip() -> None:
    case = make_case()
    case, _ = transition(case, "accept", "W1", now=NOW)
    case, _ = transition(case, "defer", "officer", "rain", now=NOW, deferred_until=NOW + timedelta(days=1))
    case = replace(case, department="水务局", photos=("/api/cases/C1/photos/P0123456789ab.jpg",))
    assert Case.from_dict(case.to_dict()) == case


def test_escalate_keeps_step_and_raises_level() -> None:
    case, _ = transition(make_case(CaseState.ACCEPTED), "escalate", "system")
    assert case.state == CaseState.ACCEPTED and case.level == 1


def test_closed_case_cannot_be_escalated() -> None:
    with pytest.raises(InvalidTransition):
        transition(make_case(CaseState.CLOSED), "escalate", "officer")


def test_store_round_trip_and_timeline(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cc.db")
    case = make_case()
    store.insert_case(case)
    accepted, entry = transition(case, "accept", "W1", now=NOW)
    assert store.save_transition(accepted, entry)
    store.close()
    # A new connection sees what the first acknowledged: it is on disk.
    reopened = SQLiteStore(tmp_path / "cc.db")
    loaded = reopened.get_case("C1")
    assert loaded is not None and loaded.state == CaseState.ACCEPTED
    assert [e.action for e in loaded.timeline] == ["accept"]
    assert reopened.open_counts(["W1", "W2"]) == {"W1": 1}
    items, total = reopened.list_cases(CaseQuery(open_only=True, assignee="W1"))
    assert total == 1 and items[0].id == "C1"


def test_only_one_accept_wins(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cc.db")
    store.insert_case(make_case())
    base = store.get_case("C1")
    assert base is not None
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def accept(worker: str) -> None:
        updated, entry = transition(base, "accept", worker)
        barrier.wait()
        results.append(store.save_transition(updated, entry))

    threads = [threading.Thread(target=accept, args=(f"W{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    final = store.get_case("C1")
    assert final is not None and len(final.timeline) == 1


@pytest.fixture
def dispatcher(tmp_path: Path, small_city: City) -> Dispatcher:
    catalog = load_catalog(ROOT / "configs" / "matters.yaml")
    return Dispatcher(small_city, GridIndex(small_city), catalog, SQLiteStore(tmp_path / "cc.db"))


def test_intake_routes_to_the_grid_and_an_on_duty_worker(dispatcher: Dispatcher, small_city: City) -> None:
    grid = small_city.grids[len(small_city.grids) // 2]
    result = dispatcher.intake(
        Intake(source="video", lon=grid.lon, lat=grid.lat, ts=NOW, ref_id="I1", rule="illegal_parking", label="vehicle")
    )
    case = result.case
    assert result.created
    assert case.grid_code == grid.code and len(case.grid_code) == 15
    assert case.state == CaseState.DISPATCHED
    worker = next(w for w in small_city.workers if w.id == case.assignee)
    assert worker.on_duty(datetime.now(dispatcher.tz))
    assert worker.grid_code.startswith(grid.code[:12])  # the grid's own, or its community's fallback
    assert case.matter_code == dispatcher.catalog.match("illegal_parking", "vehicle").code
    assert [e.action for e in case.timeline] == ["report", "register", "dispatch"]
    assert dispatcher.repo.get_case(case.id) is not None


def test_nearby_duplicate_merges_into_the_open_case(dispatcher: Dispatcher, small_city: City) -> None:
    grid = small_city.grids[10]
    first = dispatcher.intake(Intake("video", grid.lon, grid.lat, NOW, "I1", "illegal_parking", "vehicle"))
    again = dispatcher.intake(Intake("video", grid.lon + 0.0001, grid.lat, NOW, "I2", "illegal_parking", "vehicle"))
    other = dispatcher.intake(Intake("video", grid.lon, grid.lat, NOW, "I3", "fire", "fire"))
    assert again.created is False and again.case.id == first.case.id
    assert again.case.incident_ids == ("I1", "I2")
    assert other.created and other.case.id != first.case.id


def test_a_taken_case_id_is_drawn_again_not_dropped(
    dispatcher: Dispatcher, small_city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case ids are random: should one be taken, the intake stores its case under another
    (before, the store's refusal dropped the incident, acknowledged and in no case)."""
    near, far = small_city.grids[5], small_city.grids[-5]
    first = dispatcher.intake(Intake("video", near.lon, near.lat, NOW, "I1", "fire", "fire"))
    draws = iter([first.case.id, "C-fresh"])
    monkeypatch.setattr("dispatch.dispatcher.new_case_id", lambda _now: next(draws))
    second = dispatcher.intake(Intake("video", far.lon, far.lat, NOW, "I2", "fire", "fire"))
    assert second.created and second.case.id == "C-fresh"
    stored = dispatcher.repo.get_case("C-fresh")
    assert stored is not None and stored.incident_ids == ("I2",)
    kept = dispatcher.repo.get_case(first.case.id)
    assert kept is not None and kept.incident_ids == ("I1",)  # the first case untouched


def test_stale_update_is_refused(dispatcher: Dispatcher, small_city: City) -> None:
    grid = small_city.grids[20]
    case = dispatcher.intake(Intake("video", grid.lon, grid.lat, NOW, "I9", "fire", "fire")).case
    stale_accept, entry = transition(case, "accept", "someone")
    dispatcher.act(case.id, "accept", case.assignee or "w")
    assert dispatcher.repo.save_transition(stale_accept, entry) is False
    with pytest.raises(InvalidTransition):
        dispatcher.act(case.id, "accept", "late-worker")


def test_to_dict_round_trips_every_field() -> None:
    """to_dict is written field by field (for speed): a field added to Case must be added there too."""
    from dataclasses import fields

    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    case = Case(
        id="C1", state=CaseState.DEFERRED, matter_code="0101", grid_code="440103001001001", source="video",
        created_at=now, deadline=now, lon=113.3, lat=23.1, assignee="w1", incident_ids=("i1",), description="d",
        snapshot_url="/s.jpg", external_media_url="https://elsewhere.example/p.jpg", level=2, returns=1, merged_into="C0", deferred_until=now, department="城管",
        photos=("/p.jpg",), urgency="immediate", confirm_by=now, version=3, updated_at=now,
        timeline=(TimelineEntry(now, "report", "cam", CaseState.REPORTED, CaseState.REPORTED, "n"),),
        device_id="sm-1", device_name="烟感", device_kind="smoke",
    )
    assert all(getattr(case, f.name) not in (None, (), 0, "") for f in fields(Case))
    assert Case.from_dict(case.to_dict()) == case

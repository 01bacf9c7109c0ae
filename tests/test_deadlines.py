"""Working-time limits, 75% warnings and overdue supervision (督办), from stored times."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from command_center.store import CaseQuery, SQLiteStore
from dispatch.calendar import CalendarConfig, WorkCalendar
from dispatch.catalog import load_catalog
from dispatch.city import City, GridIndex
from dispatch.dispatcher import Dispatcher
from dispatch.intake import Intake
from tests.helpers import ROOT

GZ = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=GZ)


def test_working_hours_skip_lunch_nights_and_weekends() -> None:
    cal = WorkCalendar()  # 08:30–12:00, 14:00–18:00, Mon–Fri
    assert cal.hours_per_day == 7.5
    assert cal.add_hours(at(2026, 11, 25, 11, 0), 2) == at(2026, 11, 25, 15, 0)  # over lunch
    assert cal.add_hours(at(2026, 11, 27, 17, 0), 4) == at(2026, 11, 30, 11, 30)  # Friday → Monday
    assert cal.add_hours(at(2026, 11, 28, 10, 0), 1) == at(2026, 11, 30, 9, 30)  # reported on a Saturday
    assert cal.add_days(at(2026, 11, 27, 17, 0), 1) == at(2026, 11, 30, 17, 0)


def test_holidays_and_make_up_days() -> None:
    config = CalendarConfig(holidays=[date(2026, 10, 1), date(2026, 10, 2)], workdays=[date(2026, 10, 10)])
    cal = WorkCalendar(config)
    assert cal.add_hours(at(2026, 9, 30, 17, 0), 2) == at(2026, 10, 5, 9, 30)  # National Day off
    assert cal.is_working_day(date(2026, 10, 10))  # a Saturday worked (调休)


def test_hours_between_inverts_add_hours() -> None:
    cal = WorkCalendar()
    rng = random.Random(3)
    for _ in range(200):
        start = at(2026, 11, 1, 0, 0) + timedelta(minutes=rng.randrange(60 * 24 * 30))
        hours = rng.uniform(0.1, 60)
        assert cal.hours_between(start, cal.add_hours(start, hours)) == pytest.approx(hours, abs=1e-6)


def test_bad_calendar_is_rejected() -> None:
    with pytest.raises(ValidationError, match="must be in order and not overlap"):
        CalendarConfig(work_hours=[("08:00", "12:00"), ("11:00", "13:00")])
    with pytest.raises(ValidationError, match="end after it starts"):
        CalendarConfig(work_hours=[("12:00", "08:00")])


@pytest.fixture
def dispatcher(tmp_path: Path, small_city: City) -> Dispatcher:
    catalog = load_catalog(ROOT / "configs" / "matters.yaml")
    return Dispatcher(small_city, GridIndex(small_city), catalog, SQLiteStore(tmp_path / "cc.db"))


def test_warning_then_overdue_escalation_once_each(dispatcher: Dispatcher, small_city: City) -> None:
    grid = small_city.grids[30]
    case = dispatcher.intake(Intake("video", grid.lon, grid.lat, datetime.now(UTC), "I1", "illegal_parking", "vehicle")).case
    cal = dispatcher.calendar
    start = case.created_at
    total = cal.hours_between(start, case.deadline)
    assert total == pytest.approx(dispatcher.catalog.match("illegal_parking", "vehicle").time_limit.hours or 0, abs=1e-6)

    def sweep(now: datetime) -> list[str]:
        cases, _ = dispatcher.repo.list_cases(CaseQuery(open_only=True))  # type: ignore[attr-defined]
        return [s.kind for s in dispatcher.supervise(cases, now)]

    assert sweep(cal.add_hours(start, total * 0.5)) == []
    assert sweep(cal.add_hours(start, total * 0.8)) == ["warning"]
    assert sweep(cal.add_hours(start, total * 0.9)) == []  # warned once
    overdue = cal.add_hours(start, total * 1.01)
    assert sweep(overdue) == ["overdue"]
    assert sweep(overdue + timedelta(minutes=5)) == []
    stored = dispatcher.get(case.id)
    assert stored.level == 1 and stored.state == case.state
    escalation = stored.timeline[-1]
    assert escalation.action == "escalate" and escalation.actor == "supervision"
    assert f"supervised by {grid.code[:12]}000" in escalation.note  # the grid's community


def test_supervision_survives_a_restart(tmp_path: Path, small_city: City) -> None:
    catalog = load_catalog(ROOT / "configs" / "matters.yaml")
    first = Dispatcher(small_city, GridIndex(small_city), catalog, SQLiteStore(tmp_path / "cc.db"))
    grid = small_city.grids[31]
    case = first.intake(Intake("video", grid.lon, grid.lat, datetime.now(UTC), "I2", "fire", "fire")).case
    late = first.calendar.add_hours(case.created_at, 1000)
    cases, _ = first.repo.list_cases(CaseQuery(open_only=True))  # type: ignore[attr-defined]
    assert [s.kind for s in first.supervise(cases, late)] == ["overdue"]
    # A new process on the same database computes from stored times and does not escalate again.
    second = Dispatcher(small_city, GridIndex(small_city), catalog, SQLiteStore(tmp_path / "cc.db"))
    cases, _ = second.repo.list_cases(CaseQuery(open_only=True))  # type: ignore[attr-defined]
    assert second.supervise(cases, late + timedelta(hours=1)) == []


def test_progress_uses_the_configured_warning_share(dispatcher: Dispatcher, small_city: City) -> None:
    from dispatch.deadlines import progress

    grid = small_city.grids[32]
    case = dispatcher.intake(Intake("video", grid.lon, grid.lat, datetime.now(UTC), "I3", "illegal_parking", "vehicle")).case
    cal = dispatcher.calendar
    now = cal.add_hours(case.created_at, cal.hours_between(case.created_at, case.deadline) * 0.6)
    assert progress(case, now, cal).level == "ok"  # the default share: 75%
    assert progress(case, now, cal, warn_at=0.5).level == "warning"  # dispatch.warn_at: 0.5
    later = cal.add_hours(case.created_at, cal.hours_between(case.created_at, case.deadline) * 1.1)
    assert progress(case, later, cal, warn_at=0.5).level == "overdue"

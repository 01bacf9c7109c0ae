"""KPIs: on-time closure, closure and rework rates, mean times, per level."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.cases import Case, CaseState, transition
from dispatch.kpi import kpis, to_csv

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def case(cid: str, grid: str, worker: str) -> Case:
    c = Case(cid, CaseState.REGISTERED, "0101", grid, "video", T0, T0 + timedelta(hours=4), 113.3, 23.1)
    c, _ = transition(c, "dispatch", "system", now=T0, assignee=worker)
    return c


def run(c: Case, *steps: tuple[str, float]) -> Case:
    for action, minutes in steps:
        c, _ = transition(c, action, "x", "note", now=T0 + timedelta(minutes=minutes))
    return c


def test_rates_and_means_per_level() -> None:
    grid_a, grid_b = "440106001002003", "440106001002004"
    on_time = run(case("C1", grid_a, "W1"), ("accept", 10), ("feedback", 60), ("close", 90))
    late = run(case("C2", grid_a, "W1"), ("accept", 30), ("feedback", 200), ("close", 300))
    reworked = run(case("C3", grid_b, "W2"), ("accept", 20), ("feedback", 50), ("return", 55),
                   ("accept", 60), ("feedback", 80), ("close", 100))  # fmt: skip
    still_open = case("C4", grid_b, "W2")
    merged = replace(case("C5", grid_b, "W2"), state=CaseState.MERGED)
    false_alarm = run(case("C6", grid_a, "W1"), ("cancel", 5))  # recalled: not work that was due
    assert false_alarm.state == CaseState.CANCELLED
    cases = [on_time, late, reworked, still_open, merged, false_alarm]

    (community,) = kpis(cases, "community")
    assert community.key == "440106001002000" and community.cases == 4
    assert community.closed == 3 and community.closed_on_time == 2
    assert community.on_time_rate == 0.5 and community.closure_rate == 0.75
    assert community.rework_rate == pytest.approx(1 / 3, abs=1e-4)
    by_worker = {k.key: k for k in kpis(cases, "worker")}
    assert by_worker["W1"].mean_accept_min == 20.0 and by_worker["W1"].mean_close_min == 195.0
    assert by_worker["W2"].closure_rate == 0.5
    by_grid = {k.key: k for k in kpis(cases, "grid")}
    assert set(by_grid) == {grid_a, grid_b}
    assert kpis(cases, "district", start=T0 + timedelta(days=1)) == []  # nothing created after
    csv_text = to_csv(kpis(cases, "street"))
    assert csv_text.splitlines()[0].startswith("key,cases,closed") and "440106001000000" in csv_text
    with pytest.raises(ValueError):
        kpis(cases, "planet")

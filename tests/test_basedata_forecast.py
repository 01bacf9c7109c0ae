"""The care-demand forecast (basedata/forecast.py, pure): quarters, the three methods, the
backtest that picks one, the visits a month, small cells hidden; and the sample ledger
(basedata/care_sample.py) it is backtested on."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from basedata.care import CarePolicy
from basedata.care_sample import LedgerSpec, memberships
from basedata.forecast import (
    DAYS_PER_MONTH,
    MIN_CELL,
    CommunityInput,
    GroupLedger,
    Quarter,
    backtest,
    community_demand,
    history_quarters,
    merge,
    merge_all,
    predict,
    suppress,
)
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate

POLICY = CarePolicy()


def test_quarters() -> None:
    q = Quarter.of(date(2026, 5, 20))
    assert (q.label, q.start, q.end) == ("2026Q2", date(2026, 4, 1), date(2026, 7, 1))
    assert q.shift(3).label == "2027Q1" and q.shift(-2).label == "2025Q4" and Quarter.from_index(q.index) == q
    assert [x.label for x in history_quarters(Quarter(2026, 1), 3)] == [
        "2025Q1",
        "2025Q2",
        "2025Q3",
    ]  # before 2025Q4
    assert Quarter(2026, 1).left_after(date(2026, 3, 31)) == 0.0
    assert Quarter(2026, 1).left_after(date(2026, 1, 1)) == pytest.approx(89 / 90)
    with pytest.raises(ValueError):
        Quarter(2026, 5)


def test_the_three_methods() -> None:
    assert predict([1, 2, 3, 4], "trend") == pytest.approx(5) and predict(
        [1, 2, 3, 4], "trend", 2
    ) == pytest.approx(6)
    assert predict([1, 2, 3, 4], "mean") == 2.5 and predict([1, 2, 3, 4], "naive") == 4
    assert predict([4, 3, 1, 0], "trend", 2) == 0.0  # a falling line stops at zero
    assert predict([], "trend") == 0.0 and predict([7], "trend") == 7.0  # no trend from one point


def test_the_backtest_picks_the_least_error_and_ties_go_to_the_simpler() -> None:
    rising = backtest([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]], Quarter(2026, 1))
    assert (rising.method, rising.actual, rising.forecast, rising.cells) == ("trend", 5, 5.0, 2)
    assert rising.wape == {"trend": 0.0, "mean": 0.5, "naive": 0.2}
    steady = backtest([[3, 3, 3, 3, 3]], Quarter(2026, 1))
    assert steady.method == "naive" and steady.wape["trend"] == 0.0
    noisy = backtest([[6, 2, 6, 2, 4]], Quarter(2026, 1))
    assert noisy.method == "mean"
    assert backtest([[1, 2, 3, 4, 5]], Quarter(2026, 1), "naive").method == "naive"  # asked for
    assert backtest([[0, 0, 0, 0, 0]], Quarter(2026, 1)).wape == {"trend": None, "mean": None, "naive": None}


def _community(**ledger: GroupLedger) -> CommunityInput:
    return CommunityInput("440106001001000", residents=100, elderly=20, elderly_alone=8, alone_unenrolled=3,
                          alone_turning_60=1, ledger=ledger)  # fmt: skip


def test_members_and_visits_next_quarter() -> None:
    alone = GroupLedger(active=10, visits_per_month=10 * DAYS_PER_MONTH / 7, new_per_quarter=(0, 1, 2, 3, 4))
    row = community_demand(_community(elderly_alone=alone), POLICY, "trend", left=0.5)
    group = row["groups"][0]
    new = 0.5 * 5 + 6  # the rest of this quarter at 5, next quarter at 6
    assert (group["group_name"], group["active"], group["expected_new"], group["expected"]) == (
        "独居老人",
        10,
        8.5,
        18.5,
    )
    assert group["visits_per_month"] == round((10 + new) * DAYS_PER_MONTH / 7, 1)
    assert row["potential_visits_per_month"] == round(
        4 * DAYS_PER_MONTH / 7, 1
    )  # 3 outside the ledger, 1 turning 60


def test_small_cells_are_hidden_and_the_total_rounded() -> None:
    big = GroupLedger(active=12, visits_per_month=12.0, new_per_quarter=(1, 1, 1, 1, 1))
    few = GroupLedger(active=MIN_CELL - 1, visits_per_month=4.0, new_per_quarter=(0, 1, 0, 1, 0))
    row = community_demand(_community(disabled=big, tekun=few), POLICY, "mean", left=0.0)
    shown = suppress(row)
    tekun = next(g for g in shown["groups"] if g["group"] == "tekun")
    assert tekun["suppressed"] and tekun["active"] is None and tekun["visits_per_month"] is None
    assert shown["rounded"] and shown["visits_per_month"] % 10 == 0 and row["visits_per_month"] % 10 != 0
    assert next(g for g in shown["groups"] if g["group"] == "disabled")["active"] == 12
    assert shown["alone_unenrolled"] == 3  # 8 − 3 = 5 enrolled: not a small cell
    unshown = suppress(
        community_demand(_community(disabled=big), POLICY, "mean", 0.0) | {"alone_unenrolled": 6}
    )
    assert (
        unshown["alone_unenrolled"] is None and not unshown["rounded"]
    )  # 8 − 6 = 2 would tell the ledger's count


def test_parts_of_an_area_merge() -> None:
    a = _community(disabled=GroupLedger(2, 2.0, (1, 0, 1)))
    b = _community(disabled=GroupLedger(3, 3.0, (0, 2, 2)), tekun=GroupLedger(1, 1.0, (1, 0, 0)))
    both = merge(a, b)
    assert (both.residents, both.elderly_alone) == (200, 16)
    assert (
        both.ledger["disabled"] == GroupLedger(5, 5.0, (1, 2, 3))
        and both.ledger["tekun"] == b.ledger["tekun"]
    )
    assert merge_all([a, b, a]).ledger["disabled"].active == 7


def test_the_sample_ledger_has_a_rising_history_to_backtest() -> None:
    """A few thousand sample people: the ledger joins the groups at about the rates given, the
    elderly living alone mostly; new members rise over the window; a backtest runs on it."""
    today = date(2026, 5, 20)
    cipher = FieldCipher(FieldKey(bytes(32)))
    grids = [(f"4401060010{c:02d}00{g}", 113.3, 23.1) for c in range(1, 5) for g in range(1, 4)]
    records = list(generate(grids, SampleSpec(people=3000, seed=4), cipher))
    ledger = list(memberships(records, LedgerSpec(today=today, quarters=8), POLICY))
    groups = Counter(m.group for m in ledger)
    people = sum(1 for kind, _ in records if kind == "person")
    assert 0.01 < groups["disabled"] / people < 0.05 and groups["elderly_alone"] > 0
    assert len({(m.person_id, m.group) for m in ledger}) == len(ledger) and all(
        m.since <= today for m in ledger
    )
    window = history_quarters(Quarter.of(today).shift(1), 6)
    per_quarter = Counter(Quarter.of(m.since).index for m in ledger)
    counts = [per_quarter[q.index] for q in window]
    assert sum(counts[3:]) > sum(counts[:3])  # the rate rises
    cells: dict[tuple[str, str], list[int]] = {}
    for m in ledger:
        series = cells.setdefault((m.grid_code[:12], m.group), [0] * len(window[1:]))
        index = Quarter.of(m.since).index - window[1].index
        if 0 <= index < len(series):
            series[index] += 1
    tested = backtest(list(cells.values()), window[-1])
    assert tested.actual == counts[-1] and tested.method in ("trend", "mean", "naive")
    assert all(w is not None and w >= 0 for w in tested.wape.values())

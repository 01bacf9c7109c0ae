"""iot/rules.py, iot/rule_models.py, iot/kinds.py: episodes from readings, one per alarm."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dispatch.catalog import load_catalog
from iot.kinds import KINDS, check_reading, get_kind, rules_for
from iot.payload import Reading
from iot.rule_models import DeviceRules, Rule, RuleOverride
from iot.rules import Closed, Event, Opened, RuleEngine

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
MATTERS = Path(__file__).resolve().parent.parent / "configs" / "matters.yaml"


def _rule(when: dict[str, Any], rule_id: str = "r", matter: str = "0402", min_clear_s: float = 60) -> Rule:
    return Rule.model_validate({"id": rule_id, "matter": matter, "when": when, "min_clear_s": min_clear_s})


def _engine(rules: Sequence[Rule], device: str = "d1") -> RuleEngine:
    engine = RuleEngine()
    engine.set_rules(device, rules)
    return engine


def _feed(engine: RuleEngine, name: str, values: Iterable[float | bool], every_s: float = 10, start_s: float = 0,
          device: str = "d1") -> list[Event]:  # fmt: skip
    events: list[Event] = []
    for i, value in enumerate(values):
        ts = T0 + timedelta(seconds=start_s + i * every_s)
        events += engine.feed(Reading(device, ts, name, value))
    return events


def _kinds(events: list[Event]) -> list[str]:
    return [f"{type(e).__name__}:{e.rule_id}" for e in events]


SMOKE = {"type": "threshold", "reading": "smoke", "high": 0.15, "low": 0.08}


# ---------------------------------------------------------------- threshold with hysteresis


def test_a_flapping_smoke_value_raises_one_episode() -> None:
    engine = _engine([_rule(SMOKE)])
    # 10 s apart: above high, around it inside the gap, a dip below low shorter than the clear time
    flapping = [0.02, 0.16, 0.14, 0.17, 0.12, 0.05, 0.16, 0.13, 0.06, 0.18, 0.11]
    events = _feed(engine, "smoke", flapping)
    assert _kinds(events) == ["Opened:r"]
    opened = events[0]
    assert isinstance(opened, Opened) and opened.ts == T0 + timedelta(seconds=10) and opened.matter == "0402"
    assert [v for _, v in opened.readings["smoke"]] == [0.02, 0.16]  # the series so far
    # clear for a full minute (at and after 110 s): closed once, at the reading that completes it
    events = _feed(engine, "smoke", [0.03] * 8, start_s=110)
    assert _kinds(events) == ["Closed:r"]
    closed = events[0]
    assert isinstance(closed, Closed) and closed.reason == "cleared"
    assert (closed.opened_at, closed.cleared_at, closed.ts) == (
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=110),
        T0 + timedelta(seconds=170),
    )
    assert closed.episode_id == opened.episode_id
    assert len(closed.readings["smoke"]) == 18  # up to the closing reading
    # a fresh alarm after the close is a new episode
    assert _kinds(_feed(engine, "smoke", [0.2], start_s=200)) == ["Opened:r"]


def test_without_clear_time_each_dip_would_close() -> None:
    # the same flapping with min_clear_s 0: proof that the clear time is what holds it to one
    engine = _engine([_rule(SMOKE, min_clear_s=0)])
    events = _feed(engine, "smoke", [0.02, 0.16, 0.05, 0.16, 0.05, 0.16])
    assert _kinds(events) == ["Opened:r", "Closed:r"] * 2 + ["Opened:r"]


def test_below_direction() -> None:
    rule = _rule(
        {"type": "threshold", "reading": "p", "direction": "below", "low": 0.1, "high": 0.14}, min_clear_s=0
    )
    engine = _engine([rule])
    assert _kinds(_feed(engine, "p", [0.3, 0.12, 0.09, 0.12, 0.13, 0.15])) == ["Opened:r", "Closed:r"]


def test_boolean_readings_are_thresholds_too() -> None:
    engine = _engine([_rule({"type": "threshold", "reading": "alarm", "high": 1, "low": 0}, min_clear_s=0)])
    assert _kinds(_feed(engine, "alarm", [False, True, True, False])) == ["Opened:r", "Closed:r"]


# ---------------------------------------------------------------- rate, duration, combination


def test_rate_of_change() -> None:
    rising = {"type": "rate", "reading": "level_cm", "per_minute": 2, "window_s": 300, "min_span_s": 60}
    engine = _engine([_rule(rising, min_clear_s=0)])
    # 1 cm a minute: never
    assert _feed(engine, "level_cm", [i * 1.0 for i in range(20)], every_s=60) == []
    # a 5 cm jump within 10 s is noise until a minute of data backs it: then 3 cm/min, on
    engine = _engine([_rule(rising, min_clear_s=0)], device="d2")
    events = _feed(engine, "level_cm", [0, 5, 5, 5, 5, 5, 5], every_s=10, device="d2")
    assert _kinds(events) == ["Opened:r"] and events[0].ts == T0 + timedelta(seconds=60)
    # flat for the whole window: the rate is 0 and the episode closes
    events = _feed(engine, "level_cm", [5] * 40, every_s=10, start_s=70, device="d2")
    assert _kinds(events) == ["Closed:r"]


def test_falling_rate() -> None:
    drop = {"type": "rate", "reading": "p", "per_minute": -0.2, "window_s": 120, "min_span_s": 20}
    engine = _engine([_rule(drop)])
    # over the window: 0.30 → 0.15 in 50 s is -0.18 a minute, not yet
    assert _feed(engine, "p", [0.30, 0.30, 0.29, 0.30, 0.25, 0.15], every_s=10) == []
    assert _kinds(_feed(engine, "p", [0.08], start_s=60)) == ["Opened:r"]


def test_duration() -> None:
    tilt = {"type": "duration", "reading": "tilt_deg", "high": 15, "low": 5, "hold_s": 10}
    engine = _engine([_rule(tilt, min_clear_s=0)])
    # 5 s over: a bus rocking the cover
    assert _feed(engine, "tilt_deg", [0, 20, 22, 2], every_s=3) == []
    # held: on at the first reading 10 s after it came on
    events = _feed(engine, "tilt_deg", [20, 25, 30, 30, 30], every_s=4, start_s=20)
    assert _kinds(events) == ["Opened:r"] and events[0].ts == T0 + timedelta(seconds=32)


def test_combination_smoke_and_heat() -> None:
    fire = {
        "type": "all",
        "window_s": 120,
        "of": [SMOKE, {"type": "threshold", "reading": "temp_c", "high": 57, "low": 50}],
    }
    engine = _engine([_rule(SMOKE, "smoke"), _rule(fire, "fire", "0401")])
    assert _kinds(_feed(engine, "smoke", [0.2])) == ["Opened:smoke"]
    # heat 90 s later, within the window: fire, carrying both series
    events = _feed(engine, "temp_c", [40, 60], every_s=30, start_s=60)
    assert _kinds(events) == ["Opened:fire"]
    assert set(events[0].readings) == {"smoke", "temp_c"}
    # heat three minutes after a short smoke puff: not a fire
    engine = _engine([_rule(fire, "fire", "0401")], device="d2")
    _feed(engine, "smoke", [0.2, 0.01], device="d2")
    assert _feed(engine, "temp_c", [60], start_s=190, device="d2") == []


def test_any_combination() -> None:
    either = {
        "type": "any",
        "window_s": 30,
        "of": [SMOKE, {"type": "threshold", "reading": "alarm", "high": 1, "low": 0}],
    }
    engine = _engine([_rule(either, min_clear_s=0)])
    assert _kinds(_feed(engine, "alarm", [False, True])) == ["Opened:r"]
    assert _feed(engine, "smoke", [0.2, 0.01], start_s=20) == []  # one episode, whichever part is on


# ---------------------------------------------------------------- QoS 1: duplicates, out of order


def test_duplicates_and_out_of_order_readings_are_ignored() -> None:
    engine = _engine([_rule(SMOKE, min_clear_s=0)])
    first = _feed(engine, "smoke", [0.01, 0.2, 0.01])
    assert _kinds(first) == ["Opened:r", "Closed:r"]
    # the broker redelivers the whole run, then a late reading from before the last
    assert _feed(engine, "smoke", [0.01, 0.2, 0.01]) == []
    assert engine.feed(Reading("d1", T0 + timedelta(seconds=15), "smoke", 0.3)) == []
    assert (engine.counters.duplicates, engine.counters.out_of_order) == (3, 1)
    assert len(engine.series("d1")["smoke"]) == 3
    # another name at an earlier time is its own series: not out of order
    assert engine.feed(Reading("d1", T0, "temp_c", 20.0)) == []
    assert engine.counters.out_of_order == 1


def test_unknown_devices_are_counted_not_kept() -> None:
    engine = RuleEngine()
    assert engine.feed(Reading("ghost", T0, "smoke", 0.9)) == []
    assert engine.counters.unknown_devices == 1 and engine.series("ghost") == {}


# ---------------------------------------------------------------- per device, changes, bounds


def test_per_device_override() -> None:
    smoke = get_kind("smoke")
    # a kitchen's detector sees cooking: a higher smoke threshold, the detector's own alarm as before
    kitchen = DeviceRules.model_validate({"overrides": {"smoke": {"when": {"type": "any", "window_s": 60, "of": [
        {"type": "threshold", "reading": "smoke", "high": 0.3, "low": 0.1},
        {"type": "threshold", "reading": "alarm", "high": 1, "low": 0}]}}}})  # fmt: skip
    engine = RuleEngine()
    engine.set_rules("hall", rules_for(smoke))
    engine.set_rules("kitchen", rules_for(smoke, kitchen))
    assert _kinds(_feed(engine, "smoke", [0.2], device="hall")) == ["Opened:smoke"]
    assert _feed(engine, "smoke", [0.2], device="kitchen") == []
    assert _kinds(_feed(engine, "smoke", [0.35], start_s=10, device="kitchen")) == ["Opened:smoke"]


def test_override_parameters_switches_and_extras() -> None:
    tilt = get_kind("manhole_tilt")
    own = DeviceRules(
        overrides={"cover_moved": RuleOverride(high=30, low=10, hold_s=5), "battery_low": RuleOverride(enabled=False)},
        extra=(_rule({"type": "threshold", "reading": "rssi", "direction": "below", "low": -120, "high": -110},
                     "weak_signal", "9906"),),
    )  # fmt: skip
    rules = {r.id: r for r in rules_for(tilt, own)}
    assert set(rules) == {"cover_moved", "weak_signal"}
    moved = rules["cover_moved"].when
    assert (moved.high, moved.low, moved.hold_s) == (30, 10, 5)  # type: ignore[union-attr]
    assert rules["cover_moved"].matter == "9902"


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ({"overrides": {"cover_gone": {"enabled": False}}}, "unknown rules: cover_gone"),
        ({"overrides": {"cover_moved": {"low": 40}}}, "must be below high"),
        ({"overrides": {"cover_moved": {"hold_s": -1}}}, "greater than 0"),
        ({"overrides": {"cover_moved": {"hgih": 3}}}, "Extra inputs are not permitted"),
        ({"extra": [{"id": "cover_moved", "matter": "9902", "when": SMOKE}]}, "reuses an id"),
    ],
)
def test_bad_overrides_are_refused(own: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules_for(get_kind("manhole_tilt"), DeviceRules.model_validate(own))


def test_an_override_must_read_the_kinds_readings() -> None:
    own = DeviceRules(extra=(_rule(SMOKE, "smoky"),))
    with pytest.raises(ValueError, match=r"reads \['smoke'\], not readings of a manhole_tilt device"):
        rules_for(get_kind("manhole_tilt"), own)


def test_a_combination_takes_a_whole_when_not_parameters() -> None:
    with pytest.raises(ValueError, match="overridden with `when`"):
        rules_for(get_kind("smoke"), DeviceRules(overrides={"fire": RuleOverride(high=0.3)}))


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"type": "threshold", "reading": "a", "high": 1, "low": 1}, "must be below high"),
        ({"type": "rate", "reading": "a", "per_minute": 0}, "must not be 0"),
        ({"type": "rate", "reading": "a", "per_minute": 1, "window_s": 60, "min_span_s": 90}, "min_span_s"),
        ({"type": "rate", "reading": "a", "per_minute": 1, "window_s": 7200}, "less than or equal to 3600"),
        ({"type": "all", "of": [SMOKE]}, "at least 2"),
        ({"type": "threshold", "reading": "a b", "high": 1, "low": 0}, "pattern"),
        ({"type": "trend", "reading": "a"}, "does not match any of the expected tags"),
    ],
)
def test_rule_validation(when: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _rule(when)


def test_changing_rules_closes_only_the_changed_episodes() -> None:
    heat = _rule({"type": "threshold", "reading": "temp_c", "high": 57, "low": 50}, "heat", "0401")
    engine = _engine([_rule(SMOKE), heat])
    _feed(engine, "smoke", [0.2])
    _feed(engine, "temp_c", [60])
    stricter = _rule({**SMOKE, "high": 0.5, "low": 0.3})
    closed = engine.set_rules("d1", [stricter, heat])
    assert [(c.rule_id, c.reason) for c in closed] == [("r", "rule_changed")]
    assert set(engine.open_episodes("d1")) == {"heat"}
    assert [(c.rule_id, c.reason) for c in engine.remove("d1")] == [("heat", "removed")]


def test_advance_closes_after_a_quiet_all_clear() -> None:
    engine = _engine([_rule({"type": "threshold", "reading": "open", "high": 1, "low": 0}, min_clear_s=30)])
    _feed(engine, "open", [True, False])  # a door reports on change only: nothing after this
    assert engine.advance(T0 + timedelta(seconds=30)) == []
    closed = engine.advance(T0 + timedelta(minutes=5))
    assert len(closed) == 1 and closed[0].ts == T0 + timedelta(seconds=40)
    assert engine.advance(T0 + timedelta(minutes=10)) == [] and engine.open_episodes("d1") == {}


def test_series_are_bounded() -> None:
    engine = RuleEngine(series_points=60, max_names=3)
    engine.set_rules("d1", [])
    _feed(engine, "temp_c", [float(i) for i in range(500)])
    series = engine.series("d1")["temp_c"]
    assert len(series) == 60 and series[0][1] == 440.0 and series[-1][1] == 499.0
    assert series[-1][0] == T0 + timedelta(seconds=4990)
    for name in ("a", "b", "c"):
        engine.feed(Reading("d1", T0, name, 1.0))
    assert engine.counters.too_many_names == 1 and set(engine.series("d1")) == {"temp_c", "a", "b"}
    since = engine.series("d1", ("temp_c",), since=T0 + timedelta(seconds=4900))
    assert len(since["temp_c"]) == 10


# ---------------------------------------------------------------- the kinds


def test_each_kind_maps_to_existing_matters() -> None:
    catalog = load_catalog(MATTERS)
    for kind in KINDS.values():
        for code in [rule.matter for rule in kind.rules] + [kind.offline_matter]:
            catalog.get(code)  # KeyError for a code the catalogue does not have
    assert {
        "smoke",
        "gas",
        "water_level",
        "manhole_tilt",
        "hydrant_pressure",
        "bin_fill",
        "door",
        "temperature",
    } <= set(KINDS)
    assert get_kind("smoke").heartbeat_s == 12 * 3600
    with pytest.raises(KeyError, match="unknown device kind 'lamp'"):
        get_kind("lamp")


def test_default_kind_rules_raise_their_alarms() -> None:
    engine = RuleEngine()
    for name in KINDS:
        engine.set_rules(name, rules_for(KINDS[name]))
    cases: dict[str, tuple[str, Sequence[float | bool], str]] = {
        "smoke": ("smoke", [0.02, 0.3], "smoke"),
        "gas": ("gas", [2, 35], "gas"),
        "temperature": ("temp_c", [20, 21, 22, 35, 47], "heat"),  # a fast rise before 57 °C
        "water_level": ("level_cm", [0, 16, 16, 17, 18, 18, 19, 20], "waterlogging"),
        "manhole_tilt": ("tilt_deg", [0, 40, 40, 40], "cover_moved"),
        "hydrant_pressure": ("pressure_mpa", [0.3, 0.3, 0.3, 0.05], "pressure_drop"),
        "bin_fill": ("fill_pct", [50] + [95] * 70, "bin_full"),
        "door": ("open", [False] + [True] * 8, "door_open"),
    }
    for device, (reading, values, rule_id) in cases.items():
        events = _feed(engine, reading, values, every_s=10, device=device)
        assert _kinds(events) == [f"Opened:{rule_id}"], device


@pytest.mark.parametrize(
    ("reading", "reason"),
    [
        (Reading("d", T0, "smoke", 0.1), None),
        (Reading("d", T0, "alarm", True), None),
        (Reading("d", T0, "temp_c", 21.0, "Cel"), None),
        (Reading("d", T0, "lux", 3.0), "lux: not a reading of a smoke device"),
        (Reading("d", T0, "alarm", 1.0), "alarm: expected true or false"),
        (Reading("d", T0, "smoke", True), "smoke: expected a number, not true or false"),
        (Reading("d", T0, "battery", 83.0), "battery: 83.0 is outside 0.0..1.0 /"),
        (Reading("d", T0, "temp_c", 21.0, "K"), "temp_c: unit K, expected Cel"),
    ],
)
def test_check_reading(reading: Reading, reason: str | None) -> None:
    assert check_reading(get_kind("smoke"), reading) == reason

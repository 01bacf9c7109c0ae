"""iot/heartbeat.py: a device silent past its window is offline, a reading brings it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iot.heartbeat import Change, changes, next_due, presence
from iot.kinds import get_kind

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def test_presence_at_the_window_edge() -> None:
    window = 1800.0
    assert presence(NOW - timedelta(seconds=1800), window, NOW) == "online"
    assert presence(NOW - timedelta(seconds=1801), window, NOW) == "offline"
    assert presence(NOW + timedelta(seconds=5), window, NOW) == "online"  # a clock a little ahead
    assert presence(None, window, NOW) == "never_seen"


def test_changes_went_offline_and_came_back() -> None:
    water, smoke = get_kind("water_level").heartbeat_s, get_kind("smoke").heartbeat_s
    last_seen = {
        "wl-quiet": NOW - timedelta(hours=1),  # 30 min window: offline since 07:30
        "wl-fine": NOW - timedelta(minutes=10),
        "sm-quiet": NOW - timedelta(hours=3),  # 12 h window: still online
        "wl-back": NOW - timedelta(minutes=1),  # was offline, reported a minute ago
        "wl-still": NOW - timedelta(hours=5),  # offline already: no second change
        "wl-new": None,  # registered, never heard: no change
    }
    windows = {d: (smoke if d.startswith("sm") else water) for d in last_seen}
    got = changes({"wl-back", "wl-still"}, last_seen, windows, NOW)
    assert got == [
        Change("wl-quiet", "offline", NOW - timedelta(minutes=30)),
        Change("wl-back", "online", NOW - timedelta(minutes=1)),
    ]


def test_changes_are_reported_once() -> None:
    last_seen = {"d1": NOW - timedelta(hours=2)}
    windows = {"d1": 3600.0}
    offline: set[str] = set()
    for minute in range(0, 30, 5):
        for change in changes(offline, last_seen, windows, NOW + timedelta(minutes=minute)):
            offline.add(change.device_id)
    assert offline == {"d1"}
    assert changes(offline, last_seen, windows, NOW + timedelta(hours=1)) == []


def test_next_due_is_the_first_online_device_to_run_out() -> None:
    last_seen = {
        "a": NOW - timedelta(minutes=20),
        "b": NOW - timedelta(minutes=5),
        "c": NOW - timedelta(hours=9),
        "d": None,
    }
    windows = {"a": 1800.0, "b": 600.0, "c": 3600.0, "d": 60.0}
    assert next_due({"c"}, last_seen, windows) == NOW + timedelta(minutes=5)  # b: 5 min + 10 min window
    assert next_due({"a", "b", "c"}, last_seen, windows) is None

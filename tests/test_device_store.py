"""The device registry in the store (store/device_records.py) on SQLite and PostgreSQL: add,
read, compare-and-set edits, retire; lists scoped by a grid prefix with filters; an import's
bulk upsert all or nothing; telemetry (touch, offline, state); readings deduplicated, recent
per name and pruned by age and count; counts by state per area from the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from command_center.registry.device_kinds import heartbeat_of, kind_of
from command_center.registry.device_model import Device, parse_thresholds
from command_center.store import Store, create_store
from command_center.store.device_records import DeviceExists, VersionConflict, device_store

G1, G2, G3 = "440106001001001", "440106001001002", "440106002001001"
G_OTHER = "440104001001001"
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
LOW_BATTERY = {"overrides": {"battery_low": {"high": 0.2}}}


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def _device(did: str, grid: str = G1, kind: str = "smoke", **more: object) -> Device:
    return Device.model_validate({"id": did, "name": f"烟感{did}", "kind": kind, "lon": 113.32, "lat": 23.13,
                                  "grid_code": grid, **more})  # fmt: skip


def test_the_model_checks_every_field() -> None:
    assert _device("D1", kind="烟感").kind == "smoke" and kind_of("Water_Level") == "water_level"
    assert heartbeat_of("smoke", None) == 12 * 3600 and heartbeat_of("smoke", 60) == 60
    for bad in ({"id": "a/b"}, {"id": ""}, {"kind": "radar"}, {"grid_code": "4401"}, {"lon": 181},
                {"heartbeat_s": 30}, {"thresholds": {"smoke": 1}}, {"thresholds": {"overrides": {"nope": {"high": 1}}}},
                {"thresholds": {"overrides": {"battery_low": {"high": float("nan")}}}},
                {"thresholds": {"overrides": {"smoke": {"high": 1}}}}, {"name": "a\x00"}, {"colour": "red"}):  # fmt: skip
        with pytest.raises(ValidationError):
            Device.model_validate(_device("D1").model_dump() | bad)
    pairs = parse_thresholds("cover_moved.high=20；cover_moved.hold_s = 30; battery_low.enabled=false")
    assert pairs == {
        "overrides": {"cover_moved": {"high": 20, "hold_s": 30}, "battery_low": {"enabled": False}}
    }
    assert (
        _device("M", kind="manhole_tilt", thresholds=pairs).thresholds == pairs
    )  # checked against the kind's rules
    assert parse_thresholds('{"overrides": {"gas": {"enabled": false}}}') == {
        "overrides": {"gas": {"enabled": False}}
    }
    for bad_cell in ("smoke=high", "cover_moved.high", "[1]"):
        with pytest.raises(ValueError, match="thresholds"):
            parse_thresholds(bad_cell)


def test_add_get_update_and_retire(store: Store) -> None:
    records = device_store(store)
    added = records.add(_device("D1", thresholds=LOW_BATTERY, heartbeat_s=600), by="admin")
    assert added.version == 1 and added.state == "offline" and added.last_seen is None
    with pytest.raises(DeviceExists):
        records.add(_device("D1"), by="admin")
    got = records.get("D1")
    assert got is not None and got.thresholds == LOW_BATTERY and got.heartbeat_s == 600
    moved = records.update("D1", {"name": "三楼烟感", "grid_code": G2}, 1, by="admin")
    assert moved.version == 2 and records.get("D1") == moved
    with pytest.raises(VersionConflict) as stale:
        records.update("D1", {"name": "x"}, 1, by="admin")
    assert stale.value.current.name == "三楼烟感"
    with pytest.raises(ValidationError):
        records.update("D1", {"kind": "radar"}, 2, by="admin")
    with pytest.raises(KeyError):
        records.update("nope", {"name": "x"}, 1, by="admin")
    assert records.retire("D1", by="admin") and not records.retire("D1", by="admin")
    assert records.get("D1") is None and records.count() == 0
    again = records.add(_device("D1", kind="gas"), by="admin")  # a retired id registered anew
    assert again.version == 1 and records.get("D1") == again


def test_lists_are_scoped_by_prefix_and_filtered(store: Store) -> None:
    records = device_store(store)
    records.upsert_all([_device("A", G1), _device("B", G2, "gas", name="燃气表_1%"), _device("C", G3),
                        _device("X", G_OTHER)], by="import")  # fmt: skip
    assert [d.id for d in records.list("440106")] == ["A", "B", "C"]
    assert [d.id for d in records.list("440106001")] == ["A", "B"] and records.count("440106001") == 2
    assert [d.id for d in records.list("", kind="gas")] == ["B"]
    assert [d.id for d in records.list("", q="_1%")] == ["B"]  # LIKE's wildcards are literal
    assert records.list("", q="_") == [records.get("B")]
    assert [d.id for d in records.list("", limit=2, offset=1)] == ["A", "B"]  # X (440104…) first
    records.set_state("C", "alarm")
    assert [d.id for d in records.list("440106", state="alarm")] == ["C"] and records.count(
        state="offline"
    ) == 3
    assert records.registered(["A", "Z"]) == {"A": True}


def test_bulk_upsert_is_all_or_nothing_and_keeps_telemetry(store: Store) -> None:
    records = device_store(store)
    assert records.upsert_all([_device(f"D{i}") for i in range(250)], by="import") == {
        "added": 250,
        "updated": 0,
    }
    records.touch("D1", T0, battery=0.8, signal=-85)
    records.retire("D2", by="admin")
    changed = records.upsert_all(
        [_device("D1", G2, name="改名"), _device("D2"), _device("D999")], by="import"
    )
    assert changed == {"added": 1, "updated": 2}
    d1 = records.get("D1")
    assert d1 is not None and (d1.grid_code, d1.name, d1.version, d1.state, d1.battery) == (
        G2,
        "改名",
        2,
        "online",
        0.8,
    )
    assert records.get("D2") is not None  # registered again
    before = records.count()
    bad = _device("D3").model_copy(update={"grid_code": None})  # passes Python, refused by the database
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError
        records.upsert_all([_device("NEW1"), _device("D4", name="变了"), bad], by="import")
    assert records.count() == before and records.get("NEW1") is None
    d4 = records.get("D4")
    assert d4 is not None and d4.name == "烟感D4" and d4.version == 1


def test_touch_offline_and_state(store: Store) -> None:
    records = device_store(store)
    records.upsert_all([_device("A"), _device("B"), _device("C")], by="import")
    assert records.touch("A", T0, battery=0.9) and not records.touch("nope", T0)
    records.touch("A", T0 - timedelta(minutes=5), signal=-70)  # late message: last seen stays
    a = records.get("A")
    assert (
        a is not None
        and a.last_seen == T0
        and (a.state, a.battery, a.signal, a.version) == ("online", 0.9, -70, 1)
    )
    records.touch("B", T0)
    records.set_state("B", "alarm")
    records.touch("B", T0 + timedelta(seconds=1))  # an alarm stays an alarm while it reports
    assert records.get("B").state == "alarm"  # type: ignore[union-attr]
    assert records.mark_offline(["A", "B", "C", "nope"]) == 2  # C was offline already
    assert {d.state for d in records.list()} == {"offline"}
    with pytest.raises(ValueError):
        records.set_state("A", "broken")


def test_readings_dedupe_recent_and_prune(store: Store) -> None:
    records = device_store(store)
    rows = [("A", T0 + timedelta(seconds=i), "smoke", i / 100) for i in range(30)]
    rows += [("A", T0 + timedelta(seconds=i), "temp_c", 20 + i) for i in range(5)]
    rows += [("B", T0 + timedelta(seconds=i), "smoke", 0.0) for i in range(3)]
    assert records.add_readings(rows) == 38
    records.add_readings(rows[:10])  # redelivered: nothing new
    assert records.reading_names("A") == ["smoke", "temp_c"]
    last = records.recent("A", "smoke", 5)
    assert [v for _, v in last] == [0.25, 0.26, 0.27, 0.28, 0.29] and last[-1][0] == T0 + timedelta(
        seconds=29
    )
    assert len(records.recent("A", "smoke", 100)) == 30
    # age: the first two seconds of each series go (6); count: A's smoke down to its newest 10
    gone = records.prune_readings(before=T0 + timedelta(seconds=2), keep=10)
    assert gone == 6 + (28 - 10)
    assert len(records.recent("A", "smoke", 100)) == 10 and records.recent("A", "smoke", 1)[0][1] == 0.29
    assert len(records.recent("A", "temp_c", 100)) == 3 and len(records.recent("B", "smoke")) == 1


def test_many_devices_and_their_recent_readings_in_one_round(store: Store) -> None:
    """The IoT loop's first sight of a group: live devices by id, each name's last n readings."""
    records = device_store(store)
    for did in ("A", "B", "C"):
        records.add(_device(did), by="test")
    records.retire("C", by="test")
    rows = [("A", T0 + timedelta(seconds=i), "smoke", i / 100) for i in range(30)]
    rows += [("A", T0 + timedelta(seconds=i), "temp_c", 20 + i) for i in range(5)]
    rows += [("B", T0 + timedelta(seconds=i), "smoke", 0.0) for i in range(3)]
    records.add_readings(rows)
    ids = ["A", "B", "C", "nobody"] + [f"X{i}" for i in range(150)]  # over one statement's hundred
    assert sorted(records.get_many(ids)) == ["A", "B"]  # C retired, the rest unknown
    recent = records.recent_many(["A", "B", "nobody"], 4)
    assert sorted(recent) == ["A", "B"] and len(recent["B"]) == 3
    a = recent["A"]
    assert [(n, v) for n, _, v in a if n == "smoke"] == [
        ("smoke", 0.26),
        ("smoke", 0.27),
        ("smoke", 0.28),
        ("smoke", 0.29),
    ]
    assert [v for n, _, v in a if n == "temp_c"] == [21, 22, 23, 24]
    assert [ts for _, ts, _ in a] == sorted(ts for _, ts, _ in a)  # oldest first, names mixed


def test_counts_by_state_per_area(store: Store) -> None:
    records = device_store(store)
    records.upsert_all([_device("A", G1), _device("B", G2), _device("C", G3), _device("X", G_OTHER),
                        _device("R", G1)], by="import")  # fmt: skip
    records.touch("A", T0)
    records.set_state("C", "alarm")
    records.retire("R", by="admin")
    assert records.counts("440106", 9) == {
        "440106001": {"online": 1, "offline": 1, "alarm": 0},
        "440106002": {"online": 0, "offline": 0, "alarm": 1},
    }
    assert records.counts("", 6) == {"440106": {"online": 1, "offline": 1, "alarm": 1},
                                     "440104": {"online": 0, "offline": 1, "alarm": 0}}  # fmt: skip

"""iot/payload.py: the JSON convention, gateway lists, SenML, and every refusal with its reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iot.payload import Limits, PayloadError, Reading, parse, parse_topic

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
T0 = datetime(2025, 6, 1, 7, 59, tzinfo=UTC)
DEVICE = "cc/devices/sm-001/readings"
GATEWAY = "cc/gateways/gw-7/readings"


def _json(doc: Any) -> bytes:
    return orjson.dumps(doc)


def test_device_convention_with_each_time_form() -> None:
    epoch = T0.timestamp()
    for ts in (epoch, int(epoch * 1000), "2025-06-01T07:59:00Z", "2025-06-01T15:59:00+08:00"):
        readings = parse(DEVICE, _json({"ts": ts, "readings": {"smoke": 0.12, "alarm": False}}), NOW)
        assert readings == [
            Reading("sm-001", T0, "smoke", 0.12),
            Reading("sm-001", T0, "alarm", False),
        ], ts


def test_device_convention_defaults_and_own_id() -> None:
    # no ts: the receipt time; device_id equal to the topic's is fine; extra keys pass unread
    readings = parse(DEVICE, _json({"device_id": "sm-001", "seq": 7, "readings": {"temp_c": 41}}), NOW)
    assert readings == [Reading("sm-001", NOW, "temp_c", 41.0)]
    assert isinstance(readings[0].value, float)
    # a heartbeat with no readings is a message, not an error
    assert parse(DEVICE, b'{"readings": {}}', NOW) == []


def test_gateway_list() -> None:
    doc = [
        {"device_id": "wl-1", "ts": "2025-06-01T07:59:00Z", "readings": {"level_cm": 3.5}},
        {"device_id": "wl-2", "readings": {"level_cm": 18, "battery": 0.4}},
    ]
    assert parse(GATEWAY, _json(doc), NOW) == [
        Reading("wl-1", T0, "level_cm", 3.5),
        Reading("wl-2", NOW, "level_cm", 18.0),
        Reading("wl-2", NOW, "battery", 0.4),
    ]
    assert parse(GATEWAY, b"[]", NOW) == []


def test_senml_on_the_device_topic() -> None:
    bt = T0.timestamp()
    doc = [
        {"bn": "urn:dev:mac:sm-001:", "bt": bt, "bu": "Cel", "n": "temp_c", "v": 41.5},
        {"n": "temp_c", "t": 30, "v": 42.0},
        {"n": "smoke", "u": "dB/m", "v": 0.2, "t": 30},
        {"n": "alarm", "vb": True, "t": 30},
    ]
    later = T0 + timedelta(seconds=30)
    assert parse(DEVICE, _json(doc), NOW) == [
        Reading("sm-001", T0, "temp_c", 41.5, "Cel"),
        Reading("sm-001", later, "temp_c", 42.0, "Cel"),
        Reading("sm-001", later, "smoke", 0.2, "dB/m"),
        Reading("sm-001", later, "alarm", True, "Cel"),
    ]


def test_senml_without_base_name_relative_time_and_base_value() -> None:
    # no bn: the topic's device; t below 2**28 is relative to now (RFC 8428 §4.5.3); bv adds to v
    doc = [{"bv": 10, "n": "level_cm", "v": 2.5, "t": -60}, {"n": "level_cm", "v": 3}]
    assert parse("cc/devices/wl-1/readings", _json(doc), NOW) == [
        Reading("wl-1", NOW - timedelta(seconds=60), "level_cm", 12.5),
        Reading("wl-1", NOW, "level_cm", 13.0),
    ]


def test_senml_on_a_gateway_switches_devices_by_base_name() -> None:
    bt = T0.timestamp()
    doc = [
        {"bn": "urn:dev:imei:wl-1:", "bt": bt, "n": "level_cm", "v": 4},
        {"bn": "urn:dev:imei:wl-2:", "n": "level_cm", "v": 16},
        {"n": "urn:dev:imei:wl-3:level_cm", "bn": "", "v": 1},  # a full name in n, base name reset
        {"bn": "urn:dev:imei:wl-4:"},  # base fields only: no reading, not an error
    ]
    readings = parse(GATEWAY, _json(doc), NOW)
    assert [(r.device_id, r.value) for r in readings] == [("wl-1", 4.0), ("wl-2", 16.0), ("wl-3", 1.0)]
    assert all(r.ts == T0 for r in readings)


def test_topic_parsing() -> None:
    assert parse_topic(DEVICE) == ("device", "sm-001")
    assert parse_topic(GATEWAY) == ("gateway", "gw-7")


def _bad_cases() -> list[tuple[str, str, bytes, str, str, str]]:
    """(id, topic, payload, category, path, reason fragment)."""
    future = (NOW + timedelta(days=2)).timestamp()
    big = b'{"readings": {"a": "' + b"x" * 70_000 + b'"}}'
    return [
        ("wrong topic", "cc/devices/sm-001/status", b"{}", "topic", "", "not a readings topic"),
        ("topic id", "cc/devices/urn:x/readings", b"{}", "topic", "topic", "not a device or gateway id"),
        ("too large", DEVICE, big, "size", "", "bytes, over 65536"),
        ("not json", DEVICE, b'{"readings": ', "json", "", "not JSON"),
        ("not utf-8", DEVICE, b'{"readings": {"\xff": 1}}', "json", "", "not JSON"),
        ("nan", DEVICE, b'{"readings": {"smoke": NaN}}', "json", "", "not JSON"),
        ("too deep", DEVICE, b"[" * 2000 + b"]" * 2000, "json", "", "not JSON"),
        ("scalar", DEVICE, b"42", "shape", "", "expected an object or a SenML list"),
        ("no readings", DEVICE, b'{"seq": 1}', "shape", "readings", "missing"),
        ("readings list", DEVICE, b'{"readings": [1]}', "shape", "readings", "expected an object"),
        (
            "string value",
            DEVICE,
            b'{"readings": {"smoke": "high"}}',
            "type",
            "readings.smoke",
            "not a number",
        ),
        ("null value", DEVICE, b'{"readings": {"smoke": null}}', "type", "readings.smoke", "not a number"),
        (
            "object value",
            DEVICE,
            b'{"readings": {"smoke": {"v": 1}}}',
            "type",
            "readings.smoke",
            "not a number",
        ),
        (
            "bad name",
            DEVICE,
            b'{"readings": {"sm oke": 1}}',
            "shape",
            "readings.sm oke",
            "not a reading name",
        ),
        (
            "other device",
            DEVICE,
            b'{"device_id": "sm-002", "readings": {}}',
            "device",
            "device_id",
            "not the topic",
        ),
        ("bad ts", DEVICE, b'{"ts": "yesterday", "readings": {}}', "time", "ts", "not an ISO-8601 time"),
        ("naive ts", DEVICE, b'{"ts": "2025-06-01T07:59:00", "readings": {}}', "time", "ts", "no time zone"),
        ("future ts", DEVICE, _json({"ts": future, "readings": {}}), "time", "ts", "in the future"),
        (
            "future ms",
            DEVICE,
            _json({"ts": int(future * 1000), "readings": {}}),
            "time",
            "ts",
            "in the future",
        ),
        ("clock unset", DEVICE, b'{"ts": 0, "readings": {}}', "time", "ts", "clock is not set"),
        ("bool ts", DEVICE, b'{"ts": true, "readings": {}}', "time", "ts", "not a time"),
        ("year 9999", DEVICE, b'{"ts": "9999-12-31T23:59:59-12:00", "readings": {}}', "time", "ts", "future"),
        ("year 1", DEVICE, b'{"ts": "0001-01-01T00:00:00+12:00", "readings": {}}', "time", "ts", "not set"),
        ("gateway object", GATEWAY, b'{"readings": {}}', "shape", "", "a gateway publishes a list"),
        ("gateway no id", GATEWAY, b'[{"readings": {"a": 1}}]', "device", "[0].device_id", "missing"),
        (
            "gateway bad id",
            GATEWAY,
            b'[{"device_id": "a/b", "readings": {}}]',
            "device",
            "[0].device_id",
            "not a device id",
        ),
        (
            "gateway item",
            GATEWAY,
            b'[{"device_id": "d1", "readings": {}}, 3]',
            "shape",
            "[1]",
            "expected an object",
        ),
        (
            "gateway value",
            GATEWAY,
            b'[{"device_id": "d1", "readings": {"t": []}}]',
            "type",
            "[0].readings.t",
            "not a number",
        ),
        ("senml record", DEVICE, b"[1]", "shape", "[0]", "a SenML record is an object"),
        (
            "senml bn",
            DEVICE,
            b'[{"bn": "urn:dev:mac:sm-001", "n": "a", "v": 1}]',
            "shape",
            "[0].bn",
            "ends with ':'",
        ),
        ("senml vs", DEVICE, b'[{"n": "fw", "vs": "1.2"}]', "type", "[0]", "string and data values"),
        ("senml v and vb", DEVICE, b'[{"n": "a", "v": 1, "vb": true}]', "type", "[0]", "both v and vb"),
        ("senml vb", DEVICE, b'[{"n": "a", "vb": 1}]', "type", "[0].vb", "not a boolean"),
        ("senml v", DEVICE, b'[{"n": "a", "v": "1"}]', "type", "[0].v", "not a number"),
        ("senml no value", DEVICE, b'[{"n": "a"}]', "shape", "[0]", "no value"),
        ("senml sum", DEVICE, b'[{"n": "a", "s": 3}]', "type", "[0]", "a sum (s) alone"),
        (
            "senml must-understand",
            DEVICE,
            b'[{"n": "a", "v": 1, "x_": 1}]',
            "shape",
            "[0].x_",
            "must-understand",
        ),
        (
            "senml other device",
            DEVICE,
            b'[{"bn": "urn:dev:mac:sm-002:", "n": "a", "v": 1}]',
            "device",
            "[0].n",
            "not the topic",
        ),
        ("senml no device", GATEWAY, b'[{"n": "level_cm", "v": 1}]', "device", "[0].n", "no device"),
        (
            "senml overflow",
            DEVICE,
            b'[{"bt": 1e308, "n": "a", "v": 1, "t": 1e308}]',
            "type",
            "[0].t",
            "not a finite",
        ),
        (
            "senml overflow v",
            DEVICE,
            b'[{"bv": 1e308, "n": "a", "v": 1e308}]',
            "type",
            "[0].v",
            "not a finite",
        ),
        ("senml future", DEVICE, b'[{"bt": 4102444800, "n": "a", "v": 1}]', "time", "[0].t", "in the future"),
        ("senml unit", DEVICE, b'[{"n": "a", "v": 1, "u": "deg C"}]', "type", "[0].u", "not a unit"),
        ("senml empty name", DEVICE, b'[{"v": 1}]', "shape", "[0].n", "not a reading name"),
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "category", "path", "reason"),
    [case[1:] for case in _bad_cases()],
    ids=[case[0] for case in _bad_cases()],
)
def test_refusals_say_why_and_where(
    topic: str, payload: bytes, category: str, path: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(topic, payload, NOW)
    assert caught.value.category == category
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_refusal_message_names_the_path_and_device() -> None:
    with pytest.raises(PayloadError) as caught:
        parse(
            GATEWAY,
            b'[{"device_id": "d1", "readings": {}}, {"device_id": "d2", "readings": {"smoke": "x"}}]',
            NOW,
        )
    assert str(caught.value) == "[1].readings.smoke: not a number"
    assert caught.value.device_id == "d2"


def test_readings_per_message_are_bounded() -> None:
    doc = {"readings": {f"r{i}": i for i in range(4)}}
    assert len(parse(DEVICE, _json(doc), NOW, Limits(max_readings=4))) == 4
    with pytest.raises(PayloadError, match="more than 3 readings") as caught:
        parse(DEVICE, _json(doc), NOW, Limits(max_readings=3))
    assert caught.value.category == "size"


def test_a_naive_now_is_taken_as_utc() -> None:
    readings = parse(DEVICE, b'{"readings": {"a": 1}}', NOW.replace(tzinfo=None))
    assert readings[0].ts == NOW


# ---------------------------------------------------------------- never anything but PayloadError

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
_senml_keys = st.sampled_from(
    ["bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vb", "vs", "s", "t", "ts", "readings"]
)
_senmlish = st.lists(st.dictionaries(_senml_keys, _json_values, max_size=6), max_size=5)
_topics = st.sampled_from([DEVICE, GATEWAY, "cc/devices/x/readings", "cc/other"]) | st.text(max_size=40)


def _check(topic: str, payload: bytes) -> None:
    try:
        readings = parse(topic, payload, NOW)
    except PayloadError as exc:
        assert exc.reason and exc.category
        return
    for reading in readings:
        assert reading.ts.tzinfo is not None and reading.ts <= NOW + timedelta(days=1)
        assert isinstance(reading.value, bool) or math.isfinite(reading.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=_topics, payload=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_payload_error(topic: str, payload: bytes) -> None:
    _check(topic, payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from([DEVICE, GATEWAY]), doc=_json_values | _senmlish)
def test_arbitrary_json_raises_only_payload_error(topic: str, doc: Any) -> None:
    _check(topic, orjson.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(ts=st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=45))
def test_arbitrary_times_raise_only_payload_error(ts: Any) -> None:
    try:
        payload = orjson.dumps({"ts": ts, "readings": {"a": 1}})
    except orjson.JSONEncodeError:  # an integer past 64 bits: JSON that orjson would not read either
        return
    _check(DEVICE, payload)

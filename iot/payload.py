"""What devices publish: an MQTT topic and its bytes → `Reading`s, or one `PayloadError`.

Two topics (docs/IOT.md): `cc/devices/{device_id}/readings`, where a device publishes its own
readings, and `cc/gateways/{gateway_id}/readings`, where a gateway publishes many devices' at
once. Two payloads on each: our JSON convention (`{"ts": …, "readings": {"smoke": 0.12}}`, a
gateway a list of those with `device_id`) and SenML (RFC 8428 JSON: a list of records whose
base name `urn:dev:…:<device_id>:` names the device).

A message is taken whole or refused whole: a half-applied message redelivered under QoS 1
would leave its first half twice. Everything the sender controls is bounded (bytes, readings,
string lengths, times) so that one bad device costs the intake a refusal and nothing else;
the refusal says why, where in the JSON, and for which device where that is known, so that
the glue can count and log it with the topic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # no '/', '+', '#' (MQTT), no ':' (SenML's separator)
READING_NAME = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$"  # '/' for LwM2M-style names such as 3303/0/5700
_DEVICE_ID = re.compile(DEVICE_ID)
_READING_NAME = re.compile(READING_NAME)
_UNIT = re.compile(r"^[\x21-\x7e]{1,32}$")  # SenML units are short ASCII: Cel, %RH, Pa, /, %EL
MAX_ISO_LENGTH = 40
MAX_BASE_NAME = 200
EPOCH_MS_FROM = 1e11  # a number this large is milliseconds: as seconds it would be the year 5138
SENML_RELATIVE_BELOW = 2**28  # RFC 8428 §4.5.3: a smaller time is seconds relative to "now"

Category = Literal["topic", "size", "json", "shape", "type", "time", "device"]
TopicKind = Literal["device", "gateway"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement: a device's `name` at `ts` (UTC). `unit` only where the payload gave one
    (SenML); the convention's units are the kind's (iot/kinds.py)."""

    device_id: str
    ts: datetime
    name: str
    value: float | bool
    unit: str | None = None


class PayloadError(ValueError):
    """A refused message. `category` is what the intake counts by (topic, size, json, shape,
    type, time, device); `path` is where in the JSON (`readings.smoke`, `[2].v`)."""

    def __init__(
        self, reason: str, *, path: str = "", device_id: str | None = None, category: Category = "shape"
    ) -> None:
        self.reason = reason
        self.path = path
        self.device_id = device_id
        self.category: Category = category
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


@dataclass(frozen=True, slots=True)
class Limits:
    """What one message may carry. 64 KiB holds a gateway's 1,000 readings with room to spare."""

    max_bytes: int = 64 * 1024
    max_readings: int = 1000
    max_future: timedelta = timedelta(days=1)  # device clocks drift; a day ahead is a broken clock
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)  # before: an RTC that was never set


DEFAULT_LIMITS = Limits()


def parse_topic(topic: str) -> tuple[TopicKind, str]:
    """`cc/devices/{id}/readings` → ("device", id); `cc/gateways/{id}/readings` → ("gateway", id)."""
    parts = topic.split("/")
    if (
        len(parts) != 4
        or parts[0] != "cc"
        or parts[3] != "readings"
        or parts[1] not in ("devices", "gateways")
    ):
        raise PayloadError(f"not a readings topic: {topic[:120]!r}", category="topic")
    if not _DEVICE_ID.fullmatch(parts[2]):
        raise PayloadError(f"not a device or gateway id: {parts[2][:70]!r}", path="topic", category="topic")
    return ("device" if parts[1] == "devices" else "gateway"), parts[2]


def parse(topic: str, payload: bytes, now: datetime, limits: Limits = DEFAULT_LIMITS) -> list[Reading]:
    """The readings a message carries, in message order; `now` (the receipt time) stands in for
    a missing `ts` and anchors SenML's relative times and the future bound."""
    kind, ident = parse_topic(topic)
    own = ident if kind == "device" else None
    if len(payload) > limits.max_bytes:
        raise PayloadError(f"{len(payload)} bytes, over {limits.max_bytes}", device_id=own, category="size")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not JSON: {exc}", device_id=own, category="json") from None
    reader = _Reader(now if now.tzinfo else now.replace(tzinfo=UTC), limits)
    if kind == "device":
        if isinstance(doc, dict):
            reader.entry(doc, own, "")
        elif isinstance(doc, list):
            reader.senml(doc, own)
        else:
            raise PayloadError("expected an object or a SenML list", device_id=own)
    elif not isinstance(doc, list):
        raise PayloadError("a gateway publishes a list", category="shape")
    elif doc and isinstance(doc[0], dict) and ("device_id" in doc[0] or "readings" in doc[0]):
        for i, item in enumerate(doc):
            if not isinstance(item, dict):
                raise PayloadError("expected an object", path=f"[{i}]")
            reader.entry(item, None, f"[{i}].")
    else:
        reader.senml(doc, None)
    return reader.out


class _Reader:
    """One message's readings as they are checked; raises on the first fault."""

    def __init__(self, now: datetime, limits: Limits) -> None:
        self.now = now
        self.limits = limits
        self.latest = (now + limits.max_future).timestamp()
        self.earliest = limits.earliest.timestamp()
        self.out: list[Reading] = []

    def add(self, reading: Reading) -> None:
        if len(self.out) >= self.limits.max_readings:
            raise PayloadError(
                f"more than {self.limits.max_readings} readings", device_id=reading.device_id, category="size"
            )
        self.out.append(reading)

    def entry(self, obj: dict[str, Any], own: str | None, prefix: str) -> None:
        """Our convention: {"device_id"?, "ts"?, "readings": {name: number | bool}}; other keys
        (a sequence number, a firmware version) are the device's business and pass unread."""
        device_id = self.device_of(obj.get("device_id"), own, f"{prefix}device_id")
        ts = self.time(obj["ts"], f"{prefix}ts", device_id) if "ts" in obj else self.now
        readings = obj.get("readings")
        if not isinstance(readings, dict):
            reason = "missing" if readings is None else "expected an object of name: value"
            raise PayloadError(reason, path=f"{prefix}readings", device_id=device_id)
        for name, raw in readings.items():
            path = f"{prefix}readings.{name[:64]}"
            if not _READING_NAME.fullmatch(name):
                raise PayloadError("not a reading name", path=path, device_id=device_id)
            self.add(Reading(device_id, ts, name, _value(raw, path, device_id)))

    def device_of(self, raw: Any, own: str | None, path: str) -> str:
        if raw is None:
            if own is None:
                raise PayloadError("missing: a gateway names each device", path=path, category="device")
            return own
        if not isinstance(raw, str) or not _DEVICE_ID.fullmatch(raw):
            raise PayloadError("not a device id", path=path, device_id=own, category="device")
        if own is not None and raw != own:
            # per-device credentials are checked against the topic: a device speaks for itself only
            raise PayloadError(
                f"{raw!r} is not the topic's device", path=path, device_id=own, category="device"
            )
        return raw

    def senml(self, records: list[Any], own: str | None) -> None:
        """RFC 8428 records; base fields carry over to the records after them."""
        bn, bt, bv, bu = "", 0.0, 0.0, None
        for i, rec in enumerate(records):
            path = f"[{i}]"
            if not isinstance(rec, dict):
                raise PayloadError("a SenML record is an object", path=path, device_id=own)
            for key in rec:
                if key.endswith("_"):  # §4.4: a field ending in '_' must be understood or the pack refused
                    raise PayloadError("unsupported must-understand field", path=f"{path}.{key[:32]}")
            if "bn" in rec:
                bn = _base_name(rec["bn"], f"{path}.bn", own)
            if "bt" in rec:
                bt = _number(rec["bt"], f"{path}.bt", own)
            if "bv" in rec:
                bv = _number(rec["bv"], f"{path}.bv", own)
            if "bu" in rec:
                bu = _unit(rec["bu"], f"{path}.bu", own)
            if not any(k in rec for k in ("v", "vb", "vs", "vd", "s")):
                if any(k in rec for k in ("n", "t", "u")):
                    raise PayloadError("no value (v or vb)", path=path, device_id=own)
                continue  # a record of base fields only
            self.record(rec, path, own, (bn, bt, bv, bu))

    def record(
        self, rec: dict[str, Any], path: str, own: str | None, base: tuple[str, float, float, str | None]
    ) -> None:
        bn, bt, bv, bu = base
        name = rec.get("n", "")
        if not isinstance(name, str) or len(name) > MAX_BASE_NAME:
            raise PayloadError("not a name", path=f"{path}.n", device_id=own)
        device_id, name = _split_name(bn + name, own, f"{path}.n")
        if "vs" in rec or "vd" in rec:
            raise PayloadError(
                "string and data values are not readings", path=path, device_id=device_id, category="type"
            )
        if "v" in rec and "vb" in rec:
            raise PayloadError("both v and vb", path=path, device_id=device_id, category="type")
        value: float | bool
        if "vb" in rec:
            if not isinstance(rec["vb"], bool):
                raise PayloadError("not a boolean", path=f"{path}.vb", device_id=device_id, category="type")
            value = rec["vb"]
        elif "v" in rec:
            value = _finite(bv + _number(rec["v"], f"{path}.v", device_id), f"{path}.v", device_id)
        else:
            raise PayloadError(
                "a sum (s) alone is not a reading", path=path, device_id=device_id, category="type"
            )
        t = _finite(bt + _number(rec.get("t", 0), f"{path}.t", device_id), f"{path}.t", device_id)
        if abs(t) < SENML_RELATIVE_BELOW:
            t += self.now.timestamp()
        unit = _unit(rec["u"], f"{path}.u", device_id) if "u" in rec else bu
        self.add(Reading(device_id, self.bounded(t, f"{path}.t", device_id), name, value, unit))

    def time(self, raw: Any, path: str, device_id: str | None) -> datetime:
        """Epoch seconds, epoch milliseconds, or ISO-8601 with a zone."""
        if isinstance(raw, str):
            if len(raw) > MAX_ISO_LENGTH:
                raise PayloadError("not an ISO-8601 time", path=path, device_id=device_id, category="time")
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                raise PayloadError(
                    "not an ISO-8601 time", path=path, device_id=device_id, category="time"
                ) from None
            if parsed.tzinfo is None:
                # a gateway's local time read as UTC would be hours off: refuse rather than guess
                raise PayloadError(
                    "no time zone (add Z or +08:00)", path=path, device_id=device_id, category="time"
                )
            try:
                seconds = (parsed - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
            except OverflowError:
                raise PayloadError(
                    "not a sane time", path=path, device_id=device_id, category="time"
                ) from None
            return self.bounded(seconds, path, device_id)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise PayloadError("not a time", path=path, device_id=device_id, category="time")
        seconds = float(raw)
        return self.bounded(seconds / 1000 if abs(seconds) >= EPOCH_MS_FROM else seconds, path, device_id)

    def bounded(self, seconds: float, path: str, device_id: str | None) -> datetime:
        if seconds > self.latest:
            raise PayloadError(
                f"more than {self.limits.max_future.total_seconds() / 3600:g} h in the future",
                path=path,
                device_id=device_id,
                category="time",
            )
        if not seconds >= self.earliest:  # also NaN
            raise PayloadError(
                f"before {self.limits.earliest.date()}: the device's clock is not set",
                path=path,
                device_id=device_id,
                category="time",
            )
        return datetime.fromtimestamp(seconds, UTC)


def _value(raw: Any, path: str, device_id: str) -> float | bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return _finite(float(raw), path, device_id)
    raise PayloadError("not a number", path=path, device_id=device_id, category="type")


def _number(raw: Any, path: str, device_id: str | None) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PayloadError("not a number", path=path, device_id=device_id, category="type")
    return _finite(float(raw), path, device_id)


def _finite(value: float, path: str, device_id: str | None) -> float:
    if not math.isfinite(value):  # bv + v or bt + t can overflow where each part did not
        raise PayloadError("not a finite number", path=path, device_id=device_id, category="type")
    return value


def _unit(raw: Any, path: str, device_id: str | None) -> str:
    if not isinstance(raw, str) or not _UNIT.fullmatch(raw):
        raise PayloadError("not a unit", path=path, device_id=device_id, category="type")
    return raw


def _base_name(raw: Any, path: str, own: str | None) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_BASE_NAME:
        raise PayloadError("not a base name", path=path, device_id=own)
    if raw and not raw.endswith(":"):
        raise PayloadError("a base name ends with ':' (urn:dev:…:<device_id>:)", path=path, device_id=own)
    return raw


def _split_name(full: str, own: str | None, path: str) -> tuple[str, str]:
    """`urn:dev:ow:10e2073a01080063:temp` → ("10e2073a01080063", "temp"); a name without ':' is
    the topic's device's own reading."""
    if ":" in full:
        prefix, name = full.rsplit(":", 1)
        device_id = prefix.rsplit(":", 1)[-1]
        if not _DEVICE_ID.fullmatch(device_id):
            raise PayloadError(
                "no device id in the name (urn:dev:…:<device_id>:)", path=path, category="device"
            )
        if own is not None and device_id != own:
            raise PayloadError(
                f"{device_id!r} is not the topic's device", path=path, device_id=own, category="device"
            )
    elif own is None:
        raise PayloadError("no device: give bn urn:dev:…:<device_id>:", path=path, category="device")
    else:
        device_id, name = own, full
    if not _READING_NAME.fullmatch(name):
        raise PayloadError("not a reading name", path=path, device_id=device_id)
    return device_id, name

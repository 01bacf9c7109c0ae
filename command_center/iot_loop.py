"""Readings → registry, rule engine → incidents and cases: the IoT handler (mqtt/handler.py).

For each message (MQTT or HTTP): parse it (iot/payload.py), look each device up in the
registry, check each reading against the device's kind, then feed the rule engine, store the
readings and touch the devices (last seen, battery, signal), and act on the engine's events.
The MQTT intake hands over a group of messages at once (`handle_many`): each is checked and fed
alone, and the group's readings are stored in one transaction (a group commit) before any of
its events act. The events:
- `Opened`: one incident (source iot) stored and published on the bus `incidents` topic like a
  video incident, so the dispatcher's intake (casework.py) makes its case in the device's grid
  and the hub shows it; the device's state becomes `alarm`, announced as `device.updated` on the
  bus `devices` topic (as is alarm → online, and a silent device heard from again).
- `Closed`: the incident is updated (closed_at, the series); the case stays for people to close.

A message is refused whole (ValueError: the intake counts and logs it with the topic, the
HTTP intake answers 400) when it is malformed, names only unknown devices, or carries a
reading of the wrong type for its device's kind: half of a message applied and then
redelivered would apply its first half twice. Unknown devices in a gateway's message are
counted and logged with the topic and skipped; the rest is taken.

Idempotent by episode: the incident's id comes from the episode id (iot_incidents.py). A
redelivered reading is a duplicate to the engine (no event) and to the readings table (no
row). After a restart the engine knows nothing: the first message of each device replays its
stored recent readings into the engine, which opens the same episodes with the same ids; an
episode still open at the end of the replay gets its incident if it has none (the process died
between storing the readings and the incident). The limits of this are in docs/IOT_MQTT.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from command_center.bus import Bus
from command_center.events import Event
from command_center.iot_incidents import EpisodeLinks, closed_fields, incident_id, opened_doc, safely
from command_center.registry.device_model import Device
from command_center.store import Store
from command_center.store.device_records import device_store
from dispatch.catalog import Catalog
from iot.kinds import DeviceKind, check_reading, get_kind, rules_for
from iot.payload import PayloadError, Reading, parse
from iot.rule_models import DeviceRules, Rule
from iot.rules import Closed, Opened, RuleEngine

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
REFRESH_S = 60.0  # a device's registry row is read again this often: an admin's new thresholds apply
StoredRow = tuple[str, datetime, float]  # a stored reading: name, time, value
SIGNALS = {"battery": "battery", "rssi": "signal"}  # readings that are also the registry's columns
COUNTERS = (
    "iot_messages", "iot_readings", "iot_refused", "iot_malformed", "iot_unknown_devices", "iot_wrong_type",
    "iot_incidents", "iot_incidents_again", "iot_episodes_closed", "iot_replayed",
)  # fmt: skip


def utc_now() -> datetime:
    return datetime.now(UTC)


def device_event(device: Device) -> dict[str, Any]:
    """A device on the `devices` topic: its state, place and grid (the hub scopes by grid_code)."""
    return {"device_id": device.id, "name": device.name, "kind": device.kind, "state": device.state,
            "last_seen": device.last_seen.isoformat() if device.last_seen else None, "battery": device.battery,
            "grid_code": device.grid_code, "location": {"lon": device.lon, "lat": device.lat}}  # fmt: skip


@dataclass(slots=True)
class _Known:
    device: Device
    kind: DeviceKind
    loaded_at: float


@dataclass(slots=True)
class _Accepted:
    """A message taken: its devices, its readings, the engine's events on them."""

    known: dict[str, _Known]
    readings: list[Reading]
    events: list[Opened | Closed]


class IotLoop:
    """The Handler: `await loop(topic, payload)`. One per process; its engine is in memory."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        catalog: Catalog,
        counters: dict[str, int],
        clock: Clock = utc_now,
        links: EpisodeLinks | None = None,
    ) -> None:
        self.store = store
        self.links = links
        self.devices = device_store(store)
        self.bus = bus
        self.catalog = catalog
        self.counters = counters
        for name in COUNTERS:
            counters.setdefault(name, 0)
        self.clock = clock
        self.engine = RuleEngine()
        self._known: dict[str, _Known] = {}
        self._unusable: dict[str, str] = {}  # device → why its thresholds make no rules (refused once)
        self._rule_sets: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._lock = asyncio.Lock()  # the MQTT and HTTP intakes share one engine

    async def __call__(self, topic: str, payload: bytes) -> None:
        await self.handle(topic, payload)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message (the HTTP intake's post); raises what `handle_many` would return for it."""
        [outcome] = await self.handle_many([(topic, payload)])
        if outcome is not None:
            raise outcome

    async def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[Exception | None]:
        """Several messages in order, their readings and devices' last-seen written in ONE
        transaction (a group commit: one fsync for the lot, bench iot), then their incidents.
        Per message: None, or the ValueError that refused it whole. A store failure raises
        (none of them was written)."""
        outcomes: list[Exception | None] = []
        accepted: list[_Accepted] = []
        async with self._lock:
            parsed = [self._parse(topic, payload) for topic, payload in messages]
            # The group's devices from the registry in one round (and first sights replayed),
            # not a query and a thread hop per message.
            await self._load({r.device_id for p in parsed if not isinstance(p, ValueError) for r in p})
            for (topic, _), readings in zip(messages, parsed, strict=True):
                try:
                    if isinstance(readings, ValueError):
                        raise readings
                    accepted.append(await self._accept(topic, readings))
                    outcomes.append(None)
                except ValueError as exc:
                    outcomes.append(exc)
            taken = [r for a in accepted for r in a.readings]
            if taken:
                await asyncio.to_thread(self._store_readings, taken)
            self.counters["iot_readings"] += len(taken)
            online: list[str] = []
            for a in accepted:
                online += await self._after(a)
            if online:  # announced after the alarms: those come first
                await self._announce_many(online)
        return outcomes

    def _parse(self, topic: str, payload: bytes) -> list[Reading] | ValueError:
        self.counters["iot_messages"] += 1
        try:
            return parse(topic, payload, self.clock())
        except PayloadError as exc:
            return self._refused("iot_malformed", topic, exc.message)

    async def _accept(self, topic: str, readings: list[Reading]) -> _Accepted:
        """Check one message's readings and feed them to the engine; ValueError refuses it."""
        by_device: dict[str, list[Reading]] = {}
        for reading in readings:
            by_device.setdefault(reading.device_id, []).append(reading)
        known: dict[str, _Known] = {}
        for device_id in by_device:
            found = await self._device(device_id)
            if found is None:
                self.counters["iot_unknown_devices"] += 1
                log.warning("iot: a reading of unknown device %s on %s skipped", device_id, topic)
            else:
                known[device_id] = found
        if not known:
            self._refuse("iot_refused", topic, f"unknown device {', '.join(sorted(by_device))}")
        for device_id, found in known.items():
            for reading in by_device[device_id]:
                why = check_reading(found.kind, reading)
                if why is not None:
                    self._refuse("iot_wrong_type", topic, f"device {device_id}: {why}")
        taken = [r for device_id in known for r in by_device[device_id]]
        return _Accepted(known, taken, self.engine.feed_all(taken))

    async def _after(self, accepted: _Accepted) -> list[str]:
        """Once its readings are stored: the episodes act; the devices heard from again (the
        registry's touch made them online), to announce."""
        online = []
        for found in accepted.known.values():
            if found.device.state == "offline":
                found.device = found.device.model_copy(update={"state": "online"})
                online.append(found.device.id)
        for event in accepted.events:
            await self._act(accepted.known[event.device_id].device, event)
        return online

    def _refuse(self, counter: str, topic: str, reason: str) -> NoReturn:
        """Count and raise: the intake logs the ValueError with the topic; over HTTP it is a 400."""
        raise self._refused(counter, topic, reason)

    def _refused(self, counter: str, topic: str, reason: str) -> ValueError:
        """Count and log a refusal; the error that says why."""
        self.counters[counter] += 1
        if counter != "iot_refused":
            self.counters["iot_refused"] += 1
        log.warning("iot: a message on %s refused: %s", topic, reason)
        return ValueError(reason)

    def _store_readings(self, readings: list[Reading]) -> None:
        last: dict[str, dict[str, Any]] = {}
        for r in readings:
            seen = last.setdefault(r.device_id, {"ts": r.ts})
            seen["ts"] = max(seen["ts"], r.ts)
            if r.name in SIGNALS and not isinstance(r.value, bool):
                seen[SIGNALS[r.name]] = float(r.value)
        # One transaction for the readings and the devices' last-seen (one fsync, not two: the
        # intake's hot path, bench iot); the message is acknowledged only after it commits.
        with self.store.batch():
            self.devices.add_readings((r.device_id, r.ts, r.name, float(r.value)) for r in readings)
            for device_id, seen in last.items():
                self.devices.touch(device_id, seen["ts"], seen.get("battery"), seen.get("signal"))

    # the registry and the engine
    async def _device(self, device_id: str) -> _Known | None:
        """The device as the registry has it (re-read every REFRESH_S), its rules in the engine;
        ValueError when its registered thresholds make no rules."""
        await self._load({device_id})
        if device_id in self._unusable:
            raise ValueError(f"device {device_id}: {self._unusable.pop(device_id)}")
        return self._known.get(device_id)

    async def _load(self, device_ids: set[str]) -> None:
        """Read the registry rows of the devices not known or stale, in one thread hop; a device
        seen for the first time has its stored recent readings replayed."""
        now = time.monotonic()
        stale = [i for i in device_ids if (k := self._known.get(i)) is None or now - k.loaded_at >= REFRESH_S]
        if not stale:
            return
        first = [i for i in stale if i not in self._known]
        devices, stored = await asyncio.to_thread(self._fetch, stale, first)
        for device_id in stale:
            try:
                await self._install(device_id, devices.get(device_id), stored.get(device_id, []))
            except ValueError as exc:  # its thresholds: its message is refused with the reason (_device)
                self._known.pop(device_id, None)
                self._unusable[device_id] = str(exc)

    def _fetch(
        self, stale: list[str], first: list[str]
    ) -> tuple[dict[str, Device], dict[str, list[StoredRow]]]:
        recent = self.devices.recent_many(first, self.engine.series_points) if first else {}
        return self.devices.get_many(stale), recent

    async def _install(self, device_id: str, device: Device | None, stored: list[StoredRow]) -> None:
        known = self._known.get(device_id)
        if device is None:  # unknown, or retired since
            self._known.pop(device_id, None)
            for closed in self.engine.remove(device_id):
                await self._closed(closed)
            return
        kind = get_kind(device.kind)
        rules = self._rules(kind, device.thresholds)
        for closed in self.engine.set_rules(device_id, rules):  # changed rules close their episodes
            await self._closed(closed)
        self._known[device_id] = _Known(device, kind, time.monotonic())
        if known is None and stored:
            await self._replay(device, kind, stored)

    def _rules(self, kind: DeviceKind, thresholds: dict[str, Any]) -> tuple[Rule, ...]:
        """The rules of a kind with a device's departures, made once per distinct pair: most
        devices of a fleet share their kind's defaults."""
        key = (kind.name, json.dumps(thresholds, sort_keys=True))
        rules = self._rule_sets.get(key)
        if rules is None:
            rules = self._rule_sets[key] = rules_for(kind, DeviceRules.model_validate(thresholds))
        return rules

    async def _replay(self, device: Device, kind: DeviceKind, stored: list[StoredRow]) -> None:
        """The device's stored recent readings through the engine (after a start): its open
        episodes come back with their ids; one without its incident gets it now."""
        readings = []
        for name, ts, value in stored:  # oldest first
            spec = kind.spec(name)
            readings.append(
                Reading(
                    device.id, ts, name, bool(value) if spec is not None and spec.type == "bool" else value
                )
            )
        events = self.engine.feed_all(readings)
        self.counters["iot_replayed"] += len(readings)
        still_open = self.engine.open_episodes(device.id)
        for event in events:
            if isinstance(event, Opened) and still_open.get(event.rule_id) == event.ts:
                await self._opened(device, event)

    # episodes
    async def _act(self, device: Device, event: Opened | Closed) -> None:
        if isinstance(event, Opened):
            await self._opened(device, event)
        else:
            await self._closed(event)

    async def _opened(self, device: Device, event: Opened) -> None:
        """The episode's incident, once: stored, then announced (the dispatcher makes the case)."""
        doc = opened_doc(device, event, self.catalog)
        stored = await asyncio.to_thread(self.store.get_incident, doc["id"])
        if stored is not None and stored.get("case_id"):
            self.counters["iot_incidents_again"] += 1
            return
        if stored is None:
            if self.links is not None:
                doc |= safely(self.links.fields, device) or {}
            await asyncio.to_thread(self.store.add_incident, doc)
            self.counters["iot_incidents"] += 1
        else:  # stored, no case yet: announced again (the intake is idempotent by incident id)
            doc = stored
            self.counters["iot_incidents_again"] += 1
        await asyncio.to_thread(self.devices.set_state, device.id, "alarm")
        await self.bus.publish(Event("incidents", "incident.created", doc))
        known = self._known.get(device.id)
        if known is not None:
            known.device = known.device.model_copy(update={"state": "alarm"})
        await self._announce(device.id)
        log.info("iot: %s on device %s opened incident %s", event.rule_id, device.id, doc["id"])
        if self.links is not None:
            safely(self.links.opened, device, doc["id"])

    async def _closed(self, event: Closed) -> None:
        self.counters["iot_episodes_closed"] += 1
        updated = await asyncio.to_thread(
            self.store.update_incident, incident_id(event.episode_id), **closed_fields(event)
        )
        over = not self.engine.open_episodes(event.device_id)  # the device's last episode closed
        if over and await asyncio.to_thread(self._alarm_over, event.device_id):
            await self._announce(event.device_id)
        if updated is not None:
            await self.bus.publish(Event("incidents", "incident.updated", updated))
        if self.links is not None:
            safely(self.links.closed, event)

    def _alarm_over(self, device_id: str) -> bool:
        """Alarm → online once its last episode closed; whether it changed."""
        device = self.devices.get(device_id)
        if device is None or device.state != "alarm":
            return False
        self.devices.set_state(device_id, "online")
        known = self._known.get(device_id)
        if known is not None:
            known.device = known.device.model_copy(update={"state": "online"})
        return True

    async def _announce_many(self, device_ids: list[str]) -> None:
        """`device.updated` for each, read from the registry in one round."""
        devices = await asyncio.to_thread(self.devices.get_many, device_ids)
        for device_id in device_ids:
            if (device := devices.get(device_id)) is not None:
                await self.bus.publish(Event("devices", "device.updated", device_event(device)))

    async def _announce(self, device_id: str) -> None:
        """`device.updated` on the bus `devices` topic (the wall's device layer): the device as
        the registry now has it, in the shape of the heartbeat's `device.offline`."""
        await self._announce_many([device_id])

    async def advance(self, now: datetime | None = None) -> int:
        """Close the episodes that cleared and then heard nothing more (a door after its all-clear)."""
        async with self._lock:
            closed = self.engine.advance(now or self.clock())
            for event in closed:
                await self._closed(event)
        return len(closed)

    async def run_advance(self, every_s: float = 30.0) -> None:
        while True:
            try:
                await self.advance()
            except Exception:  # the next round tries again
                log.exception("iot: closing cleared episodes failed")
            await asyncio.sleep(every_s)

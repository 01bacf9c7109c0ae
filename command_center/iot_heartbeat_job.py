"""Devices that went silent go offline (a singleton job: one node of several sweeps).

A device not heard from for longer than its heartbeat window (its own, or its kind's:
iot/kinds.py) is marked offline in the registry and announced on the bus `devices` topic
(`device.offline`); with `offline_cases`, each also raises a maintenance incident (matter
9908, 物联设备故障, or the kind's own offline matter), which the dispatcher turns into a case
in the device's grid like any incident. A reading brings the device back (device_records.touch).

The silent devices are found in the database, one query per kind with the cutoff computed
here (the stored times are fixed-length UTC text, so text order is time order); only devices
with a window of their own are compared here, and only those not offline yet.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.bus import Bus
from command_center.events import Event
from command_center.iot_incidents import incident_id
from command_center.iot_loop import Clock, utc_now
from command_center.registry.device_model import Device
from command_center.store import Store
from command_center.store.device_records import LIVE, device_store, stamp
from command_center.store.device_schema import devices
from command_center.store.queries import compile_sql, const
from dispatch.catalog import Catalog
from iot.heartbeat import presence
from iot.kinds import KINDS, get_kind

log = logging.getLogger(__name__)
EVERY_S = 60.0  # a window is an hour or more (iot/kinds.py): a minute late is nothing


@cache
def _sql(dialect: str) -> dict[str, str]:
    d = devices
    reporting = sa.and_(LIVE, d.c.state != const("offline"), d.c.last_seen.is_not(None))
    return {
        "by_kind": compile_sql(
            sa.select(d.c.id).where(
                reporting,
                d.c.heartbeat_s.is_(None),
                d.c.kind == sa.bindparam("kind"),
                d.c.last_seen < sa.bindparam("cutoff"),
            ),
            dialect,
        ),
        "own": compile_sql(
            sa.select(d.c.id, d.c.last_seen, d.c.heartbeat_s).where(reporting, d.c.heartbeat_s.is_not(None)),
            dialect,
        ),
    }


class IotHeartbeat:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        catalog: Catalog,
        counters: dict[str, int],
        offline_cases: bool = False,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.devices = device_store(store)
        self.bus = bus
        self.catalog = catalog
        self.counters = counters
        counters.setdefault("iot_offline", 0)
        self.offline_cases = offline_cases
        self.clock = clock

    def silent(self, now: datetime) -> list[str]:
        """The ids of devices past their heartbeat window at `now`, not yet offline."""
        sql = _sql(self.devices.dialect)
        out: list[str] = []
        with self.devices.store._reading() as db:
            for kind in KINDS.values():
                cutoff = stamp(now - timedelta(seconds=kind.heartbeat_s))
                rows = db.execute(sql["by_kind"], {"kind": kind.name, "cutoff": cutoff}).fetchall()
                out.extend(row[0] for row in rows)
            for device_id, seen, window in db.execute(sql["own"], {}).fetchall():
                if presence(datetime.fromisoformat(seen), float(window), now) == "offline":
                    out.append(device_id)
        return sorted(out)

    async def sweep_once(self) -> list[str]:
        """Mark the silent devices offline and announce each; their ids."""
        now = self.clock()
        ids = await asyncio.to_thread(self.silent, now)
        if not ids:
            return []
        await asyncio.to_thread(self.devices.mark_offline, ids)
        self.counters["iot_offline"] += len(ids)
        for device_id in ids:
            device = await asyncio.to_thread(self.devices.get, device_id)
            if device is None:
                continue
            data = {"device_id": device.id, "name": device.name, "kind": device.kind, "state": "offline",
                    "last_seen": device.last_seen.isoformat() if device.last_seen else None,
                    "grid_code": device.grid_code, "location": {"lon": device.lon, "lat": device.lat}}  # fmt: skip
            await self.bus.publish(Event("devices", "device.offline", data))
            if self.offline_cases:
                await self._maintenance(device, now)
        log.info("iot: %d devices went offline: %s", len(ids), ", ".join(ids[:20]))
        return ids

    async def _maintenance(self, device: Device, now: datetime) -> None:
        """A maintenance incident for the silent device, once per silence (its last_seen keys it)."""
        seen = device.last_seen.isoformat() if device.last_seen else "never"
        doc = offline_doc(device, self.catalog, incident_id(f"{device.id}/offline/{seen}"), now)
        if await asyncio.to_thread(self.store.get_incident, doc["id"]) is not None:
            return
        await asyncio.to_thread(self.store.add_incident, doc)
        await self.bus.publish(Event("incidents", "incident.created", doc))

    async def run(self, every_s: float = EVERY_S) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again
                log.exception("iot: the heartbeat sweep failed")
            await asyncio.sleep(every_s)


def offline_doc(device: Device, catalog: Catalog, doc_id: str, now: datetime) -> dict[str, Any]:
    kind = get_kind(device.kind)
    matter = catalog.get(kind.offline_matter)
    return {
        "id": doc_id, "ts": now.isoformat(), "source": "iot", "episode_id": None, "device_id": device.id,
        "device_name": device.name or None, "device_kind": device.kind, "device_kind_name": kind.label,
        "camera_id": None, "camera_name": None, "rule": "offline", "rule_name": matter.name,
        "label": device.kind, "label_name": kind.label, "zone": None, "score": 1.0,
        "location": {"lon": device.lon, "lat": device.lat}, "address": device.address or None,
        "grid_code": device.grid_code, "matter_code": matter.code, "matter_name": matter.name,
        "urgency": matter.urgency, "emergency_class": matter.emergency_class, "readings": {},
        "snapshot_url": None, "clip_url": None, "state": "new", "case_id": None, "closed_at": None,
    }  # fmt: skip

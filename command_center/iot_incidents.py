"""An IoT alarm episode as an incident: its stored document and the dispatcher's intake of it.

One incident per episode (iot/rules.py): its id is derived from the episode id, which is
stable across replays of the same readings, so a QoS 1 redelivery or a restart that replays
the stored readings finds the incident already there instead of making a second. The
incident carries what the wall and the worker need without a second look-up: the device's
name and kind, the rule's matter, the device's place and grid, and the readings series.
What goes with it besides (nearby cameras and their snapshots, the all-clear on the case) is
an `EpisodeLinks` the loop is given (iot_cameras.CameraLinks), each step guarded by `safely`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from command_center import i18n
from command_center.registry.device_model import Device
from dispatch.catalog import Catalog
from dispatch.intake import Intake
from iot.kinds import get_kind
from iot.rules import Closed, Opened, Series

log = logging.getLogger(__name__)


def incident_id(episode_id: str) -> str:
    """A URL-safe id for an episode ("IOT-" and 20 hex digits): the episode id holds '/'."""
    return "IOT-" + hashlib.sha256(episode_id.encode("utf-8")).hexdigest()[:20]


def series_doc(series: Series) -> dict[str, list[list[Any]]]:
    """A readings series as JSON: name → [[ISO time, value], …]."""
    return {name: [[ts.isoformat(), value] for ts, value in points] for name, points in series.items()}


def opened_doc(device: Device, event: Opened, catalog: Catalog) -> dict[str, Any]:
    """The incident of an opened episode, in the shape of a video incident plus the device's fields."""
    matter = catalog.get(event.matter)
    kind = get_kind(device.kind)
    return {
        "id": incident_id(event.episode_id),
        "ts": event.ts.isoformat(),
        "source": "iot",
        "episode_id": event.episode_id,
        "device_id": device.id,
        "device_name": device.name or None,
        "device_kind": device.kind,
        "device_kind_name": kind.label,
        "camera_id": None,
        "camera_name": None,
        "rule": event.rule_id,
        "rule_name": matter.name,
        "label": device.kind,
        "label_name": kind.label,
        "zone": None,
        "score": 1.0,
        "location": {"lon": device.lon, "lat": device.lat},
        "address": device.address or None,
        "grid_code": device.grid_code,
        "matter_code": matter.code,
        "matter_name": matter.name,
        "urgency": matter.urgency,
        "emergency_class": matter.emergency_class,
        "readings": series_doc(event.readings),
        "snapshot_url": None,
        "clip_url": None,
        "state": "new",
        "case_id": None,
        "closed_at": None,
    }


def closed_fields(event: Closed) -> dict[str, Any]:
    """What a closed episode changes on its incident (the case stays for people to close)."""
    return {
        "closed_at": event.ts.isoformat(),
        "cleared_at": event.cleared_at.isoformat(),
        "close_reason": event.reason,
        "readings": series_doc(event.readings),
    }


def describe(doc: dict[str, Any]) -> str:
    """烟感报警：烟感（A栋3楼） — the matter, the kind, the device's name or address."""
    kind = doc.get("device_kind_name") or i18n.name("label", doc.get("label")) or doc.get("device_kind") or ""
    place = doc.get("device_name") or doc.get("address")
    text = f"{doc.get('matter_name') or ''}：{kind}" if doc.get("matter_name") else kind
    return f"{text}（{place}）" if place else text


def iot_intake(doc: dict[str, Any]) -> Intake:
    """An IoT incident, as the dispatcher takes it in: source iot, the rule's matter."""
    return Intake(
        source="iot",
        lon=doc["location"]["lon"],
        lat=doc["location"]["lat"],
        ts=datetime.fromisoformat(doc["ts"]),
        ref_id=doc["id"],
        rule=doc.get("rule"),
        label=doc.get("label"),
        matter_code=doc["matter_code"],
        description=describe(doc),
        device=(doc["device_id"], doc.get("device_name"), doc.get("device_kind") or doc.get("label") or ""),
    )


class EpisodeLinks(Protocol):
    """What goes with an episode besides its incident (iot_cameras.CameraLinks: nearby cameras,
    snapshots, raised sensing, the all-clear on the case). A failure here is logged, never the
    intake's."""

    def fields(self, device: Device) -> dict[str, Any]:
        """Extra fields of a new incident (it is announced with them)."""
        ...

    def opened(self, device: Device, incident: str) -> None:
        """After the incident was stored and announced."""
        ...

    def closed(self, event: Closed) -> None:
        """After the incident's close was stored and announced."""
        ...


def safely(step: Callable[..., Any], *args: Any) -> Any:
    """An episode link's step: what fails there is logged, never the intake's failure."""
    try:
        return step(*args)
    except Exception:
        log.exception("iot: %s failed for %s", getattr(step, "__qualname__", step), args[0])
        return None

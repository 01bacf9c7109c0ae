"""Which camera sees a point on the map, and where in its picture (pure geometry).

A camera's view is a sector: from its location, `fov_deg` wide around its `heading`
(degrees clockwise from north), out to `range_m`. A point inside the sector appears in a
vertical strip of the picture: its bearing relative to the heading, over the field of view,
gives the column (left edge = heading − fov/2). Distance is not mapped to rows: the ground
plane's perspective is unknown, so the strip spans the picture's full height.

A camera without a heading or field of view covers nothing: where it looks is unknown, and
a check aimed at the wrong part of a picture would report "gone" for what it never saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from command_center.config import CameraConfig, VerificationConfig
    from dispatch.catalog import Matter

EARTH_M_PER_DEG = 111_320.0
DEFAULT_RANGE_M = 80.0  # a street camera recognises a stall or a parked car to about this distance
STRIP_DEG = 12.0  # the strip's width around the bearing: position error of a reported point


class Located(Protocol):
    lon: float
    lat: float


class Viewing(Protocol):
    """What coverage needs of a camera (command_center.config.CameraConfig has it)."""

    @property
    def location(self) -> Located: ...

    @property
    def heading(self) -> float | None: ...

    @property
    def fov_deg(self) -> float | None: ...

    @property
    def range_m(self) -> float | None: ...


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Metres between two nearby points (equirectangular: exact enough within a city)."""
    dx = (lon2 - lon1) * EARTH_M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * EARTH_M_PER_DEG
    return math.hypot(dx, dy)


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Degrees clockwise from north, from the first point to the second (0..360)."""
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    dy = lat2 - lat1
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _offset_deg(camera: Viewing, lon: float, lat: float) -> float | None:
    """The point's bearing relative to the camera's heading (−180..180), or None when the
    camera's direction is unknown."""
    if camera.heading is None or camera.fov_deg is None:
        return None
    loc = camera.location
    return (bearing_deg(loc.lon, loc.lat, lon, lat) - camera.heading + 180.0) % 360.0 - 180.0


def covers(camera: Viewing, lon: float, lat: float) -> bool:
    """Does the camera's view (sector of fov_deg around heading, out to range_m) hold the point?"""
    offset = _offset_deg(camera, lon, lat)
    if offset is None or camera.fov_deg is None:
        return False
    loc = camera.location
    reach = camera.range_m or DEFAULT_RANGE_M
    distance = distance_m(loc.lon, loc.lat, lon, lat)
    if distance > reach:
        return False
    # Standing on the point (within a few metres), any direction sees it at the foot of the view.
    return distance < 3.0 or camera.fov_deg >= 360.0 or abs(offset) <= camera.fov_deg / 2


def strip_share(camera: Viewing, lon: float, lat: float) -> tuple[float, float] | None:
    """The vertical strip where the point appears, as shares of the picture's width
    (left, right: 0..1); None when the camera does not cover it."""
    if not covers(camera, lon, lat):
        return None
    offset = _offset_deg(camera, lon, lat) or 0.0
    fov = min(camera.fov_deg or 360.0, 360.0)
    centre = 0.5 + offset / fov
    half = max(STRIP_DEG / fov / 2, 0.08)  # at least a sixth of the picture in all
    return (max(0.0, centre - half), min(1.0, centre + half))


def strip(
    camera: Viewing, lon: float, lat: float, width: int, height: int
) -> tuple[float, float, float, float] | None:
    """The picture's vertical strip (x1, y1, x2, y2 in source pixels) where the point
    appears; None when the camera does not cover it."""
    share = strip_share(camera, lon, lat)
    if share is None:
        return None
    return (share[0] * width, 0.0, share[1] * width, float(height))


V = TypeVar("V", bound=Viewing)


def nearest_covering(cameras: Sequence[V], lon: float, lat: float) -> V | None:
    """Of the cameras that cover the point, the nearest (a closer view shows more)."""
    seeing = [c for c in cameras if covers(c, lon, lat)]
    return min(seeing, key=lambda c: distance_m(c.location.lon, c.location.lat, lon, lat), default=None)


# Planning a check: which camera, where in its picture, what to look for.
Box = tuple[float, float, float, float]


def _box(raw: Sequence[float]) -> Box:
    x1, y1, x2, y2 = (float(v) for v in raw)
    return (x1, y1, x2, y2)


def _zone_box(cam: CameraConfig, zone: str | None) -> tuple[Box | None, Any]:
    found = next((z for z in cam.zones if z.name == zone), None)
    points = (found.polygon or list(found.line or ())) if found else []
    if not points:
        return None, found
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys)), found


def plan_check(
    settings: VerificationConfig,
    cameras: Sequence[CameraConfig],
    case_point: tuple[float, float],
    incident: dict[str, Any] | None,
    matter: Matter,
    purpose: str,
    crowd_count: int = 8,
) -> dict[str, Any] | None:
    """A check request (vision/verify.py CheckRequest's fields, less its id, as JSON) for a
    case at `case_point` (lon, lat) raised by `incident`; None when no camera can look.

    The incident's camera, while it is still configured and fixed: the incident's box
    padded (a crowd: its zone's box, and `min_count` people again). Else the nearest fixed
    camera whose view holds the point: the strip where it appears (`strip_share`: shares
    of the width, since the process holding the camera knows its picture's size)."""
    from vision.verify import labels_for, padded  # the vision side's own padding and labels

    fixed = [c for c in cameras if not c.mobile]
    incident = incident or {}
    rule, label = str(incident.get("rule") or ""), str(incident.get("label") or "")
    labels = sorted(labels_for(rule, label)) if label else sorted(matter.labels)
    min_count = 1
    cam = next((c for c in fixed if c.id == incident.get("camera_id")), None)
    region: Box | None = None
    share: tuple[float, float] | None = None
    zone_name = str(incident.get("zone") or "")
    if cam is not None:
        zone_box, zone = _zone_box(cam, zone_name)
        if rule == "crowding" or (zone is not None and zone.min_count):
            labels = sorted(zone.labels) if zone is not None and zone.labels else labels
            min_count = (zone.min_count if zone is not None else None) or crowd_count
            box = zone_box
        else:
            box = _box(incident["box"]) if incident.get("box") else zone_box
        region = padded(box, settings.pad) if box else None
    if cam is None or region is None:
        cam = nearest_covering(fixed, *case_point)
        if cam is None:
            return None
        share, zone_name = strip_share(cam, *case_point), ""
    if not labels:
        return None  # nothing to look for: a matter no detector label names
    watch = purpose == "watch"
    return {
        "camera_id": cam.id,
        "region": list(region) if region else None,
        "strip": list(share) if share else None,
        "labels": labels,
        "min_count": min_count,
        "hold_s": settings.watch_hold_s if watch else matter.verify_hold_s,
        "timeout_s": settings.watch_timeout_s if watch else matter.verify_timeout_s,
        "purpose": purpose,
        "every_s": settings.watch_every_s if watch else 0.0,
        "zone": zone_name,
        "rule": rule,  # a lying person and passers-by are told apart by the rule (vision/verify.py)
        "preset": cam.ptz.home if cam.ptz is not None else None,
    }

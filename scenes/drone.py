"""A simulated drone: a flight along lon/lat waypoints giving its position fixes, and
(re-exported here) the top-down view its camera sees."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scenes.aerial import AerialRenderer

EARTH_RADIUS_M = 6_371_008.8

__all__ = ["AerialRenderer", "DroneFix", "DroneFlight", "bearing_deg", "lonlat_to_m", "m_to_lonlat"]


@dataclass(frozen=True, slots=True)
class DroneFix:
    """Where the drone is at one moment. The renderer keeps its own type (the same fields as
    a stream's Telemetry) so that scenes import nothing of streams; the sim:// source copies it."""

    lat: float
    lon: float
    alt: float
    heading: float  # compass degrees: 0 north, 90 east
    ts: float  # `wall_ts` when given, else the flight time t


def lonlat_to_m(lon: float, lat: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Equirectangular (east, north) metres from `origin` (lon, lat): exact enough over a city."""
    lon0, lat0 = origin
    k = math.pi / 180.0 * EARTH_RADIUS_M
    return (lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k


def m_to_lonlat(east: float, north: float, origin: tuple[float, float]) -> tuple[float, float]:
    lon0, lat0 = origin
    k = math.pi / 180.0 * EARTH_RADIUS_M
    return lon0 + east / (k * math.cos(math.radians(lat0))), lat0 + north / k


def bearing_deg(de: float, dn: float) -> float:
    """Compass bearing of a displacement: 0 north, 90 east."""
    return math.degrees(math.atan2(de, dn)) % 360.0


class DroneFlight:
    """Constant-speed flight through waypoints (lon, lat); with `loop` it flies back to the first."""

    def __init__(
        self,
        waypoints: Sequence[tuple[float, float]],
        speed_mps: float = 12.0,
        alt_m: float = 120.0,
        loop: bool = True,
    ) -> None:
        if not waypoints:
            raise ValueError("a drone flight needs at least one waypoint")
        if not speed_mps > 0:
            raise ValueError(f"speed_mps must be positive, got {speed_mps}")
        for lon, lat in waypoints:
            if not (-180.0 <= lon <= 180.0 and -85.0 <= lat <= 85.0):
                raise ValueError(f"waypoint ({lon}, {lat}) is not a valid lon, lat")
        self.waypoints = [(float(lon), float(lat)) for lon, lat in waypoints]
        self.speed_mps = float(speed_mps)
        self.alt_m = float(alt_m)
        self.loop = loop
        self.origin = self.waypoints[0]
        pts = [lonlat_to_m(lon, lat, self.origin) for lon, lat in self.waypoints]
        if loop and len(pts) > 1 and pts[-1] != pts[0]:
            pts.append(pts[0])
        # Repeated waypoints make zero-length legs with no direction: drop them.
        self._pts = [pts[0]] + [p for a, p in zip(pts, pts[1:], strict=False) if math.dist(a, p) > 1e-6]
        self._cum = [0.0]
        for a, b in zip(self._pts, self._pts[1:], strict=False):
            self._cum.append(self._cum[-1] + math.dist(a, b))

    @property
    def length_m(self) -> float:
        return self._cum[-1]

    def position_m(self, t: float) -> tuple[float, float, float]:
        """(east, north, heading) at t seconds after take-off, metres from the first waypoint."""
        if len(self._pts) < 2:
            return self._pts[0][0], self._pts[0][1], 0.0
        d = self.speed_mps * max(t, 0.0)
        d = d % self.length_m if self.loop else min(d, self.length_m)
        i = min(bisect.bisect_right(self._cum, d) - 1, len(self._pts) - 2)
        (ae, an), (be, bn) = self._pts[i], self._pts[i + 1]
        seg = self._cum[i + 1] - self._cum[i]
        f = (d - self._cum[i]) / seg
        return ae + (be - ae) * f, an + (bn - an) * f, bearing_deg(be - ae, bn - an)

    def telemetry(self, t: float, wall_ts: float | None = None) -> DroneFix:
        east, north, heading = self.position_m(t)
        lon, lat = m_to_lonlat(east, north, self.origin)
        return DroneFix(
            lat=lat, lon=lon, alt=self.alt_m, heading=heading, ts=t if wall_ts is None else wall_ts
        )

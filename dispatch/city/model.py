"""The city as data: areas of the five-level hierarchy and the grid workers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely import Polygon

from dispatch.city.codes import LEVELS, Level

WorkerKind = Literal["full_time", "part_time"]
Shift = Literal["day", "night", "all"]
G = TypeVar("G")

DAY_START_HOUR = 8
NIGHT_START_HOUR = 20

EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Flat-earth distance in metres, good within a city (a case's dedupe radius)."""
    k = 111_320.0
    dx = (lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * k
    return math.hypot(dx, dy)


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """Equirectangular metres around (lon0, lat0): x east, y north.

    At city scale (< 100 km) its distance error is well under 1 %, and it keeps
    projection a cheap affine map that vectorises over whole point arrays.
    """

    lon0: float
    lat0: float

    @property
    def m_per_deg_lon(self) -> float:
        return _M_PER_DEG * math.cos(math.radians(self.lat0))

    @property
    def m_per_deg_lat(self) -> float:
        return _M_PER_DEG

    def to_xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        x = (np.asarray(lon, dtype=float) - self.lon0) * self.m_per_deg_lon
        y = (np.asarray(lat, dtype=float) - self.lat0) * self.m_per_deg_lat
        return x, y

    def project(self, geometry: G) -> G:
        """Degrees → metres; takes one geometry or an array of them."""
        scale = np.array([self.m_per_deg_lon, self.m_per_deg_lat])
        origin = np.array([self.lon0, self.lat0])
        return shapely.transform(geometry, lambda c: (c - origin) * scale)

    def unproject(self, geometry: G) -> G:
        """Metres → degrees; takes one geometry or an array of them."""
        scale = np.array([self.m_per_deg_lon, self.m_per_deg_lat])
        origin = np.array([self.lon0, self.lat0])
        return shapely.transform(geometry, lambda c: c / scale + origin)


@dataclass(slots=True, eq=False)
class Area:
    """One administrative area. `lon`/`lat` is a point guaranteed inside the polygon
    (not the centroid, which can fall outside a concave shape)."""

    code: str
    name: str
    level: Level
    parent: str | None
    polygon: Polygon
    lon: float
    lat: float


@dataclass(slots=True, frozen=True)
class Worker:
    """One worker on one grid: a worker serving several grids is one Worker per grid,
    sharing the id (City.workers_by_grid is keyed by the single grid_code)."""

    id: str
    name: str
    grid_code: str
    kind: WorkerKind
    shift: Shift
    phone: str
    code: str = ""  # the worker number people see (网格员编号); the id when empty
    level: str = "basic"  # professional, basic
    # Leave: (start, end) instants, tz-aware (UTC as stored), during which the worker is away.
    away: tuple[tuple[datetime, datetime], ...] = ()

    def on_duty(self, at: datetime) -> bool:
        """`at` is local wall-clock time; a tz-aware value is read in its own zone, not converted.

        The shift is a matter of the local hour; leave is a matter of the instant, so for
        it `at` is compared as an instant (a naive `at` is taken as this machine's local
        time, as datetime.astimezone takes it)."""
        if self.away and self.is_away(at):
            return False
        if self.shift == "all":
            return True
        daytime = DAY_START_HOUR <= at.hour < NIGHT_START_HOUR
        return daytime if self.shift == "day" else not daytime

    def is_away(self, at: datetime) -> bool:
        instant = at if at.tzinfo is not None else at.astimezone()
        return any(start <= instant < end for start, end in self.away)


@dataclass(eq=False)
class City:
    areas: dict[str, Area]
    workers: list[Worker] = field(default_factory=list)
    districts: list[Area] = field(init=False, repr=False)
    streets: list[Area] = field(init=False, repr=False)
    communities: list[Area] = field(init=False, repr=False)
    grids: list[Area] = field(init=False, repr=False)
    workers_by_grid: dict[str, list[Worker]] = field(init=False, repr=False)
    _children: dict[str, list[Area]] = field(init=False, repr=False)
    _bounds: tuple[float, float, float, float] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        by_level: dict[str, list[Area]] = {level: [] for level in LEVELS}
        self._children = {}
        for area in sorted(self.areas.values(), key=lambda a: a.code):
            by_level[area.level].append(area)
            if area.parent is not None:
                self._children.setdefault(area.parent, []).append(area)
        self.districts = by_level["district"]
        self.streets = by_level["street"]
        self.communities = by_level["community"]
        self.grids = by_level["grid"]
        self.workers_by_grid = {}
        for worker in self.workers:
            self.workers_by_grid.setdefault(worker.grid_code, []).append(worker)

    @property
    def root(self) -> Area | None:
        """The city-level area, when the data has one (a GeoJSON import may not)."""
        return next((a for a in self.areas.values() if a.level == "city"), None)

    def children(self, code: str) -> list[Area]:
        """Direct children in code order (empty for a grid or an unknown code)."""
        return list(self._children.get(code, ()))

    def path(self, code: str) -> list[Area]:
        """Ancestors from the top-most known area down to `code` itself; KeyError for an unknown code.

        The walk stops at a parent missing from `areas`, so partial imports still work.
        """
        chain = [self.areas[code]]
        seen = {code}
        while (parent := chain[-1].parent) is not None and parent in self.areas and parent not in seen:
            seen.add(parent)
            chain.append(self.areas[parent])
        chain.reverse()
        return chain

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minlon, minlat, maxlon, maxlat) over every area."""
        if self._bounds is None:
            if not self.areas:
                raise ValueError("city has no areas")
            minx, miny, maxx, maxy = shapely.total_bounds([a.polygon for a in self.areas.values()])
            self._bounds = (float(minx), float(miny), float(maxx), float(maxy))
        return self._bounds

    @property
    def frame(self) -> LocalFrame:
        """A metric frame centred on the city, for distances and buffers in metres."""
        minx, miny, maxx, maxy = self.bounds
        return LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)

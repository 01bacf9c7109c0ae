"""Attendance (考勤) of grid workers: on-duty check-in and check-out inside their own grids,
whether a start was late for the shift, and the monthly summary's shape.

Pure domain: the city's point-in-grid lookup comes in as a callable (the API passes
`CityMap.index.locate`'s grid code), the worker's grids as codes, their shapes (for the
distance of a refused fix) as a callable too, so tests and other callers need no map.
Times are local wall-clock time, as the shifts are (dispatch.city.model.Worker.on_duty).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field
from shapely import Point, Polygon

from dispatch.city.model import DAY_START_HOUR, NIGHT_START_HOUR, Shift

Locate = Callable[[float, float], "str | None"]  # (lon, lat) → the grid code the point is in
Shape = Callable[[str], "Polygon | None"]  # grid code → its polygon in lon/lat degrees
M_PER_DEG_LAT = 111_320.0
SHIFT_START: dict[str, time | None] = {"day": time(DAY_START_HOUR), "night": time(NIGHT_START_HOUR), "all": None}


class AttendanceConfig(BaseModel):
    """`attendance:` in the config."""

    model_config = ConfigDict(extra="forbid")

    track_days: int = Field(default=30, ge=1, le=366, description="on-duty track points are deleted after this")
    grace_min: int = Field(default=10, ge=0, le=240, description="a start this many minutes past the shift is not late")
    track_every_s: float = Field(default=3600.0, gt=0, description="seconds between sweeps of old track points")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an on/off fix fell: in one of the worker's grids (`grid_code`) or not, and then
    why, with the distance to the nearest of their grids when the shapes were at hand."""

    allowed: bool
    grid_code: str | None
    reason: str = ""
    distance_m: float | None = None


def _metres_to(shape: Polygon, lon: float, lat: float) -> float:
    """Distance from a point to a polygon in metres, in a local equirectangular frame
    around the point (grids are a few km across: the error is far below GPS's)."""
    k = math.cos(math.radians(lat))
    xs, ys = shape.exterior.coords.xy
    local = Polygon([((x - lon) * k * M_PER_DEG_LAT, (y - lat) * M_PER_DEG_LAT) for x, y in zip(xs, ys, strict=True)])
    return float(local.distance(Point(0.0, 0.0)))


def place_fix(lon: float, lat: float, own: Collection[str], locate: Locate, shape: Shape | None = None) -> Placement:
    """Whether (lon, lat) lies in one of the worker's grids (`own`). Refused: the grid it is in
    (or none), and the distance to the nearest own grid when `shape` gives their polygons."""
    if not own:
        return Placement(False, None, "you serve no grid on the roster")
    found = locate(lon, lat)
    if found is not None and found in own:
        return Placement(True, found)
    distance = None
    if shape is not None:
        shapes = [s for s in (shape(code) for code in own) if s is not None]
        if shapes:
            distance = round(min(_metres_to(s, lon, lat) for s in shapes), 1)
    where = f"in grid {found}" if found else "in no grid"
    reason = f"this place is {where}, not one of your grids ({', '.join(sorted(own))})"
    if distance is not None:
        reason += f"; the nearest of them is {distance:.0f} m away"
    return Placement(False, found, reason, distance)


def is_late(on_at: datetime, shift: Shift, grace_min: int) -> bool:
    """A start after the shift's start plus the grace; an all-day shift is never late.
    A night shift started after midnight (before the day shift's start) is late too."""
    start = SHIFT_START[shift]
    if start is None:
        return False
    minutes = on_at.hour * 60 + on_at.minute
    begin = start.hour * 60 + start.minute + grace_min
    if shift == "night" and on_at.hour < DAY_START_HOUR:
        return True
    return minutes > begin


def month_bounds(month: str) -> tuple[date, date]:
    """'YYYY-MM' → its first day and the first day of the next; ValueError otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"month {month!r}: YYYY-MM") from None
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt


class MonthSummary(BaseModel):
    """One worker's month: days with a check-in, hours on duty (closed days), late starts."""

    worker_id: str
    month: str
    days_present: int = Field(ge=0)
    hours_on_duty: float = Field(ge=0)
    late_starts: int = Field(ge=0)
    open_days: int = Field(ge=0, description="days checked in but never out: their hours are not counted")

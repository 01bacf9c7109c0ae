"""The wall's building layer from the base data: buildings inside a map view, each with its
household count and whether any of its records is overdue, computed by the database.

Kept out of store/basedata_records.py (near its size limit); `buildings_in(records, …)` runs
on a BaseDataRecords' store like its own methods do.

One statement: the buildings in the view under a grid prefix, by code, cut at limit + 1
(the extra row only tells that the view holds more), and only then joined to their
households (LEFT JOIN … GROUP BY on the households_building index): a view over a dense
district joins a few thousand buildings' households, never the district's.

"Overdue" is the per-grid counts' meaning (store/basedata_records.py `_due`): a next check
before today, or none at all; a building is overdue when it or any of its households is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.basedata_records import BaseDataRecords, grid_range
from command_center.store.basedata_schema import buildings, households
from command_center.store.queries import compile_sql, const

MAX_BUILDINGS = 5000  # a view's buildings at most: MapLibre draws these as circles without strain
# The view's index (migration 0022): a box is a slab of latitudes narrowed by longitude and
# grid inside the index, and the codes to show come from it alone; a grid prefix alone would
# read a whole district's 300,000 buildings.
PLACE_INDEX = sa.Index(
    "buildings_place", buildings.c.lat, buildings.c.lon, buildings.c.grid_code, buildings.c.code
)


@dataclass(frozen=True, slots=True)
class BBox:
    """A map view in degrees: west, south, east, north (west < east: no antimeridian)."""

    west: float
    south: float
    east: float
    north: float

    def __post_init__(self) -> None:
        if not (-180 <= self.west < self.east <= 180 and -90 <= self.south < self.north <= 90):
            raise ValueError(f"not a box of longitudes and latitudes (west < east, south < north): {self}")


@dataclass(frozen=True, slots=True)
class MapBuilding:
    code: str
    name: str
    grid_code: str
    lon: float
    lat: float
    households: int
    overdue: bool
    rental: bool
    use: str


def _overdue(column: Any, present: Any = None) -> Any:
    """1 where a record is due before the day asked (or never checked), else 0; `present`
    tells a LEFT JOIN's missing household (all NULLs) from one never checked."""
    late = sa.or_(column.is_(None), column < sa.bindparam("due"))
    if present is not None:
        late = sa.and_(present.is_not(None), late)
    return sa.case((late, const(1)), else_=const(0))


@cache
def _sql(dialect: str) -> str:
    b, h = buildings, households
    inside = sa.and_(
        b.c.lat >= sa.bindparam("south"), b.c.lat <= sa.bindparam("north"),
        b.c.lon >= sa.bindparam("west"), b.c.lon <= sa.bindparam("east"),
        b.c.grid_code >= sa.bindparam("lo"), b.c.grid_code < sa.bindparam("hi"),
    )  # fmt: skip
    # The view's codes first, from PLACE_INDEX alone (it holds all four columns): a view
    # holding more buildings than the limit is cut without reading them all.
    chosen = (
        sa.select(b.c.code)
        .where(inside)
        .order_by(b.c.code)
        .limit(sa.bindparam("limit"))
        .offset(const(0))  # SQLite writes LIMIT with an OFFSET: a constant, not a parameter
        .subquery("chosen")
    )
    shown = sa.join(chosen, b, b.c.code == chosen.c.code)
    statement = (
        sa.select(
            b.c.code,
            b.c.name,
            b.c.grid_code,
            b.c.lon,
            b.c.lat,
            sa.func.count(h.c.id).label("households"),
            sa.func.max(
                sa.case(
                    (_overdue(b.c.next_check_at) == const(1), const(1)),
                    else_=_overdue(h.c.next_check_at, h.c.id),
                )
            ).label("overdue"),
            b.c.rental,
            b.c.use,
        )
        .select_from(shown.outerjoin(h, h.c.building_code == b.c.code))
        .group_by(b.c.code, b.c.name, b.c.grid_code, b.c.lon, b.c.lat, b.c.rental, b.c.use)
        .order_by(b.c.code)
    )
    return compile_sql(statement, dialect)


def buildings_in(
    records: BaseDataRecords,
    bbox: BBox,
    grid_prefix: str = "",
    limit: int = MAX_BUILDINGS,
    today: date | None = None,
) -> tuple[list[MapBuilding], bool]:
    """The buildings under the grid prefix inside the box, by code, at most `limit`, and
    whether the box holds more (the list was cut)."""
    if not 1 <= limit <= MAX_BUILDINGS:
        raise ValueError(f"limit is 1 to {MAX_BUILDINGS}, not {limit}")
    params: dict[str, Any] = grid_range(grid_prefix) | {
        "west": bbox.west, "south": bbox.south, "east": bbox.east, "north": bbox.north,
        "limit": limit + 1, "due": (today or date.today()).isoformat(),
    }  # fmt: skip
    with records.store._reading() as db:
        rows = db.execute(_sql(records.dialect), params).fetchall()
    found = [
        MapBuilding(code, name, grid, float(lon), float(lat), int(n), bool(late), bool(rental), use)
        for code, name, grid, lon, lat, n, late, rental, use in rows
    ]
    return found[:limit], len(found) > limit

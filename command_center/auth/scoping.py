"""The area an event belongs to, so the hub delivers it only inside jurisdictions.

Incidents, cases and tasks carry a grid code; supervision notices carry their case;
hotspot alerts their area's code; cameras and drones a position, located on the map
(cached: cameras stand still, and a drone's points repeat at metre precision).
The `grids` channel's notices concern the whole map and go to everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from command_center.auth.principal import UNLOCATED

CITY_WIDE_CHANNELS = frozenset({"grids"})
CACHE_SIZE = 10_000

Locate = Callable[[float, float], "str | None"]


class _Located(Protocol):
    # Read-only: a located point is a frozen dataclass (dispatch.city.index.Located).
    @property
    def grid_code(self) -> str | None: ...
    @property
    def community_code(self) -> str | None: ...


class _Index(Protocol):
    def locate(self, lon: float, lat: float) -> _Located | None: ...


class AreaLocator:
    """lon/lat → the code of the grid (or the community, 属地兜底) it falls in."""

    def __init__(self, index: Callable[[], _Index]) -> None:
        self._index = index  # called each time: the map may be re-drawn at run time
        self._seen: object | None = None
        self._cache: dict[tuple[float, float], str | None] = {}

    def __call__(self, lon: float, lat: float) -> str | None:
        index = self._index()
        if index is not self._seen:
            self._seen, self._cache = index, {}
        key = (round(lon, 5), round(lat, 5))  # about a metre
        if key not in self._cache:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            located = index.locate(lon, lat)
            self._cache[key] = (located.grid_code or located.community_code) if located else None
        return self._cache[key]


def event_area(channel: str, data: dict[str, Any], locate: Locate) -> str | None:
    """A grid code; UNLOCATED when the event should have a place but has none (only
    city-wide subscribers get it); None for a notice that concerns everyone."""
    if channel in CITY_WIDE_CHANNELS:
        return None
    code = data.get("grid_code")
    if not code and isinstance(data.get("case"), dict):
        code = data["case"].get("grid_code")
    if not code and channel == "hotspots":
        code = data.get("code")
    if not code:
        # emergency modes carry their place as `center`
        place = data.get("location") or data.get("center")
        where = place if isinstance(place, dict) else data
        lon, lat = where.get("lon"), where.get("lat")
        if isinstance(lon, int | float) and isinstance(lat, int | float):
            code = locate(float(lon), float(lat))
    return code if isinstance(code, str) and code else UNLOCATED

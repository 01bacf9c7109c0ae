"""Point → grid lookup with the nearest-community fallback (属地兜底)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely import STRtree

from dispatch.city.codes import ancestor_at, is_code, level_of
from dispatch.city.model import Area, City

DEFAULT_MAX_FALLBACK_M = 5_000.0


@dataclass(frozen=True, slots=True)
class Located:
    """Where a point falls. Results are shared between lookups: treat `path` as read-only
    and use `to_dict()` for a copy to hand out."""

    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None
    path: list[dict[str, str]]  # {"code", "name", "level"} from the city down to the most specific area
    fallback: bool  # in no grid: attributed to the nearest community
    distance_m: float  # from the point to the most specific area in `path`; 0 when inside it

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid_code": self.grid_code,
            "community_code": self.community_code,
            "street_code": self.street_code,
            "district_code": self.district_code,
            "path": [dict(step) for step in self.path],
            "fallback": self.fallback,
            "distance_m": self.distance_m,
        }


class GridIndex:
    """Spatial index over a city's grids and communities.

    Polygons are kept in the city's local metric frame, so the fallback distance is in
    metres and a query costs only an affine map of the input degrees.
    """

    def __init__(self, city: City, max_fallback_m: float = DEFAULT_MAX_FALLBACK_M) -> None:
        self.city = city
        self._max_fallback_m = max_fallback_m
        self.frame = city.frame
        self._m_per_deg_lon, self._m_per_deg_lat = self.frame.m_per_deg_lon, self.frame.m_per_deg_lat
        self._steps: dict[str, dict[str, str]] = {}

        self._grid_tree = STRtree(self._project(city.grids))
        # One shared answer per grid (plus a None slot for "no grid"): a hit then costs
        # an array lookup instead of building an object.
        self._grid_answers = np.empty(len(city.grids) + 1, dtype=object)
        self._grid_answers[:-1] = [self._answer(g, fallback=False, distance_m=0.0) for g in city.grids]
        self._no_grid = len(city.grids)

        self._communities = city.communities
        community_shapes = self._project(city.communities)
        self._community_tree = STRtree(community_shapes)
        self._community_answers = [self._answer(c, fallback=True, distance_m=0.0) for c in city.communities]
        self._reach = _reach(community_shapes, max_fallback_m)

    @property
    def max_fallback_m(self) -> float:
        """Read-only: the reach filter is built for this distance."""
        return self._max_fallback_m

    def locate(self, lon: float, lat: float) -> Located | None:
        x = (lon - self.frame.lon0) * self._m_per_deg_lon
        y = (lat - self.frame.lat0) * self._m_per_deg_lat
        point = shapely.Point(x, y)
        # Scalar path: building arrays for one point would double the cost of a lookup.
        inside = self._grid_tree.query(point, predicate="intersects")
        if inside.size:
            return self._grid_answers[int(inside.min())]
        return self._fall_back(np.array([point]), np.array([x]), np.array([y]))[0]

    def locate_many(self, lons: ArrayLike, lats: ArrayLike) -> list[Located | None]:
        """Vectorised `locate`: one tree query for all points, then fallbacks for the misses."""
        x, y = self.frame.to_xy(lons, lats)
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        if x.shape != y.shape:
            raise ValueError(f"{x.size} longitudes but {y.size} latitudes")
        points = shapely.points(x, y)
        hit = _first_hit(self._grid_tree, points, self._no_grid)
        results = self._grid_answers[hit]
        missed = np.flatnonzero(hit == self._no_grid)
        if missed.size:
            results[missed] = self._fall_back(points[missed], x[missed], y[missed])
        return results.tolist()

    def _fall_back(self, points: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """属地兜底 for points in no grid, cheapest case first: inside a community (roads,
        parks) needs no distance; beyond reach of every community needs no search; only
        the rest pay for a nearest-neighbour search."""
        out = np.full(len(points), None, dtype=object)
        if not self._communities:
            return out
        inside = _first_hit(self._community_tree, points, len(self._communities))
        found = np.flatnonzero(inside < len(self._communities))
        out[found] = [self._community_answers[c] for c in inside[found].tolist()]

        rest = np.flatnonzero(inside == len(self._communities))
        rest = rest[shapely.intersects_xy(self._reach, x[rest], y[rest])]
        (point_idx, community_idx), distances = self._community_tree.query_nearest(
            points[rest], max_distance=self._max_fallback_m, return_distance=True, all_matches=False
        )
        for i, c, d in zip(rest[point_idx].tolist(), community_idx.tolist(), distances.tolist(), strict=True):
            near = self._community_answers[c]
            out[i] = Located(
                None, near.community_code, near.street_code, near.district_code, near.path, True, d
            )
        return out

    def _answer(self, area: Area, fallback: bool, distance_m: float) -> Located:
        chain = self.city.path(area.code)
        codes: dict[str, str | None] = {a.level: a.code for a in chain}
        if is_code(area.code) and level_of(area.code) == area.level:
            # Partial data (e.g. a GeoJSON of grids only) still yields the enclosing codes.
            for level in ("community", "street", "district"):
                codes.setdefault(level, ancestor_at(area.code, level))
        return Located(
            grid_code=codes.get("grid"),
            community_code=codes.get("community"),
            street_code=codes.get("street"),
            district_code=codes.get("district"),
            path=[self._step(a) for a in chain],
            fallback=fallback,
            distance_m=distance_m,
        )

    def _step(self, area: Area) -> dict[str, str]:
        step = self._steps.get(area.code)
        if step is None:
            step = self._steps[area.code] = {"code": area.code, "name": area.name, "level": area.level}
        return step

    def _project(self, areas: Sequence[Area]) -> np.ndarray:
        return self.frame.project(np.array([a.polygon for a in areas], dtype=object))


def _first_hit(tree: STRtree, points: np.ndarray, none: int) -> np.ndarray:
    """Per point, the lowest tree index whose polygon covers it (so a point on an edge
    shared by two polygons gets a stable answer), or `none`."""
    point_idx, tree_idx = tree.query(points, predicate="intersects")
    hit = np.full(len(points), none, dtype=np.intp)
    np.minimum.at(hit, point_idx, tree_idx)
    return hit


def _reach(shapes: np.ndarray, max_distance_m: float) -> shapely.Geometry:
    """Land within `max_distance_m` of some community, slightly over-covered.

    A buffer's arcs are chords inside the true circle, so it is widened by the chord's
    sagitta: the filter may pass a point that is too far (the exact search then drops
    it) but never rejects one in range.
    """
    if len(shapes) == 0:
        return shapely.Polygon()
    segments = 8
    widen = max_distance_m / math.cos(math.pi / (4 * segments)) + 1.0
    reach = shapely.buffer(shapely.union_all(shapes), widen, quad_segs=segments)
    shapely.prepare(reach)
    return reach

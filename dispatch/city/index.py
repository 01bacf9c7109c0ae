"""Point → grid lookup with the nearest-community fallback (属地兜底)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely import STRtree

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
    metres and queries take only an affine map of the input degrees.
    """

    def __init__(self, city: City, max_fallback_m: float = DEFAULT_MAX_FALLBACK_M) -> None:
        self.city = city
        self.max_fallback_m = max_fallback_m
        self.frame = city.frame
        self._steps: dict[str, dict[str, str]] = {}

        self._grids = self._project(city.grids)
        self._grid_tree = STRtree(self._grids)
        # One shared answer per grid: a hit costs an array lookup, not an object build.
        self._grid_answers = np.empty(len(city.grids) + 1, dtype=object)
        self._grid_answers[:-1] = [self._answer(g, fallback=False, distance_m=0.0) for g in city.grids]
        self._grid_answers[-1] = None

        self._communities = city.communities
        self._community_tree = STRtree(self._project(city.communities))
        self._inside_community: dict[str, Located] = {}

    def locate(self, lon: float, lat: float) -> Located | None:
        x, y = self.frame.to_xy(lon, lat)
        x, y = float(x), float(y)
        point = shapely.Point(x, y)
        candidates = self._grid_tree.query(point)
        if candidates.size:
            inside = candidates[shapely.intersects_xy(self._grids[candidates], x, y)]
            if inside.size:
                return self._grid_answers[int(inside.min())]
        return self._fall_back(np.array([point], dtype=object))[0]

    def locate_many(self, lons: ArrayLike, lats: ArrayLike) -> list[Located | None]:
        """Vectorised `locate`: one tree query for all points, then fallbacks for the misses."""
        x, y = self.frame.to_xy(lons, lats)
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        if x.shape != y.shape:
            raise ValueError(f"{x.size} longitudes but {y.size} latitudes")
        points = shapely.points(x, y)
        hit = self._hits(points, x, y)
        results = self._grid_answers[hit]
        missed = np.flatnonzero(hit == len(self._grid_answers) - 1)
        if missed.size:
            results[missed] = self._fall_back(points[missed])
        return results.tolist()

    def _hits(self, points: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the grid under each point (the lowest one on a shared edge), or the
        'no grid' slot. Bounding boxes first, then prepared polygons, which test a point
        faster than an unprepared predicate inside the tree query."""
        point_idx, grid_idx = self._grid_tree.query(points)
        inside = shapely.intersects_xy(self._grids[grid_idx], x[point_idx], y[point_idx])
        point_idx, grid_idx = point_idx[inside], grid_idx[inside]
        hit = np.full(len(points), len(self._grid_answers) - 1, dtype=np.intp)
        np.minimum.at(hit, point_idx, grid_idx)
        return hit

    def _fall_back(self, points: np.ndarray) -> list[Located | None]:
        out: list[Located | None] = [None] * len(points)
        if not self._communities:
            return out
        (point_idx, community_idx), distances = self._community_tree.query_nearest(
            points, max_distance=self.max_fallback_m, return_distance=True, all_matches=False
        )
        for i, c, d in zip(point_idx.tolist(), community_idx.tolist(), distances.tolist(), strict=True):
            out[i] = self._community_answer(self._communities[c], d)
        return out

    def _community_answer(self, community: Area, distance_m: float) -> Located:
        if distance_m > 0:
            return self._answer(community, fallback=True, distance_m=distance_m)
        cached = self._inside_community.get(community.code)
        if cached is None:
            cached = self._inside_community[community.code] = self._answer(community, fallback=True, distance_m=0.0)
        return cached

    def _answer(self, area: Area, fallback: bool, distance_m: float) -> Located:
        chain = self.city.path(area.code)
        codes = {a.level: a.code for a in chain}
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
        shapes = self.frame.project(np.array([a.polygon for a in areas], dtype=object))
        shapely.prepare(shapes)
        return shapes

"""One feature's geometry, checked before shapely sees it: a GeoJSON Polygon or
MultiPolygon of [lon, lat] positions in WGS84 range, rings of at least 3 distinct
points, valid (no self-intersection) and with an area."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry import shape

Issue = tuple[str, str, str]  # kind, message, severity ("error" or "warning")


def polygon_of(geometry: Any) -> tuple[Polygon | None, list[Issue]]:
    """The area's polygon (the largest part of a MultiPolygon), or None; and what is wrong."""
    issues: list[Issue] = []

    def bad(kind: str, message: str, severity: str = "error") -> tuple[None, list[Issue]]:
        issues.append((kind, message, severity))
        return None, issues

    if not isinstance(geometry, dict):
        return bad("geometry", "missing geometry")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return bad("geometry", f"geometry must be a Polygon or MultiPolygon, got {kind}")
    coords = geometry.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list | tuple) or not polygons:
        return bad("geometry", "bad geometry: 'coordinates' must be a non-empty list")
    for p, rings in enumerate(polygons):
        message = _check_rings(rings, "" if kind == "Polygon" else f" of polygon {p}")
        if message is not None:
            return bad("too_few_points" if "distinct" in message else "geometry", message)
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        return bad("geometry", f"bad geometry: {exc}")
    if not geom.is_valid:
        return bad("invalid_polygon", f"invalid polygon: {shapely.is_valid_reason(geom)}")
    if geom.is_empty or geom.area == 0:
        return bad("geometry", "polygon has no area")
    parts = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    largest = max(parts, key=lambda part: part.area)
    if len(parts) > 1:
        dropped = 1 - largest.area / geom.area
        bad(
            "multipolygon",
            f"MultiPolygon of {len(parts)} parts: only the largest is kept ({dropped:.1%} of the area dropped)",
            "warning",
        )
    return largest, issues


def _check_rings(rings: Any, where: str) -> str | None:
    """Why these rings are not a polygon's, or None; checked before shapely, whose own
    messages for bad coordinates do not say which ring or what is wrong."""
    if not isinstance(rings, list | tuple) or not rings:
        return f"bad geometry: a polygon{where} must be a non-empty list of rings"
    for r, ring in enumerate(rings):
        if not isinstance(ring, list | tuple):
            return f"bad geometry: ring {r}{where} must be a list of positions"
        xy = _positions(ring)
        if xy is None:
            position = next(p for p in ring if not _is_position(p))
            return f"bad geometry: ring {r}{where} has a position that is not [lon, lat]: {position!r:.60}"
        outside = ~((np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90))
        if outside.any():
            position = ring[int(np.argmax(outside))]
            return f"bad geometry: ring {r}{where} has {position!r:.60} outside lon/lat range (GeoJSON is WGS84 degrees)"
        distinct = len(set(map(tuple, xy.tolist())))  # np.unique(axis=0) is 50× slower on short rings
        if distinct < 3:
            return f"too few points: ring {r}{where} has {distinct} distinct points, a ring needs at least 3"
    return None


def _positions(ring: list[Any] | tuple[Any, ...]) -> np.ndarray | None:
    """The ring as an (n, 2) array of finite numbers, or None. numpy does the checking in
    bulk; the per-position path only runs to name the culprit."""
    try:
        arr = np.asarray(ring)
    except ValueError:  # ragged
        return None
    if len(ring) == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.dtype.kind not in "iuf" or not np.isfinite(arr[:, :2]).all():
        return None if not all(_is_position(p) for p in ring) else np.asarray([p[:2] for p in ring], dtype=float)
    return arr[:, :2].astype(float)


def _is_position(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value[:2])
    )

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


def polygons_of(geometries: list[Any]) -> list[tuple[Polygon | None, list[Issue]]]:
    """`polygon_of` for many geometries, the common case in bulk.

    A map of 20,000 grids is almost all one-ring Polygons; building and checking those
    one by one (shapely's `shape`, a ring check per feature) was 2 of validate_map's 3 s.
    Here their positions go into one array, are range-checked at once, and become
    polygons in one shapely call. Anything else, and any polygon the bulk checks reject,
    takes `polygon_of`, so every message stays the one-by-one path's."""
    out: list[tuple[Polygon | None, list[Issue]] | None] = [None] * len(geometries)
    simple = [i for i, g in enumerate(geometries) if _one_ring(g)]
    for i, polygon in zip(simple, _bulk_polygons([geometries[i]["coordinates"][0] for i in simple]), strict=True):
        if polygon is not None:
            out[i] = (polygon, [])
    return [found if found is not None else polygon_of(g) for found, g in zip(out, geometries, strict=True)]


def _one_ring(geometry: Any) -> bool:
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        return False
    rings = geometry.get("coordinates")
    return isinstance(rings, list) and len(rings) == 1 and isinstance(rings[0], list) and len(rings[0]) >= 4


def _bulk_polygons(rings: list[list[Any]]) -> list[Polygon | None]:
    """A polygon per ring, or None where a ring needs the careful path (it is then checked
    one by one, which names what is wrong)."""
    if not rings:
        return []
    lengths = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    try:
        xy = np.array([p for ring in rings for p in ring], dtype=float)
    except (ValueError, TypeError):  # ragged positions (a z here and there), non-numbers
        return [None] * len(rings)
    if xy.ndim != 2 or xy.shape[1] != 2:
        return [None] * len(rings)
    owner = np.repeat(np.arange(len(rings)), lengths)
    good_xy = np.isfinite(xy).all(axis=1) & (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90)
    good = np.bincount(owner, weights=~good_xy, minlength=len(rings)) == 0
    try:
        polygons = shapely.polygons(shapely.linearrings(xy, indices=owner))
    except (ValueError, shapely.errors.GEOSException):
        return [None] * len(rings)
    good &= shapely.is_valid(polygons) & (shapely.area(polygons) > 0)
    return [polygon if ok else None for polygon, ok in zip(polygons.tolist(), good.tolist(), strict=True)]


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

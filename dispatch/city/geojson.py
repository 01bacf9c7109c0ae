"""GeoJSON in and out: a city from a FeatureCollection of areas, and areas for the wall's map."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry import shape

from dispatch.city.codes import LEVELS
from dispatch.city.model import Area, City

REQUIRED = ("code", "name", "level", "parent")
EXPORT_LEVELS = ("district", "street", "community", "grid")


def load_geojson(path: str | Path) -> City:
    """A city from features with properties code, name, level, parent (WGS84 lon/lat).

    A MultiPolygon keeps only its largest part: an area is one polygon here. Errors name
    the feature index, so a large file can be fixed without guessing.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise ValueError(f"{path}: 'features' must be a list")

    areas: dict[str, Area] = {}
    for i, feature in enumerate(features):
        area = _area(i, feature)
        if area.code in areas:
            raise ValueError(f"feature {i}: duplicate code {area.code!r}")
        areas[area.code] = area
    return City(areas)


def _area(i: int, feature: Any) -> Area:
    if not isinstance(feature, dict):
        raise ValueError(f"feature {i}: not an object")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise ValueError(f"feature {i}: missing properties")
    for key in REQUIRED:
        if key not in props:
            raise ValueError(f"feature {i}: missing property {key!r}")
    code, name, level, parent = (props[k] for k in REQUIRED)
    if not isinstance(code, str | int) or not str(code):
        raise ValueError(f"feature {i}: property 'code' must be a non-empty string")
    if level not in LEVELS:
        raise ValueError(f"feature {i}: property 'level' must be one of {', '.join(LEVELS)}, got {level!r}")
    if parent is not None and not isinstance(parent, str | int):
        raise ValueError(f"feature {i}: property 'parent' must be a string or null")
    polygon = _polygon(i, feature.get("geometry"))
    point = polygon.point_on_surface()
    return Area(
        code=str(code),
        name=str(name),
        level=level,
        parent=None if parent is None else str(parent),
        polygon=polygon,
        lon=point.x,
        lat=point.y,
    )


def _polygon(i: int, geometry: Any) -> Polygon:
    if not isinstance(geometry, dict):
        raise ValueError(f"feature {i}: missing geometry")
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValueError(f"feature {i}: bad geometry: {exc}") from exc
    if isinstance(geom, MultiPolygon) and not geom.is_empty:
        geom = max(geom.geoms, key=lambda p: p.area)
    if not isinstance(geom, Polygon):
        raise ValueError(f"feature {i}: geometry must be a Polygon or MultiPolygon, got {geom.geom_type}")
    if geom.is_empty or geom.area == 0:
        raise ValueError(f"feature {i}: empty polygon")
    if not geom.is_valid:
        raise ValueError(f"feature {i}: invalid polygon: {shapely.is_valid_reason(geom)}")
    return geom


def city_to_geojson(
    city: City,
    levels: Iterable[str] = EXPORT_LEVELS,
    codes: Collection[str] | None = None,
    precision: int = 6,
) -> dict[str, Any]:
    """A FeatureCollection of the city's areas at `levels` (optionally only `codes`).

    Coordinates are rounded to `precision` decimals (6 ≈ 0.1 m), which keeps a full city
    of grids small enough for a browser to draw.
    """
    wanted = set(levels)
    features = []
    for code in sorted(city.areas if codes is None else codes):
        area = city.areas[code]
        if area.level not in wanted:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": area.code,
                    "name": area.name,
                    "level": area.level,
                    "parent": area.parent,
                    "lon": round(area.lon, precision),
                    "lat": round(area.lat, precision),
                },
                "geometry": {"type": "Polygon", "coordinates": _rings(area.polygon, precision)},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _rings(polygon: Polygon, precision: int) -> list[list[list[float]]]:
    rings = [polygon.exterior, *polygon.interiors]
    return [shapely.get_coordinates(ring).round(precision).tolist() for ring in rings]

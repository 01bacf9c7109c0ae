"""A city's streets, communities and grids generated inside real district outlines.

The generated sample city invents its district shapes; a real city has them (GB/T 2260
outlines such as ../shared/geo/guangzhou_districts.geojson) but may have no grid map
yet. This fills each outline with the generator's own pieces: Voronoi partitions of
evenly spread points, numbered in reading order with 15-digit codes, grids pulled back
from roads, at the sample city's densities. Deterministic from the seed: each district
draws from its own stream, so adding a district does not move another's grids.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import Polygon
from tqdm import tqdm

from dispatch.city.codes import city_code, make_code
from dispatch.city.generator import (
    CITY_NAME,
    STREET_AREA_EXP,
    TARGET_STREETS,
    AreaRecord,
    DistrictBuilder,
    DistrictKind,
    DistrictSeed,
    allocate,
    single_polygon,
    to_areas,
)
from dispatch.city.geojson import read_geojson
from dispatch.city.model import City, LocalFrame
from dispatch.city.shapes import polygon_of

# District size → kind, which decides how many streets are towns (镇) rather than
# sub-districts (街道). Guangzhou's core districts are under 150 km², its outer ones
# over 800 km².
URBAN_MAX_KM2 = 200.0
SUBURBAN_MAX_KM2 = 700.0
CODE_PROPERTIES = ("code", "adcode")  # GB/T 2260 code: 6 digits, or 15 with zero padding


@dataclass(frozen=True, slots=True)
class Outline:
    """One district: its 6-digit GB/T 2260 code, name and WGS84 outline."""

    code: str
    name: str
    polygon: Polygon


def read_outlines(path: str | Path) -> list[Outline]:
    """District outlines from a GeoJSON FeatureCollection (properties `adcode` or `code`,
    and `name`), in code order. A MultiPolygon keeps its largest part, as every area
    does here; ValueError naming the feature when one cannot be used."""
    data = read_geojson(path)
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection of district outlines")
    outlines = [_outline(path, i, feature) for i, feature in enumerate(features)]
    codes = [o.code for o in outlines]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{path}: duplicate district codes")
    return sorted(outlines, key=lambda o: o.code)


def _outline(path: str | Path, index: int, feature: Any) -> Outline:
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict):
        raise ValueError(f"{path}: feature {index}: no properties")
    raw = next((props[k] for k in CODE_PROPERTIES if props.get(k) is not None), None)
    text = str(raw)
    if not (text.isdigit() and len(text) in (6, 15) and set(text[6:]) <= {"0"}):
        raise ValueError(f"{path}: feature {index}: 'adcode' or 'code' must be a district code, got {raw!r}")
    polygon, issues = polygon_of(feature.get("geometry"))
    if polygon is None:
        raise ValueError(f"{path}: feature {index}: " + "; ".join(message for _, message, _ in issues))
    return Outline(text[:6], str(props.get("name") or text[:6]), polygon)


def generate_inside(
    outlines: Sequence[Outline],
    seed: int = 7,
    streets: int = TARGET_STREETS,
    city_name: str | None = None,
    progress: bool = False,
) -> City:
    """The city of these districts: city, districts, streets, communities and grids (no workers).

    `streets` is the total over all districts (at least 3 each), shared by area as the
    sample city shares them; communities and grids follow at the sample's densities, so
    the default gives a Guangzhou-sized map of about 20,000 grids.
    """
    if not outlines:
        raise ValueError("no district outlines")
    minx, miny, maxx, maxy = shapely.total_bounds([o.polygon for o in outlines])
    frame = LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)
    shapes: list[Polygon] = [frame.project(o.polygon) for o in outlines]
    areas = np.array([s.area for s in shapes])
    rng = np.random.default_rng(seed)
    weights = areas**STREET_AREA_EXP * rng.uniform(0.85, 1.15, len(shapes))
    street_counts = allocate(streets, weights, 3)

    root = city_code(outlines[0].code)
    name = city_name or (CITY_NAME if root.startswith("4401") else f"{root[:4]}00")
    records = [AreaRecord(root, name, "city", None, single_polygon(shapely.union_all(shapes)))]
    # The most compact district is the centre: suburban streets far from it become towns.
    core = _inside_point(shapes[int(np.argmin(areas))])
    bar = tqdm(total=sum(street_counts), desc="city", unit="street", file=sys.stderr, disable=not progress)
    for outline, shape, n_streets in zip(outlines, shapes, street_counts, strict=True):
        district = DistrictSeed(outline.code, outline.name, 0.0, 0.0, _kind(shape.area))
        code = make_code(outline.code)
        records.append(AreaRecord(code, outline.name, "district", root, shape))
        district_rng = np.random.default_rng([seed, int(outline.code)])
        builder = DistrictBuilder(district, code, district_rng, _inside_point(shape), core)
        records.extend(builder.build(shape, int(n_streets), bar))
    bar.close()
    return City(to_areas(records, frame))


def _kind(area_m2: float) -> DistrictKind:
    km2 = area_m2 / 1e6
    if km2 < URBAN_MAX_KM2:
        return "urban"
    return "suburban" if km2 < SUBURBAN_MAX_KM2 else "rural"


def _inside_point(shape: Polygon) -> np.ndarray:
    point = shape.point_on_surface()
    return np.array([point.x, point.y])

"""Checks on a GeoJSON map of areas before it is imported or swapped in.

Every problem is reported at once, each with the index of its feature, so that a
map of 20,000 grids can be fixed in one pass instead of one error per try. A map
with errors is never loaded; warnings are reported and loaded anyway.

Errors:
- structure: not a FeatureCollection, a feature that is not an object, no features;
- properties: `code`, `name`, `level`, `parent` missing or of the wrong kind; a code
  that is not 15 digits; a level that disagrees with where the code's zero padding
  starts; a `parent` that is not the code's own prefix padded with zeros (DB11:
  a street's parent is its first 6 digits, a community's its first 9, a grid's its
  first 12); a duplicate code;
- geometry: not a Polygon or MultiPolygon, positions that are not [lon, lat] in
  WGS84 range, a ring with fewer than 3 distinct points, an invalid polygon
  (self-intersection, ...), no area;
- unknown parent: the parent is not in the file although the file has areas of the
  parent's level (or, when checked against the current map, not there either);
- overlap: two areas of the same level whose interiors share more than
  max(`overlap_m2`, `overlap_share` × the smaller area): a point there would belong to
  two grids. Digitising noise along shared edges stays under the tolerance.

Warnings: a MultiPolygon keeps only its largest part (an area is one polygon); an
area that reaches outside its parent by more than the tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from shapely import Polygon, STRtree

from dispatch.city.codes import LEVELS, Level, is_code, level_of, parent_of, significant_digits
from dispatch.city.model import Area, City, LocalFrame
from dispatch.city.shapes import Issue, polygons_of

REQUIRED = ("code", "name", "level", "parent")
Severity = Literal["error", "warning"]
MAX_LISTED = 20  # example codes in an aggregated problem


@dataclass(frozen=True, slots=True)
class Tolerance:
    overlap_m2: float = 10.0
    overlap_share: float = 0.001

    def limit(self, smaller_m2: np.ndarray) -> np.ndarray:
        return np.maximum(self.overlap_m2, self.overlap_share * smaller_m2)


@dataclass(frozen=True, slots=True)
class Problem:
    feature: int | None  # index in `features`; None for the file as a whole
    kind: str
    message: str
    code: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = "file" if self.feature is None else f"feature {self.feature}"
        return f"{where}: {'warning: ' if self.severity == 'warning' else ''}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "code": self.code,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(slots=True)
class _Parsed:
    index: int
    code: str | None = None
    name: str | None = None
    level: Level | None = None
    parent: str | None = None
    polygon: Polygon | None = None  # valid, with area; the largest part of a MultiPolygon
    complete: bool = True  # every property is usable


@dataclass
class Report:
    problems: list[Problem]
    features: int
    areas: dict[str, Area] = field(default_factory=dict)  # complete features, first of a duplicate code

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def levels(self) -> set[str]:
        return {a.level for a in self.areas.values()}

    def summary(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "by_level": {lv: n for lv in LEVELS if (n := sum(a.level == lv for a in self.areas.values()))},
        }


def validate_map(data: Any, context: City | None = None, tolerance: Tolerance | None = None) -> Report:
    """Check a parsed GeoJSON document. `context` is the map it would replace: levels the
    document lacks are kept from it, so parents may be found there."""
    tolerance = tolerance or Tolerance()
    problems: list[Problem] = []
    features = _features(data, problems)
    shapes = polygons_of([f.get("geometry") if isinstance(f, dict) else None for f in features])
    parsed = [_parse(i, f, shape, problems) for i, (f, shape) in enumerate(zip(features, shapes, strict=True))]
    report = Report(problems, len(features))
    first: dict[str, int] = {}
    complete: list[_Parsed] = []
    for item in parsed:
        if item.code is None:
            continue
        if item.code in first:
            problems.append(
                Problem(item.index, "duplicate_code", f"duplicate code {item.code!r} (first at feature {first[item.code]})", item.code)
            )
            continue
        first[item.code] = item.index
        if item.complete and item.polygon is not None and item.level is not None and item.name is not None:
            complete.append(item)
    # A point inside each area, all in one call (one by one it was a tenth of the check).
    points = shapely.get_coordinates(shapely.point_on_surface([item.polygon for item in complete])).tolist()
    for item, (lon, lat) in zip(complete, points, strict=True):
        assert item.code is not None and item.name is not None and item.level is not None and item.polygon is not None
        report.areas[item.code] = Area(item.code, item.name, item.level, item.parent, item.polygon, lon, lat)
    _check_parents(parsed, report, context, problems)
    _check_geometry_against_each_other(parsed, context, tolerance, problems)
    problems.sort(key=lambda p: (p.feature is not None, p.feature or 0))
    return report


def build_city(report: Report, context: City | None = None) -> City:
    """The map a clean report describes: its areas, plus the context's areas at levels
    the report has none of; the context's workers are kept (a re-draw moves lines, not people)."""
    if not report.ok:
        raise ValueError("; ".join(str(p) for p in report.errors[:MAX_LISTED]))
    areas = dict(report.areas)
    kept = report.levels
    if context is not None:
        for code, area in context.areas.items():
            if area.level not in kept:
                areas.setdefault(code, area)
    return City(areas, list(context.workers) if context is not None else [])


# ---------------------------------------------------------------- one feature


def _features(data: Any, problems: list[Problem]) -> list[Any]:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        problems.append(Problem(None, "structure", "expected a GeoJSON FeatureCollection"))
        return []
    features = data.get("features")
    if not isinstance(features, list):
        problems.append(Problem(None, "structure", "'features' must be a list"))
        return []
    if not features:
        problems.append(Problem(None, "structure", "no features: a map needs at least one area"))
    return features


def _parse(i: int, feature: Any, shape: tuple[Polygon | None, list[Issue]], problems: list[Problem]) -> _Parsed:
    quick = _well_formed(i, feature, shape)
    if quick is not None:
        return quick
    item = _Parsed(i)
    if not isinstance(feature, dict):
        problems.append(Problem(i, "structure", "not an object"))
        item.complete = False
        return item

    def bad(kind: str, message: str) -> None:
        problems.append(Problem(i, kind, message, item.code))
        item.complete = False

    props = feature.get("properties")
    if not isinstance(props, dict):
        bad("missing_property", "missing properties")
        props = {}
    else:
        for key in REQUIRED:
            if key not in props:
                bad("missing_property", f"missing property {key!r}")
    _parse_properties(item, props, bad)
    item.polygon, issues = shape
    problems.extend(Problem(i, kind, message, item.code, severity) for kind, message, severity in issues)  # type: ignore[arg-type]
    if item.polygon is None:
        item.complete = False
    return item


def _well_formed(i: int, feature: Any, shape: tuple[Polygon | None, list[Issue]]) -> _Parsed | None:
    """The feature as parsed when nothing about it is wrong, else None (then `_parse`
    looks at every property and says what is wrong). Almost every feature of a real map
    is well formed, and this is a third of the checks' cost of those."""
    polygon, issues = shape
    props = feature.get("properties") if type(feature) is dict else None
    if polygon is None or issues or type(props) is not dict:
        return None
    code, name, level, parent = props.get("code"), props.get("name"), props.get("level"), props.get("parent", 0)
    if type(code) is not str or type(name) is not str or not name.strip() or level not in LEVELS or not is_code(code):
        return None
    if level_of(code) != level or parent != parent_of(code):
        return None
    return _Parsed(i, code, name, level, parent, polygon)


def _parse_properties(item: _Parsed, props: dict[str, Any], bad: Any) -> None:
    code, name, level, parent = (props.get(k) for k in REQUIRED)
    if "code" in props:
        text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
        if text is None or not is_code(text):
            bad("bad_code", f"property 'code' must be a 15-digit code, got {code!r}")
        else:
            item.code = text
    if "name" in props:
        if not isinstance(name, str) or not name.strip():
            bad("bad_property", "property 'name' must be a non-empty string")
        else:
            item.name = name
    if "level" in props:
        if level not in LEVELS:
            bad("bad_property", f"property 'level' must be one of {', '.join(LEVELS)}, got {level!r}")
        else:
            item.level = level
    code_level = level_of(item.code) if item.code is not None else None  # once: a city has 23,000 of these
    if code_level is not None and item.level is not None and code_level != item.level:
        digits = significant_digits(item.level)
        bad(
            "code_level",
            f"code {item.code} is a {code_level} code but level is {item.level!r}"
            f" (a {item.level} has {digits} significant digits, then zeros)",
        )
    if "parent" not in props:
        return
    if parent is not None and (not isinstance(parent, str | int) or isinstance(parent, bool)):
        bad("bad_property", f"property 'parent' must be a code or null, got {parent!r}")
        return
    item.parent = None if parent is None else str(parent)
    if item.code is None or item.level is None or code_level != item.level:
        return
    expected = parent_of(item.code)
    if item.parent != expected:
        if expected is None:
            bad("code_not_nested", f"a city has no parent, got {item.parent!r}")
        else:
            keep = significant_digits(LEVELS[LEVELS.index(item.level) - 1])
            bad(
                "code_not_nested",
                f"code {item.code} does not nest in parent {item.parent!r}: a {item.level}'s parent is"
                f" its first {keep} digits padded with zeros ({expected})",
            )


# ---------------------------------------------------------------- between features


def _check_parents(parsed: list[_Parsed], report: Report, context: City | None, problems: list[Problem]) -> None:
    """A parent must exist where the map says its level lives: in the file when the
    file has that level, else in the map it replaces. A file of grids only, checked on
    its own, is a partial import: its parents are not there to check."""
    codes = {p.code for p in parsed if p.code is not None}
    levels = {p.level for p in parsed if p.level is not None}
    context_levels = {a.level for a in context.areas.values()} if context is not None else set()
    for item in parsed:
        if item.parent is None or item.level in (None, "city") or not is_code(item.parent):
            continue
        parent_level = level_of(item.parent)
        if item.parent in codes:
            continue
        if parent_level in levels:
            message = f"unknown parent {item.parent}: the file has no {parent_level} with that code"
        elif parent_level in context_levels and item.parent not in context.areas:  # type: ignore[union-attr]
            message = f"unknown parent {item.parent}: neither in the file nor in the current map"
        else:
            continue
        problems.append(Problem(item.index, "unknown_parent", message, item.code))
    if context is None:
        return
    # Areas kept from the current map must still find their parents in the new one.
    orphans = [
        a.code for a in context.areas.values()
        if a.level not in levels and a.parent is not None and level_of_or_none(a.parent) in levels and a.parent not in codes
    ]
    if orphans:
        problems.append(
            Problem(
                None,
                "unknown_parent",
                f"{len(orphans)} areas kept from the current map lose their parent in the new one,"
                f" e.g. {', '.join(sorted(orphans)[:MAX_LISTED])}",
            )
        )


def level_of_or_none(code: str) -> Level | None:
    return level_of(code) if is_code(code) else None


def _check_geometry_against_each_other(
    parsed: list[_Parsed], context: City | None, tolerance: Tolerance, problems: list[Problem]
) -> None:
    shaped = [p for p in parsed if p.polygon is not None]
    if not shaped:
        return
    minx, miny, maxx, maxy = shapely.total_bounds([p.polygon for p in shaped])
    frame = LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)
    projected = frame.project(np.array([p.polygon for p in shaped], dtype=object))
    for level in LEVELS:
        rows = [i for i, p in enumerate(shaped) if p.level == level]
        if len(rows) > 1:
            problems.extend(_overlaps([shaped[i] for i in rows], projected[rows], tolerance))
    problems.extend(_outside_parent(shaped, projected, tolerance))


def _overlaps(items: list[_Parsed], shapes: np.ndarray, tolerance: Tolerance) -> Iterator[Problem]:
    """Same-level pairs whose interiors share more than the tolerance. The tree keeps
    this near-linear: only pairs whose boxes meet are intersected."""
    left, right = STRtree(shapes).query(shapes, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not left.size:
        return
    shared = shapely.area(shapely.intersection(shapes[left], shapes[right]))
    smaller = np.minimum(shapely.area(shapes[left]), shapely.area(shapes[right]))
    over = shared > tolerance.limit(smaller)
    for a, b, area, small in zip(
        left[over].tolist(), right[over].tolist(), shared[over].tolist(), smaller[over].tolist(), strict=True
    ):
        first, second = items[a], items[b]
        yield Problem(
            second.index,
            "overlap",
            f"overlaps feature {first.index} ({first.code}) by {area:,.0f} m² ({area / small:.1%} of the smaller"
            f" {second.level})",
            second.code,
        )


def _outside_parent(items: list[_Parsed], shapes: np.ndarray, tolerance: Tolerance) -> Iterator[Problem]:
    row_of = {p.code: i for i, p in enumerate(items) if p.code is not None}
    pairs = [(i, row_of[p.parent]) for i, p in enumerate(items) if p.parent is not None and p.parent in row_of]
    if not pairs:
        return
    child, parent = (np.array(side) for side in zip(*pairs, strict=True))
    # Most children lie wholly inside their parent: a covers test on prepared parents
    # settles those, and only the rest pay for a difference (0.4 s for a city's 23,000).
    shapely.prepare(shapes[np.unique(parent)])
    inside = shapely.covers(shapes[parent], shapes[child])
    outside = np.zeros(len(child))
    check = ~inside
    outside[check] = shapely.area(shapely.difference(shapes[child[check]], shapes[parent[check]]))
    limit = tolerance.limit(shapely.area(shapes[child]))
    for c, area in zip(child[outside > limit].tolist(), outside[outside > limit].tolist(), strict=True):
        item = items[c]
        yield Problem(item.index, "outside_parent", f"reaches {area:,.0f} m² outside its parent {item.parent}", item.code, "warning")

"""Grid maps from a GIS: Shapefile, GeoPackage or GeoJSON, checked like any other map.

A file is read with pyogrio (GDAL) into the GeoJSON FeatureCollection that
dispatch.city.validate checks, so a Shapefile and a GeoJSON of the same map give the
same areas and the same problems. Coordinates are reprojected to WGS84 longitude/latitude
from the file's own CRS by GDAL itself (a warped VRT layer): a grid office's files are
usually in a projected CRS such as CGCS2000 / Gauss-Krüger (EPSG:4547), in metres.

Every problem is an importing Problem: the file's name, the feature number as the row (the FID
a GIS shows: 0-based in a Shapefile, the `fid` column in a GeoPackage, the index in a
GeoJSON) and the field as the file spells it as the column.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from shapely.geometry import mapping
from tqdm import tqdm

from command_center.importing.problems import Problem
from command_center.importing.tables import Columns
from dispatch.city import City, Report, Tolerance, build_city, validate_map
from dispatch.city import Problem as MapProblem
from dispatch.city.codes import is_code, level_of, parent_of
from dispatch.city.geojson import read_geojson

GIS_SUFFIXES = frozenset({".shp", ".gpkg"})
GEOJSON_SUFFIXES = frozenset({".geojson", ".json"})
# GDAL's name for WGS84 with longitude first, whatever EPSG:4326's official axis order says.
LON_LAT = "OGC:CRS84"

FIELDS = Columns(
    "grid map",
    {
        "code": ("编码", "代码", "网格编码", "区划代码", "grid_code", "adcode"),
        "name": ("名称", "网格名称", "grid_name"),
        "level": ("层级", "级别"),
        "parent": ("上级", "上级编码", "parent_code"),
    },
    frozenset({"code", "name"}),
)
# Level values as a Chinese grid office writes them.
LEVEL_WORDS = {
    "市": "city", "区": "district", "县": "district", "区县": "district", "街道": "street", "镇": "street",
    "乡": "street", "街镇": "street", "社区": "community", "村": "community", "网格": "grid",
}  # fmt: skip
# validate_map's problem kinds → the field at fault ("geometry": the geometry column).
_KIND_FIELD = {
    "bad_code": "code", "duplicate_code": "code", "code_level": "level", "code_not_nested": "parent",
    "unknown_parent": "parent", "geometry": "geometry", "too_few_points": "geometry",
    "invalid_polygon": "geometry", "multipolygon": "geometry", "overlap": "geometry",
    "outside_parent": "geometry",
}  # fmt: skip
_PROPERTY = re.compile(r"property '(\w+)'")
_FEATURE_REF = re.compile(r"\bfeature (\d+)\b")


@dataclass
class GridMap:
    """What a grid file holds: its features as GeoJSON, the validation report, and every
    problem. `problems` are errors (nothing may be imported); `warnings` do not block."""

    path: Path
    features: dict[str, Any] = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})
    report: Report | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.report is not None

    @property
    def grid_codes(self) -> set[str]:
        """Grid codes of the features that were read whole, even when others are wrong, so a
        roster can be checked against them in the same pass."""
        if self.report is None:
            return set()
        return {code for code, area in self.report.areas.items() if area.level == "grid"}

    def city(self, context: City | None = None) -> City:
        """The map as a City (no workers but the context's); only for a map without problems."""
        if not self.ok or self.report is None:
            raise ValueError(f"{self.path}: {len(self.problems)} problem(s); nothing can be built from it")
        return build_city(self.report, context)


@dataclass
class _Layer:
    """One layer read: per feature its FID, geometry (WGS84 shapely or None) and field values."""

    fids: list[int]
    geometries: np.ndarray
    fields: dict[str, list[Any]]  # the file's field name → values
    geometry_column: str


def read_grid_map(
    path: str | Path,
    layer: str | None = None,
    context: City | None = None,
    tolerance: Tolerance | None = None,
    encoding: str | None = None,
    progress: bool = False,
) -> GridMap:
    """Read and check a grid map; never raises for a bad file (its problems say why).

    `context` is the map this one joins or replaces (parents may be found there);
    `encoding` is a Shapefile's text encoding when it has no .cpg (e.g. "GBK").
    """
    path = Path(path)
    result = GridMap(path)
    suffix = path.suffix.lower()
    if suffix in GEOJSON_SUFFIXES:
        return _read_geojson(result, context, tolerance)
    if suffix not in GIS_SUFFIXES:
        result.problems.append(
            _whole_file(
                path, f"not a grid map: expected {', '.join(sorted(GIS_SUFFIXES | GEOJSON_SUFFIXES))}"
            )
        )
        return result
    try:
        read = _read_layer(path, layer, encoding)
    except _Refused as exc:
        result.problems.append(_whole_file(path, str(exc)))
        return result
    columns = _field_columns(read.fields)
    missing = sorted(FIELDS.required - columns.keys())
    for name in missing:
        result.problems.append(Problem(path.name, None, name, f"no {FIELDS.describe(name)} field"))
    if missing:
        return result
    result.features = _to_features(read, columns, progress)
    report = validate_map(result.features, context, tolerance)
    _file_problems(result, report, read, columns)
    return result


class _Refused(Exception):
    """The file cannot be read as a map at all: one Problem for the whole file."""


def _whole_file(path: Path, message: str) -> Problem:
    return Problem(path.name, None, None, message)


def _read_geojson(result: GridMap, context: City | None, tolerance: Tolerance | None) -> GridMap:
    try:
        data = read_geojson(result.path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        message = getattr(exc, "strerror", None) or str(exc).removeprefix(f"{result.path}: ")
        result.problems.append(_whole_file(result.path, message))
        return result
    if isinstance(data, dict):
        result.features = data
    report = validate_map(data, context, tolerance)
    count = len(data.get("features") or []) if isinstance(data, dict) else 0
    # A GeoJSON's features are numbered by their index, as `grids validate` prints them.
    read = _Layer(list(range(count)), np.empty(0, dtype=object), {}, "geometry")
    columns = {name: name for name in FIELDS.aliases}
    _file_problems(result, report, read, columns)
    return result


def _read_layer(path: Path, layer: str | None, encoding: str | None) -> _Layer:
    try:
        with _shapefile_encoding(encoding):
            layer = _pick_layer(path, layer)
            info = pyogrio.read_info(path, layer=layer)
            crs = info["crs"]
            source = str(path) if crs is None else warped_source(path, layer)
            meta, fids, wkb, values = pyogrio.raw.read(
                source, layer=None if crs else layer, force_2d=True, return_fids=True
            )
            geometry_column = info.get("geometry_name") or "geometry"
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError, OSError) as exc:  # fmt: skip
        raise _Refused(_gdal_message(path, exc)) from exc
    except UnicodeDecodeError as exc:
        raise _Refused(
            f"text that is not UTF-8 ({exc.reason}): a Shapefile without a .cpg file needs its encoding named"
            " (e.g. --encoding GBK)"
        ) from exc
    geometries = shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else np.full(len(fids), None)
    if crs is None:
        _check_plainly_lon_lat(geometries)
    names = [str(n) for n in meta["fields"]]
    return _Layer(
        [int(f) for f in fids],
        geometries,
        {name: column.tolist() for name, column in zip(names, values, strict=True)},
        geometry_column,
    )


@contextmanager
def _shapefile_encoding(encoding: str | None) -> Iterator[None]:
    """GDAL's Shapefile driver recodes text to UTF-8 from this encoding (a .cpg file says
    it otherwise). Set for GDAL itself, not passed to pyogrio's read: the Shapefile is
    opened under the reprojecting VRT, where pyogrio's own option would not reach it."""
    if encoding is None:
        yield
        return
    before = pyogrio.get_gdal_config_option("SHAPE_ENCODING")
    pyogrio.set_gdal_config_options({"SHAPE_ENCODING": encoding})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"SHAPE_ENCODING": before})


def _pick_layer(path: Path, layer: str | None) -> str:
    """The named layer, the file's only layer, or its only polygon layer (a GeoPackage may hold several)."""
    layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(path)]
    if layer is not None:
        if layer not in {name for name, _ in layers}:
            raise _Refused(f"no layer {layer!r}; the file has {', '.join(n for n, _ in layers) or 'none'}")
        return layer
    if len(layers) == 1:
        return layers[0][0]  # whatever it declares, its features say what they are
    polygons = [name for name, kind in layers if "polygon" in kind.lower()]
    if len(polygons) == 1:
        return polygons[0]
    kinds = ", ".join(f"{n} ({k})" for n, k in layers) or "none"
    raise _Refused(f"{len(polygons)} polygon layers among {kinds}: name the one to read")


def warped_source(path: Path, layer: str, target_crs: str = LON_LAT) -> str:
    """A VRT (given to GDAL as its XML text) that reprojects the layer on the fly: GDAL
    does the datum and projection maths, with no projection library of our own."""
    return (
        "<OGRVRTDataSource><OGRVRTWarpedLayer>"
        f'<OGRVRTLayer name="{escape(layer)}"><SrcDataSource relativeToVRT="0">{escape(str(path.resolve()))}'
        f"</SrcDataSource><SrcLayer>{escape(layer)}</SrcLayer></OGRVRTLayer>"
        f"<TargetSRS>{escape(target_crs)}</TargetSRS></OGRVRTWarpedLayer></OGRVRTDataSource>"
    )


def _gdal_message(path: Path, exc: Exception) -> str:
    """GDAL's message without the path (the Problem names the file already) or its hint
    about driver prefixes, which means nothing to a grid office."""
    message = str(exc).split("; It might help", 1)[0].rstrip(". ")
    for spelling in (str(path.resolve()), str(path)):
        message = message.replace(f"'{spelling}' ", "").replace(f"{spelling}: ", "")
    if "not recognized as being in a supported file format" in message:
        return f"not a readable {path.suffix.lstrip('.')} file ({message})"
    return message


def _check_plainly_lon_lat(geometries: np.ndarray) -> None:
    """A file without a CRS (a Shapefile without its .prj) is read only when every
    coordinate is a plausible longitude/latitude; metres would be silently misplaced."""
    present = geometries[~shapely.is_missing(geometries)]
    if not len(present):
        return
    minx, miny, maxx, maxy = shapely.total_bounds(present)
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return
    raise _Refused(
        f"no coordinate reference system (a Shapefile's .prj is missing?) and the coordinates"
        f" (x {minx:,.0f}..{maxx:,.0f}, y {miny:,.0f}..{maxy:,.0f}) are not longitude/latitude:"
        " add the .prj or save the file in WGS84"
    )


def _field_columns(fields: dict[str, list[Any]]) -> dict[str, str]:
    """Canonical name → the file's field name, first spelling wins; other fields are ignored
    (a GIS file carries many: area, remarks, ...)."""
    found: dict[str, str] = {}
    for name in fields:
        canonical = FIELDS.canonical(name)
        if canonical is not None:
            found.setdefault(canonical, name)
    return found


def _to_features(read: _Layer, columns: dict[str, str], progress: bool) -> dict[str, Any]:
    """The layer as GeoJSON features with properties code, name, level, parent. A file
    without a level or parent field gets both from the code, which says them (DB11)."""
    values = {name: read.fields[column] for name, column in columns.items()}
    features = []
    rows = tqdm(range(len(read.fids)), desc="features", unit="feature", file=sys.stderr, disable=not progress)
    for i in rows:
        props = {name: _value(column[i]) for name, column in values.items()}
        props["code"] = _code_text(props.get("code"))
        props["parent"] = _code_text(props.get("parent"))
        code = props["code"]
        derivable = isinstance(code, str) and is_code(code)
        if "level" not in values and derivable:
            props["level"] = level_of(code)
        elif isinstance(props.get("level"), str):
            props["level"] = LEVEL_WORDS.get(props["level"], props["level"])
        if "parent" not in values and derivable:
            props["parent"] = parent_of(code)
        geometry = read.geometries[i]
        shape = None if geometry is None else mapping(geometry)
        features.append({"type": "Feature", "properties": props, "geometry": shape})
    return {"type": "FeatureCollection", "features": features}


def _value(value: Any) -> Any:
    """A field value as JSON would hold it: text stripped, empty text as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value != value:  # NaN: a null numeric field
        return None
    return value


def _code_text(value: Any) -> Any:
    """A code stored as a number (a DBF numeric field, a float from a spreadsheet) as its
    digits: 15 digits fit a double exactly, so nothing is lost."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _file_problems(result: GridMap, report: Report, read: _Layer, columns: dict[str, str]) -> None:
    result.report = report
    for problem in report.problems:
        mapped = _mapped(result.path, problem, read, columns)
        (result.problems if problem.severity == "error" else result.warnings).append(mapped)


def _mapped(path: Path, problem: MapProblem, read: _Layer, columns: dict[str, str]) -> Problem:
    """validate_map's problem (feature index, kind) → file, FID, the file's field name."""
    row = None if problem.feature is None else read.fids[problem.feature]
    canonical = _KIND_FIELD.get(problem.kind)
    if problem.kind in ("missing_property", "bad_property"):
        match = _PROPERTY.search(problem.message)
        canonical = match.group(1) if match else None
    column: str | None = None
    if canonical == "geometry":
        column = read.geometry_column
    elif canonical is not None:
        # A level or parent derived from the code is wrong because the code is.
        column = columns.get(canonical) or columns.get("code")
    # validate_map names other features by index; say their FIDs, as the row does.
    message = _FEATURE_REF.sub(lambda m: f"feature {_fid(read.fids, int(m.group(1)))}", problem.message)
    if problem.severity == "warning":
        message = f"warning: {message}"
    return Problem(path.name, row, column, message)


def _fid(fids: Sequence[int], index: int) -> int:
    return fids[index] if 0 <= index < len(fids) else index

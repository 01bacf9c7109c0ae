"""A city's cameras from CSV (or XLSX): rows → CameraConfig dicts, every problem by row and column.

Position, heading and grid are checked here; the rest of a row goes through the same
CameraConfig validation as the YAML configuration, its errors mapped back to columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from command_center.config import CameraConfig
from command_center.importing.problems import Problem
from command_center.importing.roster import check_grid_codes
from command_center.importing.tables import Cells, Columns, Row, Table, duplicate_values, read_table

Bounds = tuple[float, float, float, float]  # (min lon, min lat, max lon, max lat), like City.bounds

CAMERA_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # SourceConfig.id's rule, checked early for a clear message
# URL schemes each source kind reads (streams.registry's kinds); a file kind takes a path too.
KIND_SCHEMES: dict[str, tuple[str, ...]] = {
    "rtsp": ("rtsp", "rtsps"),
    "rtmp": ("rtmp", "rtmps"),
    "hls": ("http", "https"),
    "mjpeg": ("http", "https"),
    "snapshot": ("http", "https"),
    "file": ("file", ""),
    "whip": ("whip",),
    "sim": ("sim",),
    "drone": ("sim",),
}

CAMERA_COLUMNS = Columns(
    kind="cameras",
    aliases={
        "id": ("编号", "摄像头编号", "设备编号", "camera_id"),
        "name": ("名称", "点位名称", "摄像头名称", "camera_name"),
        "url": ("地址", "视频地址", "流地址", "stream_url"),
        "kind": ("类型", "接入类型", "source_kind"),
        "lon": ("经度", "longitude", "lng"),
        "lat": ("纬度", "latitude"),
        "heading": ("朝向", "方位角", "bearing"),
        "grid_code": ("网格编码", "网格", "grid"),
    },
    required=frozenset({"id", "url", "kind", "lon", "lat"}),
)


@dataclass(frozen=True, slots=True)
class CameraEntry:
    """A camera row: `config` validates as CameraConfig (id, name, kind, url, location,
    and heading and grid_code when given); heading and grid are also kept beside it."""

    config: dict[str, Any]
    heading: float | None
    grid_code: str | None
    row: int

    @property
    def id(self) -> str:
        return str(self.config["id"])


def check_cameras(
    path: str | Path, grid_codes: Collection[str], bounds: Bounds | None = None, sheet: str | None = None
) -> tuple[list[CameraEntry], list[Problem]]:
    """Read and check a cameras file; `bounds` is the city's box a camera must lie in.

    All or nothing: with any problem the entries are empty and every problem is listed.
    """
    entries, problems = read_cameras(path, grid_codes, bounds, sheet)
    return ([], problems) if problems else (entries, [])


def read_cameras(
    path: str | Path, grid_codes: Collection[str], bounds: Bounds | None = None, sheet: str | None = None
) -> tuple[list[CameraEntry], list[Problem]]:
    """Every good row and every problem (sorted): for an import that skips bad rows. A row
    named by any problem (a duplicate id's rows included) is not among the entries."""
    table, problems = read_table(path, CAMERA_COLUMNS, sheet)
    known = grid_codes if isinstance(grid_codes, set | frozenset) else set(grid_codes)
    entries: list[CameraEntry] = []
    for row in table.rows:
        entry, found = _entry(table, row, known, bounds)
        problems.extend(found)
        if entry is not None:
            entries.append(entry)
    problems.extend(duplicate_values(table, "id", "camera id"))
    if any(p.row is None for p in problems):  # the whole file is at fault (a missing column)
        entries = []
    bad_rows = {p.row for p in problems}
    return [e for e in entries if e.row not in bad_rows], sorted(problems, key=Problem.sort_key)


def _entry(
    table: Table, row: Row, known: Collection[str], bounds: Bounds | None
) -> tuple[CameraEntry | None, list[Problem]]:
    cells = Cells(table, row, CAMERA_COLUMNS.required)
    camera_id = cells.get("id", parse_camera_id)
    kind = cells.get("kind", parse_kind)
    url = cells.get("url", str)
    lon = cells.get("lon", lambda text: parse_degrees(text, "lon", 180))
    lat = cells.get("lat", lambda text: parse_degrees(text, "lat", 90))
    heading = cells.get("heading", parse_heading)
    grid_code = cells.get("grid_code", str)
    if kind is not None and url is not None and (message := scheme_problem(kind, url)):
        cells.add("url", message)
    if lon is not None and lat is not None and bounds is not None:
        for column, message in outside(lon, lat, bounds):
            cells.add(column, message)
    for message in check_grid_codes([grid_code] if grid_code else [], known):
        cells.add("grid_code", message)
    if cells.problems or camera_id is None or kind is None or url is None or lon is None or lat is None:
        return None, cells.problems
    config: dict[str, Any] = {
        "id": camera_id,
        "name": row.cells.get("name", ""),
        "kind": kind,
        "url": url,
        "location": {"lon": lon, "lat": lat},
    }
    if heading is not None:
        config["heading"] = heading
    if grid_code:
        config["grid_code"] = grid_code
    try:
        CameraConfig.model_validate(config)
    except ValidationError as exc:
        for error in exc.errors():
            cells.add(_column_of(error["loc"]), str(error["msg"]).removeprefix("Value error, "))
        return None, cells.problems
    return CameraEntry(config, heading, grid_code or None, row.number), []


def _column_of(loc: tuple[int | str, ...]) -> str | None:
    """The column a CameraConfig error points at; its one whole-model check is the URL's scheme."""
    if not loc:
        return "url"
    if loc[0] == "location":
        return str(loc[1]) if len(loc) > 1 and loc[1] in ("lon", "lat") else "lon"
    return str(loc[0]) if loc[0] in CAMERA_COLUMNS.aliases else None


def parse_camera_id(text: str) -> str:
    if not CAMERA_ID.fullmatch(text):
        raise ValueError(f"bad camera id {text!r}: use 1–64 letters, digits, '.', '_' or '-'")
    return text


def parse_kind(text: str) -> str:
    kind = text.lower()
    if kind not in KIND_SCHEMES:
        raise ValueError(f"unknown kind {text!r}: use {', '.join(KIND_SCHEMES)}")
    return kind


def parse_degrees(text: str, label: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"bad {label} {text!r}: a number in degrees") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        swapped = " (lon and lat swapped?)" if label == "lat" and abs(value) <= 180 else ""
        raise ValueError(f"{label} {text} is out of range -{limit:g}..{limit:g}{swapped}")
    return value


def parse_heading(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"bad heading {text!r}: degrees clockwise from north, 0–360") from None
    if not 0 <= value <= 360:  # also refuses NaN
        raise ValueError(f"heading {text} is out of range 0–360 (degrees clockwise from north)")
    return value


def scheme_problem(kind: str, url: str) -> str | None:
    """Why `url` does not fit `kind`, or None when it does."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    allowed = KIND_SCHEMES[kind]
    if scheme in allowed:
        return None
    want = " or ".join(f"{s}://" if s else "a path" for s in allowed)
    return f"kind {kind} needs {want}, got {url!r}"


def outside(lon: float, lat: float, bounds: Bounds) -> list[tuple[str, str]]:
    """(column, message) for each coordinate outside the city's box."""
    min_lon, min_lat, max_lon, max_lat = bounds
    found: list[tuple[str, str]] = []
    if not min_lon <= lon <= max_lon:
        found.append(("lon", f"lon {lon} lies outside the city ({min_lon:.4f}..{max_lon:.4f})"))
    if not min_lat <= lat <= max_lat:
        found.append(("lat", f"lat {lat} lies outside the city ({min_lat:.4f}..{max_lat:.4f})"))
    return found

"""IoT devices from CSV or XLSX (`command-center import devices FILE`): rows → Device models,
every problem by file, row and column, Chinese or English headers.

A row's grid is its 网格 cell, else the grid its point lies in on the city map (as for
cameras). Each row goes through the same Device model as the API's form, its errors mapped
back to the column they came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from command_center.importing.cameras import Bounds, outside, parse_degrees
from command_center.importing.problems import Problem
from command_center.importing.roster import check_grid_codes
from command_center.importing.tables import Cells, Columns, Row, Table, duplicate_values, read_table
from command_center.registry.device_kinds import kind_of
from command_center.registry.device_model import (
    DEVICE_ID,
    MAX_HEARTBEAT_S,
    MIN_HEARTBEAT_S,
    Device,
    parse_thresholds,
)

Locate = Callable[[float, float], str | None]  # (lon, lat) → the grid there, or None

DEVICE_COLUMNS = Columns(
    kind="devices",
    aliases={
        "id": ("设备编号", "编号", "设备ID", "device_id", "device"),
        "name": ("设备名称", "名称", "device_name"),
        "kind": ("类型", "设备类型", "type", "device_kind"),
        "lon": ("经度", "longitude", "lng"),
        "lat": ("纬度", "latitude"),
        "grid_code": ("网格", "网格编码", "grid"),
        "address": ("地址", "安装地址", "安装位置", "location"),
        "heartbeat_s": ("心跳秒", "心跳", "心跳间隔", "heartbeat"),
        "installed_at": ("安装日期", "安装时间", "installed", "install_date"),
        "thresholds": ("阈值", "报警阈值", "threshold"),
    },
    required=frozenset({"id", "kind", "lon", "lat"}),
)
DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ].*)?")


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    device: Device
    row: int
    grid_given: bool  # the row named its grid (else: the grid its point lies in)
    table: Table  # the file: a later problem names the column as its header spells it

    def problem(self, column: str, message: str) -> Problem:
        return self.table.problem(self.row, column, message)


def read_devices(
    path: str | Path,
    grid_codes: Collection[str],
    locate: Locate,
    bounds: Bounds | None = None,
    sheet: str | None = None,
) -> tuple[list[DeviceEntry], list[Problem]]:
    """Every good row and every problem (sorted): the caller refuses the file on any problem
    or applies the good rows (--skip-bad). A row named by a problem (a repeated id's rows
    included) is not among the entries; a whole-file problem (a missing column) leaves none."""
    table, problems = read_table(path, DEVICE_COLUMNS, sheet)
    known = grid_codes if isinstance(grid_codes, set | frozenset) else set(grid_codes)
    entries: list[DeviceEntry] = []
    for row in table.rows:
        entry, found = _entry(table, row, known, locate, bounds)
        problems.extend(found)
        if entry is not None:
            entries.append(entry)
    problems.extend(duplicate_values(table, "id", "device id"))
    if any(p.row is None for p in problems):
        entries = []
    bad_rows = {p.row for p in problems}
    return [e for e in entries if e.row not in bad_rows], sorted(problems, key=Problem.sort_key)


def _entry(
    table: Table, row: Row, known: Collection[str], locate: Locate, bounds: Bounds | None
) -> tuple[DeviceEntry | None, list[Problem]]:
    cells = Cells(table, row, DEVICE_COLUMNS.required)
    fields: dict[str, Any] = {
        "id": cells.get("id", parse_device_id),
        "name": row.cells.get("name", ""),
        "kind": cells.get("kind", kind_of),
        "lon": cells.get("lon", lambda text: parse_degrees(text, "lon", 180)),
        "lat": cells.get("lat", lambda text: parse_degrees(text, "lat", 90)),
        "address": row.cells.get("address", ""),
        "heartbeat_s": cells.get("heartbeat_s", parse_heartbeat),
        "installed_at": cells.get("installed_at", parse_day),
        "thresholds": cells.get("thresholds", parse_thresholds, {}),
    }
    grid: str | None = cells.get("grid_code", str)
    given = bool(grid)
    for message in check_grid_codes([grid] if grid else [], known):
        cells.add("grid_code", message)
    lon, lat = fields["lon"], fields["lat"]
    if lon is not None and lat is not None:
        for column, message in outside(lon, lat, bounds) if bounds is not None else []:
            cells.add(column, message)
        if not grid and not cells.problems:
            grid = locate(lon, lat)
            if grid is None:
                cells.add("lon", f"({lon}, {lat}) lies in no grid of the city map: give its grid (网格)")
    if cells.problems or any(fields[k] is None for k in ("id", "kind", "lon", "lat")) or not grid:
        return None, cells.problems
    try:
        device = Device.model_validate(
            {k: v for k, v in fields.items() if v is not None} | {"grid_code": grid}
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else None
            cells.add(
                field if field in DEVICE_COLUMNS.aliases else None,
                str(error["msg"]).removeprefix("Value error, "),
            )
        return None, cells.problems
    return DeviceEntry(device, row.number, given, table), []


def parse_device_id(text: str) -> str:
    if not DEVICE_ID.fullmatch(text):
        raise ValueError(
            f"bad device id {text!r}: 1–64 letters, digits, '_', '.', ':' or '-' (no '/', '+', '#')"
        )
    return text


def parse_heartbeat(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"bad heartbeat {text!r}: whole seconds, e.g. 3600") from None
    if not MIN_HEARTBEAT_S <= value <= MAX_HEARTBEAT_S:
        raise ValueError(
            f"heartbeat {text} s is out of range {MIN_HEARTBEAT_S}–{MAX_HEARTBEAT_S} (a minute to seven days)"
        )
    return value


def parse_day(text: str) -> date:
    found = DAY.fullmatch(text.strip())
    try:
        if found is None:
            raise ValueError
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise ValueError(f"bad date {text!r}: YYYY-MM-DD") from None

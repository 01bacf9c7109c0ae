"""A city's matter catalogue file: rows → MatterRow, every problem with its row and column.

CSV or XLSX with one matter a row (Chinese headers accepted: 事项编码, 事项名称, 时限（小时）…),
or YAML in the shape of configs/matters.yaml (`matters:` a list; each entry may add
`district`, `effective_from` and `reason`, and the file may give them for all at the top).
Checked here without the store: fields, the time limit, dates. Whether a district exists
and what a row changes is the registry's to judge (registry/matters.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from command_center.importing.problems import Problem
from command_center.importing.tables import Cells, Columns, Row, Table, read_table
from dispatch.catalog import Matter
from dispatch.city.codes import is_code

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
SEPARATORS = re.compile(r"[;,、；，\s]+")
MAX_REASON = 500

MATTER_COLUMNS = Columns(
    kind="matters",
    aliases={
        "code": ("事项编码", "事项代码", "编码", "代码", "matter_code"),
        "name": ("事项名称", "名称", "matter_name"),
        "name_en": ("英文名称", "english_name"),
        "class": ("事项类别", "类别", "大类", "category", "klass"),
        "department": ("责任部门", "主管部门", "处置部门", "部门"),
        "handler": ("处置方式", "处置主体", "承办"),
        "hours": ("时限（小时）", "时限(小时)", "处置时限（小时）", "处置时限(小时)", "time_limit_hours", "limit_hours"),
        "days": ("时限（工作日）", "时限(工作日)", "时限（天）", "时限(天)", "处置时限（工作日）", "time_limit_days", "limit_days"),
        "closure_standard": ("结案标准", "办结标准", "closing_standard"),
        "rules": ("检测规则", "规则", "detector_rules"),
        "labels": ("检测标签", "标签", "detector_labels"),
        "district": ("区县", "区县编码", "行政区划代码", "district_code"),
        "effective_from": ("生效日期", "生效时间", "effective", "effective_date"),
        "reason": ("说明", "原因", "备注", "note"),
    },
    required=frozenset({"code", "name", "class", "department", "handler", "closure_standard"}),
)
HANDLERS = {"worker": "worker", "网格员": "worker", "就地": "worker", "就地处置": "worker", "网格员处置": "worker",
            "department": "department", "部门": "department", "部门处置": "department", "职能部门": "department"}  # fmt: skip
# A field of the Matter model → the column a problem with it is reported on.
FIELD_COLUMN = {"class": "class", "time_limit": "hours", "klass": "class"}


@dataclass(frozen=True, slots=True)
class MatterRow:
    number: int  # the row (CSV/XLSX) or the entry's position in `matters:` (YAML), 1-based
    matter: Matter
    district: str  # "" when the row names none: the importer's district, or city-wide
    effective_from: date | None  # None: from the day of the import
    reason: str


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10].replace("/", "-"))
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse_district(text: str) -> str:
    """A 6-digit district code, from itself or its 15-digit area code."""
    text = text.strip()
    if is_code(text) and text[6:] == "0" * 9:
        return text[:6]
    if len(text) == 6 and text.isdigit():
        return text
    raise ValueError(f"not a district code (6 digits): {text!r}")


def read_matters(path: Path) -> tuple[list[MatterRow], list[Problem], dict[str, str]]:
    """The good rows, the problems of the others, and each column's header as the file spells
    it (for the problems found later, against the store)."""
    if path.suffix.lower() in YAML_SUFFIXES:
        return (*_read_yaml(path), {})
    table, problems = read_table(path, MATTER_COLUMNS)
    rows = []
    for row in table.rows:
        found = _table_row(table, row, problems)
        if found is not None:
            rows.append(found)
    return rows, problems, table.headers


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not value > 0:
        raise ValueError(f"a time limit must be more than 0, not {text}")
    return value


def _handler(text: str) -> str:
    found = HANDLERS.get(text.strip().casefold())
    if found is None:
        raise ValueError(f"{text!r} is not a handler: worker (网格员) or department (部门)")
    return found


def _table_row(table: Table, row: Row, problems: list[Problem]) -> MatterRow | None:
    cells = Cells(table, row, MATTER_COLUMNS.required)
    hours, days = cells.get("hours", _positive), cells.get("days", _positive)
    if (hours is None) == (days is None) and not cells.problems:
        cells.add("hours", "give exactly one time limit: in hours or in working days")
    doc: dict[str, Any] = {
        "code": cells.get("code", str), "name": cells.get("name", str), "class": cells.get("class", str),
        "department": cells.get("department", str), "handler": cells.get("handler", _handler),
        "closure_standard": cells.get("closure_standard", str),
        "time_limit": {"hours": hours} if hours is not None else {"days": days},
        "rules": cells.get("rules", SEPARATORS.split, []), "labels": cells.get("labels", SEPARATORS.split, []),
    }  # fmt: skip
    doc["name_en"] = cells.get("name_en", str) or doc["name"]
    district = cells.get("district", parse_district, "") or ""
    effective = cells.get("effective_from", parse_day)
    reason = (cells.get("reason", str, "") or "")[:MAX_REASON]
    if cells.problems:
        problems.extend(cells.problems)
        return None
    try:
        matter = Matter.model_validate(doc)
    except ValidationError as exc:
        for error in exc.errors():
            column = FIELD_COLUMN.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else None
            problems.append(table.problem(row, column, error["msg"]))
        return None
    return MatterRow(row.number, matter, district, effective, reason)


def _read_yaml(path: Path) -> tuple[list[MatterRow], list[Problem]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [], [Problem(path.name, None, None, f"cannot read the file as YAML: {exc}")]
    entries = data.get("matters") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        return [], [Problem(path.name, None, "matters", "expected a list of matters under `matters:`")]
    top = data if isinstance(data, dict) else {}
    rows: list[MatterRow] = []
    problems: list[Problem] = []
    for number, entry in enumerate(entries, start=1):
        found = _yaml_entry(path.name, number, entry, top, problems)
        if found is not None:
            rows.append(found)
    return rows, problems


def _yaml_entry(file: str, number: int, entry: Any, top: dict[str, Any], problems: list[Problem]) -> MatterRow | None:
    if not isinstance(entry, dict):
        problems.append(Problem(file, number, None, "a matter is a mapping of its fields"))
        return None
    doc = dict(entry)
    extra = {key: doc.pop(key, top.get(key)) for key in ("district", "effective_from", "reason")}
    doc.setdefault("name_en", doc.get("name"))
    parsed: dict[str, Any] = {"district": "", "effective_from": None}
    for key, parse in (("district", parse_district), ("effective_from", parse_day)):
        if extra[key] not in (None, ""):
            try:
                parsed[key] = parse(str(extra[key]))
            except ValueError as exc:
                problems.append(Problem(file, number, key, str(exc)))
    try:
        matter = Matter.model_validate(doc)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(Problem(file, number, ".".join(map(str, error["loc"])) or None, error["msg"]))
        return None
    if any(p.row == number and p.file == file for p in problems):
        return None
    return MatterRow(number, matter, parsed["district"], parsed["effective_from"], str(extra["reason"] or "")[:MAX_REASON])

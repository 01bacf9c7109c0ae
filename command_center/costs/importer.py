"""Budget lines from a CSV or XLSX file (docs/COSTS.md), with the importers' rules
(docs/IMPORT.md): every bad row reported with its file, row and column, and nothing stored
when anything is wrong (raise_if_any before the store is touched; the store then writes all
lines in one transaction).

Columns (Chinese headers accepted): area_code 区域编码, month 月份, category 类别, grade
职级, amount 金额（元）, note 备注; an area may be named by its code only. A row must name an
area of the city map inside the importer's jurisdiction; a key (area, month, category,
grade) may appear once per file; a line already stored under the key gets the new amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from command_center.costs.lines import (
    NOTE_MAX,
    LineInput,
    parse_amount,
    parse_area,
    parse_category,
    parse_grade,
    parse_month,
)
from command_center.importing.problems import Problem, raise_if_any
from command_center.importing.tables import Cells, Columns, Row, Table, read_table

COLUMNS = Columns(
    kind="budget lines",
    aliases={
        "area_code": ("区域编码", "区划编码", "区域代码", "网格编码", "area"),
        "area_name": ("区域名称", "区域", "名称", "area name"),  # read, not checked: codes decide
        "month": ("月份", "期间", "年月", "period"),
        "category": ("类别", "费用类别", "成本类别", "科目"),
        "grade": ("职级", "等级", "人员等级", "岗位等级"),
        "amount": ("金额", "金额（元）", "金额(元)", "预算金额", "amount_yuan", "yuan"),
        "note": ("备注", "说明", "remark"),
    },
    required=frozenset({"area_code", "month", "category", "amount"}),
)


def _line(
    table: Table, row: Row, prefix_of: Callable[[str], str | None], scope: str
) -> tuple[LineInput | None, list[Problem]]:
    cells = Cells(table, row, COLUMNS.required)
    area = cells.get("area_code", parse_area)
    month = cells.get("month", parse_month)
    category = cells.get("category", parse_category)
    amount = cells.get("amount", parse_amount)
    grade = cells.get("grade", lambda text: parse_grade(text, category or ""), "") if category else ""
    note = row.cells.get("note", "")
    if len(note) > NOTE_MAX:
        cells.add("note", f"a note is at most {NOTE_MAX} characters")
    prefix = None
    if area is not None:
        prefix = prefix_of(area)
        if prefix is None:
            cells.add("area_code", f"no area {area} in the city map")
        elif scope and not area.startswith(scope):
            cells.add("area_code", f"area {area} is outside your jurisdiction {scope}")
    if cells.problems or None in (area, month, category, amount, prefix):
        return None, cells.problems
    assert area is not None and month is not None and category is not None and amount is not None
    assert prefix is not None and grade is not None
    return LineInput(area, prefix, month, category, grade, amount, note), []


def read_lines(path: str | Path, prefix_of: Callable[[str], str | None], scope: str = "") -> list[LineInput]:
    """Every line of the file, or ImportProblems naming every bad row (nothing is returned then).

    `prefix_of(code)` is the area's significant digits (None: no such area); `scope` the
    importer's jurisdiction ("" for the whole city)."""
    table, problems = read_table(path, COLUMNS)
    lines: list[LineInput] = []
    first: dict[tuple[str, str, str, str], int] = {}
    for row in table.rows:
        line, found = _line(table, row, prefix_of, scope)
        problems.extend(found)
        if line is None:
            continue
        if line.key in first:
            problems.append(
                table.problem(
                    row, "area_code", f"the same area, month, category and grade as row {first[line.key]}"
                )
            )
            continue
        first[line.key] = row.number
        lines.append(line)
    if not table.rows and not problems:
        problems.append(Problem(table.file, None, None, "the file has no budget lines"))
    raise_if_any(problems)
    return lines


def problems_json(problems: list[Problem], file: str | None = None) -> list[Mapping[str, object]]:
    return [
        {"file": file or p.file, "row": p.row, "column": p.column, "message": p.message} for p in problems
    ]

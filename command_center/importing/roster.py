"""A city's roster of grid workers: rows → RosterEntry, every problem with its row and column.

One worker may serve several grids and one grid may have several workers (一格多员), so
a row lists any number of grid codes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from command_center.importing.problems import Problem
from command_center.importing.tables import (
    Cells,
    Columns,
    Row,
    Table,
    duplicate_values,
    normalize_header,
    read_table,
)
from dispatch.city.codes import is_code, level_of
from dispatch.city.model import Shift, Worker, WorkerKind

WorkerLevel = Literal["professional", "basic"]
V = TypeVar("V")

# Worker ids travel in URLs and camera ids (whip://worker-<id>): keep them to a safe alphabet.
WORKER_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_NAME = 64
MAX_CODE = 32
MOBILE = re.compile(r"1[3-9]\d{9}")
# Grid codes in one cell: ; , 、 (and their full-width forms) or whitespace.
GRID_SEPARATORS = re.compile(r"[;,、；，\s]+")

ROSTER_COLUMNS = Columns(
    kind="roster",
    aliases={
        "worker_id": ("工号", "id", "人员id", "人员编码"),
        "code": ("编号", "网格员编号", "人员编号", "worker_code", "worker_number", "worker_no", "number"),
        "name": ("姓名", "worker_name"),
        "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "mobile", "telephone", "tel"),
        "grid_codes": ("网格编码", "网格编号", "网格", "grid_code", "grids", "grid"),
        "kind": ("专兼职", "用工类型", "类型", "employment"),
        "level": ("级别", "类别", "网格员类别", "grade"),
        "shift": ("班次", "班别"),
    },
    required=frozenset({"worker_id", "name", "phone", "grid_codes", "kind", "shift"}),
)

# Accepted spellings (after normalize_header) → value; the first two of each are what messages list.
KINDS: dict[str, WorkerKind] = {
    "fulltime": "full_time",
    "专职": "full_time",
    "parttime": "part_time",
    "兼职": "part_time",
    "专职网格员": "full_time",
    "兼职网格员": "part_time",
}
LEVELS: dict[str, WorkerLevel] = {
    "professional": "professional",
    "专业": "professional",
    "basic": "basic",
    "基础": "basic",
    "专业网格员": "professional",
    "基础网格员": "basic",
}
SHIFTS: dict[str, Shift] = {
    "day": "day",
    "白班": "day",
    "night": "night",
    "夜班": "night",
    "all": "all",
    "全天": "all",
    "日班": "day",
    "24h": "all",
    "24小时": "all",
}
DEFAULT_LEVEL: WorkerLevel = "basic"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One roster row. `code` is the worker number people see (on the public card); it
    defaults to the worker id. `row` is where the entry came from, for later reports."""

    worker_id: str
    code: str
    name: str
    phone: str
    grid_codes: tuple[str, ...]
    kind: WorkerKind
    level: WorkerLevel
    shift: Shift
    row: int = 0


def check_roster(
    path: str | Path, grid_codes: Collection[str], sheet: str | None = None
) -> tuple[list[RosterEntry], list[Problem]]:
    """Read and check a roster file against the city's grid codes.

    All or nothing: with any problem the entries are empty and every problem is listed.
    """
    table, problems = read_table(path, ROSTER_COLUMNS, sheet)
    entries, row_problems = check_roster_rows(table, grid_codes)
    problems.extend(row_problems)
    if problems:
        return [], sorted(problems, key=Problem.sort_key)
    return entries, []


def check_roster_rows(table: Table, grid_codes: Collection[str]) -> tuple[list[RosterEntry], list[Problem]]:
    """Entries from a table already read; the duplicate checks span all its rows."""
    known = grid_codes if isinstance(grid_codes, set | frozenset) else set(grid_codes)
    entries: list[RosterEntry] = []
    problems: list[Problem] = []
    for row in table.rows:
        entry, found = _entry(table, row, known)
        problems.extend(found)
        if entry is not None:
            entries.append(entry)
    problems.extend(duplicate_values(table, "worker_id", "worker id"))
    problems.extend(duplicate_values(table, "code", "worker number"))
    return entries, problems


def to_workers(entries: Iterable[RosterEntry]) -> list[Worker]:
    """One dispatch Worker per (worker, grid) pair.

    The dispatcher finds a grid's workers through `City.workers_by_grid`, keyed by each
    Worker's single `grid_code`; a worker serving three grids is therefore three Workers
    sharing one id, which agree on everything but the grid. `level` has no place in
    Worker yet and is kept on the RosterEntry.
    """
    return [
        Worker(id=e.worker_id, name=e.name, grid_code=grid, kind=e.kind, shift=e.shift, phone=e.phone)
        for e in entries
        for grid in e.grid_codes
    ]


def _entry(table: Table, row: Row, known: Collection[str]) -> tuple[RosterEntry | None, list[Problem]]:
    cells = Cells(table, row, ROSTER_COLUMNS.required)
    worker_id = cells.get("worker_id", parse_worker_id)
    code = cells.get("code", parse_code, default=worker_id)
    name = cells.get("name", parse_name)
    phone = cells.get("phone", parse_phone)
    kind = cells.get("kind", parse_kind)
    level: WorkerLevel | None = cells.get("level", parse_level, default=DEFAULT_LEVEL)
    shift = cells.get("shift", parse_shift)
    grids = cells.get("grid_codes", split_grid_codes)
    for message in check_grid_codes(grids or (), known):
        cells.add("grid_codes", message)
    if cells.problems:
        return None, cells.problems
    if worker_id is None or code is None or name is None or phone is None or kind is None:
        return None, []  # a required column is missing: reported once, with the header
    if level is None or shift is None or not grids:
        return None, []
    return RosterEntry(worker_id, code, name, phone, grids, kind, level, shift, row=row.number), []


def parse_worker_id(text: str) -> str:
    if not WORKER_ID.fullmatch(text):
        raise ValueError(f"bad worker id {text!r}: use 1–32 letters, digits, '.', '_' or '-'")
    return text


def parse_code(text: str) -> str:
    if len(text) > MAX_CODE or not text.isprintable():
        raise ValueError(f"bad worker number {text!r}: at most {MAX_CODE} printable characters")
    return text


def parse_name(text: str) -> str:
    if len(text) > MAX_NAME or not text.isprintable():
        raise ValueError(f"bad name {text!r}: at most {MAX_NAME} printable characters")
    return text


def parse_phone(text: str) -> str:
    """An 11-digit mainland mobile (+86 allowed) → its digits; a landline with its area code
    → '020-83388888'. Spaces, hyphens and brackets in the input are ignored."""
    digits = re.sub(r"[\s\-()（）]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if MOBILE.fullmatch(digits):
        return digits
    if digits.isdigit() and digits.startswith("0") and len(digits) > 1:  # (a lone "0" has no area code)
        # Beijing (010) and 02x cities have 3-digit area codes and 8-digit numbers; the rest 4 and 7–8.
        area = 3 if digits[1] in "12" else 4
        if len(digits) - area in (7, 8) and (area == 4 or len(digits) == 11):
            return f"{digits[:area]}-{digits[area:]}"
    hint = (
        " (a landline lost its leading 0? format the cell as text)"
        if digits.isdigit() and len(digits) == 10
        else ""
    )
    raise ValueError(
        f"bad phone {text!r}: an 11-digit mobile or a landline with area code like 020-83388888{hint}"
    )


def parse_kind(text: str) -> WorkerKind:
    return parse_choice(text, KINDS, "kind")


def parse_level(text: str) -> WorkerLevel:
    return parse_choice(text, LEVELS, "level")


def parse_shift(text: str) -> Shift:
    return parse_choice(text, SHIFTS, "shift")


def parse_choice(text: str, choices: Mapping[str, V], label: str) -> V:
    found = choices.get(normalize_header(text))
    if found is None:
        values = list(dict.fromkeys(choices.values()))
        chinese = [k for k in choices if not k.isascii()][: len(values)]
        raise ValueError(f"bad {label} {text!r}: use {', '.join(map(str, values))} ({', '.join(chinese)})")
    return found


def split_grid_codes(text: str) -> tuple[str, ...]:
    """'a;b、c' → ('a', 'b', 'c'), repeats dropped, order kept."""
    return tuple(dict.fromkeys(code for code in GRID_SEPARATORS.split(text) if code))


def check_grid_codes(codes: Iterable[str], known: Collection[str]) -> list[str]:
    """One message per code that is malformed, not a grid's, or not in the city."""
    messages: list[str] = []
    for code in codes:
        if not is_code(code):
            messages.append(f"{code!r} is not a 15-digit grid code")
        elif level_of(code) != "grid":
            messages.append(f"{code} is a {level_of(code)} code, not a grid's")
        elif code not in known:
            messages.append(f"unknown grid code {code}")
    return messages

"""A city's roster of grid workers: rows → RosterEntry, every problem with its row and column.

One worker may serve several grids and one grid may have several workers (一格多员), so
a row lists any number of grid codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

from command_center.importing.problems import Problem
from command_center.importing.tables import (
    Cells,
    Columns,
    ColumnTable,
    Row,
    Table,
    duplicate_values,
    normalize_header,
    read_columns,
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


class RosterEntry(NamedTuple):
    """One roster row. `code` is the worker number people see (on the public card); it
    defaults to the worker id. `row` is where the entry came from, for later reports.
    (A NamedTuple: a city's 20,000 are made three times faster than frozen dataclasses.)"""

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
    table, problems = read_columns(path, ROSTER_COLUMNS, sheet)
    entries, row_problems = check_roster_rows(table, grid_codes)
    problems.extend(row_problems)
    if problems:
        return [], sorted(problems, key=Problem.sort_key)
    return entries, []


def check_roster_rows(
    columns: ColumnTable, grid_codes: Collection[str]
) -> tuple[list[RosterEntry], list[Problem]]:
    """Entries from a table already read; the duplicate checks span all its rows."""
    known = grid_codes if isinstance(grid_codes, set | frozenset) else set(grid_codes)
    clean = clean_entries(columns, known)
    if clean is not None:
        return clean, []
    table = columns.rows()  # some row has a problem: found and named row by row
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


def clean_entries(columns: ColumnTable, known: Collection[str]) -> list[RosterEntry] | None:
    """The entries of a table in which every row passes every check, found a column at a
    time (a city's 20,000 rows in a few passes of C); None for any other table, which
    check_roster_rows then reads row by row, reporting each problem. The same checks as
    _entry's and duplicate_values': each column here passes exactly when all its cells do
    there (a faster test that may fail where a cell would pass only sends the table there)."""
    if not ROSTER_COLUMNS.required <= columns.cells.keys():
        return None  # reported with the header
    blank = [""] * len(columns.numbers)  # an optional column the file does not have
    try:
        ids, raw_codes, names, phones, kinds, levels, shifts, grid_texts = (
            columns.cells.get(name, blank) for name in _ORDER
        )
        if not all(map(all, (ids, names, phones, kinds, shifts, grid_texts))):
            return None  # an empty required cell
        codes = [c for c in raw_codes if c]
        if not (_each(_WORKER_IDS, ids) and _printable(names, MAX_NAME) and _printable(codes, MAX_CODE)):
            return None
        if len(set(ids)) != len(ids) or len(set(codes)) != len(codes):
            return None  # duplicates
        grids = _grids(grid_texts, known)
        if grids is None:
            return None
        fields = zip(
            ids,
            [c or i for c, i in zip(raw_codes, ids, strict=True)],
            names,
            phones if _each(_MOBILES, phones) else list(map(parse_phone, phones)),
            grids,
            _choices(kinds, parse_kind),
            _choices(levels, lambda t: parse_level(t) if t else DEFAULT_LEVEL),
            _choices(shifts, parse_shift),
            columns.numbers,
            strict=True,
        )
        return list(map(RosterEntry._make, fields))
    except ValueError:  # a bad cell
        return None


# Whole-column forms of parse_worker_id's, parse_phone's (a plain mobile) and check_grid_codes'
# tests, one value per line; stricter where they differ (ASCII digits only).
_WORKER_IDS = re.compile(r"(?:[A-Za-z0-9_.-]{1,32}\n)*")
_MOBILES = re.compile(r"(?:1[3-9][0-9]{9}\n)*")
_GRID_CODES = re.compile(r"(?:[0-9]{12}(?!000)[0-9]{3}\n)*")
_ORDER = ("worker_id", "code", "name", "phone", "kind", "level", "shift", "grid_codes")


def _each(lines: re.Pattern[str], texts: list[str]) -> bool:
    """Every text matches `lines`' line (and none holds a line break of its own)."""
    joined = "\n".join(texts) + "\n" if texts else ""
    return joined.count("\n") == len(texts) and lines.fullmatch(joined) is not None


def _printable(texts: list[str], longest: int) -> bool:
    """parse_name's and parse_code's test, on every text at once."""
    return not texts or (max(map(len, texts)) <= longest and "".join(texts).isprintable())


def _choices(texts: list[str], parse: Callable[[str], V]) -> list[V]:
    """Each text parsed, every distinct one once (ValueError from the first bad one)."""
    found = {text: parse(text) for text in set(texts)}
    return list(map(found.__getitem__, texts))


def _grids(texts: list[str], known: Collection[str]) -> list[tuple[str, ...]] | None:
    """Each row's grid codes, when every cell holds at least one and all are known grids."""
    if _each(_GRID_CODES, texts):  # one code a cell (no room for a separator), the usual roster
        grids: list[tuple[str, ...]] = [(text,) for text in texts]
        codes = texts
    else:
        grids = list(map(split_grid_codes, texts))
        codes = list(chain.from_iterable(grids))
        if not all(grids) or not _each(_GRID_CODES, codes):
            return None
    return grids if all(map(known.__contains__, codes)) else None


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
    if len(text) == 11 and MOBILE.fullmatch(text):  # the usual cell: nothing to take out
        return text
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


# Cached: a roster's 20,000 rows spell these a few ways (a bad spelling raises, uncached).
@lru_cache(maxsize=256)
def parse_kind(text: str) -> WorkerKind:
    return parse_choice(text, KINDS, "kind")


@lru_cache(maxsize=256)
def parse_level(text: str) -> WorkerLevel:
    return parse_choice(text, LEVELS, "level")


@lru_cache(maxsize=256)
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
    codes = GRID_SEPARATORS.split(text)
    if len(codes) == 1:  # one code, the usual cell
        return (text,) if text else ()
    return tuple(dict.fromkeys(code for code in codes if code))


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

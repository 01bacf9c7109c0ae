"""Read a CSV or XLSX file into a header and rows that keep the row number a person sees.

Every problem comes back as a `Problem` naming the file, the row and the header as the
file spells it; a file that cannot be read at all gives one Problem, never a traceback.
"""

from __future__ import annotations

import csv
import difflib
import io
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import NamedTuple, TypeVar

from command_center.importing.problems import Problem

CSV_SUFFIXES = frozenset({".csv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
# A sheet often opens with a title row ("天河区网格员名册") above the header: the header is
# the first of this many non-empty rows that names a known column.
HEADER_SEARCH_ROWS = 5

RawRow = tuple[int, list[str]]
V = TypeVar("V")


class Unreadable(Exception):
    """The file cannot be read as a table; `row` is where reading stopped, when known."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.message, self.row = message, row


# Cached: choice cells (专职, 白班…) go through it on every row and repeat a handful of values.
@lru_cache(maxsize=4096)
def normalize_header(text: str) -> str:
    """'Worker ID', 'worker_id' and 'worker-id' name the same column."""
    return "".join(ch for ch in text.casefold() if not ch.isspace() and ch not in "_-")


@dataclass(frozen=True)
class Columns:
    """The columns one kind of file has: canonical name → other spellings accepted
    (Chinese ones included), and which columns must be present."""

    kind: str
    aliases: Mapping[str, tuple[str, ...]]
    required: frozenset[str]
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for name, spellings in self.aliases.items():
            for spelling in (name, *spellings):
                lookup[normalize_header(spelling)] = name
        object.__setattr__(self, "_lookup", lookup)

    def canonical(self, header: str) -> str | None:
        return self._lookup.get(normalize_header(header))

    def describe(self, name: str) -> str:
        """'grid_codes (网格编码)': how a message names a column a file should have."""
        spellings = [s for s in self.aliases.get(name, ()) if not s.isascii()]
        return f"{name} ({'/'.join(spellings)})" if spellings else name


class Row(NamedTuple):
    """One row of a table (a NamedTuple: made for each of a city's 20,000 rows, twice as
    fast as a frozen dataclass)."""

    number: int
    cells: dict[str, str]  # canonical column → stripped text; "" for an empty cell


@dataclass(slots=True)
class Table:
    file: str
    header_row: int
    headers: dict[str, str]  # canonical column → the header as the file spells it
    rows: list[Row]

    def problem(self, row: Row | int | None, column: str | None, message: str) -> Problem:
        """A Problem at `row`, naming `column` the way this file's header spells it."""
        number = row.number if isinstance(row, Row) else row
        spelled = None if column is None else self.headers.get(column, column)
        return Problem(self.file, number, spelled, message)


class Cells:
    """One row's cells read through parsers; each bad or empty required cell adds a Problem.

    A parser raises ValueError with the message a person should read.
    """

    def __init__(self, table: Table, row: Row, required: frozenset[str]) -> None:
        self.table, self.row, self.required = table, row, required
        self.problems: list[Problem] = []

    def get(self, column: str, parse: Callable[[str], V], default: V | None = None) -> V | None:
        """The parsed cell; `default` when it is empty; None when it is bad (and reported)."""
        text = self.row.cells.get(column, "")
        if not text:
            # A required column missing from the header was reported once, there; not on every row.
            if column in self.required and column in self.table.headers:
                self.problems.append(self.table.problem(self.row, column, f"empty {column}"))
            return default
        try:
            return parse(text)
        except ValueError as exc:
            self.problems.append(self.table.problem(self.row, column, str(exc)))
            return None

    def add(self, column: str | None, message: str) -> None:
        self.problems.append(self.table.problem(self.row, column, message))


def duplicate_values(table: Table, column: str, label: str) -> list[Problem]:
    """A Problem on each repeat of a value in `column`, naming the row it first appeared on."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for row in table.rows:
        text = row.cells.get(column, "")
        if not text:
            continue
        if text in first:
            problems.append(
                table.problem(row, column, f"duplicate {label} {text} (also on row {first[text]})")
            )
        else:
            first[text] = row.number
    return problems


def read_table(path: str | Path, columns: Columns, sheet: str | None = None) -> tuple[Table, list[Problem]]:
    """Header and rows of a CSV (UTF-8, BOM or not) or an XLSX sheet (the first unless named).

    Header problems (unknown, missing or repeated columns) are reported and the rows are
    still read for the columns that are known, so one pass shows every problem.
    Empty rows are skipped.
    """
    columns_read, problems = read_columns(path, columns, sheet)
    return columns_read.rows(), problems


def _header(
    path: Path, columns: Columns, raw: Iterator[RawRow]
) -> Table | tuple[Table, dict[str, int], int, Iterator[RawRow], list[Problem]]:
    """The header found among the first rows: (an empty table, column → position, the
    header's width, the rows after it, the header's problems); an empty Table for no rows."""
    head = list(islice(raw, HEADER_SEARCH_ROWS))
    if not head:
        return Table(path.name, 0, {}, [])
    start = _header_index(head, columns)
    header_row, header_cells = head[start]
    positions, headers, problems = check_header(path.name, header_row, header_cells, columns)
    table = Table(path.name, header_row, headers, [])
    return table, positions, len(header_cells), chain(head[start + 1 :], raw), problems


@dataclass(slots=True)
class ColumnTable:
    """A table read a column at a time: `cells` maps each known column to its cells, top to
    bottom ("" past a short row's end), `numbers` holds the rows' numbers. A whole column
    can be checked in one pass of C; `rows()` makes the row Table (a dict per row) only
    when problems must be found and named row by row."""

    table: Table  # file, header and problem(); its rows are empty until rows() is called
    numbers: list[int]
    cells: dict[str, list[str]]

    def rows(self) -> Table:
        if self.numbers and not self.table.rows:
            names = tuple(self.cells)
            by_row = zip(*self.cells.values(), strict=True) if names else ((),) * len(self.numbers)
            self.table.rows = [
                Row(n, dict(zip(names, values, strict=True)))
                for n, values in zip(self.numbers, by_row, strict=True)
            ]
        return self.table


def read_columns(
    path: str | Path, columns: Columns, sheet: str | None = None
) -> tuple[ColumnTable, list[Problem]]:
    """read_table's table and problems, read into columns (see ColumnTable)."""
    path = Path(path)
    try:
        found = _header(path, columns, _raw_rows(path, sheet))
        if isinstance(found, Table):
            return ColumnTable(found, [], {}), [Problem(path.name, None, None, "the file has no rows")]
        table, positions, width, rest, problems = found
        rows = list(rest)
    except Unreadable as exc:
        empty = Table(path.name, 0, {}, [])
        return ColumnTable(empty, [], {}), [Problem(path.name, exc.row, None, exc.message)]
    numbers: list[int] = [number for number, _ in rows]
    cells: list[list[str]] = [row for _, row in rows]
    if any(len(row) != width for row in cells):  # rare: a row wider or narrower than the header
        for i, row in enumerate(cells):
            if len(row) > width and any(row[width:]):
                problems.append(Problem(path.name, numbers[i], None, _beyond_header(row, width, path.suffix)))
            if len(row) != width:
                cells[i] = (row + [""] * width)[:width]
    by_position = list(zip(*cells, strict=True)) if cells else [()] * width
    by_column = {name: list(by_position[i]) for name, i in positions.items()}
    return ColumnTable(table, numbers, by_column), problems


def _beyond_header(cells: list[str], width: int, suffix: str) -> str:
    used = max(i for i, text in enumerate(cells) if text) + 1
    # In a CSV this is nearly always an unquoted comma, e.g. grid codes listed "a,b".
    hint = " (a value with a comma in it needs quotes)" if suffix.lower() in CSV_SUFFIXES else ""
    return f"{used} cells but the header has {width} columns{hint}"


def check_header(
    file: str, row: int, cells: list[str], columns: Columns
) -> tuple[dict[str, int], dict[str, str], list[Problem]]:
    """Map header cells to canonical columns: (column → position, column → spelling, problems)."""
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    problems: list[Problem] = []
    for i, text in enumerate(cells):
        if not text:
            continue
        name = columns.canonical(text)
        if name is None:
            problems.append(Problem(file, row, text, _unknown_column(text, columns)))
        elif name in positions:
            first = headers[name]
            problems.append(
                Problem(
                    file,
                    row,
                    text,
                    f"column {columns.describe(name)} appears twice"
                    f" ({first!r} in column {positions[name] + 1}, {text!r} in column {i + 1})",
                )
            )
        else:
            positions[name], headers[name] = i, text
    for name in sorted(columns.required - positions.keys()):
        problems.append(Problem(file, row, name, f"missing column {columns.describe(name)}"))
    return positions, headers, problems


def _unknown_column(text: str, columns: Columns) -> str:
    known = list(columns.aliases)
    spellings = [s for name in known for s in (name, *columns.aliases[name])]
    close = difflib.get_close_matches(text, spellings, n=1, cutoff=0.6)
    hint = f" (did you mean {columns.canonical(close[0])}?)" if close else ""
    return f"unknown column {text!r}{hint}; a {columns.kind} file has: {', '.join(known)}"


def _header_index(raw: list[RawRow], columns: Columns) -> int:
    for i, (_, cells) in enumerate(raw[:HEADER_SEARCH_ROWS]):
        if any(columns.canonical(text) is not None for text in cells if text):
            return i
    return 0


def read_raw_rows(path: Path, sheet: str | None = None) -> list[RawRow]:
    """Non-empty rows as (row number, cell texts); Unreadable when the file is not a table."""
    return list(_raw_rows(path, sheet))


def _raw_rows(path: Path, sheet: str | None = None) -> Iterator[RawRow]:
    """read_raw_rows, row by row (Unreadable comes when reading gets there)."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise Unreadable("the old .xls format is not read: save it as .xlsx (Excel Workbook) or CSV UTF-8")
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        raise Unreadable(f"unsupported file type {suffix or '(none)'!r}: use .csv or .xlsx")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from exc
    rows = _xlsx_rows(data, sheet) if suffix in XLSX_SUFFIXES else _csv_rows(data)
    return (row for row in rows if any(row[1]))


def _csv_rows(data: bytes) -> Iterator[RawRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Unreadable("not UTF-8 text (in Excel: Save As 'CSV UTF-8')", line) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    if '"' not in text:
        yield from _unquoted_csv_rows(reader)
        return
    while True:
        # A quoted value may span lines: a record's row is the line it starts on.
        number = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise Unreadable(f"not valid CSV: {exc}", number) from exc
        yield number, [cell.strip() for cell in cells]


def _unquoted_csv_rows(reader: Iterator[list[str]]) -> Iterator[RawRow]:
    """_csv_rows without quotes in the file: no record spans lines, so record n is on line n
    and the reader's line count need not be read before each record."""
    number = 0
    strip = str.strip
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, list(map(strip, cells))
    except csv.Error as exc:
        raise Unreadable(f"not valid CSV: {exc}", number + 1) from exc


def _xlsx_rows(data: bytes, sheet: str | None) -> Iterator[RawRow]:
    # Imported lazily: only XLSX imports pay for openpyxl.
    import openpyxl

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise Unreadable(
            "not an XLSX workbook (the file is not a zip archive; is it broken, or another format?)"
        )
    # openpyxl's failures on a damaged workbook are no closed set (zip, XML, KeyError on a
    # missing part, ValueError, TypeError…): whatever it raises means "broken file" here.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and the like say nothing to a user
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise Unreadable(f"broken XLSX workbook: {type(exc).__name__}: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise Unreadable(f"no sheet {sheet!r}; the workbook has: {', '.join(book.sheetnames)}")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        # The stored dimension can be stale (some writers put A1:A1): without it openpyxl reads every row.
        worksheet.reset_dimensions()
        number = 0
        try:
            for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
                yield number, [_text(value) for value in values]
        except Exception as exc:
            raise Unreadable(f"broken XLSX sheet: {type(exc).__name__}: {exc}", number + 1) from exc
    finally:
        book.close()


def _text(value: object) -> str:
    """A cell as the text a person typed: 13512345678 typed as a number stays 13512345678."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()

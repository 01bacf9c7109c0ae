"""A base-data file read row by row for the bulk import (importing/basedata_fast.py): the
header found as importing/tables.py finds it, then numbered rows as they come off the disk,
so a file of two million people is never in memory (tables.read_columns holds the whole
file, then every column).

A CSV is decoded and split as it streams (a row's number is the line it starts on, as in
tables.py); an XLSX comes through tables' own row reader (openpyxl's read-only sheet).
Every row comes back as long as the header plus one empty cell at the end: a column the
file lacks is read at that position, as an empty cell.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from command_center.importing.problems import Problem
from command_center.importing.tables import (
    CSV_SUFFIXES,
    Columns,
    RawRow,
    Table,
    Unreadable,
    _beyond_header,
    _header,
    _raw_rows,
)

NOT_UTF8 = "not UTF-8 text (in Excel: Save As 'CSV UTF-8')"  # tables.py's words


@dataclass(slots=True)
class Stream:
    """An open file: its header (`table`: file name, header row, spellings, for problems),
    where each known column is in a row (`at`; a missing one at the empty last cell), and
    the rows, each checked against the header's width as it is read."""

    table: Table
    at: dict[str, int]
    problems: list[Problem]  # the header's; then rows wider than the header, as met
    rest: Iterator[RawRow] = field(repr=False)
    width: int = 0

    def rows(self) -> Iterator[RawRow]:
        """(row number, cells): the cells padded or cut to the header's width, plus one ""."""
        width, name, suffix = self.width, self.table.file, Path(self.table.file).suffix
        for number, cells in self.rest:
            if len(cells) != width:
                if len(cells) > width and any(cells[width:]):
                    self.problems.append(Problem(name, number, None, _beyond_header(cells, width, suffix)))
                cells = (cells + [""] * width)[:width]
            cells.append("")
            yield number, cells


def open_stream(path: Path, columns: Columns) -> Stream | Problem:
    """The file's header and its rows to come; a Problem when it has no table at all.
    Reading the rows may still raise Unreadable (a bad byte half-way through a CSV)."""
    try:
        raw = csv_rows(path) if path.suffix.lower() in CSV_SUFFIXES else _raw_rows(path)
        found = _header(path, columns, raw)
    except Unreadable as exc:
        return Problem(path.name, exc.row, None, exc.message)
    if isinstance(found, Table):
        return Problem(path.name, None, None, "the file has no rows")
    table, positions, width, rest, problems = found
    at = {name: positions.get(name, width) for name in columns.aliases}
    return Stream(table, at, problems, rest, width)


def csv_rows(path: Path) -> Iterator[RawRow]:
    """tables._raw_rows for a CSV, decoded and split as it streams: the non-empty rows with
    the line each starts on, cells stripped."""
    strip = str.strip
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as source:
            reader = csv.reader(source)
            while True:
                number = reader.line_num + 1  # a quoted value may span lines: where the record starts
                try:
                    cells = list(map(strip, next(reader)))
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise Unreadable(f"not valid CSV: {exc}", number) from exc
                if any(cells):
                    yield number, cells
    except UnicodeDecodeError:
        raise Unreadable(NOT_UTF8, _bad_byte_line(path)) from None
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from exc


def _bad_byte_line(path: Path) -> int | None:
    """The line of the first byte that is not UTF-8 (read again whole: only on that error)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1
    return None
